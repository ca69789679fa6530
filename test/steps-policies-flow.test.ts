// The hardening steps (l4-policies, waypoint, restart, identity-policies, l7-policies) after issue 4's steps, against
// the simulated cluster through the real CLI and real kubectl: a full run of every step, then a second run
// that changes nothing but still proves everything.
import { spawn } from 'node:child_process'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { checkOf, show, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'

let world: RunbookWorld
const OURS = ['l4-policies', 'waypoint', 'restart', 'identity-policies', 'l7-policies'] as const
const kjson = (...args: string[]) => world.kubectlJson(...args)

test.before(async () => {
  world = await startWorld({ cni: 'calico' })
})
test.after(async () => {
  await world?.stop()
})

/** Every pod named as a serving address of a Service while `during` runs, seen through a real `kubectl get -w`. */
async function servingAddresses(service: string, during: () => Promise<void>): Promise<string[]> {
  const watch = spawn(
    'kubectl',
    [
      'get',
      'endpoints',
      service,
      '-n',
      'default',
      '-w',
      '-o',
      'jsonpath={range .subsets[*].addresses[*]}{.targetRef.name}{"\\n"}{end}',
    ],
    {
      env: { ...process.env, ...world.sim.env },
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  )
  let seen = ''
  watch.stdout.on('data', (chunk) => (seen += chunk))
  try {
    await during()
  } finally {
    watch.kill('SIGTERM')
  }
  return [...new Set(seen.split('\n').filter(Boolean))]
}

test('every step runs to the end, proves every policy with probes, refuses every bypass, and prints the Web UI URL', async () => {
  let r!: Awaited<ReturnType<RunbookWorld['run']>>
  const serving = await servingAddresses('gthulhu-manager', async () => {
    r = await world.run([...world.flags, '--yes', '-v'], { timeoutMs: 420_000 })
  })
  assert.is(r.code, 0, show(r))
  // Probes that wear the manager's labels match its Service, yet never serve it: their readiness gate is never met.
  assert.ok(
    serving.some((name) => name.startsWith('gthulhu-manager-')),
    `the watch saw the manager itself: ${serving}`,
  )
  assert.equal(
    serving.filter((name) => name.startsWith('gthulhu-probe-')),
    [],
    'no probe pod ever served the manager Service',
  )
  for (const id of OURS) assert.is(world.state().steps[id]?.status, 'done', id)
  // The L4 matrix, before enrolment (l4-policies) and after it (restart).
  assert.match(r.stdout, /Who reaches what \(namespace not yet enrolled in ambient\)/)
  assert.match(r.stdout, /Who reaches what \(namespace enrolled in ambient\)/)
  assert.match(r.stdout, /source ↓ {2}destination → +│ MongoDB :27017 +│ scheduler sidecar :8080/)
  // MongoDB's hello answered and an HTTP 200 from the decision maker: only an answer proves the far side.
  assert.match(r.stdout, /manager \(gthulhu-manager's labels\) +│ ✔ answers \/ answers +│ ✔ HTTP 200 \/ HTTP 200/)
  assert.match(r.stdout, /other pod \(component=probe\) +│ ✔ refused \/ refused +│ ✔ refused \/ refused/)
  assert.match(r.stdout, /ServiceAccount gthulhu +│ ✔ HTTP 200 \/ HTTP 200/)
  assert.match(r.stdout, /ServiceAccount default +│ ✔ HTTP 403 \/ HTTP 403/)
  assert.match(r.stdout, /✔ gateway http:\/\/127\.0\.0\.1:\d+\/health with an allowed User-Agent .*: HTTP 200/)
  assert.match(
    r.stdout,
    /✔ gateway http:\/\/127\.0\.0\.1:\d+\/health with curl's default User-Agent \(curl\/8\.11\.1\): HTTP 403/,
  )
  // Every bypass of the waypoint is refused by the identity policies; the legitimate callers still get through.
  assert.match(r.stdout, /ServiceAccount gthulhu +│ — +│ — +│ ✔ HTTP 200 \/ HTTP 200/)
  assert.match(r.stdout, /pod outside the mesh +│ — +│ — +│ ✔ refused \/ refused/)
  assert.match(r.stdout, /enrolled pod, ServiceAccount default +│ — +│ — +│ — +│ ✔ refused \/ refused/)
  assert.match(r.stdout, /manager's labels, ServiceAccount default +│ ✔ refused \/ refused +│ ✔ refused \/ refused/)
  assert.match(
    r.stdout,
    /pods of statefulset\/gthulhu-mongodb enrolled \(HBONE in istioctl ztunnel-config workloads\)\s+expected: HBONE for every pod\s+observed: gthulhu-mongodb-0=HBONE/,
  )
  assert.match(r.stdout, /ingress skips the manager's waypoint/)
  // An insider's paths: the impostor decision maker hears nothing (l4-policies, and again enrolled at restart);
  // a Service someone else binds to the waypoint is open until l7-policies attaches a policy to the waypoint;
  // one without the label never reaches the waypoint; hostNetwork on the manager's node stays open, and says so.
  const impostor = /impostor decision maker \(app=decisionmaker, another namespace\) → requests from the manager :8080/
  assert.match(
    r.stdout,
    /impostor decision maker \(app=decisionmaker, another namespace\) +│ — +│ — +│ ✔ refused \/ refused/,
  )
  assert.match(checkOf(r.stdout, impostor), /observed: refused \(nothing reached the listener\)/)
  const deputy = /enrolled pod, ServiceAccount default → another Service on the waypoint :8080/
  assert.match(
    r.stdout,
    /⚠ enrolled pod, ServiceAccount default → another Service on the waypoint :8080: HTTP 403\s+expected: HTTP 403\s+observed: HTTP 200[^\n]*\n\s+→ this path is open: l7-policies has not been applied/,
  )
  assert.match(checkOf(r.stdout, deputy), /^ {2}✔ [^\n]*\n\s+expected: HTTP 403\n\s+observed: HTTP 403/)
  assert.match(checkOf(r.stdout, /another Service, unbound :8080/), /^ {2}✔ [^\n]*\n\s+expected: refused/)
  assert.match(
    checkOf(r.stdout, /hostNetwork pod, the manager's node → manager pod IP :8080/),
    /^ {2}⚠ [\s\S]*observed: HTTP 200/,
  )
  // The run ends with the ledger: hostNetwork on the same node is open, the insider paths above are closed.
  assert.match(
    r.stdout,
    /○ open {3}host-network-same-node: a hostNetwork pod \(or a node process\) on the manager's node → manager/,
  )
  assert.match(
    r.stdout,
    /Closed and tried: [^\n]*deputy-service-to-manager[^\n]*impostor-decision-maker[^\n]*host-network-other-node/,
  )
  // One node: no hostNetwork pod can come from another, so that path is no gap here.
  assert.match(
    r.stdout,
    /✔ a hostNetwork pod \(or a node process\) on another node → manager via [^\n]*\n\s+expected: refused\n\s+observed: not tried: every node that takes pods runs a manager pod \(sim-node-1\)/,
  )
  assert.match(r.stdout, /Open the Web UI at http:\/\/127\.0\.0\.1:\d+\//)
  // The run ends with the threat model's ledger: what stays open, why and what would close it; what is closed.
  assert.match(r.stdout, /What stays open \(docs\/threat-model\.md has the whole model\):/)
  assert.match(
    r.stdout,
    /○ open {3}impostor-decision-maker-by-pod: someone who may create pods in another namespace, labelled app=decisionmaker → decision maker\n {6}why: the cluster-wide decision-maker guard is off/,
  )
  assert.match(r.stdout, /◐ partly curl-user-agent-to-gateway:/)
  assert.match(
    r.stdout,
    /Closed and tried: other-pod-to-mongodb, other-pod-to-decision-maker, outside-mesh-to-manager, pod-ip-to-manager/,
  )
  // The admission layer closes the borrowed identities.
  assert.match(
    r.stdout,
    /Closed and tried: .*borrowed-identity-by-pod, borrowed-identity-by-deployment, borrowed-identity-by-cronjob/,
  )

  const policy = await kjson('get', 'networkpolicy', 'allow-only-manager-to-mongodb', '-n', 'default')
  assert.equal(
    policy.spec.ingress[0].ports.map((p: any) => p.port),
    [27017, 15008],
  )
  assert.is(policy.spec.ingress[1].from[0].ipBlock.cidr, '169.254.7.127/32')
  const ns = await kjson('get', 'namespace', 'default')
  assert.is(ns.metadata.labels['istio.io/dataplane-mode'], 'ambient')
  // Only the manager Service uses the waypoint: a Service someone else creates in the namespace does not.
  assert.is(ns.metadata.labels['istio.io/use-waypoint'], undefined)
  const managerSvc = await kjson('get', 'service', 'gthulhu-manager', '-n', 'default')
  assert.is(managerSvc.metadata.labels['istio.io/use-waypoint'], 'waypoint')
  const manager = await kjson(
    'get',
    'authorizationpolicies.security.istio.io',
    'manager-allow-scheduler-or-chrome',
    '-n',
    'default',
  )
  assert.equal(manager.spec.rules[0].from[0].source.principals, ['cluster.local/ns/default/sa/gthulhu'])
  const mongo = await kjson('get', 'statefulset', 'gthulhu-mongodb', '-n', 'default')
  assert.ok(mongo.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt'], 'MongoDB was restarted')
  assert.equal(await world.probePodsLeft(), [], 'every probe pod was deleted')
})

test('a second run of the four steps changes nothing and still verifies against the cluster', async () => {
  const before = await kjson('get', 'statefulset', 'gthulhu-mongodb', '-n', 'default')
  const r = await world.run([...world.flags, '--yes', '-v', '--only', `preflight,${OURS.join(',')}`], {
    timeoutMs: 300_000,
  })
  assert.is(r.code, 0, show(r))
  const state = world.state()
  assert.match(state.steps['l4-policies']!.note ?? '', /already applied as planned/)
  assert.match(state.steps['waypoint']!.note ?? '', /already|is enrolled and uses the programmed waypoint/)
  assert.match(state.steps['restart']!.note ?? '', /restarted by this runbook at .*every pod is enrolled/)
  assert.match(state.steps['identity-policies']!.note ?? '', /already applied as planned/)
  assert.match(state.steps['l7-policies']!.note ?? '', /already as planned/)
  for (const id of OURS)
    assert.ok(
      (state.steps[id]!.checks ?? []).length >= 4 && state.steps[id]!.checks!.every((c) => c.ok || c.advisory),
      id,
    )
  // The probes ran again: verification is not skipped on a no-op.
  assert.match(r.stdout, /started \d+ probe pod\(s\)/)
  const after = await kjson('get', 'statefulset', 'gthulhu-mongodb', '-n', 'default')
  assert.is(after.metadata.generation, before.metadata.generation, 'no second restart')
  assert.equal(await world.probePodsLeft(), [])
})

test('a repair run after the waypoint was deleted (the manager Service kept its label) recreates it', async () => {
  const deleted = await kubectl(world.sim.env, [
    'delete',
    'gateways.gateway.networking.k8s.io',
    'waypoint',
    '-n',
    'default',
  ])
  assert.is(deleted.code, 0, deleted.stderr)
  const r = await world.run([...world.flags, '--yes', '-v', '--only', 'waypoint'], { timeoutMs: 120_000 })
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /waypoint default\/waypoint applied/)
  const gw = await kjson('get', 'gateways.gateway.networking.k8s.io', 'waypoint', '-n', 'default')
  assert.ok(gw.status.conditions.some((c: any) => c.type === 'Programmed' && c.status === 'True'))
})

test("the run's --timeout reaches istioctl's own waits", async () => {
  const r = await world.run([...world.flags, '--dry-run', '--timeout', '45', '--only', 'ambient,waypoint'])
  assert.is(r.code, 0, show(r))
  assert.match(
    r.stdout,
    /istioctl --kubeconfig \S+ --context \S+ install --set profile=ambient -y --readiness-timeout=45s/,
  )
  assert.match(
    r.stdout,
    /istioctl --kubeconfig \S+ --context \S+ waypoint apply -n default --wait --waypoint-timeout=45s/,
  )
})

test.run()
