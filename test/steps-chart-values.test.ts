// The whole runbook against Gthulhu installed with other chart values than the default release in `default`:
// release prod in namespace apps (every name then follows the chart's <release>-gthulhu rule, so the identities
// are prod-gthulhu-manager and prod-gthulhu), and the chart with mtls.enabled and monitoring.enabled. Each run is
// the real CLI with --yes through real kubectl against a simulator seeded with those values.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { STEP_IDS } from '../lib/config/step-ids.ts'

const worlds: RunbookWorld[] = []
test.after(async () => {
  await Promise.all(worlds.map((w) => w.stop()))
})

const policyPrincipals = async (world: RunbookWorld, ns: string, name: string) =>
  (await world.kubectlJson('get', 'authorizationpolicies.security.istio.io', name, '-n', ns)).spec.rules.flatMap(
    (r: any) => (r.from ?? []).flatMap((f: any) => f.source?.principals ?? []),
  )

test('release prod in namespace apps, monitoring off: a full --yes run passes with principals naming prod-gthulhu-manager', async () => {
  const world = await startWorld({ release: 'prod', namespace: 'apps', cni: 'calico', chart: { monitoring: false } })
  worlds.push(world)
  const r = await world.run([...world.flags, '--yes', '--release', 'prod', '--namespace', 'apps'], {
    timeoutMs: 300_000,
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

test('the chart with mtls.enabled and monitoring.enabled: a full --yes run passes; probes take the TLS 400 as the answer', async () => {
  const world = await startWorld({ cni: 'calico', chart: { mtls: true, monitoring: true } })
  worlds.push(world)
  const r = await world.run([...world.flags, '--yes'], { timeoutMs: 300_000 })
  assert.is(r.code, 0, show(r))
  for (const id of STEP_IDS) assert.is(world.state().steps[id]?.status, 'done', `${id}\n${show(r)}`)
  assert.is(world.state().facts.workloads?.scheduler.servesTls, true)
  assert.match(r.stdout, /scheduler sidecar :8080 \(mTLS\)/, show(r))
  assert.match(
    r.stdout,
    /manager \(gthulhu-manager's labels\) +│ ✔ answers \/ answers +│ ✔ HTTP 400 \/ HTTP 400/,
    show(r),
  )
  // monitoring.enabled: the scheduler pods also serve monitor-metrics 9090, behind the same identity policy.
  const svc = await world.kubectlJson('get', 'service', 'gthulhu-scheduler-monitor', '-n', 'default')
  assert.equal(
    svc.spec.ports.map((p: any) => `${p.name}:${p.port}`),
    ['monitor-metrics:9090'],
  )
  assert.equal(await world.probePodsLeft(), [], 'every probe pod was deleted')
})

test.run()
