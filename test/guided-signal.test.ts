// SIGTERM (what systemd or `kill` sends) or SIGHUP (a closing terminal) while guided mode waits at a prompt: the
// prompt closes at once, the run exits 130 with its record saved and its lock (the Lease) released, and the next
// run is not refused.
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startWorld, type RunbookWorld, startGuided } from './harness.ts'
import type { TerminalSession } from './tty.ts'

let world: RunbookWorld
const sessions: TerminalSession[] = []
test.before(async () => {
  world = await startWorld()
  const setup = await world.run([...world.flags, '--yes', '--only', 'preflight'])
  if (setup.code !== 0) throw new Error(`setup failed: ${setup.stdout}${setup.stderr}`)
})
test.after(async () => {
  await Promise.all(sessions.map((s) => s.close()))
  await world?.stop()
})

async function guided(args: string[]): Promise<TerminalSession> {
  const session = await startGuided(world, args)
  sessions.push(session)
  return session
}

/** The runbook's own pid: the only child of the pane's wrapper shell. */
function runbookPid(shellPid: number): number {
  const children = readFileSync(`/proc/${shellPid}/task/${shellPid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter(Boolean)
  if (children.length !== 1)
    throw new Error(`expected one child of the pane's shell, found: ${children.join(', ') || 'none'}`)
  return Number(children[0])
}

test('SIGTERM at "Run istioctl?" exits 130 at once, releases the lock and keeps the state', async () => {
  const session = await guided([...world.flags, '--only', 'istioctl'])
  await session.waitFor(/Run istioctl\?/, 180_000)
  assert.ok(await world.lockHolder(), 'the run holds its lock while it asks')
  const started = Date.now()
  process.kill(runbookPid(await session.pid()), 'SIGTERM')
  assert.is(await session.exitCode(60_000), 130)
  // Leaving saves the record and gives the Lease back (two API calls), so "at once" allows for a busy machine.
  assert.ok(Date.now() - started < 30_000, `exit took ${Date.now() - started}ms`)
  const screen = await session.screen()
  assert.match(screen, /interrupted/)
  assert.match(screen, /Resume with:/)
  assert.is(await world.lockHolder(), undefined, 'the lock must be released')
  const state = world.state()
  assert.is(state.steps.preflight?.status, 'done', 'what earlier runs recorded is kept')
  assert.not.equal(state.steps.istioctl?.status, 'done')
})

test('a second SIGTERM while the first is handled still releases the lock; the next run is not refused', async () => {
  const session = await guided([...world.flags, '--only', 'istioctl'])
  await session.waitFor(/Run istioctl\?/, 180_000)
  const pid = runbookPid(await session.pid())
  process.kill(pid, 'SIGTERM')
  process.kill(pid, 'SIGTERM')
  assert.is(await session.exitCode(60_000), 130)
  assert.is(await world.lockHolder(), undefined, 'the lock must be released')
  const next = await world.run([...world.flags, '--yes', '--only', 'preflight'])
  assert.is(next.code, 0, next.stderr)
})

test('closing the terminal (SIGHUP) at a prompt still saves the record as interrupted and releases the lock', async () => {
  // The run labels the previous revision of its record superseded while it asks; the API server holds that write
  // until the terminal is gone, so the hang-up reaches the run with the write in flight, as on a slow cluster.
  let arrived!: () => void
  let release!: () => void
  const labelling = new Promise<void>((resolve) => (arrived = resolve))
  const released = new Promise<void>((resolve) => (release = resolve))
  world.sim.faults.api.push({ method: 'PATCH', pathIncludes: '/secrets/', times: 1, hold: { arrived, released } })
  const session = await guided([...world.flags, '--only', 'istioctl'])
  await session.waitFor(/Run istioctl\?/, 180_000)
  await labelling
  const pid = runbookPid(await session.pid())
  assert.ok(await world.lockHolder(), 'the run holds its lock while it asks')
  await session.close() // the terminal goes away: tmux hangs up the pane
  release()
  const deadline = Date.now() + 60_000
  while (existsSync(`/proc/${pid}`)) {
    if (Date.now() > deadline) throw new Error(`the runbook (pid ${pid}) still runs a minute after its terminal closed`)
    await new Promise((r) => setTimeout(r, 100))
  }
  // Released, not merely expired: an expired Lease still names its holder.
  assert.is(await world.lockHolder(), undefined, 'the lock must be released')
  const revisions = (await world.kubectlJson('get', 'secrets', '-l', 'owner=gthulhu-runbook')).items.sort(
    (a: any, b: any) => Number(b.metadata.labels.version) - Number(a.metadata.labels.version),
  )
  assert.is(revisions[0]?.metadata.labels.status, 'interrupted', 'the run saved its record as it left')
  const next = await world.run([...world.flags, '--yes', '--only', 'preflight'])
  assert.is(next.code, 0, next.stderr)
})

test("SIGTERM at a step's own question (which browsers?) also exits 130 at once with the lock released", async () => {
  // l7-policies asks its questions before it runs; it needs gateway and waypoint done, which this test records
  // directly in the record instead of running them (no step runs here: the run stops at the question).
  await world.editRecord((record) => {
    for (const id of ['gateway', 'waypoint'] as const)
      record.steps[id] = { status: 'done', finishedAt: new Date().toISOString() }
  })
  const session = await guided([...world.flags, '--only', 'l7-policies'])
  await session.waitFor(/Run l7-policies\?/, 180_000)
  await session.keys('Enter')
  await session.waitFor(/Which browsers may open the Web UI/, 60_000)
  const started = Date.now()
  process.kill(runbookPid(await session.pid()), 'SIGTERM')
  assert.is(await session.exitCode(60_000), 130)
  // Leaving saves the record and gives the Lease back (two API calls), so "at once" allows for a busy machine.
  assert.ok(Date.now() - started < 30_000, `exit took ${Date.now() - started}ms`)
  assert.match(await session.screen(), /Resume with:/)
  assert.is(await world.lockHolder(), undefined, 'the lock must be released')
  assert.is(world.state().steps.preflight?.status, 'done')
})

test.run()
