// `npm run demo -- [--exit] [runbook flags]`: the runbook against a fresh simulated cluster. Starts the simulator
// in process, runs `runbook.ts` as a child with stdio inherited and the simulator's kubeconfig, mirrors and a
// scratch install dir and state file. In a terminal the simulated cluster then stays up (kubectl and the Web UI
// keep working) until Ctrl-C or SIGTERM; `--exit`, or no terminal on stdin, stops it at once. Either way the
// demo exits with the runbook's exit code.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { runbookFlags, startSimulator, type Simulator } from './index.ts'
import { sampleUserAgent } from '../../lib/config/user-agents.ts'
import { GUIDE_USER_AGENT } from '../../lib/config/options.ts'

const root = join(import.meta.dirname, '..', '..')
const runbook = join(root, 'runbook.ts')
const RUNBOOK_TIMEOUT_MS = 60 * 60_000
const WEB_UI_CHECK_TIMEOUT_MS = 5_000
// Any curl/<version> will do: the guide's gateway policy admits none of them.
const CURL_USER_AGENT = 'curl/8.11.1'

/** Flags the demo itself takes; everything else goes to the runbook. */
export const DEMO_FLAGS = ['--exit'] as const
/** Runbook flags that only print something: nothing is left to look at afterwards. */
const PRINT_ONLY_FLAGS = ['--help', '-h', '--version']

export function splitDemoArgs(argv: string[]): { exit: boolean; runbookArgs: string[] } {
  return {
    exit: argv.includes('--exit'),
    runbookArgs: argv.filter((a) => !(DEMO_FLAGS as readonly string[]).includes(a)),
  }
}

/** The state file the runbook will use: the last --state-file given (the runbook's rule), else one in the simulator's dir. */
export function demoStateFile(runbookArgs: string[], simDir: string): string {
  let given: string | undefined
  runbookArgs.forEach((arg, i) => {
    if (arg === '--state-file') given = runbookArgs[i + 1]
    else if (arg.startsWith('--state-file=')) given = arg.slice('--state-file='.length)
  })
  // The runbook runs in the project root, so a relative path is relative to it.
  return given ? resolve(root, given) : join(simDir, 'state.json')
}

/** Keep the cluster up for a person at a terminal; scripts (no terminal, e.g. `--yes` in CI) get the old behaviour. */
export function keepsClusterUp(exit: boolean, runbookArgs: string[], interactive: boolean): boolean {
  return interactive && !exit && !runbookArgs.some((a) => PRINT_ONLY_FLAGS.includes(a))
}

/**
 * The flags that point the runbook at the simulator, less those the operator gave (theirs win): each flag once, so
 * the resume command the runbook prints has each flag once too.
 */
export function demoFlags(simulatorFlags: string[], runbookArgs: string[]): string[] {
  const given = (flag: string) => runbookArgs.some((a) => a === flag || a.startsWith(`${flag}=`))
  const kept: string[] = []
  for (let i = 0; i < simulatorFlags.length; i += 2)
    if (!given(simulatorFlags[i])) kept.push(simulatorFlags[i], simulatorFlags[i + 1])
  return [...kept, ...runbookArgs]
}

function runRunbook(sim: Simulator, runbookArgs: string[], stateFile: string, signals: SignalWatch): Promise<number> {
  const args = [
    '--import',
    'tsx',
    runbook,
    ...demoFlags(runbookFlags(sim, join(sim.dir, 'bin'), stateFile), runbookArgs),
  ]
  return new Promise<number>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...sim.env } })
    const timer = setTimeout(() => {
      console.error('demo: the runbook ran for an hour; stopping it')
      child.kill('SIGTERM')
    }, RUNBOOK_TIMEOUT_MS)
    // Ctrl-C reaches the runbook through the terminal (forwarding it too would count as a second Ctrl-C);
    // SIGTERM is sent to the demo alone, so it is passed on.
    signals.during((signal) => {
      if (signal === 'SIGTERM') child.kill('SIGTERM')
    })
    const done = (code: number) => {
      clearTimeout(timer)
      resolve(code)
    }
    child.on('close', (code, signal) => done(code ?? (signal ? 130 : 1)))
    child.on('error', (error) => {
      console.error(`demo: cannot start the runbook: ${error.message}`)
      done(1)
    })
  })
}

