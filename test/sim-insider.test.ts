// The simulated cluster's model of an insider's paths, through real kubectl and pods: the manager's egress
// NetworkPolicy (and what the CNI sees of ambient traffic), the manager's decision-maker resync across
// namespaces, hostNetwork on the same node and on another node, the mesh's trust domain at ztunnel and at the
// waypoint, a Service someone else binds to the waypoint, ingress-use-waypoint on the namespace, and the
// scheduler placing pods by node affinity. Two nodes; Istio installed with trust domain example.org.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { kubectl } from './kit.ts'
import { applyYaml, installedIstioctl, runProbe } from './sim-probes.ts'
import { ClusterView, listOf } from './sim/cluster-view.ts'
import { managerCallsTo } from './sim/gthulhu-manager.ts'
import { startSimulator, type Simulator } from './sim/index.ts'
import { NetworkModel } from './sim/network.ts'

let sim: Simulator
const istioctl = installedIstioctl('1.29.1')
const MANAGER = {
  'app.kubernetes.io/component': 'manager',
  'app.kubernetes.io/instance': 'gthulhu',
  'app.kubernetes.io/name': 'gthulhu',
}
const CURL_IMAGE = 'curlimages/curl:8.11.1'
const ok = async (args: string[], input?: string) => {
  const r = await kubectl(sim.env, args, { input, timeoutMs: 30_000 })
  assert.is(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}
const podJson = async (ns: string, name: string) => JSON.parse(await ok(['get', 'pod', name, '-n', ns, '-o', 'json']))
const model = () => new NetworkModel(new ClusterView(sim.store, 'calico'))
const podsOf = (labels: Record<string, string>) =>
  listOf(sim.store, 'pod').filter((p) =>
    Object.entries(labels).every(([k, v]) => p.metadata.labels?.[k] === v && (p.metadata.ownerReferences ?? []).length),
  )

/** A pod of our own making (hostNetwork, a node, a listener port), run to completion; returns its log and pod. */
async function runPod(
  ns: string,
  name: string,
  spec: Record<string, unknown>,
  script: string,
  labels: Record<string, string> = {},
  ports: number[] = [],
) {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { run: name, ...labels } },
    spec: {
      restartPolicy: 'Never',
      ...spec,
      containers: [
        {
          name: 'probe',
          image: CURL_IMAGE,
          command: ['sh', '-c', script],
          ports: ports.map((containerPort) => ({ containerPort, protocol: 'TCP' })),
        },
      ],
    },
  }
  await ok(['apply', '-f', '-'], JSON.stringify(pod))
  await ok(['wait', '-n', ns, '--for=jsonpath={.status.phase}=Succeeded', `pod/${name}`, '--timeout=20s'])
  return { log: await ok(['logs', '-n', ns, name]), pod: await podJson(ns, name) }
}

const LISTENER = `timeout 45 nc -l -p 8080; echo 'listener closed'`
const EGRESS = (rules: string) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: gthulhu-manager-egress
  namespace: default
spec:
  podSelector:
    matchLabels: {app.kubernetes.io/component: manager, app.kubernetes.io/instance: gthulhu, app.kubernetes.io/name: gthulhu}
  policyTypes: [Egress]
  egress:
${rules}`
const TO_MONGODB = `  - to: [{podSelector: {matchLabels: {app.kubernetes.io/component: mongodb}}}]
    ports: [{port: 27017}, {port: 15008}]
`
/**
 * To the scheduler pods: the sidecar's port 8080, the port the manager calls — the first one the pod declares, the
 * daemon's monitor-metrics 9090 while the chart's monitoring.enabled is on (its default) — and HBONE.
 */
const TO_DECISION_MAKERS = (ports = [8080, 9090, 15008]) =>
  `  - to: [{podSelector: {matchLabels: {app.kubernetes.io/component: scheduler}}}]
    ports: [${ports.map((port) => `{port: ${port}}`).join(', ')}]
`
const TO_DNS = `  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]
    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
`
const TO_API_SERVER = `  - to: [{ipBlock: {cidr: 127.0.0.1/32}}]
    ports: [{port: 6443}]
