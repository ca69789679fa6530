// Integration-test harness: a simulated cluster per test file, and the real runbook CLI run against it as
// a child process (real kubectl, real HTTP, real downloads from the loopback mirror).
import { mkdtempSync, readdirSync, readFileSync, existsSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { kubectl, runCommand, type ProcessResult } from './kit.ts'
import { runbookFlags, startSimulator, type SimOptions, type Simulator } from './sim/index.ts'
import { TerminalSession } from './tty.ts'
import type { RunbookState } from '../lib/run/state.ts'
import { decodeRecord, encodeRecord } from '../lib/run/record.ts'

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
  entry ??= builtIsCurrent()
    ? [join(ROOT, 'bin', 'gthulhu-runbook.mjs')]
    : ['--import', TSX_LOADER, join(ROOT, 'runbook.ts')]
  return entry
}

/** Whether dist/ was built after every source file changed (as in a fresh clone after npm ci). */
export function builtIsCurrent(): boolean {
  const built = join(ROOT, 'dist', 'runbook.js')
  return (
    existsSync(built) &&
    statSync(built).mtimeMs >= Math.max(...['runbook.ts', 'lib', 'steps'].map((p) => newestSource(join(ROOT, p))))
  )
}

export interface RunbookWorld {
  sim: Simulator
  /** Private working directory of this world: install dir, state file. */
  dir: string
  installDir: string
  stateFile: string
  /** Flags that point the runbook at this simulator (context, kubeconfig, mirrors, install dir, state file). */
  flags: string[]
  /** The runbook CLI in `options.cwd` (default: this world's directory). */
  run(
    args: string[],
    options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string; cwd?: string; closedStdout?: boolean },
  ): Promise<ProcessResult>
  /** This world's flags with a copy of its kubeconfig (file `name`) changed by `edit`: a dead server, a namespace. */
  flagsWithKubeconfig(name: string, edit: (kubeconfig: any) => void): string[]
  /** The local copy of the record (written after every change). */
  state(): RunbookState
  /** Edits the latest revision of the record in the cluster, as someone with write access to its Secret could. */
  editRecord(edit: (record: RunbookState) => void): Promise<void>
  /** The holder of the run's lock (the Lease in the Gthulhu namespace), or undefined when nobody holds it. */
  lockHolder(namespace?: string): Promise<string | undefined>
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
        cwd: runOptions.cwd ?? dir,
        env: { ...process.env, ...sim.env, CI: 'true', NO_COLOR: '1', ...runOptions.env },
        input: runOptions.input,
        timeoutMs: runOptions.timeoutMs ?? 120_000,
        closedStdout: runOptions.closedStdout,
      }),
    flagsWithKubeconfig: (name, edit) => {
      const kubeconfig = join(dir, name)
      const copy = parseYaml(readFileSync(sim.kubeconfig, 'utf8'))
      edit(copy)
      writeFileSync(kubeconfig, JSON.stringify(copy))
      return flags.map((f) => (f === sim.kubeconfig ? kubeconfig : f))
    },
    state: () => {
      if (!existsSync(stateFile)) throw new Error(`no state file at ${stateFile}`)
      return JSON.parse(readFileSync(stateFile, 'utf8'))
    },
    kubectlJson,
    editRecord: async (edit) => {
      const namespace = (await kubectlJson('config', 'view', '--minify')).contexts[0].context.namespace ?? 'default'
      const { items } = await kubectlJson('get', 'secrets', '-n', namespace, '-l', 'owner=gthulhu-runbook')
      const latest = items.sort(
        (a: any, b: any) => Number(b.metadata.labels.version) - Number(a.metadata.labels.version),
      )[0]
      if (!latest) throw new Error(`no record in namespace ${namespace}`)
      const record = JSON.parse(decodeRecord(latest.data.record))
      edit(record)
      latest.data.record = encodeRecord(JSON.stringify(record))
      const r = await kubectl(sim.env, ['replace', '-f', '-'], { input: JSON.stringify(latest) })
      if (r.code !== 0) throw new Error(`replacing the record failed: ${r.stderr}`)
    },
    lockHolder: async (namespace = 'default') => {
      const r = await kubectl(sim.env, [
        'get',
        'lease',
        'gthulhu-runbook',
        '-n',
        namespace,
        '-o',
        'json',
        '--ignore-not-found',
      ])
      if (r.code !== 0) throw new Error(`reading the lease failed: ${r.stderr}`)
      return r.stdout.trim() ? (JSON.parse(r.stdout).spec?.holderIdentity ?? undefined) : undefined
    },
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
    // The world's files go with it (the state, the installed istioctl): a suite run leaves nothing in the temp dir.
    stop: async () => {
      await sim.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** The last check whose name matches in a run's output: its line and the expected / observed / hint lines under it. */
export function checkOf(stdout: string, name: RegExp): string {
  const lines = stdout.split('\n')
  const at = lines.map((l) => name.test(l)).lastIndexOf(true)
  if (at < 0) throw new Error(`no check matching ${name} in:\n${stdout}`)
  return lines.slice(at, at + 4).join('\n')
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
