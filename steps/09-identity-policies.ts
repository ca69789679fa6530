// Identity policies: AuthorizationPolicies with a pod selector, which ztunnel on each destination's node enforces
// for every connection, whichever way it came. They close what the waypoint never sees (a pod IP, plaintext from
// outside the mesh) and what NetworkPolicies cannot tell apart (a pod wearing the manager's labels).
// Proven by the attacker's paths: each must be refused, while the manager, the waypoint and the gateway still get through.
import { text } from '../lib/config/text.ts'
import type { Config } from '../lib/config/options.ts'
import { applyChanged, appliedAsPlanned, MANAGED_BY } from '../lib/domain/apply.ts'
import { workloads } from '../lib/domain/gthulhu.ts'
import {
  gatewayPrincipal,
  POLICY_RESOURCE,
  policyCondition,
  principalOf,
  waypointPrincipal,
} from '../lib/domain/istio.ts'
import { loadManifest } from '../lib/kube/manifests.ts'
import type { Check, Facts, KubeObject, PlanItem, Step, StepContext } from '../lib/types.ts'
import { tryPaths } from '../lib/verify/paths.ts'

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

async function policyChecks(ctx: StepContext, desired: KubeObject[]): Promise<Check[]> {
  const ns = ctx.config.namespace
  const live = await Promise.all(
    desired.map((o) => ctx.cluster.findJson<KubeObject>(['get', POLICY_RESOURCE, o.metadata.name, '-n', ns])),
  )
  const accepted = await Promise.all(live.map((policy) => policyCondition(ctx, 'ZtunnelAccepted', policy)))
  return desired.flatMap((want, i): Check[] => [
    {
      name: text.checks.policyApplied('AuthorizationPolicy', `${ns}/${want.metadata.name}`),
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
      name: text.checks.ztunnelTakenUp(want.metadata.name),
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
    if (!ctx.config.identityPolicies) return { unchanged: text.notes.identityLeftOut }
    const applied = await applyChanged(ctx, io, desiredIdentityPolicies(ctx.config, ctx.facts), POLICY_RESOURCE)
    if (applied.length === 0) return { unchanged: text.notes.identityApplied }
    io.log(`applied ${applied.join(', ')}`)
  },
  async verify(ctx, io) {
    const { config, facts } = ctx
    const [checks, paths] = await Promise.all([
      config.identityPolicies ? policyChecks(ctx, desiredIdentityPolicies(config, facts)) : Promise.resolve([]),
      tryPaths(ctx, io, 'identity-policies'),
    ])
    return [...checks, ...paths]
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
