import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { decodeRecord, encodeRecord } from '../lib/run/record.ts'
import { show, startGuided, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'
import type { TerminalSession } from './tty.ts'
import { tempDir } from './temp-dir.ts'

let world: RunbookWorld
const sessions: TerminalSession[] = []
const elsewhere = tempDir('runbook-elsewhere-')

test.before(async () => {
  world = await startWorld()
  const setup = await world.run([...world.flags, '--yes', '--only', 'preflight'])
  if (setup.code !== 0) throw new Error(`setup failed: ${show(setup)}`)
})
test.after(async () => {
  await Promise.all(sessions.map((s) => s.close()))
  await world?.stop()
})

const fromElsewhere = (args: string[]) => world.run(['--context', world.sim.context, ...args], { cwd: elsewhere })

async function latestRecordSecret(): Promise<any> {
  const { items } = await world.kubectlJson('get', 'secrets', '-n', 'default', '-l', 'owner=gthulhu-runbook')
  return items.sort((a: any, b: any) => Number(b.metadata.labels.version) - Number(a.metadata.labels.version))[0]
}

/** Edits the latest revision of the record in place (as someone with write access to Secrets could); returns the undo. */
async function tamper(edit: (record: any) => void): Promise<() => Promise<void>> {
  const secret = await latestRecordSecret()
  const original = secret.data.record
  const record = JSON.parse(decodeRecord(original))
  edit(record)
  const write = async (data: string) => {
    const current = await latestRecordSecret()
    const r = await kubectl(world.sim.env, ['replace', '-f', '-'], {
      input: JSON.stringify({ ...current, data: { record: data } }),
    })
    assert.is(r.code, 0, r.stderr)
  }
  await write(encodeRecord(JSON.stringify(record)))
  return () => write(original)
}

test('a run from another directory while a guided run holds the Lease exits 2 naming the holder; once it ends, runs go on', async () => {
  const session = await startGuided(world, [...world.flags, '--only', 'preflight'])
  sessions.push(session)
  await session.waitFor(/Run preflight\?/, 180_000)
  const refused = await fromElsewhere(['--yes', '--only', 'preflight'])
  assert.is(refused.code, 2, show(refused))
  assert.match(
    refused.stderr,
    new RegExp(
      `another run holds the lock on namespace default \\(Lease default/gthulhu-runbook\\): \\S+/pid-\\d+/\\w+ \\(run, on \\S+, pid \\d+, in ${world.dir.replace(/[./]/g, '\\$&')}\\)`,
    ),
  )
  assert.match(refused.stderr, /expires \S+ unless renewed/)
  // The audit takes the lock too (its probe pods must not meet a run's).
  const audit = await fromElsewhere(['--verify'])
  assert.is(audit.code, 2, show(audit))
  await session.keys('Down', 'Down', 'Down', 'Down', 'Enter') // Quit
  assert.is(await session.exitCode(), 130)
  const after = await fromElsewhere(['--yes', '--only', 'preflight'])
  assert.is(after.code, 0, show(after))
})

test('a malformed record exits 2 naming the field and is left as it is (no TypeError, no report)', async () => {
  const restore = await tamper((record) => {
    record.reachability = { at: 'now', edges: 'not a list' }
  })
  try {
    const before = (await latestRecordSecret()).metadata.resourceVersion
    const report = tempDir('report-')
    const r = await world.run([...world.flags, '--verify', '--report', report])
    assert.is(r.code, 2, show(r))
    assert.match(
      r.stderr,
      /the runbook's record \(Secret default\/gthulhu-runbook\.gthulhu\.v\d+\) is malformed: field reachability\.edges: expected a list, found "not a list"/,
    )
    assert.not.match(r.stderr, /TypeError|\n\s+at /)
    assert.is((await latestRecordSecret()).metadata.resourceVersion, before, 'left untouched')
  } finally {
    await restore()
  }
})

test('saved answers cannot choose a mode, skip validation or name another setting: exit 2 naming the answer', async () => {
  const cases: [(answers: any) => void, RegExp][] = [
    [
      (a) => (a.uninstall = true),
      /field answers\.uninstall: not an answer to one of the runbook's questions \(--allowed-user-agents, --manager-principals, --ingress-via-waypoint\); a record cannot choose what the run does/,
    ],
    [(a) => (a.namespace = 'kube-system'), /field answers\.namespace: not an answer to one of the runbook's questions/],
    [(a) => (a.managerPrincipals = ['*']), /field answers\.managerPrincipals: "\*" admits every identity in the mesh/],
    [
      (a) => (a.allowedUserAgents = ['Mozilla/* Chrome/*']),
      /field answers\.allowedUserAgents: "Mozilla\/\* Chrome\/\*": Istio treats a "\*"/,
    ],
  ]
  for (const [edit, message] of cases) {
    const restore = await tamper((record) => edit(record.answers))
    try {
      const r = await world.run([...world.flags, '--yes', '--only', 'preflight'])
      assert.is(r.code, 2, show(r))
      assert.match(r.stderr, message)
      assert.not.match(r.stdout, /undoing/, 'nothing was undone')
    } finally {
      await restore()
    }
  }
  // A valid answer is kept, and a flag given now still wins over it.
  const restore = await tamper((record) => {
    record.answers.managerPrincipals = ['cluster.local/ns/default/sa/saved']
  })
  try {
    const r = await world.run([
      ...world.flags,
      '--dry-run',
      '--from',
      'istioctl',
      '--manager-principals',
      'cluster.local/ns/default/sa/given-now',
    ])
    assert.is(r.code, 0, show(r))
    assert.match(r.stdout, /cluster\.local\/ns\/default\/sa\/given-now/)
    assert.not.match(r.stdout, /sa\/saved/)
  } finally {
    await restore()
  }
})

test.run()
