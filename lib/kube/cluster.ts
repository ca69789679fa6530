// The one module that spawns kubectl and istioctl. Reads always use `-o json`; every command has a timeout
// and stops when the run is interrupted. Steps call this instead of building command lines themselves.
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, openSync, readSync, statSync } from 'node:fs'
import { basename } from 'node:path'
import { yaml } from '../config/lazy-yaml.ts'
import { CommandError, StepFailure } from '../config/errors.ts'
import { text } from '../config/text.ts'
import type { KubeObject } from './object.ts'
import {
  answerFrom,
  asListReads,
  batchNamespace,
  itemsOf,
  listRead,
  mergedArgs,
  namedRead,
  splitNamespace,
  type BatchableRead,
} from './read-batch.ts'
import { JsonStream } from './json-stream.ts'
import { ApiProxy, type ApiAnswer } from './api-proxy.ts'
import {
  apiResource,
  apiResourceOf,
  kubectlName,
  listItems,
  listQuery,
  namesAnObject,
  qualifiedKind,
  restCommandOf,
  restPath,
  serverError,
  type ApiResource,
  type RestCommand,
  type RestRead,
} from './rest.ts'

export interface CommandResult {
  argv: string[]
  exitCode: number | null
  stdout: string
  stderr: string
}

/** What a command is given besides its words. */
export interface CommandOptions {
  /** stdin. */
  input?: string
  /**
   * Objects for `-f -`, when the caller has them as objects: a YAML stream on a kubectl process's stdin, sent as
   * they are through the proxy (no YAML written only to be read back).
   */
  objects?: KubeObject[]
  timeoutMs?: number
}

export interface CommandRun {
  argv: string[]
  /** null when a signal (timeout, Ctrl-C) ended it. */
  exitCode: number | null
  durationMs: number
  /** Set when no process ran: the command was sent as API requests through the run's kubectl proxy. */
  via?: 'kubectl proxy'
  /** Set for the proxy itself once it serves: it runs on until the run ends. */
  serving?: boolean
}

export interface ClusterOptions {
  kubeconfig?: string
  context?: string
  /** Default timeout of one command. */
  timeoutMs?: number
  signal?: AbortSignal
  /** Called after every command with its line, exit code and duration (for -v/--verbose and JSON events). */
  onCommand?: (ran: CommandRun) => void
  /**
   * Start each command in a process group of its own, out of reach of the terminal's Ctrl-C and hang-up: the
   * cleanup cluster's record writes, lock release and probe deletions must finish after the run is interrupted.
   */
  ownProcessGroup?: boolean
  /**
   * Send the reads, watches and whole-object writes through one `kubectl proxy` started on first use (see
   * api-proxy.ts and rest.ts) instead of a kubectl process each; anything else, or everything if the proxy
   * cannot start, runs as kubectl.
   */
  apiProxy?: boolean
}

const DEFAULT_TIMEOUT_MS = 60_000
/** The commands that only look at the cluster: they need not wait for the record, and keep the shared reads. */
const LOOKS_ONLY: Record<string, string[]> = {
  kubectl: ['get', 'version', 'config', 'logs'],
  istioctl: ['version', 'ztunnel-config', 'waypoint status'],
}

/** Whether a command only looks (by its words, the connection flags and their values left out). */
function looksOnly(argv: string[]): boolean {
  const words = argv
    .slice(1)
    .filter((a, i, all) => !a.startsWith('-') && !['--kubeconfig', '--context'].includes(all[i - 1]))
  const verbs = LOOKS_ONLY[basename(argv[0])] ?? []
  return verbs.includes(words[0] ?? '') || verbs.includes(words.slice(0, 2).join(' '))
}
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

/** What a watch reports: an object added, modified or deleted (kubectl get --watch --output-watch-events). */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | string
  object: KubeObject
}

/** Which objects a watch follows: one kind in one namespace (or all), optionally one name or an equality selector. */
export interface WatchTarget {
  resource: string
  namespace?: string
  allNamespaces?: boolean
  name?: string
  selector?: string
}

/** A running watch: stop() ends its kubectl; `ended` resolves when kubectl exits (stopped, or on its own). */
export interface Watch {
  stop(): void
  ended: Promise<{ exitCode: number | null; stderr: string }>
}

interface PendingRead {
  read: BatchableRead
  args: string[]
  resolve(value: unknown): void
  reject(error: unknown): void
}

/** The kubectl proxies of this process, by connection flags (see Cluster.liveProxy). */
const proxies = new Map<string, Promise<ApiProxy | undefined>>()

