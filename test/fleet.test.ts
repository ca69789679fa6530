// A fleet audit: --verify over two simulated clusters (two contexts of one merged KUBECONFIG, each with its own
// record in its cluster and a local copy in .gthulhu-runbook/<context>.json), one of them drifted. Both are audited concurrently and shown in one
// table; the exit code is 1; JSON events carry the context; one report covers both.
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ROOT, show, TSX_LOADER } from './harness.ts'
import { kubectl, runCommand } from './kit.ts'
import { startSimulator, type Simulator } from './sim/index.ts'
import { tempDir } from './temp-dir.ts'

let alpha: Simulator
let beta: Simulator
const dir = tempDir('runbook-fleet-')
/** A third context whose cluster never answers (nothing listens on port 1). */
const deadKubeconfig = join(dir, 'dead.kubeconfig')
writeFileSync(
  deadKubeconfig,
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'dead', cluster: { server: 'https://127.0.0.1:1' } }],
    users: [{ name: 'dead', user: { token: 'none' } }],
    contexts: [{ name: 'fleet-dead', context: { cluster: 'dead', user: 'dead' } }],
  }),
)
let withDead = false
const env = () => ({
  ...process.env,
  KUBECONFIG: [alpha.kubeconfig, beta.kubeconfig, ...(withDead ? [deadKubeconfig] : [])].join(delimiter),
  KUBECACHEDIR: join(dir, 'kube-cache'),
  CI: 'true',
  NO_COLOR: '1',
})
const runbook = (args: string[], cwd = dir) =>
  runCommand(process.execPath, ['--import', TSX_LOADER, join(ROOT, 'runbook.ts'), ...args], {
    cwd,
    env: env(),
    timeoutMs: 240_000,
  })

