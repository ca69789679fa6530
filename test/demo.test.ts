// `npm run demo` in a real terminal: after the run the simulated cluster stays up, the printed Web UI URL
// answers (the gateway admits Chrome on macOS, refuses curl), kubectl works through the printed env file, and
// Ctrl-C stops everything with exit 0. `--exit` and a run without a terminal stop right after the runbook.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ROOT } from './harness.ts'
import { kubectl, runCommand } from './kit.ts'
import { TerminalSession } from './tty.ts'
import { demoFlags, demoStateFile, keepsClusterUp, splitDemoArgs } from './sim/demo.ts'

const CHROME_ON_MACOS =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
const CURL = 'curl/8.11.1'

const sessions: TerminalSession[] = []
test.after(async () => {
  await Promise.all(sessions.map((s) => s.close()))
})

async function demoInTerminal(args: string[]): Promise<TerminalSession> {
  const session = await TerminalSession.start(['npm', 'run', 'demo', '--', ...args], { env: process.env, cwd: ROOT })
  sessions.push(session)
  return session
}

async function statusFor(url: string, userAgent: string): Promise<number> {
  const response = await fetch(url, { headers: { 'user-agent': userAgent }, signal: AbortSignal.timeout(30_000) })
  await response.body?.cancel()
  return response.status
}

test('demo-only flags are taken out of what the runbook gets; only a terminal run without --exit keeps the cluster up', () => {
  assert.equal(splitDemoArgs(['--yes', '--exit', '--only', 'preflight']), {
    exit: true,
    runbookArgs: ['--yes', '--only', 'preflight'],
  })
  assert.equal(splitDemoArgs(['--yes']), { exit: false, runbookArgs: ['--yes'] })
  assert.ok(keepsClusterUp(false, ['--yes'], true))
  assert.not.ok(keepsClusterUp(true, ['--yes'], true), '--exit stops it')
  assert.not.ok(keepsClusterUp(false, ['--yes'], false), 'no terminal: scripts keep the old behaviour')
  assert.not.ok(keepsClusterUp(false, ['--help'], true), '--help touches no cluster')
  assert.is(demoStateFile(['--yes'], '/tmp/sim'), '/tmp/sim/state.json')
  assert.is(
    demoStateFile(['--state-file', '/a.json', '--state-file=/b.json'], '/tmp/sim'),
    '/b.json',
    'the last one wins, as in the runbook',
  )
  assert.is(
    demoStateFile(['--state-file', 'mine.json'], '/tmp/sim'),
    join(ROOT, 'mine.json'),
    'relative to the project root, where the runbook runs',
  )
  assert.equal(
    demoFlags(['--context', 'gthulhu-sim', '--state-file', '/tmp/sim/state.json'], ['--state-file=mine.json', '--yes']),
    ['--context', 'gthulhu-sim', '--state-file=mine.json', '--yes'],
    "a flag the operator gave replaces the demo's, so no flag is passed (or printed in the resume command) twice",
  )
})

