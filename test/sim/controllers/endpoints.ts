// The endpoints controller: for every Service with a selector, an Endpoints object of the same name listing the
// selected pods that have an IP — Ready pods under `addresses` (the ones kube-proxy and ztunnel send traffic
// to), the others under `notReadyAddresses` — with the Service's ports resolved against the pods.
//
// Imitates kubernetes/kubernetes v1.32.0 pkg/controller/endpoint/endpoints_controller.go (syncService: pods
// matched by the selector, `podutil.IsPodReady` deciding addresses vs notReadyAddresses, terminal pods left
// out, `publishNotReadyAddresses` putting every pod under addresses) and pkg/api/v1/endpoints (subsets).
// Simplifications: one subset per Service (ports resolved against the first pod), no EndpointSlices (the
// network model reads pods directly), no targetRef resourceVersion, no topology.
import { isPodReady, listOf, resolvePort, serviceSelects } from '../cluster-view.ts'
import type { KubeObject } from '../store.ts'
import { resourceType, type ReconcileContext } from './context.ts'

export function reconcileEndpoints({ store }: ReconcileContext): void {
  const type = resourceType(store, 'endpoints')
  const pods = listOf(store, 'pod').filter(
    (p) => p.status?.podIP && !['Succeeded', 'Failed'].includes(p.status?.phase) && !p.metadata.deletionTimestamp,
  )
  for (const svc of listOf(store, 'service')) {
    if (!svc.spec?.selector || Object.keys(svc.spec.selector).length === 0) continue
    const selected = pods.filter((p) => serviceSelects(svc, p))
    const address = (p: KubeObject) => ({
      ip: p.status.podIP,
      nodeName: p.spec?.nodeName,
      targetRef: { kind: 'Pod', namespace: p.metadata.namespace, name: p.metadata.name, uid: p.metadata.uid },
    })
    const serving = (p: KubeObject) => svc.spec.publishNotReadyAddresses || isPodReady(p)
    const ports = (svc.spec.ports ?? []).map((port: any) => ({
      ...(port.name ? { name: port.name } : {}),
      port: resolvePort(selected[0], port.targetPort ?? port.port) ?? port.port,
      protocol: port.protocol ?? 'TCP',
    }))
    const subset: Record<string, unknown> = {}
    if (selected.some(serving)) subset.addresses = selected.filter(serving).map(address)
    if (selected.some((p) => !serving(p))) subset.notReadyAddresses = selected.filter((p) => !serving(p)).map(address)
    const subsets = selected.length ? [{ ...subset, ports }] : []
    const ns = svc.metadata.namespace
    const existing = store.get(type, ns, svc.metadata.name)
    if (!existing) {
      store.create(type, {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name: svc.metadata.name, namespace: ns, labels: { ...(svc.metadata.labels ?? {}) } },
        subsets,
      })
    } else if (JSON.stringify(existing.subsets ?? []) !== JSON.stringify(subsets)) {
      store.mutate(type, ns, svc.metadata.name, (e) => {
        e.subsets = subsets
      })
    }
  }
}
