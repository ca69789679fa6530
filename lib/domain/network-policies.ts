// The guide's two NetworkPolicies (only the manager reaches MongoDB and the decision maker, on the app port and
// HBONE's 15008), the protected targets they guard, and how to read a live NetworkPolicy back.
import { text } from '../config/text.ts'
import type { Config } from '../config/options.ts'
import { loadManifest } from '../kube/manifests.ts'
import { type LabelSelector, selectorMatches, selectorText } from '../kube/object.ts'
import { kubectlAccess } from '../kube/access.ts'
import type { ApiAccess, Check, Facts, KubeObject, StepContext } from '../types.ts'
import { MANAGED_BY } from './apply.ts'
import { compareWithPlan, comparisonCheck } from './drift.ts'
import { chartNames, workloads } from './gthulhu.ts'
import { AMBIENT_LABEL, GATEWAY_NAME_LABEL, HBONE_PORT, KUBELET_PROBE_SOURCES } from './istio.ts'

export const MONGODB_POLICY = 'allow-only-manager-to-mongodb'
export const SCHEDULER_POLICY = 'allow-only-manager-to-scheduler'
export const MANAGER_EGRESS_POLICY = 'gthulhu-manager-egress'
/** The NetworkPolicies this step owns (the restart step re-checks reachability only when they exist). */
export const L4_POLICY_NAMES = [MONGODB_POLICY, SCHEDULER_POLICY]
/** Cluster DNS as kubeadm, kind and most distributions label it (CoreDNS keeps the kube-dns label). */
const CLUSTER_DNS = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } }

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
      host: `${mongodb.service?.name ?? chartNames(config.release).mongodb}.${ns}.svc`,
    },
    {
      key: 'scheduler',
      policy: SCHEDULER_POLICY,
      title: 'scheduler sidecar',
      workload: scheduler,
      port: scheduler.service?.port ?? 8080,
      host: `${scheduler.service?.name ?? chartNames(config.release).decisionMakerService}.${ns}.svc`,
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

/**
 * The API server's addresses and ports, as the `kubernetes` Service's Endpoints list them (the API server keeps
 * them current). The CNI applies egress policy after kube-proxy rewrote the Service address to one of these
 * (Calico's filter FORWARD chain runs after the nat PREROUTING DNAT), and ztunnel itself connects to the
 * endpoint it picks, so an egress rule has to name the endpoints, not 10.96.0.1:443.
 */
export async function readApiServerEndpoints(ctx: Pick<StepContext, 'cluster'>): Promise<Facts['apiServer']> {
  const endpoints = await ctx.cluster.findJson<KubeObject>(['get', 'endpoints', 'kubernetes', '-n', 'default'])
  const subsets: any[] = endpoints?.subsets ?? []
  const addresses = [...new Set(subsets.flatMap((s) => (s.addresses ?? []).map((a: any) => String(a.ip))))]
  const ports = [...new Set(subsets.flatMap((s) => (s.ports ?? []).map((p: any) => Number(p.port))))]
  return addresses.length && ports.length ? { addresses, ports } : undefined
}

const hostBlock = (ip: string) => `${ip}/${ip.includes(':') ? 128 : 32}`

/**
 * The manager's egress policy: MongoDB and this namespace's decision makers (app port and HBONE), cluster DNS,
 * the API server's endpoints and, when every Service of the namespace is bound to the waypoint, the waypoint
 * (the manager's own API-server traffic then passes it in namespace default). Undefined when turned off.
 */
export function desiredManagerEgressPolicy(config: Config, facts: Facts): KubeObject | undefined {
  if (!config.managerEgressPolicy) return undefined
  const { manager } = workloads(config, facts)
  const [mongodb, scheduler] = protectedTargets(config, facts)
  const policy = loadManifest('manager-egress.yaml', 'NetworkPolicy', MANAGER_EGRESS_POLICY)
  policy.metadata.namespace = config.namespace
  policy.metadata.labels = { ...policy.metadata.labels, ...MANAGED_BY }
  policy.spec.podSelector = { matchLabels: { ...manager.selectorLabels } }
  const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: 'TCP', port }))
  const toPods = (labels: Record<string, string>, ...ports: number[]) => ({
    to: [{ podSelector: { matchLabels: { ...labels } } }],
    ports: tcp(...ports),
  })
  const dns = policy.spec.egress.find((rule: any) => rule.ports?.some((p: any) => p.port === 53))
  dns.to = [
    {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': CLUSTER_DNS.namespace } },
      podSelector: { matchLabels: { ...CLUSTER_DNS.labels } },
    },
  ]
  policy.spec.egress = [
    toPods(mongodb.workload.selectorLabels, mongodb.port, HBONE_PORT),
    // The manager calls a decision maker on its first container port (the sidecar's, unless monitoring adds one first).
    toPods(
      scheduler.workload.selectorLabels,
      ...new Set([scheduler.port, scheduler.workload.firstPort ?? scheduler.port]),
      HBONE_PORT,
    ),
    dns,
    ...(facts.apiServer
      ? [
          {
            to: facts.apiServer.addresses.map((ip) => ({ ipBlock: { cidr: hostBlock(ip) } })),
            ports: tcp(...facts.apiServer.ports),
          },
        ]
      : []),
    ...(config.waypointBinding === 'namespace'
      ? [toPods({ [GATEWAY_NAME_LABEL]: config.waypointName }, HBONE_PORT)]
      : []),
  ]
  return policy
}

