// Guided mode keeps its word, in a real terminal: the full plan shows what the preview did not, skipping a step
// names the steps that need it and their checks read "skipped: needs <step>", "without asking" asks nothing more
// (the answers it takes are listed once) and its run still ends with the ledger of what stays open, and picking the
// context of a done cluster warns about no setting.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startGuided, startWorld, type RunbookWorld } from './harness.ts'
import type { TerminalSession } from './tty.ts'
import { ENGLISH } from '../lib/config/text.ts'
import { pathById, pathsTriedAt, TARGET_TITLES } from '../lib/verify/threat-model.ts'

let world: RunbookWorld
const sessions: TerminalSession[] = []
test.before(async () => {
  world = await startWorld()
  // Everything but the gateway, done unattended.
  const setup = await world.run(
    [...world.flags, '--yes', '--only', 'preflight,istioctl,gateway-api-crds,ambient,waypoint'],
    { timeoutMs: 300_000 },
  )
  if (setup.code !== 0) throw new Error(`setup failed\n${show(setup)}`)
})
// A test that fails mid-session leaves no runbook holding the cluster's lock for the next one.
test.after.each(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()))
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

// Positions in the menu shown before each step.
const BEFORE = { run: 0, plan: 1, skip: 2, all: 3, quit: 4 }
const choose = (session: TerminalSession, index: number) => session.keys(...Array(index).fill('Down'), 'Enter')

