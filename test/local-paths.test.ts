// Local paths the runbook cannot write (a file where the record's local copy, --render or --report needs a
// directory, a directory where a report file goes, a place where no directory can be made): refused before
// anything changes, exit 2, one line naming the path in the way; a report that still fails at the end is one line.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { StepFailure } from '../lib/config/errors.ts'
import { loadConfig } from '../lib/config/options.ts'
import { writeReportFiles } from '../lib/report/files.ts'
import { Reporter } from '../lib/run/reporter.ts'
import { STATE_FORMAT, type RunbookState } from '../lib/run/state.ts'
import { ReachabilityCollector } from '../lib/verify/reachability.ts'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { tempDir } from './temp-dir.ts'

let world: RunbookWorld
test.before(async () => {
  world = await startWorld()
  // A done step, so that an audit has something to audit and a run has a record to start a revision of.
  const setup = await world.run([...world.flags, '--yes', '--only', 'preflight'])
  if (setup.code !== 0) throw new Error(`setup failed: ${show(setup)}`)
})
test.after(async () => {
  await world?.stop()
})

const noStack = (text: string) =>
  assert.not.match(text, /\n\s+at .+:\d+:\d+/, 'an expected error must not print a stack trace')

/** The record's revisions in the cluster, with their status labels. */
const revisions = async () =>
  (await world.kubectlJson('get', 'secrets', '-n', 'default', '-l', 'owner=gthulhu-runbook')).items
    .map((s: any) => `${s.metadata.name}=${s.metadata.labels.status}`)
    .sort()

/** A bad local path: exit 2, the path and the problem in one line on stderr, no lock, no new revision. */
async function refused(args: string[], said: string, cwd?: string): Promise<void> {
  const before = await revisions()
  const r = await world.run(args, { cwd })
  assert.is(r.code, 2, show(r))
  assert.ok(r.stderr.includes(said), show(r))
  assert.is(r.stderr.trim().split('\n').length, 1, show(r))
  noStack(r.stderr)
  assert.is(await world.lockHolder(), undefined, 'no lock is taken')
  assert.equal(await revisions(), before, 'no revision of the record is started, none is left running')
}

test('a --state-file under a file exits 2 naming that file, before the lock or the record', async () => {
  const file = join(world.dir, 'a-file')
  writeFileSync(file, 'not a directory')
  const flags = world.flags.map((f) => (f === world.stateFile ? join(file, 'state.json') : f))
  await refused([...flags, '--yes', '--only', 'preflight'], `${file} is not a directory`)
})

test('a file named .gthulhu-runbook where the default local copy goes exits 2 naming it', async () => {
  const cwd = tempDir('runbook-cwd-')
  writeFileSync(join(cwd, '.gthulhu-runbook'), 'not a directory')
  const at = world.flags.indexOf('--state-file')
  const flags = [...world.flags.slice(0, at), ...world.flags.slice(at + 2)]
  await refused([...flags, '--yes', '--only', 'preflight'], `${join(cwd, '.gthulhu-runbook')} is not a directory`, cwd)
})

test('--report with a directory where report.md goes exits 2 before the audit, naming it', async () => {
  const report = tempDir('runbook-report-')
  mkdirSync(join(report, 'report.md'))
  const args = [...world.flags, '--verify', '--no-probes', '--report', report, '-o', 'json']
  await refused(args, `--report ${report}: ${join(report, 'report.md')} is a directory`)
  const r = await world.run(args)
  const events = r.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
  assert.equal(
    events.map((e) => [e.event, e.exitCode]),
    [['run-end', 2]],
    'nothing ran: the only event is the usage error',
  )
})

test('--report where no directory can be made (under /proc) fails at once instead of hanging', async () => {
  if (!existsSync('/proc/self')) return // /proc is Linux's
  const dir = '/proc/gthulhu-runbook-report'
  // Node's recursive mkdir loops there forever: the timeout turns that into this test's failure.
  const r = await world.run([...world.flags, '--verify', '--no-probes', '--report', dir], { timeoutMs: 60_000 })
  assert.is(r.code, 2, show(r))
  assert.ok(r.stderr.includes(`--report ${dir}: ${dir} cannot be created`), show(r))
  noStack(r.stderr)
})

test('--render naming a file, or a place where no directory can be made, exits 2 naming it', async () => {
  const file = join(world.dir, 'render-file')
  writeFileSync(file, 'not a directory')
  for (const [dir, said] of [
    [file, `--render ${file}: ${file} is not a directory`],
    [join(file, 'sub'), `--render ${join(file, 'sub')}: ${file} is not a directory`],
    ...(existsSync('/proc/self') ? [['/proc/gthulhu-render', '/proc/gthulhu-render cannot be created']] : []),
  ]) {
    const r = await world.run([...world.flags, '--render', dir], { timeoutMs: 60_000 })
    assert.is(r.code, 2, show(r))
    assert.ok(r.stderr.includes(said), show(r))
    noStack(r.stderr)
  }
})

test('a report file that cannot be written at the end is a failure said in one line, naming it', () => {
  const dir = tempDir('runbook-report-late-')
  // What ensureReportDir refuses up front, made after it ran (the directory changed during the run).
  mkdirSync(join(dir, 'report.html'))
  const state: RunbookState = {
    format: STATE_FORMAT,
    context: 'c',
    createdAt: 'then',
    updatedAt: 'now',
    config: {},
    answers: {},
    facts: {},
    steps: {},
  }
  const quiet = new Writable({ write: (_c, _e, done) => done() }) as unknown as NodeJS.WriteStream
  assert.throws(
    () =>
      writeReportFiles(
        dir,
        {
          kind: 'verify',
          context: 'c',
          config: loadConfig([], {}),
          version: '0.0.0-test',
          startedAt: new Date(0),
          finishedAt: new Date(1),
          results: [],
          state,
          reachability: new ReachabilityCollector(state),
          argv: ['--verify'],
        },
        new Reporter(false, quiet, quiet),
      ),
    (e: Error) =>
      e instanceof StepFailure &&
      e.message ===
        `the report could not be written: ${join(dir, 'report.html')} is a directory; ` +
          'what the run did is in its output above and in its record',
  )
})

test.run()
