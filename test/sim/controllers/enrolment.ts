// Ambient enrolment: while ztunnel runs, a pod in a namespace labelled `istio.io/dataplane-mode=ambient`
// (or labelled so itself; `none` opts out) is captured and gets the annotation
// `ambient.istio.io/redirection: enabled`; the annotation goes when the pod leaves the mesh.
//
// Imitates istio/istio 1.29.1:
// - manifests/charts/istio-cni/values.yaml (`ambient.enablementSelectors`: pod label ambient, or
//   namespace label ambient and pod label not `none`) as cni/pkg/util/enablement_selector.go applies them;
// - cni/pkg/nodeagent/informers.go (reconcilePod: capture or release a pod as its labels or its
//   namespace's labels change);
// - cni/pkg/util/podutil.go and pkg/config/constants/constants.go (the redirection annotation, `enabled`).
// Simplifications: capture is instant once ztunnel has a ready pod (no CNI plugin, no `pending` state,
// no iptables); pods in istio-system, hostNetwork pods and gateway/waypoint pods (label
// `gateway.networking.k8s.io/gateway-name`; istiod labels ingress gateway pods `istio.io/dataplane-mode:
// none`, see deploymentcontroller.go setLabelOverrides) are never captured; deleting pods are left alone.
import { DATAPLANE_LABEL, ISTIO_NAMESPACE, REDIRECTION_ANNOTATION, getOf, listOf } from '../cluster-view.ts'
import { isGatewayPod } from '../network.ts'
import type { Store } from '../store.ts'
import { resourceType, type ReconcileContext } from './context.ts'

function ztunnelReady(store: Store): boolean {
  const ztunnel = getOf(store, 'daemonSet', ISTIO_NAMESPACE, 'ztunnel')
  return (ztunnel?.status?.numberReady ?? 0) > 0
}

export function reconcileEnrolment({ store }: ReconcileContext): void {
  const ztunnel = ztunnelReady(store)
  const nsLabels = new Map(listOf(store, 'namespace').map((n) => [n.metadata.name, n.metadata.labels ?? {}]))
  for (const pod of listOf(store, 'pod')) {
    if (pod.spec?.hostNetwork || pod.metadata.deletionTimestamp) continue
    const podMode = pod.metadata.labels?.[DATAPLANE_LABEL]
    const nsMode = nsLabels.get(pod.metadata.namespace!)?.[DATAPLANE_LABEL]
    const want =
      ztunnel &&
      !isGatewayPod(pod) &&
      pod.metadata.namespace !== ISTIO_NAMESPACE &&
      (podMode === 'ambient' || (nsMode === 'ambient' && podMode !== 'none'))
    const has = pod.metadata.annotations?.[REDIRECTION_ANNOTATION] === 'enabled'
    if (want === has) continue
    store.mutate(resourceType(store, 'pod'), pod.metadata.namespace, pod.metadata.name, (p) => {
      const annotations = { ...(p.metadata.annotations ?? {}) }
      if (want) annotations[REDIRECTION_ANNOTATION] = 'enabled'
      else delete annotations[REDIRECTION_ANNOTATION]
      p.metadata.annotations = annotations
    })
  }
}