test('the full plan adds the manifests the preview only named; skipping gateway names l7-policies, whose gateway checks read "skipped: needs gateway"', async () => {
  const session = await guided([...world.flags, '--only', 'gateway,l7-policies'])
  const preview = await session.waitFor(/Run gateway\?/)
  assert.match(preview, /It will:\n[\s\S]*apply \(server-side\) Gateway default\/gthulhu-gw/)
  assert.not.match(preview, /kind: Gateway/, 'the preview names each manifest on one line')
  await choose(session, BEFORE.plan)
  const full = await session.waitFor(/Full plan of gateway:[\s\S]*Run gateway\?/)
  const fullPlan = full.slice(full.indexOf('Full plan of gateway:'))
  assert.match(fullPlan, /kind: Gateway[\s\S]*gatewayClassName: istio/, 'the full plan shows the manifests')
  assert.match(fullPlan, /kind: HTTPRoute/)

  await choose(session, BEFORE.skip)
  const warned = await session.waitFor(/Run l7-policies\?/)
  assert.match(
    warned,
    /⚠ skipping gateway: l7-policies needs it; their checks that depend on it will read "skipped: needs gateway"/,
  )
  await choose(session, BEFORE.all)
  const code = await session.exitCode(300_000)
  const done = await session.screen()
  assert.is(code, 0, done)
  // Each request through the gateway that l7-policies tries (a path of the threat model) reads skipped.
  const gatewayPaths = pathsTriedAt('l7-policies').filter((p) => p.trial.by === 'gateway request')
  assert.ok(gatewayPaths.length >= 2, 'l7-policies tries an allowed browser and curl through the gateway')
  for (const path of gatewayPaths) {
    const name = ENGLISH.checks.pathName(path.from, TARGET_TITLES[path.target], path.via, path.id)
    assert.ok(done.includes(`– ${name}: skipped: needs gateway`), `${path.id} reads skipped:\n${done}`)
  }
  assert.match(done, /– gthulhu-gateway-allow-chrome-only selects the gateway's pods: skipped: needs gateway/)
  assert.match(done, /done\s+l7-policies .*\(\d check\(s\) skipped: needs gateway\)/)
  assert.not.match(done, /no gateway facts|✖/, 'nothing reads as failed')
  const record = world.state().steps['l7-policies']
  assert.is(record?.status, 'done')
  for (const path of gatewayPaths)
    assert.ok(
      record?.checks?.some((c) => c.path === path.id && c.observed === 'skipped: needs gateway' && c.skipped),
      JSON.stringify(record?.checks),
    )
})

test('"without asking" asks nothing more: the answers the later questions take are listed once, then never asked', async () => {
  const session = await guided([...world.flags, '--only', 'gateway,restart,identity-policies,l7-policies'])
  await session.waitFor(/Run gateway\?/)
  await choose(session, BEFORE.all)
  const listed = await session.waitFor(
    /Running the remaining steps without asking\.[\s\S]*--ingress-via-waypoint false/,
  )
  assert.match(listed, /--allowed-user-agents Mozilla\/5\.0 \(Macintosh; Intel Mac OS X 10_15_7\)[^\n]*\(default\)/)
  assert.match(listed, /--manager-principals cluster\.local\/ns\/default\/sa\/gthulhu\s+\(default\)/)
  assert.match(listed, /--ingress-via-waypoint false\s+\(default\)/)
  const code = await session.exitCode(480_000)
  const done = await session.screen()
  assert.is(code, 0, done)
  assert.not.match(done, /Which browsers|Which identities|pass through the manager's waypoint\?|Run restart\?/)
  assert.is(done.match(/Running the remaining steps without asking/g)?.length, 1, 'said once')
  // The run ends with the threat model's ledger, after the summary: the paths of the steps never run here
  // (admission-policy) are open and say so, those of the steps done (identity-policies) are closed and tried.
  const summaryAt = done.lastIndexOf(ENGLISH.summary.title)
  const ledgerAt = done.lastIndexOf(ENGLISH.ledger.title)
  assert.ok(summaryAt >= 0 && ledgerAt > summaryAt, `the ledger follows the summary:\n${done}`)
  const ledger = done.slice(ledgerAt)
  const borrowed = pathById('borrowed-identity-by-pod')!
  assert.ok(
    ledger.includes(
      `${ENGLISH.ledger.open} ${ENGLISH.ledger.path(borrowed.id, borrowed.from, TARGET_TITLES[borrowed.target])}\n      ${ENGLISH.ledger.why(ENGLISH.ledger.notApplied('admission-policy'), borrowed.id)}`,
    ),
    `borrowed-identity-by-pod is open until admission-policy:\n${ledger}`,
  )
  assert.match(ledger, /^Closed and tried: [^\n]*\boutside-mesh-to-manager\b/m)
  // Every step whose checks all passed (per the record) is one line, with no check under it.
  const steps = world.state().steps
  const allGreen = (['gateway', 'restart', 'identity-policies', 'l7-policies'] as const).filter((id) =>
    steps[id]?.checks?.every((c) => c.ok),
  )
  assert.ok(allGreen.includes('gateway') && allGreen.includes('l7-policies'), JSON.stringify(allGreen))
  const stepLines = done.match(/^✔ [^\n]+: (\d+)\/\1 checks passed \(\d+\.\ds\)$/gm) ?? []
  assert.is(stepLines.length, allGreen.length, `each all-green step is one line:\n${done}`)
  for (const line of stepLines)
    assert.not.match(done.slice(done.indexOf(line) + line.length), /^\n\s+[✔⚠✖–] /, `nothing under: ${line}`)
  // restart warns that l4-policies has not run: its line says so, and the warning follows with its details.
  assert.match(
    done,
    /^⚠ Restart Gthulhu[^\n]*: 9\/10 checks passed \(\d+\.\ds\)\n\s+⚠ L4 reachability after the restart\n\s+expected:/m,
  )
})

test('picking the context of a cluster whose steps are done warns about no setting', async () => {
  const withoutContext = world.flags.filter((f, i, all) => f !== '--context' && all[i - 1] !== '--context')
  // --resume leaves the done steps out, so each is compared with the settings it ran with (a step run again is not).
  const session = await guided([...withoutContext, '--resume'])
  await session.waitFor(/Which kube context should the runbook harden\?/)
  await session.keys('Enter')
  const offered = await session.waitFor(/Run l4-policies\?|Run preflight\?/)
  assert.not.match(offered, /other settings/)
  await choose(session, BEFORE.quit)
  assert.is(await session.exitCode(), 130)
})

test('every plan runs the same istioctl: the one the istioctl step installed', async () => {
  const r = await world.run([...world.flags, '--dry-run', '--only', 'ambient,waypoint,restart'])
  assert.is(r.code, 0, show(r))
  const istioctlLines = r.stdout.split('\n').filter((line) => /^\s+\$ \S*istioctl /.test(line))
  assert.ok(istioctlLines.length >= 4, istioctlLines.join('\n'))
  const binaries = new Set(istioctlLines.map((line) => line.trim().split(' ')[1]))
  assert.equal([...binaries], [`${world.installDir}/istioctl`])
})

test.run()
