// The threat model's new paths as data, and what the steps plan for them: which layer closes each after which
// step (open before it, closed after), under the choices that change that; the objects that close them (the
// policy on the waypoint, the manager's egress policy, the Service-only binding, principals in the mesh's trust
// domain); and the probes that try them (a Service of their own, a listener in a namespace of its own, hostNetwork).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../lib/config/options.ts'
import { chartDefaults } from '../lib/domain/gthulhu.ts'
import { istioctlBinary } from '../lib/domain/istio.ts'
import { desiredManagerEgressPolicy } from '../lib/domain/network-policies.ts'
import { validateManifest } from '../lib/kube/schema.ts'
import type { Facts, ProbeSpec, StepId } from '../lib/types.ts'
import { classifyListener, listenerScript, meetsExpectation, probePod } from '../lib/verify/probes.ts'
import {
  expectedNow,
  expectedPastAdmission,
  ledger,
  pathById,
  probeFor,
  type ProbeEnv,
} from '../lib/verify/threat-model.ts'
import { desiredIdentityPolicies } from '../steps/09-identity-policies.ts'
import { desiredAuthorizationPolicies, ingressPassesWaypoint } from '../steps/11-l7-policies.ts'
import { waypointStep } from '../steps/07-waypoint.ts'

const facts: Facts = {
  workloads: chartDefaults({ release: 'gthulhu' }),
  apiServer: { addresses: ['172.18.0.2'], ports: [6443] },
}
const config = (...flags: string[]) => loadConfig(flags, {})
const ORDER: StepId[] = ['l4-policies', 'waypoint', 'restart', 'identity-policies', 'l7-policies']
/** Every step up to and including `last` is in effect. */
const upTo = (last: StepId) => (step: StepId) => ORDER.indexOf(step) >= 0 && ORDER.indexOf(step) <= ORDER.indexOf(last)
const verdict = (id: string, flags: string[], last: StepId) => {
  const e = expectedNow(pathById(id)!, config(...flags), upTo(last))
  return e.verdict === 'refused' ? `refused by ${e.by.map((c) => c.layer).join(' + ')}` : e.verdict
}

test('each new path is open before the step that closes it and closed after, by the layer that closes it', () => {
  // The confused deputy: a Service someone else binds to the waypoint, closed by the policy on the waypoint.
  assert.is(verdict('deputy-service-to-manager', [], 'identity-policies'), 'open')
  assert.is(verdict('deputy-service-to-manager', [], 'l7-policies'), 'refused by waypoint L7')
  // Without a waypoint label, the Service-only binding keeps it off the waypoint: ztunnel refuses the caller.
  assert.is(verdict('unbound-service-to-manager', [], 'restart'), 'open')
  assert.is(verdict('unbound-service-to-manager', [], 'identity-policies'), 'refused by ztunnel identity policy')
  // Bound namespace-wide (the guide's form), only the waypoint's own policy refuses it.
  const wide = ['--waypoint-binding', 'namespace']
  assert.is(verdict('unbound-service-to-manager', wide, 'identity-policies'), 'open')
  assert.is(verdict('unbound-service-to-manager', wide, 'l7-policies'), 'refused by waypoint L7')
  // The impostor decision maker: the manager's egress policy, from l4-policies on.
  assert.is(verdict('impostor-decision-maker', [], 'l4-policies'), 'refused by CNI egress policy')
  assert.is(verdict('impostor-decision-maker', ['--no-manager-egress-policy'], 'l7-policies'), 'open')
  // hostNetwork: from another node it is plaintext, refused by the identity policy; on the same node nothing refuses it.
  assert.is(verdict('host-network-other-node', [], 'restart'), 'open')
  assert.is(verdict('host-network-other-node', [], 'identity-policies'), 'refused by ztunnel identity policy')
  assert.is(verdict('host-network-same-node', [], 'l7-policies'), 'open')
})

