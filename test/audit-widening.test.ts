// --verify against every widening the attack review tried, on the simulated cluster after a full run: an allow-all
// NetworkPolicy beside the runbook's, an extra selector label, `istio.io/dry-run` on an identity policy, allow-all
// AuthorizationPolicies in the namespace (on the manager Service) and in the mesh's root namespace, the admission
// policy's binding deleted. Each is a drift
// (exit 1, named, its diff shown) under --no-probes; the paths they weaken or reopen are named; running the steps again
// repairs their own objects. audit-widening-probes.test.ts audits the same widenings with probes.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, type RunbookWorld } from './harness.ts'
import { ADMISSION_BINDING, BORROWED_IDENTITY_PATHS, events, kubectlOk, widenedWorld } from './widened-world.ts'

let world: RunbookWorld

test.before(async () => {
  world = await widenedWorld()
})
test.after(async () => {
  await world?.stop()
})

test('--no-probes: each widening is a drift event naming it, with its diff, and reachability is said not to be tried', async () => {
  const r = await world.run([...world.flags, '--verify', '--no-probes', '--output', 'json'], { timeoutMs: 240_000 })
  assert.is(r.code, 1, show(r))
  const all = events(r.stdout)
  const drifts = all.filter((e) => e.event === 'drift')
  const drift = (step: string, check: RegExp, observed: RegExp) =>
    assert.ok(
      drifts.some((d) => d.step === step && check.test(d.check) && observed.test(d.observed)),
      `no ${step} drift ${check} observing ${observed} among:\n${drifts.map((d) => `${d.step}: ${d.check} — ${d.observed}`).join('\n')}`,
    )
  drift(
    'l4-policies',
    /no other NetworkPolicy admits more to MongoDB/,
    /NetworkPolicy default\/team-allow-all-mongodb admits every source on every port/,
  )
  drift('l4-policies', /NetworkPolicy default\/allow-only-manager-to-scheduler applied as planned/, /spec\.podSelector/)
  drift(
    'identity-policies',
    /AuthorizationPolicy default\/gthulhu-scheduler-allow-manager applied as planned/,
    /not enforced: istio\.io\/dry-run is "true"/,
  )
  drift(
    'l7-policies',
    /admits more to the manager Service gthulhu-manager/,
    /ALLOW default\/allow-all-manager admits rule 1: every caller/,
  )
  drift(
    'identity-policies',
    /admits more to gthulhu-manager's pods/,
    /ALLOW istio-system\/allow-all-to-manager-pods admits rule 1: every caller/,
  )
  // The binding deleted: the policy refuses nothing, and the insider's attempts (server dry runs, so made even under
  // --no-probes) are admitted.
  drift(
    'admission-policy',
    new RegExp(`ValidatingAdmissionPolicyBinding ${ADMISSION_BINDING} applied as planned`),
    /^not found$/,
  )
  drift('admission-policy', /naming the manager's ServiceAccount → MongoDB via a pod of its own/, /^admitted/)
  const selector = drifts.find((d) => /allow-only-manager-to-scheduler applied/.test(d.check))
  assert.equal(selector.diff, ['- spec.podSelector.matchLabels.tier: "frontend"'])
  const paths = new Map(all.filter((e) => e.event === 'path').map((e) => [e.path, e]))
  assert.equal(paths.get('other-pod-to-mongodb'), {
    ...paths.get('other-pod-to-mongodb'),
    status: 'weakened',
    holding: ['ztunnel identity policy'],
    voided: ['CNI NetworkPolicy'],
  })
  for (const reopened of ['other-pod-to-decision-maker', 'pod-ip-to-manager', 'other-identity-to-manager-service'])
    assert.is(paths.get(reopened)?.status, 'reopened', reopened)
  // Admission no longer counts for anything it closed: not for the borrowed identities (their attempts got through)...
  for (const borrowed of BORROWED_IDENTITY_PATHS)
    assert.equal(
      paths.get(borrowed),
      { ...paths.get(borrowed), status: 'seen open', holding: [], voided: ['admission'] },
      borrowed,
    )
  // ...nor for a Service someone else made for the manager's pods, whose other layer is widened too.
  assert.equal(paths.get('deputy-service-to-manager'), {
    ...paths.get('deputy-service-to-manager'),
    status: 'reopened',
    holding: [],
    voided: ['waypoint L7', 'admission'],
  })
  assert.equal(
    all.find((e) => e.event === 'audit-end'),
    {
      ...all.find((e) => e.event === 'audit-end'),
      probed: false,
      exitCode: 1,
    },
  )
  assert.match(r.stderr, /reachability was NOT tried \(--no-probes\)/)
  assert.not.match(r.stderr, /still holds/)
})

test('running the steps again puts their own objects back, fields others added included; foreign objects stay named', async () => {
  // Running a step again puts its own objects back, fields others added included; a foreign object stays named.
  await kubectlOk(world, ['delete', 'authorizationpolicies.security.istio.io', 'allow-all-manager'])
  await kubectlOk(world, [
    'delete',
    'authorizationpolicies.security.istio.io',
    'allow-all-to-manager-pods',
    '-n',
    'istio-system',
  ])
  const identity = await world.run([...world.flags, '--yes', '--only', 'identity-policies', '--no-probes'], {
    timeoutMs: 240_000,
  })
  assert.is(identity.code, 0, show(identity))
  assert.match(
    identity.stdout,
    /gthulhu-scheduler-allow-manager differs from the plan \(metadata\.annotations\["istio\.io\/dry-run"\]\)/,
  )
  const policy = await world.kubectlJson(
    'get',
    'authorizationpolicies.security.istio.io',
    'gthulhu-scheduler-allow-manager',
  )
  assert.is(policy.metadata.annotations?.['istio.io/dry-run'], undefined)
  const l4 = await world.run([...world.flags, '--yes', '--only', 'l4-policies', '--no-probes'], { timeoutMs: 240_000 })
  assert.is(l4.code, 1, show(l4))
  assert.match(l4.stdout, /allow-only-manager-to-scheduler differs from the plan \(spec\.podSelector/)
  assert.match(l4.stdout, /✖ no other NetworkPolicy admits more to MongoDB/)
  const networkPolicy = await world.kubectlJson('get', 'networkpolicy', 'allow-only-manager-to-scheduler')
  assert.is(networkPolicy.spec.podSelector.matchLabels.tier, undefined)
})

test.run()
