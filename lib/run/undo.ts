// Ownership-aware undo. Before a step first changes anything, the engine records what its UndoSpec names
// (objects: did they exist and were they the runbook's; labels: their previous values; other facts). Undo
// puts exactly that back: it deletes what the runbook created, restores labels, and leaves — and names —
// whatever was there before.
import { text } from '../config/text.ts'
import { CommandError, StepFailure } from '../config/errors.ts'
import { MANAGED_BY } from '../domain/apply.ts'
import type {
  BeforeRecord,
  Check,
  KubeObject,
  LabelRef,
  ObjectRef,
  PlanContext,
  PlanItem,
  Step,
  StepContext,
  StepIO,
} from '../types.ts'

export const FIELD_MANAGER = 'gthulhu-runbook'

export const objectKey = (ref: ObjectRef) => `${ref.resource}/${ref.namespace ?? ''}/${ref.name}`
export const showRef = (ref: ObjectRef) =>
  `${ref.resource.split('.')[0]} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`
const inNamespace = (ref: ObjectRef) => (ref.namespace ? ['-n', ref.namespace] : [])
const getArgs = (ref: ObjectRef) => ['get', ref.resource, ref.name, ...inNamespace(ref)]
const deleteArgs = (ref: ObjectRef) => ['delete', ref.resource, ref.name, ...inNamespace(ref), '--ignore-not-found']
/** Sets a label back to `value`, or removes it when it was not set. */
const labelArgs = (ref: LabelRef, value: string | null) => [
  'label',
  ref.resource,
  ref.name,
  ...inNamespace(ref),
  ...(value === null ? [`${ref.key}-`] : [`${ref.key}=${value}`, '--overwrite']),
]
const showValue = (value: string | null | undefined) => (value == null ? '(not set)' : value)
// kubectl's answer when the resource type itself is not installed (its CRD is absent): then no such object exists.
const UNKNOWN_RESOURCE = /doesn't have a resource type|could not find the requested resource|no matches for kind/i

/** The object, or undefined when it or its whole resource type is absent. */
async function findObject(ctx: Pick<StepContext, 'cluster'>, ref: ObjectRef): Promise<KubeObject | undefined> {
  try {
    return await ctx.cluster.findJson<KubeObject>(getArgs(ref))
  } catch (error) {
    if (error instanceof CommandError && UNKNOWN_RESOURCE.test(error.stderr)) return undefined
    throw error
  }
}

/** The object as someone wrote it: without what the API server fills in (identity, versions, status, managed fields). */
export function asWritten(object: KubeObject): KubeObject {
  const { uid, resourceVersion, generation, creationTimestamp, managedFields, selfLink, ...metadata } =
    object.metadata as KubeObject['metadata'] & Record<string, unknown>
  const { status, ...rest } = object
  return { ...rest, metadata } as KubeObject
}

/** Whether the runbook made this object: its server-side apply field manager, or the managed-by label. */
export function managedByRunbook(object: KubeObject | undefined): boolean {
  if (!object) return false
  const [key, value] = Object.entries(MANAGED_BY)[0]
  const managers = ((object.metadata.managedFields as { manager?: string }[] | undefined) ?? []).map((f) => f.manager)
  return object.metadata.labels?.[key] === value || managers.includes(FIELD_MANAGER)
}

/** An object with a runbook name that the runbook did not make: taken over only with --take-over. */
export class ForeignObject extends StepFailure {}

/**
 * Records what the step's UndoSpec names, once: a key already recorded keeps its first value, so a step run
 * again (or resumed after a failure) still remembers the cluster as it was before the runbook. An object that
 * exists and is not the runbook's stops the step unless --take-over, on this run and on every later one until it
 * is taken over; it is recorded whole first, so undo leaves it as it is, or puts it back once taken over.
 */
