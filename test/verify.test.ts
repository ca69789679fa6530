// --verify on the simulated cluster: after a full run it exits 0 and changes nothing; a policy loosened, a
// label removed or a policy deleted makes it exit 1 and name that drift, in text and as JSON events;
// --no-probes audits the objects alone without creating a pod.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, type RunbookWorld } from './harness.ts'
import { preparedWorld } from './fixtures.ts'
import { kubectl } from './kit.ts'
import { STEP_IDS } from '../lib/types.ts'

let world: RunbookWorld
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
  const r = await world.run([...world.flags, '--verify', '-v'])
  assert.is(r.code, 0, show(r))
  assert.ok(r.stdout.includes(`auditing ${STEP_IDS.join(', ')}`), 'every done step is audited')
  assert.match(r.stdout, /✔ everything the runbook set up still holds/)
  assert.match(r.stdout, /✔ other pod \(component=probe\) → MongoDB :27017: refused/)
  assert.is(
    (await world.kubectlJson('get', 'statefulset', 'gthulhu-mongodb', '-n', 'default')).metadata.generation,
    generation,
    'nothing restarted',
  )
  assert.equal(world.state().steps, stateBefore.steps, 'the state file is not rewritten by an audit')
  assert.equal(await world.probePodsLeft(), [])
})

test('--verify --no-probes creates no pod and reports the probe checks as skipped', async () => {
  const r = await world.run([...world.flags, '--verify', '--no-probes', '--output', 'json'])
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
  const r = await world.run([...world.flags, '--verify', '-v'], { timeoutMs: 120_000 })
  assert.is(r.code, 1, show(r))
  assert.match(
    r.stdout,
    /drift\(s\):[\s\S]*l4-policies: NetworkPolicy default\/allow-only-manager-to-mongodb applied as planned/,
  )
  // Defence in depth: the NetworkPolicy now admits every pod, but MongoDB's ztunnel still refuses a caller without the manager's identity.
  assert.match(r.stdout, /✔ other pod \(component=probe\) → MongoDB :27017: refused/)
  const repair = await world.run([...world.flags, '--yes', '--only', 'l4-policies'], { timeoutMs: 120_000 })
  assert.is(repair.code, 0, show(repair))
})

test('a deleted identity policy is named, and so is the bypass it reopened', async () => {
  await kubectlOk('delete', 'authorizationpolicies.security.istio.io', 'gthulhu-mongodb-allow-manager', '-n', 'default')
  const r = await world.run([...world.flags, '--verify'], { timeoutMs: 120_000 })
  assert.is(r.code, 1, show(r))
  assert.match(
    r.stdout,
    /identity-policies: AuthorizationPolicy default\/gthulhu-mongodb-allow-manager applied as planned/,
  )
  // The NetworkPolicy admits a pod wearing the manager's labels; only the identity policy refused it.
  assert.match(
    r.stdout,
    /identity-policies: manager's labels, ServiceAccount default → MongoDB :27017: refused — expected refused, observed answers/,
  )
  const repair = await world.run([...world.flags, '--yes', '--only', 'identity-policies'], { timeoutMs: 120_000 })
  assert.is(repair.code, 0, show(repair))
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
  const r = await world.run([...world.flags, '--verify', '--no-probes', '--output', 'json'], { timeoutMs: 120_000 })
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
  const fresh = await world.run([
    ...world.flags.map((f) => (f === world.stateFile ? `${world.dir}/other-state.json` : f)),
    '--verify',
  ])
  assert.is(fresh.code, 2, show(fresh))
  assert.match(fresh.stderr, /no step is done in context gthulhu-sim/)
})

test.run()
