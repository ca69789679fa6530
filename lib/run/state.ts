// The runbook's record: one JSON document per cluster saying what each step did, what it verified, what was
// there before it changed anything, and the facts found on the way. It lives in the cluster (lib/run/record.ts:
// Secrets in Gthulhu's namespace, one per revision) so any machine with the context can resume, audit or undo;
// the local file (.gthulhu-runbook/<context>.json, or --state-file) is a cache and an offline copy, written
// atomically and never through a symlink. A record that is malformed is reported and left alone.
import { existsSync, lstatSync, readFileSync, renameSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { UsageError } from '../config/errors.ts'
import { makeWritableDir } from '../config/local-dir.ts'
import { OUTCOME_KEYS, type Config } from '../config/options.ts'
import { text } from '../config/text.ts'
import { redactCredentials, writeFileSafely } from '../config/safe-output.ts'
import type { Cluster } from '../kube/cluster.ts'
import type { Reachability } from '../verify/reachability.ts'
import type { BeforeRecord, Check, Facts, Step, StepId } from '../types.ts'
import { ClusterRecord, readRecord, type RevisionStatus } from './record.ts'
import { assertWellFormed } from './record-schema.ts'

export const STATE_FORMAT = 'gthulhu-runbook/state/v1'

export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped' | 'interrupted' | 'accepted' | 'undone'

export interface StepRecord {
  status: StepStatus
  startedAt?: string
  finishedAt?: string
  durationMs?: number
  checks?: Check[]
  error?: string
  note?: string
  /** The outcome-relevant configuration the step last ran with. */
  config?: Partial<Config>
  /** What the cluster held before the step's first change; cleared once the step is undone. */
  before?: BeforeRecord
}

/** Steps whose changes may be in the cluster: what --uninstall undoes. */
export const MAY_HAVE_CHANGED: StepStatus[] = ['done', 'accepted', 'failed', 'interrupted', 'running']

export interface RunbookState {
  format: typeof STATE_FORMAT
  /** The kube context of the run that last wrote the record (another machine may name the cluster differently). */
  context: string
  createdAt: string
  updatedAt: string
  /** The runbook version that last wrote the record. */
  runbookVersion?: string
  config: Partial<Config>
  /** Answers given at guided-mode questions, so a resumed run does not ask again. */
  answers: Partial<Config>
  facts: Facts
  steps: Partial<Record<StepId, StepRecord>>
  /** The latest reachability picture (probe results), shown as "before" by the next report. */
  reachability?: Reachability
  /** Which cluster the record is of: the uid of its kube-system namespace (made once, with the cluster). */
  clusterUid?: string
}

export function defaultStatePath(context: string, cwd = process.cwd()): string {
  const safe = context.replace(/[^A-Za-z0-9._-]+/g, '_')
  return join(cwd, '.gthulhu-runbook', `${safe}.json`)
}

export function outcomeConfig(config: Config): Partial<Config> {
  return Object.fromEntries(OUTCOME_KEYS.map((k) => [k, config[k]])) as Partial<Config>
}

/** Names the settings (of `keys`, by default every outcome setting) that differ between a step's recorded run and now. */
export function configDrift(
  recorded: Partial<Config> | undefined,
  current: Config,
  keys: readonly (keyof Config)[] = OUTCOME_KEYS,
): string[] {
  if (!recorded) return []
  return keys
    .filter((k) => k in recorded && JSON.stringify(recorded[k]) !== JSON.stringify(current[k]))
    .map((k) => `${k}: ${JSON.stringify(recorded[k])} → ${JSON.stringify(current[k])}`)
}

/** Settings a record never hands on: the namespace and release found it, and it belongs to the context it was found in. */
const FOUND_BY = new Set<keyof Config>(['namespace', 'release', 'context', 'allContexts'])

/**
 * Takes the settings the record was made with for every outcome setting not given this time (flag, --config or
 * environment), so a run, an audit or an undo from another machine with only --context acts on what was done.
 * The namespace and release found the record, and the context is the one it was found in (another machine may name
 * the cluster otherwise), so they stay. Returns "key=value" for each one that differs from the default, for the
 * operator.
 */
export function applyRecordedSettings(config: Config, recorded: Partial<Config>): string[] {
  const taken: string[] = []
  for (const key of OUTCOME_KEYS) {
    if (FOUND_BY.has(key) || config.explicit.includes(key) || !(key in recorded)) continue
    const value = recorded[key]
    if (value === undefined || JSON.stringify(value) === JSON.stringify(config[key])) continue
    ;(config as any)[key] = value
    taken.push(`${key}=${Array.isArray(value) ? value.join(key === 'allowedUserAgents' ? '|' : ',') : value}`)
  }
  return taken
}

/**
 * Warnings for finished steps this run leaves out (`steps`: a step that runs again takes the current settings) that
 * ran with other values of the settings they declare; a setting a step does not read never warns about it. After
 * applyRecordedSettings, only a setting given again with another value can differ from the one a done step ran with.
 */
export function driftWarnings(
  state: RunbookState,
  current: Config,
  steps: readonly Pick<Step, 'id' | 'settings'>[],
): string[] {
  return steps.flatMap(({ id, settings }) => {
    const record = state.steps[id]
    const drift =
      record && (record.status === 'done' || record.status === 'accepted')
        ? configDrift(record.config, current, settings)
        : []
    return drift.length ? [text.cli.settingsDrift(id, record!.status as 'done' | 'accepted', drift)] : []
  })
}

const emptyState = (context: string): RunbookState => {
  const now = new Date().toISOString()
  return {
    format: STATE_FORMAT,
    context,
    createdAt: now,
    updatedAt: now,
    config: {},
    answers: {},
    facts: {},
    steps: {},
  }
}

/** A record as read from `where`: written by this runbook, and well formed. */
function checked(data: any, where: string): RunbookState {
  if (data?.format !== STATE_FORMAT || typeof data.steps !== 'object' || data.steps === null) {
    throw new UsageError(
      `${where} was not written by this runbook (format ${JSON.stringify(data?.format)}, expected "${STATE_FORMAT}"); it was left untouched`,
    )
  }
  assertWellFormed(data, where)
  data.facts ??= {}
  data.config ??= {}
  data.answers ??= {}
  return data as RunbookState
}

/** Reads the local copy; undefined when there is none. */
function readLocal(path: string, context: string): RunbookState | undefined {
  if (!existsSync(path)) return undefined
  if (lstatSync(path).isSymbolicLink())
    throw new UsageError(
      `state file ${path} is a symbolic link; the runbook neither reads nor writes through links: replace it with the file itself, or pass another --state-file`,
    )
  let data: any
  try {
    data = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    throw new UsageError(
      `state file ${path} is not valid JSON (${(error as Error).message}); it was left untouched — move it aside or pass another --state-file`,
    )
  }
  const state = checked(data, `state file ${path}`)
  if (state.context !== context) {
    throw new UsageError(
      `state file ${path} belongs to kube context "${state.context}", not "${context}"; it was left untouched — pass --state-file for this context`,
    )
  }
  return state
}

/** The cluster's identity, the uid of its kube-system namespace; undefined when it cannot be read. */
async function clusterUid(cluster: Cluster): Promise<string | undefined> {
  try {
    return (await cluster.findJson<{ metadata?: { uid?: string } }>(['get', 'namespace', 'kube-system']))?.metadata?.uid
  } catch {
    return undefined // not readable (a role without it): the copy is judged as before, by its context alone
  }
}

export interface OpenOptions {
  path: string
  context: string
  cluster: Cluster
  namespace: string
  release: string
  /** Runs that change the cluster write the record (after begin()); audits, dry runs and lists only read it. */
  write: boolean
  /** Dry runs, renders and lists: when the cluster cannot be read, show the local copy instead of failing. */
  offlineFallback?: boolean
}

export class StateStore {
  readonly path: string
  state: RunbookState
  /** Where the state was read from. */
  origin: 'cluster' | 'local copy' | 'new' = 'new'
  /** Set when the cluster could not be read (read-only runs only): why the local copy is shown. */
  offline?: string
  /** Something the operator must know about where the record came from. */
  notice?: string
  private record?: ClusterRecord
  private writing: Promise<void> = Promise.resolve()
  private queued?: Promise<void>
  private failure?: Error
  private readOnly = false
  /** A local copy of another cluster's record, moved aside (to this path) before this record is first written. */
  private setAside?: string

  /** A store on the local file alone (no cluster): for tests of the engine and the record. */
  constructor(path: string, context: string, state?: RunbookState) {
    this.path = resolve(path)
    const local = state ? undefined : readLocal(this.path, context)
    this.state = state ?? local ?? emptyState(context)
    if (local) this.origin = 'local copy'
  }

  /**
   * The record for `context`: the one in the cluster when there is one (the local copy is then refreshed), else
   * the local copy (a record kept before it moved into the cluster; it is written there on the first save) unless
   * it names another cluster. Every record written names its cluster (kube-system's uid).
   */
  static async open(options: OpenOptions): Promise<StateStore> {
    const { path, context, cluster, namespace, release } = options
    // A local copy that is not the runbook's (or is corrupt) is never overwritten, even by the cluster's record.
    const local = new StateStore(path, context)
    // Its directory is made now, before the lock and the record's revision: a path that cannot hold it is refused
    // while nothing has changed, not found at the first save.
    const problem = options.write ? makeWritableDir(local.directory) : undefined
    if (problem) throw new UsageError(text.errors.stateDir(local.path, text.errors.localPath(problem)))
    let found: Awaited<ReturnType<typeof readRecord>>
    let uid: string | undefined
    try {
      // Dry runs, renders and lists read it only when they must (below): they stamp no record.
      ;[found, uid] = await Promise.all([
        readRecord(cluster, namespace, release),
        options.offlineFallback ? undefined : clusterUid(cluster),
      ])
    } catch (error) {
      if (error instanceof UsageError || !options.offlineFallback) throw error
      local.readOnly = true
      local.offline = (error as Error).message.split('\n').pop()
      return local
    }
    let store = local
    if (found.latest) {
      const where = `the runbook's record (Secret ${namespace}/${found.latest.revision.name})`
      const state = checked(found.latest.data, where)
      // The record names the cluster, not this machine's name for it.
      state.context = context
      store = new StateStore(path, context, state)
      store.origin = 'cluster'
    } else if (
      local.origin === 'local copy' &&
      local.state.clusterUid &&
      (uid ??= await clusterUid(cluster)) &&
      local.state.clusterUid !== uid
    ) {
      // A copy of another cluster's record under the same context name (a cluster made again, say): nothing of it
      // is done here. It is kept beside, not written over.
      store = new StateStore(path, context, emptyState(context))
      store.setAside = local.path.replace(/(\.json)?$/, `.cluster-${local.state.clusterUid}.json`)
      store.notice = text.record.otherCluster(local.path, local.state.clusterUid, uid, store.setAside)
    }
    if (uid) store.state.clusterUid = uid
    store.record = new ClusterRecord(cluster, namespace, release, found.revisions)
    store.readOnly = !options.write
    return store
  }

  /** Where the record is, for the operator. */
  describe(): string {
    if (!this.record) return this.path
    return text.record.withLocalCopy(this.record.describe(), this.path)
  }

  /** The revision this store was read from, to tell whether another run wrote the record since. */
  get revision(): string | undefined {
    const latest = this.record?.latest
    return latest && `${latest.name}@${latest.resourceVersion}`
  }

  /**
   * Once the run holds the lock: re-reads the record (another run may have finished between the first read and
   * the lock) and starts this run's revision. A record that changed meanwhile stops the run before any change.
   */
  async begin(notes: { operation: string; holder: string }): Promise<void> {
    const record = this.record
    if (!record) return
    const again = await readRecord(record.cluster, record.namespace, record.release)
    const latest = again.revisions.at(-1)
    if (`${latest?.name}@${latest?.resourceVersion}` !== `${record.latest?.name}@${record.latest?.resourceVersion}`)
      throw new UsageError(
        `another run changed the runbook's record (Secret ${record.namespace}/${latest?.name ?? '(deleted)'}) while this one was starting; nothing was changed — run the command again`,
      )
    await record.begin(this.serialize(), { ...notes, context: this.state.context })
    this.writeLocal()
    // Labelling the previous revision superseded need not hold up the run: it goes first in the write queue.
    void this.enqueue(() => record.retire())
  }

  /** Runs `write` after the writes before it; a failure fails it and every later save. */
  private enqueue(write: () => Promise<void>): Promise<void> {
    const queued = this.writing.then(async () => {
      if (this.failure) throw this.failure
      try {
        await write()
      } catch (error) {
        this.failure = error as Error
        throw error
      }
    })
    this.writing = queued.catch(() => undefined)
    return queued
  }

  private serialize(): string {
    // Credentials that were part of a URL (a mirror with user:password@) never reach a record or a report.
    return redactCredentials(`${JSON.stringify(this.state, null, 2)}\n`)
  }

  private writeLocal(): void {
    if (this.setAside && existsSync(this.path)) renameSync(this.path, this.setAside)
    this.setAside = undefined
    writeFileSafely(this.path, this.serialize())
  }

  /**
   * Writes the local copy now and the cluster record in order (a write waiting behind another carries every change
   * made until it starts); resolves once the cluster holds this state. A failed cluster write fails this and every
   * later save.
   */
  save(status: RevisionStatus = 'running'): Promise<void> {
    this.keepLocally()
    const record = this.record
    if (!record?.current) return this.failure ? Promise.reject(this.failure) : Promise.resolve()
    if (this.queued && status === 'running') return this.queued
    const write: Promise<void> = this.enqueue(async () => {
      if (this.queued === write) this.queued = undefined
      await record.write(this.serialize(), status)
    })
    this.queued = write
    return write
  }

  /** The last save of a run: the revision's status label says how the run ended. */
  finish(status: Exclude<RevisionStatus, 'running' | 'superseded'>): Promise<void> {
    return this.save(status)
  }

  /** A best-effort synchronous save, for a second Ctrl-C that leaves at once. */
  saveSync(status: RevisionStatus): void {
    if (this.readOnly) return
    this.state.updatedAt = new Date().toISOString()
    try {
      this.writeLocal()
      this.record?.writeSync(this.serialize(), status)
    } catch {
      // Leaving anyway: the earlier saves hold what was done up to the last step.
    }
  }

  step(id: StepId): StepRecord {
    return (this.state.steps[id] ??= { status: 'pending' })
  }

  update(id: StepId, change: Partial<StepRecord>): Promise<void> {
    Object.assign(this.step(id), change)
    return this.save()
  }

  /** Changes the local copy only: the cluster record gets it with the next save. */
  updateLocally(id: StepId, change: Partial<StepRecord>): void {
    Object.assign(this.step(id), change)
    this.keepLocally()
  }

  /** Stamps the change and writes the local copy now (what every save starts with). */
  private keepLocally(): void {
    if (this.readOnly) throw new Error('a read-only run does not write the record')
    this.state.updatedAt = new Date().toISOString()
    this.writeLocal()
  }

  /** The directory of the local copy (created on the first save). */
  get directory(): string {
    return dirname(this.path)
  }
}
