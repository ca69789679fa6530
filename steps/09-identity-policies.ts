// Identity policies: AuthorizationPolicies with a pod selector, which ztunnel on each destination's node enforces
// for every connection, whichever way it came. They close what the waypoint never sees (a pod IP, plaintext from
// outside the mesh or from another node's host network) and what NetworkPolicies cannot tell apart (a pod wearing
// the manager's labels). Proven by the attacker's paths: each must be refused, while the manager, the waypoint and
// the gateway still get through. What they cannot stop is named: hostNetwork pods on the protected pods' nodes.
import { text } from '../lib/config/text.ts'
import type { Config } from '../lib/config/options.ts'
import { applyAccess, applyChanged, MANAGED_BY } from '../lib/domain/apply.ts'
import { compareWithPlan, comparisonAccess, comparisonCheck } from '../lib/domain/drift.ts'
import { kubectlAccess } from '../lib/kube/access.ts'
import { pathsTriedAt } from '../lib/verify/threat-model.ts'
import { workloads } from '../lib/domain/gthulhu.ts'
import {
  gatewayPrincipal,
  POLICY_RESOURCE,
  policyCondition,
  policyConditionAccess,
  principalOf,
  refreshTrustDomain,
  trustDomainAccess,
  trustDomainOf,
  waypointPrincipal,
} from '../lib/domain/istio.ts'
import { subset } from '../lib/domain/network-policies.ts'
import { loadManifest } from '../lib/kube/manifests.ts'
import type { Check, Facts, KubeObject, PlanItem, Step, StepContext, TargetId } from '../lib/types.ts'
import { pathsAccess, tryPaths } from '../lib/verify/paths.ts'
import {
  foreignPolicyAccess,
  foreignPolicyChecks,
  plaintextAccess,
  plaintextChecks,
  type Protected,
} from '../lib/verify/widening.ts'