`

test.before(async () => {
  sim = await startSimulator({ nodes: 2, timing: { podStartMs: 50, probeRunMs: 60, rolloutStepMs: 60 } })
  await ok(['create', 'namespace', 'elsewhere'])
  await ok(['create', 'serviceaccount', 'lurker', '-n', 'elsewhere'])
})
test.after(async () => {
  await sim?.stop()
})

test('the scheduler binds a pod to a node its affinity admits, and leaves it Pending when none does', async () => {
  const affinity = (operator: string, values: string[]) => ({
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator, values }] }],
        },
      },
    },
  })
  const { pod } = await runPod('default', 'placed', affinity('NotIn', ['sim-node-1']), 'true')
  assert.is(pod.spec.nodeName, 'sim-node-2')
  assert.is(pod.status.hostIP, '10.89.0.2')
  await ok(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'nowhere', namespace: 'default' },
      spec: {
        ...affinity('In', ['no-such-node']),
        containers: [{ name: 'c', image: 'busybox:1.36', command: ['true'] }],
      },
    }),
  )
  await ok(['wait', '--for=jsonpath={.status.conditions[0].reason}=Unschedulable', 'pod/nowhere', '--timeout=10s'])
  const nowhere = await podJson('default', 'nowhere')
  assert.match(
    nowhere.status.conditions[0].message,
    /^0\/2 nodes are available: 2 node\(s\) didn't match Pod's node affinity\/selector\./,
  )
  await ok(['delete', 'pod', 'nowhere', 'placed', '-n', 'default', '--wait=false'])
})

test("the manager's resync calls every pod labelled app=decisionmaker, in any namespace", async () => {
  const { log } = await runPod(
    'elsewhere',
    'impostor-open',
    { serviceAccountName: 'lurker' },
    LISTENER,
    { app: 'decisionmaker' },
    [8080],
  )
  assert.match(log, /^POST \/api\/v1\/auth\/token HTTP\/1\.1\r\nHost: 10\.244\.\d+\.\d+:8080\r\n/)
  assert.match(log, /listener closed\n$/)
  // The real decision maker is called too (the model, asked directly: it has no log of its own here).
  const [dm] = podsOf({ app: 'decisionmaker' })
  assert.ok(managerCallsTo(model(), dm).every((call) => call.delivered))
  assert.is(managerCallsTo(model(), dm).length, 1)
})

test("an egress policy keeps the manager's requests in its namespace; without DNS or the API server it breaks the manager", async () => {
  // MongoDB only: the manager cannot even list pods (no API server), so it calls nobody.
  await applyYaml(sim.env, EGRESS(TO_MONGODB))
  const [dm] = podsOf({ app: 'decisionmaker' })
  assert.equal(managerCallsTo(model(), dm), [])
  // Lookups from a pod outside the mesh need cluster DNS: without a rule for it, names do not resolve.
  assert.is(
    await runProbe(sim.env, { labels: MANAGER, script: 'nc -z -w 1 gthulhu-mongodb 27017; echo EXIT=$?' }),
    "nc: bad address 'gthulhu-mongodb'\nEXIT=1\n",
  )
  // A rule for the sidecar's port alone misses the port the manager calls: the first one the pod declares.
  await applyYaml(sim.env, EGRESS(TO_MONGODB + TO_DECISION_MAKERS([8080, 15008]) + TO_DNS + TO_API_SERVER))
  const [sidecarOnly] = managerCallsTo(model(), podsOf({ app: 'decisionmaker' })[0])
  assert.equal([sidecarOnly.port, sidecarOnly.outcome.kind, sidecarOnly.delivered], [9090, 'dropped', false])
  await applyYaml(sim.env, EGRESS(TO_MONGODB + TO_DECISION_MAKERS() + TO_DNS + TO_API_SERVER))
  assert.is(
    await runProbe(sim.env, { labels: MANAGER, script: 'nc -z -w 1 gthulhu-mongodb 27017; echo EXIT=$?' }),
    'EXIT=0\n',
  )
  // Its own decision makers still get the manager's calls; the one elsewhere does not.
  const [own] = managerCallsTo(model(), podsOf({ app: 'decisionmaker' })[0])
  assert.ok(own.delivered, `${own.port}: ${own.outcome.kind}`)
  const { log } = await runPod(
    'elsewhere',
    'impostor-closed',
    { serviceAccountName: 'lurker' },
    LISTENER,
    { app: 'decisionmaker' },
    [8080],
  )
  assert.is(log, 'listener closed\n')
  // The same stands for anything else the policy does not name, e.g. cluster DNS's metrics port: dropped by the CNI.
  const [dns] = listOf(sim.store, 'pod', 'kube-system').filter((p) => p.metadata.labels?.['k8s-app'] === 'kube-dns')
  const metrics = `curl -sS -m 2 -o /dev/null -w '%{http_code}' http://${dns.status.podIP}:9153/; echo " exit=$?"`
  assert.is(await runProbe(sim.env, { image: CURL_IMAGE, script: metrics }), '200 exit=0\n', 'another pod reaches it')
  assert.match(
    await runProbe(sim.env, { labels: MANAGER, image: CURL_IMAGE, script: metrics }),
    /curl: \(28\) Connection timed out[^\n]*\n exit=28\n$/,
  )
})

