// Identity policies: AuthorizationPolicies with a pod selector, which ztunnel on each destination's node enforces
// for every connection, whichever way it came. They close what the waypoint never sees (a pod IP, plaintext from
// outside the mesh) and what NetworkPolicies cannot tell apart (a pod wearing the manager's labels).
// Proven by the attacker's paths: each must be refused, while the manager, the waypoint and the gateway still get through.
import { managerPrincipals, type Config } from '../lib/config/options.ts'
import { sampleUserAgent } from '../lib/config/user-agents.ts'
import { applyChanged, appliedAsPlanned, MANAGED_BY } from '../lib/domain/apply.ts'
import { managerService, workloads } from '../lib/domain/gthulhu.ts'
import {
  gatewayPrincipal,
  POLICY_RESOURCE,
  policyCondition,
  principalOf,
  waypointPrincipal,
} from '../lib/domain/istio.ts'
import { protectedTargets } from '../lib/domain/network-policies.ts'
import { loadManifest } from '../lib/kube/manifests.ts'
import type { Check, Facts, KubeObject, PlanItem, Step, StepContext } from '../lib/types.ts'
import { allowedCaller, bypassProbeSpecs, managerPodIp } from '../lib/verify/bypasses.ts'
import { gatewayHealthUrl, gatewayRequestCheck } from '../lib/verify/gateway-requests.ts'
import {
  formatMatrix,
  impersonationLabels,
  probeCheck,
  type ProbeResult,
  type ProbeSpec,
  runProbes,
} from '../lib/verify/probes.ts'
import { targetProbe } from '../lib/verify/targets.ts'

const MANAGER_POLICY = 'gthulhu-manager-allow-waypoint-and-gateway'
const MONGODB_POLICY = 'gthulhu-mongodb-allow-manager'
const SCHEDULER_POLICY = 'gthulhu-scheduler-allow-manager'
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
  settings: ['namespace', 'release', 'gatewayName', 'waypointName', 'identityPolicies'],
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
