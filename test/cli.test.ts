// The CLI as an operator and a pipeline meet it: flags, refusals, preflight, dry run, list, state safety.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { STEP_IDS } from '../lib/types.ts'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'

let world: RunbookWorld
let missing: RunbookWorld
test.before(async () => {
  ;[world, missing] = await Promise.all([startWorld(), startWorld({ missing: ['mongodb'] })])
})
test.after(async () => {
  await Promise.all([world?.stop(), missing?.stop()])
})

const noStack = (text: string) =>
  assert.not.match(text, /\n\s+at .+:\d+:\d+/, 'an expected error must not print a stack trace')

test('--help lists every step and exits 0', async () => {
  const r = await world.run(['--help'])
  assert.is(r.code, 0, show(r))
  for (const id of ['preflight', 'istioctl', '--resume', 'Exit codes'])
    assert.ok(r.stdout.includes(id), `help lacks ${id}`)
})

test('an unknown flag exits 2 naming it and the closest valid flag', async () => {
  const r = await world.run([...world.flags, '--yes', '--namespce', 'x'])
  assert.is(r.code, 2, show(r))
  assert.match(r.stderr, /unknown flag --namespce; did you mean --namespace\?/)
  noStack(r.stderr)
})

test('an unknown step id exits 2 listing the valid ids', async () => {
  const r = await world.run([...world.flags, '--yes', '--only', 'preflight,meshify'])
  assert.is(r.code, 2, show(r))
  assert.match(r.stderr, /unknown value "meshify"; valid: preflight, istioctl/)
})

test('without a terminal and without --yes it exits 2 at once instead of waiting on a prompt', async () => {
  const started = Date.now()
  const r = await world.run(
    world.flags.filter((f) => f !== '--yes'),
    { timeoutMs: 15_000 },
  )
  assert.is(r.code, 2, show(r))
  assert.match(r.stderr, /no terminal .*pass --yes and --context/)
  assert.ok(Date.now() - started < 10_000)
})

test('automation refuses to act on a context the operator did not name', async () => {
  const withoutContext = world.flags.filter((f, i, all) => f !== '--context' && all[i - 1] !== '--context')
  const r = await world.run([...withoutContext, '--yes'])
  assert.is(r.code, 2, show(r))
  assert.match(r.stderr, new RegExp(`--yes needs --context.*${world.sim.context}`))
  assert.not.ok(existsSync(world.stateFile), 'nothing may be written')
})

/** The world's flags naming another context instead of its own (a second --context is a fleet audit's). */
const withContext = (flags: string[], context: string) =>
  flags.map((flag, i) => (flags[i - 1] === '--context' ? context : flag))

test('a context missing from the kubeconfig exits 2 listing the valid ones', async () => {
  const r = await world.run([...withContext(world.flags, 'prod-eu'), '--yes'])
  assert.is(r.code, 2, show(r))
  assert.match(r.stderr, new RegExp(`no context "prod-eu" in the kubeconfig; valid: ${world.sim.context}`))
})

test('--dry-run prints the plan and changes nothing', async () => {
  const r = await world.run([...world.flags, '--dry-run', '--only', 'preflight,istioctl'])
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /# istioctl: Install istioctl/)
  assert.match(
    r.stdout,
    new RegExp(`${world.sim.istioMirror}/1\\.29\\.1/istioctl-1\\.29\\.1-linux-(amd64|arm64)\\.tar\\.gz`),
  )
  assert.match(r.stdout, /Dry run: nothing was changed/)
  assert.not.ok(existsSync(join(world.installDir, 'istioctl')))
  assert.not.ok(existsSync(world.stateFile))
})

test('preflight passes on the default install and records what it found', async () => {
  const r = await world.run([...world.flags, '--yes', '-v', '--only', 'preflight'])
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /Gthulhu manager \(Deployment\)/)
  assert.match(r.stdout, /calico/)
  const state = world.state()
  assert.is(state.steps.preflight?.status, 'done')
  assert.is(state.facts.workloads?.manager.name, 'gthulhu-manager')
  assert.is(state.facts.workloads?.scheduler.serviceAccount, 'gthulhu')
  assert.is(state.facts.workloads?.mongodb.name, 'gthulhu-mongodb')
  assert.equal(state.facts.workloads?.mongodb.selectorLabels, {
    'app.kubernetes.io/name': 'mongodb',
    'app.kubernetes.io/instance': 'gthulhu',
    'app.kubernetes.io/component': 'mongodb',
  })
  assert.ok(state.steps.preflight?.checks?.every((c) => c.ok))
})

