// gateway-api-crds, ambient and gateway against the simulated cluster through the real CLI and real kubectl.
// One world for the whole file; the tests run in order and build on each other.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'

let world: RunbookWorld
const UP_TO_GATEWAY = 'preflight,istioctl,gateway-api-crds,ambient,gateway'
const run = async (...args: string[]) => {
  const t = Date.now()
  // -v: these tests read what each step said and every check, not only the one line of an all-green step.
  const r = await world.run([...world.flags, '-v', ...args])
  if (process.env.TIMING) console.error(`${Date.now() - t}ms ${args.join(' ')}`)
  return r
}
const kjson = (...args: string[]) => world.kubectlJson(...args)
const kexists = async (...args: string[]) =>
  (await kubectl(world.sim.env, ['get', ...args, '--ignore-not-found', '-o', 'name'])).stdout.trim() !== ''

test.before(async () => {
  world = await startWorld({})
})
test.after(async () => {
  await world?.stop()
})

test('--dry-run prints the exact commands and manifests and changes nothing', async () => {
  const r = await run('--dry-run', '--only', UP_TO_GATEWAY, '--gateway-service-type', 'NodePort')
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, `${world.sim.gatewayApiMirror}/v1.4.0/experimental-install.yaml`)
  // Exactly what will run: every kubectl and istioctl command carries the run's kubeconfig and context.
  const connection = `--kubeconfig ${world.sim.kubeconfig} --context ${world.sim.context}`
  assert.match(
    r.stdout,
    `$ kubectl ${connection} apply --server-side --force-conflicts --field-manager=gthulhu-runbook -f -`,
  )
  assert.match(r.stdout, `${world.installDir}/istioctl ${connection} x precheck`)
  assert.match(r.stdout, `${world.installDir}/istioctl ${connection} install --set profile=ambient -y`)
  assert.match(r.stdout, 'apply (server-side) Gateway default/gthulhu-gw')
  assert.match(r.stdout, 'networking.istio.io/service-type: NodePort')
  assert.match(r.stdout, 'apply (server-side) HTTPRoute default/gthulhu-manager-route')
  assert.match(r.stdout, /backendRefs:\s+- name: gthulhu-manager\s+port: 8080/)
  assert.not.ok(await kexists('crd', 'gateways.gateway.networking.k8s.io'), 'no CRD was installed')
  assert.not.ok(await kexists('namespace', 'istio-system'), 'Istio was not installed')
})

test('an invalid name is rejected before anything is applied', async () => {
  const flagLevel = await run('--dry-run', '--only', 'preflight,gateway', '--gateway-name', 'Gthulhu_GW')
  assert.is(flagLevel.code, 2, show(flagLevel))
  assert.match(flagLevel.stderr, /--gateway-name: "Gthulhu_GW" is not a valid Kubernetes name/)
  // Passes the flag check (a DNS-1123 label) but not the schema check: Istio's Service "1gw-istio" would be invalid.
  const schemaLevel = await run('--dry-run', '--only', 'preflight,gateway', '--gateway-name', '1gw')
  assert.is(schemaLevel.code, 2, show(schemaLevel))
  assert.match(schemaLevel.stderr, /Gateway default\/1gw: metadata\.name: Istio creates a Service named "1gw-istio"/)
})

test('a first run installs the CRDs and Istio ambient, exposes the Web UI on the listener NodePort and stores its URL', async () => {
  const r = await run('--yes', '--only', UP_TO_GATEWAY)
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, 'applying the experimental bundle v1.4.0')
  assert.match(r.stdout, /CRD gateways\.gateway\.networking\.k8s\.io Established/)
  assert.match(
    r.stdout,
    /Deployment istio-system\/istiod ready\s+expected: desired = ready, version 1\.29\.1\s+observed: 1\/1 ready, 1 updated, version 1\.29\.1/,
  )
  assert.match(r.stdout, /DaemonSet istio-system\/ztunnel ready/)
  assert.match(r.stdout, /DaemonSet istio-system\/istio-cni-node ready/)
  // No load balancer in the simulated cluster: the guide's NodePort path, said so.
  assert.match(
    r.stdout,
    "False (AddressNotAssigned): no load balancer address, NodePorts assigned — the guide's NodePort path, accepted",
  )
  const service = await kjson('get', 'service', 'gthulhu-gw-istio', '-n', 'default')
  assert.is(service.spec.type, 'LoadBalancer')
  assert.is(service.spec.ports[0].port, 15021, 'the status port comes first in the Service')
  const http = service.spec.ports.find((p: any) => p.port === 80)
  assert.ok(http.nodePort !== service.spec.ports[0].nodePort)
  const facts = world.state().facts.gateway!
  assert.equal(facts, {
    service: 'gthulhu-gw-istio',
    nodePort: http.nodePort,
    nodeAddress: '127.0.0.1',
    url: `http://127.0.0.1:${http.nodePort}/`,
    addressAssigned: false,
    via: 'NodePort',
  })
  assert.match(r.stdout, /GET http:\/\/127\.0\.0\.1:\d+\/health from this machine, through the NodePort/)
  assert.match(r.stdout, `Open the Web UI at http://127.0.0.1:${http.nodePort}/`)
  assert.match(
    r.stdout,
    /User-Agent "Mozilla\/5\.0 \(Macintosh; Intel Mac OS X 10_15_7\) AppleWebKit\/537\.36 \(KHTML, like Gecko\) Chrome\/131\.0\.0\.0 Safari\/537\.36"/,
  )
  const health = await fetch(`${facts.url}health`, { signal: AbortSignal.timeout(5000) })
  assert.is(health.status, 200)
})

