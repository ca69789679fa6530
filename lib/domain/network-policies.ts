// The guide's two NetworkPolicies (only the manager reaches MongoDB and the decision maker, on the app port and
// HBONE's 15008), the protected targets they guard, and how to read a live NetworkPolicy back.
import { text } from '../config/text.ts'
import type { Config } from '../config/options.ts'
import { loadManifest } from '../kube/manifests.ts'
import type { Check, Facts, KubeObject, StepContext } from '../types.ts'
import { appliedAsPlanned, MANAGED_BY } from './apply.ts'
import { workloads } from './gthulhu.ts'
import { AMBIENT_LABEL, HBONE_PORT, KUBELET_PROBE_SOURCES } from './istio.ts'

export const MONGODB_POLICY = 'allow-only-manager-to-mongodb'
export const SCHEDULER_POLICY = 'allow-only-manager-to-scheduler'
/** The NetworkPolicies this step owns (the restart step re-checks reachability only when they exist). */
export const L4_POLICY_NAMES = [MONGODB_POLICY, SCHEDULER_POLICY]

/** The two protected destinations, from preflight's facts (or the chart's defaults in a dry run). */
export function protectedTargets(config: Pick<Config, 'release' | 'namespace'>, facts: Facts) {
  const { mongodb, scheduler } = workloads(config, facts)
  const ns = config.namespace
  return [
    {
      key: 'mongodb',
      policy: MONGODB_POLICY,
      title: 'MongoDB',
      workload: mongodb,
      port: mongodb.service?.port ?? 27017,
      host: `${mongodb.service?.name ?? `${config.release}-mongodb`}.${ns}.svc`,
    },
    {
      key: 'scheduler',
      policy: SCHEDULER_POLICY,
      title: 'scheduler sidecar',
      workload: scheduler,
      port: scheduler.service?.port ?? 8080,
      host: `${scheduler.service?.name ?? `${config.release}-scheduler-sidecar`}.${ns}.svc`,
    },
  ] as const
}

/** The guide's policies with this cluster's namespace, labels and ports (and the kubelet-probe rule unless turned off). */
export function desiredNetworkPolicies(config: Config, facts: Facts): KubeObject[] {
  const { manager } = workloads(config, facts)
  return protectedTargets(config, facts).map((target) => {
    const policy = loadManifest('network-policies.yaml', 'NetworkPolicy', target.policy)
    policy.metadata.namespace = config.namespace
    policy.metadata.labels = { ...policy.metadata.labels, ...MANAGED_BY }
    policy.spec.podSelector = { matchLabels: { ...target.workload.selectorLabels } }
    const [fromManager] = policy.spec.ingress
    fromManager.from = [{ podSelector: { matchLabels: { ...manager.selectorLabels } } }]
    fromManager.ports = [target.port, HBONE_PORT].map((port) => ({ protocol: 'TCP', port }))
    if (config.allowKubeletProbes) {
      // Health checks of enrolled pods arrive from this link-local address; without it they fail and the pod turns unready.
      policy.spec.ingress.push({
        from: KUBELET_PROBE_SOURCES.map((cidr) => ({ ipBlock: { cidr } })),
        ports: [{ protocol: 'TCP', port: target.port }],
      })
    }
    return policy
  })
}

// ---- reading a NetworkPolicy ----

export const subset = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v)

/** The ports a policy admits from pods with these labels (undefined: every port). */
export function portsAdmitted(policy: KubeObject, sourceLabels: Record<string, string>): number[] | 'all' {
  const ports = new Set<number>()
  for (const rule of policy.spec?.ingress ?? []) {
    const from: any[] = rule.from ?? []
    const matches =
      from.length === 0 ||
      from.some(
        (peer) =>
          peer.podSelector &&
          !peer.namespaceSelector &&
          !peer.podSelector.matchExpressions &&
          subset(peer.podSelector.matchLabels, sourceLabels),
      )
    if (!matches) continue
    if (!rule.ports?.length) return 'all'
    for (const p of rule.ports) if (typeof p.port === 'number') ports.add(p.port)
  }
  return [...ports].sort((a, b) => a - b)
}

/** The ports a policy admits from an ipBlock containing exactly this address block. */
export function portsAdmittedFromBlock(policy: KubeObject, cidr: string): number[] {
  return (policy.spec?.ingress ?? [])
    .filter((rule: any) => (rule.from ?? []).some((peer: any) => peer.ipBlock?.cidr === cidr))
    .flatMap((rule: any) => (rule.ports ?? []).map((p: any) => p.port))
}

