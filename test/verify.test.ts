// --verify on the simulated cluster: after a full run it exits 0 and changes nothing; a policy loosened, a
// label removed or a policy deleted makes it exit 1 and name that drift, in text and as JSON events (and the paths
// a deleted identity policy reopened are seen answering, then refused once its step runs again);
// --no-probes audits the objects alone without creating a pod.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { checkOf, show, type RunbookWorld } from './harness.ts'
import { preparedWorld } from './fixtures.ts'
import { kubectl } from './kit.ts'
import { STEP_IDS } from '../lib/types.ts'

let world: RunbookWorld
/** An audit runs every step's checks and probes at once: on a busy machine that takes minutes. */
const AUDIT_MS = 300_000
const SAME_NODE = /hostNetwork pod, the manager's node → manager pod IP :8080/
/** copied-labels-to-mongodb and copied-labels-to-decision-maker: the manager's labels with another identity. */
const COPIED_LABELS = [
  /manager's labels, ServiceAccount default → MongoDB :27017/,
  /manager's labels, ServiceAccount default → scheduler sidecar :8080/,
]
const events = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))

async function kubectlOk(...args: string[]): Promise<void> {
  const r = await kubectl(world.sim.env, args)
  assert.is(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`)
}

test.before(async () => {
  // A cluster the runbook has hardened (a full --yes run, saved once and started again here).
  world = await preparedWorld({ cni: 'calico' })
})
test.after(async () => {
  await world?.stop()
})

test("--verify after an untouched run exits 0, runs every done step's checks and changes nothing", async () => {
  const stateBefore = world.state()
  const generation = (await world.kubectlJson('get', 'statefulset', 'gthulhu-mongodb', '-n', 'default')).metadata
    .generation
  // No --yes: an audit asks nothing; a scheduled job only names the context.
  const r = await world.run([...world.flags, '--verify', '-v'], { timeoutMs: AUDIT_MS })
  assert.is(r.code, 0, show(r))
  assert.ok(r.stdout.includes(`auditing ${STEP_IDS.join(', ')}`), 'every done step is audited')
  assert.match(r.stdout, /✔ everything the runbook set up still holds/)
  assert.match(r.stdout, /✔ other pod \(component=probe\) → MongoDB :27017: refused/)
  // The gateway's requests reach it (the restored world's Service has another NodePort than the world it was saved from).
  assert.match(r.stdout, /✔ gateway http:\/\/127\.0\.0\.1:\d+\/health with curl's default User-Agent [^\n]*: HTTP 403/)
  // hostNetwork on the manager's node stays open by design: expected to answer, said so with what would close it,
  // and neither a drift nor a path this audit found weaker.
  const sameNode = checkOf(r.stdout, SAME_NODE)
  assert.match(sameNode, /^ {2}⚠ [^\n]*: answers\n\s+expected: answers\n\s+observed: HTTP 200/, sameNode)
  assert.match(
    sameNode,
    /this path is open: istio-cni's in-pod rule [^\n]*; what would close it: keeping hostNetwork pods off/,
  )
  assert.match(r.stdout, /hostNetwork pod, the manager's node +│[^\n]*⚠ answers \/ HTTP 200/)
  assert.not.match(r.stdout, /Attack paths this leaves weaker/)
  assert.match(
    r.stdout,
    /Attack paths: \d+ of \d+ closed, (\d+) open \(\1 open by design, by choice or until their step runs/,
  )
  assert.is(
    (await world.kubectlJson('get', 'statefulset', 'gthulhu-mongodb', '-n', 'default')).metadata.generation,
    generation,
    'nothing restarted',
  )
  assert.equal(world.state().steps, stateBefore.steps, 'the state file is not rewritten by an audit')
  assert.equal(await world.probePodsLeft(), [])
})

// One --no-probes audit serves both: it is run after the gateway's Service was made again.
test("--verify --no-probes creates no pod and reports the probe checks as skipped; after the gateway's Service was made again with another NodePort, the audit's requests go to the new one", async () => {
  const nodePort = async () =>
    (await world.kubectlJson('get', 'service', 'gthulhu-gw-istio', '-n', 'default')).spec.ports.find(
      (p: any) => p.port === 80,
    ).nodePort as number
  const before = await nodePort()
  await kubectlOk('delete', 'service', 'gthulhu-gw-istio', '-n', 'default')
  // Istio's gateway controller makes it again for the Gateway, with a NodePort of its own.
  await kubectlOk('wait', '--for=create', 'service/gthulhu-gw-istio', '-n', 'default', '--timeout=300s')
  const after = await nodePort()
  assert.is.not(after, before, 'the new Service has another NodePort (else this proves nothing)')
  const r = await world.run([...world.flags, '--verify', '--no-probes', '--output', 'json'], { timeoutMs: AUDIT_MS })
  assert.is(r.code, 0, show(r))
  const all = events(r.stdout)
  assert.not.ok(/started \d+ probe pod/.test(r.stderr), 'no probe pod started')
  const skipped = all.filter((e) => e.event === 'check' && e.observed === 'not probed (--no-probes)')
  assert.ok(skipped.length >= 6, `probe checks skipped: ${skipped.length}`)
  assert.ok(
    skipped.every((e) => e.advisory),
    'a skipped probe is advisory, not a drift',
  )
  assert.equal(all.at(-1), { ...all.at(-1), event: 'run-end', status: 'done', exitCode: 0 })
  // The gateway step's own GET, and the policy steps' requests with an allowed and with curl's User-Agent.
  const throughGateway = all.filter((e) => e.event === 'check' && /http:\/\/127\.0\.0\.1:/.test(e.name))
  assert.ok(throughGateway.length >= 4, show(r))
  for (const check of throughGateway) {
    assert.ok(check.name.includes(`http://127.0.0.1:${after}/health`), check.name)
    assert.ok(check.ok, `${check.name}: ${check.observed}`)
  }
  assert.not.ok(r.stdout.includes(`:${before}/`), `nothing went to the old NodePort ${before}`)
})