/** name → resourceVersion of what the three steps write: the CRDs, the Istio install, the Gateway and its route. */
async function writtenVersions(): Promise<Record<string, string>> {
  const lists = await Promise.all([
    kjson('get', 'customresourcedefinitions'),
    kjson('get', 'deployments,daemonsets,configmaps,services', '-n', 'istio-system'),
    kjson('get', 'gateways.gateway.networking.k8s.io,httproutes.gateway.networking.k8s.io', '-n', 'default'),
  ])
  const items: any[] = lists.flatMap((list) => list.items)
  return Object.fromEntries(
    items.map((o) => [`${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`, o.metadata.resourceVersion]),
  )
}

test('a second run changes nothing and still verifies every step', async () => {
  const before = await writtenVersions()
  assert.ok(Object.keys(before).length >= 12 + 3 + 2, JSON.stringify(before))
  const r = await run('--yes', '--only', 'gateway-api-crds,ambient,gateway')
  assert.is(r.code, 0, show(r))
  // Not one object the steps own was written again: every resourceVersion is as it was.
  assert.equal(await writtenVersions(), before)
  assert.match(r.stdout, 'nothing to change: all 12 CRDs of the experimental bundle are installed at v1.4.0')
  assert.match(r.stdout, 'nothing to change: Istio 1.29.1 is already installed with the ambient profile')
  assert.match(
    r.stdout,
    'nothing to change: Gateway gthulhu-gw and HTTPRoute gthulhu-manager-route are already as configured',
  )
  assert.match(r.stdout, /done\s+gateway-api-crds\s+[\d.]+s, 12\/12 checks/)
  // The three components and the mesh's trust domain (this mesh was installed without one: Istio's default).
  assert.match(r.stdout, /done\s+ambient\s+[\d.]+s, 4\/4 checks/)
  assert.match(
    r.stdout,
    /✔ the mesh's trust domain \(meshConfig\.trustDomain in istio-system\/istio\)\s+expected: [^\n]*\n\s+observed: cluster\.local/,
  )
  assert.match(r.stdout, /done\s+gateway\s+[\d.]+s, 10\/10 checks/)
})

test('--gateway-service-type NodePort annotates the Gateway; Istio makes a NodePort Service and the Gateway is Programmed', async () => {
  const r = await run('--yes', '--only', 'gateway', '--gateway-service-type', 'NodePort')
  assert.is(r.code, 0, show(r))
  const gateway = await kjson('get', 'gateways.gateway.networking.k8s.io', 'gthulhu-gw', '-n', 'default')
  assert.is(gateway.metadata.annotations['networking.istio.io/service-type'], 'NodePort')
  const service = await kjson('get', 'service', 'gthulhu-gw-istio', '-n', 'default')
  assert.is(service.spec.type, 'NodePort')
  assert.match(r.stdout, /Gateway default\/gthulhu-gw Programmed\s+expected: .*\s+observed: True \(Programmed\)/)
  const facts = world.state().facts.gateway!
  assert.is(facts.addressAssigned, true)
  assert.is(facts.nodePort, service.spec.ports.find((p: any) => p.port === 80).nodePort)
  // And back to the guide's LoadBalancer: the annotation goes away again.
  const back = await run('--yes', '--only', 'gateway')
  assert.is(back.code, 0, show(back))
  const again = await kjson('get', 'gateways.gateway.networking.k8s.io', 'gthulhu-gw', '-n', 'default')
  assert.is(again.metadata.annotations?.['networking.istio.io/service-type'], undefined)
  assert.is((await kjson('get', 'service', 'gthulhu-gw-istio', '-n', 'default')).spec.type, 'LoadBalancer')
})

test('a Gateway edited by hand is taken back to the plan, with a warning', async () => {
  const edited = await kubectl(world.sim.env, [
    'patch',
    'gateways.gateway.networking.k8s.io',
    'gthulhu-gw',
    '-n',
    'default',
    '--type=json',
    '-p',
    '[{"op":"replace","path":"/spec/listeners/0/port","value":8081}]',
  ])
  assert.is(edited.code, 0, edited.stderr)
  const r = await run('--yes', '--only', 'gateway')
  assert.is(r.code, 0, show(r))
  assert.match(
    r.stdout + r.stderr,
    /Gateway default\/gthulhu-gw differs from the plan \(spec\.listeners\[0\]\.port\); applying the planned version/,
  )
  assert.is(
    (await kjson('get', 'gateways.gateway.networking.k8s.io', 'gthulhu-gw', '-n', 'default')).spec.listeners[0].port,
    80,
  )
})