test('the ledger of a complete run: what stays open, with why; what a choice reopens', () => {
  const open = (flags: string[]) =>
    ledger(config(...flags))
      .filter((row) => row.status === 'open')
      .map((row) => row.path.id)
  const byDefault = open([])
  assert.ok(byDefault.includes('host-network-same-node'))
  for (const closed of [
    'deputy-service-to-manager',
    'unbound-service-to-manager',
    'impostor-decision-maker',
    'host-network-other-node',
  ])
    assert.not.ok(byDefault.includes(closed), closed)
  const row = ledger(config()).find((r) => r.path.id === 'host-network-same-node')!
  assert.match(row.why!, /169\.254\.7\.127/)
  assert.match(row.wouldClose!, /hostNetwork/)
  assert.ok(open(['--no-manager-egress-policy']).includes('impostor-decision-maker'))
  assert.ok(open(['--no-identity-policies']).includes('host-network-other-node'))
  // Principals that admit the namespace's default ServiceAccount leave the deputy open, once admission is off too
  // (admission refuses the Service being made at all).
  const admitsDefault = ['--manager-principals', 'cluster.local/ns/default/sa/default']
  assert.not.ok(open(admitsDefault).includes('deputy-service-to-manager'))
  assert.ok(open([...admitsDefault, '--no-admission-policy']).includes('deputy-service-to-manager'))
})

const env = (extra: Partial<ProbeEnv> = {}, flags: string[] = []): ProbeEnv => ({
  config: config(...flags),
  facts,
  managerPodIp: '10.244.0.7',
  managerNodes: ['node-a'],
  nodes: ['node-a', 'node-b'],
  ...extra,
})
const probe = (id: string, e: ProbeEnv) => probeFor(pathById(id)!, e) as ProbeSpec

test("the deputy probe brings its own Service: the manager's pods, bound to the waypoint, deleted with the probe", () => {
  const spec = probe('deputy-service-to-manager', env())
  const [service] = spec.fixtures!
  assert.is(service.kind, 'Service')
  assert.match(service.metadata.name, /^gthulhu-probe-deputy-[a-z0-9]{5}$/)
  assert.equal(service.metadata.labels, { 'istio.io/use-waypoint': 'waypoint' })
  assert.equal(service.spec.selector, facts.workloads!.manager.selectorLabels)
  assert.equal(validateManifest(service), [])
  assert.equal(spec.request, { kind: 'http', url: `http://${service.metadata.name}.default.svc:8080/health` })
  assert.equal(spec.expect, { kind: 'status', status: 403 })
  assert.is(spec.source.serviceAccount, 'default')
  // Without the waypoint label the same Service goes straight to the pods: ztunnel's refusal, not a 403.
  const unbound = probe('unbound-service-to-manager', env())
  assert.equal(unbound.fixtures![0].metadata.labels, {})
  assert.equal(unbound.expect, { kind: 'blocked' })
  assert.equal(probe('unbound-service-to-manager', env({}, ['--waypoint-binding', 'namespace'])).expect, {
    kind: 'status',
    status: 403,
  })
})

