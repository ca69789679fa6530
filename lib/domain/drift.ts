// Whether an object the runbook owns is still exactly as planned, compared the way `kubectl diff --server-side`
// compares: the plan goes to the API server as a server-side apply dry run (it merges the plan into the live
// object, applies defaults and admission, stores nothing) and the result is set against the live object. Server-side
// apply keeps a field another field manager set that the plan does not mention (an extra selector label, an
// `istio.io/dry-run` annotation), so such a field is a difference too, unless the API server would have put it on
// the planned object anyway (a default, a mutating webhook): a dry-run create of the plan tells which.
// Compared: every top-level field but apiVersion, kind, metadata and status, plus the labels and annotations.
import { CommandError } from '../config/errors.ts'
import { text } from '../config/text.ts'
import type { Cluster } from '../kube/cluster.ts'
import { access, kubectlAccess, type Where } from '../kube/access.ts'
import type { ApiAccess, Check, KubeObject } from '../types.ts'

/** One field that differs: where, what the cluster has, what the plan puts there (undefined: absent). */
export interface FieldChange {
  /** JSON pointer segments from the object's root (`['spec', 'podSelector', 'matchLabels', 'tier']`). */
  at: (string | number)[]
  live: unknown
  planned: unknown
}

export interface Comparison {
  desired: KubeObject
  live?: KubeObject
  /** Empty when the object is as planned; for a missing object, the one change "absent → planned". */
  changes: FieldChange[]
  /** Fields the plan does not set that server-side apply would keep (another field manager's): undo removes them. */
  foreign: FieldChange[]
  /** Set when the API server refused the dry run: the comparison could not be made. */
  error?: string
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const equal = (a: unknown, b: unknown) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b))
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical)
  if (isMap(v))
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical(v[k])]),
    )
  return v
}

/** The parts of an object that say what it does: labels, annotations and every field beside metadata and status. */
export function comparedView(o: KubeObject): Record<string, unknown> {
  const { apiVersion: _a, kind: _k, metadata, status: _s, ...rest } = o
  const view: Record<string, unknown> = { ...rest }
  const labels = metadata?.labels ?? {}
  const annotations = metadata?.annotations ?? {}
  // Empty maps are what the API server omits; only present keys count.
  if (Object.keys(labels).length || Object.keys(annotations).length)
    view.metadata = {
      ...(Object.keys(labels).length ? { labels } : {}),
      ...(Object.keys(annotations).length ? { annotations } : {}),
    }
  return view
}

/** Every field where `live` and `planned` differ, as deep as both sides have the same shape. */
export function diffFields(live: unknown, planned: unknown, at: (string | number)[] = []): FieldChange[] {
  if (equal(live, planned)) return []
  // Labels and annotations count one by one even where one side has none at all.
  const byKey = at.length === 0 || (at.length <= 2 && at[0] === 'metadata')
  const asMap = (v: unknown) => (v === undefined && byKey ? {} : v)
  if (isMap(asMap(live)) && isMap(asMap(planned))) {
    const [l, p] = [asMap(live) as Record<string, unknown>, asMap(planned) as Record<string, unknown>]
    const keys = [...new Set([...Object.keys(l), ...Object.keys(p)])].sort()
    return keys.flatMap((k) => diffFields(l[k], p[k], [...at, k]))
  }
  if (Array.isArray(live) && Array.isArray(planned) && live.length === planned.length)
    return live.flatMap((item, i) => diffFields(item, planned[i], [...at, i]))
  return [{ at, live, planned }]
}

/** Fields of `merged` that `plan` does not mention at all (a list the plan sets is the plan's, item by item). */
export function fieldsBeyond(merged: unknown, plan: unknown, at: (string | number)[] = []): FieldChange[] {
  if (isMap(merged) && isMap(plan))
    return Object.keys(merged)
      .sort()
      .flatMap((k) =>
        k in plan
          ? fieldsBeyond(merged[k], plan[k], [...at, k])
          : // Labels and annotations count one by one, so each is named (and removed) on its own.
            ((at.length === 0 && k === 'metadata') || (at.length === 1 && at[0] === 'metadata')) && isMap(merged[k])
            ? fieldsBeyond(merged[k], {}, [...at, k])
            : [{ at: [...at, k], live: merged[k], planned: undefined }],
      )
  if (Array.isArray(merged) && Array.isArray(plan) && merged.length === plan.length)
    return merged.flatMap((item, i) => fieldsBeyond(item, plan[i], [...at, i]))
  return []
}