export class Cluster {
  istioctlPath = 'istioctl'
  /** The istioctl binaries this run may execute, each with the SHA-256 it was verified to have. */
  private readonly trustedIstioctl = new Map<string, string>()
  /** Hashes already computed, keyed by the file's identity and change times, so a binary is not re-read per call. */
  private readonly hashes = new Map<string, string>()
  /** Reads asked for in this turn of the event loop; they run together (see read-batch.ts). */
  private pendingReads: PendingRead[] = []
  /** Answers shared by identical reads until the next change (see shareReadsUntilChange). */
  private sharedReads?: Map<string, Promise<unknown>>
  /** Commands that may change the cluster wait for this first (see holdChangesUntil). */
  private changesHeld?: Promise<unknown>
  /** The version each custom resource group is served at, asked once until the next change (a CRD may change). */
  private servedVersions = new Map<string, Promise<string | undefined>>()

  constructor(readonly options: ClusterOptions = {}) {}

  /** The same cluster without the run's abort signal: cleanup after Ctrl-C must still be able to run kubectl. */
  forCleanup(): Cluster {
    const copy = new Cluster({ ...this.options, signal: undefined, timeoutMs: 30_000, ownProcessGroup: true })
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
    if (!expected) throw new StepFailure(text.failures.unverifiedIstioctl(binary))
    let stat: ReturnType<typeof statSync>
    try {
      stat = statSync(binary)
    } catch (error) {
      throw new StepFailure(text.failures.verifiedIstioctlMissing(binary, (error as NodeJS.ErrnoException).code))
    }
    const key = `${binary}:${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`
    const actual = this.hashes.get(key) ?? fileSha256(binary)
    this.hashes.set(key, actual)
    if (actual !== expected) throw new StepFailure(text.failures.istioctlChanged(binary, actual, expected))
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

  /**
   * From now until the next command that may change the cluster (an apply, a label, istioctl, a wait), or until
   * the returned function is called, the same read is answered once: a step looks at the cluster before it
   * changes it (what undo must restore, what differs from the plan), and an audit's steps look at the same
   * objects; those looks need not ask twice.
   */
  shareReadsUntilChange(): () => void {
    const shared = new Map<string, Promise<unknown>>()
    this.sharedReads = shared
    return () => {
      if (this.sharedReads === shared) this.sharedReads = undefined
    }
  }

  /**
   * Lets reads run at once but makes every other command (an apply, a label, istioctl) wait until `recorded`
   * settles, and fail if it fails: the engine records what undo must restore while the step already looks at
   * the cluster, so both sets of reads share one kubectl call, and nothing changes before the record is kept.
   * A failed record keeps refusing changes until the returned release is called (once the step has stopped), so
   * a step that goes on after the failure (a foreign object found, the record not saved) still changes nothing.
   */
  holdChangesUntil(recorded: Promise<unknown>): () => void {
    const held = recorded.then(() => {
      if (this.changesHeld === held) this.changesHeld = undefined
    })
    held.catch(() => undefined)
    this.changesHeld = held
    return () => {
      if (this.changesHeld === held) this.changesHeld = undefined
    }
  }

  /** The same answer for the same read while reads are shared; afterwards, a fresh read each time. */
  private shared<T>(key: string, read: () => Promise<T>): Promise<T> {
    if (!this.sharedReads) return read()
    const known = this.sharedReads.get(key)
    if (known !== undefined) return (known as Promise<T>).then((value) => structuredClone(value))
    const answer = read()
    this.sharedReads.set(key, answer)
    answer.catch(() => this.sharedReads?.delete(key))
    return answer
  }

  /** The cluster may have changed: reads are asked afresh, custom resource versions looked up again. */
  private changed(): void {
    this.sharedReads = undefined
    this.servedVersions.clear()
  }

  /** The API requests a kubectl command stands for, when this cluster sends such commands through its proxy. */
  private restCommand(argv: string[], options: CommandOptions): RestCommand | undefined {
    if (!this.options.apiProxy || argv[0] !== 'kubectl') return undefined
    const connection = this.connectionArgs()
    if (connection.some((arg, i) => argv[i + 1] !== arg)) return undefined
    // Objects, or one JSON object: YAML text (the Gateway API bundle) stays with kubectl, which reads it as YAML 1.1.
    return restCommandOf(argv.slice(connection.length + 1), () => {
      if (options.objects) return options.objects
      const input = options.input?.trim()
      return input?.startsWith('{') ? [JSON.parse(input)] : undefined
    })
  }

  /**
   * The proxy for this cluster's connection, started on first use and shared by every Cluster of the process with
   * the same connection (the run's and its clean-up's): in a process group of its own, so the terminal's Ctrl-C
   * leaves it to the clean-up (the run's own requests stop with the run's abort signal), and stopped by its guard
   * when the process exits. Undefined when it could not start or has stopped.
   */
  private async liveProxy(): Promise<ApiProxy | undefined> {
    const connection = JSON.stringify(this.connectionArgs())
    let started = proxies.get(connection)
    if (!started) {
      const kubectl = ['kubectl', ...this.connectionArgs()]
      const begun = Date.now()
      started = ApiProxy.start(kubectl, { timeoutMs: 15_000, ownProcessGroup: true }).then(
        (proxy) => {
          const argv = [...kubectl, 'proxy', `--unix-socket=${proxy.socket}`]
          this.options.onCommand?.({ argv, exitCode: null, durationMs: Date.now() - begun, serving: true })
          return proxy
        },
        (error: Error) => {
          // Every command then runs as kubectl, which reports the same problem in its own words where it matters.
          this.options.onCommand?.({ argv: [...kubectl, 'proxy', `(${error.message})`], exitCode: 1, durationMs: 0 })
          return undefined
        },
      )
      proxies.set(connection, started)
    }
    const proxy = await started
    return proxy?.alive ? proxy : undefined
  }

  /** Starts this connection's proxy now, if this cluster uses one, so that the first command need not wait for it. */
  prepare(): void {
    if (this.options.apiProxy) void this.liveProxy()
  }

  /** Stops the proxy of this cluster's connection (every Cluster with that connection shares it). */
  close(): void {
    const connection = JSON.stringify(this.connectionArgs())
    void proxies.get(connection)?.then((p) => p?.stop())
    proxies.delete(connection)
  }

  /** The version a resource is read at: its own, or the one its group's discovery prefers (undefined: not served). */
  private servedVersion(proxy: ApiProxy, resource: ApiResource, timeoutMs: number): Promise<string | undefined> {
    if (resource.version) return Promise.resolve(resource.version)
    let known = this.servedVersions.get(resource.group)
    if (!known) {
      known = proxy.request(`/apis/${resource.group}`, { timeoutMs, signal: this.options.signal }).then((answer) => {
        if (answer.status === 404) return undefined
        if (checkedAnswer(answer).status !== 200) throw new ApiRefusal(serverError(answer.status, answer.body))
        return JSON.parse(answer.body)?.preferredVersion?.version as string | undefined
      })
      this.servedVersions.set(resource.group, known)
      known.then(
        (version) => version || this.servedVersions.delete(resource.group),
        () => this.servedVersions.delete(resource.group),
      )
    }
    return known
  }

  /**
   * A command sent as API requests through the proxy, answered as kubectl would have answered it (its stdout,
   * its `Error from server (…)` lines, its exit code); undefined when the proxy is not there (run it as kubectl).
   */
  private async sendThroughProxy(
    argv: string[],
    rest: RestCommand,
    timeoutMs: number,
  ): Promise<CommandResult | undefined> {
    const proxy = await this.liveProxy()
    if (!proxy) return undefined
    const started = Date.now()
    let result: CommandResult | undefined
    try {
      result = {
        argv,
        ...(await (rest.verb === 'get'
          ? this.proxyGet(proxy, rest, timeoutMs)
          : rest.verb === 'delete'
            ? this.proxyDelete(proxy, rest, timeoutMs)
            : rest.verb === 'logs'
              ? this.proxyLogs(proxy, rest, timeoutMs)
              : rest.verb === 'label'
                ? this.proxyLabel(proxy, rest, timeoutMs)
                : this.proxyWrite(proxy, rest, timeoutMs))),
      }
      return result
    } catch (error) {
      if (this.options.signal?.aborted) throw new StepFailure(`\`${shellLine(argv)}\` stopped: the run was interrupted`)
      if (error instanceof ProxyAnswerError || error instanceof ApiRefusal) {
        const stderr = error instanceof ProxyAnswerError ? unreachable(error.answer) : error.message
        result = { argv, exitCode: 1, stdout: '', stderr }
        return result
      }
      const message = (error as Error).message
      // The proxy is gone (killed from outside, say): kubectl itself answers instead, when the request surely did
      // not reach the API server or asking again changes nothing; a write that may have landed is not sent twice.
      const notSent = /ENOENT|ECONNREFUSED/.test(message)
      const askAgain = rest.verb === 'get' || rest.verb === 'logs' || (rest.verb === 'delete' && rest.ignoreNotFound)
      if (notSent || (askAgain && (!proxy.alive || /ECONNRESET|socket hang up/.test(message)))) return undefined
      result = { argv, exitCode: null, stdout: '', stderr: message }
      return result
    } finally {
      if (result)
        this.options.onCommand?.({
          argv,
          exitCode: result.exitCode,
          durationMs: Date.now() - started,
          via: 'kubectl proxy',
        })
    }
  }

  /** The objects the reads find, and kubectl's error line for each read that failed. */
  private async readThroughProxy(
    proxy: ApiProxy,
    reads: RestRead[],
    ignoreNotFound: boolean,
    timeoutMs: number,
  ): Promise<{ items: KubeObject[]; errors: string[] }> {
    const signal = this.options.signal
    const answers = await Promise.all(
      reads.map(async (read) => {
        const version = await this.servedVersion(proxy, read.resource, timeoutMs)
        if (!version) return { read, answer: undefined }
        const path = restPath(read.resource, version, read.namespace, read.name) + (read.name ? '' : listQuery(read))
        return { read, answer: await proxy.request(path, { timeoutMs, signal }) }
      }),
    )
    const items: KubeObject[] = []
    const errors: string[] = []
    for (const { read, answer } of answers) {
      const unknownType = unservedType(read.resource.plural)
      if (!answer) errors.push(unknownType)
      else if (answer.status === 200) {
        const parsed = JSON.parse(answer.body)
        items.push(...(read.name ? [parsed] : listItems(parsed)))
      } else if (answer.status === 404 && read.name && namesAnObject(answer.body)) {
        if (!ignoreNotFound) errors.push(serverError(answer.status, answer.body))
      } else if (answer.status === 404) errors.push(unknownType)
      else errors.push(serverError(checkedAnswer(answer).status, answer.body))
    }
    return { items, errors }
  }

  /** `kubectl get -o json`: the one object named, or a List of all found. */
  private async proxyGet(
    proxy: ApiProxy,
    rest: Extract<RestCommand, { verb: 'get' }>,
    timeoutMs: number,
  ): Promise<Omit<CommandResult, 'argv'>> {
    const { items, errors } = await this.readThroughProxy(proxy, rest.reads, rest.ignoreNotFound, timeoutMs)
    const stdout = rest.oneObject
      ? items.length
        ? JSON.stringify(items[0])
        : ''
      : JSON.stringify({ apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } })
    return { exitCode: errors.length ? 1 : 0, stdout, stderr: errors.join('\n') }
  }

