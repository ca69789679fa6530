// The whole runbook against Gthulhu installed as release prod in namespace apps: every name follows the chart's
// fullname rule (<release>-gthulhu unless the release contains "gthulhu"), so the identities are
// prod-gthulhu-manager and prod-gthulhu and MongoDB is prod-mongodb. The real CLI with --yes through real kubectl
// against a simulator seeded with that release.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { STEP_IDS } from '../lib/config/step-ids.ts'

let world: RunbookWorld | undefined
test.after(async () => {
  await world?.stop()
})

const policyPrincipals = async (world: RunbookWorld, ns: string, name: string) =>
  (await world.kubectlJson('get', 'authorizationpolicies.security.istio.io', name, '-n', ns)).spec.rules.flatMap(
    (r: any) => (r.from ?? []).flatMap((f: any) => f.source?.principals ?? []),
  )

test('release prod in namespace apps, monitoring off: a full --yes run passes with principals naming prod-gthulhu-manager', async () => {
  world = await startWorld({ release: 'prod', namespace: 'apps', cni: 'calico', chart: { monitoring: false } })
  // -v: the test reads the reachability grid and passing checks, which an all-green step otherwise keeps to one line.
  const r = await world.run([...world.flags, '--yes', '-v', '--release', 'prod', '--namespace', 'apps'], {
    timeoutMs: 360_000,
  })
  assert.is(r.code, 0, show(r))
  for (const id of STEP_IDS) assert.is(world.state().steps[id]?.status, 'done', `${id}\n${show(r)}`)
  const facts = world.state().facts.workloads!
  assert.equal(
    [facts.manager.name, facts.manager.serviceAccount, facts.scheduler.serviceAccount, facts.mongodb.name],
    ['prod-gthulhu-manager', 'prod-gthulhu-manager', 'prod-gthulhu', 'prod-mongodb'],
  )
  // Only the manager's identity reaches MongoDB and the decision maker; only the scheduler's calls the manager.
  assert.equal(await policyPrincipals(world, 'apps', 'gthulhu-mongodb-allow-manager'), [
    'cluster.local/ns/apps/sa/prod-gthulhu-manager',
  ])
  assert.equal(await policyPrincipals(world, 'apps', 'gthulhu-scheduler-allow-manager'), [
    'cluster.local/ns/apps/sa/prod-gthulhu-manager',
  ])
  assert.equal(await policyPrincipals(world, 'apps', 'manager-allow-scheduler-or-chrome'), [
    'cluster.local/ns/apps/sa/prod-gthulhu',
  ])
  const l7 = await world.kubectlJson(
    'get',
    'authorizationpolicies.security.istio.io',
    'manager-allow-scheduler-or-chrome',
    '-n',
    'apps',
  )
  assert.equal(l7.spec.targetRefs, [{ kind: 'Service', group: '', name: 'prod-gthulhu-manager' }])
  // The probes stand in for prod-gthulhu-manager (its labels and ServiceAccount) and for the scheduler's identity.
  assert.match(
    r.stdout,
    /manager \(prod-gthulhu-manager's labels\) +│ ✔ answers \/ answers +│ ✔ HTTP 200 \/ HTTP 200/,
    show(r),
  )
  assert.match(r.stdout, /ServiceAccount prod-gthulhu +│ — +│ — +│ ✔ HTTP 200 \/ HTTP 200/, show(r))
  assert.match(
    r.stdout,
    /pods of statefulset\/prod-mongodb enrolled .*\s+expected: HBONE for every pod\s+observed: prod-mongodb-0=HBONE/,
    show(r),
  )
  assert.equal(await world.probePodsLeft(), [], 'every probe pod was deleted')
})

test.run()
