// AuthorizationPolicy status as istiod writes it for ambient (only while istiod runs), two conditions:
// - `WaypointAccepted`, for every policy with `targetRefs`: one binding per target, flattened into one condition.
//   A Service is Accepted (`bound to <ns>/<waypoint>`) when it uses a waypoint, else AncestorNotBound
//   (`Service <ns>/<name> is not bound to a waypoint`), or TargetNotFound (`Service <ns>/<name> was not found`);
//   a Gateway is Accepted when istiod knows it as a waypoint (any Gateway with an address), else TargetNotFound
//   `not bound` — so a policy that targets an ingress Gateway gets WaypointAccepted too; a GatewayClass must be
//   referenced from the root namespace and use the controller istio.io/mesh-controller (Invalid otherwise).
//   With several targets: Accepted when all are bound, PartiallyInvalid when some are, Invalid when none are,
//   the message listing the unbound ones (`Invalid targetRefs: …`).
// - `ZtunnelAccepted`, for every policy istiod converts for ztunnel (../authz.ts ztunnelAuthorization): True
//   `attached to ztunnel`; True with reason UnsupportedValue naming the HTTP attributes ztunnel drops; False with
//   UnsupportedValue when nothing is sent (an action ztunnel cannot run; a dry-run policy — targetRefs ones included,
//   since the dry-run check comes first). Written whether or not the policy selects an enrolled pod.
// `observedGeneration` is a string: istiod writes Istio status in proto JSON, where int64 is a string.
//
// Imitates istio/istio 1.29.1 pilot/pkg/serviceregistry/kube/controller/ambient/policies.go
// (WaypointPolicyStatusCollection: the per-target reasons and messages, Ancestor `<Kind>.<group or core>:<ns>/<name>`;
// PolicyCollections/AuthzDerivedPolicies: Bound = a converted policy exists), ambient/waypoints.go (a Gateway is a
// Waypoint once its status has an address), ambient/authorization.go (convertAuthorizationPolicy), and
// pilot/pkg/model/service.go (flattenConditions; WorkloadAuthorization.GetConditions: `attached to ztunnel`).
// Simplifications: a Service (or ServiceEntry) counts as bound when ../cluster-view.ts boundWaypoint says so (a
// Programmed istio-waypoint Gateway), not by istiod's Waypoint collection; no PeerAuthentication-derived policies.
import { ClusterView, typeOf } from '../cluster-view.ts'
import { ROOT_NAMESPACE, targetRefsOf, ztunnelAuthorization } from '../authz.ts'
import type { KubeObject } from '../store.ts'
import { condition, writeStatus, type ReconcileContext } from './context.ts'
import { istiodReady, MESH_CONTROLLER } from './istio-install.ts'

export interface PolicyBinding {
  ancestor: string
  reason: string
  message: string
  bound: boolean
}

/** What istiod's waypoint status needs to know about the cluster. */
export interface WaypointLookups {
  rootNamespace: string
  service(namespace: string, name: string): KubeObject | undefined
  serviceEntry(namespace: string, name: string): KubeObject | undefined
  /** The waypoint a Service or ServiceEntry is bound to, as `<ns>/<name>`. */
  waypointFor(object: KubeObject): string | undefined
  /** A Gateway istiod treats as a waypoint (its status has an address). */
  waypoint(namespace: string, name: string): KubeObject | undefined
  gatewayClass(name: string): KubeObject | undefined
}

