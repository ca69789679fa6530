// The whole --yes run as a user bound only to what `--print-rbac` prints: it must pass, and it must have used every
// permission the roles grant (save those the steps declare as needed only sometimes). The simulated API server
// enforces Kubernetes RBAC for every user but the cluster admin (test/sim/rbac.ts).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { rbacYaml } from '../lib/run/rbac.ts'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { grant, printedRoles, refusals, restrictedUser, unusedGrants } from './least-privilege.ts'

let world: RunbookWorld

test.before(async () => {
  world = await startWorld({ cni: 'calico' })
})
test.after(async () => {
  await world?.stop()
})

test('a fresh --yes run passes as a user bound only to the printed roles, and uses every rule they grant', async () => {
  const operator = restrictedUser(world, 'gthulhu-operator')
  const { yaml, set } = await printedRoles(world, 'user:gthulhu-operator', 'run')
  assert.fixture(
    yaml,
    rbacYaml(set, { kind: 'User', name: 'gthulhu-operator' }, { namespace: 'default', release: 'gthulhu' }),
  )
  // Before the grant the user may do nothing but discovery: the run stops at the record, naming what it lacks.
  const before = await world.run([...operator.flags, '--yes'], { env: operator.env })
  assert.is(before.code, 2, show(before))
  assert.match(
    before.stdout + before.stderr,
    /cannot list resource "secrets" in API group "" in the namespace "default"/,
  )
  await grant(world, yaml)
  operator.decisions.length = 0
  const run = await world.run([...operator.flags, '--yes'], { env: operator.env, timeoutMs: 780_000 })
  operator.stop()
  assert.is(run.code, 0, `${show(run)}\nrefused: ${refusals(operator.decisions).join('\n  ')}`)
  assert.match(run.stdout, /done\s+l7-policies/)
  assert.equal(unusedGrants(set, operator.decisions), [], 'every permission the run role grants was used')
})

test.run()