test('the impostor probe listens in a namespace of its own, labelled app=decisionmaker, on its first port', () => {
  const spec = probe('impostor-decision-maker', env())
  assert.match(spec.namespace!, /^gthulhu-probe-impostor-[a-z0-9]{5}$/)
  assert.equal(
    spec.fixtures!.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`),
    [`Namespace//${spec.namespace}`, `ServiceAccount/${spec.namespace}/gthulhu-probe`],
  )
  for (const o of spec.fixtures!) assert.equal(validateManifest(o), [], o.kind)
  assert.equal(spec.request, { kind: 'listen', port: 8080, seconds: 45 })
  const pod = probePod(spec, { namespace: 'default', runId: 'r1', mongoImage: 'mongo', httpImage: 'curl:1' })
  assert.is(pod.metadata.namespace, spec.namespace)
  assert.is(pod.metadata.labels!.app, 'decisionmaker')
  assert.is(pod.spec.serviceAccountName, 'gthulhu-probe')
  // The manager calls a decision maker on the first port its pod declares.
  assert.equal(pod.spec.containers[0].ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }])
  assert.equal(pod.spec.containers[0].command, ['sh', '-c', listenerScript(8080, 45)])
  assert.equal(validateManifest(pod), [])
  // What it saw: a request line is the manager's call; the listener closing with nothing before it is silence.
  const heard = classifyListener(
    0,
    'POST /api/v1/auth/token HTTP/1.1\r\nHost: 10.244.0.9:8080\r\n\r\nlistener closed\n',
  )
  assert.is(heard.kind, 'answered')
  assert.not.ok(meetsExpectation(spec.expect, heard))
  assert.ok(meetsExpectation(spec.expect, classifyListener(0, 'listener closed\n')))
  assert.is(classifyListener(127, 'sh: timeout: not found\nlistener closed\n').kind, 'error')
})

test("hostNetwork probes go to the manager's node, or to any other; with one node the other-node path does not exist", () => {
  const same = probe('host-network-same-node', env())
  const other = probe('host-network-other-node', env())
  const pod = (spec: ProbeSpec) =>
    probePod(spec, { namespace: 'default', runId: 'r1', mongoImage: 'mongo', httpImage: 'curl:1' })
  const term = (spec: ProbeSpec) =>
    pod(spec).spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]
      .matchExpressions[0]
  assert.equal(term(same), { key: 'kubernetes.io/hostname', operator: 'In', values: ['node-a'] })
  assert.equal(term(other), { key: 'kubernetes.io/hostname', operator: 'NotIn', values: ['node-a'] })
  assert.is(pod(same).spec.hostNetwork, true)
  assert.equal(pod(same).spec.tolerations, [{ operator: 'Exists' }])
  assert.equal(validateManifest(pod(other)), [])
  assert.equal(same.request, { kind: 'http', url: 'http://10.244.0.7:8080/health' })
  assert.equal(probeFor(pathById('host-network-other-node')!, env({ nodes: ['node-a'] })), {
    notTried: 'every node that takes pods runs a manager pod (node-a)',
    inapplicable: true,
  })
})

test('a probe expects what the model says now: open for good answers, closed or open until its step refuses', () => {
  const expectation = (id: string, flags: string[], last: StepId) => {
    const path = pathById(id)!
    const e = env({}, flags)
    return (probeFor(path, e, expectedNow(path, e.config, upTo(last))) as ProbeSpec).expect
  }
  // No layer of this runbook closes it: the probe expects the manager's answer, whatever the steps.
  assert.equal(expectation('host-network-same-node', [], 'l7-policies'), { kind: 'answered' })
  // Left out by the operator: open for good as well.
  assert.equal(expectation('host-network-other-node', ['--no-identity-policies'], 'l7-policies'), { kind: 'answered' })
  assert.equal(expectation('impostor-decision-maker', ['--no-manager-egress-policy'], 'l7-policies'), {
    kind: 'answered',
  })
  // Closed: refused. Open only until identity-policies runs: still the refusal that step brings.
  assert.equal(expectation('host-network-other-node', [], 'identity-policies'), { kind: 'blocked' })
  assert.equal(expectation('host-network-other-node', [], 'restart'), { kind: 'blocked' })
  // A 403 on the way is an L7 layer's refusal, not the far side's answer.
  assert.not.ok(meetsExpectation({ kind: 'answered' }, { kind: 'status', status: 403 }))
  assert.ok(meetsExpectation({ kind: 'answered' }, { kind: 'status', status: 200 }))
})

