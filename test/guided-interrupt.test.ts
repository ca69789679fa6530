import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld, startGuided } from './harness.ts'
import type { TerminalSession } from './tty.ts'

let world: RunbookWorld
const sessions: TerminalSession[] = []
test.before(async () => {
  world = await startWorld()
  // Everything l7-policies needs, done unattended.
  const setup = await world.run(
    [...world.flags, '--yes', '--only', 'preflight,istioctl,gateway-api-crds,ambient,gateway,waypoint'],
    { timeoutMs: 300_000 },
  )
  if (setup.code !== 0) throw new Error(`setup failed\n${show(setup)}`)
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

const probePods = () =>
  world.sim.store.list(
    world.sim.store.findType('', 'v1', 'pods')!,
    'default',
    (labels) => labels['app.kubernetes.io/managed-by'] === 'gthulhu-runbook',
  )

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

let resumeArgs: string[] = []

test('questions are asked at the step that needs them; Ctrl-C during its probes removes them, marks it interrupted, exits 130', async () => {
  world.sim.faults.probePodsPending = true // the probes never finish: the step is mid-verification when Ctrl-C comes
  const session = await guided([...world.flags, '--only', 'l7-policies'])
  await session.waitFor(/Run l7-policies\?/)
  await session.keys('Enter')
  await session.waitFor(/Which browsers may open the Web UI/)
  await session.keys('Enter') // keep the guide's Chrome on macOS
  await session.waitFor(/Which identities may call the manager/)
  await session.keys('Enter') // the scheduler's identity
  await session.waitFor(/pass through the manager's waypoint\?/)
  await session.keys('Enter') // no: the guide's path
  await session.waitFor(/--ingress-via-waypoint false \(kept for resumed runs\)/)
  // The step applies its policies and waits for them before it probes: allow for a busy machine.
  await until(() => probePods().length > 0, 'the probe pods', 300_000)
  await session.keys('C-c')
  const screen = await session.waitFor(/Resume with:\n\s+(.+)/)
  assert.is(await session.exitCode(), 130)
  assert.match(screen, /interrupted/)
  await until(() => probePods().length === 0, 'the probe pods to be removed', 60_000)
  const state = world.state()
  assert.is(state.steps['l7-policies']?.status, 'interrupted')
  assert.equal(state.answers.managerPrincipals, ['cluster.local/ns/default/sa/gthulhu'])
  assert.is(state.answers.ingressViaWaypoint, false)
  resumeArgs = /Resume with:\n\s+npx (?:tsx \S+|gthulhu-runbook) (.+)/.exec(screen)![1].split(' ')
  assert.ok(resumeArgs.includes('--only') && resumeArgs.includes('l7-policies'), resumeArgs.join(' '))
})

test('the resumed run does not ask the questions again and completes the step', async () => {
  world.sim.faults.probePodsPending = false
  const session = await guided(resumeArgs)
  await session.waitFor(/Run l7-policies\?/)
  await session.keys('Enter')
  const done = await session.waitFor(/Summary:[\s\S]*done\s+l7-policies/, 120_000)
  assert.not.match(done, /Which browsers may open the Web UI/)
  assert.not.match(done, /Which identities may call the manager/)
  assert.is(await session.exitCode(), 0)
  assert.is(world.state().steps['l7-policies']?.status, 'done')
  assert.is(probePods().length, 0)
})

test('a guided run through restart, identity-policies and l7-policies ends with every waypoint bypass refused', async () => {
  const session = await guided([...world.flags, '--only', 'restart,identity-policies,l7-policies'])
  await session.waitFor(/Run restart\?/)
  await session.keys('Down', 'Down', 'Down', 'Enter') // run this and all remaining steps without asking
  await session.waitFor(/Summary:[\s\S]*done\s+l7-policies/, 240_000)
  assert.is(await session.exitCode(), 0)
  const { steps } = world.state()
  for (const id of ['identity-policies', 'l7-policies'] as const) {
    const bypasses = (steps[id]?.checks ?? []).filter((c) =>
      /^(pod outside the mesh|enrolled pod, ServiceAccount default|manager's labels, ServiceAccount default) → .*: refused$/.test(
        c.name,
      ),
    )
    assert.ok(
      bypasses.length >= (id === 'identity-policies' ? 4 : 2),
      `${id}: ${bypasses.map((c) => c.name).join('; ')}`,
    )
    assert.ok(
      bypasses.every((c) => c.ok && !c.advisory),
      `${id}: every bypass refused, as a passing check`,
    )
  }
  assert.is(probePods().length, 0)
})

test.run()
