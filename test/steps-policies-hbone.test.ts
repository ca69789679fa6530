// NetworkPolicies without 15008 once the namespace is enrolled in ambient: the manager's traffic arrives over
// HBONE on 15008 and is dropped. Its own ztunnel has already accepted the connect, so only probes that exchange
// data (MongoDB's hello, an HTTP request) show it; they and the static check on the policies fail, and say why.
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

test('policies that admit the app port but not 15008 fail the restart verification under ambient, explaining HBONE', async () => {
  const setup = await world.run(
    [...world.flags, '--yes', '--only', 'preflight,istioctl,gateway-api-crds,ambient,l4-policies,waypoint'],
    { timeoutMs: 180_000 },
  )
  assert.is(setup.code, 0, show(setup))
  // The operator's own version of the guide's policies, without the HBONE port.
  const patch = JSON.stringify([{ op: 'remove', path: '/spec/ingress/0/ports/1' }])
  for (const name of ['allow-only-manager-to-mongodb', 'allow-only-manager-to-scheduler']) {
    const tamper = await kubectl(world.sim.env, [
      'patch',
      'networkpolicy',
      name,
      '-n',
      'default',
      '--type=json',
      '-p',
      patch,
    ])
    assert.is(tamper.code, 0, tamper.stderr)
  }

  const r = await world.run([...world.flags, '--yes', '--only', 'restart'], { timeoutMs: 180_000 })
  assert.is(r.code, 1, show(r))
  assert.is(world.state().steps['restart']?.status, 'failed')
  // The static checks read the policies: 15008 is missing from both.
  assert.match(
    r.stdout,
    /✖ allow-only-manager-to-scheduler admits the manager on 8080 and on 15008 \(HBONE\)\s+expected: 8080, 15008\s+observed: 8080\s+→ the namespace is enrolled in ambient, so the manager's traffic reaches the scheduler sidecar inside ztunnel's HBONE tunnel on port 15008/,
  )
  assert.match(
    r.stdout,
    /✖ allow-only-manager-to-mongodb admits the manager on 27017 and on 15008 \(HBONE\)\s+expected: 27017, 15008\s+observed: 27017\s+→ .*NetworkPolicy allow-only-manager-to-mongodb must admit 15008 from the manager/,
  )
  // The HTTP probe to the scheduler: the manager's ztunnel accepted, the HBONE leg was dropped, curl saw a reset.
  assert.match(r.stdout, /manager \(gthulhu-manager's labels\) +│ ✖ answers \/ refused +│ ✖ HTTP 200 \/ refused/)
  assert.match(r.stdout, /other pod \(component=probe\) +│ ✔ refused \/ refused +│ ✔ refused \/ refused/)
  assert.match(
    r.stdout,
    /✖ manager \(gthulhu-manager's labels\) → scheduler sidecar :8080: HTTP 200\s+expected: HTTP 200\s+observed: refused \(curl: \(56\) Recv failure: Connection reset by peer\) \[pod gthulhu-probe-manager-to-decision-maker-\w+\]\s+→ the namespace is enrolled in ambient, so the manager's traffic reaches the scheduler sidecar inside ztunnel's HBONE tunnel on port 15008/,
  )
  assert.match(r.stdout, /NetworkPolicy allow-only-manager-to-scheduler must admit 15008 from the manager/)
  // MongoDB's hello gets no answer: the connection the manager's own ztunnel accepted was closed behind it.
  assert.match(
    r.stdout,
    /✖ manager \(gthulhu-manager's labels\) → MongoDB :27017: answers\s+expected: answers\s+observed: refused \(MongoServerSelectionError: connection 1 to [\d.]+:27017 closed\) \[pod [^\]]+\]\s+→ .*NetworkPolicy allow-only-manager-to-mongodb must admit 15008 from the manager/,
  )
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
  const r = await world.run([...world.flags, '--yes', '--only', 'waypoint', '--waypoint-name', 'someone-elses-gw'], {
    timeoutMs: 60_000,
  })
  assert.is(r.code, 1, show(r))
  assert.match(r.stdout + r.stderr, /Gateway default\/someone-elses-gw already exists with gatewayClassName istio/)
  const after = await kubectl(world.sim.env, [
    'get',
    'gateway',
    'someone-elses-gw',
    '-n',
    'default',
    '-o',
    'jsonpath={.spec.gatewayClassName}',
  ])
  assert.is(after.stdout, 'istio')
})

test.run()