/** WaypointPolicyStatusCollection: one binding per target of a targetRefs policy. */
export function waypointBindings(policy: KubeObject, lookups: WaypointLookups): PolicyBinding[] {
  return targetRefsOf(policy).map((target) => {
    const namespace = target.namespace || policy.metadata.namespace!
    const key = `${namespace}/${target.name}`
    let [reason, message, bound] = ['unknown', 'not bound', false]
    if (target.kind === 'GatewayClass') {
      const gatewayClass = lookups.gatewayClass(target.name)
      if (namespace !== lookups.rootNamespace) {
        reason = 'Invalid'
        message = `AuthorizationPolicy must be in the root namespace \`${lookups.rootNamespace}\` when referencing a GatewayClass`
      } else if (!gatewayClass) reason = 'TargetNotFound'
      else if (gatewayClass.spec?.controllerName !== MESH_CONTROLLER) {
        reason = 'Invalid'
        message = `GatewayClass must use controller name \`${MESH_CONTROLLER}\` for waypoints`
      } else [reason, message, bound] = ['Accepted', `bound to ${gatewayClass.metadata.name}`, true]
    } else if (target.kind === 'Gateway') {
      if (lookups.waypoint(namespace, target.name)) [reason, message, bound] = ['Accepted', `bound to ${key}`, true]
      else reason = 'TargetNotFound'
    } else if (target.kind === 'Service' || target.kind === 'ServiceEntry') {
      const object =
        target.kind === 'Service'
          ? lookups.service(namespace, target.name)
          : lookups.serviceEntry(namespace, target.name)
      const waypoint = object && lookups.waypointFor(object)
      if (waypoint) [reason, message, bound] = ['Accepted', `bound to ${waypoint}`, true]
      else if (object) [reason, message] = ['AncestorNotBound', `${target.kind} ${key} is not bound to a waypoint`]
      else [reason, message] = ['TargetNotFound', `${target.kind} ${key} was not found`]
    }
    return { ancestor: `${target.kind}.${target.group || 'core'}:${key}`, reason, message, bound }
  })
}

/** flattenConditions: one binding as it is; several into one (Accepted / PartiallyInvalid / Invalid). */
export function flattenBindings(bindings: PolicyBinding[]): { status: boolean; reason: string; message: string } {
  if (bindings.length === 1) {
    const [b] = bindings
    return { status: b.bound, reason: b.reason, message: b.message }
  }
  const unbound = bindings.filter((b) => !b.bound).map((b) => b.ancestor)
  const status = bindings.some((b) => b.bound)
  return {
    status,
    reason: status ? (unbound.length ? 'PartiallyInvalid' : 'Accepted') : 'Invalid',
    message: unbound.length ? `Invalid targetRefs: ${unbound.join(', ')}` : '',
  }
}

/** The lookups from the simulator's objects. */
export function waypointLookups(view: ClusterView, store: ReconcileContext['store']): WaypointLookups {
  const get = (kind: string, group: string, namespace: string | undefined, name: string) => {
    const rt = store.allTypes().find((t) => t.kind === kind && t.group === group)
    return rt ? store.get(rt, namespace, name) : undefined
  }
  const gatewayClassType = typeOf(store, 'gatewayClass')
  return {
    rootNamespace: ROOT_NAMESPACE,
    service: (ns, name) => view.service(ns, name),
    serviceEntry: (ns, name) => get('ServiceEntry', 'networking.istio.io', ns, name),
    waypointFor: (object) => {
      const w = view.boundWaypoint(object)
      return w && `${w.metadata.namespace}/${w.metadata.name}`
    },
    waypoint: (ns, name) => {
      const gw = view.gateway(ns, name)
      return gw && (gw.status?.addresses ?? []).length > 0 ? gw : undefined
    },
    gatewayClass: (name) => (gatewayClassType ? store.get(gatewayClassType, undefined, name) : undefined),
  }
}

export function updatePolicyStatus({ store, config }: ReconcileContext): void {
  if (!istiodReady(store)) return
  const view = new ClusterView(store, config.cni)
  const lookups = waypointLookups(view, store)
  for (const policy of view.authorizationPolicies) {
    const previous = policy.status?.conditions
    const generation = policy.metadata.generation
    const conditions: any[] = []
    if (targetRefsOf(policy).length) {
      const flat = flattenBindings(waypointBindings(policy, lookups))
      conditions.push(condition(previous, 'WaypointAccepted', flat.status, flat.reason, flat.message, generation))
    }
    const { authorization, status } = ztunnelAuthorization(policy, ROOT_NAMESPACE)
    if (authorization || status)
      conditions.push(
        condition(
          previous,
          'ZtunnelAccepted',
          Boolean(authorization),
          status?.reason ?? 'Accepted',
          status?.message ?? 'attached to ztunnel',
          generation,
        ),
      )
    if (!conditions.length && !policy.status) continue
    // istiod writes Istio status in proto JSON, where the int64 observedGeneration is a string.
    const asIstio = conditions.map((c: any) =>
      c.observedGeneration === undefined ? c : { ...c, observedGeneration: String(c.observedGeneration) },
    )
    writeStatus(store, 'authorizationPolicy', policy, { ...policy.status, conditions: asIstio })
  }
}
