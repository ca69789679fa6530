// What the runbook writes to disk, in process: reports and the local copy of the record never follow a planted
// symlink and never hold URL credentials; report.md shows HTML from the cluster as text; a malformed record is
// refused naming its field instead of crashing the report later.
import { lstatSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { UsageError } from '../lib/config/errors.ts'
import { redactCredentials, writeFileSafely } from '../lib/config/safe-output.ts'
import { writeReportFiles, type ReportInput } from '../lib/report/files.ts'
import { renderMarkdown } from '../lib/report/markdown.ts'
import { buildReport } from '../lib/report/model.ts'
import { loadConfig } from '../lib/config/options.ts'
import { Reporter } from '../lib/run/reporter.ts'
import { assertWellFormed } from '../lib/run/record-schema.ts'
import { STATE_FORMAT, StateStore, type RunbookState } from '../lib/run/state.ts'
import { ReachabilityCollector } from '../lib/verify/reachability.ts'
import { tempDir } from './temp-dir.ts'

const dir = () => tempDir('runbook-files-')
const quiet = () =>
  new Reporter(
    false,
    new Writable({ write: (_c, _e, done) => done() }) as unknown as NodeJS.WriteStream,
    new Writable({ write: (_c, _e, done) => done() }) as unknown as NodeJS.WriteStream,
  )

const SCRIPT = '<img src=x onerror=alert(1)>'
const MIRROR = 'https://builder:s3cret@mirror.example.com/istio'

function input(): ReportInput {
  const state: RunbookState = {
    format: STATE_FORMAT,
    context: 'prod',
    createdAt: 'then',
    updatedAt: 'now',
    config: { namespace: 'gthulhu' },
    answers: {},
    facts: {},
    steps: {},
  }
  return {
    kind: 'verify',
    context: 'prod',
    config: loadConfig(['--namespace', 'gthulhu'], {}),
    version: '0.0.0-test',
    startedAt: new Date(0),
    finishedAt: new Date(1000),
    results: [
      {
        id: 'l7-policies',
        status: 'failed',
        durationMs: 10,
        finishedAt: 1000,
        checks: [{ name: `principals of the manager policy`, expected: 'the scheduler', observed: SCRIPT, ok: false }],
      },
    ],
    state,
    reachability: new ReachabilityCollector(state),
    argv: ['--verify', '--istio-mirror', MIRROR],
  }
}

test('report.md shows HTML found in the cluster as text, as report.html does', () => {
  const markdown = renderMarkdown(buildReport(input()))
  assert.not.ok(markdown.includes(SCRIPT), 'no raw HTML from the cluster')
  assert.ok(markdown.includes('&lt;img src=x onerror=alert(1)&gt;'))
})

test('reports never write through a planted symlink and never hold URL credentials', () => {
  const reportDir = dir()
  const victim = join(dir(), 'victim.txt')
  writeFileSync(victim, 'precious')
  symlinkSync(victim, join(reportDir, 'report.html'))
  symlinkSync(victim, join(reportDir, 'report.md'))
  writeReportFiles(reportDir, input(), quiet())
  assert.is(readFileSync(victim, 'utf8'), 'precious', "the link's target is untouched")
  for (const name of ['report.md', 'report.html']) {
    assert.not.ok(lstatSync(join(reportDir, name)).isSymbolicLink(), `${name} is a file of its own`)
    const text = readFileSync(join(reportDir, name), 'utf8')
    assert.not.ok(text.includes('s3cret'), `${name} holds no password`)
    assert.ok(text.includes('https://***@mirror.example.com/istio'), `${name} still names the mirror`)
  }
})

test('credentials in URLs are removed wherever they appear; other text is left alone', () => {
  assert.is(
    redactCredentials('get http://u:p@h/x and https://token@h2:8443/y, not user@host or a:b@c'),
    'get http://***@h/x and https://***@h2:8443/y, not user@host or a:b@c',
  )
})

test('the local copy of the record is written through a new file: a symlink at its name is replaced, not followed', async () => {
  const base = dir()
  const victim = join(base, 'victim.json')
  writeFileSync(victim, 'precious')
  const path = join(base, 'state.json')
  writeFileSafely(path, '{}')
  symlinkSync(victim, `${path}.link`)
  // A link planted at the state file's own name is refused when read, and never written through.
  const linked = join(base, 'linked.json')
  symlinkSync(victim, linked)
  assert.throws(
    () => new StateStore(linked, 'ctx'),
    (e: Error) => e instanceof UsageError && /is a symbolic link/.test(e.message),
  )
  writeFileSafely(linked, 'new')
  assert.is(readFileSync(victim, 'utf8'), 'precious')
  assert.is(readFileSync(linked, 'utf8'), 'new')
  assert.not.ok(lstatSync(linked).isSymbolicLink())
  // And the record's copy never holds credentials.
  const store = new StateStore(join(base, 'creds.json'), 'ctx')
  store.state.config.istioMirror = MIRROR
  await store.save()
  assert.not.ok(readFileSync(join(base, 'creds.json'), 'utf8').includes('s3cret'))
})

test('a malformed record is refused naming the first bad field', () => {
  const good = (): any => ({ format: STATE_FORMAT, context: 'c', config: {}, answers: {}, facts: {}, steps: {} })
  const refused = (edit: (r: any) => void, field: RegExp) => {
    const record = good()
    edit(record)
    assert.throws(
      () => assertWellFormed(record, 'record X'),
      (e: Error) =>
        e instanceof UsageError && /^record X is malformed: field /.test(e.message) && field.test(e.message),
    )
  }
  assertWellFormed(good(), 'record X')
  refused(
    (r) => (r.reachability = { at: 'now', edges: [{ from: 'a' }] }),
    /field reachability\.edges\[0\]\.to: missing/,
  )
  refused(
    (r) => (r.steps.preflight = { status: 'done', checks: [{ name: 'x', expected: 'a', observed: 'b', ok: 'yes' }] }),
    /field steps\.preflight\.checks\[0\]\.ok: expected true or false, found "yes"/,
  )
  refused((r) => (r.steps.bogus = { status: 'done' }), /field steps\.bogus: not a step of this runbook/)
  refused(
    (r) => (r.steps.preflight = { status: 'finished' }),
    /field steps\.preflight\.status: expected one of pending, running/,
  )
  refused(
    (r) => (r.facts.istioctlPath = '/tmp/evil.sh'),
    /field facts\.istioctlPath: expected an absolute path to a file named istioctl/,
  )
  refused((r) => (r.facts.istioctlSha256 = 'abc'), /field facts\.istioctlSha256: expected a SHA-256 digest/)
  refused(
    (r) => (r.answers.uninstall = true),
    /field answers\.uninstall: not an answer to one of the runbook's questions/,
  )
  refused((r) => (r.answers.managerPrincipals = ['*']), /field answers\.managerPrincipals: "\*" admits every identity/)
  refused(
    (r) => (r.answers.ingressViaWaypoint = 'yes'),
    /field answers\.ingressViaWaypoint: expected true or false, found "yes"/,
  )
  refused((r) => (r.config.namespace = 'Bad_NS'), /field config\.namespace: "Bad_NS" is not a valid Kubernetes name/)
})

test.run()
