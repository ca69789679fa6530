// What every controller of the simulated cluster is handed, and the store writes they share.
// A controller is a function of the store (level-triggered, like a Kubernetes controller reading its
// informer cache): it reads the current objects, writes what it wants, and asks for a later pass when
// its next step depends on time rather than on a store change.
import type { UserInfo } from '../authn.ts'
import type { Faults } from '../faults.ts'
import type { KubeObject, ResourceType, Store } from '../store.ts'
import { now, typeOf, type Cni, type KindName } from '../cluster-view.ts'
import { validatingAdmission } from '../validating-admission.ts'

export const NODE_NAME = 'sim-node-1'

export interface Timing {
  podStartMs: number
  probeRunMs: number
  rolloutStepMs: number
}

export const DEFAULT_TIMING: Timing = { podStartMs: 120, probeRunMs: 150, rolloutStepMs: 150 }

export interface WorldConfig {
  cni: Cni
  timing: Timing
  /** The address a cloud load balancer gives LoadBalancer Services; none: they stay pending (kind, bare metal). */
  loadBalancerAddress?: string
}

export interface ReconcileContext {
  readonly store: Store
  readonly faults: Faults
  readonly config: WorldConfig
  /** Asks for another pass no later than `t` (epoch ms). */
  wakeAt(t: number): void
  /** Creations admission refused, by owner uid: when the controller may try again (its backoff). */
  readonly refusedUntil: Map<string, number>
}

/** How long a controller waits before it tries again a creation admission refused (its work queue's backoff). */
export const REFUSAL_BACKOFF_MS = 1000

/**
 * Creates an object as a controller does: with the controller's own identity, through the API server's
 * admission. A refusal is what the controller then reports, a Warning Event `FailedCreate` on the owner
 * (`Error creating: <the API server's message>`), and the creation is tried again after a backoff.
 */
export function createAs(
  ctx: ReconcileContext,
  user: UserInfo,
  kind: KindName,
  object: KubeObject,
  owner: KubeObject,
): KubeObject | undefined {
  const { store } = ctx
  const rt = resourceType(store, kind)
  const ownerUid = owner.metadata.uid!
  if ((ctx.refusedUntil.get(ownerUid) ?? 0) > Date.now()) return undefined
  const { denial } = validatingAdmission(store, {
    operation: 'CREATE',
    rt,
    namespace: rt.namespaced ? object.metadata.namespace : undefined,
    name: '',
    object,
    oldObject: null,
    userInfo: user,
    dryRun: false,
  })
  if (!denial) {
    ctx.refusedUntil.delete(ownerUid)
    return store.create(rt, object)
  }
  const retryAt = Date.now() + REFUSAL_BACKOFF_MS
  ctx.refusedUntil.set(ownerUid, retryAt)
  ctx.wakeAt(retryAt)
  recordFailedCreate(store, owner, `Error creating: ${denial.message}`)
  return undefined
}

/** One Warning Event per owner, its count raised on every repeat (as the event recorder aggregates them). */
function recordFailedCreate(store: Store, owner: KubeObject, message: string): void {
  const rt = resourceType(store, 'event')
  const name = `${owner.metadata.name}.failed-create`
  const existing = store.get(rt, owner.metadata.namespace, name)
  const timestamp = now()
  if (existing) {
    store.update(rt, { ...existing, message, count: (existing.count ?? 1) + 1, lastTimestamp: timestamp })
    return
  }
  store.create(rt, {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace: owner.metadata.namespace },
    involvedObject: {
      apiVersion: owner.apiVersion,
      kind: owner.kind,
      name: owner.metadata.name,
      namespace: owner.metadata.namespace,
      uid: owner.metadata.uid,
    },
    reason: 'FailedCreate',
    message,
    type: 'Warning',
    count: 1,
    firstTimestamp: timestamp,
    lastTimestamp: timestamp,
    source: { component: `${owner.kind.toLowerCase()}-controller` },
  })
}

export function resourceType(store: Store, kind: KindName): ResourceType {
  const rt = typeOf(store, kind)
  if (!rt) throw new Error(`sim: ${kind} is not served`)
  return rt
}

/** Deletes an object; one that is already gone (a race with another writer) is not an error. */
export function tryDelete(store: Store, kind: KindName, o: KubeObject): void {
  try {
    store.delete(resourceType(store, kind), o.metadata.namespace, o.metadata.name)
  } catch {}
}

/** Replaces `.status` (the status subresource); skips the write when nothing changed. */
export function writeStatus(store: Store, kind: KindName, o: KubeObject, status: any): void {
  if (JSON.stringify(o.status ?? {}) === JSON.stringify(status)) return
  try {
    store.mutate(resourceType(store, kind), o.metadata.namespace, o.metadata.name, (current) => {
      current.status = status
    })
  } catch {}
}

/** A status condition that keeps its lastTransitionTime unless its status changed. */
export function condition(
  previous: any[] | undefined,
  type: string,
  status: boolean | 'Unknown',
  reason: string,
  message: string,
  generation?: number,
) {
  const value = status === 'Unknown' ? 'Unknown' : status ? 'True' : 'False'
  const before = (previous ?? []).find((c: any) => c.type === type)
  return {
    type,
    status: value,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    lastTransitionTime: before?.status === value ? before.lastTransitionTime : now(),
    reason,
    message,
  }
}