test("the runbook's probe is exempt at admission: it expects what the layers behind admission do", () => {
  const every = () => true
  const behind = (id: string, flags: string[], inEffect: (step: StepId) => boolean) =>
    expectedPastAdmission(pathById(id)!, config(...flags), inEffect)
  // Identity policies left out: admission still closes the unbound Service for an insider (the ledger says closed),
  // yet nothing behind admission refuses the probe's own Service, so the probe expects the manager's answer.
  assert.is(
    expectedNow(pathById('unbound-service-to-manager')!, config('--no-identity-policies'), every).verdict,
    'refused',
  )
  assert.equal(behind('unbound-service-to-manager', ['--no-identity-policies'], every), {
    verdict: 'open',
    because:
      'with --no-identity-policies nothing refuses it, and with --waypoint-binding namespace it passes the waypoint, whose identity the manager admits',
  })
  // identity-policies undone after a full run: open until it runs again, whatever admission does.
  const e = behind('unbound-service-to-manager', [], (s) => s !== 'identity-policies')
  assert.is(e.verdict === 'open' && e.until?.step, 'identity-policies')
  // The guard on and the egress policy left out: nothing behind admission keeps the manager's requests in.
  assert.is(
    behind('impostor-decision-maker', ['--no-manager-egress-policy', '--decision-maker-guard'], every).verdict,
    'open',
  )
  // A layer behind admission in effect: the probe expects its refusal, as before.
  const closed = behind('unbound-service-to-manager', [], every)
  assert.equal(closed.verdict === 'refused' && closed.by.map((c) => c.layer), ['ztunnel identity policy'])
})

