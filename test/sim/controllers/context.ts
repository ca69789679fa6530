// What every controller of the simulated cluster is handed, and the store writes they share.
// A controller is a function of the store (level-triggered, like a Kubernetes controller reading its
// informer cache): it reads the current objects, writes what it wants, and asks for a later pass when
// its next step depends on time rather than on a store change.
import type { Faults } from '../faults.ts'
import type { KubeObject, ResourceType, Store } from '../store.ts'
import { now, typeOf, type Cni, type KindName } from '../cluster-view.ts'

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