export const admitsPort = (ports: number[] | 'all', port: number) => ports === 'all' || ports.includes(port)
/** The ports, those named in `expectedOrder` first and in that order (so observed reads like expected), then the rest. */
const showPorts = (ports: number[] | 'all', expectedOrder: number[] = []) => {
  if (ports === 'all') return 'every port'
  const first = expectedOrder.filter((p) => ports.includes(p))
  const rest = ports.filter((p) => !first.includes(p))
  return ports.length ? [...first, ...rest].join(', ') : 'no port'
}

function describePolicy(policy: KubeObject): string {
  const selector = Object.entries(policy.spec?.podSelector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
  const rules = (policy.spec?.ingress ?? []).map((rule: any) => {
    const from = (rule.from ?? []).map((peer: any) =>
      peer.ipBlock
        ? peer.ipBlock.cidr
        : peer.podSelector
          ? Object.values(peer.podSelector.matchLabels ?? {}).join('/')
          : 'any',
    )
    return `from ${from.join(' | ') || 'anywhere'} on ${(rule.ports ?? []).map((p: any) => p.port).join(',') || 'every port'}`
  })
  return `selects ${selector || 'every pod'}; ${rules.join('; ') || 'admits nothing'}`
}

// ---- verification ----

export interface LiveView {
  policies: KubeObject[]
  enrolled: boolean
}

export async function readLive(ctx: StepContext): Promise<LiveView> {
  const [policies, namespace] = await Promise.all([
    ctx.cluster.list('networkpolicies', { namespace: ctx.config.namespace }),
    ctx.cluster.findJson<KubeObject>(['get', 'namespace', ctx.config.namespace]),
  ])
  return { policies, enrolled: namespace?.metadata.labels?.[AMBIENT_LABEL] === 'ambient' }
}

/** The checks on the policies themselves: applied as planned, HBONE admitted, kubelet probes admitted. */
export function policyChecks(config: Config, facts: Facts, live: LiveView): Check[] {
  const { manager } = workloads(config, facts)
  const checks: Check[] = []
  const desired = desiredNetworkPolicies(config, facts)
  for (const target of protectedTargets(config, facts)) {
    const want = desired.find((p) => p.metadata.name === target.policy)!
    const have = live.policies.find((p) => p.metadata.name === target.policy)
    checks.push({
      name: text.checks.policyApplied('NetworkPolicy', `${config.namespace}/${target.policy}`),
      expected: describePolicy(want),
      observed: have ? describePolicy(have) : 'not found',
      ok: appliedAsPlanned(want, have),
      hint: 'someone changed or deleted it; run the l4-policies step again to restore it',
    })
    if (!have) continue
    const ports = portsAdmitted(have, manager.podLabels)
    checks.push({
      name: text.checks.admitsManager(target.policy, target.port, HBONE_PORT),
      expected: `${target.port}, ${HBONE_PORT}`,
      observed: showPorts(ports, [target.port, HBONE_PORT]),
      ok: admitsPort(ports, target.port) && admitsPort(ports, HBONE_PORT),
      hint: hboneHint(target.policy, target.title, live.enrolled),
    })
    const kubeletPorts = portsAdmittedFromBlock(have, KUBELET_PROBE_SOURCES[0])
    checks.push({
      name: text.checks.admitsKubelet(target.policy, KUBELET_PROBE_SOURCES[0], target.port),
      expected: config.allowKubeletProbes ? `port ${target.port}` : `not admitted (--no-allow-kubelet-probes)`,
      observed: kubeletPorts.length ? `port ${kubeletPorts.join(', ')}` : 'not admitted',
      ok: kubeletPorts.includes(target.port),
      // Turning the rule off is the operator's choice: warn, do not fail.
      advisory: !config.allowKubeletProbes,
      hint: kubeletTrapHint(target.title, target.policy),
    })
  }
  return checks
}

export const hboneHint = (policy: string, title: string, enrolled: boolean) =>
  `${enrolled ? 'the namespace is enrolled in ambient, so' : 'once the namespace is enrolled in ambient,'} the manager's traffic reaches the ${title} inside ztunnel's HBONE tunnel on port ${HBONE_PORT}, not on the app port; ` +
  `NetworkPolicy ${policy} must admit ${HBONE_PORT} from the manager, or the tunnel is dropped and the manager's connections are reset right after its own ztunnel accepted them. Run l4-policies again to apply the guide's policy with ${HBONE_PORT}.`

export const kubeletTrapHint = (title: string, policy: string) =>
  `ambient rewrites kubelet health probes of enrolled pods to come from ${KUBELET_PROBE_SOURCES.join(' / ')}; if NetworkPolicy ${policy} does not admit that source, ` +
  `the ${title}'s readiness probe fails after enrolment and the pod turns unready (the kubelet-probe trap). Keep --allow-kubelet-probes (the default) unless your CNI exempts kubelet traffic.`