test('the manager may connect to MongoDB, its own decision makers, cluster DNS and the API server, nothing else', () => {
  const policy = desiredManagerEgressPolicy(config('--namespace', 'apps'), facts)!
  assert.equal(validateManifest(policy), [])
  assert.is(policy.metadata.namespace, 'apps')
  assert.equal(policy.spec.policyTypes, ['Egress'])
  assert.equal(policy.spec.podSelector.matchLabels, facts.workloads!.manager.selectorLabels)
  assert.equal(
    policy.spec.egress.map((rule: any) => [rule.to, rule.ports.map((p: any) => `${p.port}/${p.protocol}`)]),
    [
      [[{ podSelector: { matchLabels: facts.workloads!.mongodb.selectorLabels } }], ['27017/TCP', '15008/TCP']],
      [[{ podSelector: { matchLabels: facts.workloads!.scheduler.selectorLabels } }], ['8080/TCP', '15008/TCP']],
      [
        [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
            podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
          },
        ],
        ['53/UDP', '53/TCP'],
      ],
      [[{ ipBlock: { cidr: '172.18.0.2/32' } }], ['6443/TCP']],
    ],
  )
  // No pod selector reaches outside the namespace: an impostor elsewhere matches no rule.
  assert.not.ok(JSON.stringify(policy.spec.egress.slice(0, 2)).includes('namespaceSelector'))
  // With monitoring on, the decision maker's pods declare 9090 first: the manager calls that port too.
  const monitored: Facts = {
    ...facts,
    workloads: { ...facts.workloads!, scheduler: { ...facts.workloads!.scheduler, firstPort: 9090 } },
  }
  assert.equal(
    desiredManagerEgressPolicy(config(), monitored)!.spec.egress[1].ports.map((p: any) => p.port),
    [8080, 9090, 15008],
  )
  // Bound namespace-wide, the manager's own API-server traffic passes the waypoint.
  const wide = desiredManagerEgressPolicy(config('--waypoint-binding', 'namespace'), facts)!
  assert.equal(wide.spec.egress.at(-1), {
    to: [{ podSelector: { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' } } }],
    ports: [{ protocol: 'TCP', port: 15008 }],
  })
  assert.is(desiredManagerEgressPolicy(config('--no-manager-egress-policy'), facts), undefined)
})

test('the waypoint serves the manager Service only by default; the namespace-wide binding is a choice', () => {
  const argv = (flags: string[]) =>
    waypointStep
      .plan({ config: config(...flags), facts })
      .filter((i) => i.kind === 'command')
      .map((i) => (i.kind === 'command' ? i.argv.join(' ') : ''))
  // Every plan names the istioctl it will run: the one --install-dir (default ~/.local/bin) holds.
  const istioctl = istioctlBinary(config(), facts)
  assert.equal(argv([]).slice(1), [
    `${istioctl} waypoint apply -n default --wait --waypoint-timeout=300s`,
    'kubectl label service gthulhu-manager -n default istio.io/use-waypoint=waypoint --overwrite',
  ])
  assert.equal(argv(['--waypoint-binding', 'namespace']).slice(1), [
    `${istioctl} waypoint apply -n default --enroll-namespace --wait --waypoint-timeout=300s`,
    'kubectl label namespace default istio.io/use-waypoint=waypoint --overwrite',
  ])
  const undo = waypointStep.undo!.labels!({ config: config(), facts })
  assert.ok(
    undo.some((l) => l.resource === 'service' && l.name === 'gthulhu-manager' && l.key === 'istio.io/use-waypoint'),
  )
  assert.ok(undo.some((l) => l.resource === 'namespace' && l.key === 'istio.io/use-waypoint'))
})

test("a policy attached to the waypoint admits the manager's callers whatever Service they use", () => {
  const [, , waypoint] = desiredAuthorizationPolicies(config(), facts)
  assert.is(waypoint.metadata.name, 'gthulhu-waypoint-allow-manager-callers')
  assert.equal(waypoint.spec.targetRefs, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'waypoint' }])
  assert.equal(waypoint.spec.rules, [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/gthulhu'] } }] }])
  assert.equal(validateManifest(waypoint), [])
  // Namespace-wide, the manager's own API-server calls pass the waypoint (in namespace default): it is admitted too.
  const [, , wide] = desiredAuthorizationPolicies(config('--waypoint-binding', 'namespace'), facts)
  assert.equal(wide.spec.rules[0].from[0].source.principals, [
    'cluster.local/ns/default/sa/gthulhu',
    'cluster.local/ns/default/sa/gthulhu-manager',
  ])
})

test("principals carry the mesh's trust domain, read from its mesh config", () => {
  const inExampleOrg: Facts = { ...facts, trustDomain: 'example.org' }
  const identity = desiredIdentityPolicies(config(), inExampleOrg)
  assert.equal(
    identity.map((p) => p.spec.rules[0].from[0].source.principals),
    [
      ['example.org/ns/default/sa/waypoint', 'example.org/ns/default/sa/gthulhu-gw-istio'],
      ['example.org/ns/default/sa/gthulhu-manager'],
      ['example.org/ns/default/sa/gthulhu-manager'],
    ],
  )
  const [manager, , waypoint] = desiredAuthorizationPolicies(config('--ingress-via-waypoint'), inExampleOrg)
  assert.equal(manager.spec.rules[0].from[0].source.principals, [
    'example.org/ns/default/sa/gthulhu',
    'example.org/ns/default/sa/gthulhu-gw-istio',
  ])
  assert.equal(waypoint.spec.rules[0].from[0].source.principals, ['example.org/ns/default/sa/gthulhu'])
})

test("ingress passes the waypoint by the Service's label, else by the namespace's", () => {
  assert.is(ingressPassesWaypoint({}, {}), false)
  assert.is(ingressPassesWaypoint({}, { 'istio.io/ingress-use-waypoint': 'true' }), true)
  assert.is(ingressPassesWaypoint({}, { 'istio.io/ingress-use-waypoint': 'True' }), true)
  // A label on the Service decides, whatever the namespace says.
  assert.is(
    ingressPassesWaypoint({ 'istio.io/ingress-use-waypoint': 'false' }, { 'istio.io/ingress-use-waypoint': 'true' }),
    false,
  )
  assert.is(ingressPassesWaypoint({ 'istio.io/ingress-use-waypoint': 'true' }, {}), true)
})

test.run()
