// The simulated cluster's world through real kubectl: the seeded Gthulhu install and its variants,
// rollouts, the release mirror and fake istioctl, Gateway exposure, HTTPRoute status, waypoints.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash } from 'node:crypto'
import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { extract } from 'tar'
import { startSimulator, type Simulator } from './sim/index.ts'
import { kubectl, runCommand } from './kit.ts'
import { applyYaml, GUIDE_GATEWAY_YAML } from './sim-probes.ts'
import { tempDir } from './temp-dir.ts'

let sim: Simulator
let istioctl: string
const json = async (args: string[]) => {
  const r = await kubectl(sim.env, [...args, '-o', 'json'])
  assert.is(r.code, 0, r.stderr)
  return JSON.parse(r.stdout)
}

/** `kubectl rollout restart`, again while kubectl refuses a second restart within the same second. */
async function rolloutRestart(targets: string[]): Promise<void> {
  const deadline = Date.now() + 5_000
  for (;;) {
    const r = await kubectl(sim.env, ['rollout', 'restart', ...targets])
    if (r.code === 0) return
    assert.ok(/within the past second/.test(r.stderr) && Date.now() < deadline, r.stderr)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

test.before(async () => {
  sim = await startSimulator({ faults: {} })
})
test.after(async () => {
  await sim?.stop()
})

test('kubectl sees the Gthulhu pods with the chart labels, Running and Ready', async () => {
  const r = await kubectl(sim.env, ['get', 'pods', '-A', '--show-labels'])
  assert.is(r.code, 0, r.stderr)
  assert.match(
    r.stdout,
    /gthulhu-manager-\S+\s+1\/1\s+Running.*app\.kubernetes\.io\/component=manager,app\.kubernetes\.io\/instance=gthulhu,app\.kubernetes\.io\/name=gthulhu/,
  )
  assert.match(r.stdout, /gthulhu-mongodb-0\s+1\/1\s+Running.*app\.kubernetes\.io\/name=mongodb/)
  assert.match(r.stdout, /gthulhu-scheduler-\S+\s+2\/2\s+Running.*app=decisionmaker/)
  assert.match(r.stdout, /calico-node-\S+\s+1\/1\s+Running/)
  const pods = await json(['get', 'pods', '-n', 'default'])
  const manager = pods.items.find((p: any) => p.metadata.name.startsWith('gthulhu-manager-'))
  assert.is(manager.spec.serviceAccountName, 'gthulhu-manager')
  assert.is(manager.metadata.ownerReferences[0].kind, 'ReplicaSet')
  assert.match(manager.status.podIP, /^10\.244\.0\.\d+$/)
  const scheduler = pods.items.find((p: any) => p.metadata.name.startsWith('gthulhu-scheduler-'))
  assert.is(scheduler.spec.serviceAccountName, 'gthulhu')
  assert.equal(
    scheduler.spec.containers.map((c: any) => c.name),
    ['gthulhu-scheduler', 'scheduler-sidecar'],
  )
  const svcs = await json(['get', 'svc', '-n', 'default'])
  const byName = Object.fromEntries(svcs.items.map((s: any) => [s.metadata.name, s]))
  assert.is(byName['gthulhu-manager'].spec.ports[0].port, 8080)
  assert.is(byName['gthulhu-mongodb'].spec.clusterIP, 'None')
  assert.is(byName['gthulhu-scheduler-sidecar'].spec.clusterIP, 'None')
  assert.is(byName['gthulhu-scheduler-monitor'].spec.ports[0].port, 9090)
  assert.not.ok(byName['gthulhu-scheduler'], 'the chart has no gthulhu-scheduler Service')
  const node = await json(['get', 'node', 'sim-node-1'])
  assert.ok(node.status.addresses.some((a: any) => a.type === 'InternalIP' && a.address === '127.0.0.1'))
})

test('variants: namespace, release, missing component and CNI are seeded as asked', async () => {
  const other = await startSimulator({ namespace: 'sched', release: 'gt', missing: ['manager'], cni: 'flannel' })
  try {
    const pods = await kubectl(other.env, ['get', 'pods', '-n', 'sched', '-o', 'name'])
    assert.match(pods.stdout, /pod\/gt-mongodb-0/)
    // The chart's fullname is <release>-gthulhu for a release without "gthulhu" in it; MongoDB's is <release>-mongodb.
    assert.match(pods.stdout, /pod\/gt-gthulhu-scheduler-/)
    assert.not.match(pods.stdout, /manager/)
    const ds = await kubectl(other.env, [
      'get',
      'ds',
      '-n',
      'kube-system',
      '-o',
      'jsonpath={.items[*].spec.template.spec.containers[0].image}',
    ])
    assert.match(ds.stdout, /flannel/)
    const mongo = await kubectl(other.env, [
      'get',
      'pod',
      '-n',
      'sched',
      'gt-mongodb-0',
      '-o',
      'jsonpath={.metadata.labels.app\\.kubernetes\\.io/instance}',
    ])
    assert.is(mongo.stdout, 'gt')
  } finally {
    await other.stop()
  }
  const bare = await startSimulator({ cni: 'none', missing: ['scheduler', 'mongodb'] })
  try {
    const ds = await kubectl(bare.env, ['get', 'ds', '-A', '-o', 'name'])
    assert.is(ds.stdout.trim(), '', 'no CNI DaemonSet and no scheduler')
    const pods = await kubectl(bare.env, ['get', 'pods', '-n', 'default', '-o', 'name'])
    assert.match(pods.stdout, /gthulhu-manager-/)
    assert.not.match(pods.stdout, /mongodb/)
  } finally {
    await bare.stop()
  }
})

test('rollout restart converges for all three workloads', async () => {
  const before = await kubectl(sim.env, ['get', 'pods', '-n', 'default', '-o', 'name'])
  const r = await kubectl(sim.env, [
    'rollout',
    'restart',
    'deploy/gthulhu-manager',
    'sts/gthulhu-mongodb',
    'ds/gthulhu-scheduler',
  ])
  assert.is(r.code, 0, r.stderr)
  for (const w of ['deploy/gthulhu-manager', 'sts/gthulhu-mongodb', 'ds/gthulhu-scheduler']) {
    const status = await kubectl(sim.env, ['rollout', 'status', w, '--timeout=20s'], { timeoutMs: 25_000 })
    assert.is(status.code, 0, `${w}: ${status.stdout} ${status.stderr}`)
  }
  const after = await kubectl(sim.env, ['get', 'pods', '-n', 'default', '-o', 'name'])
  const oldManager = before.stdout.split('\n').find((l) => l.includes('gthulhu-manager'))!
  assert.not.ok(after.stdout.includes(oldManager), 'the manager pod was replaced')
})

test('rollout does not converge when the fault is armed', async () => {
  // The MongoDB StatefulSet, restarted by the same command, is the control: without the fault it needs
  // more controller steps than the Deployment (delete, recreate, start), so once it has rolled out the
  // manager would have too. No wall-clock bound decides the outcome (`rollout status --timeout=1s` did:
  // under load kubectl could not even list the Deployment within 1 s, and printed no status).
  sim.faults.rolloutNeverConverges = ['gthulhu-manager']
  try {
    await rolloutRestart(['deploy/gthulhu-manager', 'sts/gthulhu-mongodb'])
    const control = await kubectl(sim.env, ['rollout', 'status', 'sts/gthulhu-mongodb', '--timeout=20s'], {
      timeoutMs: 25_000,
    })
    assert.is(control.code, 0, control.stderr)
    // --watch=false prints the current status once and exits 0 whether or not the rollout is done.
    const frozen = await kubectl(sim.env, ['rollout', 'status', 'deploy/gthulhu-manager', '--watch=false'])
    assert.is(frozen.code, 0, frozen.stderr)
    assert.match(
      frozen.stdout,
      /Waiting for deployment "gthulhu-manager" rollout to finish: 0 out of 1 new replicas have been updated/,
    )
  } finally {
    sim.faults.rolloutNeverConverges = []
  }
  const status = await kubectl(sim.env, ['rollout', 'status', 'deploy/gthulhu-manager', '--timeout=20s'], {
    timeoutMs: 25_000,
  })
  assert.is(status.code, 0, status.stderr)
})

test('mirror: istioctl archive downloads, sha256 verifies, extracts an executable that reports its version', async () => {
  const base = `${sim.istioMirror}/1.29.1/istioctl-1.29.1-linux-amd64.tar.gz`
  const archive = Buffer.from(await (await fetch(base)).arrayBuffer())
  const checksum = await (await fetch(base + '.sha256')).text()
  assert.is(checksum, `${createHash('sha256').update(archive).digest('hex')}  istioctl-1.29.1-linux-amd64.tar.gz\n`)
  const dir = tempDir('sim-world-')
  writeFileSync(join(dir, 'a.tar.gz'), archive)
  await extract({ file: join(dir, 'a.tar.gz'), cwd: dir })
  istioctl = join(dir, 'istioctl')
  assert.is(statSync(istioctl).mode & 0o777, 0o755)
  const v = await runCommand(istioctl, ['version', '--remote=false'], {
    env: { ...process.env, KUBECONFIG: '/nonexistent' },
  })
  assert.is(v.stdout.trim(), 'client version: 1.29.1')
  assert.is((await fetch(`${sim.istioMirror}/1.27.0/istioctl-1.27.0-linux-amd64.tar.gz`)).status, 404)
  assert.is((await fetch(`${sim.istioMirror}/1.29.1/istioctl-1.29.1-osx-armv7.tar.gz`)).status, 404)
  assert.is((await fetch(`${sim.istioMirror}/1.28.3/istioctl-1.28.3-linux-armv7.tar.gz`)).status, 200)
})

test('mirror faults: wrong checksum and truncated downloads', async () => {
  const base = `${sim.istioMirror}/1.29.1/istioctl-1.29.1-linux-arm64.tar.gz`
  const archive = Buffer.from(await (await fetch(base)).arrayBuffer())
  sim.faults.wrongChecksum = true
  const wrong = (await (await fetch(base + '.sha256')).text()).split(' ')[0]
  sim.faults.wrongChecksum = false
  assert.is.not(wrong, createHash('sha256').update(archive).digest('hex'))
  sim.faults.truncateDownloadsAt = 100
  try {
    const response = await fetch(base)
    assert.is(Number(response.headers.get('content-length')), archive.length)
    let failed = false
    await response.arrayBuffer().catch(() => (failed = true))
    assert.ok(failed, 'reading a truncated body fails')
  } finally {
    delete sim.faults.truncateDownloadsAt
  }
})

test('Gateway API bundle applies server-side from the mirror; CRDs carry the bundle version', async () => {
  const r = await kubectl(
    sim.env,
    ['apply', '--server-side', '-f', `${sim.gatewayApiMirror}/v1.4.0/experimental-install.yaml`],
    { timeoutMs: 30_000 },
  )
  assert.is(r.code, 0, r.stderr)
  const w = await kubectl(sim.env, [
    'wait',
    '--for=condition=Established',
    'crd/gateways.gateway.networking.k8s.io',
    'crd/httproutes.gateway.networking.k8s.io',
    '--timeout=10s',
  ])
  assert.is(w.code, 0, w.stderr)
  const crd = await json(['get', 'crd', 'gateways.gateway.networking.k8s.io'])
  assert.is(crd.metadata.annotations['gateway.networking.k8s.io/bundle-version'], 'v1.4.0')
  assert.is(crd.metadata.annotations['gateway.networking.k8s.io/channel'], 'experimental')
  assert.ok(crd.spec.versions.some((v: any) => v.name === 'v1' && v.served && v.storage))
  const kinds = await kubectl(sim.env, ['get', 'crd', '-o', 'name'])
  assert.match(kinds.stdout, /tcproutes\.gateway\.networking\.k8s\.io/)
  assert.match(kinds.stdout, /xlistenersets\.gateway\.networking\.x-k8s\.io/)
})

test('istioctl: precheck, install without -y is cancelled, ambient install becomes ready', async () => {
  const run = (args: string[], input = '') =>
    runCommand(istioctl, args, { env: { ...process.env, ...sim.env }, input, timeoutMs: 60_000 })
  const pre = await run(['x', 'precheck'])
  assert.is(pre.code, 0, pre.stderr)
  assert.match(pre.stderr, /No issues found/)
  const cancelled = await run(['install', '--set', 'profile=ambient'])
  assert.is(cancelled.code, 1)
  assert.match(cancelled.stdout, /Cancelled\./)
  const unknown = await run(['frobnicate'])
  assert.is(unknown.code, 1)
  assert.match(unknown.stderr, /unknown command "frobnicate" for "istioctl"/)
  const install = await run(['install', '--set', 'profile=ambient', '-y'])
  assert.is(install.code, 0, install.stderr)
  assert.match(install.stdout, /Installation complete/)
  for (const w of ['deploy/istiod', 'ds/ztunnel', 'ds/istio-cni-node']) {
    const status = await kubectl(sim.env, ['-n', 'istio-system', 'rollout', 'status', w, '--timeout=10s'], {
      timeoutMs: 15_000,
    })
    assert.is(status.code, 0, `${w}: ${status.stderr}`)
  }
  const images = await kubectl(sim.env, [
    'get',
    'deploy,ds',
    '-n',
    'istio-system',
    '-o',
    'jsonpath={.items[*].spec.template.spec.containers[0].image}',
  ])
  assert.match(images.stdout, /docker\.io\/istio\/pilot:1\.29\.1/)
  assert.match(images.stdout, /docker\.io\/istio\/ztunnel:1\.29\.1/)
  assert.match(images.stdout, /docker\.io\/istio\/install-cni:1\.29\.1/)
  const classes = await kubectl(sim.env, ['get', 'gatewayclass', '-o', 'name'])
  assert.match(classes.stdout, /gatewayclass\.gateway\.networking\.k8s\.io\/istio\n/)
  assert.match(classes.stdout, /istio-waypoint/)
  const ap = await kubectl(sim.env, ['get', 'crd', 'authorizationpolicies.security.istio.io'])
  assert.is(ap.code, 0, 'istioctl install created the Istio CRDs')
})

test("precheck: only a cluster below istioctl's floor (1.30 for 1.29) is a finding, an Error on stdout with exit 1", async () => {
  const old = await startSimulator({ kubernetesVersion: '1.29.4' })
  try {
    const r = await runCommand(istioctl, ['x', 'precheck'], { env: { ...process.env, ...old.env } })
    assert.is(r.code, 1)
    assert.is(
      r.stdout,
      'Error [IST0142] (Cluster) The Kubernetes Version "v1.29.4" is lower than the minimum version: 1.30\n',
    )
    assert.match(
      r.stderr,
      /^Error: Issues found when checking the cluster\. Istio may not be safe to install or upgrade\./,
    )
  } finally {
    await old.stop()
  }
  // Outside istio.io's tested table (1.31–1.35) but at or above the floor: istioctl has nothing to say.
  for (const version of ['1.30.2', '1.36.0']) {
    const cluster = await startSimulator({ kubernetesVersion: version })
    try {
      const r = await runCommand(istioctl, ['x', 'precheck'], { env: { ...process.env, ...cluster.env } })
      assert.is(r.code, 0, version)
      assert.match(r.stderr, /No issues found/)
    } finally {
      await cluster.stop()
    }
  }
})

async function waitFor<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last = await read()
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`)
    await new Promise((r) => setTimeout(r, 50))
    last = await read()
  }
  return last
}

test('Gateway → <G>-istio LoadBalancer Service (status-port first, NodePorts), AddressNotAssigned; NodePort annotation programs it', async () => {
  await applyYaml(sim.env, GUIDE_GATEWAY_YAML)
  const svc = await waitFor(
    'gateway service',
    () => kubectl(sim.env, ['get', 'svc', 'gthulhu-gw-istio', '-o', 'json']),
    (r) => r.code === 0,
  )
  const service = JSON.parse(svc.stdout)
  assert.is(service.spec.type, 'LoadBalancer')
  assert.is(service.spec.ports[0].name, 'status-port')
  assert.is(service.spec.ports[0].port, 15021)
  const http = service.spec.ports.find((p: any) => p.port === 80)
  assert.is(http.name, 'http')
  assert.ok(http.nodePort >= 30000 && http.nodePort <= 32767)
  const programmed = await waitFor(
    'Programmed condition',
    () =>
      kubectl(sim.env, [
        'get',
        'gateway',
        'gthulhu-gw',
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Programmed")].reason}',
      ]),
    (r) => r.stdout !== '',
  )
  assert.is(programmed.stdout, 'AddressNotAssigned')
  const wide = await kubectl(sim.env, ['get', 'svc', 'gthulhu-gw-istio'])
  assert.match(wide.stdout, /LoadBalancer\s+\S+\s+<(pending|none)>\s+15021:\d+\/TCP,80:\d+\/TCP/)
  const pods = await kubectl(sim.env, [
    'get',
    'pods',
    '-l',
    'gateway.networking.k8s.io/gateway-name=gthulhu-gw',
    '-o',
    'name',
  ])
  assert.match(pods.stdout, /pod\/gthulhu-gw-istio-/)
  await kubectl(sim.env, ['annotate', 'gateway', 'gthulhu-gw', 'networking.istio.io/service-type=NodePort'])
  await waitFor(
    'NodePort gateway programmed',
    () =>
      kubectl(sim.env, [
        'get',
        'gateway',
        'gthulhu-gw',
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Programmed")].status}',
      ]),
    (r) => r.stdout === 'True',
  )
  const type = await kubectl(sim.env, [
    'get',
    'svc',
    'gthulhu-gw-istio',
    '-o',
    'jsonpath={.spec.type} {.spec.ports[?(@.port==80)].nodePort}',
  ])
  assert.is(type.stdout, `NodePort ${http.nodePort}`, 'the NodePort survives the type change')
})

test('HTTPRoute: Accepted, ResolvedRefs true; false with BackendNotFound when the backend is missing', async () => {
  const route = await waitFor(
    'route status',
    () => json(['get', 'httproute', 'gthulhu-manager-route']),
    (r) => (r.status?.parents?.[0]?.conditions ?? []).length === 2,
  )
  const cond = (r: any, type: string) => r.status.parents[0].conditions.find((c: any) => c.type === type)
  assert.is(route.status.parents[0].controllerName, 'istio.io/gateway-controller')
  assert.is(cond(route, 'Accepted').status, 'True')
  assert.is(cond(route, 'ResolvedRefs').status, 'True')
  await applyYaml(sim.env, GUIDE_GATEWAY_YAML.replace('name: gthulhu-manager\n', 'name: gthulhu-nowhere\n'))
  const broken = await waitFor(
    'BackendNotFound',
    () => json(['get', 'httproute', 'gthulhu-manager-route']),
    (r) => cond(r, 'ResolvedRefs').status === 'False',
  )
  assert.is(cond(broken, 'ResolvedRefs').reason, 'BackendNotFound')
  assert.match(cond(broken, 'ResolvedRefs').message, /gthulhu-nowhere/)
  await applyYaml(sim.env, GUIDE_GATEWAY_YAML)
  await waitFor(
    'ResolvedRefs again',
    () => json(['get', 'httproute', 'gthulhu-manager-route']),
    (r) => cond(r, 'ResolvedRefs').status === 'True',
  )
})

test('istioctl waypoint apply --enroll-namespace --wait, status, ztunnel-config workloads, delete', async () => {
  const run = (args: string[]) => runCommand(istioctl, args, { env: { ...process.env, ...sim.env }, timeoutMs: 60_000 })
  await kubectl(sim.env, ['label', 'namespace', 'default', 'istio.io/dataplane-mode=ambient', '--overwrite'])
  const apply = await run(['waypoint', 'apply', '-n', 'default', '--enroll-namespace', '--wait'])
  assert.is(apply.code, 0, apply.stderr)
  assert.match(apply.stdout, /waypoint default\/waypoint applied/)
  const label = await kubectl(sim.env, [
    'get',
    'ns',
    'default',
    '-o',
    'jsonpath={.metadata.labels.istio\\.io/use-waypoint}',
  ])
  assert.is(label.stdout, 'waypoint')
  // With -n the namespace is known, so there is no NAMESPACE column; a Programmed waypoint is answered at once.
  const status = await run(['waypoint', 'status', '-n', 'default'])
  assert.is(status.code, 0, status.stderr)
  assert.match(status.stdout, /^NAME\s+STATUS\s+TYPE\s+REASON\s+MESSAGE\nwaypoint\s+True\s+Programmed\s+Programmed\s+/)
  // Only -A adds the NAMESPACE column (without -n istioctl uses the context's namespace).
  const everywhere = await run(['waypoint', 'status', '-A'])
  assert.match(
    everywhere.stdout,
    /^NAMESPACE\s+NAME\s+STATUS\s+TYPE\s+REASON\s+MESSAGE\ndefault\s+waypoint\s+True\s+Programmed/,
  )
  const workloads = await waitFor(
    'enrolled manager',
    () => run(['ztunnel-config', 'workloads']),
    (r) => /gthulhu-manager-\S+\s+10\.244\.\S+\s+sim-node-1\s+None\s+HBONE/.test(r.stdout),
  )
  assert.match(workloads.stdout, /^NAMESPACE\s+POD NAME\s+ADDRESS\s+NODE\s+WAYPOINT\s+PROTOCOL/)
  assert.match(workloads.stdout, /\nkube-system\s/, 'ztunnel knows every workload')
  // -n says where ztunnel runs, not which workloads to list; --workload-namespace filters them.
  const fromIstioSystem = await run(['ztunnel-config', 'workloads', '-n', 'istio-system'])
  assert.is(fromIstioSystem.code, 0, fromIstioSystem.stderr)
  assert.match(fromIstioSystem.stdout, /\ndefault\s+gthulhu-mongodb-0\s/)
  const onlyDefault = await run(['ztunnel-config', 'workloads', '--workload-namespace', 'default'])
  const namespaces = new Set(
    onlyDefault.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(/\s+/)[0]),
  )
  assert.equal([...namespaces], ['default'])
  const asJson = JSON.parse((await run(['ztunnel-config', 'workloads', '-o', 'json'])).stdout)
  assert.ok(asJson.some((w: any) => w.name === 'gthulhu-mongodb-0' && w.protocol === 'HBONE'))
  assert.ok(asJson.some((w: any) => w.namespace === 'kube-system'))
  const filtered = JSON.parse(
    (await run(['ztunnel-config', 'workloads', '-n', 'istio-system', '--workload-namespace', 'default', '-o', 'json']))
      .stdout,
  )
  assert.ok(filtered.length > 0 && filtered.every((w: any) => w.namespace === 'default'))
  const del = await run(['waypoint', 'delete', '--all', '-n', 'default'])
  assert.is(del.code, 0, del.stderr)
  assert.match(del.stdout, /waypoint default\/waypoint deleted/)
  await waitFor(
    'waypoint deployment gone',
    () => kubectl(sim.env, ['get', 'deploy', 'waypoint']),
    (r) => r.code !== 0,
  )
})

test('istioctl uninstall --purge -y removes the control plane and the Istio CRDs', async () => {
  const r = await runCommand(istioctl, ['uninstall', '--purge', '-y'], { env: { ...process.env, ...sim.env } })
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, /Uninstall complete/)
  const left = await kubectl(sim.env, ['get', 'deploy,ds', '-n', 'istio-system', '-o', 'name'])
  assert.is(left.stdout.trim(), '')
  const crd = await kubectl(sim.env, ['get', 'crd', 'authorizationpolicies.security.istio.io'])
  assert.is.not(crd.code, 0)
})

test('istioctl waypoint status keeps polling a waypoint that is not Programmed, until it is', async () => {
  // Istio was just uninstalled: nothing programs a new waypoint Gateway.
  const waypoint = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'late-wp', namespace: 'default' },
    spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
  }
  const created = await kubectl(sim.env, ['apply', '-f', '-'], { input: JSON.stringify(waypoint) })
  assert.is(created.code, 0, created.stderr)
  const env = { ...process.env, ...sim.env }
  const args = ['waypoint', 'status', '-n', 'default', '--name', 'late-wp']
  // A caller that bounds the wait sees the not-ready row, then no answer.
  const cut = await runCommand(istioctl, args, { env, timeoutMs: 1500 }).then(
    (r) => `finished with ${r.code}: ${r.stdout}`,
    (e: Error) => e.message,
  )
  // Before istiod writes a status the row has only the name, as istioctl prints an empty condition.
  assert.match(cut, /timed out after 1500ms\nNAME\s+STATUS\s+TYPE\s+REASON\s+MESSAGE\nlate-wp\s*\n/)
  // Once istiod is back and programs it, the waiting call answers. Istio is installed only after that call
  // has shown its not-ready row: under load its client could otherwise reach the simulator after the install.
  let polling!: () => void
  const pollingStarted = new Promise<void>((resolve) => (polling = resolve))
  const waiting = runCommand(istioctl, args, {
    env,
    timeoutMs: 30_000,
    onStdout: (out) => /\nlate-wp/.test(out) && polling(),
  })
  await Promise.race([pollingStarted, waiting])
  const install = await runCommand(istioctl, ['install', '--set', 'profile=ambient', '-y'], { env, timeoutMs: 60_000 })
  assert.is(install.code, 0, install.stderr)
  const answered = await waiting
  assert.is(answered.code, 0, answered.stderr)
  assert.match(
    answered.stdout,
    /^NAME\s+STATUS\s+TYPE\s+REASON\s+MESSAGE\nlate-wp\s*\nlate-wp\s+True\s+Programmed\s+Programmed\s+/,
  )
  const removed = await runCommand(istioctl, ['waypoint', 'delete', 'late-wp', '-n', 'default'], {
    env,
    timeoutMs: 30_000,
  })
  assert.is(removed.code, 0, removed.stderr)
})

test('POST /sim/faults arms probePodsPending: probe pods stay Pending, Unschedulable', async () => {
  const armed = await fetch(`${sim.controlUrl}/sim/faults`, {
    method: 'POST',
    body: JSON.stringify({ probePodsPending: true }),
  })
  assert.is((await armed.json()).probePodsPending, true)
  try {
    const run = await kubectl(sim.env, [
      'run',
      'stuck',
      '--restart=Never',
      '--image=busybox:1.36',
      '--command',
      '--',
      'sh',
      '-c',
      'echo hi',
    ])
    assert.is(run.code, 0, run.stderr)
    const scheduled = await kubectl(sim.env, [
      'wait',
      '--for=jsonpath={.status.conditions[0].reason}=Unschedulable',
      'pod/stuck',
      '--timeout=10s',
    ])
    assert.is(scheduled.code, 0, scheduled.stderr)
    const phase = await kubectl(sim.env, ['get', 'pod', 'stuck', '-o', 'jsonpath={.status.phase}'])
    assert.is(phase.stdout, 'Pending')
  } finally {
    sim.faults.probePodsPending = false
  }
})

test.run()
