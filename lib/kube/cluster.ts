// The one module that spawns kubectl and istioctl. Reads always use `-o json`; every command has a timeout
// and stops when the run is interrupted. Steps call this instead of building command lines themselves.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, openSync, readSync, statSync } from 'node:fs'
import { basename } from 'node:path'
import { yaml } from '../config/lazy-yaml.ts'
import { CommandError, StepFailure } from '../config/errors.ts'
import type { KubeObject } from './object.ts'

export interface CommandResult {
  argv: string[]
  exitCode: number | null
  stdout: string
  stderr: string
}

export interface CommandRun {
  argv: string[]
  /** null when a signal (timeout, Ctrl-C) ended it. */
  exitCode: number | null
  durationMs: number
}

export interface ClusterOptions {
  kubeconfig?: string
  context?: string
  /** Default timeout of one command. */
  timeoutMs?: number
  signal?: AbortSignal
  /** Called after every command with its line, exit code and duration (for -v/--verbose and JSON events). */
  onCommand?: (ran: CommandRun) => void
}

const DEFAULT_TIMEOUT_MS = 60_000
/** Quotes an argv for display so the operator can paste it into a shell. */
export function shellLine(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')
}

/**
 * The environment of every spawned command. zx runs commands through `bash -c` with stdin on a socket pair; bash
 * takes that for a remote shell and sources ~/.bashrc when SHLVL is unset or 0 (cron, CI, systemd), so each kubectl
 * call would run the operator's shell start-up (pyenv, nvm, …) — seconds each on a loaded machine. A SHLVL of at
 * least 1 turns that off (bash shell.c, run_startup_files: shell_level < 2).
 */
const COMMAND_ENV = { ...process.env, SHLVL: String(Math.max(1, Number(process.env.SHLVL) || 0)) }

/** The SHA-256 of a file, read in chunks (a real istioctl is about 100 MB). */
export function fileSha256(path: string): string {
  const hash = createHash('sha256')
  const fd = openSync(path, 'r')
  try {
    const chunk = Buffer.alloc(1 << 20)
    for (let read = readSync(fd, chunk); read > 0; read = readSync(fd, chunk)) hash.update(chunk.subarray(0, read))
  } finally {
    closeSync(fd)
  }
  return hash.digest('hex')
}

export class Cluster {
  istioctlPath = 'istioctl'
  /** The istioctl binaries this run may execute, each with the SHA-256 it was verified to have. */
  private readonly trustedIstioctl = new Map<string, string>()
  /** Hashes already computed, keyed by the file's identity and change times, so a binary is not re-read per call. */
  private readonly hashes = new Map<string, string>()

  constructor(readonly options: ClusterOptions = {}) {}

  /** The same cluster without the run's abort signal: cleanup after Ctrl-C must still be able to run kubectl. */
  forCleanup(): Cluster {
    const copy = new Cluster({ ...this.options, signal: undefined, timeoutMs: 30_000 })
    copy.istioctlPath = this.istioctlPath
    for (const [path, sha256] of this.trustedIstioctl) copy.trustedIstioctl.set(path, sha256)
    return copy
  }

  /** Allows the istioctl at `path` to run, and only while the file there still hashes to `sha256`. */
  trustIstioctl(path: string, sha256: string): void {
    this.trustedIstioctl.set(path, sha256)
  }

  /** Runs istioctl from `path` from now on (trusted as above). */
  useIstioctl(path: string, sha256: string): void {
    this.trustIstioctl(path, sha256)
    this.istioctlPath = path
  }

  /** Nothing named istioctl runs unless its bytes are the ones verified (checked before every use). */
  private assertVerifiedIstioctl(binary: string): void {
    if (basename(binary) !== 'istioctl') return
    const expected = this.trustedIstioctl.get(binary)
    if (!expected)
      throw new StepFailure(
        `refusing to run ${binary}: it is not an istioctl this runbook verified; run the istioctl step (--only istioctl) to install a checksum-verified one`,
      )
    let stat: ReturnType<typeof statSync>
    try {
      stat = statSync(binary)
    } catch (error) {
      throw new StepFailure(
        `the istioctl this runbook verified is not at ${binary} (${(error as NodeJS.ErrnoException).code}) on this machine; run --only istioctl to install it here`,
      )
    }
    const key = `${binary}:${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`
    const actual = this.hashes.get(key) ?? fileSha256(binary)
    this.hashes.set(key, actual)
    if (actual !== expected)
      throw new StepFailure(
        `refusing to run ${binary}: it changed since the runbook verified it (sha256 ${actual}, recorded ${expected}); find out who changed it, then move it away and run --only istioctl to install the verified release again`,
      )
  }

  /** The connection flags every kubectl/istioctl call carries, so nothing depends on the current context. */
  connectionArgs(): string[] {
    const { kubeconfig, context } = this.options
    return [...(kubeconfig ? ['--kubeconfig', kubeconfig] : []), ...(context ? ['--context', context] : [])]
  }

  kubectlArgv(args: string[]): string[] {
    return ['kubectl', ...this.connectionArgs(), ...args]
  }

