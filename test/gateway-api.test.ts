// Pure rules of the gateway-api-crds, ambient and gateway steps: bundle decisions, Istio detection, the
// rendered Gateway/HTTPRoute, NodePort and node address picking, the health-check User-Agent.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { UsageError } from '../lib/config/errors.ts'
import {
  compareVersions,
  decideBundle,
  listenerNodePort,
  parseBundle,
  pickNodeAddress,
  type InstalledCrd,
} from '../lib/domain/gateway-api.ts'
import { GUIDE_USER_AGENT, loadConfig } from '../lib/config/options.ts'
import type { KubeObject } from '../lib/types.ts'
import { containsFields } from '../lib/domain/apply.ts'
import { readiness } from '../lib/kube/readiness.ts'
import { decideIstio, imageVersion } from '../steps/04-ambient.ts'
import { waypointStatusRow } from '../steps/07-waypoint.ts'
import { checkUserAgent, gatewayManifests, gatewayStep } from '../steps/05-gateway.ts'

const config = (...args: string[]) => loadConfig(args, {})

test('versions order numerically, a pre-release before its release', () => {
  assert.ok(compareVersions('v1.10.0', 'v1.4.0') > 0)
  assert.ok(compareVersions('v1.4.0-rc.1', 'v1.4.0') < 0)
  assert.is(compareVersions('v1.4.0', 'v1.4.0'), 0)
  // Pre-release identifiers compare numerically (SemVer 2.0 §11): rc.10 is after rc.2.
  assert.ok(compareVersions('v1.4.0-rc.10', 'v1.4.0-rc.2') > 0)
  assert.ok(compareVersions('v1.4.0-rc.2', 'v1.4.0-rc.10') < 0)
  assert.ok(compareVersions('v1.4.0-rc.10', 'v1.4.0') < 0)
  assert.ok(compareVersions('v1.4.0-alpha', 'v1.4.0-alpha.1') < 0)
  assert.ok(compareVersions('v1.4.0-alpha.1', 'v1.4.0-alpha.beta') < 0)
  assert.ok(compareVersions('v1.4.0-beta.11', 'v1.4.0-rc.1') < 0)
  assert.is(compareVersions('v1.4.0-rc.2', 'v1.4.0-rc.2'), 0)
})

test('a bundle file is read as its CRD names and bundle versions', () => {
  const text = [
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x',
    'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: gateways.gateway.networking.k8s.io\n  annotations:\n    gateway.networking.k8s.io/bundle-version: v1.4.0',
  ].join('\n---\n')
  assert.equal(parseBundle(text, 'bundle'), [{ name: 'gateways.gateway.networking.k8s.io', version: 'v1.4.0' }])
  assert.throws(() => parseBundle('kind: Namespace\n', 'https://mirror/x.yaml'), /defines no CustomResourceDefinition/)
})

test('bundle decision: install, skip at the same version, refuse or replace a newer one', () => {
  const bundle = [
    { name: 'a.gateway.networking.k8s.io', version: 'v1.4.0' },
    { name: 'b.gateway.networking.k8s.io', version: 'v1.4.0' },
  ]
  const installed = (version: string, channel = 'experimental'): InstalledCrd[] =>
    bundle.map((c) => ({ name: c.name, version, channel, established: true }))
  const cfg = config()
  assert.is(decideBundle(bundle, [], cfg).action, 'apply')
  assert.is(decideBundle(bundle, installed('v1.4.0'), cfg).action, 'skip')
  assert.is(decideBundle(bundle, installed('v1.3.0'), cfg).action, 'apply')
  assert.match((decideBundle(bundle, installed('v1.3.0'), cfg) as any).reason, /2 at another version \(v1\.3\.0\)/)
  const refused = decideBundle(bundle, installed('v1.5.0'), cfg)
  assert.is(refused.action, 'refuse-newer')
  assert.is(decideBundle(bundle, installed('v1.5.0'), config('--replace-newer-gateway-api')).action, 'apply')
  // experimental satisfies a standard request; standard does not satisfy an experimental one
  assert.is(
    decideBundle(bundle, installed('v1.4.0', 'experimental'), config('--gateway-api-channel', 'standard')).action,
    'skip',
  )
  assert.is(decideBundle(bundle, installed('v1.4.0', 'standard'), cfg).action, 'apply')
})