test('a resumed run takes the settings the record was made with, and warns when one a done step read is given otherwise', async () => {
  // preflight judges the cluster's Kubernetes by --istio-version (1.28 is tested with 1.30–1.34, 1.29 with 1.31–1.35).
  const done = await world.run([...world.flags, '--yes', '--only', 'preflight', '--istio-version', '1.28.3'])
  assert.is(done.code, 0, show(done))
  const resumed = await world.run([...world.flags, '--dry-run', '--resume'])
  assert.is(resumed.code, 0, show(resumed))
  assert.match(resumed.stdout, /Settings from the record \(not given this time\): .*istioVersion=1\.28\.3/)
  assert.match(resumed.stdout, /istioctl-1\.28\.3-linux/, 'the steps still to run plan the recorded Istio')
  assert.not.match(resumed.stdout, /other settings/, 'nothing given, nothing differs')
  const changed = await world.run([
    ...world.flags,
    '--dry-run',
    '--resume',
    '--istio-version',
    '1.29.1',
    '--gateway-name',
    'other-gw',
  ])
  assert.is(changed.code, 0, show(changed))
  assert.match(
    changed.stdout,
    /⚠ preflight was done with other settings \(istioVersion: "1\.28\.3" → "1\.29\.1"\); run it again with --from preflight/,
  )
  assert.not.match(changed.stdout, /other settings \([^)]*gatewayName/, 'preflight does not read the Gateway name')
  assert.not.match(changed.stdout, /# preflight:/, 'the done step is not planned again')
  const repeated = await world.run([...world.flags, '--dry-run', '--from', 'preflight', '--istio-version', '1.29.1'])
  assert.is(repeated.code, 0, show(repeated))
  assert.match(repeated.stdout, /# preflight:/)
  assert.not.match(repeated.stdout, /other settings/, 'a step run again takes the settings given now')
})

test('--list shows each step with its state in this context', async () => {
  const r = await world.run([...world.flags, '--list'])
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /preflight\s+done/)
  assert.match(r.stdout, /istioctl\s+pending/)
})

test('--list reads the record from the cluster only for a named context; without one it shows the local copy', async () => {
  const named = await world.run([...world.flags, '--list', '--verbose'])
  assert.is(named.code, 0, show(named))
  assert.is(named.stderr.match(/^\+ kubectl .*get secrets/gm)?.length, 1, show(named))
  // The simulator's kubeconfig has the same context as its current one: only the flag is left out.
  const at = world.flags.indexOf('--context')
  const unnamed = await world.run([...world.flags.slice(0, at), ...world.flags.slice(at + 2), '--list', '--verbose'])
  assert.is(unnamed.code, 0, show(unnamed))
  assert.not.match(unnamed.stderr, /^\+ /m, 'no command runs')
  assert.ok(unnamed.stdout.includes(`(state for context ${world.sim.context}: ${world.stateFile})`), show(unnamed))
  assert.match(unnamed.stdout, /preflight\s+done/)
})

test('preflight fails clearly when a workload is missing, naming the selector, and prints the resume command', async () => {
  const r = await missing.run([...missing.flags, '--yes', '--only', 'preflight'])
  assert.is(r.code, 1, show(r))
  assert.match(
    r.stdout,
    /Gthulhu mongodb \(StatefulSet\)[\s\S]*app\.kubernetes\.io\/instance=gthulhu,app\.kubernetes\.io\/component=mongodb[\s\S]*none found/,
  )
  assert.match(r.stdout, /Resume with:\n\s+npx (?:tsx \S*runbook\.ts|gthulhu-runbook) .*--only preflight/)
  assert.is(missing.state().steps.preflight?.status, 'failed')
  noStack(r.stdout + r.stderr)
})

test('an unreachable cluster fails preflight with a clear message', async () => {
  const flags = world
    .flagsWithKubeconfig('unreachable.kubeconfig', (k) => (k.clusters[0].cluster.server = 'http://127.0.0.1:9'))
    .map((f) => (f === world.stateFile ? join(world.dir, 'unreachable.json') : f))
  const r = await world.run([...flags, '--yes', '--only', 'preflight'])
  assert.is(r.code, 1, show(r))
  // The record is read (and the lock taken) from the cluster first, so that is where it stops.
  assert.match(
    r.stdout + r.stderr,
    /cannot read the runbook's record: the API server is unreachable: .*(refused|connect)/i,
  )
  noStack(r.stdout + r.stderr)
})

test('a corrupt state file exits 2, names the file and is left untouched', async () => {
  const stateFile = join(world.dir, 'corrupt.json')
  writeFileSync(stateFile, '{ not json')
  const flags = world.flags.map((f) => (f === world.stateFile ? stateFile : f))
  const r = await world.run([...flags, '--yes', '--only', 'preflight'])
  assert.is(r.code, 2, show(r))
  assert.ok(r.stderr.includes(stateFile))
  assert.is(readFileSync(stateFile, 'utf8'), '{ not json')
})

test('a run while another holds the Lease exits 2 naming the holder, and changes nothing', async () => {
  const micro = new Date().toISOString().replace(/Z$/, '000Z')
  const lease = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: 'gthulhu-runbook',
      namespace: 'default',
      annotations: { 'gthulhu-runbook/holder-host': 'bastion', 'gthulhu-runbook/holder-pid': '4242' },
    },
    spec: {
      holderIdentity: 'ops@bastion/pid-4242/c0ffee',
      leaseDurationSeconds: 60,
      acquireTime: micro,
      renewTime: micro,
    },
  }
  const created = await kubectl(world.sim.env, ['apply', '-f', '-'], { input: JSON.stringify(lease) })
  assert.is(created.code, 0, created.stderr)
  const before = statSync(world.stateFile).mtimeMs
  try {
    const r = await world.run([...world.flags, '--yes', '--only', 'preflight'])
    assert.is(r.code, 2, show(r))
    assert.match(
      r.stderr,
      /another run holds the lock on namespace default \(Lease default\/gthulhu-runbook\): ops@bastion\/pid-4242\/c0ffee \(on bastion, pid 4242\).*expires .* unless renewed/,
    )
    assert.is(statSync(world.stateFile).mtimeMs, before, 'the refused run wrote nothing')
  } finally {
    await kubectl(world.sim.env, ['delete', 'lease', 'gthulhu-runbook', '-n', 'default'])
  }
})

