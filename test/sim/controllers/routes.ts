// HTTPRoute status as Istio's gateway controller writes it: one `.status.parents[]` entry per parentRef,
// controllerName `istio.io/gateway-controller`, conditions Accepted and ResolvedRefs. Entries of other
// controllers are kept.
//
// Imitates istio/istio 1.29.1 pilot/pkg/config/kube/gateway/route_collections.go (which calls
// createRouteStatus), conditions.go (createRouteStatus: `Route was valid`, `All references resolved`,
// reason NoMatchingParent) and conversion.go (`backend(<host>) not found`, reason BackendNotFound).
// Condition types, reasons and the RouteParentStatus shape as kubernetes-sigs/gateway-api v1.4.0
// apis/v1/shared_types.go and apis/v1/httproute_types.go define them.
// Simplifications: only Service backends are checked; hostnames, sectionName/port against listeners,
// allowedRoutes and ReferenceGrants are not evaluated (any existing parent Gateway accepts the route);
// the NoMatchingParent message is the simulator's own wording; other route kinds get no status.
import { ClusterView, GATEWAY_GROUP } from '../cluster-view.ts'
import { condition, writeStatus, type ReconcileContext } from './context.ts'
import { GATEWAY_CONTROLLER, istiodReady } from './istio-install.ts'

export function updateRouteStatus({ store, config }: ReconcileContext): void {
  if (!istiodReady(store)) return
  const view = new ClusterView(store, config.cni)
  for (const route of view.httpRoutes) {
    const ns = route.metadata.namespace!
    const missing = (route.spec?.rules ?? [])
      .flatMap((r: any) => r.backendRefs ?? [])
      .filter((b: any) => (b.kind ?? 'Service') === 'Service' && !view.service(b.namespace ?? ns, b.name))
      .map((b: any) => `${b.name}.${b.namespace ?? ns}.svc.cluster.local`)
    const ours = (route.spec?.parentRefs ?? []).map((ref: any) => {
      const gw = view.gateway(ref.namespace ?? ns, ref.name)
      const before = (route.status?.parents ?? []).find(
        (p: any) => JSON.stringify(p.parentRef) === JSON.stringify(parentRefOf(ref)),
      )?.conditions
      const generation = route.metadata.generation
      return {
        parentRef: parentRefOf(ref),
        controllerName: GATEWAY_CONTROLLER,
        conditions: [
          gw
            ? condition(before, 'Accepted', true, 'Accepted', 'Route was valid', generation)
            : condition(
                before,
                'Accepted',
                false,
                'NoMatchingParent',
                `parent gateway ${ref.namespace ?? ns}/${ref.name} not found`,
                generation,
              ),
          missing.length
            ? condition(
                before,
                'ResolvedRefs',
                false,
                'BackendNotFound',
                `backend(${missing.join(', ')}) not found`,
                generation,
              )
            : condition(before, 'ResolvedRefs', true, 'ResolvedRefs', 'All references resolved', generation),
        ],
      }
    })
    const others = (route.status?.parents ?? []).filter((p: any) => p.controllerName !== GATEWAY_CONTROLLER)
    writeStatus(store, 'httpRoute', route, { ...route.status, parents: [...others, ...ours] })
  }
}

/** The parentRef with the API's defaults filled in, as the status repeats it. */
function parentRefOf(ref: any) {
  return {
    group: ref.group ?? GATEWAY_GROUP,
    kind: ref.kind ?? 'Gateway',
    name: ref.name,
    ...(ref.namespace ? { namespace: ref.namespace } : {}),
    ...(ref.sectionName ? { sectionName: ref.sectionName } : {}),
    ...(ref.port ? { port: ref.port } : {}),
  }
}