  /** Deletes each object a selector lists (as kubectl does), without waiting for them to be gone. */
  private async proxyDelete(
    proxy: ApiProxy,
    rest: Extract<RestCommand, { verb: 'delete' }>,
    timeoutMs: number,
  ): Promise<Omit<CommandResult, 'argv'>> {
    const { items, errors } = await this.readThroughProxy(proxy, rest.reads, true, timeoutMs)
    const lines: string[] = []
    await Promise.all(
      items.map(async (object) => {
        const resource = apiResourceOf(object.apiVersion, object.kind)!
        const version = object.apiVersion.split('/').pop()!
        const answer = await proxy.request(
          restPath(resource, version, object.metadata.namespace, object.metadata.name),
          {
            method: 'DELETE',
            body: JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' }),
            timeoutMs,
            signal: this.options.signal,
          },
        )
        if (checkedAnswer(answer).status >= 200 && answer.status <= 299)
          lines.push(`${qualifiedKind(resource)} "${object.metadata.name}" deleted\n`)
        else if (!(answer.status === 404 && rest.ignoreNotFound)) errors.push(serverError(answer.status, answer.body))
      }),
    )
    return { exitCode: errors.length ? 1 : 0, stdout: lines.join(''), stderr: errors.join('\n') }
  }

  /** Each selected pod's log (its default container), every line prefixed `[pod/NAME/CONTAINER] ` as kubectl does. */
  private async proxyLogs(
    proxy: ApiProxy,
    rest: Extract<RestCommand, { verb: 'logs' }>,
    timeoutMs: number,
  ): Promise<Omit<CommandResult, 'argv'>> {
    const { items: pods, errors } = await this.readThroughProxy(proxy, [rest.pods], false, timeoutMs)
    const texts = await Promise.all(
      pods.map(async (pod) => {
        const container =
          pod.metadata.annotations?.['kubectl.kubernetes.io/default-container'] ?? pod.spec?.containers?.[0]?.name
        const path = `${restPath(rest.pods.resource, 'v1', pod.metadata.namespace, pod.metadata.name)}/log?${new URLSearchParams({ container })}`
        const answer = await proxy.request(path, { timeoutMs, signal: this.options.signal })
        if (answer.status !== 200) {
          errors.push(serverError(answer.status, answer.body))
          return ''
        }
        const prefix = `[pod/${pod.metadata.name}/${container}] `
        return answer.body
          .split(/(?<=\n)/)
          .filter((line) => line !== '')
          .map((line) => prefix + line)
          .join('')
      }),
    )
    return { exitCode: errors.length ? 1 : 0, stdout: texts.join(''), stderr: errors.join('\n') }
  }

