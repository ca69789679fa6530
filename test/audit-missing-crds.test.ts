// An audit of a hardened cluster whose Gateway API CRDs someone deleted: the Gateway and the HTTPRoute are gone
// with them. The audit names that as drift (exit 1); it used to end as "unexpected error (a bug)": kubectl's
// "the server doesn't have a resource type" failed the reads of those objects, and the gateway step's comparison,
// started before its wait and awaited after it, failed with no one listening. It also waits for nothing: an audit
// changed nothing, so it reports what it reads instead of waiting --timeout (300 s by default) for each object to come
// back. Simulated cluster, real CLI and kubectl.
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
  // The default --timeout (300 s): an audit that waited for the CRDs, the Gateway or the waypoint to come back would
  // take it three times over, past this bound (generous for a loaded machine; the audit takes about a second).
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

test.run()