const valueAt = (root: unknown, at: (string | number)[]) =>
  at.reduce<unknown>((node, key) => (node as any)?.[key as any], root)

/** `spec.podSelector.matchLabels["app.kubernetes.io/name"]`, `spec.rules[0].from`: a path as people read it. */
export function fieldPath(at: (string | number)[]): string {
  return at
    .map((k, i) =>
      typeof k === 'number' ? `[${k}]` : /^[A-Za-z_][\w-]*$/.test(k) ? `${i ? '.' : ''}${k}` : `[${JSON.stringify(k)}]`,
    )
    .join('')
}

const MAX_VALUE = 160
const show = (v: unknown) => {
  if (v === undefined) return '(absent)'
  const text = JSON.stringify(v)
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text
}

/** The differences as diff lines: `-` what the cluster has, `+` what the plan puts there. */
export function diffLines(changes: FieldChange[]): string[] {
  return changes.flatMap((c) => {
    const path = fieldPath(c.at)
    return [
      ...(c.live === undefined ? [] : [`- ${path}: ${show(c.live)}`]),
      ...(c.planned === undefined ? [] : [`+ ${path}: ${show(c.planned)}`]),
    ]
  })
}

const key = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`
const itemsOf = (out: string): KubeObject[] => {
  const parsed = JSON.parse(out || '{}')
  return parsed.kind === 'List' ? (parsed.items ?? []) : [parsed]
}
const refusal = (error: unknown) =>
  error instanceof CommandError ? (error.stderr.trim() || error.message).split('\n')[0] : (error as Error).message

/** The live objects, one kubectl call per namespace (`kubectl get res/a res/b`), in the order of `desired`. */
async function readLive(
  cluster: Cluster,
  desired: KubeObject[],
  resource: (o: KubeObject) => string,
): Promise<(KubeObject | undefined)[]> {
  const namespaces = [...new Set(desired.map((o) => o.metadata.namespace))]
  const found = (
    await Promise.all(
      namespaces.map(async (ns) => {
        const refs = desired.filter((o) => o.metadata.namespace === ns).map((o) => `${resource(o)}/${o.metadata.name}`)
        const out = await cluster.findJson<KubeObject & { items?: KubeObject[] }>([
          'get',
          ...refs,
          ...(ns ? ['-n', ns] : []),
        ])
        return !out ? [] : out.kind === 'List' || Array.isArray(out.items) ? (out.items ?? []) : [out]
      }),
    )
  ).flat()
  return desired.map((d) => found.find((o) => key(o) === key(d)))
}

/** The plan as the API server would make it on an empty cluster: a dry-run create under a name nobody uses. */
async function asCreated(cluster: Cluster, desired: KubeObject[]): Promise<Map<string, KubeObject>> {
  const suffix = '-gthulhu-plan'
  const renamed = desired.map((o) => ({ ...o, metadata: { ...o.metadata, name: `${o.metadata.name}${suffix}` } }))
  const { stdout } = await cluster.kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], {
    objects: renamed,
  })
  return new Map(
    itemsOf(stdout).map((o) => {
      const restored = { ...o, metadata: { ...o.metadata, name: o.metadata.name.slice(0, -suffix.length) } }
      return [key(restored), restored]
    }),
  )
}

/**
 * Compares each desired object with the live one: `changes` are what re-applying the plan would change (what
 * `kubectl diff --server-side` shows), `foreign` the fields someone else added that re-applying would keep.
 * `resource` names what kubectl gets each object as.
 */
export async function compareWithPlan(
  cluster: Cluster,
  desired: KubeObject[],
  resource: (o: KubeObject) => string,
  options: { controllerFields?: (string | number)[][] } = {},
): Promise<Comparison[]> {
  // The live objects and the server's dry run do not depend on each other: both at once.
  const [live, dryRun] = await Promise.all([
    readLive(cluster, desired, resource),
    cluster.apply(desired, { forceConflicts: true, dryRun: true }).then(
      (out) => ({ merged: new Map(itemsOf(out).map((o) => [key(o), o])) }),
      (error: unknown) => ({ error: `the API server refused the dry run: ${refusal(error)}` }),
    ),
  ])
  if ('error' in dryRun)
    return desired.map((d, i) => ({ desired: d, live: live[i], changes: [], foreign: [], error: dryRun.error }))
  const { merged } = dryRun
  const comparisons = desired.map((d, i): Comparison => {
    const have = live[i]
    if (!have) return { desired: d, changes: [{ at: [], live: undefined, planned: 'the whole object' }], foreign: [] }
    const after = merged.get(key(d)) ?? d
    return {
      desired: d,
      live: have,
      changes: diffFields(comparedView(have), comparedView(after)),
      // A field a controller writes on every such object (istiod's version annotation on a Gateway) is not drift.
      foreign: fieldsBeyond(comparedView(after), comparedView(d)).filter(
        (f) => !(options.controllerFields ?? []).some((c) => equal(c, f.at)),
      ),
    }
  })
  const withForeign = comparisons.filter((c) => c.foreign.length)
  if (withForeign.length) {
    // A default or a mutating webhook puts the same field on a freshly created object: that is the plan's, not drift.
    const created = await asCreated(
      cluster,
      withForeign.map((c) => c.desired),
    ).catch(() => new Map<string, KubeObject>())
    for (const c of withForeign) {
      const fresh = created.get(key(c.desired))
      if (fresh) c.foreign = c.foreign.filter((f) => !equal(valueAt(comparedView(fresh), f.at), f.live))
    }
  }
  return comparisons
}

/**
 * What compareWithPlan asks for one kind of owned object: a read of each, a server-side apply dry run (a patch, or a
 * create of that name when the object is missing) and, when someone else added a field, a dry-run create of the
 * plan under another name (a POST: RBAC cannot name it).
 */
export function comparisonAccess(qualified: string, where: Where, why: string): ApiAccess[] {
  return [
    ...kubectlAccess.get(qualified, where, why),
    access(qualified, ['patch'], where, `${why} (server-side apply dry run)`),
    access(qualified, ['create'], { ...where, when: 'when it is missing' }, `${why} (server-side apply dry run)`),
    access(
      qualified,
      ['create'],
      { namespace: where.namespace, when: 'when someone else added a field' },
      `${why} (dry-run create of the plan)`,
    ),
  ]
}

export const asPlanned = (c: Comparison) => !c.error && c.live !== undefined && !c.changes.length && !c.foreign.length

/** Every difference of one comparison, the live value first. */
export const allDifferences = (c: Comparison) => [...c.changes, ...c.foreign]

/** Annotations that change what a policy does, named in the check so nobody has to read the diff to see it. */
const MEANINGFUL_ANNOTATIONS: Record<string, (value: string) => string | undefined> = {
  // istiod hands a dry-run policy to no enforcer as an enforced one (ambient/authorization.go, model/authorization.go).
  'istio.io/dry-run': (value) =>
    value.toLowerCase() === 'true' ? 'not enforced: istio.io/dry-run is "true"' : undefined,
}

/** What the differences mean in one phrase each (an annotation that turns a policy off), for the check's observation. */
export function meaning(c: Comparison): string[] {
  const annotations = c.live?.metadata.annotations ?? {}
  return Object.entries(MEANINGFUL_ANNOTATIONS).flatMap(([name, read]) => {
    const said = name in annotations ? read(String(annotations[name])) : undefined
    return said ? [said] : []
  })
}

/** The check of one owned object: as planned, missing, or differing (the diff in `diff`, the gist in `observed`). */
export function comparisonCheck(c: Comparison, expected: string, hint: string): Check {
  const { kind, namespace, name } = { ...c.desired.metadata, kind: c.desired.kind }
  const differences = allDifferences(c)
  const observed = c.error
    ? `not compared: ${c.error}`
    : !c.live
      ? 'not found'
      : differences.length
        ? `differs in ${differences.length} field(s): ${[...meaning(c), ...differences.map((d) => fieldPath(d.at))].join(', ')}`
        : 'as planned'
  return {
    name: text.checks.policyApplied(kind, `${namespace ? `${namespace}/` : ''}${name}`),
    expected,
    observed,
    ok: asPlanned(c),
    hint,
    ...(c.live && differences.length ? { diff: diffLines(differences) } : {}),
  }
}