  /** Writes each object in order, as kubectl does, going on after a refusal and reporting each. */
  private async proxyWrite(
    proxy: ApiProxy,
    rest: Extract<RestCommand, { verb: 'create' | 'replace' | 'apply' }>,
    timeoutMs: number,
  ): Promise<Omit<CommandResult, 'argv'>> {
    const headers: Record<string, string | string[]> = rest.impersonate
      ? { 'impersonate-user': rest.impersonate.user, 'impersonate-group': rest.impersonate.groups }
      : {}
    const written: KubeObject[] = []
    const lines: string[] = []
    const errors: string[] = []
    for (const { resource, object } of rest.objects) {
      // Ctrl-C stops a write between objects, never during one: an object whose request was cut off may still be
      // stored after the clean-up has looked (a probe pod nobody deletes), so each write is seen to its answer.
      if (this.options.signal?.aborted) throw new Error('interrupted')
      // Like kubectl, each object goes to the version it is written in, with the server's strict field check.
      const version = object.apiVersion.split('/').pop()!
      const query = new URLSearchParams({ fieldValidation: 'Strict' })
      if (rest.dryRun) query.set('dryRun', 'All')
      // kubectl names itself the field manager of what it creates or replaces (kubectl-create, kubectl-replace).
      query.set('fieldManager', rest.fieldManager ?? `kubectl-${rest.verb}`)
      if (rest.force) query.set('force', 'true')
      const name = rest.verb === 'create' ? undefined : object.metadata.name
      const answer = await proxy.request(`${restPath(resource, version, object.metadata.namespace, name)}?${query}`, {
        method: { create: 'POST', replace: 'PUT', apply: 'PATCH' }[rest.verb],
        body: JSON.stringify(object),
        contentType: rest.verb === 'apply' ? 'application/apply-patch+yaml' : 'application/json',
        headers,
        timeoutMs,
        // No abort signal: see above.
      })
      if (checkedAnswer(answer).status >= 200 && answer.status <= 299) {
        written.push(JSON.parse(answer.body))
        const done = { create: 'created', replace: 'replaced', apply: 'serverside-applied' }[rest.verb]
        const dry = rest.dryRun ? ' (server dry run)' : ''
        lines.push(kubectlName(resource, object.metadata.name) + (rest.output === 'text' ? ` ${done}${dry}` : ''))
      } else if (answer.status === 404 && !namesAnObject(answer.body)) {
        // No such resource path (kube-apiserver answers `404 page not found` in plain text): kubectl's own words.
        const where = `name: "${object.metadata.name}" namespace: "${object.metadata.namespace ?? ''}"`
        errors.push(
          `error: resource mapping not found for ${where} from "STDIN": no matches for kind "${object.kind}" in version "${object.apiVersion}"\nensure CRDs are installed first`,
        )
      } else if (rest.verb === 'apply') errors.push(serverError(answer.status, answer.body))
      else {
        const doing = `error when ${rest.verb === 'create' ? 'creating' : 'replacing'} "STDIN"`
        errors.push(serverError(answer.status, answer.body, doing))
      }
    }
    const stdout =
      rest.output !== 'json'
        ? lines.map((line) => `${line}\n`).join('')
        : written.length === 1 && rest.objects.length === 1
          ? JSON.stringify(written[0])
          : JSON.stringify({ apiVersion: 'v1', kind: 'List', items: written, metadata: { resourceVersion: '' } })
    return { exitCode: errors.length ? 1 : 0, stdout, stderr: errors.join('\n') }
  }

