// Which steps a run executes, from --only / --from / --skip / --resume and the state file. Pure, so it is
// unit-tested without a cluster.
import { UsageError } from '../config/errors.ts'
import type { Config } from '../config/options.ts'
import { MAY_HAVE_CHANGED, type StepRecord } from './state.ts'
import type { Step, StepId } from '../types.ts'
import { text } from '../config/text.ts'

export interface Selection {
  /** Steps to run, in runbook order. */
  run: StepId[]
  /** Steps left out of this run, with the reason shown in the summary. */
  left: { id: StepId; reason: string }[]
}

const finished = (record?: StepRecord) => record?.status === 'done' || record?.status === 'accepted'

export function selectSteps(
  steps: Pick<Step, 'id' | 'requires'>[],
  config: Pick<Config, 'only' | 'from' | 'skip' | 'resume' | 'explicit'>,
  records: Partial<Record<StepId, StepRecord>>,
): Selection {
  const ids = steps.map((s) => s.id)
  // An empty --only means "no filter" below: given empty, it names no step rather than every step.
  if (config.explicit.includes('only') && !config.only.length) throw new UsageError(text.errors.onlyNamesNoStep(ids))
  const named = new Set<StepId>(config.only.length ? config.only : config.from ? [config.from] : [])
  const left: Selection['left'] = []
  const run: StepId[] = []
  const fromIndex = config.from ? ids.indexOf(config.from) : 0
  ids.forEach((id, index) => {
    if (config.only.length && !config.only.includes(id)) return left.push({ id, reason: text.summary.notInOnly })
    if (index < fromIndex) return left.push({ id, reason: text.summary.beforeFrom(config.from!) })
    if (config.skip.includes(id)) return left.push({ id, reason: text.summary.namedInSkip })
    if (config.resume && finished(records[id]) && !named.has(id))
      return left.push({ id, reason: text.summary.earlierRun(text.summary.status[records[id]!.status]) })
    run.push(id)
  })
  if (run.length === 0) {
    throw new UsageError(config.resume ? text.errors.nothingToResume : text.errors.noStepSelected)
  }
  // A step that needs another's facts runs only when that step is done or runs before it.
  for (const id of run) {
    const step = steps.find((s) => s.id === id)!
    for (const needed of step.requires ?? []) {
      if (!finished(records[needed]) && !run.slice(0, run.indexOf(id)).includes(needed)) {
        throw new UsageError(text.errors.needsStep(id, needed))
      }
    }
  }
  return { run, left }
}

/** The steps --rollback or --uninstall undoes, latest first: only those whose changes may be in the cluster. */
export function selectUndo(
  steps: Pick<Step, 'id'>[],
  config: Pick<Config, 'rollback' | 'uninstall'>,
  records: Partial<Record<StepId, StepRecord>>,
  context: string,
): StepId[] {
  const undoable = (id: StepId) => MAY_HAVE_CHANGED.includes(records[id]?.status ?? 'pending')
  if (config.rollback) {
    const status = records[config.rollback]?.status ?? 'pending'
    if (!undoable(config.rollback)) {
      throw new UsageError(
        text.errors.nothingToRollBack(
          config.rollback,
          status,
          context,
          steps
            .map((s) => s.id)
            .filter(undoable)
            .join(', '),
        ),
      )
    }
    return [config.rollback]
  }
  const ids = steps
    .map((s) => s.id)
    .filter(undoable)
    .reverse()
  if (ids.length === 0) throw new UsageError(text.errors.nothingToUninstall(context))
  return ids
}

/** Steps --verify audits: those done (or accepted) in this context. */
export function selectAudit(
  steps: Pick<Step, 'id'>[],
  records: Partial<Record<StepId, StepRecord>>,
  context: string,
): StepId[] {
  const ids = steps.map((s) => s.id).filter((id) => finished(records[id]))
  if (ids.length === 0) throw new UsageError(text.errors.nothingToAudit(context))
  return ids
}
