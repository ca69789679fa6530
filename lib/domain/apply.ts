// Applying the objects the runbook owns: compare with what is live, apply only what differs (server-side), and
// mark each object with the runbook's managed-by label.
import { assertValidManifests } from '../kube/schema.ts'
import type { KubeObject, StepContext, StepIO } from '../types.ts'

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

export const appliedAsPlanned = (desired: KubeObject, live: KubeObject | undefined) =>
  !!live &&
  containsFields(desired.spec, live.spec) &&
  containsFields(desired.metadata.labels ?? {}, live.metadata.labels ?? {})

/**
 * Applies the objects that are missing or differ (server-side, taking back fields someone else changed) and
 * returns the names it applied; an empty list means the cluster already matched.
 */
export async function applyChanged(
  ctx: StepContext,
  io: StepIO,
  desired: KubeObject[],
  resource: string,
): Promise<string[]> {
  assertValidManifests(desired)
  const live = await Promise.all(
    desired.map((o) =>
      ctx.cluster.findJson<KubeObject>(['get', resource, o.metadata.name, '-n', o.metadata.namespace!]),
    ),
  )
  const changed = desired.filter((o, i) => !appliedAsPlanned(o, live[i]))
  if (changed.length === 0) return []
  for (const o of changed) {
    if (live[desired.indexOf(o)])
      io.warn(
        `${o.kind} ${o.metadata.namespace}/${o.metadata.name} differs from the plan; applying the planned version`,
      )
  }
  await ctx.cluster.apply(changed, { forceConflicts: true })
  return changed.map((o) => `${o.kind} ${o.metadata.name}`)
}
