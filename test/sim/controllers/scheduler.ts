// The scheduler, for pods nobody placed: a pod without spec.nodeName is bound to the first Ready node its
// nodeSelector and required node affinity admit, or left Pending with PodScheduled False, reason Unschedulable.
// (Workload controllers place their pods on sim-node-1 themselves.)
//
// Imitates kubernetes/kubernetes v1.32.0 pkg/scheduler/schedule_one.go (binding, the Unschedulable condition
// and its "0/N nodes are available: …" message), pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go
// (nodeSelector and requiredDuringSchedulingIgnoredDuringExecution terms: any term, all of its expressions) and
// staging/src/k8s.io/component-helpers/scheduling/corev1/nodeaffinity/nodeaffinity.go (In, NotIn, Exists,
// DoesNotExist, Gt, Lt on node labels; matchFields on metadata.name).
// Simplifications: no resources, taints, ports or spreading; the first admitted node in name order wins;
// `faults.probePodsPending` keeps probe pods unplaced (the kubelet reports them Unschedulable).
import { conditionTrue, listOf, now } from '../cluster-view.ts'
import type { KubeObject } from '../store.ts'
import { resourceType, writeStatus, type ReconcileContext } from './context.ts'
import { isProbePod } from './pods.ts'

function expressionHolds(e: any, value: string | undefined): boolean {
  const values: string[] = (e.values ?? []).map(String)
  switch (e.operator) {
    case 'In':
      return value !== undefined && values.includes(value)
    case 'NotIn':
      return value === undefined || !values.includes(value)
    case 'Exists':
      return value !== undefined
    case 'DoesNotExist':
      return value === undefined
    case 'Gt':
      return value !== undefined && Number(value) > Number(values[0])
    case 'Lt':
      return value !== undefined && Number(value) < Number(values[0])
    default:
      return false
  }
}

/** Whether a node satisfies a pod's nodeSelector and required node affinity. */
export function nodeAdmits(node: KubeObject, pod: KubeObject): boolean {
  const labels: Record<string, string> = node.metadata.labels ?? {}
  const selector: Record<string, string> = pod.spec?.nodeSelector ?? {}
  if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) return false
  const terms: any[] =
    pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []
  if (terms.length === 0) return true
  return terms.some(
    (term) =>
      (term.matchExpressions?.length || term.matchFields?.length) &&
      (term.matchExpressions ?? []).every((e: any) => expressionHolds(e, labels[e.key])) &&
      (term.matchFields ?? []).every((e: any) =>
        expressionHolds(e, e.key === 'metadata.name' ? node.metadata.name : undefined),
      ),
  )
}

export function schedulePods({ store, faults }: ReconcileContext): void {
  const nodes = listOf(store, 'node').filter((n) => conditionTrue(n, 'Ready') && !n.spec?.unschedulable)
  for (const pod of listOf(store, 'pod')) {
    if (pod.spec?.nodeName || (pod.status?.phase && pod.status.phase !== 'Pending')) continue
    if (faults.probePodsPending && isProbePod(pod)) continue
    const node = nodes.find((n) => nodeAdmits(n, pod))
    if (node) {
      store.mutate(resourceType(store, 'pod'), pod.metadata.namespace, pod.metadata.name, (p) => {
        p.spec.nodeName = node.metadata.name
        p.status = {
          ...(p.status ?? {}),
          phase: 'Pending',
          conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: now() }],
        }
      })
      continue
    }
    const count = nodes.length
    writeStatus(store, 'pod', pod, {
      phase: 'Pending',
      qosClass: pod.status?.qosClass ?? 'BestEffort',
      conditions: [
        {
          type: 'PodScheduled',
          status: 'False',
          lastTransitionTime:
            (pod.status?.conditions ?? []).find((c: any) => c.type === 'PodScheduled' && c.status === 'False')
              ?.lastTransitionTime ?? now(),
          reason: 'Unschedulable',
          message: `0/${count} nodes are available: ${count} node(s) didn't match Pod's node affinity/selector. preemption: 0/${count} nodes are available: ${count} Preemption is not helpful for scheduling.`,
        },
      ],
    })
  }
}