test('Istio installed with trust domain example.org: its mesh config says so', async () => {
  const crds = await kubectl(sim.env, [
    'apply',
    '--server-side',
    '-f',
    `${sim.gatewayApiMirror}/v1.4.0/standard-install.yaml`,
  ])
  assert.is(crds.code, 0, crds.stderr)
  const install = await istioctl.run(sim.env, [
    'install',
    '--set',
    'profile=ambient',
    '--set',
    'meshConfig.trustDomain=example.org',
    '-y',
  ])
  assert.is(install.code, 0, install.stderr)
  const mesh = JSON.parse(await ok(['get', 'configmap', 'istio', '-n', 'istio-system', '-o', 'json'])).data.mesh
  assert.match(mesh, /^trustDomain: example\.org$/m)
  await ok(['label', 'namespace', 'default', 'istio.io/dataplane-mode=ambient', '--overwrite'])
  await ok([
    'wait',
    '--for=jsonpath={.metadata.annotations.ambient\\.istio\\.io/redirection}=enabled',
    'pod/gthulhu-mongodb-0',
    '--timeout=10s',
  ])
  for (const pod of podsOf({ 'app.kubernetes.io/component': 'manager' }))
    await ok([
      'wait',
      '--for=jsonpath={.metadata.annotations.ambient\\.istio\\.io/redirection}=enabled',
      `pod/${pod.metadata.name}`,
      '--timeout=10s',
    ])
})

const MONGODB_POLICY = (principal: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: gthulhu-mongodb-allow-manager
  namespace: default
spec:
  selector:
    matchLabels: {app.kubernetes.io/component: mongodb}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["${principal}"]}}]
`

test("ztunnel compares principals as they are written: cluster.local denies everyone in example.org's mesh", async () => {
  const hello = `nc -z -w 1 gthulhu-mongodb 27017; echo EXIT=$?; curl -sS -m 2 -o /dev/null -w '%{http_code}' http://gthulhu-mongodb:27017/; echo " curl=$?"`
  await applyYaml(sim.env, MONGODB_POLICY('cluster.local/ns/default/sa/gthulhu-manager'))
  const manager = { labels: MANAGER, serviceAccount: 'gthulhu-manager', image: CURL_IMAGE }
  assert.match(await runProbe(sim.env, { ...manager, script: hello }), /curl: \(56\) Recv failure/)
  await applyYaml(sim.env, MONGODB_POLICY('example.org/ns/default/sa/gthulhu-manager'))
  // MongoDB answers no HTTP, but it is reached: an empty reply (52), not ztunnel's reset.
  assert.match(await runProbe(sim.env, { ...manager, script: hello }), /curl: \(52\) Empty reply from server/)
})

