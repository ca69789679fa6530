// An insider's paths through the real CLI against a two-node simulated cluster: the impostor decision maker
// receives the manager's requests until the manager's egress policy is applied; a hostNetwork pod on another node
// reaches the manager until the identity policies are; a Service someone else binds to the waypoint reaches it
// until the policy on the waypoint is; a hostNetwork pod on the manager's node stays able to, and --verify names
// the hostNetwork pods on the protected nodes. Every probe's Service and namespace is gone afterwards.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'

let world: RunbookWorld
const BEFORE_L4 = 'preflight,istioctl,gateway-api-crds,ambient,gateway'

test.before(async () => {
  world = await startWorld({ cni: 'calico', nodes: 2 })
})
test.after(async () => {
  await world?.stop()
})

/** The check block of one path in a run's output: its line and the expected / observed / hint lines under it. */
function checkOf(stdout: string, name: RegExp): string {
  const lines = stdout.split('\n')
  const at = lines.map((l) => name.test(l)).lastIndexOf(true)
  assert.ok(at >= 0, `no check matching ${name} in:\n${stdout}`)
  return lines.slice(at, at + 4).join('\n')
}
const IMPOSTOR = /impostor decision maker \(app=decisionmaker, another namespace\) → requests from the manager :8080/
const OTHER_NODE = /hostNetwork pod, another node → manager pod IP :8080/
const SAME_NODE = /hostNetwork pod, the manager's node → manager pod IP :8080/
const DEPUTY = /enrolled pod, ServiceAccount default → another Service on the waypoint :8080/
const UNBOUND = /enrolled pod, ServiceAccount default → another Service, unbound :8080/

async function nothingLeft(): Promise<void> {
  assert.equal(await world.probePodsLeft(), [], 'every probe pod was deleted')
  const leftovers = await world.kubectlJson(
    'get',
    'services,namespaces',
    '--all-namespaces',
    '-l',
    'app.kubernetes.io/managed-by=gthulhu-runbook',
  )
  // Namespaces end Terminating on a real cluster; the simulator deletes them at once.
  assert.equal(
    leftovers.items.map((o: any) => `${o.kind}/${o.metadata.name}`),
    [],
    "the probes' Services and namespaces were deleted",
  )
}

