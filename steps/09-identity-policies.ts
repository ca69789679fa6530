// Identity policies: AuthorizationPolicies with a pod selector, which ztunnel on each destination's node enforces
// for every connection, whichever way it came. They close what the waypoint never sees (a pod IP, plaintext from
// outside the mesh) and what NetworkPolicies cannot tell apart (a pod wearing the manager's labels).
// Proven by the attacker's paths: each must be refused, while the manager, the waypoint and the gateway still get through.
import { condition, httpGet, isCurrent, type Condition } from '../lib/gateway-api.ts'
import { workloads } from '../lib/gthulhu.ts'
import { loadManifest } from '../lib/manifests.ts'
import { managerPrincipals, type Config } from '../lib/options.ts'
import {
  formatMatrix,
  impersonationLabels,
  MANAGED_BY,
  probeCheck,
  runProbes,
  type ProbeResult,
  type ProbeSpec,
} from '../lib/probes.ts'
import { sampleUserAgent } from '../lib/user-agents.ts'
import { pollUntil } from '../lib/wait.ts'
import type { Check, Facts, KubeObject, PlanItem, Step, StepContext } from '../lib/types.ts'
import { AMBIENT_LABEL, applyChanged, appliedAsPlanned, protectedTargets, targetProbe } from './06-l4-policies.ts'

export const POLICY_RESOURCE = 'authorizationpolicies.security.istio.io'
const MANAGER_POLICY = 'gthulhu-manager-allow-waypoint-and-gateway'
const MONGODB_POLICY = 'gthulhu-mongodb-allow-manager'
const SCHEDULER_POLICY = 'gthulhu-scheduler-allow-manager'
/** How long a check that waits for Istio to catch up (status written, Envoy configured) keeps retrying. */
export const SETTLE_RETRY_MS = 20_000

export const principalOf = (namespace: string, serviceAccount: string) =>
  `cluster.local/ns/${namespace}/sa/${serviceAccount}`
/** The identity of the gateway's pods: Istio names their ServiceAccount `<gateway>-istio`. */
export const gatewayPrincipal = (config: Pick<Config, 'namespace' | 'gatewayName'>) =>
  principalOf(config.namespace, `${config.gatewayName}-istio`)
export const waypointPrincipal = (config: Pick<Config, 'namespace' | 'waypointName'>) =>
  principalOf(config.namespace, config.waypointName)

export function managerService(config: Config, facts: Facts) {
  const { manager } = workloads(config, facts)
  return { name: manager.service?.name ?? `${config.release}-manager`, port: manager.service?.port ?? 8080 }
}

/** The three policies, each admitting only the identities that have a reason to call its pods. */
export function desiredIdentityPolicies(config: Config, facts: Facts): KubeObject[] {
  const { manager, mongodb, scheduler } = workloads(config, facts)
  const managerIdentity = principalOf(config.namespace, manager.serviceAccount)
  const admit: [string, Record<string, string>, string[]][] = [
    [MANAGER_POLICY, manager.selectorLabels, [waypointPrincipal(config), gatewayPrincipal(config)]],
    [MONGODB_POLICY, mongodb.selectorLabels, [managerIdentity]],
    [SCHEDULER_POLICY, scheduler.selectorLabels, [managerIdentity]],
  ]
  return admit.map(([name, selector, principals]) => {
    const policy = loadManifest('identity-policies.yaml', 'AuthorizationPolicy', name)
    policy.metadata.namespace = config.namespace
    policy.metadata.labels = { ...policy.metadata.labels, ...MANAGED_BY }
    policy.spec.selector = { matchLabels: { ...selector } }
    policy.spec.rules = [{ from: [{ source: { principals } }] }]
    return policy
  })
}

const admitted = (policy: KubeObject) => (policy.spec.rules[0].from[0].source.principals as string[]).join(', ')

