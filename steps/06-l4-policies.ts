// L4 isolation: the guide's two NetworkPolicies let only the manager open connections to MongoDB and to the
// scheduler's decision maker (app port plus ambient's HBONE port 15008), and the runbook's egress policy lets the
// manager connect only to those, cluster DNS and the API server. Proven with probe pods: one wearing the manager's
// labels must get through, one without them must be refused, and an impostor decision maker in another namespace
// must receive nothing from the manager.
import { StepFailure } from '../lib/config/errors.ts'
import { text } from '../lib/config/text.ts'
import { applyAccess, applyChanged } from '../lib/domain/apply.ts'
import { comparisonAccess } from '../lib/domain/drift.ts'
import { kubectlAccess } from '../lib/kube/access.ts'
import { pathsTriedAt } from '../lib/verify/threat-model.ts'
import {
  desiredManagerEgressPolicy,
  desiredNetworkPolicies,
  MANAGER_EGRESS_POLICY,
  MONGODB_POLICY,
  otherPolicyChecks,
  ownedPolicyChecks,
  policyChecks,
  apiServerEndpointsAccess,
  L4_POLICY_NAMES,
  readApiServerEndpoints,
  readLiveAccess,
  readLive,
} from '../lib/domain/network-policies.ts'
import { pathsAccess, tryPaths } from '../lib/verify/paths.ts'
import { mongoProbeImage } from '../lib/verify/probes.ts'
import { SCHEDULER_HEALTH_PATH } from '../lib/verify/targets.ts'
import { IMPOSTOR_LISTEN_SECONDS } from '../lib/verify/threat-model.ts'
import type { Config } from '../lib/config/options.ts'
import type { Facts, KubeObject, PlanItem, Step } from '../lib/types.ts'

/**
 * The guide's two policies and, unless turned off, the manager's egress policy — only once preflight has read the
 * API server's endpoints: rendered without them, it would cut the manager off from the API server.
 */
const desiredPolicies = (config: Config, facts: Facts): KubeObject[] => [
  ...desiredNetworkPolicies(config, facts),
  ...[facts.apiServer ? desiredManagerEgressPolicy(config, facts) : undefined].filter((p): p is KubeObject => !!p),
]

const why = (object: KubeObject) =>
  object.metadata.name === MONGODB_POLICY
    ? text.plan.onlyManagerToMongo
    : object.metadata.name === MANAGER_EGRESS_POLICY
      ? text.plan.managerEgress
      : text.plan.onlyManagerToDecisionMaker

