// What an installed istiod does on its own, before anyone creates a Gateway: it creates its default
// GatewayClasses (`istio` for ingress, `istio-waypoint` for waypoints) and marks them Accepted.
//
// Imitates istio/istio 1.29.1 pilot/pkg/config/kube/gateway/deploymentcontroller.go (the built-in
// classes, their controllers `istio.io/gateway-controller` and `istio.io/mesh-controller`) and
// pilot/pkg/config/kube/gateway/gatewayclass.go (creating the class objects; their Accepted status,
// `Handled by Istio controller`).
// Simplifications: only the two classes above (no `istio-remote`, `istio-east-west`, agentgateway); the
// descriptions are worded differently; the classes appear as soon as istiod's Deployment exists and are
// Accepted once it is ready; the install itself (istiod, ztunnel, istio-cni) is the fake istioctl's job
// (../istioctl.ts); istiod's version is its image tag.
import { GATEWAY_GROUP, ISTIO_NAMESPACE, getOf, typeOf } from '../cluster-view.ts'
import type { Store } from '../store.ts'
import { condition, writeStatus, type ReconcileContext } from './context.ts'

export const GATEWAY_CONTROLLER = 'istio.io/gateway-controller'
export const MESH_CONTROLLER = 'istio.io/mesh-controller'

/** istiod's version (its image tag), or undefined while Istio is not installed. */
export function istiodVersion(store: Store): string | undefined {
  const istiod = getOf(store, 'deployment', ISTIO_NAMESPACE, 'istiod')
  const image = String(istiod?.spec?.template?.spec?.containers?.[0]?.image ?? '')
  return istiod ? image.split(':').pop() || 'unknown' : undefined
}

export function istiodReady(store: Store): boolean {
  const istiod = getOf(store, 'deployment', ISTIO_NAMESPACE, 'istiod')
  return (istiod?.status?.readyReplicas ?? 0) > 0
}

export function reconcileGatewayClasses({ store }: ReconcileContext): void {
  const classType = typeOf(store, 'gatewayClass')
  if (!classType || !istiodVersion(store)) return
  // istiod creates its default GatewayClasses whenever the Gateway API CRDs are present.
  for (const [name, controllerName] of [
    ['istio', GATEWAY_CONTROLLER],
    ['istio-waypoint', MESH_CONTROLLER],
  ]) {
    let gc = store.get(classType, undefined, name)
    if (!gc) {
      try {
        gc = store.create(classType, {
          apiVersion: `${GATEWAY_GROUP}/${classType.version}`,
          kind: 'GatewayClass',
          metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'istio' } },
          spec: {
            controllerName,
            description: `The default Istio GatewayClass for ${name === 'istio' ? 'ingress' : 'waypoint'} gateways`,
          },
        })
      } catch {
        continue
      }
    }
    if (!istiodReady(store)) continue
    const conditions = [
      condition(
        gc.status?.conditions,
        'Accepted',
        true,
        'Accepted',
        'Handled by Istio controller',
        gc.metadata.generation,
      ),
    ]
    writeStatus(store, 'gatewayClass', gc, { ...gc.status, conditions })
  }
}