const workload = (kind: string, name: string, image: string, extra: Record<string, any> = {}): KubeObject => ({
  apiVersion: 'apps/v1',
  kind,
  metadata: { name, namespace: 'istio-system', generation: 1 },
  spec: { replicas: 1, template: { spec: { containers: [{ name: 'c', image, env: extra.env ?? [] }] } } },
  status: extra.status ?? {},
})
const ambient = (version: string) => ({
  istiod: workload('Deployment', 'istiod', `docker.io/istio/pilot:${version}`, {
    env: [{ name: 'PILOT_ENABLE_AMBIENT', value: 'true' }],
  }),
  ztunnel: workload('DaemonSet', 'ztunnel', `docker.io/istio/ztunnel:${version}-distroless`),
  'istio-cni-node': workload('DaemonSet', 'istio-cni-node', `docker.io/istio/install-cni:${version}`),
})
const ns = (labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name: 'default', labels },
})

test('Istio detection: install, skip the same ambient install, stop on another version, profile or sidecar injection', () => {
  const cfg = config()
  assert.is(imageVersion(ambient('1.29.1').ztunnel), '1.29.1')
  assert.is(decideIstio({}, ns(), cfg).action, 'install')
  assert.is(decideIstio(ambient('1.29.1'), ns(), cfg).action, 'skip')
  const older = decideIstio(ambient('1.28.3'), ns(), cfg)
  assert.is(older.action, 'stop')
  assert.match(older.reason, /Istio 1\.28\.3 is already installed.*--istio-version 1\.28\.3/)
  const sidecar = { istiod: workload('Deployment', 'istiod', 'docker.io/istio/pilot:1.29.1') }
  assert.match(decideIstio(sidecar, ns(), cfg).reason, /without the ambient profile/)
  const injected = decideIstio({}, ns({ 'istio-injection': 'enabled' }), cfg)
  assert.is(injected.action, 'stop')
  assert.match(
    injected.reason,
    /sidecar injection \(istio-injection=enabled\).*kubectl label namespace default istio-injection-/,
  )
  const partial = ambient('1.29.1') as Record<string, KubeObject | undefined>
  delete partial.ztunnel
  assert.equal(decideIstio(partial, ns(), cfg), {
    action: 'install',
    reason: 'Istio 1.29.1 ambient is incomplete: ztunnel missing',
  })
})

test('readiness needs desired = ready = updated for the current generation', () => {
  const ds = workload('DaemonSet', 'ztunnel', 'x:1.29.1', {
    status: { observedGeneration: 1, desiredNumberScheduled: 2, numberReady: 1, updatedNumberScheduled: 2 },
  })
  assert.equal(readiness(ds), { ready: false, counts: '1/2 ready, 2 updated' })
  ds.status.numberReady = 2
  assert.is(readiness(ds).ready, true)
  ds.metadata.generation = 2
  assert.is(readiness(ds).ready, false, 'a status of an older generation does not count')
  assert.equal(readiness(undefined), { ready: false, counts: 'missing' })
})

test("the rendered Gateway and HTTPRoute carry this run's names, backend and Service type", () => {
  const facts = {}
  const plain = gatewayManifests(
    config('--namespace', 'gthulhu', '--gateway-name', 'edge', '--route-name', 'ui', '--release', 'g2'),
    facts,
  )
  assert.is(plain.gateway.metadata.name, 'edge')
  assert.is(plain.gateway.metadata.namespace, 'gthulhu')
  assert.is(plain.gateway.metadata.annotations, undefined)
  assert.equal(plain.gateway.spec.listeners, [{ name: 'http', protocol: 'HTTP', port: 80 }])
  assert.equal(plain.route.spec.parentRefs, [{ name: 'edge' }])
  // The chart's fullname for release g2 is g2-gthulhu: the manager Service is g2-gthulhu-manager.
  assert.equal(plain.route.spec.rules[0].backendRefs, [{ name: 'g2-gthulhu-manager', port: 8080 }])
  const nodePort = gatewayManifests(config('--gateway-service-type', 'NodePort'), facts)
  assert.equal(nodePort.gateway.metadata.annotations, { 'networking.istio.io/service-type': 'NodePort' })
})

test('a name the flags accept but Kubernetes would not is rejected before anything is applied', () => {
  // "1gw" is a DNS-1123 label, but Istio's Service "1gw-istio" must start with a letter.
  const cfg = config('--gateway-name', '1gw')
  assert.throws(
    () => gatewayManifests(cfg, {}),
    (e: Error) =>
      e instanceof UsageError &&
      /Gateway default\/1gw: metadata\.name: Istio creates a Service named "1gw-istio"/.test(e.message),
  )
  assert.throws(
    () => gatewayStep.plan({ config: cfg, facts: {} }),
    (e: Error) => e instanceof UsageError,
  )
})