  /** kubectl label's one merge patch of the labels, under its field manager, and its line of what it did. */
  private async proxyLabel(
    proxy: ApiProxy,
    rest: Extract<RestCommand, { verb: 'label' }>,
    timeoutMs: number,
  ): Promise<Omit<CommandResult, 'argv'>> {
    const { resource, namespace, name } = rest.target
    const version = await this.servedVersion(proxy, resource, timeoutMs)
    if (!version) return { exitCode: 1, stdout: '', stderr: unservedType(resource.plural) }
    const answer = await proxy.request(`${restPath(resource, version, namespace, name)}?fieldManager=kubectl-label`, {
      method: 'PATCH',
      body: JSON.stringify({ metadata: { labels: rest.labels } }),
      contentType: 'application/merge-patch+json',
      timeoutMs,
    })
    if (checkedAnswer(answer).status < 200 || answer.status > 299)
      return { exitCode: 1, stdout: '', stderr: serverError(answer.status, answer.body) }
    const removedOnly = Object.values(rest.labels).every((value) => value === null)
    return {
      exitCode: 0,
      stdout: `${kubectlName(resource, name)} ${removedOnly ? 'unlabeled' : 'labeled'}\n`,
      stderr: '',
    }
  }

  /**
   * A watch as one streaming request through the proxy, when it is already running (a wait follows the reads
   * that started it); undefined otherwise, and kubectl watches instead.
   */
  private watchThroughProxy(
    argv: string[],
    target: WatchTarget,
    onEvent: (event: WatchEvent) => void,
    timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  ): Watch | undefined {
    const resource = apiResource(target.resource)
    if (!this.options.apiProxy || !proxies.has(JSON.stringify(this.connectionArgs())) || !resource) return undefined
    if (resource.namespaced && !target.namespace && !target.allNamespaces) return undefined
    const abort = new AbortController()
    const stop = () => abort.abort()
    const timer = setTimeout(stop, timeoutMs)
    const onRunAbort = () => abort.abort()
    this.options.signal?.addEventListener('abort', onRunAbort, { once: true })
    const started = Date.now()
    const ended = (async () => {
      const proxy = await this.liveProxy()
      const version = proxy && (await this.servedVersion(proxy, resource, timeoutMs).catch(() => undefined))
      if (!proxy || !version) return { exitCode: 1, stderr: `cannot watch ${target.resource} through kubectl proxy` }
      const stream = new JsonStream()
      const path =
        restPath(resource, version, target.allNamespaces ? undefined : target.namespace) +
        listQuery(
          {
            labelSelector: target.selector,
            fieldSelector: target.name ? `metadata.name=${target.name}` : undefined,
          },
          true,
        )
      const answer = await proxy.stream(
        path,
        (chunk) => {
          try {
            for (const value of stream.push(chunk)) {
              const event = value as WatchEvent
              if (event?.object?.metadata) onEvent(event)
            }
          } catch {
            abort.abort() // not JSON: the waiter notices the end and reads instead
          }
        },
        abort.signal,
      )
      if (abort.signal.aborted) return { exitCode: null, stderr: '' }
      return answer.status === 200
        ? { exitCode: 0, stderr: '' }
        : { exitCode: 1, stderr: serverError(answer.status, answer.body) }
    })().then((outcome) => {
      clearTimeout(timer)
      this.options.signal?.removeEventListener('abort', onRunAbort)
      this.options.onCommand?.({
        argv,
        exitCode: outcome.exitCode,
        durationMs: Date.now() - started,
        via: 'kubectl proxy',
      })
      return outcome
    })
    return { stop, ended }
  }