export const l4PoliciesStep: Step = {
  id: 'l4-policies',
  title: 'L4 NetworkPolicies: only the manager reaches MongoDB and the scheduler, and the manager reaches nothing else',
  why:
    'If any pod in the cluster can open a connection to MongoDB or to the decision maker, one compromised pod is enough to read the data or drive the scheduler. ' +
    "The guide's two NetworkPolicies admit only pods with the manager's labels, on the app port and on 15008: once the namespace joins ambient, mesh traffic arrives inside ztunnel's HBONE tunnel on 15008. " +
    'Ambient also rewrites kubelet health probes to come from 169.254.7.127 (IPv6 fd16:9254:7127:1337:ffff:ffff:ffff:ffff); MongoDB and the decision maker have such probes, so by default that source is admitted on the app port too, ' +
    'or the pods turn unready after enrolment (turn it off with --no-allow-kubelet-probes if your CNI exempts kubelet traffic). ' +
    "The traffic also has to stay in: Gthulhu's manager sends intents and token requests to every pod labelled app=decisionmaker it finds, in any namespace, so anyone who may label a pod somewhere receives them. " +
    "A third policy, the runbook's own, lets the manager connect only to MongoDB and its own namespace's decision makers (their port and 15008), cluster DNS and the API server's endpoints as preflight read them " +
    '(the CNI sees the endpoint, not the Service address; rerun preflight and this step if they change). Turn it off with --no-manager-egress-policy if the manager must reach something else. ' +
    "A policy is only hardening if it is enforced, so probe pods prove it: one with the manager's labels must get MongoDB's hello answered and HTTP 200 from the decision maker's /health, one without them must be refused, " +
    `and a listener labelled app=decisionmaker in a namespace of its own must receive nothing from the manager in ${IMPOSTOR_LISTEN_SECONDS} seconds (it resyncs every 30). ` +
    "NetworkPolicies trust labels, and anyone allowed to create a pod can wear the manager's: the identity-policies step closes that gap by mTLS identity. " +
    "Note that the guide's scheduler policy also shuts out Prometheus from 8080/9090; add a rule for it if you scrape them.",
  requires: ['preflight'],
  settings: ['namespace', 'release', 'allowKubeletProbes', 'managerEgressPolicy'],
  access: (config) => {
    const who = 'l4-policies'
    const ns = config.namespace
    const names = [...L4_POLICY_NAMES, ...(config.managerEgressPolicy ? [MANAGER_EGRESS_POLICY] : [])]
    const policies = { namespace: ns, names }
    return {
      run: [
        ...(config.managerEgressPolicy
          ? apiServerEndpointsAccess(`${who}: the API server's addresses, for the manager's egress policy`)
          : []),
        // The undo record reads the egress policy too, whatever this run's flags.
        ...kubectlAccess.get(
          'networkpolicies.networking.k8s.io',
          { namespace: ns, names: [...L4_POLICY_NAMES, MANAGER_EGRESS_POLICY] },
          `${who}: the NetworkPolicies as they were`,
        ),
        ...applyAccess('networkpolicies.networking.k8s.io', policies, `${who}: the NetworkPolicies`),
      ],
      verify: [
        ...readLiveAccess(config, `${who}: the namespace's NetworkPolicies`),
        ...comparisonAccess('networkpolicies.networking.k8s.io', policies, `${who}: the NetworkPolicies`),
        ...kubectlAccess.list('pods', { namespace: ns }, `${who}: which pods other NetworkPolicies select`),
        ...pathsAccess(config, pathsTriedAt('l4-policies'), who),
      ],
    }
  },
  plan: ({ config, facts }) => [
    ...desiredPolicies(config, facts).map(
      (object): PlanItem => ({ kind: 'manifest', object, apply: 'server-side', why: why(object) }),
    ),
    ...(config.allowKubeletProbes
      ? []
      : [
          {
            kind: 'note' as const,
            text: text.plan.kubeletNotAdmitted,
          },
        ]),
    ...(config.managerEgressPolicy
      ? facts.apiServer
        ? []
        : [
            {
              kind: 'note' as const,
              text: text.plan.egressAwaitsEndpoints(MANAGER_EGRESS_POLICY),
            },
          ]
      : [
          {
            kind: 'note' as const,
            text: text.plan.egressNotLimited,
          },
        ]),
    {
      kind: 'note',
      text: text.plan.verifyL4(
        config.namespace,
        mongoProbeImage(config, facts),
        SCHEDULER_HEALTH_PATH,
        config.httpProbeImage,
      ),
    },
  ],
  async run(ctx, io) {
    if (ctx.config.managerEgressPolicy) {
      // The endpoints as they are now: an old record would cut the manager off from the API server.
      ctx.facts.apiServer = (await readApiServerEndpoints(ctx)) ?? ctx.facts.apiServer
      if (!ctx.facts.apiServer) throw new StepFailure(text.failures.noApiServerEndpoints)
    }
    const applied = await applyChanged(ctx, io, desiredPolicies(ctx.config, ctx.facts), 'networkpolicies')
    if (applied.length === 0) return { unchanged: text.notes.networkPoliciesApplied }
    io.log(text.progress.applied(applied))
  },
  async verify(ctx, io) {
    const live = readLive(ctx)
    const [owned, admits, others, paths] = await Promise.all([
      ownedPolicyChecks(ctx),
      live.then((l) => policyChecks(ctx.config, ctx.facts, l)),
      live.then((l) => otherPolicyChecks(ctx, l)),
      tryPaths(ctx, io, 'l4-policies'),
    ])
    return [...owned, ...admits, ...others, ...paths]
  },
  undo: {
    objects: ({ config, facts }) =>
      [...desiredNetworkPolicies(config, facts).map((p) => p.metadata.name), MANAGER_EGRESS_POLICY].map((name) => ({
        resource: 'networkpolicies',
        namespace: config.namespace,
        name,
      })),
  },
}