export async function recordBefore(step: Step, ctx: StepContext): Promise<void> {
  const spec = step.undo
  const before = ctx.before
  if (!spec || !before) return
  // Read: what is not recorded yet, and what was someone else's before the runbook (is it still?).
  const refs = (spec.objects?.(ctx) ?? []).filter((ref) => {
    const recorded = before.objects?.[objectKey(ref)]
    return !recorded || (recorded.existed && !recorded.managed)
  })
  const labels = (spec.labels?.(ctx) ?? []).filter((ref) => before.labels?.[objectKey(ref)]?.[ref.key] === undefined)
  const targets = [...new Map([...refs, ...labels].map((ref) => [objectKey(ref), ref])).values()]
  const [found, live] = await Promise.all([
    spec.found && !before.found ? spec.found(ctx) : undefined,
    Promise.all(targets.map((ref) => findObject(ctx, ref))),
  ])
  const seen = new Map(targets.map((ref, i) => [objectKey(ref), live[i]]))
  // Not the runbook's now (one recorded absent is left out: this step made it, maybe through istioctl, whose
  // field manager is its own).
  const foreign = refs.filter((ref) => {
    const object = seen.get(objectKey(ref))
    return object && !managedByRunbook(object)
  })
  const objects = refs.filter((ref) => !before.objects?.[objectKey(ref)])
  for (const ref of objects) {
    const object = seen.get(objectKey(ref))
    ;(before.objects ??= {})[objectKey(ref)] = {
      existed: !!object,
      managed: managedByRunbook(object),
      ...(object ? { object: asWritten(object) } : {}),
    }
  }
  for (const ref of labels) {
    ;((before.labels ??= {})[objectKey(ref)] ??= {})[ref.key] =
      seen.get(objectKey(ref))?.metadata.labels?.[ref.key] ?? null
  }
  if (found) before.found = found
  if (foreign.length && !ctx.config.takeOver)
    throw new ForeignObject(
      text.record.foreign(foreign.map(showRef), `kubectl ${getArgs(foreign[0]).join(' ')} -o yaml`),
    )
}

/**
 * Objects undo deletes (the runbook's), those it leaves (there before, someone else's) and, among those, the
 * ones it puts back as they were (taken over with --take-over, so recorded whole).
 */
export function partitionObjects(
  refs: ObjectRef[],
  before: BeforeRecord | undefined,
): { remove: ObjectRef[]; keep: ObjectRef[]; restore: { ref: ObjectRef; object: KubeObject }[] } {
  const keep = refs.filter((ref) => {
    const seen = before?.objects?.[objectKey(ref)]
    return !!seen && seen.existed && !seen.managed
  })
  const restore = keep.flatMap((ref) => {
    const object = before?.objects?.[objectKey(ref)]?.object
    return object ? [{ ref, object }] : []
  })
  return { remove: refs.filter((ref) => !keep.includes(ref)), keep, restore }
}

/** Whether the live object is what was recorded before the runbook: spec (or data), labels and annotations. */
export function sameAsBefore(recorded: KubeObject, live: KubeObject | undefined): boolean {
  if (!live) return false
  const { metadata: a, ...restA } = asWritten(recorded)
  const { metadata: b, ...restB } = asWritten(live)
  const canonical = (value: unknown): string =>
    JSON.stringify(value, (_k, v) =>
      v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v,
    )
  return (
    canonical({ ...restA, apiVersion: undefined }) === canonical({ ...restB, apiVersion: undefined }) &&
    canonical(a.labels ?? {}) === canonical(b.labels ?? {}) &&
    canonical(a.annotations ?? {}) === canonical(b.annotations ?? {})
  )
}

/** Puts a taken-over object back as recorded (replacing what the runbook applied, or creating it if deleted). */
async function restoreObject(ctx: StepContext, ref: ObjectRef, recorded: KubeObject): Promise<void> {
  const live = await findObject(ctx, ref)
  const object = {
    ...recorded,
    metadata: { ...recorded.metadata, ...(live ? { resourceVersion: live.metadata.resourceVersion } : {}) },
  }
  await ctx.cluster.kubectl([live ? 'replace' : 'create', '-f', '-'], { input: JSON.stringify(object) })
}

/** The value a label goes back to; without a record (a step done by an older runbook) the label is removed. */
const previousValue = (ref: LabelRef, before: BeforeRecord | undefined) =>
  before?.labels?.[objectKey(ref)]?.[ref.key] ?? null

/** What undo of a step will do, for --dry-run and the guided confirmation. */
export function undoPlan(step: Step, ctx: PlanContext): PlanItem[] {
  const spec = step.undo
  const { remove, keep, restore } = partitionObjects(spec?.objects?.(ctx) ?? [], ctx.before)
  const restored = restore.map((r) => r.ref)
  const items: PlanItem[] = [
    ...(spec?.labels?.(ctx) ?? []).map((ref): PlanItem => {
      const value = previousValue(ref, ctx.before)
      return {
        kind: 'command',
        argv: ['kubectl', ...labelArgs(ref, value)],
        why: value === null ? 'it was not set before' : 'its value before the runbook',
      }
    }),
    ...remove.map((ref): PlanItem => ({ kind: 'command', argv: ['kubectl', ...deleteArgs(ref)] })),
    ...restore.map(
      ({ ref, object }): PlanItem => ({
        kind: 'manifest',
        object,
        apply: 'client-side',
        why: text.plan.undoPutBack(showRef(ref)),
      }),
    ),
    ...keep
      .filter((ref) => !restored.includes(ref))
      .map(
        (ref): PlanItem => ({
          kind: 'note',
          text: text.plan.undoLeave(showRef(ref)),
        }),
      ),
    ...(spec?.describe?.(ctx) ?? []).map((text): PlanItem => ({ kind: 'note', text })),
  ]
  return items.length ? items : [{ kind: 'note', text: text.plan.nothingToUndo }]
}

