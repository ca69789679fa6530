// --verify with probes against the widenings of widened-world.ts: the same drifts as under --no-probes, and what the
// probes add — the outsider still refused, but now only by ztunnel; another identity through the open waypoint; the
// admission policy's binding deleted, so each borrowed identity is admitted.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, type RunbookWorld } from './harness.ts'
import { BORROWED_IDENTITY_PATHS, widenedWorld } from './widened-world.ts'

let world: RunbookWorld

test.before(async () => {
  world = await widenedWorld()
})
test.after(async () => {
  await world?.stop()
})

test('with probes: the same drifts; the outsider is now refused only by ztunnel, and the open waypoint is seen open', async () => {
  // -v: an audit prints each step's checks (and the outsider's refusal among them) only when asked.
  const r = await world.run([...world.flags, '--verify', '-v'], { timeoutMs: 300_000 })
  assert.is(r.code, 1, show(r))
  for (const named of [
    /l4-policies: no other NetworkPolicy admits more to MongoDB .*team-allow-all-mongodb/,
    /l4-policies: NetworkPolicy default\/allow-only-manager-to-scheduler applied as planned/,
    /identity-policies: AuthorizationPolicy default\/gthulhu-scheduler-allow-manager applied as planned — .*istio\.io\/dry-run/,
    /l7-policies: .*ALLOW default\/allow-all-manager admits/,
    /identity-policies: .*ALLOW istio-system\/allow-all-to-manager-pods admits/,
    /admission-policy: ValidatingAdmissionPolicyBinding gthulhu-identities\.default applied as planned — .*observed not found/,
  ])
    assert.match(r.stdout, named, show(r))
  // The binding deleted: every insider's attempt to borrow an identity is admitted, and admission is credited nowhere.
  for (const borrowed of BORROWED_IDENTITY_PATHS)
    assert.match(r.stdout, new RegExp(`\n  ${borrowed} \\(.*\\): seen open`), borrowed)
  assert.not.match(r.stdout, /now refused only by [^\n]*admission/)
  assert.match(
    r.stdout,
    /other-pod-to-mongodb \(.*\): now refused only by ztunnel identity policy, not by CNI NetworkPolicy/,
  )
  // Defence in depth, seen: the outsider still gets no answer from MongoDB (ztunnel refuses it).
  assert.match(r.stdout, /✔ other pod \(component=probe\) → MongoDB :27017: refused/)
  // The allow-all policy on the manager Service lets another identity through the waypoint: the probe gets 200.
  assert.match(r.stdout, /other-identity-to-manager-service \(.*\): seen open/)
  assert.equal(await world.probePodsLeft(), [])
})

test.run()