  istioctlArgv(args: string[]): string[] {
    return [this.istioctlPath, ...this.connectionArgs(), ...args]
  }

  async exec(argv: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.assertVerifiedIstioctl(argv[0])
    const started = Date.now()
    let exitCode: number | null = null
    try {
      // zx is loaded on the first command only, so --help, --version and --list start fast.
      const { $ } = await import('zx/core')
      const output = await $({
        nothrow: true,
        quiet: true,
        timeout: timeoutMs,
        signal: this.options.signal,
        input: options.input ?? '',
        env: COMMAND_ENV,
      })`${argv}`
      exitCode = output.exitCode
      // zx stops a command at its timeout with SIGTERM; the exit code is then null.
      const timedOut = output.signal === 'SIGTERM' && output.exitCode === null && !this.options.signal?.aborted
      return {
        argv,
        exitCode,
        stdout: output.stdout,
        stderr: timedOut ? `${output.stderr}\ntimed out after ${Math.round(timeoutMs / 1000)}s` : output.stderr,
      }
    } catch (error) {
      if (this.options.signal?.aborted) throw new StepFailure(`\`${shellLine(argv)}\` stopped: the run was interrupted`)
      throw error
    } finally {
      this.options.onCommand?.({ argv, exitCode, durationMs: Date.now() - started })
    }
  }

  /**
   * kubectl, synchronously: only for the moment a second Ctrl-C leaves at once and no event loop turn is left
   * (releasing the lock, saving the record). Bounded by its own short timeout.
   */
  kubectlSync(args: string[], options: { input?: string; timeoutMs?: number } = {}): CommandResult {
    const argv = this.kubectlArgv(args)
    const result = spawnSync(argv[0], argv.slice(1), {
      input: options.input ?? '',
      encoding: 'utf8',
      timeout: options.timeoutMs ?? 5_000,
    })
    return { argv, exitCode: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' }
  }

  /** Runs a command and throws a CommandError (naming the command and its output) when it fails. */
  async run(argv: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
    const result = await this.exec(argv, options)
    if (result.exitCode !== 0) throw new CommandError(argv, result.exitCode, result.stderr, result.stdout)
    return result
  }

  kubectl(args: string[], options: { input?: string; timeoutMs?: number } = {}) {
    return this.run(this.kubectlArgv(args), options)
  }

  istioctl(args: string[], options: { input?: string; timeoutMs?: number } = {}) {
    return this.run(this.istioctlArgv(args), options)
  }

  async getJson<T = any>(args: string[], options: { timeoutMs?: number } = {}): Promise<T> {
    const { stdout } = await this.kubectl([...args, '-o', 'json'], options)
    return JSON.parse(stdout) as T
  }

  /** Like getJson, but a NotFound answer is `undefined` instead of an error. */
  async findJson<T = any>(args: string[]): Promise<T | undefined> {
    const result = await this.exec(this.kubectlArgv([...args, '-o', 'json', '--ignore-not-found']))
    if (result.exitCode !== 0) throw new CommandError(result.argv, result.exitCode, result.stderr, result.stdout)
    return result.stdout.trim() ? (JSON.parse(result.stdout) as T) : undefined
  }

  async list<T = KubeObject>(
    resource: string,
    options: { namespace?: string; selector?: string; allNamespaces?: boolean } = {},
  ): Promise<T[]> {
    const args = ['get', resource]
    if (options.allNamespaces) args.push('--all-namespaces')
    else if (options.namespace) args.push('-n', options.namespace)
    if (options.selector) args.push('-l', options.selector)
    return (await this.getJson<{ items: T[] }>(args)).items
  }

  /** kubectl apply of objects as one YAML stream. Server-side apply is what the Gateway API bundle needs. */
  /** --force-conflicts takes back fields another field manager (kubectl edit, a hand-made object) set. */
  applyArgs(serverSide: boolean, forceConflicts = false): string[] {
    return [
      'apply',
      ...(serverSide
        ? ['--server-side', '--field-manager=gthulhu-runbook', ...(forceConflicts ? ['--force-conflicts'] : [])]
        : []),
      '-f',
      '-',
    ]
  }

  async apply(
    objects: KubeObject[],
    options: { serverSide?: boolean; forceConflicts?: boolean; timeoutMs?: number } = {},
  ): Promise<string> {
    const { stdout } = await this.kubectl(this.applyArgs(options.serverSide ?? true, options.forceConflicts), {
      input: toYamlStream(objects),
      timeoutMs: options.timeoutMs,
    })
    return stdout.trim()
  }

  async applyText(yamlText: string, options: { serverSide?: boolean; timeoutMs?: number } = {}): Promise<string> {
    const { stdout } = await this.kubectl(this.applyArgs(options.serverSide ?? true), {
      input: yamlText,
      timeoutMs: options.timeoutMs,
    })
    return stdout.trim()
  }
}

export function toYamlStream(objects: KubeObject[]): string {
  return objects.map((o) => yaml().stringify(o, { lineWidth: 0 })).join('---\n')
}
