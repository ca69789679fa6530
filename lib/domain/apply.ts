// Applying the objects the runbook owns: compare with what is live (lib/domain/drift.ts), apply only what differs
// (server-side), and mark each object with the runbook's managed-by label.
import { StepFailure } from '../config/errors.ts'
import { assertValidManifests } from '../kube/schema.ts'
import { allDifferences, asPlanned, type Comparison, compareWithPlan, comparisonAccess, fieldPath } from './drift.ts'
import { kubectlAccess, type Where } from '../kube/access.ts'
import { text } from '../config/text.ts'
import type { ApiAccess, KubeObject, StepContext, StepIO } from '../types.ts'

/** The label on every object the runbook creates (policies, probe pods): how undo and audits recognise them. */
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'gthulhu-runbook' }
/** Ties the probe pods of one batch together (one selector lists and deletes them); the admission policy's exemption reads it. */
export const PROBE_RUN_LABEL = 'gthulhu-runbook/probe-run'

/** Whether `live` carries every field of `desired` (lists must match item by item; the server may add defaults). */
export function containsFields(desired: unknown, live: unknown): boolean {
  if (Array.isArray(desired))
    return Array.isArray(live) && live.length === desired.length && desired.every((d, i) => containsFields(d, live[i]))
  if (desired && typeof desired === 'object') {
    if (!live || typeof live !== 'object' || Array.isArray(live)) return false
    return Object.entries(desired).every(([k, v]) => containsFields(v, (live as Record<string, unknown>)[k]))
  }
  return desired === live
}

/**
 * Applies the objects that are missing or differ from the plan (server-side, taking back fields someone else
 * changed), removes the fields someone else added that server-side apply would keep, and returns the names it
 * applied; an empty list means the cluster already matched.
 */
export async function applyChanged(
  ctx: StepContext,
  io: StepIO,
  desired: KubeObject[],
  resource: string | ((o: KubeObject) => string),
  options: Parameters<typeof compareWithPlan>[3] = {},
): Promise<string[]> {
  assertValidManifests(desired)
  const resourceOf = typeof resource === 'string' ? () => resource : resource
  const comparisons = await compareWithPlan(ctx.cluster, desired, resourceOf, options)
  const refused = comparisons.find((c) => c.error)
  if (refused) throw new StepFailure(`${refused.desired.kind} ${refused.desired.metadata.name}: ${refused.error}`)
  const changed = comparisons.filter((c) => !asPlanned(c))
  if (changed.length === 0) return []
  for (const c of changed) {
    if (c.live)
      io.warn(
        text.progress.differsFromPlan(
          `${c.desired.kind} ${c.desired.metadata.namespace}/${c.desired.metadata.name}`,
          allDifferences(c)
            .map((d) => fieldPath(d.at))
            .join(', '),
        ),
      )
  }
  await ctx.cluster.apply(
    changed.map((c) => c.desired),
    { forceConflicts: true },
  )
  for (const c of changed.filter((c) => c.foreign.length)) await removeForeignFields(ctx, c, resourceOf(c.desired))
  return changed.map((c) => `${c.desired.kind} ${c.desired.metadata.name}`)
}

/**
 * What applyChanged asks for one kind of object: the comparison (lib/domain/drift.ts), the server-side apply of what
 * differs, and a JSON patch that removes a field someone else added.
 */
export function applyAccess(qualified: string, where: Where, why: string): ApiAccess[] {
  return [
    ...comparisonAccess(qualified, where, why),
    ...kubectlAccess.apply(qualified, where, why),
    ...kubectlAccess.patch(qualified, { ...where, when: 'when someone else added a field' }, `${why} (removes it)`),
  ]
}

const pointer = (at: (string | number)[]) =>
  at.map((k) => `/${String(k).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')

/** Removes what another field manager added to a runbook object, each only if it still holds the value seen. */
async function removeForeignFields(ctx: StepContext, c: Comparison, resource: string): Promise<void> {
  const patch = c.foreign.flatMap((f) => [
    { op: 'test', path: pointer(f.at), value: f.live },
    { op: 'remove', path: pointer(f.at) },
  ])
  await ctx.cluster.kubectl([
    'patch',
    resource,
    c.desired.metadata.name,
    ...(c.desired.metadata.namespace ? ['-n', c.desired.metadata.namespace] : []),
    '--type',
    'json',
    '-p',
    JSON.stringify(patch),
  ])
}