/** The generic part of an undo: shared-use check, labels back, the runbook's objects deleted, then the step's own rollback. */
export async function undoStep(step: Step, ctx: StepContext, io: StepIO): Promise<void> {
  const blocked = await step.undo?.blockedBy?.(ctx)
  if (blocked) throw new UndoBlocked(text.failures.undoBlocked(step.id, blocked))
  for (const ref of step.undo?.labels?.(ctx) ?? []) {
    const value = previousValue(ref, ctx.before)
    const live = await findObject(ctx, ref)
    if (!live) continue
    if ((live.metadata.labels?.[ref.key] ?? null) === value) continue
    await ctx.cluster.kubectl(labelArgs(ref, value))
    io.log(
      value === null
        ? text.progress.labelRemoved(ref.key, showRef(ref))
        : text.progress.labelPutBack(ref.key, value, showRef(ref)),
    )
  }
  const { remove, keep, restore } = partitionObjects(step.undo?.objects?.(ctx) ?? [], ctx.before)
  const restored = restore.map((r) => r.ref)
  for (const ref of keep.filter((r) => !restored.includes(r))) io.log(text.progress.leftNotOurs(showRef(ref)))
  for (const { ref, object } of restore) {
    if (sameAsBefore(object, await findObject(ctx, ref))) {
      io.log(text.progress.leftAsBefore(showRef(ref)))
      continue
    }
    await restoreObject(ctx, ref, object)
    io.log(text.progress.putBack(showRef(ref)))
  }
  // Deleted one by one: the resources differ, and a missing one is not an error.
  await Promise.all(
    remove.map(async (ref) => {
      const result = await ctx.cluster.exec(ctx.cluster.kubectlArgv(deleteArgs(ref)))
      if (result.exitCode !== 0 && !UNKNOWN_RESOURCE.test(result.stderr))
        throw new CommandError(result.argv, result.exitCode, result.stderr, result.stdout)
      if (result.stdout.trim()) io.log(text.progress.deleted(showRef(ref)))
    }),
  )
  await step.rollback?.(ctx, io)
}

/** The checks of an undo: the runbook's objects gone, kept objects still there, labels at their previous values. */
export async function undoChecks(step: Step, ctx: StepContext): Promise<Check[]> {
  const refs = step.undo?.objects?.(ctx) ?? []
  const { keep, restore } = partitionObjects(refs, ctx.before)
  const labels = step.undo?.labels?.(ctx) ?? []
  const targets = [...new Map([...refs, ...labels].map((ref) => [objectKey(ref), ref])).values()]
  const live = new Map(
    await Promise.all(targets.map(async (ref) => [objectKey(ref), await findObject(ctx, ref)] as const)),
  )
  return [
    ...restore.map(({ ref, object }): Check => {
      const now = live.get(objectKey(ref))
      return {
        name: text.checks.objectRestored(showRef(ref)),
        expected: 'as recorded before the runbook took it over',
        observed: !now ? 'absent' : sameAsBefore(object, now) ? 'as recorded' : 'differs from the record',
        ok: sameAsBefore(object, now),
        hint: `kubectl ${getArgs(ref).join(' ')} -o yaml`,
      }
    }),
    ...refs
      .filter((ref) => !restore.some((r) => r.ref === ref))
      .map((ref): Check => {
        const kept = keep.includes(ref)
        const present = !!live.get(objectKey(ref))
        return {
          name: text.checks.objectUndone(showRef(ref), kept),
          expected: kept ? 'present' : 'absent',
          observed: present ? 'present' : 'absent',
          ok: present === kept,
          hint: kept ? undefined : `kubectl ${getArgs(ref).join(' ')}`,
        }
      }),
    ...labels.map((ref): Check => {
      const expected = previousValue(ref, ctx.before)
      const object = live.get(objectKey(ref))
      const observed = object?.metadata.labels?.[ref.key] ?? null
      return {
        name: text.checks.labelRestored(ref.key, showRef(ref)),
        expected: showValue(expected),
        observed: object ? showValue(observed) : `${showRef(ref)} not found`,
        ok: !object || observed === expected,
      }
    }),
  ]
}

/** A shared thing is still in use: nothing was changed, and the message names what uses it. */
export class UndoBlocked extends StepFailure {}

/** Names at most a handful of objects, and how many more there are. */
export function nameSome(names: string[], limit = 8): string {
  return names.length <= limit
    ? names.join(', ')
    : `${names.slice(0, limit).join(', ')} and ${names.length - limit} more`
}
