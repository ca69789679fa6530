// What the L7 verification exists to catch, on a fully hardened simulated cluster: an ALLOW policy that locks
// the allowed identity out, and a User-Agent value Istio could never match (refused before anything changes).
// Then each path the L7 and identity policies close, open before its step and refused after: another identity
// through the waypoint, a Service bound to it, curl at the gateway (l7-policies); the pod outside the mesh, the pod
// IP and a Service someone else makes for the manager's pods without the waypoint label — with the default
// Service-scoped binding the waypoint never sees it, so it answers until the identity policies refuse its caller.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Cluster } from '../lib/kube/cluster.ts'
import { loadConfig } from '../lib/config/options.ts'
import type { Check, StepContext, StepIO } from '../lib/types.ts'
import { l7PoliciesStep } from '../steps/11-l7-policies.ts'
import { checkOf, show, type RunbookWorld } from './harness.ts'
import { preparedWorld } from './fixtures.ts'
import { kubectl } from './kit.ts'

let world: RunbookWorld
const kjson = (...args: string[]) => world.kubectlJson(...args)

test.before(async () => {
  // A fully hardened cluster: a full --yes run, saved once and started again here.
  world = await preparedWorld({ cni: 'calico' })
})
test.after(async () => {
  await world?.stop()
})

// The waypoint ORs every ALLOW policy attached to the manager Service and to the waypoint itself (istio 1.29.1
// pilot/pkg/model/policyattachment.go ShouldAttachPolicy), so locking the scheduler out takes both.
const LOCKED_OUT = ['manager-allow-scheduler-or-chrome', 'gthulhu-waypoint-allow-manager-callers']

/**
 * The l7-policies step's verification alone, through real kubectl, as an audit runs it: nothing was just applied, so
 * an answer the gateway should not give is the finding at once, not retried while a policy reaches Envoy.
 */
async function l7VerifyAlone(): Promise<Check[]> {
  Object.assign(process.env, world.sim.env)
  const config = loadConfig([...world.flags, '--yes'], {})
  const cluster = new Cluster({ kubeconfig: world.sim.kubeconfig, context: world.sim.context, timeoutMs: 60_000 })
  const ctx: StepContext = {
    config,
    facts: world.state().facts,
    cluster,
    signal: new AbortController().signal,
    settleMs: 0,
  }
  const logs: string[] = []
  const cleanups: (() => Promise<void>)[] = []
  const io: StepIO = {
    log: (m) => logs.push(m),
    warn: (m) => logs.push(m),
    onCleanup: (c) => void cleanups.push(c),
    confirm: async () => false,
  }
  const checks = await l7PoliciesStep.verify(ctx, io)
  for (const cleanup of cleanups) await cleanup()
  return checks
}

test('ALLOW policies that no longer admit the allowed identity fail verification, and a run restores them', async () => {
  const lockOut = JSON.stringify([
    { op: 'replace', path: '/spec/rules/0/from/0/source/principals', value: ['cluster.local/ns/default/sa/nobody'] },
  ])
  for (const policy of LOCKED_OUT) {
    const tamper = await kubectl(world.sim.env, [
      'patch',
      'authorizationpolicies.security.istio.io',
      policy,
      '-n',
      'default',
      '--type=json',
      '-p',
      lockOut,
    ])
    assert.is(tamper.code, 0, tamper.stderr)
  }

  // Verification alone (as the guided "retry verify" does), through real kubectl against the tampered cluster.
  const checks = await l7VerifyAlone()
  const allowed = checks.find((c) => c.name === 'ServiceAccount gthulhu → manager Service :8080: HTTP 200')!
  assert.ok(allowed, JSON.stringify(checks, null, 2))
  assert.not.ok(allowed.ok)
  assert.match(allowed.observed, /HTTP 403/)
  assert.match(
    allowed.hint!,
    /rejected cluster\.local\/ns\/default\/sa\/gthulhu: an ALLOW policy denies every request none of its rules match/,
  )
  for (const policy of LOCKED_OUT)
    assert.not.ok(checks.find((c) => c.name.includes(`${policy} applied as planned`))?.ok ?? true, policy)
  assert.ok(checks.find((c) => c.name === 'ServiceAccount default → manager Service :8080: HTTP 403')!.ok)
  assert.equal(await world.probePodsLeft(), [])

  const r = await world.run([...world.flags, '--yes', '--only', 'l7-policies'])
  assert.is(r.code, 0, show(r))
  for (const policy of LOCKED_OUT) {
    assert.match(
      r.stdout + r.stderr,
      new RegExp(
        `AuthorizationPolicy default/${policy} differs from the plan \\(spec\\.rules[^)]*\\); applying the planned`,
      ),
    )
    const restored = await kjson('get', 'authorizationpolicies.security.istio.io', policy, '-n', 'default')
    assert.equal(restored.spec.rules[0].from[0].source.principals, ['cluster.local/ns/default/sa/gthulhu'], policy)
  }
})