/** An existing ServiceAccount in the namespace that the manager's L7 policy admits, to call the manager as (through the waypoint). */
export async function allowedCaller(
  ctx: StepContext,
  principals: string[],
): Promise<{ sa: string; principal: string } | undefined> {
  for (const principal of principals) {
    const match = /^[^/]+\/ns\/([^/]+)\/sa\/([^/*]+)$/.exec(principal)
    if (!match || match[1] !== ctx.config.namespace || principal === gatewayPrincipal(ctx.config)) continue
    if (await ctx.cluster.findJson(['get', 'serviceaccount', match[2], '-n', ctx.config.namespace]))
      return { sa: match[2], principal }
  }
  return undefined
}

/** A Running pod's IP of the manager, the address a caller uses to skip the waypoint. */
export async function managerPodIp(ctx: StepContext): Promise<string | undefined> {
  const { manager } = workloads(ctx.config, ctx.facts)
  const selector = Object.entries(manager.selectorLabels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
  const pods = await ctx.cluster.list('pods', { namespace: ctx.config.namespace, selector })
  // Only the manager's own pods (owned by its ReplicaSet), never a probe wearing its labels.
  return pods.find(
    (p) =>
      p.status?.phase === 'Running' && p.status?.podIP && (p.metadata.ownerReferences as unknown[] | undefined)?.length,
  )?.status?.podIP
}

/**
 * The attacker's paths, each exchanging data (ztunnel accepts a connection before it authorizes it, so only an
 * answer counts): a pod outside the mesh to the manager Service, an enrolled pod with another identity to the
 * manager's pod IP, and a pod wearing the manager's labels with another identity to MongoDB and the decision maker.
 */
export function bypassProbeSpecs(config: Config, facts: Facts, podIp: string | undefined): ProbeSpec[] {
  const { manager } = workloads(config, facts)
  const service = managerService(config, facts)
  const refused = { kind: 'blocked' } as const
  // Whatever step runs them, these paths are closed (or left open) by the identity policies alone.
  const layer = 'ztunnel identity policy' as const
  const specs: ProbeSpec[] = [
    {
      role: 'outside-mesh-manager',
      source: {
        name: 'pod outside the mesh',
        labels: { 'app.kubernetes.io/component': 'probe', [AMBIENT_LABEL]: 'none' },
        serviceAccount: 'default',
      },
      destination: `manager Service :${service.port}`,
      request: { kind: 'http', url: `http://${service.name}.${config.namespace}.svc:${service.port}/health` },
      expect: refused,
      layer,
    },
  ]
  if (podIp) {
    specs.push({
      role: 'pod-ip-manager',
      source: {
        name: 'enrolled pod, ServiceAccount default',
        labels: { 'app.kubernetes.io/component': 'probe' },
        serviceAccount: 'default',
      },
      destination: `manager pod IP :${service.port}`,
      request: { kind: 'http', url: `http://${podIp}:${service.port}/health` },
      expect: refused,
      layer,
    })
  }
  const impostor = {
    name: "manager's labels, ServiceAccount default",
    labels: impersonationLabels(manager.podLabels),
    serviceAccount: 'default',
  }
  for (const target of protectedTargets(config, facts)) {
    const { destination, request } = targetProbe(target)
    specs.push({ role: `impostor-${target.key}`, source: impostor, destination, request, expect: refused, layer })
  }
  return specs
}

/** The callers that must still get through: the manager to its two backends, an allowed identity through the waypoint. */
function legitimateProbeSpecs(config: Config, facts: Facts, caller: { sa: string } | undefined): ProbeSpec[] {
  const { manager } = workloads(config, facts)
  const service = managerService(config, facts)
  const asManager = {
    name: `manager (${manager.name}'s identity)`,
    labels: impersonationLabels(manager.podLabels),
    serviceAccount: manager.serviceAccount,
  }
  const specs: ProbeSpec[] = protectedTargets(config, facts).map((target) => {
    const { destination, request, answer } = targetProbe(target)
    return { role: `manager-${target.key}`, source: asManager, destination, request, expect: answer }
  })
  if (caller) {
    specs.push({
      role: 'waypoint-manager',
      source: {
        name: `ServiceAccount ${caller.sa}, through the waypoint`,
        labels: { 'app.kubernetes.io/component': 'probe' },
        serviceAccount: caller.sa,
      },
      destination: `manager Service :${service.port}`,
      request: { kind: 'http', url: `http://${service.name}.${config.namespace}.svc:${service.port}/health` },
      expect: { kind: 'status', status: 200 },
    })
  }
  return specs
}

/** Why a probe came out otherwise than expected, in the terms of the layer that decides it. */
function identityHint(config: Config, result: ProbeResult): string {
  const ns = config.namespace
  if (result.spec.expect.kind === 'blocked') {
    if (!config.identityPolicies)
      return 'expected with --no-identity-policies: this path stays open until the identity policies are applied'
    return `the path got an answer, so no identity policy refused it: check that the policies exist and select the pods (kubectl get authorizationpolicies -n ${ns} -l app.kubernetes.io/managed-by=gthulhu-runbook), that their ZtunnelAccepted condition is True, and that the destination pods are enrolled (istioctl ztunnel-config workloads shows HBONE)`
  }
  if (result.observed.kind === 'blocked') {
    return result.spec.role === 'waypoint-manager'
      ? `the manager's identity policy must admit the waypoint's identity ${waypointPrincipal(config)}; if you named another waypoint, run this step with the same --waypoint-name`
      : `the identity policy of the ${result.spec.destination} must admit the manager's ServiceAccount; compare it with the manager Deployment's serviceAccountName`
  }
  return `a legitimate caller got ${result.observed.kind}; check the pods behind ${result.spec.destination} in ${ns}`
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

/** GET through the gateway's address until the expected status comes back (policies take a moment to reach Envoy). */
export async function gatewayRequestCheck(
  ctx: StepContext,
  url: string,
  userAgent: string,
  label: string,
  expected: number,
  hint: string,
): Promise<Check> {
  let last: { status?: number; error?: string } = {}
  await pollUntil(
    async () => {
      last = await httpGet(url, userAgent, 3_000, ctx.signal)
      return last.status === expected ? last : undefined
    },
    { timeoutMs: Math.min(SETTLE_RETRY_MS, ctx.config.timeout * 1000), intervalMs: 250, signal: ctx.signal },
  )
  return {
    name: `gateway ${url} with ${label}: HTTP ${expected}`,
    expected: `HTTP ${expected}`,
    observed: last.status ? `HTTP ${last.status}` : `no answer: ${last.error}`,
    ok: last.status === expected,
    hint,
  }
}

/** The gateway URL of the manager's health endpoint, from the gateway step's facts. */
export const gatewayHealthUrl = (facts: Facts) =>
  facts.gateway?.url ? new URL('/health', facts.gateway.url).toString() : undefined

async function policyChecks(ctx: StepContext, desired: KubeObject[]): Promise<Check[]> {
  const ns = ctx.config.namespace
  const live = await Promise.all(
    desired.map((o) => ctx.cluster.findJson<KubeObject>(['get', POLICY_RESOURCE, o.metadata.name, '-n', ns])),
  )
  const accepted = await Promise.all(live.map((policy) => policyCondition(ctx, 'ZtunnelAccepted', policy)))
  return desired.flatMap((want, i): Check[] => [
    {
      name: `AuthorizationPolicy ${ns}/${want.metadata.name} applied as planned`,
      expected: `ALLOW only ${admitted(want)}`,
      observed: live[i]
        ? appliedAsPlanned(want, live[i])
          ? 'as planned'
          : `differs: ${JSON.stringify(live[i]!.spec)}`
        : 'not found',
      ok: appliedAsPlanned(want, live[i]),
      hint: 'someone changed or deleted it; run the identity-policies step again',
    },
    {
      name: `${want.metadata.name} taken up by ztunnel`,
      expected: 'ZtunnelAccepted=True',
      observed: accepted[i]
        ? `ZtunnelAccepted=${accepted[i]!.status} (${accepted[i]!.reason}${accepted[i]!.message ? `: ${accepted[i]!.message}` : ''})`
        : 'no ZtunnelAccepted condition',
      ok: accepted[i]?.status === 'True',
      hint: 'istiod writes this condition once it has translated the policy for ztunnel; check that istiod runs (ambient step)',
    },
  ])
}

export const identityPoliciesStep: Step = {
  id: 'identity-policies',
  title:
    'Identity policies at ztunnel: only the waypoint and the gateway reach the manager, only the manager reaches MongoDB and the decision maker',
  why:
    "A policy bound to the manager's waypoint only sees traffic that reaches the waypoint, and a caller's ztunnel sends it there only when an enrolled pod addresses the manager Service. " +
    "A pod outside the mesh (another namespace, istio.io/dataplane-mode=none, hostNetwork) and any pod that uses the manager's pod IP go straight to the manager: the waypoint's rules never see them. " +
    "The NetworkPolicies have a gap of their own: they trust labels, and anyone allowed to create a pod can wear the manager's. " +
    "Three AuthorizationPolicies with pod selectors close both gaps; ztunnel on each pod's node enforces them on every connection by mutual-TLS identity, and plaintext from outside the mesh carries none: " +
    "the manager's pods admit only the waypoint's and the ingress gateway's identities, MongoDB's and the decision maker's pods admit only the manager's ServiceAccount. " +
    'The cost: every other in-cluster caller is refused, Prometheus included. To let one in, add your own ALLOW policy with the same selector and its principal ' +
    '(ALLOW policies add up), e.g. cluster.local/ns/monitoring/sa/prometheus on port 9090 of the scheduler. ' +
    'Kubelet health probes are not affected: ztunnel does not handle them. Verification plays the attacker: each of those paths must get no answer, while the manager, the waypoint and the gateway still do.',
  requires: ['preflight', 'waypoint'],
  plan: ({ config, facts }) => {
    if (!config.identityPolicies)
      return [
        {
          kind: 'note',
          text: 'left out (--no-identity-policies): pod-IP, out-of-mesh and copied-label callers stay able to reach the manager, MongoDB and the decision maker; verify reports those paths',
        },
      ]
    return [
      ...desiredIdentityPolicies(config, facts).map(
        (object): PlanItem => ({
          kind: 'manifest',
          object,
          apply: 'server-side',
          why: `ztunnel admits only ${admitted(object)}`,
        }),
      ),
      {
        kind: 'note',
        text: `verify: probe pods in ${config.namespace} try the bypasses (outside the mesh → manager Service; enrolled, ServiceAccount default → manager pod IP; manager's labels, ServiceAccount default → MongoDB and the decision maker), each must get no answer; the manager's identity must still reach both backends, an allowed caller the manager through the waypoint, and a browser the manager through the gateway`,
      },
    ]
  },
  async run(ctx, io) {
    if (!ctx.config.identityPolicies) return { unchanged: 'left out with --no-identity-policies' }
    const applied = await applyChanged(ctx, io, desiredIdentityPolicies(ctx.config, ctx.facts), POLICY_RESOURCE)
    if (applied.length === 0) return { unchanged: 'the three identity policies are already applied as planned' }
    io.log(`applied ${applied.join(', ')}`)
  },
  async verify(ctx, io) {
    const { config, facts } = ctx
    const principals = managerPrincipals(config, workloads(config, facts).scheduler.serviceAccount)
    const [checks, podIp, caller] = await Promise.all([
      config.identityPolicies ? policyChecks(ctx, desiredIdentityPolicies(config, facts)) : Promise.resolve([]),
      managerPodIp(ctx),
      allowedCaller(ctx, principals),
    ])
    const bypasses = bypassProbeSpecs(config, facts, podIp)
    const results = await runProbes(ctx, io, [...legitimateProbeSpecs(config, facts, caller), ...bypasses])
    io.log(
      `Who reaches the manager, MongoDB and the decision maker (each cell: expected / observed):\n${formatMatrix(results)}`,
    )
    for (const r of results) {
      const check = probeCheck(r, r.ok ? undefined : identityHint(config, r))
      // Without the identity policies the bypasses are reported as open, as a warning: that is the operator's choice.
      checks.push(!config.identityPolicies && r.spec.expect.kind === 'blocked' ? { ...check, advisory: true } : check)
    }
    ctx.facts.identityPolicies = config.identityPolicies && checks.every((c) => c.ok || c.advisory)
    if (!podIp)
      checks.push({
        name: 'manager pod IP bypass probe',
        expected: "a Running manager pod's IP",
        observed: 'no Running manager pod',
        ok: false,
        advisory: !config.identityPolicies,
        hint: 'the manager must run for its pod-IP path to be tried',
      })
    const url = gatewayHealthUrl(facts)
    if (url) {
      const browser = sampleUserAgent(config.allowedUserAgents[0])
      checks.push(
        await gatewayRequestCheck(
          ctx,
          url,
          browser,
          'an allowed browser',
          200,
          `the manager's identity policy must admit the gateway's identity ${gatewayPrincipal(config)}; if you named another gateway, run this step with the same --gateway-name`,
        ),
      )
    }
    return checks
  },
  undo: {
    objects: ({ config, facts }) =>
      desiredIdentityPolicies(config, facts).map((p) => ({
        resource: POLICY_RESOURCE,
        namespace: config.namespace,
        name: p.metadata.name,
      })),
  },
}
