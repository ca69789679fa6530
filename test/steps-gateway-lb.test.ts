// The gateway step on a cluster with a cloud load balancer: the Gateway is Programmed with an address, and the
// step proves the manager through that address on the listener port (cloud NodePorts are often firewalled),
// says which path it used and stores it; later steps' gateway checks follow the same URL.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'

let world: RunbookWorld
// A loopback address of its own, so port 80 there is free (binding it needs root, as the tests run).
const LB = '127.0.0.2'

test.before(async () => {
  world = await startWorld({ loadBalancerAddress: LB })
})
test.after(async () => {
  await world?.stop()
})

test('with a load balancer address the step verifies through it on port 80 and records that path', async () => {
  const r = await world.run(
    [...world.flags, '--yes', '-v', '--only', 'preflight,istioctl,gateway-api-crds,ambient,gateway'],
    { timeoutMs: 180_000 },
  )
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /Gateway default\/gthulhu-gw Programmed\s+expected: .*\s+observed: True \(Programmed\)/)
  assert.match(r.stdout, new RegExp(`GET http://${LB.replace(/\./g, '\\.')}/health \\(through the load balancer\\)`))
  assert.match(
    r.stdout,
    new RegExp(`✔ GET http://${LB.replace(/\./g, '\\.')}/health from this machine, through the load balancer`),
  )
  const facts = world.state().facts.gateway!
  assert.is(facts.via, 'load balancer')
  assert.is(facts.url, `http://${LB}/`)
  assert.is(facts.addressAssigned, true)
  assert.match(r.stdout, `Open the Web UI at http://${LB}/`)
  const health = await fetch(`http://${LB}/health`, {
    headers: {
      'user-agent':
        'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    },
    signal: AbortSignal.timeout(5000),
  })
  assert.is(health.status, 200)
})

test.run()