/** The Web UI URL the runbook recorded in its state, if the gateway step got that far. */
function webUiUrl(stateFile: string): string | undefined {
  try {
    return JSON.parse(readFileSync(stateFile, 'utf8')).facts?.gateway?.url
  } catch {
    return undefined
  }
}

/** What the URL answers a given User-Agent right now: a status code, or why there was no answer. */
async function answerTo(url: string, userAgent: string): Promise<string> {
  try {
    const response = await fetch(url, {
      headers: { 'user-agent': userAgent },
      signal: AbortSignal.timeout(WEB_UI_CHECK_TIMEOUT_MS),
    })
    await response.body?.cancel()
    return String(response.status)
  } catch (error) {
    return `no answer (${(error as Error).message})`
  }
}

async function describeWebUi(url: string): Promise<string> {
  const browser = sampleUserAgent(GUIDE_USER_AGENT)
  const curl = CURL_USER_AGENT
  const [forBrowser, forCurl] = await Promise.all([answerTo(url, browser), answerTo(url, curl)])
  return [
    `  Web UI:  ${url}`,
    `           it answers ${forBrowser} to Chrome on macOS and ${forCurl} to ${curl}; try:`,
    `           curl -s -o /dev/null -w '%{http_code}\\n' -A '${browser}' ${url}`,
  ].join('\n')
}

interface SignalWatch {
  /** The first signal received before any handler was set (during start-up), if any. */
  early(): NodeJS.Signals | undefined
  /** Routes SIGINT/SIGTERM to this handler from now on. */
  during(handler: (signal: NodeJS.Signals) => void): void
  /** Resolves on the next SIGINT or SIGTERM; later ones are ignored while the demo stops. */
  next(): Promise<NodeJS.Signals>
}

/** One listener for the demo's whole life, so no signal ever meets Node's default (an exit without cleanup). */
function watchSignals(): SignalWatch {
  let early: NodeJS.Signals | undefined
  let handler: (signal: NodeJS.Signals) => void = (signal) => {
    early ??= signal
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => handler(signal))
  return {
    early: () => early,
    during: (next) => (handler = next),
    next: () =>
      new Promise((resolve) => {
        // npm forwards the terminal's Ctrl-C to its child, so the same SIGINT usually arrives twice.
        handler = (signal) => {
          handler = () => {}
          resolve(signal)
        }
      }),
  }
}

async function main(): Promise<number> {
  const { exit, runbookArgs } = splitDemoArgs(process.argv.slice(2))
  const signals = watchSignals()
  const sim = await startSimulator()
  try {
    if (!existsSync(runbook)) {
      console.log(`runbook.ts does not exist yet. The simulated cluster is up; to use it by hand:
  . ${sim.dir}/env
  kubectl get pods -A
Mirrors: ${sim.istioMirror}  ${sim.gatewayApiMirror}
(stopping it now; run \`npm run sim\` to keep one running)`)
      return 0
    }
    if (signals.early()) return 130
    const stateFile = demoStateFile(runbookArgs, sim.dir)
    console.error(`demo: simulated cluster at ${sim.apiUrl} (files in ${sim.dir})`)
    const code = await runRunbook(sim, runbookArgs, stateFile, signals)
    if (!keepsClusterUp(exit, runbookArgs, process.stdin.isTTY === true)) return code
    const stopped = signals.next()
    const url = webUiUrl(stateFile)
    console.log(
      [
        '',
        `demo: the runbook exited ${code}; the simulated cluster is still running.`,
        `  kubectl: . ${join(sim.dir, 'env')} && kubectl --context ${sim.context} get pods -A`,
        url ? await describeWebUi(url) : '  Web UI:  not exposed (the gateway step did not run)',
        ...(code === 0
          ? []
          : [
              `  Resume:  run the "Resume with" command above from another terminal, in ${root}: it continues on this cluster.`,
            ]),
        `Press Ctrl-C to stop it and remove ${sim.dir} (npm run demo -- --exit stops right after the run).`,
      ].join('\n'),
    )
    const signal = await stopped
    console.log(`\ndemo: ${signal}: stopping the simulated cluster`)
    return code
  } finally {
    await sim.stop()
  }
}

if (process.argv[1] === import.meta.filename) process.exitCode = await main()