test("hostNetwork on the manager's node reaches it past the identity policy; from the other node it is refused", async () => {
  await applyYaml(
    sim.env,
    `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: gthulhu-manager-allow-waypoint-and-gateway
  namespace: default
spec:
  selector:
    matchLabels: {app.kubernetes.io/component: manager}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["example.org/ns/default/sa/waypoint"]}}]
`,
  )
  const [manager] = podsOf({ 'app.kubernetes.io/component': 'manager' })
  const curl = `curl -sS -m 2 -o /dev/null -w '%{http_code}' http://${manager.status.podIP}:8080/health; echo " exit=$?"`
  const onNode = (node: string) => ({ hostNetwork: true, nodeName: node })
  const same = await runPod('default', 'host-same', onNode('sim-node-1'), curl)
  assert.is(same.pod.status.podIP, '127.0.0.1', 'a hostNetwork pod has its node address')
  assert.is(same.log, '200 exit=0\n', 'neither ztunnel nor Calico stands in the way on the same node')
  const other = await runPod('default', 'host-other', onNode('sim-node-2'), curl)
  assert.is(
    other.log,
    '000curl: (56) Recv failure: Connection reset by peer\n exit=56\n',
    'plaintext: no identity to admit',
  )
  // An enrolled pod with another identity is refused as before.
  assert.match(await runProbe(sim.env, { image: CURL_IMAGE, script: curl }), /exit=56/)
})

test("a Service someone else binds to the waypoint is forwarded with the waypoint's identity, until a policy on the waypoint refuses it", async () => {
  const apply = await istioctl.run(sim.env, ['waypoint', 'apply', '-n', 'default', '--wait'])
  assert.is(apply.code, 0, apply.stderr)
  await ok(['label', 'service', 'gthulhu-manager', '-n', 'default', 'istio.io/use-waypoint=waypoint'])
  await applyYaml(
    sim.env,
    `apiVersion: v1
kind: Service
metadata:
  name: deputy
  namespace: default
  labels: {istio.io/use-waypoint: waypoint}
spec:
  selector: {app.kubernetes.io/component: manager, app.kubernetes.io/instance: gthulhu, app.kubernetes.io/name: gthulhu}
  ports: [{port: 8080, targetPort: 8080}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: manager-allow-scheduler-or-chrome
  namespace: default
spec:
  targetRefs: [{group: "", kind: Service, name: gthulhu-manager}]
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/default/sa/gthulhu"]}}]
`,
  )
  const call = (svc: string) =>
    `curl -sS -m 2 -o /dev/null -w '%{http_code}' http://${svc}:8080/health; echo " exit=$?"`
  const as = (serviceAccount: string, svc: string) =>
    runProbe(sim.env, { image: CURL_IMAGE, serviceAccount, script: call(svc) })
  await ok(['create', 'serviceaccount', 'gthulhu-probe', '-n', 'default'])
  // The manager Service's policy: the waypoint reads cluster.local as the mesh's own domain, so the scheduler passes.
  assert.is(await as('gthulhu', 'gthulhu-manager'), '200 exit=0\n')
  assert.is(await as('gthulhu-probe', 'gthulhu-manager'), '403 exit=0\n')
  // The deputy Service has no policy: the waypoint forwards it with its own identity, which the manager admits.
  assert.is(await as('gthulhu-probe', 'deputy'), '200 exit=0\n')
  await applyYaml(
    sim.env,
    `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: gthulhu-waypoint-allow-manager-callers
  namespace: default
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}]
  action: ALLOW
  rules:
  - from: [{source: {principals: ["example.org/ns/default/sa/gthulhu"]}}]
`,
  )
  assert.is(await as('gthulhu-probe', 'deputy'), '403 exit=0\n')
  assert.is(await as('gthulhu', 'gthulhu-manager'), '200 exit=0\n')
})

test("ingress takes the Service's istio.io/ingress-use-waypoint when it has one, else the namespace's", async () => {
  const svc = () => new ClusterView(sim.store, 'calico').service('default', 'gthulhu-manager')!
  assert.is(model().ingressUsesWaypoint(svc()), false)
  await ok(['label', 'namespace', 'default', 'istio.io/ingress-use-waypoint=true'])
  assert.is(model().ingressUsesWaypoint(svc()), true)
  await ok(['label', 'service', 'gthulhu-manager', '-n', 'default', 'istio.io/ingress-use-waypoint=false'])
  assert.is(model().ingressUsesWaypoint(svc()), false)
})

test.run()
