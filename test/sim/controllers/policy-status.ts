// AuthorizationPolicy status as istiod writes it for ambient (only while istiod runs):
// - a `targetRefs` policy (a Service, or a waypoint Gateway): `WaypointAccepted`, True with reason
//   Accepted and `bound to <ns>/<waypoint>` when the target is bound to a waypoint, else False; a policy
//   that targets only ingress Gateways gets no condition (the gateway, not a waypoint, enforces it);
// - every other policy (selector or namespace-wide, whether or not it selects an enrolled pod, gateway pods
//   included): `ZtunnelAccepted`, True `attached to ztunnel`; True with reason UnsupportedValue naming the
//   HTTP attributes ztunnel drops (the policy is still sent to ztunnel, so Bound stays true); False with
//   UnsupportedValue only for an action ztunnel cannot run (CUSTOM, AUDIT).
// `observedGeneration` is a string: istiod writes Istio status in proto JSON, where int64 is a string.
//
// Imitates istio/istio 1.29.1 pilot/pkg/serviceregistry/kube/controller/ambient/policies.go
// (WaypointAccepted per target; AuthzDerivedPolicies: Bound = a converted policy exists),
// ambient/authorization.go (convertAuthorizationPolicy: targetRefs policies are not for ztunnel, the
// unsupported-action status, the HTTP-attributes message and its ALLOW/DENY boilerplate, sorted names) and
// pilot/pkg/model/service.go (WorkloadAuthorization.GetConditions: `attached to ztunnel`).
// Simplifications and known differences: an unbound target is always reason TargetNotFound with the
// simulator's own message (istiod says AncestorNotBound, `Service <ns>/<name> is not bound to a
// waypoint`, for an existing Service without a waypoint); the DENY variant of the HTTP-attributes message
// no Invalid/PartiallyInvalid reasons, no GatewayClass or ServiceEntry targets, no dry-run annotation.
import { ClusterView } from '../cluster-view.ts'
import { httpAttributesOf, targetRefsOf } from '../authz.ts'
import type { KubeObject } from '../store.ts'
import { condition, writeStatus, type ReconcileContext } from './context.ts'
import { istiodReady } from './istio-install.ts'

export function updatePolicyStatus({ store, config }: ReconcileContext): void {
  if (!istiodReady(store)) return
  const view = new ClusterView(store, config.cni)
  for (const policy of view.authorizationPolicies) {
    const ns = policy.metadata.namespace!
    const previous = policy.status?.conditions
    const generation = policy.metadata.generation
    const conditions: any[] = []
    const refs = targetRefsOf(policy)
    if (refs.length) {
      const bound = refs
        .map((ref) => {
          if (ref.kind === 'Service' && !ref.group) {
            const svc = view.service(ns, ref.name)
            return svc && view.boundWaypoint(svc)
          }
          if (ref.kind === 'Gateway') {
            const gw = view.gateway(ns, ref.name)
            return gw?.spec?.gatewayClassName === 'istio-waypoint' ? gw : undefined
          }
          return undefined
        })
        .filter((g): g is KubeObject => Boolean(g))
      const ingressOnly = refs.every(
        (r) => r.kind === 'Gateway' && view.gateway(ns, r.name)?.spec?.gatewayClassName === 'istio',
      )
      if (!ingressOnly) {
        conditions.push(
          bound.length
            ? condition(
                previous,
                'WaypointAccepted',
                true,
                'Accepted',
                `bound to ${bound.map((g) => `${g.metadata.namespace}/${g.metadata.name}`).join(', ')}`,
                generation,
              )
            : condition(
                previous,
                'WaypointAccepted',
                false,
                'TargetNotFound',
                `not bound to a waypoint: ${refs.map((r) => `${r.kind} ${ns}/${r.name}`).join(', ')} has no istio.io/use-waypoint binding to a programmed waypoint`,
                generation,
              ),
        )
      }
    } else {
      conditions.push(ztunnelAccepted(policy, previous, generation))
    }
    if (!conditions.length && !policy.status) continue
    // istiod writes Istio status in proto JSON, where the int64 observedGeneration is a string.
    const asIstio = conditions.map((c: any) =>
      c.observedGeneration === undefined ? c : { ...c, observedGeneration: String(c.observedGeneration) },
    )
    writeStatus(store, 'authorizationPolicy', policy, { ...policy.status, conditions: asIstio })
  }
}

const HTTP_RULES_DROPPED = {
  ALLOW:
    'Within an ALLOW policy, rules matching HTTP attributes are omitted. This will be more restrictive than requested.',
  DENY: 'DENY policy with HTTP attributes is enforced without the HTTP rules. This will be more restrictive than requested.',
}

/** istiod translates every policy without targetRefs for ztunnel and says how it went. */
function ztunnelAccepted(policy: KubeObject, previous: any[] | undefined, generation: number | undefined) {
  const action = String(policy.spec?.action ?? 'ALLOW').toUpperCase()
  if (action !== 'ALLOW' && action !== 'DENY') {
    return condition(
      previous,
      'ZtunnelAccepted',
      false,
      'UnsupportedValue',
      `ztunnel does not support the ${action} action`,
      generation,
    )
  }
  const http = [...new Set((policy.spec?.rules ?? []).flatMap((r: any) => httpAttributesOf(r)))].sort()
  if (http.length === 0)
    return condition(previous, 'ZtunnelAccepted', true, 'Accepted', 'attached to ztunnel', generation)
  const message = `ztunnel does not support HTTP attributes (found: ${http.join(', ')}). In ambient mode you must use a waypoint proxy to enforce HTTP rules. ${HTTP_RULES_DROPPED[action]}`
  return condition(previous, 'ZtunnelAccepted', true, 'UnsupportedValue', message, generation)
}
