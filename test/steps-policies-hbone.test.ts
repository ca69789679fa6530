// A NetworkPolicy without 15008 once the namespace is enrolled in ambient: the manager's traffic arrives over
// HBONE on 15008, so the allow probes time out, and the verification after the restart says why.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'

let world: RunbookWorld

test.before(async () => {
  world = await startWorld({ cni: 'calico' })
})
test.after(async () => {
  await world?.stop()
})

test('a policy that admits the app port but not 15008 fails the L4 matrix under ambient, explaining HBONE', async () => {
  const setup = await world.run([...world.flags, '--yes', '--only', 'preflight,istioctl,gateway-api-crds,ambient,l4-policies,waypoint'], { timeoutMs: 180_000 })
  assert.is(setup.code, 0, show(setup))
  // The operator's own version of the guide's policy, without the HBONE port.
  const patch = JSON.stringify([{ op: 'remove', path: '/spec/ingress/0/ports/1' }])
  const tamper = await kubectl(world.sim.env, ['patch', 'networkpolicy', 'allow-only-manager-to-mongodb', '-n', 'default', '--type=json', '-p', patch])
  assert.is(tamper.code, 0, tamper.stderr)

  const r = await world.run([...world.flags, '--yes', '--only', 'restart'], { timeoutMs: 180_000 })
  assert.is(r.code, 1, show(r))
  assert.match(r.stdout, /manager \(gthulhu-manager's labels\) +│ ✖ connects \/ refused +│ ✔ connects \/ connects/)
  assert.match(r.stdout, /✖ manager \(gthulhu-manager's labels\) → MongoDB :27017: connects\s+expected: connects\s+observed: refused \(connection timed out\)/)
  assert.match(r.stdout, /→ the namespace is enrolled in ambient, so the manager's traffic reaches the MongoDB inside ztunnel's HBONE tunnel on port 15008/)
  assert.match(r.stdout, /NetworkPolicy allow-only-manager-to-mongodb must admit 15008 from the manager/)
  // The scheduler's policy still has 15008, so that column holds.
  assert.match(r.stdout, /✔ manager \(gthulhu-manager's labels\) → scheduler sidecar :8080: connects/)
  assert.is(world.state().steps['restart']?.status, 'failed')
})

test('the waypoint step refuses to turn a Gateway of another class into a waypoint', async () => {
  const foreign = JSON.stringify({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'someone-elses-gw', namespace: 'default' },
    spec: { gatewayClassName: 'istio', listeners: [{ name: 'http', protocol: 'HTTP', port: 8081 }] },
  })
  const created = await kubectl(world.sim.env, ['apply', '-f', '-'], { input: foreign })
  assert.is(created.code, 0, created.stderr)
  const r = await world.run([...world.flags, '--yes', '--only', 'waypoint', '--waypoint-name', 'someone-elses-gw'], { timeoutMs: 60_000 })
  assert.is(r.code, 1, show(r))
  assert.match(r.stdout + r.stderr, /Gateway default\/someone-elses-gw already exists with gatewayClassName istio/)
  const after = await kubectl(world.sim.env, ['get', 'gateway', 'someone-elses-gw', '-n', 'default', '-o', 'jsonpath={.spec.gatewayClassName}'])
  assert.is(after.stdout, 'istio')
})

test.run()
