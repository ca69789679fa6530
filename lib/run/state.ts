// The state file: one JSON document per kube context recording what each step did, what it verified and the
// facts found on the way. Written atomically (temp file + rename) under a lock file, so a crash never leaves
// half a file and two runs never interleave. A file this runbook did not write is reported and left alone.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { hostname } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { UsageError } from '../config/errors.ts'
import { OUTCOME_KEYS, type Config } from '../config/options.ts'
import type { Reachability } from '../verify/reachability.ts'
import type { BeforeRecord, Check, Facts, Step, StepId } from '../types.ts'

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
  context: string
  createdAt: string
  updatedAt: string
  config: Partial<Config>
  /** Answers given at guided-mode questions, so a resumed run does not ask again. */
  answers: Partial<Config>
  facts: Facts
  steps: Partial<Record<StepId, StepRecord>>
  /** The latest reachability picture (probe results), shown as "before" by the next report. */
  reachability?: Reachability
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

/**
 * Warnings for finished steps that ran with other values of the settings they declare (a resumed run keeps their
 * result); a setting a step does not read never warns about it.
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
    return drift.length
      ? [
          `${id} was ${record!.status} with other settings (${drift.join('; ')}); run it again with --from ${id} or --only ${id} if that matters`,
        ]
      : []
  })
}

export class StateStore {
  readonly path: string
  private readonly lockPath: string
  private locked = false
  state: RunbookState

  constructor(path: string, context: string) {
    this.path = resolve(path)
    this.lockPath = `${this.path}.lock`
    this.state = this.read(context)
  }

  private read(context: string): RunbookState {
    if (!existsSync(this.path)) {
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
    let data: any
    try {
      data = JSON.parse(readFileSync(this.path, 'utf8'))
    } catch (error) {
      throw new UsageError(
        `state file ${this.path} is not valid JSON (${(error as Error).message}); it was left untouched — move it aside or pass another --state-file`,
      )
    }
    if (data?.format !== STATE_FORMAT || typeof data.steps !== 'object' || data.steps === null) {
      throw new UsageError(
        `state file ${this.path} was not written by this runbook (format ${JSON.stringify(data?.format)}, expected "${STATE_FORMAT}"); it was left untouched`,
      )
    }
    if (data.context !== context) {
      throw new UsageError(
        `state file ${this.path} belongs to kube context "${data.context}", not "${context}"; it was left untouched — pass --state-file for this context`,
      )
    }
    data.facts ??= {}
    data.config ??= {}
    data.answers ??= {}
    return data as RunbookState
  }

  /** Takes the lock; a lock left by a process that no longer runs on this host is taken over (once). */
  lock(takeOver = true): { tookOverFrom?: number } {
    mkdirSync(dirname(this.path), { recursive: true })
    try {
      const fd = openSync(this.lockPath, 'wx', 0o600)
      writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }))
      closeSync(fd)
      this.locked = true
      return {}
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const holder = readLock(this.lockPath)
      if (takeOver && holder && holder.host === hostname() && !processAlive(holder.pid)) {
        rmSync(this.lockPath, { force: true })
        return { ...this.lock(false), tookOverFrom: holder.pid }
      }
      throw new UsageError(
        `another run holds the lock on ${this.path} (${holder ? `pid ${holder.pid} on ${holder.host} since ${holder.since}` : 'unreadable lock file'}); wait for it to finish, or remove ${this.lockPath} if that run is gone`,
      )
    }
  }

  unlock(): void {
    if (this.locked) rmSync(this.lockPath, { force: true })
    this.locked = false
  }

  save(): void {
    this.state.updatedAt = new Date().toISOString()
    mkdirSync(dirname(this.path), { recursive: true })
    const temp = `${this.path}.${process.pid}.tmp`
    writeFileSync(temp, JSON.stringify(this.state, null, 2) + '\n', { mode: 0o600 })
    renameSync(temp, this.path)
  }

  step(id: StepId): StepRecord {
    return (this.state.steps[id] ??= { status: 'pending' })
  }

  update(id: StepId, change: Partial<StepRecord>): void {
    Object.assign(this.step(id), change)
    this.save()
  }
}

function readLock(path: string): { pid: number; host: string; since: string } | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8'))
  } catch {
    return undefined
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