test('-h and --help print the same help; a one-letter flag the runbook lacks is named', async () => {
  const [short, long, bad] = await Promise.all([world.run(['-h']), world.run(['--help']), world.run(['-x'])])
  assert.is(short.code, 0, show(short))
  assert.is(short.stdout, long.stdout)
  assert.match(short.stdout, /-n, --namespace <ns>/)
  assert.is(bad.code, 2, show(bad))
  assert.match(bad.stderr, /unknown flag -x; one-letter flags: -h, -y, -n, -o, -v/)
  noStack(bad.stderr)
})

test('a usage error still ends a JSON stream with its run-end event, whichever way -o json was asked for; --version too', async () => {
  for (const output of [['--output', 'json'], ['--output=json'], ['-o', 'json'], ['-ojson'], ['-yo', 'json']]) {
    const r = await world.run([...output, '--bogus'])
    assert.is(r.code, 2, show(r))
    const end = JSON.parse(r.stdout.trim().split('\n').at(-1)!)
    assert.equal([end.event, end.status, end.exitCode], ['run-end', 'usage-error', 2], output.join(' '))
  }
  // Asked for in a config file; and the last -o winning, as the settings take it.
  const file = join(world.dir, 'json-output.yaml')
  writeFileSync(file, 'output: json\n')
  const fromFile = await world.run(['--config', file, '--yes'])
  assert.is(fromFile.code, 2, show(fromFile))
  assert.equal(JSON.parse(fromFile.stdout.trim()).status, 'usage-error', show(fromFile))
  const lastWins = await world.run(['-o', 'json', '-o', 'text', '--yes'])
  assert.is(lastWins.code, 2, show(lastWins))
  assert.is(lastWins.stdout, '', 'text output: no JSON on stdout')
  const version = await world.run(['--version', '-o', 'json'])
  assert.match(JSON.parse(version.stdout).version, /^\d+\.\d+\.\d+/)
})

