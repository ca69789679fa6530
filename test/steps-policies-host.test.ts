// hostNetwork through the real CLI on a two-node simulated cluster: from the node without the manager a
// hostNetwork pod reaches the manager's pod IP until the identity policies refuse its plaintext; from the
// manager's own node it still gets through (said plainly as what stays open); and the identity-policies check
// that --verify repeats names the hostNetwork pods that run on the protected pods' nodes.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { checkOf, show, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'

let world: RunbookWorld
const OTHER_NODE = /hostNetwork pod, another node → manager pod IP :8080/
const SAME_NODE = /hostNetwork pod, the manager's node → manager pod IP :8080/
const HOST_PODS = /hostNetwork pods on the nodes of the manager, MongoDB and the decision makers \(sim-node-1\)/

test.before(async () => {
  world = await startWorld({ cni: 'calico', nodes: 2 })
})
test.after(async () => {
  await world?.stop()
})

test('hostNetwork on another node is open without identity policies, refused with them; the same node stays open', async () => {
  const off = await world.run(
    [
      ...world.flags,
      '--yes',
      '--only',
      'preflight,istioctl,gateway-api-crds,ambient,waypoint,restart,identity-policies',
      '--no-identity-policies',
    ],
    { timeoutMs: 480_000 },
  )
  assert.is(off.code, 0, show(off))
  const before = checkOf(off.stdout, OTHER_NODE)
  assert.match(before, /^ {2}⚠ /, before)
  assert.match(before, /observed: HTTP 200/)
  assert.match(before, /this path is open: left out with --no-identity-policies/)

  // A node agent someone runs with hostNetwork on the manager's node.
  const created = await kubectl(world.sim.env, ['create', 'namespace', 'agents'])
  assert.is(created.code, 0, created.stderr)
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
    '--timeout=30s',
  ])
  assert.is(running.code, 0, running.stderr)

  // -v: the refused path is a passing check, printed only with it (warnings are printed either way).
  const on = await world.run([...world.flags, '--yes', '-v', '--only', 'identity-policies'], { timeoutMs: 300_000 })
  assert.is(on.code, 0, show(on))
  assert.match(
    checkOf(on.stdout, OTHER_NODE),
    /^ {2}✔ [^\n]*\n\s+expected: refused\n\s+observed: refused \(curl: \(56\)/,
  )
  const same = checkOf(on.stdout, SAME_NODE)
  assert.match(same, /^ {2}⚠ /, same)
  assert.match(same, /observed: HTTP 200/)
  assert.match(same, /this path is open: istio-cni's in-pod rule accepts the node's probe source/)
  const named = checkOf(on.stdout, HOST_PODS)
  assert.match(named, /^ {2}⚠ /, named)
  assert.match(named, /agents\/node-agent \(sim-node-1\)/)
  assert.match(named, /istio-system\/istio-cni-node-\w+ \(sim-node-1\)/)
  assert.match(on.stdout, /Pod Security Admission \(baseline\) in the namespaces of agents\/node-agent/)
  assert.equal(await world.probePodsLeft(), [], 'every probe pod was deleted')
})

test.run()