test('the gateway plan lists both manifests (server-side) and the verification', () => {
  const plan = gatewayStep.plan({ config: config(), facts: {} })
  const manifests = plan.filter((p) => p.kind === 'manifest')
  assert.equal(
    manifests.map((m: any) => `${m.object.kind}/${m.object.metadata.name}/${m.apply}`),
    ['Gateway/gthulhu-gw/server-side', 'HTTPRoute/gthulhu-manager-route/server-side'],
  )
  assert.ok(
    plan.some(
      (p) =>
        p.kind === 'note' &&
        p.text.includes(`User-Agent "${checkUserAgent({ allowedUserAgents: [GUIDE_USER_AGENT] })}"`),
    ),
  )
})

test('containsFields (desired, live) ignores fields others add but not changed or missing ones', () => {
  assert.ok(containsFields({ a: 1, b: [{ x: 1 }] }, { a: 1, b: [{ x: 1, y: 2 }], extra: true }))
  assert.not.ok(containsFields({ a: 1, b: [{ x: 1 }] }, { a: 1, b: [{ x: 2 }] }))
  assert.not.ok(containsFields({ a: 1, b: [{ x: 1 }] }, { a: 1, b: [{ x: 1 }, { x: 2 }] }))
})

test("the listener's NodePort is picked by port, not by position", () => {
  const service: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'gthulhu-gw-istio' },
    spec: {
      ports: [
        { name: 'status-port', port: 15021, nodePort: 30001 },
        { name: 'http', port: 80, nodePort: 30450 },
      ],
    },
  }
  assert.is(listenerNodePort(service, 80)?.nodePort, 30450)
  assert.is(listenerNodePort(service, 8080), undefined)
})

test("node address: a Ready node's ExternalIP first, else its InternalIP; NotReady nodes are skipped", () => {
  const node = (name: string, ready: string, addresses: Array<[string, string]>): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    status: {
      conditions: [{ type: 'Ready', status: ready }],
      addresses: addresses.map(([type, address]) => ({ type, address })),
    },
  })
  const down = node('down', 'False', [['ExternalIP', '203.0.113.9']])
  const internal = node('a', 'True', [
    ['Hostname', 'a'],
    ['InternalIP', '10.0.0.5'],
  ])
  const external = node('b', 'True', [
    ['InternalIP', '10.0.0.6'],
    ['ExternalIP', '203.0.113.7'],
  ])
  assert.equal(pickNodeAddress([down, internal]), { node: 'a', type: 'InternalIP', address: '10.0.0.5' })
  assert.equal(pickNodeAddress([down, internal, external]), { node: 'b', type: 'ExternalIP', address: '203.0.113.7' })
  assert.is(pickNodeAddress([down]), undefined)
})

test('the health check User-Agent satisfies the first allowed pattern (the same sample the l7 step sends)', () => {
  const agent = (patterns: string[]) => checkUserAgent({ allowedUserAgents: patterns })
  assert.is(
    agent([GUIDE_USER_AGENT]),
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  )
  assert.is(agent(['exact-agent/1.0', 'x*']), 'exact-agent/1.0')
  assert.is(agent(['*']), 'gthulhu-runbook-verification')
  assert.ok(agent(['*Safari/537.36']).endsWith('Safari/537.36'))
})

test('imageVersion reads the tag, not a digest or a registry port', () => {
  const istiod = (image: string) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'istiod' },
    spec: { template: { spec: { containers: [{ image }] } } },
  })
  assert.is(imageVersion(istiod('docker.io/istio/pilot:1.29.1-distroless')), '1.29.1')
  assert.is(imageVersion(istiod('registry.local:5000/istio/pilot:1.29.1@sha256:0123abcd')), '1.29.1')
  assert.is(imageVersion(istiod('registry.local:5000/istio/pilot')), undefined)
})

test('waypointStatusRow reads the Programmed row of istioctl waypoint status, with or without a NAMESPACE column', () => {
  const real =
    'NAME         STATUS     TYPE           REASON         MESSAGE\nwaypoint     True       Programmed     Programmed     Resource programmed, assigned to service(s) waypoint.default.svc.cluster.local:15008\n'
  assert.equal(waypointStatusRow(real, 'waypoint')?.status, 'True')
  const waiting =
    'NAMESPACE  NAME      STATUS  TYPE        REASON   MESSAGE\ndefault    waypoint  False   Programmed  Pending  x\ndefault    waypoint  True    Programmed  Programmed  ok\n'
  assert.equal(waypointStatusRow(waiting, 'waypoint')?.status, 'True')
  assert.equal(waypointStatusRow('NAME STATUS TYPE\nwaypoint True Accepted\n', 'waypoint'), undefined)
  assert.equal(waypointStatusRow(real, 'other'), undefined)
})

test.run()
