// The impostor decision maker through the real CLI: a listener labelled app=decisionmaker in a namespace of its
// own receives the manager's requests while the manager's egress is open (--no-manager-egress-policy), and
// nothing once l4-policies applies the egress policy, while the manager's stand-in still reaches its own
// decision maker. The probe's namespace is gone afterwards.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { checkOf, show, startWorld, type RunbookWorld } from './harness.ts'

let world: RunbookWorld

test.before(async () => {
  world = await startWorld({ cni: 'calico' })
})
test.after(async () => {
  await world?.stop()
})

const IMPOSTOR = /impostor decision maker \(app=decisionmaker, another namespace\) → requests from the manager :8080/

async function nothingLeft(): Promise<void> {
  assert.equal(await world.probePodsLeft(), [], 'every probe pod was deleted')
  const namespaces = await world.kubectlJson('get', 'namespaces', '-l', 'app.kubernetes.io/managed-by=gthulhu-runbook')
  assert.equal(
    namespaces.items.map((o: any) => o.metadata.name),
    [],
    "the impostor's namespace was deleted",
  )
}

test("the impostor decision maker receives the manager's requests until the egress policy, then nothing", async () => {
  const open = await world.run(
    [...world.flags, '--yes', '--only', 'preflight,l4-policies', '--no-manager-egress-policy'],
    {
      timeoutMs: 300_000,
    },
  )
  assert.is(open.code, 0, show(open))
  const before = checkOf(open.stdout, IMPOSTOR)
  assert.match(before, /^ {2}⚠ /, before)
  assert.match(before, /observed: answers \[pod gthulhu-probe-impostor-decision-maker-/)
  assert.match(before, /this path is open: left out with --no-manager-egress-policy/)
  assert.match(open.stdout, /manager egress NOT limited|impostor-decision-maker/)
  await nothingLeft()

  // -v: the step passes, so without it the run prints one line, not what it applied and each check.
  const closed = await world.run([...world.flags, '--yes', '-v', '--only', 'l4-policies'], { timeoutMs: 300_000 })
  assert.is(closed.code, 0, show(closed))
  assert.match(closed.stdout, /applied NetworkPolicy gthulhu-manager-egress/, show(closed))
  const after = checkOf(closed.stdout, IMPOSTOR)
  assert.match(after, /^ {2}✔ /, after)
  assert.match(after, /observed: refused \(nothing reached the listener\)/)
  // The manager's stand-in wears its labels, so the egress policy applies to it: it still reaches its own.
  assert.match(checkOf(closed.stdout, /manager \(gthulhu-manager's labels\) → scheduler sidecar :8080/), /^ {2}✔ /)
  assert.match(checkOf(closed.stdout, /manager \(gthulhu-manager's labels\) → MongoDB :27017/), /^ {2}✔ /)
  assert.match(
    closed.stdout,
    /✔ gthulhu-manager-egress admits the API server's current endpoints\s+expected: 127\.0\.0\.1\/32/,
  )
  await nothingLeft()
})

test.run()
