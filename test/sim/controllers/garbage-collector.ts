// Garbage collection by ownerReferences: an object whose owners are all gone is deleted.
//
// Imitates kubernetes/kubernetes v1.32.0 pkg/controller/garbagecollector/garbagecollector.go (an owner
// reference is dangling when no object with its uid exists; an object whose owners are all dangling is
// deleted).
// Simplifications: owners are only Deployments, ReplicaSets, DaemonSets, StatefulSets and Gateways,
// dependents only the kinds those create (ReplicaSets, Pods, Deployments, Services, ServiceAccounts); deletion is immediate (no foreground/orphan propagation, no
// finalizers); no dependency graph: every pass rescans.
import type { KindName } from '../cluster-view.ts'
import { listOf } from '../cluster-view.ts'
import { tryDelete, type ReconcileContext } from './context.ts'
import { WORKLOAD_KINDS } from './workloads.ts'

const OWNER_KINDS = ['Deployment', 'ReplicaSet', 'DaemonSet', 'StatefulSet', 'Gateway']
const DEPENDENT_KINDS: KindName[] = [
  'replicaSet',
  'pod',
  'deployment',
  'daemonSet',
  'statefulSet',
  'service',
  'serviceAccount',
]

export function collectGarbage({ store }: ReconcileContext): void {
  const alive = new Set<string>()
  for (const kind of [...WORKLOAD_KINDS, 'replicaSet', 'gateway'] as KindName[])
    for (const o of listOf(store, kind)) alive.add(o.metadata.uid!)
  for (const kind of DEPENDENT_KINDS) {
    for (const o of listOf(store, kind)) {
      const owners = (o.metadata.ownerReferences ?? []).filter((r) => OWNER_KINDS.includes(r.kind))
      if (owners.length && owners.every((r) => !alive.has(r.uid))) tryDelete(store, kind, o)
    }
  }
}