test("the impostor decision maker receives the manager's requests until the egress policy, then nothing", async () => {
  const open = await world.run(
    [...world.flags, '--yes', '--only', `${BEFORE_L4},l4-policies,waypoint,restart`, '--no-manager-egress-policy'],
    { timeoutMs: 480_000 },
  )
  assert.is(open.code, 0, show(open))
  const before = checkOf(open.stdout, IMPOSTOR)
  assert.match(before, /^ {2}⚠ /, before)
  assert.match(before, /observed: answers \[pod gthulhu-probe-impostor-decision-maker-/)
  assert.match(before, /this path is open: left out with --no-manager-egress-policy/)
  const applied = await world.run([...world.flags, '--yes', '--only', 'l4-policies'], { timeoutMs: 240_000 })
  assert.is(applied.code, 0, show(applied))
  assert.match(applied.stdout, /applied NetworkPolicy gthulhu-manager-egress/)
  const after = checkOf(applied.stdout, IMPOSTOR)
  assert.match(after, /^ {2}✔ /, after)
  assert.match(after, /observed: refused \(nothing reached the listener\)/)
  // The real decision maker still answers the manager's stand-in, which the egress policy selects too.
  assert.match(
    checkOf(applied.stdout, /manager \(gthulhu-manager's labels\) → scheduler sidecar :8080/),
    /✔ .*HTTP 200/,
  )
  assert.match(
    applied.stdout,
    /✔ gthulhu-manager-egress admits the API server's current endpoints\s+expected: 127\.0\.0\.1\/32/,
  )
  const policy = await world.kubectlJson('get', 'networkpolicy', 'gthulhu-manager-egress', '-n', 'default')
  assert.equal(policy.spec.policyTypes, ['Egress'])
  await nothingLeft()
})

test('hostNetwork on another node is refused once the identity policies are in place; on the same node it is not', async () => {
  const off = await world.run([...world.flags, '--yes', '--only', 'identity-policies', '--no-identity-policies'], {
    timeoutMs: 240_000,
  })
  assert.is(off.code, 0, show(off))
  const before = checkOf(off.stdout, OTHER_NODE)
  assert.match(before, /^ {2}⚠ /, before)
  assert.match(before, /observed: HTTP 200/)
  assert.match(before, /this path is open: left out with --no-identity-policies/)
  const on = await world.run([...world.flags, '--yes', '--only', 'identity-policies'], { timeoutMs: 240_000 })
  assert.is(on.code, 0, show(on))
  assert.match(
    checkOf(on.stdout, OTHER_NODE),
    /^ {2}✔ [^\n]*\n\s+expected: refused\n\s+observed: refused \(curl: \(56\)/,
  )
  // The same node stays open, and says why.
  const same = checkOf(on.stdout, SAME_NODE)
  assert.match(same, /^ {2}⚠ /, same)
  assert.match(same, /observed: HTTP 200/)
  assert.match(same, /this path is open: istio-cni's in-pod rule accepts the node's probe source/)
  // The confused deputy stays open until the l7 step; a Service without the waypoint label never reaches the waypoint.
  assert.match(checkOf(on.stdout, DEPUTY), /observed: HTTP 200[\s\S]*the l7-policies step closes it \(waypoint L7\)/)
  assert.match(checkOf(on.stdout, UNBOUND), /^ {2}✔ [^\n]*\n\s+expected: refused/)
  assert.match(
    on.stdout,
    /hostNetwork pods on the nodes of the manager, MongoDB and the decision makers \(sim-node-1\): these can reach them directly\s+expected: none outside kube-system, istio-system[^\n]*\n\s+observed: istio-system\/istio-cni-node-\w+ \(sim-node-1\), kube-system\/calico-node-\w+ \(sim-node-1\)/,
  )
  await nothingLeft()
})

test('the policy on the waypoint refuses a Service someone else bound to it', async () => {
  const r = await world.run([...world.flags, '--yes', '--only', 'l7-policies'], { timeoutMs: 240_000 })
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /AuthorizationPolicy gthulhu-waypoint-allow-manager-callers/)
  assert.match(checkOf(r.stdout, DEPUTY), /^ {2}✔ [^\n]*\n\s+expected: HTTP 403\n\s+observed: HTTP 403/)
  assert.match(r.stdout, /✔ gthulhu-waypoint-allow-manager-callers attached to the waypoint waypoint/)
  // The ledger at the end of the run: what stays open, and why.
  assert.match(r.stdout, /host-network-same-node/)
  await nothingLeft()
})

test('--verify names a hostNetwork pod outside the system namespaces on a protected node', async () => {
  const create = await kubectl(world.sim.env, ['create', 'namespace', 'agents'])
  assert.is(create.code, 0, create.stderr)
  const agent = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'node-agent', namespace: 'agents' },
    spec: { hostNetwork: true, nodeName: 'sim-node-1', containers: [{ name: 'agent', image: 'example/agent:1' }] },
  }
  const made = await kubectl(world.sim.env, ['apply', '-f', '-'], { input: JSON.stringify(agent) })
  assert.is(made.code, 0, made.stderr)
  const running = await kubectl(world.sim.env, [
    'wait',
    '-n',
    'agents',
    '--for=jsonpath={.status.phase}=Running',
    'pod/node-agent',
    '--timeout=20s',
  ])
  assert.is(running.code, 0, running.stderr)
  const r = await world.run([...world.flags, '--verify'], { timeoutMs: 300_000 })
  assert.is(r.code, 0, show(r))
  const check = checkOf(r.stdout, /hostNetwork pods on the nodes of the manager, MongoDB and the decision makers/)
  assert.match(check, /^ {2}⚠ /, check)
  assert.match(check, /agents\/node-agent \(sim-node-1\)/)
  assert.match(check, /Pod Security Admission \(baseline\) in the namespaces of agents\/node-agent/)
  await nothingLeft()
})

test.run()