  async exec(argv: string[], options: CommandOptions = {}): Promise<CommandResult> {
    if (!looksOnly(argv)) {
      // Anything but a read waits for what must be recorded first, and may change what the reads would see
      // (a server dry run changes nothing: the audit's drift and admission checks keep the shared reads).
      await this.changesHeld
      if (!argv.includes('--dry-run=server') && !argv.includes('--dry-run=client')) this.changed()
    }
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    const rest = this.restCommand(argv, options)
    if (rest) {
      const answered = await this.sendThroughProxy(argv, rest, timeoutMs)
      if (answered) return answered
    }
    this.assertVerifiedIstioctl(argv[0])
    const started = Date.now()
    let exitCode: number | null = null
    try {
      // zx is loaded on the first command only, so --help, --version and --list start fast.
      const { $ } = await import('zx/core')
      const running = $({
        nothrow: true,
        quiet: true,
        timeout: timeoutMs,
        signal: this.options.signal,
        detached: this.options.ownProcessGroup ?? false,
        input: options.input ?? (options.objects ? toYamlStream(options.objects) : ''),
        env: COMMAND_ENV,
      })`${argv}`
      // zx decodes each chunk on its own, so a character split between two pipe reads comes out as U+FFFD;
      // decoded as a stream, the pipes hand zx whole characters.
      running.stdout?.setEncoding('utf8')
      running.stderr?.setEncoding('utf8')
      const output = await running
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
  async run(argv: string[], options: CommandOptions = {}): Promise<CommandResult> {
    const result = await this.exec(argv, options)
    if (result.exitCode !== 0) throw new CommandError(argv, result.exitCode, result.stderr, result.stdout)
    return result
  }

  kubectl(args: string[], options: CommandOptions = {}) {
    return this.run(this.kubectlArgv(args), options)
  }

  istioctl(args: string[], options: CommandOptions = {}) {
    return this.run(this.istioctlArgv(args), options)
  }

  async getJson<T = any>(args: string[], options: { timeoutMs?: number } = {}): Promise<T> {
    const { stdout } = await this.kubectl([...args, '-o', 'json'], options)
    return JSON.parse(stdout) as T
  }

  /** Like getJson, but a NotFound answer is `undefined` instead of an error. */
  async findJson<T = any>(args: string[]): Promise<T | undefined> {
    return this.shared(`find ${JSON.stringify(args)}`, () => {
      const read = namedRead(args)
      return read ? (this.batched(read, args) as Promise<T | undefined>) : this.findJsonAlone<T>(args)
    })
  }

  private async findJsonAlone<T>(args: string[]): Promise<T | undefined> {
    const result = await this.exec(this.kubectlArgv([...args, '-o', 'json', '--ignore-not-found']))
    if (result.exitCode !== 0) {
      // No object of a kind the server does not serve exists (its CRD deleted, say): asked again without them.
      const unserved = unservedKinds(result.stderr)
      const split = splitNamespace(args.slice(1))
      if (!unserved || !split) throw new CommandError(result.argv, result.exitCode, result.stderr, result.stdout)
      // KIND/NAME refs of those kinds are left out; `get KIND NAME` of one of them finds nothing.
      const served = split.rest.filter((ref) => !(ref.includes('/') && unserved.has(ref.split(/[./]/)[0])))
      if (served.length === split.rest.length || !served.some((ref) => ref.includes('/'))) return undefined
      return this.findJsonAlone<T>([args[0], ...served, ...(split.namespace ? ['-n', split.namespace] : [])])
    }
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
    return this.shared(`list ${JSON.stringify(args)}`, async () => {
      const read = options.allNamespaces ? undefined : listRead(resource, options.namespace, options.selector)
      if (read) return ((await this.batched(read, args)) as { items: T[] }).items
      return (await this.getJson<{ items: T[] }>(args)).items
    })
  }

  /**
   * Queues a read to run with the others asked for in the same turn of the event loop: one kubectl process
   * for them all instead of one each. A merged call that fails (an unknown kind, say) is retried read by
   * read, so each caller still gets its own answer or its own error.
   */
  private batched(read: BatchableRead, args: string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.pendingReads.length === 0) setImmediate(() => this.flushReads())
      this.pendingReads.push({ read, args, resolve, reject })
    })
  }

  private flushReads(): void {
    const pending = this.pendingReads
    this.pendingReads = []
    const byNamespace = new Map<string, PendingRead[]>()
    const clusterScoped: PendingRead[] = []
    for (const p of pending) {
      const namespace = batchNamespace(p.read)
      if (namespace === undefined) clusterScoped.push(p)
      else byNamespace.set(namespace, [...(byNamespace.get(namespace) ?? []), p])
    }
    // Reads of cluster-scoped objects only (a namespace, the nodes) join any namespace's batch.
    const first = byNamespace.keys().next()
    if (first.done) byNamespace.set('', clusterScoped)
    else byNamespace.get(first.value)!.push(...clusterScoped)
    for (const [namespace, reads] of byNamespace) {
      const lists = reads.filter((p) => p.read.kind === 'list')
      let named = reads.filter((p) => p.read.kind === 'named')
      // Named objects of small kinds ride along with the lists as their kinds' lists: one call, not two.
      if (lists.length) {
        const ride = named.filter((p) => asListReads(p.read))
        named = named.filter((p) => !ride.includes(p))
        lists.push(...ride)
      }
      if (lists.length) void this.runBatch(lists, 'list', namespace || undefined)
      if (named.length) void this.runBatch(named, 'named', namespace || undefined)
    }
  }

  private async runBatch(reads: PendingRead[], form: 'named' | 'list', namespace: string | undefined): Promise<void> {
    const alone = (p: PendingRead) => (p.read.kind === 'list' ? this.getJson(p.args) : this.findJsonAlone(p.args))
    const distinct = [...new Map(reads.map((p) => [JSON.stringify(p.args), p])).values()]
    const answerEach = async (group: PendingRead[]) => {
      const settled = await alone(group[0]).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      )
      for (const p of group) 'error' in settled ? p.reject(settled.error) : p.resolve(settled.value)
    }
    const sameArgs = (p: PendingRead) => reads.filter((r) => JSON.stringify(r.args) === JSON.stringify(p.args))
    // One read, maybe asked for by several callers at once: its own call, run once.
    if (distinct.length === 1) return answerEach(reads)
    const fetch = distinct.flatMap((p) => (form === 'list' ? asListReads(p.read)! : [p.read]))
    let result: CommandResult
    try {
      result = await this.exec(this.kubectlArgv(mergedArgs(fetch, namespace)))
    } catch (error) {
      for (const p of reads) p.reject(error)
      return
    }
    // A merged call that fails (a kind the server does not know, say) is retried read by read: each caller gets
    // its own answer or its own error, as without merging.
    if (result.exitCode !== 0) return void (await Promise.all(distinct.map((p) => answerEach(sameArgs(p)))))
    const items = itemsOf(result.stdout)
    for (const p of reads) p.resolve(answerFrom(p.read, items))
  }

  /**
   * Follows one kind's objects as the API server changes them (`kubectl get --watch --output-watch-events`): the
   * objects there now arrive first as ADDED, then every change. Waits use it to react the moment the cluster
   * changes instead of polling. The process is bounded by `timeoutMs` and stops with the run.
   */
  watch(target: WatchTarget, onEvent: (event: WatchEvent) => void, options: { timeoutMs?: number } = {}): Watch {
    const args = [
      'get',
      target.resource,
      ...(target.name ? [target.name] : []),
      ...(target.allNamespaces ? ['--all-namespaces'] : target.namespace ? ['-n', target.namespace] : []),
      ...(target.selector ? ['-l', target.selector] : []),
      '--watch',
      '--output-watch-events',
      '-o',
      'json',
    ]
    const argv = this.kubectlArgv(args)
    this.changed() // a wait begins: what follows must be read afresh
    const throughProxy = this.watchThroughProxy(argv, target, onEvent, options.timeoutMs)
    if (throughProxy) return throughProxy
    const started = Date.now()
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
    const stream = new JsonStream()
    let stderr = ''
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      try {
        for (const value of stream.push(chunk)) {
          const event = value as WatchEvent
          if (event?.object?.metadata) onEvent(event)
        }
      } catch {
        child.kill('SIGTERM') // not JSON: the waiter notices the end and reads instead
      }
    })
    child.stderr.on('data', (chunk) => (stderr += chunk))
    let stopped = false
    const stop = () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      stopped = true
      child.kill('SIGTERM')
    }
    const timer = setTimeout(stop, options.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    this.options.signal?.addEventListener('abort', stop, { once: true })
    const ended = new Promise<{ exitCode: number | null; stderr: string }>((resolve) => {
      let finished = false
      const finish = (exitCode: number | null) => {
        if (finished) return
        finished = true
        clearTimeout(timer)
        this.options.signal?.removeEventListener('abort', stop)
        // A watch the runbook stopped reports no exit code (-v: "stopped by a signal"), whatever kubectl returned.
        this.options.onCommand?.({ argv, exitCode: stopped ? null : exitCode, durationMs: Date.now() - started })
        resolve({ exitCode, stderr })
      }
      child.on('error', (error) => {
        stderr += error.message
        finish(null)
      })
      child.on('close', (code) => finish(code))
    })
    return { stop, ended }
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
    const { stdout } = await this.kubectl(args, { objects, timeoutMs: options.timeoutMs })
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

/** An answer that came from the proxy rather than the API server (it could not reach the server). */
class ProxyAnswerError extends Error {
  constructor(readonly answer: ApiAnswer) {
    super(`kubectl proxy answered ${answer.status}: ${answer.body.trim()}`)
  }
}

/** The API server refused a request the command needed first (discovery): its words, as kubectl prints them. */
class ApiRefusal extends Error {}

/** kubectl's words for a resource the server does not serve (the proxied commands say them too). */
const unservedType = (plural: string) => `error: the server doesn't have a resource type "${plural}"`

/** The kinds kubectl found the server does not serve, when that is all it says went wrong; else undefined. */
function unservedKinds(stderr: string): Set<string> | undefined {
  const lines = stderr.trim().split('\n')
  const kinds = lines.map((line) => /^error: the server doesn't have a resource type "([^"]+)"$/.exec(line)?.[1])
  return lines.length && kinds.every(Boolean) ? new Set(kinds as string[]) : undefined
}

/** The answer, unless it is the proxy's own (not the API server's): then a ProxyAnswerError. */
function checkedAnswer(answer: ApiAnswer): ApiAnswer {
  if (answer.status >= 500 && !answer.body.trim().startsWith('{')) throw new ProxyAnswerError(answer)
  return answer
}

/** What kubectl says when it cannot reach the API server, with what the proxy said. */
const unreachable = (answer: ApiAnswer) =>
  `Unable to connect to the server: ${answer.body.trim() || `kubectl proxy answered ${answer.status}`}`

export function toYamlStream(objects: KubeObject[]): string {
  return objects.map((o) => yaml().stringify(o, { lineWidth: 0 })).join('---\n')
}