test('--list --output json writes one step event per step, with its state', async () => {
  const r = await world.run([...world.flags, '--list', '-o', 'json'])
  assert.is(r.code, 0, show(r))
  const events = r.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
  assert.equal(
    events.map((e) => e.event),
    STEP_IDS.map(() => 'step'),
  )
  assert.equal(
    events.map((e) => e.step),
    [...STEP_IDS],
  )
  assert.is(events.find((e) => e.step === 'preflight').status, 'done')
  assert.is(events.find((e) => e.step === 'istioctl').status, 'pending')
  assert.match(r.stderr, /preflight\s+done/, 'the human list goes to stderr under --output json')
})

test("-v prints every kubectl command with its duration and exit code (and whether it went through the run's kubectl proxy); under -o json as command events", async () => {
  const text = await world.run([...world.flags, '-yv', '--only', 'preflight'])
  assert.is(text.code, 0, show(text))
  // A read is sent through the proxy; `kubectl version` runs as a process of its own.
  assert.match(
    text.stderr,
    new RegExp(
      `^\\+ kubectl --kubeconfig \\S+ --context ${world.sim.context} get \\S+.*  \\(through kubectl proxy, \\d+\\.\\d\\ds, exit 0\\)$`,
      'm',
    ),
  )
  assert.match(
    text.stderr,
    new RegExp(
      `^\\+ kubectl --kubeconfig \\S+ --context ${world.sim.context} version .*  \\(\\d+\\.\\d\\ds, exit 0\\)$`,
      'm',
    ),
  )
  const json = await world.run([...world.flags, '-yvojson', '--only', 'preflight'])
  assert.is(json.code, 0, show(json))
  const commands = json.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
    .filter((e) => e.event === 'command')
  assert.ok(commands.length >= 3, show(json))
  for (const c of commands) {
    assert.is(c.argv[0], 'kubectl')
    assert.type(c.durationMs, 'number')
    assert.ok(c.exitCode === null || typeof c.exitCode === 'number')
  }
  assert.ok(commands.some((c) => c.argv.includes('get') && c.exitCode === 0 && c.via === 'kubectl proxy'))
  assert.ok(
    commands.some((c) => c.argv.includes('version') && c.via === undefined),
    'a process has no `via`',
  )
  assert.not.match(json.stderr, /^\+ kubectl/m, 'JSON output carries commands as events, not as text')
})

test('--kubeconfig naming a missing file exits 2 naming the file, not a missing context', async () => {
  const path = join(world.dir, 'no-such.kubeconfig')
  const flags = world.flags.map((f) => (f === world.sim.kubeconfig ? path : f))
  for (const extra of [['--yes', '--only', 'preflight'], ['--dry-run']]) {
    const r = await world.run([...flags, ...extra])
    assert.is(r.code, 2, show(r))
    assert.match(r.stderr, new RegExp(`--kubeconfig: the file ${path} does not exist`))
    assert.not.match(r.stderr, /no context/)
    noStack(r.stderr)
  }
})

test("the namespace defaults to the kube context's, and -n overrides it", async () => {
  const flags = world.flagsWithKubeconfig(
    'namespaced.kubeconfig',
    (k) => (k.contexts[0].context.namespace = 'gthulhu-system'),
  )
  const fromContext = await world.run([...flags, '--dry-run', '--only', 'preflight,l4-policies'])
  assert.is(fromContext.code, 0, show(fromContext))
  assert.match(fromContext.stdout, new RegExp(`namespace gthulhu-system \\(from kube context ${world.sim.context}\\)`))
  assert.match(fromContext.stdout, /NetworkPolicy gthulhu-system\/allow-only-manager-to-mongodb/)
  const named = await world.run([...flags, '--dry-run', '--only', 'preflight,l4-policies', '-n', 'gthulhu'])
  assert.match(named.stdout, /namespace gthulhu \(as given\)/)
  assert.match(named.stdout, /NetworkPolicy gthulhu\/allow-only-manager-to-mongodb/)
})