/** The API server addresses an egress policy admits (its ipBlock rules). */
export const apiServerBlocks = (policy: KubeObject | undefined): string[] =>
  (policy?.spec?.egress ?? []).flatMap((rule: any) =>
    (rule.to ?? []).filter((peer: any) => peer.ipBlock).map((peer: any) => String(peer.ipBlock.cidr)),
  )

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
  /** The API server's endpoints now (read only when the manager's egress policy is on). */
  apiServer?: Facts['apiServer']
}

/** What readLive asks: the namespace's NetworkPolicies, the namespace, and (egress policy on) the API server's endpoints. */
export function readLiveAccess(config: Config, why: string): ApiAccess[] {
  return [
    ...kubectlAccess.list('networkpolicies.networking.k8s.io', { namespace: config.namespace }, why),
    ...kubectlAccess.get('namespaces', { names: [config.namespace] }, `${why} (is the namespace in ambient?)`),
    ...(config.managerEgressPolicy ? apiServerEndpointsAccess(`${why} (the API server's addresses)`) : []),
  ]
}

/** readApiServerEndpoints: Endpoints default/kubernetes. */
export const apiServerEndpointsAccess = (why: string) =>
  kubectlAccess.get('endpoints', { namespace: 'default', names: ['kubernetes'] }, why)

export async function readLive(ctx: StepContext): Promise<LiveView> {
  const [policies, namespace, apiServer] = await Promise.all([
    ctx.cluster.list('networkpolicies', { namespace: ctx.config.namespace }),
    ctx.cluster.findJson<KubeObject>(['get', 'namespace', ctx.config.namespace]),
    ctx.config.managerEgressPolicy ? readApiServerEndpoints(ctx) : undefined,
  ])
  return { policies, enrolled: namespace?.metadata.labels?.[AMBIENT_LABEL] === 'ambient', apiServer }
}

/** The runbook's NetworkPolicies (the manager's egress one too) compared whole with the plan (server-side dry run; lib/domain/drift.ts). */
export async function ownedPolicyChecks(ctx: StepContext): Promise<Check[]> {
  const { config, facts } = ctx
  const desired = desiredNetworkPolicies(config, facts)
  const egress = desiredManagerEgressPolicy(config, facts)
  const comparisons = await compareWithPlan(
    ctx.cluster,
    egress ? [...desired, egress] : desired,
    () => 'networkpolicies',
  )
  const checks: Check[] = protectedTargets(config, facts).map((target) => {
    const i = desired.findIndex((p) => p.metadata.name === target.policy)
    return {
      ...comparisonCheck(comparisons[i], describePolicy(desired[i]), text.hints.policyChanged),
      voids: [{ layer: 'CNI NetworkPolicy', target: target.key === 'mongodb' ? 'mongodb' : 'decision-maker' }],
    }
  })
  if (egress)
    checks.push(comparisonCheck(comparisons[desired.length], describeEgress(egress), text.hints.egressChanged))
  return checks
}