const MANAGER_POLICY = 'gthulhu-manager-allow-waypoint-and-gateway'
const MONGODB_POLICY = 'gthulhu-mongodb-allow-manager'
const SCHEDULER_POLICY = 'gthulhu-scheduler-allow-manager'
/** The three policies, each admitting only the identities that have a reason to call its pods. */
export function desiredIdentityPolicies(config: Config, facts: Facts): KubeObject[] {
  const { manager, mongodb, scheduler } = workloads(config, facts)
  const managerIdentity = principalOf(trustDomainOf(facts), config.namespace, manager.serviceAccount)
  const admit: [string, Record<string, string>, string[]][] = [
    [MANAGER_POLICY, manager.selectorLabels, [waypointPrincipal(config, facts), gatewayPrincipal(config, facts)]],
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

/** The threat model's target each policy guards. */
const GUARDS: Record<string, TargetId> = {
  [MANAGER_POLICY]: 'manager',
  [MONGODB_POLICY]: 'mongodb',
  [SCHEDULER_POLICY]: 'decision-maker',
}

/** Each policy compared whole with the plan (a server-side dry run), and taken up by ztunnel. */
async function policyChecks(ctx: StepContext, desired: KubeObject[]): Promise<Check[]> {
  const comparisons = await compareWithPlan(ctx.cluster, desired, () => POLICY_RESOURCE)
  const accepted = await Promise.all(comparisons.map((c) => policyCondition(ctx, 'ZtunnelAccepted', c.live)))
  return desired.flatMap((want, i): Check[] => [
    {
      ...comparisonCheck(
        comparisons[i],
        `ALLOW only ${admitted(want)}`,
        'someone changed or deleted it; run the identity-policies step again',
      ),
      voids: [{ layer: 'ztunnel identity policy', target: GUARDS[want.metadata.name] }],
    },
    {
      // istiod writes it for every selector policy it translates, selected pods or not: enforcement is the probes' to prove.
      name: text.checks.ztunnelTakenUp(want.metadata.name),
      expected: 'ZtunnelAccepted=True',
      observed: accepted[i]
        ? `ZtunnelAccepted=${accepted[i]!.status} (${accepted[i]!.reason}${accepted[i]!.message ? `: ${accepted[i]!.message}` : ''})`
        : 'no ZtunnelAccepted condition',
      ok: accepted[i]?.status === 'True',
      hint: 'istiod writes this condition once it has translated the policy for ztunnel; check that istiod runs (ambient step)',
      voids: [{ layer: 'ztunnel identity policy', target: GUARDS[want.metadata.name] }],
    },
  ])
}

/** System namespaces whose hostNetwork pods (CNI, kube-proxy, istio-cni) are expected on every node. */
const SYSTEM_NAMESPACES = ['kube-system', 'istio-system', 'calico-system', 'tigera-operator', 'kube-flannel']

/**
 * The hostNetwork pods on the nodes that run the manager, MongoDB or a decision maker: these can reach them
 * directly, and no identity policy stops them (see the host-network-same-node path). A disclosure: it warns
 * only about pods outside the system namespaces, and never fails the step.
 */
async function hostNetworkCheck(ctx: StepContext): Promise<Check> {
  const { config, facts } = ctx
  const { manager, mongodb, scheduler } = workloads(config, facts)
  // One read of every pod: the protected ones (owned by their workloads, not probes wearing their labels) and the rest.
  const everywhere = await ctx.cluster.list('pods', { allNamespaces: true })
  const protectedPod = (p: KubeObject) =>
    p.metadata.namespace === config.namespace &&
    [manager, mongodb, scheduler].some((w) => subset(w.selectorLabels, p.metadata.labels ?? {}))
  const nodes = new Set(
    everywhere
      .filter(protectedPod)
      .filter((p) => (p.metadata.ownerReferences as unknown[] | undefined)?.length)
      .map((p) => p.spec?.nodeName as string | undefined)
      .filter((n): n is string => !!n),
  )
  const onHost = everywhere.filter((p) => p.spec?.hostNetwork && nodes.has(p.spec?.nodeName))
  const unexpected = onHost.filter((p) => !SYSTEM_NAMESPACES.includes(p.metadata.namespace!))
  const named = (pods: KubeObject[]) =>
    pods.map((p) => `${p.metadata.namespace}/${p.metadata.name} (${p.spec?.nodeName})`).join(', ')
  return {
    name: text.checks.hostNetworkPods([...nodes]),
    expected: `none outside ${SYSTEM_NAMESPACES.join(', ')}`,
    observed: onHost.length ? named(onHost) : 'none',
    ok: unexpected.length === 0,
    advisory: true,
    hint: `a hostNetwork pod (or a node process) reaches a pod on its own node with neither ztunnel nor Calico in the way; no identity policy can stop it. Keep hostNetwork pods off these nodes: Pod Security Admission (baseline) in the namespaces of ${named(unexpected)}, or admission that refuses hostNetwork outside the namespaces you list`,
  }
}

/** The pods the three policies guard, and whom each admits: what a foreign policy must not widen. */
function protectedPods(config: Config, facts: Facts, desired: KubeObject[]): Protected[] {
  const { manager, mongodb, scheduler } = workloads(config, facts)
  const pods = { [MANAGER_POLICY]: manager, [MONGODB_POLICY]: mongodb, [SCHEDULER_POLICY]: scheduler }
  return desired.map((policy) => {
    const workload = pods[policy.metadata.name as keyof typeof pods]
    return {
      title: text.checks.podsOf(workload.name),
      target: {
        enforcer: 'ztunnel',
        namespace: config.namespace,
        podLabels: [workload.podLabels, workload.selectorLabels],
      },
      admitted: { principals: policy.spec.rules[0].from[0].source.principals },
      own: desired.map((p) => p.metadata.name),
      layer: 'ztunnel identity policy',
      threat: GUARDS[policy.metadata.name],
    }
  })
}

/** Plaintext to the three workloads: named where an identity policy refuses it, a failure where none does. */
function plaintextTargets(ctx: StepContext): Parameters<typeof plaintextChecks>[1] {
  const { manager, mongodb, scheduler } = workloads(ctx.config, ctx.facts)
  const guarded = ctx.config.identityPolicies
  return [
    {
      title: text.checks.podsOf(manager.name),
      podLabels: manager.podLabels,
      identityPolicy: guarded,
      threat: 'manager',
    },
    {
      title: text.checks.podsOf(mongodb.name),
      podLabels: mongodb.podLabels,
      identityPolicy: guarded,
      threat: 'mongodb',
    },
    {
      title: text.checks.podsOf(scheduler.name),
      podLabels: scheduler.podLabels,
      identityPolicy: guarded,
      threat: 'decision-maker',
    },
  ]
}

export const identityPoliciesStep: Step = {
  id: 'identity-policies',
  title:
    'Identity policies at ztunnel: only the waypoint and the gateway reach the manager, only the manager reaches MongoDB and the decision maker',
  why:
    "A policy bound to the manager's waypoint only sees traffic that reaches the waypoint, and a caller's ztunnel sends it there only when an enrolled pod addresses the manager Service. " +
    "A pod outside the mesh (a namespace not enrolled in ambient, istio.io/dataplane-mode=none, a hostNetwork pod on another node) and any pod that uses the manager's pod IP go straight to the manager: the waypoint's rules never see them. " +
    "The NetworkPolicies have a gap of their own: they trust labels, and anyone allowed to create a pod can wear the manager's. " +
    "Three AuthorizationPolicies with pod selectors close both gaps; ztunnel on each pod's node enforces them on every connection by mutual-TLS identity, and plaintext from outside the mesh carries none: " +
    "the manager's pods admit only the waypoint's and the ingress gateway's identities, MongoDB's and the decision maker's pods admit only the manager's ServiceAccount. " +
    'The cost: every other in-cluster caller is refused, Prometheus included. To let one in, add your own ALLOW policy with the same selector and its principal ' +
    "(ALLOW policies add up), e.g. cluster.local/ns/monitoring/sa/prometheus on the scheduler pods' ports 8080 and 9090, where the chart's ServiceMonitors scrape /metrics. " +
    "Principals are exact strings with the mesh's trust domain, read from the live mesh (meshConfig.trustDomain in istio-system's istio ConfigMap). " +
    'Kubelet health probes are not affected: ztunnel does not handle them. Neither is a hostNetwork pod (or any process) on the same node as the pod it calls: ' +
    "istio-cni lets the node's own traffic past ztunnel and Calico does not police it, so identity policies do not stop it; verification lists such pods on the protected pods' nodes. " +
    'Verification plays the attacker: each of those paths must get no answer, while the manager, the waypoint and the gateway still do.',
  requires: ['preflight', 'waypoint'],
  settings: ['namespace', 'release', 'gatewayName', 'waypointName', 'identityPolicies'],
  access: (config) => {
    const who = 'identity-policies'
    const ns = config.namespace
    const names = desiredIdentityPolicies(config, {}).map((p) => p.metadata.name)
    const policies = { namespace: ns, names }
    const trustDomain = trustDomainAccess(`${who}: the mesh's trust domain, which the principals carry`)
    return {
      run: [
        // The undo record reads them, applied or left out.
        ...kubectlAccess.get(POLICY_RESOURCE, policies, `${who}: the policies as they were`),
        ...(config.identityPolicies
          ? [...trustDomain, ...applyAccess(POLICY_RESOURCE, policies, `${who}: the identity policies`)]
          : []),
      ],
      verify: [
        ...trustDomain,
        ...(config.identityPolicies
          ? [
              ...comparisonAccess(POLICY_RESOURCE, policies, `${who}: the identity policies`),
              ...policyConditionAccess(ns, names, `${who}: until istiod has taken them up for ztunnel`),
              ...foreignPolicyAccess(config, `${who}: other AuthorizationPolicies that could widen them`),
            ]
          : []),
        ...plaintextAccess(config, `${who}: PeerAuthentications that let plaintext in`),
        ...kubectlAccess.list('pods', {}, `${who}: hostNetwork pods on the protected pods' nodes (every namespace)`),
        ...pathsAccess(config, pathsTriedAt('identity-policies'), who),
      ],
    }
  },
  plan: ({ config, facts }) => {
    if (!config.identityPolicies)
      return [
        {
          kind: 'note',
          text: text.plan.identityLeftOut,
        },
      ]
    return [
      ...desiredIdentityPolicies(config, facts).map(
        (object): PlanItem => ({
          kind: 'manifest',
          object,
          apply: 'server-side',
          why: text.plan.ztunnelAdmitsOnly(admitted(object)),
        }),
      ),
      {
        kind: 'note',
        text: text.plan.verifyIdentity(config.namespace),
      },
    ]
  },
  async run(ctx, io) {
    if (!ctx.config.identityPolicies) return { unchanged: text.notes.identityLeftOut }
    // Principals are written in the mesh's trust domain: read it from the live mesh first.
    await refreshTrustDomain(ctx)
    const applied = await applyChanged(ctx, io, desiredIdentityPolicies(ctx.config, ctx.facts), POLICY_RESOURCE)
    if (applied.length === 0) return { unchanged: text.notes.identityApplied }
    io.log(text.progress.applied(applied))
  },
  async verify(ctx, io) {
    const { config, facts } = ctx
    await refreshTrustDomain(ctx)
    const desired = desiredIdentityPolicies(config, facts)
    const [checks, foreign, plaintext, paths, host] = await Promise.all([
      config.identityPolicies ? policyChecks(ctx, desired) : Promise.resolve([]),
      config.identityPolicies ? foreignPolicyChecks(ctx, protectedPods(config, facts, desired)) : Promise.resolve([]),
      plaintextChecks(ctx, plaintextTargets(ctx)),
      tryPaths(ctx, io, 'identity-policies'),
      hostNetworkCheck(ctx),
    ])
    return [...checks, ...foreign, ...plaintext, ...paths, host]
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