const networkPolicies = async (namespace: string) =>
  (await world.kubectlJson('get', 'networkpolicies', '-n', namespace)).items

test('--dry-run=server has the API server accept every object it serves, stores nothing and exits 0', async () => {
  const r = await world.run([...world.flags, '--dry-run=server'])
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /✔ l4-policies: NetworkPolicy default\/allow-only-manager-to-mongodb accepted/)
  assert.match(r.stdout, /✔ l4-policies: NetworkPolicy default\/allow-only-manager-to-scheduler accepted/)
  // Before gateway-api-crds and ambient have run, the cluster does not serve those kinds: reported, not failed.
  assert.match(
    r.stdout,
    /• gateway: Gateway default\/gthulhu-gw unchecked: the API server does not serve gateway\.networking\.k8s\.io\/v1 Gateway yet/,
  )
  assert.match(r.stdout, /Dry run: nothing was changed/)
  assert.equal(await networkPolicies('default'), [])
  // Like kubectl, a server dry run (which changes nothing) may use the current context.
  const withoutContext = world.flags.filter((f, i, all) => f !== '--context' && all[i - 1] !== '--context')
  const current = await world.run([...withoutContext, '--dry-run=server', '--only', 'preflight,l4-policies'])
  assert.is(current.code, 0, show(current))
  assert.match(current.stdout, new RegExp(`Context ${world.sim.context}, namespace default`))
  assert.match(current.stdout, /✔ l4-policies: NetworkPolicy default\/allow-only-manager-to-mongodb accepted/)
})

test('--dry-run=server reports each object the API server rejects and exits 2', async () => {
  world.sim.store.create(world.sim.store.findType('', 'v1', 'namespaces')!, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'ns-ok' },
  })
  const r = await world.run([...world.flags, '--dry-run=server', '-o', 'json', '-n', 'ns-missing'])
  assert.is(r.code, 2, show(r))
  const events = r.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
  const verdicts = events.filter((e) => e.event === 'server-dry-run')
  const policy = verdicts.find((e) => e.object === 'NetworkPolicy ns-missing/allow-only-manager-to-mongodb')
  assert.is(policy?.result, 'rejected', JSON.stringify(verdicts))
  assert.match(policy.message, /namespaces "ns-missing" not found/)
  assert.is(events.at(-1).event, 'run-end')
  assert.is(events.at(-1).exitCode, 2)
  assert.match(
    r.stderr,
    /✖ l4-policies: NetworkPolicy ns-missing\/allow-only-manager-to-mongodb rejected: .*namespaces "ns-missing" not found/,
  )
  assert.match(r.stderr, /the API server rejected \d+ object\(s\); fix the settings/)
  noStack(r.stderr)
  const accepted = await world.run([
    ...world.flags,
    '--dry-run=server',
    '-n',
    'ns-ok',
    '--only',
    'preflight,l4-policies',
  ])
  assert.is(accepted.code, 0, show(accepted))
  assert.equal(await networkPolicies('ns-ok'), [])
})

test('output nobody reads (`| head` once head left): a list ends as usual, a run stops as on Ctrl-C, no stack', async () => {
  const list = await world.run([...world.flags, '--list'], { closedStdout: true })
  assert.is(list.code, 0, show(list))
  assert.is(list.stderr, '')
  const run = await world.run([...world.flags, '--yes', '--only', 'preflight'], { closedStdout: true })
  assert.is(run.code, 130, show(run))
  noStack(run.stderr)
  assert.is(await world.lockHolder(), undefined, 'the lock is released')
  const preflight = world.state().steps.preflight
  assert.is(preflight?.status, 'interrupted')
  assert.equal(preflight?.checks, [], 'stopped commands observed nothing of the cluster')
})

test.run()