test('npm run demo -- --yes in a terminal keeps the cluster and the Web UI up until Ctrl-C, then exits 0', async () => {
  const session = await demoInTerminal(['--yes'])
  // Bounds, not pauses: each wait ends when its text appears. A full run on a machine with one core kept busy
  // takes minutes; the bounds are the resumed full run's below.
  const screen = await session.waitFor(/Press Ctrl-C to stop it/, 600_000)
  assert.match(screen, /the simulated cluster is still running/)
  const url = /Open the Web UI at (http:\/\/\S+)/.exec(screen)?.[1]
  assert.ok(url, `no Web UI URL printed:\n${screen}`)
  assert.ok(screen.includes(`Web UI:  ${url}`), 'the URL is repeated in the keep-alive notice')
  assert.is(await statusFor(url!, CHROME_ON_MACOS), 200, 'Chrome on macOS passes the gateway')
  assert.is(await statusFor(url!, CURL), 403, "curl's User-Agent is refused")
  assert.match(screen, /it answers 200 to Chrome on macOS and 403 to curl\//)

  const envFile = /kubectl: \. (\S+) && kubectl --context (\S+) get pods -A/.exec(screen)
  assert.ok(envFile, `no kubectl instructions:\n${screen}`)
  const env = Object.fromEntries(
    [...readFileSync(envFile![1], 'utf8').matchAll(/^export (\w+)='?([^'\n]*)'?$/gm)].map((m) => [m[1], m[2]]),
  )
  const pods = await kubectl(env, ['--context', envFile![2], 'get', 'pods', '-n', 'default', '-o', 'name'])
  assert.is(pods.code, 0, pods.stderr)
  assert.match(pods.stdout, /pod\/gthulhu-manager-/)

  await session.keys('C-c')
  assert.is(await session.exitCode(30_000), 0)
  assert.match(await session.screen(), /SIGINT: stopping the simulated cluster/)
  const after = await fetch(url!, { signal: AbortSignal.timeout(2_000) }).then(
    (r) => `HTTP ${r.status}`,
    () => 'closed',
  )
  assert.is(after, 'closed', 'the Web UI listener is gone once the demo stopped')
})

test('--exit in a terminal, and a run without a terminal, stop the cluster right after the runbook', async () => {
  const session = await demoInTerminal(['--exit', '--dry-run', '--only', 'preflight'])
  assert.is(await session.exitCode(240_000), 0)
  const screen = await session.screen()
  assert.match(screen, /kubectl --kubeconfig \S+ --context gthulhu-sim version/, 'the dry run printed its plan')
  assert.not.match(screen, /still running/)

  const unattended = await runCommand('npm', ['run', 'demo', '--', '--dry-run', '--only', 'preflight'], {
    cwd: ROOT,
    timeoutMs: 240_000,
  })
  assert.is(unattended.code, 0, unattended.stderr)
  assert.not.match(unattended.stdout + unattended.stderr, /still running/)
})

// Positions in guided mode's menus.
const BEFORE_ALL = 3
const AFTER_FAILURE_QUIT = 4 // retry, run again, roll back, accept, quit

async function simFaults(controlUrl: string, faults: object): Promise<void> {
  const response = await fetch(`${controlUrl}/sim/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(faults),
    signal: AbortSignal.timeout(10_000),
  })
  assert.is(response.status, 200, await response.text())
}

test('a failed step and Quit keep the cluster up; the printed resume command finishes the run from a second terminal; Ctrl-C removes the demo folder', async () => {
  const demo = await demoInTerminal([])
  const started = await demo.waitFor(/Run preflight\?/, 240_000)
  const [, apiUrl, simDir] = /simulated cluster at (https:\/\/\S+) \(files in (\S+)\)/.exec(started) ?? []
  assert.ok(apiUrl && simDir, started)
  // The simulator's own routes answer plain HTTP on the API server's port (test/sim/README.md).
  const controlUrl = apiUrl.replace(/^https:/, 'http:')
  // The mirror serves a checksum that does not match: the istioctl step fails before installing anything.
  await simFaults(controlUrl, { wrongChecksum: true })
  await demo.keys(...Array(BEFORE_ALL).fill('Down'), 'Enter')
  await demo.waitFor(/istioctl did not verify\. What now\?/, 240_000)
  await demo.keys(...Array(AFTER_FAILURE_QUIT).fill('Down'), 'Enter')
  const stopped = await demo.waitFor(/Press Ctrl-C to stop it/, 240_000)
  assert.match(stopped, /the simulated cluster is still running/)
  const resume = /Resume with:\n\s+(npm start -- .+)/.exec(stopped)?.[1]
  assert.ok(resume, `no resume command:\n${stopped}`)
  const flags = resume!.split(' ').filter((word) => word.startsWith('--'))
  assert.equal(
    flags.filter((flag, i) => flags.indexOf(flag) !== i),
    [],
    `no flag twice in ${resume}`,
  )
  assert.ok(resume!.includes(`--state-file ${simDir}/state.json`), resume)

  await simFaults(controlUrl, { wrongChecksum: false })
  const second = await TerminalSession.start(['bash', '-c', resume!], { env: process.env, cwd: ROOT })
  sessions.push(second)
  await second.waitFor(/Run istioctl\?/, 240_000)
  await second.keys(...Array(BEFORE_ALL).fill('Down'), 'Enter')
  const finished = await second.waitFor(/Summary:[\s\S]*Open the Web UI at/, 600_000)
  assert.is(await second.exitCode(60_000), 0, finished)
  assert.not.match(finished, /done\s+preflight/, 'the resumed run starts at the step that failed')
  assert.match(finished, /not run\s+preflight\s+\(done in an earlier run\)/)
  assert.match(finished, /done\s+l7-policies/)
  // It ran against the first demo's cluster: that cluster now has the hardening.
  const env = { KUBECONFIG: join(simDir, 'kubeconfig') }
  const policies = await kubectl(env, ['get', 'networkpolicies', '-n', 'default', '-o', 'name'])
  assert.match(policies.stdout, /allow-only-manager-to-mongodb/, policies.stderr)

  await demo.keys('C-c')
  assert.is(await demo.exitCode(60_000), 1, "the demo exits with the first run's code")
  assert.not.ok(existsSync(simDir), `${simDir} is removed when the demo stops`)
})

test.run()