/** The checks on what the policies admit: HBONE from the manager, and ambient's kubelet probes. */
export function policyChecks(config: Config, facts: Facts, live: LiveView): Check[] {
  const { manager } = workloads(config, facts)
  const checks: Check[] = []
  for (const target of protectedTargets(config, facts)) {
    const have = live.policies.find((p) => p.metadata.name === target.policy)
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
  return [...checks, ...egressChecks(config, facts, live)]
}

/** The manager's egress policy as planned, and naming the API server's endpoints as they are now. */
function egressChecks(config: Config, facts: Facts, live: LiveView): Check[] {
  const want = desiredManagerEgressPolicy(config, facts)
  if (!want) return []
  const have = live.policies.find((p) => p.metadata.name === MANAGER_EGRESS_POLICY)
  const blocks = apiServerBlocks(have)
  const current = (live.apiServer?.addresses ?? []).map(hostBlock)
  return [
    {
      name: text.checks.egressAdmitsApiServer(MANAGER_EGRESS_POLICY),
      expected: current.length ? current.join(', ') : 'the endpoints of Service default/kubernetes',
      observed: blocks.length ? blocks.join(', ') : 'no API server rule',
      ok: current.length > 0 && current.every((b) => blocks.includes(b)),
      hint: text.hints.apiServerChanged,
    },
  ]
}

function describeEgress(policy: KubeObject): string {
  const rules = (policy.spec?.egress ?? []).map((rule: any) => {
    const to = (rule.to ?? []).map((peer: any) =>
      peer.ipBlock
        ? peer.ipBlock.cidr
        : `${peer.namespaceSelector ? `${Object.values(peer.namespaceSelector.matchLabels ?? {}).join('/')}:` : ''}${Object.values(peer.podSelector?.matchLabels ?? {}).join('/')}`,
    )
    return `to ${to.join(' | ') || 'anywhere'} on ${(rule.ports ?? []).map((p: any) => `${p.port}${p.protocol === 'UDP' ? '/udp' : ''}`).join(',') || 'every port'}`
  })
  return rules.join('; ') || 'admits nothing'
}

// ---- other NetworkPolicies: NetworkPolicies add up, so any one that selects a protected pod can admit more ----

/** What the plan admits to one protected target: the manager's pods on two ports, the kubelet's probe source on one. */
interface PlannedIngress {
  namespace: string
  fromPods: Record<string, string>
  podPorts: number[]
  blocks: string[]
  blockPorts: number[]
}

const PROTOCOLS_PLANNED = ['TCP']

/** Whether every pod a selector selects carries all of `required` (matchLabels, or an `In` with only that value). */
function requiresAll(selector: LabelSelector | undefined, required: Record<string, string>): boolean {
  if (!selector) return false
  return Object.entries(required).every(
    ([k, v]) =>
      selector.matchLabels?.[k] === v ||
      (selector.matchExpressions ?? []).some(
        (e) => e.key === k && e.operator === 'In' && (e.values ?? []).length > 0 && e.values!.every((x) => x === v),
      ),
  )
}

const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name'

/** One ingress rule's ports beyond `allowed` (a missing list, a named port, another protocol or a range count as beyond). */
function portsBeyond(ports: any[] | undefined, allowed: number[]): string | undefined {
  if (!ports?.length) return 'every port'
  const beyond = ports.filter((p) => {
    const protocol = p.protocol ?? 'TCP'
    if (!PROTOCOLS_PLANNED.includes(protocol) || typeof p.port !== 'number') return true
    const last = typeof p.endPort === 'number' ? p.endPort : p.port
    for (let port = p.port; port <= last; port++) if (!allowed.includes(port)) return true
    return false
  })
  return beyond.length
    ? beyond
        .map((p) =>
          p.port === undefined
            ? `every ${p.protocol ?? 'TCP'} port`
            : `${p.port}${p.endPort ? `-${p.endPort}` : ''}/${p.protocol ?? 'TCP'}`,
        )
        .join(', ')
    : undefined
}

const describeSelector = (s: LabelSelector | undefined) =>
  !s
    ? 'no selector'
    : [
        selectorText(s.matchLabels ?? {}),
        ...(s.matchExpressions ?? []).map((e) => `${e.key} ${e.operator}${e.values ? ` (${e.values.join(',')})` : ''}`),
      ]
        .filter(Boolean)
        .join(', ') || 'every pod'

/** One peer as the operator reads it. */
function describePeer(peer: any): string {
  if (peer.ipBlock)
    return `addresses ${peer.ipBlock.cidr}${peer.ipBlock.except?.length ? ` except ${peer.ipBlock.except.join(', ')}` : ''}`
  const pods = peer.podSelector ? `pods ${describeSelector(peer.podSelector)}` : 'every pod'
  return peer.namespaceSelector
    ? `${pods} in namespaces ${describeSelector(peer.namespaceSelector)}`
    : `${pods} of its namespace`
}

/**
 * What one NetworkPolicy admits to a protected target's pods that the plan does not, one phrase per rule part (empty
 * when it admits nothing more). A peer counts as planned only when it is provably inside the plan's: pods that must
 * carry the manager's labels in this namespace (a namespaceSelector only when it pins kubernetes.io/metadata.name to
 * it), or the kubelet's probe source; and only on the plan's ports.
 */
export function admitsBeyondPlan(policy: KubeObject, plan: PlannedIngress): string[] {
  const types: string[] | undefined = policy.spec?.policyTypes
  if (types && !types.includes('Ingress')) return []
  const found: string[] = []
  for (const rule of policy.spec?.ingress ?? []) {
    const peers: any[] = rule.from ?? []
    if (peers.length === 0) {
      const ports = portsBeyond(rule.ports, [])
      found.push(`every source on ${ports ?? 'every port'}`)
      continue
    }
    for (const peer of peers) {
      let planned: number[] | undefined
      if (peer.ipBlock) {
        const exact = plan.blocks.includes(String(peer.ipBlock.cidr).toLowerCase())
        planned = exact ? plan.blockPorts : undefined
      } else {
        const sameNamespace =
          !peer.namespaceSelector || requiresAll(peer.namespaceSelector, { [NAMESPACE_NAME_LABEL]: plan.namespace })
        planned = sameNamespace && requiresAll(peer.podSelector, plan.fromPods) ? plan.podPorts : undefined
      }
      const ports = portsBeyond(rule.ports, planned ?? [])
      if (planned === undefined) found.push(`${describePeer(peer)} on ${portsBeyond(rule.ports, []) ?? 'every port'}`)
      else if (ports) found.push(`${describePeer(peer)} on ${ports}`)
    }
  }
  return found
}

/**
 * Other NetworkPolicies that select a protected pod (their podSelector, matchLabels and matchExpressions, read against
 * the live pods and the workload's pod template) and admit more than the plan: one check per target, naming each.
 */
export async function otherPolicyChecks(ctx: StepContext, live: LiveView): Promise<Check[]> {
  const { config, facts } = ctx
  const { manager } = workloads(config, facts)
  const pods = await ctx.cluster.list('pods', { namespace: config.namespace })
  const owned = new Set(L4_POLICY_NAMES)
  return protectedTargets(config, facts).map((target): Check => {
    const podsOfTarget = pods.filter((p) => subset(target.workload.selectorLabels, p.metadata.labels ?? {}))
    // The template's labels stand in for a pod that is being replaced right now.
    const labelSets = [target.workload.podLabels, ...podsOfTarget.map((p) => p.metadata.labels ?? {})]
    const plan: PlannedIngress = {
      namespace: config.namespace,
      fromPods: manager.selectorLabels,
      podPorts: [target.port, HBONE_PORT],
      blocks: config.allowKubeletProbes ? KUBELET_PROBE_SOURCES.map((c) => c.toLowerCase()) : [],
      blockPorts: [target.port],
    }
    const widening = live.policies
      .filter((p) => !owned.has(p.metadata.name))
      .filter((p) => labelSets.some((labels) => selectorMatches(p.spec?.podSelector ?? {}, labels)))
      .map((p) => ({ policy: p, beyond: admitsBeyondPlan(p, plan) }))
      .filter((w) => w.beyond.length)
    return {
      name: text.checks.noWiderNetworkPolicy(target.title, target.policy),
      expected: `only the manager's pods on ${target.port}, ${HBONE_PORT}${config.allowKubeletProbes ? ` and the kubelet's probes on ${target.port}` : ''}`,
      observed: widening.length
        ? widening
            .map((w) => `NetworkPolicy ${config.namespace}/${w.policy.metadata.name} admits ${w.beyond.join('; ')}`)
            .join('; ')
        : 'none does',
      ok: widening.length === 0,
      hint: text.hints.policiesAddUp(widening.map((w) => w.policy.metadata.name).join(', '), config.namespace),
      voids: [{ layer: 'CNI NetworkPolicy', target: target.key === 'mongodb' ? 'mongodb' : 'decision-maker' }],
    }
  })
}

export const hboneHint = (policy: string, title: string, enrolled: boolean) =>
  text.hints.hbone(policy, title, enrolled, HBONE_PORT)

export const kubeletTrapHint = (title: string, policy: string) =>
  text.hints.kubeletTrap(title, policy, KUBELET_PROBE_SOURCES.join(' / '))
