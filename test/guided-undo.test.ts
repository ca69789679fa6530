// Guided undo in a real terminal: --rollback shows what the undo will do and asks; quitting changes nothing,
// confirming undoes the step and records it as undone.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld, startGuided } from './harness.ts'
import type { TerminalSession } from './tty.ts'

let world: RunbookWorld
const sessions: TerminalSession[] = []
test.before(async () => {
  world = await startWorld()
  const r = await world.run([...world.flags, '--yes', '--only', 'preflight,istioctl'])
  assert.is(r.code, 0, show(r))
})
test.after(async () => {
  await Promise.all(sessions.map((s) => s.close()))
  await world?.stop()
})

async function guided(args: string[]): Promise<TerminalSession> {
  // A session an earlier (failed) test left open is closed first, and its run gives the lock back as it leaves:
  // each test starts with the cluster free, so one failure does not fail the next for another reason.
  await Promise.all(sessions.splice(0).map((s) => s.close()))
  const deadline = Date.now() + 120_000
  while (await world.lockHolder()) {
    if (Date.now() > deadline) throw new Error(`the lock is still held by ${await world.lockHolder()}`)
    await new Promise((r) => setTimeout(r, 250))
  }
  const session = await startGuided(world, args)
  sessions.push(session)
  return session
}

const istioctl = () => join(world.installDir, 'istioctl')

test('--rollback shows the undo and asks; quitting leaves the step done and the binary in place', async () => {
  const session = await guided([...world.flags, '--rollback', 'istioctl'])
  const asked = await session.waitFor(/Undo istioctl\?/)
  assert.match(
    asked,
    new RegExp(
      `Undo will:\\n\\s+• remove ${istioctl().replace(/[./]/g, '\\$&')} if it is still the binary the runbook installed \\(same SHA-256\\)`,
    ),
  )
  assert.ok(await world.lockHolder(), 'the run holds the lock while it asks')
  await session.keys('Down', 'Enter')
  await session.waitFor(/stopped before undoing istioctl at the operator's request/)
  assert.is(await session.exitCode(), 130)
  assert.is(await world.lockHolder(), undefined, 'quitting gives the lock back')
  assert.is(world.state().steps.istioctl?.status, 'done')
  assert.ok(existsSync(istioctl()))
})

test('confirming undoes the step, verifies it, and records it as undone', async () => {
  const session = await guided([...world.flags, '-v', '--rollback', 'istioctl'])
  await session.waitFor(/Undo istioctl\?/)
  await session.keys('Enter')
  const done = await session.waitFor(/Summary:[\s\S]*undone\s+istioctl/)
  assert.match(done, /✔ istioctl at \S+ removed/)
  assert.is(await session.exitCode(), 0)
  assert.is(await world.lockHolder(), undefined)
  assert.is(world.state().steps.istioctl?.status, 'undone')
  assert.not.ok(existsSync(istioctl()))
})

test.run()
