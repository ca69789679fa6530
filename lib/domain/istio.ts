// Istio's names the runbook relies on (labels, ports, resources, identities) and the two things every step does
// with Istio: run the istioctl that the istioctl step verified, and read the conditions istiod writes on policies.
import { join } from 'node:path'
import type { Config } from '../config/options.ts'
import { pollUntil } from '../kube/wait.ts'
import type { KubeObject, StepContext } from '../types.ts'
import { condition, isCurrent, type Condition } from './gateway-api.ts'

export const ISTIO_NAMESPACE = 'istio-system'
/** Enrols a namespace (or a pod) in ambient: value `ambient`; `none` keeps a pod out. */
export const AMBIENT_LABEL = 'istio.io/dataplane-mode'
/** Mesh traffic reaches an enrolled pod inside ztunnel's HBONE tunnel on this port. */
export const HBONE_PORT = 15008
/** Where ambient's rewritten kubelet health probes come from (istio-cni SNAT), IPv4 and IPv6. */
export const KUBELET_PROBE_SOURCES = ['169.254.7.127/32', 'fd16:9254:7127:1337:ffff:ffff:ffff:ffff/128']
/** Binds a namespace or a Service to a waypoint. */
export const USE_WAYPOINT_LABEL = 'istio.io/use-waypoint'
/** Sends ingress traffic for a Service (or every Service of a namespace) through its waypoint. */
export const INGRESS_USE_WAYPOINT = 'istio.io/ingress-use-waypoint'
/** Istio labels a Gateway's pods with the Gateway's name. */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name'
export const POLICY_RESOURCE = 'authorizationpolicies.security.istio.io'
/** How long a check that waits for Istio to catch up (status written, Envoy configured) keeps retrying. */
export const SETTLE_RETRY_MS = 20_000

export const principalOf = (namespace: string, serviceAccount: string) =>
  `cluster.local/ns/${namespace}/sa/${serviceAccount}`
/** The identity of the gateway's pods: Istio names their ServiceAccount `<gateway>-istio`. */
export const gatewayPrincipal = (config: Pick<Config, 'namespace' | 'gatewayName'>) =>
  principalOf(config.namespace, `${config.gatewayName}-istio`)
export const waypointPrincipal = (config: Pick<Config, 'namespace' | 'waypointName'>) =>
  principalOf(config.namespace, config.waypointName)

export const istioctlPath = (config: Pick<Config, 'installDir'>) => join(config.installDir, 'istioctl')

/** The istioctl every step runs and every plan shows: the one the istioctl step installed (facts), else --install-dir's. */
export const istioctlBinary = (config: Pick<Config, 'installDir'>, facts: Pick<StepContext['facts'], 'istioctlPath'>) =>
  facts.istioctlPath ?? istioctlPath(config)

/** Points the cluster's istioctl calls at the binary this runbook installed (recorded in facts, else --install-dir). */
export function useInstalledIstioctl(ctx: Pick<StepContext, 'cluster' | 'config' | 'facts'>): void {
  ctx.cluster.istioctlPath = istioctlBinary(ctx.config, ctx.facts)
}

/**
 * A condition istiod writes on an AuthorizationPolicy (ZtunnelAccepted, WaypointAccepted), for the policy's current
 * generation. istiod writes it a moment after the policy is applied, so a missing or stale one is read again for a
 * short while (bounded by --timeout).
 */
export async function policyCondition(
  ctx: StepContext,
  type: string,
  first: KubeObject | undefined,
): Promise<Condition | undefined> {
  const current = (p: KubeObject | undefined) => {
    const c = condition(p, type)
    // istiod writes observedGeneration as a string (an int64 in proto JSON).
    return c &&
      isCurrent(
        { ...c, observedGeneration: c.observedGeneration === undefined ? undefined : Number(c.observedGeneration) },
        p?.metadata.generation as number | undefined,
      )
      ? c
      : undefined
  }
  let last = current(first)
  if (!first || last?.status === 'True') return last
  await pollUntil(
    async () => {
      last = current(
        await ctx.cluster.findJson<KubeObject>([
          'get',
          POLICY_RESOURCE,
          first.metadata.name,
          '-n',
          ctx.config.namespace,
        ]),
      )
      return last?.status === 'True' ? last : undefined
    },
    { timeoutMs: Math.min(SETTLE_RETRY_MS, ctx.config.timeout * 1000), intervalMs: 250, signal: ctx.signal },
  )
  return last
}