test('a name that fails the schema check with --yes applies nothing', async () => {
  const r = await run('--yes', '--only', 'gateway', '--gateway-name', '1gw')
  assert.is.not(r.code, 0, show(r))
  assert.match(r.stdout + r.stderr, /Gateway default\/1gw: metadata\.name: Istio creates a Service named "1gw-istio"/)
  assert.not.ok(await kexists('gateways.gateway.networking.k8s.io', '1gw', '-n', 'default'))
})

test('a NodePort that does not answer from this machine fails the step and names the URL', async () => {
  // The node reports an address the simulated listener is not bound to (it binds 127.0.0.1 only).
  const node = (await kjson('get', 'nodes')).items[0]
  const moved = await kubectl(world.sim.env, [
    'patch',
    'node',
    node.metadata.name,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({
      status: {
        addresses: [
          { type: 'InternalIP', address: '127.0.0.2' },
          { type: 'Hostname', address: node.metadata.name },
        ],
      },
    }),
  ])
  assert.is(moved.code, 0, moved.stderr)
  try {
    const r = await run('--yes', '--only', 'gateway', '--timeout', '5')
    assert.is(r.code, 1, show(r))
    const nodePort = (await kjson('get', 'service', 'gthulhu-gw-istio', '-n', 'default')).spec.ports.find(
      (p: any) => p.port === 80,
    ).nodePort
    assert.match(r.stdout, `✖ GET http://127.0.0.2:${nodePort}/health from this machine`)
    assert.match(r.stdout, /observed: ECONNREFUSED/)
  } finally {
    const restored = await kubectl(world.sim.env, [
      'patch',
      'node',
      node.metadata.name,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { addresses: node.status.addresses } }),
    ])
    assert.is(restored.code, 0, restored.stderr)
  }
})

test('a newer Gateway API bundle is not replaced without --replace-newer-gateway-api', async () => {
  const annotate = await kubectl(world.sim.env, [
    'annotate',
    '--overwrite',
    'crd',
    'httproutes.gateway.networking.k8s.io',
    'gateway.networking.k8s.io/bundle-version=v1.5.0',
  ])
  assert.is(annotate.code, 0, annotate.stderr)
  const refused = await run('--yes', '--only', 'gateway-api-crds')
  assert.is(refused.code, 1, show(refused))
  assert.match(
    refused.stdout,
    /Gateway API CRDs at v1\.5\.0 are installed, newer than --gateway-api-version v1\.4\.0 \(httproutes\.gateway\.networking\.k8s\.io\)/,
  )
  assert.match(refused.stdout, '--replace-newer-gateway-api')
  const replaced = await run('--yes', '--only', 'gateway-api-crds', '--replace-newer-gateway-api')
  assert.is(replaced.code, 0, show(replaced))
  assert.match(replaced.stdout, 'replacing Gateway API CRDs at v1.5.0 with v1.4.0')
  const crd = await kjson('get', 'crd', 'httproutes.gateway.networking.k8s.io')
  assert.is(crd.metadata.annotations['gateway.networking.k8s.io/bundle-version'], 'v1.4.0')
})

test('a different Istio, or sidecar injection on the namespace, stops the ambient step with an explanation', async () => {
  const otherVersion = await run('--yes', '--only', 'ambient', '--istio-version', '1.28.3')
  assert.is(otherVersion.code, 1, show(otherVersion))
  assert.match(otherVersion.stdout, /Istio 1\.29\.1 is already installed in istio-system, not 1\.28\.3/)
  const label = await kubectl(world.sim.env, ['label', 'namespace', 'default', 'istio-injection=enabled'])
  assert.is(label.code, 0, label.stderr)
  try {
    const injected = await run('--yes', '--only', 'ambient')
    assert.is(injected.code, 1, show(injected))
    assert.match(injected.stdout, /namespace default is labelled for sidecar injection \(istio-injection=enabled\)/)
  } finally {
    await kubectl(world.sim.env, ['label', 'namespace', 'default', 'istio-injection-'])
  }
})

test('a route whose backend Service is missing fails with ResolvedRefs false and its reason', async () => {
  const deleted = await kubectl(world.sim.env, ['delete', 'service', 'gthulhu-manager', '-n', 'default'])
  assert.is(deleted.code, 0, deleted.stderr)
  const r = await run('--yes', '--only', 'gateway')
  assert.is(r.code, 1, show(r))
  assert.match(
    r.stdout,
    /✖ HTTPRoute default\/gthulhu-manager-route ResolvedRefs\s+expected: True\s+observed: False \(BackendNotFound\): backend\(gthulhu-manager\.default\.svc\.cluster\.local\) not found/,
  )
  assert.match(
    r.stdout,
    /GET http:\/\/127\.0\.0\.1:\d+\/health from this machine\s+expected: 200\s+observed: not tried: the checks above failed/,
  )
})

test.run()