test('an inner "*" in a User-Agent value is refused before anything is applied', async () => {
  const dry = await world.run([
    ...world.flags,
    '--dry-run',
    '--only',
    'l7-policies',
    '--allowed-user-agents',
    'Mozilla/5.0 * Chrome/*',
  ])
  assert.is(dry.code, 2, show(dry))
  assert.match(dry.stderr, /"Mozilla\/5\.0 \* Chrome\/\*": Istio treats a "\*" that is not the first or last character/)
  const r = await world.run([
    ...world.flags,
    '--yes',
    '--only',
    'l7-policies',
    '--allowed-user-agents',
    'Mozilla/5.0 * Chrome/*',
  ])
  assert.is.not(r.code, 0, show(r))
  assert.match(r.stdout + r.stderr, /use an exact value, a prefix "abc\*", a suffix "\*abc", or "\*"/)
  const gateway = await kjson(
    'get',
    'authorizationpolicies.security.istio.io',
    'gthulhu-gateway-allow-chrome-only',
    '-n',
    'default',
  )
  assert.equal(
    gateway.spec.rules[0].when[0].values,
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/*'],
    'the live policy is untouched',
  )
})

test('--ingress-via-waypoint labels the manager Service and admits the gateway identity; browsers still get 200', async () => {
  const r = await world.run([...world.flags, '--yes', '-v', '--only', 'l7-policies', '--ingress-via-waypoint'])
  assert.is(r.code, 0, show(r))
  assert.match(
    r.stdout,
    /ingress passes the manager's waypoint \(Service labelled istio\.io\/ingress-use-waypoint=true\)/,
  )
  assert.match(r.stdout, /✔ gateway http:\/\/127\.0\.0\.1:\d+\/health with an allowed User-Agent .*: HTTP 200/)
  const svc = await kjson('get', 'service', 'gthulhu-manager', '-n', 'default')
  assert.is(svc.metadata.labels['istio.io/ingress-use-waypoint'], 'true')
  const manager = await kjson(
    'get',
    'authorizationpolicies.security.istio.io',
    'manager-allow-scheduler-or-chrome',
    '-n',
    'default',
  )
  assert.equal(manager.spec.rules[0].from[0].source.principals, [
    'cluster.local/ns/default/sa/gthulhu',
    'cluster.local/ns/default/sa/gthulhu-gw-istio',
  ])
  // Back to the default: the label goes, and so does the gateway's identity.
  const back = await world.run([...world.flags, '--yes', '-v', '--only', 'l7-policies'])
  assert.is(back.code, 0, show(back))
  assert.match(back.stdout, /ingress skips the manager's waypoint/)
  const after = await kjson('get', 'service', 'gthulhu-manager', '-n', 'default')
  assert.is(after.metadata.labels?.['istio.io/ingress-use-waypoint'], undefined)
})

const UNBOUND = /enrolled pod, ServiceAccount default → another Service, unbound :8080/
/** The other paths around the waypoint that only the identity policies close, tried at l7-policies too. */
const BYPASSES = [
  /pod outside the mesh → manager Service :8080/,
  /enrolled pod, ServiceAccount default → manager pod IP :8080/,
]

/** The paths only the L7 policies refuse: another identity through the waypoint, a deputy Service, curl at the gateway. */
const L7_ONLY = [
  /^ServiceAccount default → manager Service :8080: HTTP 403$/,
  /^enrolled pod, ServiceAccount default → another Service on the waypoint :8080: HTTP 403$/,
  /^gateway http:\/\/127\.0\.0\.1:\d+\/health with curl's default User-Agent \(curl\/8\.11\.1\): HTTP 403$/,
]

test('before l7-policies and identity-policies each path they close answers; after each, it is refused', async () => {
  // Taken back, the identity policies leave only admission in front of the unbound Service, and the runbook's probe
  // is exempt there: what it meets is what an insider's Service would meet if admission let it be made.
  for (const step of ['identity-policies', 'l7-policies']) {
    const back = await world.run([...world.flags, '--yes', '--rollback', step], { timeoutMs: 300_000 })
    assert.is(back.code, 0, show(back))
  }
  // The L7 policies' paths, tried with no L7 policy in place: each answers (its check fails, the answer observed).
  const without = await l7VerifyAlone()
  for (const name of L7_ONLY) {
    const check = without.find((c) => name.test(c.name))
    assert.ok(check, `${name} in ${JSON.stringify(without, null, 2)}`)
    assert.not.ok(check!.ok, check!.name)
    assert.match(check!.observed, /HTTP 200/, check!.name)
  }
  assert.equal(await world.probePodsLeft(), [])
  // l7-policies applies them and tries the unbound Service too: with identity-policies not in effect, the manager
  // answers the probe's Service.
  const open = await world.run([...world.flags, '--yes', '-v', '--only', 'l7-policies'], { timeoutMs: 300_000 })
  assert.is(open.code, 0, show(open))
  for (const name of L7_ONLY) {
    const line = new RegExp(`^ {2}✔ ${name.source.slice(1, -1)}\\n\\s+expected: HTTP 403\\n\\s+observed: HTTP 403`, 'm')
    assert.match(open.stdout, line)
  }
  const before = checkOf(open.stdout, UNBOUND)
  assert.match(before, /^ {2}⚠ [^\n]*\n\s+expected: refused\n\s+observed: HTTP 200/, before)
  assert.match(
    before,
    /→ this path is open: identity-policies has not been applied; the identity-policies step closes it \(ztunnel identity policy\)\. Admission still refuses an insider's own object for this path; the runbook's probe is exempt there/,
  )
  // So are the other bypasses of the waypoint.
  for (const bypass of BYPASSES)
    assert.match(
      checkOf(open.stdout, bypass),
      /^ {2}⚠ [^\n]*\n\s+expected: refused\n\s+observed: HTTP 200[^\n]*\n\s+→ this path is open: identity-policies has not been applied; the identity-policies step closes it \(ztunnel identity policy\)$/,
      checkOf(open.stdout, bypass),
    )
  // The ledger the run ends with says which step closes them.
  assert.match(
    open.stdout,
    /○ open {3}outside-mesh-to-manager: a pod outside the mesh → manager\n {6}why: identity-policies has not been applied/,
  )
  // The Service a probe made carries the probe label and is gone with its probe.
  assert.equal(await world.probePodsLeft(), [])
  const services = await kjson('get', 'services', '-n', 'default')
  assert.equal(
    services.items.map((s: any) => s.metadata.name).filter((n: string) => n.startsWith('gthulhu-probe-')),
    [],
  )

  const closed = await world.run([...world.flags, '--yes', '-v', '--only', 'identity-policies'], {
    timeoutMs: 300_000,
  })
  assert.is(closed.code, 0, show(closed))
  assert.match(
    checkOf(closed.stdout, UNBOUND),
    /^ {2}✔ [^\n]*\n\s+expected: refused\n\s+observed: refused/,
    checkOf(closed.stdout, UNBOUND),
  )
  for (const bypass of BYPASSES)
    assert.match(checkOf(closed.stdout, bypass), /^ {2}✔ [^\n]*\n\s+expected: refused\n\s+observed: refused/)
  assert.match(
    closed.stdout,
    /Closed and tried: [^\n]*outside-mesh-to-manager, pod-ip-to-manager[^\n]*unbound-service-to-manager/,
  )
  assert.equal(await world.probePodsLeft(), [])
})

test.run()
