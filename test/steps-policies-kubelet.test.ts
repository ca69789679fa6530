// The kubelet-probe trap: with --no-allow-kubelet-probes the L4 policies do not admit ambient's probe source
// 169.254.7.127, so on Cilium (which polices the rewritten host probes, istio/istio#49277) MongoDB and the decision
// maker turn unready once enrolled; the restart step names it. Calico never polices host → local pod traffic, so
// there the same run passes.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'

let world: RunbookWorld

test.before(async () => {
  world = await startWorld({ cni: 'cilium' })
})
test.after(async () => {
  await world?.stop()
})

test('pods unready after the restart are named as the kubelet-probe trap', async () => {
  const r = await world.run(
    [
      ...world.flags,
      '--yes',
      '--no-allow-kubelet-probes',
      '--timeout',
      '6',
      '--only',
      'preflight,istioctl,gateway-api-crds,ambient,l4-policies,waypoint,restart',
    ],
    { timeoutMs: 360_000 },
  )
  assert.is(r.code, 1, show(r))
  const state = world.state()
  // The operator's choice is only a warning in l4-policies: before enrolment nothing is broken yet.
  assert.is(state.steps['l4-policies']?.status, 'done', show(r))
  assert.match(
    r.stdout,
    /⚠ allow-only-manager-to-mongodb admits ambient's kubelet probes \(169\.254\.7\.127\/32\) on 27017/,
  )
  assert.is(state.steps['restart']?.status, 'failed')
  // On a mismatch, show what the step said instead.
  assert.match(state.steps['restart']!.error!, /rollout did not complete within 6s/, show(r))
  assert.match(
    state.steps['restart']!.error!,
    /statefulset\/gthulhu-mongodb: gthulhu-mongodb-0 not Ready after ambient enrolment — the kubelet-probe trap/,
  )
  assert.match(state.steps['restart']!.error!, /NetworkPolicy allow-only-manager-to-mongodb does not admit that source/)
  assert.match(state.steps['restart']!.error!, /run l4-policies again without --no-allow-kubelet-probes/)
  assert.match(state.steps['restart']!.error!, /daemonset\/gthulhu-scheduler: .*kubelet-probe trap/)
})

test.run()
