// The one module that spawns kubectl and istioctl. Reads always use `-o json`; every command has a timeout
// and stops when the run is interrupted. Steps call this instead of building command lines themselves.
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

export class Cluster {
  istioctlPath = 'istioctl'

  constructor(readonly options: ClusterOptions = {}) {}

  /** The same cluster without the run's abort signal: cleanup after Ctrl-C must still be able to run kubectl. */
  forCleanup(): Cluster {
    const copy = new Cluster({ ...this.options, signal: undefined, timeoutMs: 30_000 })
    copy.istioctlPath = this.istioctlPath
    return copy
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

  /** With `dryRun`, the API server merges and admits the objects, stores nothing and answers them as JSON. */
  async apply(
    objects: KubeObject[],
    options: { serverSide?: boolean; forceConflicts?: boolean; timeoutMs?: number; dryRun?: boolean } = {},
  ): Promise<string> {
    const args = this.applyArgs(options.serverSide ?? true, options.forceConflicts)
    if (options.dryRun) args.splice(1, 0, '--dry-run=server', '-o', 'json')
    const { stdout } = await this.kubectl(args, {
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
