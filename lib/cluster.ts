// The one module that spawns kubectl and istioctl. Reads always use `-o json`; every command has a timeout
// and stops when the run is interrupted. Steps call this instead of building command lines themselves.
import { spawn } from 'node:child_process'
import { yaml } from './lazy-yaml.ts'
import { CommandError, StepFailure } from './errors.ts'
import type { KubeObject } from './types.ts'

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
// A command that ignores SIGTERM at its timeout gets SIGKILL this much later.
const KILL_GRACE_MS = 5_000

/**
 * Runs argv without a shell, feeding `input` on stdin. A missing program answers like a shell would (exit 127), so
 * callers see one shape; a timeout stops the program (SIGTERM, then SIGKILL); an abort rejects.
 */
function spawnCollecting(argv: string[], input: string | undefined, timeoutMs: number, signal?: AbortSignal) {
  return new Promise<{ exitCode: number | null; stdout: string; stderr: string; timedOut: boolean }>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    let killTimer: NodeJS.Timeout | undefined
    const stop = () => {
      child.kill('SIGTERM')
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS)
    }
    const timer = setTimeout(() => {
      timedOut = true
      stop()
    }, timeoutMs)
    const onAbort = () => {
      stop()
      reject(signal!.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    const settle = () => {
      clearTimeout(timer)
      clearTimeout(killTimer)
      signal?.removeEventListener('abort', onAbort)
    }
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.stdin.on('error', () => undefined) // a program that exits without reading its input is not an error
    child.stdin.end(input ?? '')
    child.on('error', (error: NodeJS.ErrnoException) => {
      settle()
      if (error.code === 'ENOENT') resolve({ exitCode: 127, stdout, stderr: `${argv[0]}: command not found`, timedOut })
      else reject(error)
    })
    child.on('close', (code) => {
      settle()
      resolve({ exitCode: code, stdout, stderr, timedOut })
    })
  })
}

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
      const output = await spawnCollecting(argv, options.input, timeoutMs, this.options.signal)
      exitCode = output.exitCode
      return {
        argv,
        exitCode,
        stdout: output.stdout,
        stderr: output.timedOut ? `${output.stderr}\ntimed out after ${Math.round(timeoutMs / 1000)}s` : output.stderr,
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

  async list<T = KubeObject>(resource: string, options: { namespace?: string; selector?: string; allNamespaces?: boolean } = {}): Promise<T[]> {
    const args = ['get', resource]
    if (options.allNamespaces) args.push('--all-namespaces')
    else if (options.namespace) args.push('-n', options.namespace)
    if (options.selector) args.push('-l', options.selector)
    return (await this.getJson<{ items: T[] }>(args)).items
  }

  /** kubectl apply of objects as one YAML stream. Server-side apply is what the Gateway API bundle needs. */
  applyArgs(serverSide: boolean): string[] {
    return ['apply', ...(serverSide ? ['--server-side', '--field-manager=gthulhu-runbook'] : []), '-f', '-']
  }

  async apply(objects: KubeObject[], options: { serverSide?: boolean; timeoutMs?: number } = {}): Promise<string> {
    const { stdout } = await this.kubectl(this.applyArgs(options.serverSide ?? true), {
      input: toYamlStream(objects),
      timeoutMs: options.timeoutMs,
    })
    return stdout.trim()
  }

  async applyText(yamlText: string, options: { serverSide?: boolean; timeoutMs?: number } = {}): Promise<string> {
    const { stdout } = await this.kubectl(this.applyArgs(options.serverSide ?? true), { input: yamlText, timeoutMs: options.timeoutMs })
    return stdout.trim()
  }
}

export function toYamlStream(objects: KubeObject[]): string {
  return objects.map((o) => yaml().stringify(o, { lineWidth: 0 })).join('---\n')
}