test.before(async () => {
  ;[alpha, beta] = await Promise.all([
    startSimulator({ contextName: 'fleet-alpha' }),
    startSimulator({ contextName: 'fleet-beta' }),
  ])
  // Each cluster gets the L4 policies; the record of each lands in the working directory, one file per context.
  const runs = await Promise.all(
    ['fleet-alpha', 'fleet-beta'].map((context) =>
      runbook(['--yes', '--context', context, '--only', 'preflight,l4-policies', '--no-probes']),
    ),
  )
  for (const run of runs) assert.is(run.code, 0, show(run))
  const drift = await kubectl(beta.env, ['apply', '-f', '-'], {
    input: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all-mongodb, namespace: default}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: mongodb}}
  ingress: [{}]
`,
  })
  assert.is(drift.code, 0, drift.stderr)
})
test.after(async () => {
  await Promise.all([alpha?.stop(), beta?.stop()])
})

test('two --context flags: both audited at once, one table, exit 1 because one drifted', async () => {
  const r = await runbook(['--verify', '--context', 'fleet-alpha', '--context', 'fleet-beta'])
  assert.is(r.code, 1, show(r))
  assert.match(r.stdout, /Fleet audit of 2 context\(s\), concurrently: fleet-alpha, fleet-beta/)
  assert.match(r.stdout, /══ fleet-alpha ══[\s\S]*✔ everything the runbook set up still holds/)
  assert.match(
    r.stdout,
    /══ fleet-beta ══[\s\S]*admits more to MongoDB .*allow-all-mongodb admits every source on every port/,
  )
  const table = r.stdout.slice(r.stdout.lastIndexOf('Fleet audit:'))
  assert.match(table, /context\s+steps holding\s+drifts\s+paths open\s+verdict/, table)
  assert.match(table, /fleet-alpha\s+2\/2\s+0\s+\d+\s+✔ holds/, table)
  // Two drifts there: the foreign policy, and (the identity policies not being applied) the outsider's probe answered.
  assert.match(table, /fleet-beta\s+1\/2\s+2\s+\d+\s+✖ drifted/, show(r))
  assert.match(r.stdout, /══ fleet-beta ══[\s\S]*other-pod-to-mongodb \(.*\): seen open/)
  assert.match(table, /✖ fleet-beta drifted or could not be audited/, table)
})

test('--all-contexts under --output json: events carry their context, the run ends with every row; one report', async () => {
  const report = join(dir, 'report')
  const r = await runbook(['--verify', '--all-contexts', '--no-probes', '--output', 'json', '--report', report])
  assert.is(r.code, 1, show(r))
  const events = r.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
  const drifts = events.filter((e) => e.event === 'drift')
  assert.ok(
    drifts.length > 0 && drifts.every((e) => e.context === 'fleet-beta'),
    drifts.map((e) => `${e.context}: ${e.step}: ${e.check} — ${e.observed}`).join('\n'),
  )
  for (const context of ['fleet-alpha', 'fleet-beta'])
    assert.ok(
      events.some((e) => e.event === 'audit-end' && e.context === context),
      `no audit-end for ${context}`,
    )
  const end = events.at(-1)
  assert.equal([end.event, end.exitCode], ['run-end', 1])
  assert.equal(
    end.contexts.map((c: any) => [c.context, c.drifts > 0, c.exitCode]),
    [
      ['fleet-alpha', false, 0],
      ['fleet-beta', true, 1],
    ],
  )
  const markdown = readFileSync(join(report, 'report.md'), 'utf8')
  assert.match(markdown, /^# Fleet audit \(--verify\) — 2 contexts/)
  assert.match(markdown, /\| fleet-alpha \| 2\/2 \| 0 \| \d+ \| holds \|/)
  assert.match(markdown, /\| fleet-beta \| 1\/2 \| 1 \| \d+ \| drifted \|/)
  assert.match(markdown, /## Context fleet-alpha[\s\S]*## Context fleet-beta[\s\S]*### fleet-beta: Drifts/)
  assert.match(readFileSync(join(report, 'report.html'), 'utf8'), /<h2>Context fleet-beta<\/h2>/)
})

test('a fleet audit names a context it cannot audit and exits 2 before auditing any', async () => {
  const unknown = await runbook(['--verify', '--context', 'fleet-alpha', '--context', 'fleet-gamma'])
  assert.is(unknown.code, 2, show(unknown))
  assert.match(unknown.stderr, /no context "fleet-gamma" in the kubeconfig; valid: .*fleet-alpha/)
  const notVerify = await runbook(['--yes', '--context', 'fleet-alpha', '--context', 'fleet-beta'])
  assert.is(notVerify.code, 2, show(notVerify))
  assert.match(notVerify.stderr, /goes with --verify only/)
})

test('a context whose lock another run holds is one the fleet audit could not audit; the others are audited', async () => {
  const now = new Date().toISOString().replace('Z', '000Z')
  const held = await kubectl(beta.env, ['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'gthulhu-runbook', namespace: 'default' },
      spec: {
        holderIdentity: 'ops@elsewhere/pid-1/abcdef',
        leaseDurationSeconds: 3600,
        acquireTime: now,
        renewTime: now,
      },
    }),
  })
  assert.is(held.code, 0, held.stderr)
  try {
    const r = await runbook(['--verify', '--context', 'fleet-alpha', '--context', 'fleet-beta', '--no-probes'])
    assert.is(r.code, 1, show(r))
    const table = r.stdout.slice(r.stdout.lastIndexOf('Fleet audit:'))
    assert.match(table, /fleet-alpha\s+2\/2\s+0\s+\d+\s+✔ holds/, show(r))
    assert.match(table, /fleet-beta\s+0\/2\s+\S+\s+—\s+✖ another run holds the lock on namespace default/, show(r))
    assert.match(r.stdout, /══ fleet-beta ══[\s\S]*✖ another run holds the lock[^\n]*ops@elsewhere/)
  } finally {
    const freed = await kubectl(beta.env, ['delete', 'lease', 'gthulhu-runbook', '-n', 'default'])
    assert.is(freed.code, 0, freed.stderr)
  }
  // alpha's lock was taken and given back.
  const alphaLease = await kubectl(alpha.env, ['get', 'lease', 'gthulhu-runbook', '-n', 'default', '-o', 'json'])
  assert.is(JSON.parse(alphaLease.stdout).spec.holderIdentity ?? '', '')
})

test('Ctrl-C during a fleet audit stops it (130) and gives back every context lock', async () => {
  const child = spawn(
    process.execPath,
    ['--import', TSX_LOADER, join(ROOT, 'runbook.ts'), '--verify', '--all-contexts'],
    {
      cwd: dir,
      env: env(),
      stdio: 'ignore',
    },
  )
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const holder = async (sim: Simulator) => {
    const r = await kubectl(sim.env, [
      'get',
      'lease',
      'gthulhu-runbook',
      '-n',
      'default',
      '-o',
      'json',
      '--ignore-not-found',
    ])
    return r.stdout.trim() ? (JSON.parse(r.stdout).spec?.holderIdentity ?? '') : ''
  }
  try {
    // Both audits under way: each holds its context's lock (probes keep them busy for seconds).
    for (let tries = 0; !((await holder(alpha)) && (await holder(beta))); tries++) {
      if (tries > 600) throw new Error('the fleet audit never held both locks')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    child.kill('SIGINT')
    assert.is(await exited, 130)
    assert.equal([await holder(alpha), await holder(beta)], ['', ''])
  } finally {
    child.kill('SIGKILL')
  }
})

test('a cluster that does not answer is a context not audited, named or not, never skipped nor holding', async () => {
  withDead = true
  try {
    const elsewhere = tempDir('runbook-fleet-dead-')
    for (const selection of [['--context', 'fleet-alpha', '--context', 'fleet-dead'], ['--all-contexts']]) {
      const r = await runbook(['--verify', ...selection, '--no-probes'], elsewhere)
      assert.is(r.code, 1, show(r))
      const table = r.stdout.slice(r.stdout.lastIndexOf('Fleet audit:'))
      assert.match(table, /fleet-alpha\s+\d+\/\d+\s+0\s+\d+\s+✔ holds/, show(r))
      assert.match(table, /fleet-dead\s+0\/0\s+\S+\s+—\s+✖ cannot read the runbook's record in this cluster/, show(r))
    }
  } finally {
    withDead = false
  }
})

test('each context is audited against the record in its cluster, with its settings, from any directory', async () => {
  // fleet-alpha hardened again with a setting that is not the default: audited with the defaults, it would drift.
  const custom = ['--only', 'l4-policies', '--no-probes', '--no-allow-kubelet-probes']
  const rerun = await runbook(['--yes', '--context', 'fleet-alpha', ...custom])
  assert.is(rerun.code, 0, show(rerun))
  // No local copy there: the records are read from the clusters.
  const r = await runbook(
    ['--verify', '--context', 'fleet-alpha', '--context', 'fleet-beta', '--no-probes'],
    tempDir('runbook-fleet-elsewhere-'),
  )
  assert.is(r.code, 1, show(r))
  assert.match(
    r.stdout,
    /══ fleet-alpha ══[\s\S]*Settings from the record \(not given this time\): allowKubeletProbes=false/,
  )
  const table = r.stdout.slice(r.stdout.lastIndexOf('Fleet audit:'))
  assert.match(table, /fleet-alpha\s+2\/2\s+0\s+\d+\s+✔ holds/, show(r))
  assert.match(table, /fleet-beta\s+1\/2\s+\d+\s+\d+\s+✖ drifted/, show(r))
})

test.run()
