// Audits of a hardened cluster that drifted where nothing will bring it back, on the simulated cluster with the real
// CLI and kubectl. An audit changed nothing, so it reports what it reads instead of waiting --timeout (300 s by
// default) for a state to come back: each test bounds the audit well below one such wait.
// - The Gateway API CRDs deleted (the Gateway and the HTTPRoute go with them): the audit names that as drift (exit 1).
//   It used to end as "unexpected error (a bug)": kubectl's "the server doesn't have a resource type" failed the
//   reads of those objects, and the gateway step's comparison, started before its wait and awaited after it, failed
//   with no one listening.
// - A rollout of the manager that never completes: named as drift at once, without `kubectl rollout status`.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, type RunbookWorld } from './harness.ts'
import { preparedWorld } from './fixtures.ts'
import { kubectl } from './kit.ts'

let world: RunbookWorld

test.before(async () => {
  world = await preparedWorld({ cni: 'calico' })
})
test.after(async () => {
  await world?.stop()
})

test('Gateway API CRDs deleted: the audit names the CRDs and the objects as drift, and does not crash', async () => {
  const crds = ['gateways.gateway.networking.k8s.io', 'httproutes.gateway.networking.k8s.io']
  const deleted = await kubectl(world.sim.env, ['delete', 'crd', ...crds])
  assert.is(deleted.code, 0, deleted.stderr)
  // The default --timeout: an audit that waited for the CRDs, the Gateway or the waypoint would pass this bound.
  const r = await world.run([...world.flags, '--verify', '--no-probes'], { timeoutMs: 120_000 })
  assert.is(r.code, 1, show(r))
  assert.not.match(r.stderr, /unexpected error/, show(r))
  for (const crd of crds)
    assert.match(
      r.stdout,
      new RegExp(`gateway-api-crds: CRD ${crd.replace(/\./g, '\\.')} Established — .*observed not installed`),
    )
  assert.match(r.stdout, /gateway: Gateway default\/gthulhu-gw Accepted — expected True, observed not found/)
  assert.match(
    r.stdout,
    /gateway: HTTPRoute default\/gthulhu-manager-route Accepted by gthulhu-gw — .*observed not found/,
  )
})

test('a rollout that never completes is drift at once: the audit does not wait for it', async () => {
  world.sim.faults.rolloutNeverConverges = ['gthulhu-manager']
  try {
    const restarted = await kubectl(world.sim.env, [
      'rollout',
      'restart',
      'deployment/gthulhu-manager',
      '-n',
      'default',
    ])
    assert.is(restarted.code, 0, restarted.stderr)
    const r = await world.run([...world.flags, '--verify', '--no-probes'], { timeoutMs: 120_000 })
    assert.is(r.code, 1, show(r))
    assert.match(
      r.stdout,
      /restart: rollout of deployment\/gthulhu-manager complete — expected complete, observed deployment "gthulhu-manager" not rolled out \(\d\/1 ready, 0 updated\)/,
    )
  } finally {
    world.sim.faults.rolloutNeverConverges = []
  }
})

test.run()
