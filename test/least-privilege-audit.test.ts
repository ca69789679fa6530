// The audit (--verify) as the operator guide's CronJob runs it: a ServiceAccount bound only to what
// `--print-rbac serviceaccount:… --verify` prints. It must hold on a hardened cluster and use every permission granted;
// with one rule taken away, the audit and a run must fail and name the permission. Starts from the prepared hardened
// world (test/fixtures.ts), so only the audits themselves run here.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { rbacObjects, type RoleSet } from '../lib/run/rbac.ts'
import { toYamlStream } from '../lib/kube/cluster.ts'
import { preparedWorld } from './fixtures.ts'
import { show, type RunbookWorld } from './harness.ts'
import { grant, printedRoles, refusals, restrictedUser, unusedGrants } from './least-privilege.ts'

let world: RunbookWorld

test.before(async () => {
  world = await preparedWorld({ cni: 'calico' })
})
test.after(async () => {
  await world?.stop()
})

const AUDITOR = { kind: 'ServiceAccount' as const, namespace: 'gthulhu-audit', name: 'gthulhu-audit' }
const NAMESPACE = { namespace: 'default' }

/** The roles with the rule that lets the runbook patch (and dry-run patch) its NetworkPolicies taken out. */
function withoutNetworkPolicyPatch(set: RoleSet): RoleSet {
  const rules = set.namespaced.find((n) => n.namespace === 'default')!.rules
  const rule = rules.find((r) => r.resources?.includes('networkpolicies') && r.verbs.includes('patch'))
  assert.ok(rule, 'the role lets the runbook patch its NetworkPolicies')
  return {
    ...set,
    namespaced: set.namespaced.map((n) =>
      n.namespace === 'default' ? { ...n, rules: rules.filter((r) => r !== rule) } : n,
    ),
  }
}

test('the audit holds as the CronJob ServiceAccount bound only to --print-rbac --verify, and uses every rule it grants', async () => {
  const auditor = restrictedUser(world, 'system:serviceaccount:gthulhu-audit:gthulhu-audit', [
    'system:serviceaccounts',
    'system:serviceaccounts:gthulhu-audit',
  ])
  // The admission policy lets only the identities it names create probes that wear Gthulhu's labels: the run's own
  // (the cluster admin here) and, as the operator guide's CronJob needs, the audit's.
  const exempted = await world.run(
    [...world.flags, '--yes', '--only', 'admission-policy', '--probe-users', auditor.username],
    { timeoutMs: 300_000 },
  )
  assert.is(exempted.code, 0, show(exempted))
  const { yaml, set } = await printedRoles(world, 'serviceaccount:gthulhu-audit:gthulhu-audit', 'verify')
  await grant(world, yaml)
  const audit = await world.run([...auditor.flags, '--verify'], { env: auditor.env, timeoutMs: 420_000 })
  assert.is(audit.code, 0, `${show(audit)}\nrefused: ${refusals(auditor.decisions).join('\n  ')}`)
  assert.match(audit.stdout, /everything the runbook set up still holds/)
  // An audit writes nothing: no create, update, patch or delete but its probes' and the lock's, and dry runs.
  assert.equal(unusedGrants(set, auditor.decisions), [], 'every permission the audit role grants was used')

  // One rule taken away: the comparison's server-side dry run is refused, and the audit says so instead of "holds".
  await grant(world, toYamlStream(rbacObjects(withoutNetworkPolicyPatch(set), AUDITOR, NAMESPACE)))
  const weakened = await world.run([...auditor.flags, '--verify', '--no-probes'], {
    env: auditor.env,
    timeoutMs: 300_000,
  })
  auditor.stop()
  assert.is(weakened.code, 1, show(weakened))
  assert.match(
    weakened.stdout,
    /networkpolicies\.networking\.k8s\.io "allow-only-manager-to-mongodb" is forbidden: User "system:serviceaccount:gthulhu-audit:gthulhu-audit" cannot patch resource "networkpolicies" in API group "networking\.k8s\.io" in the namespace "default"/,
  )
  assert.not.match(weakened.stdout, /still holds/)
})

test('a run without one rule of --print-rbac fails, naming the permission it lacks', async () => {
  const operator = restrictedUser(world, 'gthulhu-operator')
  const { set } = await printedRoles(world, 'user:gthulhu-operator', 'run')
  const subject = { kind: 'User' as const, name: 'gthulhu-operator' }
  await grant(world, toYamlStream(rbacObjects(withoutNetworkPolicyPatch(set), subject, NAMESPACE)))
  const run = await world.run([...operator.flags, '--yes', '--only', 'l4-policies'], {
    env: operator.env,
    timeoutMs: 300_000,
  })
  operator.stop()
  assert.is(run.code, 1, show(run))
  assert.match(
    run.stdout,
    /User "gthulhu-operator" cannot (get|patch) resource "networkpolicies" in API group "networking\.k8s\.io" in the namespace "default"/,
    show(run),
  )
})

test.run()