test('a loosened NetworkPolicy is named as drift; the identity policy behind it still refuses the outsider', async () => {
  const patch = JSON.stringify([{ op: 'replace', path: '/spec/ingress/0/from/0/podSelector', value: {} }])
  await kubectlOk(
    'patch',
    'networkpolicy',
    'allow-only-manager-to-mongodb',
    '-n',
    'default',
    '--type',
    'json',
    '-p',
    patch,
  )
  const r = await world.run([...world.flags, '--verify', '-v'], { timeoutMs: AUDIT_MS })
  assert.is(r.code, 1, show(r))
  assert.match(
    r.stdout,
    /drift\(s\):[\s\S]*l4-policies: NetworkPolicy default\/allow-only-manager-to-mongodb applied as planned/,
  )
  // Defence in depth: the NetworkPolicy now admits every pod, but MongoDB's ztunnel still refuses a caller without the manager's identity.
  assert.match(r.stdout, /✔ other pod \(component=probe\) → MongoDB :27017: refused/)
  const repair = await world.run([...world.flags, '--yes', '--only', 'l4-policies'], { timeoutMs: AUDIT_MS })
  assert.is(repair.code, 0, show(repair))
})

test('deleted identity policies are named, and so are the bypasses they reopened; a run closes them again', async () => {
  // Both backends' policies: a pod wearing the manager's labels is then seen answered by each, before the step that
  // closes it runs again (and refused after).
  for (const policy of ['gthulhu-mongodb-allow-manager', 'gthulhu-scheduler-allow-manager'])
    await kubectlOk('delete', 'authorizationpolicies.security.istio.io', policy, '-n', 'default')
  const r = await world.run([...world.flags, '--verify'], { timeoutMs: AUDIT_MS })
  assert.is(r.code, 1, show(r))
  for (const policy of ['gthulhu-mongodb-allow-manager', 'gthulhu-scheduler-allow-manager'])
    assert.match(r.stdout, new RegExp(`identity-policies: AuthorizationPolicy default/${policy} applied as planned`))
  // The NetworkPolicies admit a pod wearing the manager's labels; only the identity policies refused it.
  for (const copied of COPIED_LABELS)
    assert.match(
      r.stdout,
      new RegExp(
        `identity-policies: ${copied.source}[^\\n]*: refused — expected refused, observed (answers|HTTP \\d+)`,
      ),
    )
  const repair = await world.run([...world.flags, '--yes', '-v', '--only', 'identity-policies'], {
    timeoutMs: AUDIT_MS,
  })
  assert.is(repair.code, 0, show(repair))
  for (const copied of COPIED_LABELS)
    assert.match(checkOf(repair.stdout, copied), /^ {2}✔ [^\n]*\n\s+expected: refused\n\s+observed: refused/)
})

test('a removed waypoint label and a deleted AuthorizationPolicy are named as drift events under --output json', async () => {
  await kubectlOk('label', 'service', 'gthulhu-manager', '-n', 'default', 'istio.io/use-waypoint-')
  await kubectlOk(
    'delete',
    'authorizationpolicies.security.istio.io',
    'gthulhu-gateway-allow-chrome-only',
    '-n',
    'default',
  )
  const r = await world.run([...world.flags, '--verify', '--no-probes', '--output', 'json'], { timeoutMs: AUDIT_MS })
  assert.is(r.code, 1, show(r))
  const drifts = events(r.stdout).filter((e) => e.event === 'drift')
  const named = drifts.map((d) => `${d.step}: ${d.check}`)
  assert.ok(
    named.includes('waypoint: Service default/gthulhu-manager has istio.io/use-waypoint=waypoint'),
    named.join('\n'),
  )
  assert.ok(
    named.includes('l7-policies: AuthorizationPolicy default/gthulhu-gateway-allow-chrome-only applied as planned'),
    named.join('\n'),
  )
  const label = drifts.find((d) => d.check === 'Service default/gthulhu-manager has istio.io/use-waypoint=waypoint')
  assert.equal([label.expected, label.observed], ['waypoint', '(not set)'])
  assert.equal(events(r.stdout).at(-1), { ...events(r.stdout).at(-1), event: 'run-end', status: 'failed', exitCode: 1 })
})

test('--verify refuses to guess a context when unattended, and with nothing done', async () => {
  const noContext = await world.run(
    world.flags.filter((f, i, all) => f !== '--context' && all[i - 1] !== '--context').concat('--verify'),
  )
  assert.is(noContext.code, 2, show(noContext))
  assert.match(noContext.stderr, /--verify without a terminal needs --context/)
  // The record lives in Gthulhu's namespace: where the runbook never ran (no record there, no local copy), nothing is done.
  const fresh = await world.run([
    ...world.flags.map((f) => (f === world.stateFile ? `${world.dir}/other-state.json` : f)),
    '--namespace',
    'elsewhere',
    '--verify',
  ])
  assert.is(fresh.code, 2, show(fresh))
  assert.match(fresh.stderr, /no step is done in context gthulhu-sim/)
})

test.run()
