// Integration-test harness: a simulated cluster per test file, and the real runbook CLI run against it as
// a child process (real kubectl, real HTTP, real downloads from the loopback mirror).
import { mkdtempSync, readdirSync, readFileSync, existsSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { kubectl, runCommand, type ProcessResult } from './kit.ts'
import { runbookFlags, startSimulator, type SimOptions, type Simulator } from './sim/index.ts'
import { TerminalSession } from './tty.ts'
import type { RunbookState } from '../lib/run/state.ts'

export const ROOT = join(import.meta.dirname, '..')
/** tsx's loader by absolute URL: the runbook runs with another working directory. */
export const TSX_LOADER = import.meta.resolve('tsx')

function newestSource(path: string): number {
  const stat = statSync(path)
  if (!stat.isDirectory()) return path.endsWith('.ts') ? stat.mtimeMs : 0
  return Math.max(0, ...readdirSync(path).map((name) => newestSource(join(path, name))))
}

let entry: string[] | undefined
/**
 * How tests start the runbook: the published command (bin/ → dist/, built by `npm ci`) when dist/ is newer than
 * every source file, as it is in a fresh clone — it starts in a fraction of the time tsx needs to compile the
 * TypeScript each time —, else the TypeScript through tsx, so an edit is never tested against an old build.
 */
export function runbookEntry(): string[] {
  if (entry) return entry
  const built = join(ROOT, 'dist', 'runbook.js')
  const fresh =
    existsSync(built) &&
    statSync(built).mtimeMs >= Math.max(...['runbook.ts', 'lib', 'steps'].map((p) => newestSource(join(ROOT, p))))
  entry = fresh ? [join(ROOT, 'bin', 'gthulhu-runbook.mjs')] : ['--import', TSX_LOADER, join(ROOT, 'runbook.ts')]
  return entry
}

export interface RunbookWorld {
  sim: Simulator
  /** Private working directory of this world: install dir, state file. */
  dir: string
  installDir: string
  stateFile: string
  /** Flags that point the runbook at this simulator (context, kubeconfig, mirrors, install dir, state file). */
  flags: string[]
  run(args: string[], options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string }): Promise<ProcessResult>
  state(): RunbookState
  /** `kubectl get … -o json` against the simulator, parsed; fails the test when kubectl fails. */
  kubectlJson(...args: string[]): Promise<any>
  /** Names of probe pods still present, after giving asynchronous deletion a few seconds. */
  probePodsLeft(): Promise<string[]>
  stop(): Promise<void>
}

export async function startWorld(options: SimOptions = {}): Promise<RunbookWorld> {
  return worldAround(await startSimulator(options))
}

/** The runbook's side of a world around a running simulator: a private directory, flags, helpers. */
export function worldAround(sim: Simulator, dir = mkdtempSync(join(tmpdir(), 'runbook-world-'))): RunbookWorld {
  const installDir = join(dir, 'bin')
  const stateFile = join(dir, 'state.json')
  const flags = runbookFlags(sim, installDir, stateFile)
  const kubectlJson = async (...args: string[]) => {
    const r = await kubectl(sim.env, [...args, '-o', 'json'])
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
    return JSON.parse(r.stdout)
  }
  return {
    sim,
    dir,
    installDir,
    stateFile,
    flags,
    run: (args, runOptions = {}) =>
      runCommand(process.execPath, [...runbookEntry(), ...args], {
        cwd: dir,
        env: { ...process.env, ...sim.env, CI: 'true', NO_COLOR: '1', ...runOptions.env },
        input: runOptions.input,
        timeoutMs: runOptions.timeoutMs ?? 120_000,
      }),
    state: () => {
      if (!existsSync(stateFile)) throw new Error(`no state file at ${stateFile}`)
      return JSON.parse(readFileSync(stateFile, 'utf8'))
    },
    kubectlJson,
    probePodsLeft: async () => {
      // Probe pods are deleted without waiting; give the API server a moment to forget them.
      for (let i = 0; ; i++) {
        const pods = (
          await kubectlJson('get', 'pods', '--all-namespaces', '-l', 'app.kubernetes.io/managed-by=gthulhu-runbook')
        ).items
        if (pods.length === 0 || i >= 20) return pods.map((p: any) => p.metadata.name)
        await new Promise((r) => setTimeout(r, 250))
      }
    },
    stop: () => sim.stop(),
  }
}

/** The runbook's stdout and stderr, for assertion messages. */
export const show = (result: ProcessResult) =>
  `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`

/** The runbook against `world` in a real terminal (tmux), for guided-mode tests; the caller closes the session. */
export function startGuided(world: RunbookWorld, args: string[]): Promise<TerminalSession> {
  return TerminalSession.start([process.execPath, ...runbookEntry(), ...args], {
    env: { ...process.env, ...world.sim.env },
    cwd: world.dir,
  })
}
