// L4 isolation: the guide's two NetworkPolicies let only the manager open connections to MongoDB and to the
// scheduler's decision maker (app port plus ambient's HBONE port 15008). Proven with probe pods: one wearing
// the manager's labels must get through, one without them must be refused.
import { text } from '../lib/config/text.ts'
import { applyChanged } from '../lib/domain/apply.ts'
import { desiredNetworkPolicies, MONGODB_POLICY, policyChecks, readLive } from '../lib/domain/network-policies.ts'
import { tryPaths } from '../lib/verify/paths.ts'
import { mongoProbeImage } from '../lib/verify/probes.ts'
import { SCHEDULER_HEALTH_PATH } from '../lib/verify/targets.ts'
import type { PlanItem, Step } from '../lib/types.ts'

export const l4PoliciesStep: Step = {
  id: 'l4-policies',
  title: 'L4 NetworkPolicies: only the manager reaches MongoDB and the scheduler',
  why:
    'If any pod in the cluster can open a connection to MongoDB or to the decision maker, one compromised pod is enough to read the data or drive the scheduler. ' +
    "The guide's two NetworkPolicies admit only pods with the manager's labels, on the app port and on 15008: once the namespace joins ambient, mesh traffic arrives inside ztunnel's HBONE tunnel on 15008. " +
    'Ambient also rewrites kubelet health probes to come from 169.254.7.127 (IPv6 fd16:9254:7127:1337:ffff:ffff:ffff:ffff); MongoDB and the decision maker have such probes, so by default that source is admitted on the app port too, ' +
    'or the pods turn unready after enrolment (turn it off with --no-allow-kubelet-probes if your CNI exempts kubelet traffic). ' +
    "A policy is only hardening if it is enforced, so probe pods prove it: one with the manager's labels must get MongoDB's hello answered and HTTP 200 from the decision maker's /health, one without them must be refused. " +
    "NetworkPolicies trust labels, and anyone allowed to create a pod can wear the manager's: the identity-policies step closes that gap by mTLS identity. " +
    "Note that the guide's scheduler policy also shuts out Prometheus from 8080/9090; add a rule for it if you scrape them.",
  requires: ['preflight'],
  settings: ['namespace', 'release', 'allowKubeletProbes'],
  plan: ({ config, facts }) => [
    ...desiredNetworkPolicies(config, facts).map(
      (object): PlanItem => ({
        kind: 'manifest',
        object,
        apply: 'server-side',
        why:
          object.metadata.name === MONGODB_POLICY
            ? 'only the manager reaches MongoDB'
            : 'only the manager reaches the decision maker',
      }),
    ),
    ...(config.allowKubeletProbes
      ? []
      : [
          {
            kind: 'note' as const,
            text: 'kubelet probe source 169.254.7.127 NOT admitted (--no-allow-kubelet-probes): MongoDB and the decision maker may turn unready after ambient enrolment',
          },
        ]),
    {
      kind: 'note',
      text: `verify: 4 probe pods in ${config.namespace}, deleted afterwards — the manager's stand-in gets MongoDB's hello answered (${mongoProbeImage(config, facts)}, mongosh) and HTTP 200 from the scheduler sidecar's ${SCHEDULER_HEALTH_PATH} (${config.httpProbeImage}, curl); a pod without its labels, outside the mesh, is refused by both`,
    },
  ],
  async run(ctx, io) {
    const applied = await applyChanged(ctx, io, desiredNetworkPolicies(ctx.config, ctx.facts), 'networkpolicies')
    if (applied.length === 0) return { unchanged: text.notes.networkPoliciesApplied }
    io.log(`applied ${applied.join(', ')}`)
  },
  async verify(ctx, io) {
    const [live, paths] = await Promise.all([readLive(ctx), tryPaths(ctx, io, 'l4-policies')])
    return [...policyChecks(ctx.config, ctx.facts, live), ...paths]
  },
  undo: {
    objects: ({ config, facts }) =>
      desiredNetworkPolicies(config, facts).map((p) => ({
        resource: 'networkpolicies',
        namespace: config.namespace,
        name: p.metadata.name,
      })),
  },
}
