// Istio's names the runbook relies on (labels, ports, resources, identities) and the two things every step does
// with Istio: run the istioctl that the istioctl step verified, and read the conditions istiod writes on policies.
import { join } from 'node:path'
import { StepFailure } from '../config/errors.ts'
import { text } from '../config/text.ts'
import type { Config } from '../config/options.ts'
import { yaml } from '../config/lazy-yaml.ts'
import { kubectlAccess } from '../kube/access.ts'
import { untilChanged } from '../kube/wait.ts'
import type { ApiAccess, Facts, KubeObject, StepContext } from '../types.ts'
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
/** The policy attached to the waypoint itself: whatever Service is bound to it, only the manager's callers pass. */
export const WAYPOINT_POLICY = 'gthulhu-waypoint-allow-manager-callers'
/** How long a check that waits for Istio to catch up (status written, Envoy configured) keeps retrying. */
export const SETTLE_RETRY_MS = 20_000

/** Istio's default trust domain (meshConfig.trustDomain when the mesh does not set one). */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local'
/** The ConfigMap istiod reads its mesh config from (key `mesh`, YAML). */
export const MESH_CONFIG = { namespace: ISTIO_NAMESPACE, name: 'istio' }

/** The mesh's trust domain as the runbook last read it from the live mesh (else Istio's default). */
export const trustDomainOf = (facts: Pick<Facts, 'trustDomain'>) => facts.trustDomain ?? DEFAULT_TRUST_DOMAIN

/**
 * An Istio principal. ztunnel compares principals with the peer's identity as exact strings, trust domain
 * included (istio/istio 1.29.1 ambient/authorization.go stringToMatch), so they are written in the mesh's own.
 */
export const principalOf = (trustDomain: string, namespace: string, serviceAccount: string) =>
  `${trustDomain}/ns/${namespace}/sa/${serviceAccount}`
/** The identity of the gateway's pods: Istio names their ServiceAccount `<gateway>-istio`. */
export const gatewayPrincipal = (
  config: Pick<Config, 'namespace' | 'gatewayName'>,
  facts: Pick<Facts, 'trustDomain'>,
) => principalOf(trustDomainOf(facts), config.namespace, `${config.gatewayName}-istio`)
export const waypointPrincipal = (
  config: Pick<Config, 'namespace' | 'waypointName'>,
  facts: Pick<Facts, 'trustDomain'>,
) => principalOf(trustDomainOf(facts), config.namespace, config.waypointName)

/** meshConfig.trustDomain in the mesh's `istio` ConfigMap; undefined when there is no such ConfigMap. */
export async function readTrustDomain(ctx: Pick<StepContext, 'cluster'>): Promise<string | undefined> {
  const configMap = await ctx.cluster.findJson<KubeObject>([
    'get',
    'configmap',
    MESH_CONFIG.name,
    '-n',
    MESH_CONFIG.namespace,
  ])
  if (!configMap) return undefined
  let mesh: any
  try {
    mesh = yaml().parse(String(configMap.data?.mesh ?? '')) ?? {}
  } catch {
    return undefined
  }
  const domain = typeof mesh?.trustDomain === 'string' ? mesh.trustDomain.trim() : ''
  return domain || DEFAULT_TRUST_DOMAIN
}

/** What readTrustDomain asks: the mesh's ConfigMap. */
export const trustDomainAccess = (why: string): ApiAccess[] =>
  kubectlAccess.get('configmaps', { namespace: MESH_CONFIG.namespace, names: [MESH_CONFIG.name] }, why)

/** What policyCondition asks beyond the comparison's read: a watch of the policy while istiod has not written it. */
export const policyConditionAccess = (namespace: string, names: string[], why: string): ApiAccess[] =>
  kubectlAccess.watch('authorizationpolicies.security.istio.io', { namespace, names }, why)

/** Reads the live mesh's trust domain into facts (kept as it was when the mesh config cannot be read). */
export async function refreshTrustDomain(ctx: Pick<StepContext, 'cluster' | 'facts'>): Promise<string> {
  const live = await readTrustDomain(ctx)
  if (live) ctx.facts.trustDomain = live
  return trustDomainOf(ctx.facts)
}

export const istioctlPath = (config: Pick<Config, 'installDir'>) => join(config.installDir, 'istioctl')

/** The istioctl every step runs and every plan shows: the one the istioctl step installed (facts), else --install-dir's. */
export const istioctlBinary = (config: Pick<Config, 'installDir'>, facts: Pick<StepContext['facts'], 'istioctlPath'>) =>
  facts.istioctlPath ?? istioctlPath(config)

/**
 * Points the cluster's istioctl calls at the binary the istioctl step recorded (path and SHA-256); the cluster then
 * checks that hash before every call, so a binary replaced since is never run, and --install-dir is not needed.
 */
export function useInstalledIstioctl(ctx: Pick<StepContext, 'cluster' | 'config' | 'facts'>): void {
  const sha256 = ctx.facts.istioctlSha256
  if (!ctx.facts.istioctlPath || !sha256) throw new StepFailure(text.failures.noVerifiedIstioctl)
  ctx.cluster.useIstioctl(verifiedIstioctlPath(ctx), sha256)
}

/**
 * Where the verified istioctl is looked for: the path the record names, or (when --install-dir is given, as on
 * another machine or in an audit image) the one there, which must then hash to the recorded SHA-256 all the same.
 */
export const verifiedIstioctlPath = (ctx: Pick<StepContext, 'config' | 'facts'>) =>
  ctx.config.explicit?.includes('installDir') || !ctx.facts.istioctlPath
    ? istioctlPath(ctx.config)
    : ctx.facts.istioctlPath

/**
 * A condition istiod writes on an AuthorizationPolicy (ZtunnelAccepted, WaypointAccepted), for the policy's current
 * generation. istiod writes it a moment after the policy is applied, so after a run a missing or stale one is read
 * again for a short while (bounded by --timeout); an audit reads it once.
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
  await untilChanged(
    ctx.cluster,
    [{ resource: POLICY_RESOURCE, namespace: ctx.config.namespace, name: first.metadata.name }],
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
    { timeoutMs: Math.min(SETTLE_RETRY_MS, ctx.settleMs), signal: ctx.signal },
  )
  return last
}
