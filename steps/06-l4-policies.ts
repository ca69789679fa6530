// L4 isolation: the guide's two NetworkPolicies let only the manager open connections to MongoDB and to the
// scheduler's decision maker (app port plus ambient's HBONE port 15008). Proven with probe pods: one wearing
// the manager's labels must get through, one without them must be refused.
import { workloads } from '../lib/gthulhu.ts'
import { loadManifest } from '../lib/manifests.ts'
import type { Config } from '../lib/options.ts'
import {
  describeExpectation,
  formatMatrix,
  impersonationLabels,
  MANAGED_BY,
  mongoProbeImage,
  probeCheck,
  runProbes,
  type ProbeExpectation,
  type ProbeResult,
  type ProbeSpec,
} from '../lib/probes.ts'
import { assertValidManifests } from '../lib/schema.ts'
import type { Check, Facts, KubeObject, PlanItem, Step, StepContext, StepIO } from '../lib/types.ts'

export const HBONE_PORT = 15008
/** Where ambient's rewritten kubelet health probes come from (istio-cni SNAT), IPv4 and IPv6. */
export const KUBELET_PROBE_SOURCES = ['169.254.7.127/32', 'fd16:9254:7127:1337:ffff:ffff:ffff:ffff/128']
export const AMBIENT_LABEL = 'istio.io/dataplane-mode'

const MONGODB_POLICY = 'allow-only-manager-to-mongodb'
const SCHEDULER_POLICY = 'allow-only-manager-to-scheduler'
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

// ---- comparing what is applied with what is wanted ----

/** Whether `live` carries every field of `desired` (lists must match item by item; the server may add defaults). */
export function containsFields(desired: unknown, live: unknown): boolean {
  if (Array.isArray(desired))
    return Array.isArray(live) && live.length === desired.length && desired.every((d, i) => containsFields(d, live[i]))
  if (desired && typeof desired === 'object') {
    if (!live || typeof live !== 'object' || Array.isArray(live)) return false
    return Object.entries(desired).every(([k, v]) => containsFields(v, (live as Record<string, unknown>)[k]))
  }
  return desired === live
}

export const appliedAsPlanned = (desired: KubeObject, live: KubeObject | undefined) =>
  !!live &&
  containsFields(desired.spec, live.spec) &&
  containsFields(desired.metadata.labels ?? {}, live.metadata.labels ?? {})

/**
 * Applies the objects that are missing or differ (server-side, taking back fields someone else changed) and
 * returns the names it applied; an empty list means the cluster already matched.
 */
export async function applyChanged(
  ctx: StepContext,
  io: StepIO,
  desired: KubeObject[],
  resource: string,
): Promise<string[]> {
  assertValidManifests(desired)
  const live = await Promise.all(
    desired.map((o) =>
      ctx.cluster.findJson<KubeObject>(['get', resource, o.metadata.name, '-n', o.metadata.namespace!]),
    ),
  )
  const changed = desired.filter((o, i) => !appliedAsPlanned(o, live[i]))
  if (changed.length === 0) return []
  for (const o of changed) {
    if (live[desired.indexOf(o)])
      io.warn(
        `${o.kind} ${o.metadata.namespace}/${o.metadata.name} differs from the plan; applying the planned version`,
      )
  }
  await ctx.cluster.apply(changed, { forceConflicts: true })
  return changed.map((o) => `${o.kind} ${o.metadata.name}`)
}

// ---- reading a NetworkPolicy ----

const subset = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
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

const admitsPort = (ports: number[] | 'all', port: number) => ports === 'all' || ports.includes(port)
const showPorts = (ports: number[] | 'all') =>
  ports === 'all' ? 'every port' : ports.length ? ports.join(', ') : 'no port'

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
      name: `NetworkPolicy ${config.namespace}/${target.policy} applied as planned`,
      expected: describePolicy(want),
      observed: have ? describePolicy(have) : 'not found',
      ok: appliedAsPlanned(want, have),
      hint: 'someone changed or deleted it; run the l4-policies step again to restore it',
    })
    if (!have) continue
    const ports = portsAdmitted(have, manager.podLabels)
    checks.push({
      name: `${target.policy} admits the manager on ${target.port} and on ${HBONE_PORT} (HBONE)`,
      expected: `${target.port}, ${HBONE_PORT}`,
      observed: showPorts(ports),
      ok: admitsPort(ports, target.port) && admitsPort(ports, HBONE_PORT),
      hint: hboneHint(target.policy, target.title, live.enrolled),
    })
    const kubeletPorts = portsAdmittedFromBlock(have, KUBELET_PROBE_SOURCES[0])
    checks.push({
      name: `${target.policy} admits ambient's kubelet probes (${KUBELET_PROBE_SOURCES[0]}) on ${target.port}`,
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

/**
 * The four probes, each exchanging data (a bare connect proves nothing once ztunnel is in the path): the
 * manager's stand-in gets MongoDB's hello answered and HTTP 200 from the decision maker; a pod without its
 * labels, outside the mesh, gets neither.
 */
export function l4ProbeSpecs(config: Config, facts: Facts): ProbeSpec[] {
  const { manager } = workloads(config, facts)
  const asManager = {
    name: `manager (${manager.name}'s labels)`,
    labels: impersonationLabels(manager.podLabels),
    serviceAccount: manager.serviceAccount,
  }
  // The guide's deny probe: the manager's labels except the component, so only the component label decides. It
  // stays out of ambient, so what refuses it is the CNI, not an identity policy at the destination.
  const outsider = {
    name: 'other pod (component=probe)',
    labels: { ...manager.selectorLabels, 'app.kubernetes.io/component': 'probe', [AMBIENT_LABEL]: 'none' },
    serviceAccount: 'default',
  }
  return protectedTargets(config, facts).flatMap((target): ProbeSpec[] => {
    const { destination, request, answer } = targetProbe(target)
    return [
      { role: `manager-${target.key}`, source: asManager, destination, request, expect: answer },
      { role: `other-${target.key}`, source: outsider, destination, request, expect: { kind: 'blocked' } },
    ]
  })
}

/** The decision maker's health endpoint, answered on its http port (8080). */
export const SCHEDULER_HEALTH_PATH = '/health'

/**
 * How a probe asks a protected target for an answer, and the answer that proves it got through: MongoDB's hello;
 * the decision maker's GET /health → 200, or → 400 when it serves mutual TLS (Gthulhu's mtls.enabled), where
 * its Go server answers plain HTTP with "400 Bad Request" — still an answer from the far side.
 */
export function targetProbe(target: ReturnType<typeof protectedTargets>[number]) {
  if (target.key === 'mongodb') {
    return {
      destination: `${target.title} :${target.port}`,
      request: { kind: 'mongo', host: target.host, port: target.port } as ProbeSpec['request'],
      answer: { kind: 'answered' } as ProbeExpectation,
    }
  }
  const tls = target.workload.servesTls === true
  return {
    destination: `${target.title} :${target.port}${tls ? ' (mTLS)' : ''}`,
    // The sidecar Service is headless, so its name resolves straight to the decision maker's pod.
    request: {
      kind: 'http',
      url: `http://${target.host}:${target.port}${SCHEDULER_HEALTH_PATH}`,
    } as ProbeSpec['request'],
    answer: { kind: 'status', status: tls ? 400 : 200 } as ProbeExpectation,
  }
}

/** Why a probe came out wrong, from the live policies and what the probe saw. */
function diagnose(config: Config, facts: Facts, live: LiveView, result: ProbeResult): string {
  const target = protectedTargets(config, facts).find((t) => result.spec.role.endsWith(t.key))!
  const policy = live.policies.find((p) => p.metadata.name === target.policy)
  const { manager } = workloads(config, facts)
  if (result.observed.kind === 'unresolved' || result.observed.kind === 'refused') {
    return `the ${target.title} did not answer at all (${result.observed.detail}), so this probe proves nothing about the policy: check that its pods are Running and Ready (kubectl get pods -n ${config.namespace} -l ${selectorText(target.workload.selectorLabels)}). If they turned unready after ambient enrolment, that is the kubelet-probe trap: ${kubeletTrapHint(target.title, target.policy)}`
  }
  if (result.observed.kind === 'error') return `the probe itself failed: ${result.observed.detail}`
  if (result.spec.expect.kind !== 'blocked') {
    if (result.observed.kind === 'status') {
      // A Go server with TLS on the port answers plain HTTP with 400: that is Gthulhu's mtls.enabled, not a sick pod.
      if (result.observed.status === 400 && !target.workload.servesTls) {
        return `the ${target.title} answered HTTP 400 to plain HTTP: it most likely serves (mutual) TLS on ${target.port} (Gthulhu with mtls.enabled), which preflight did not notice. The connection got through, so the NetworkPolicy holds; run preflight again so the probes expect TLS`
      }
      return `the ${target.title} answered HTTP ${result.observed.status}, not ${describeExpectation(result.spec.expect)}: the connection got through, so the NetworkPolicy is not the cause; check the pod's health (kubectl logs -n ${config.namespace} -l ${selectorText(target.workload.selectorLabels)} -c decision-maker)`
    }
    if (policy && live.enrolled && !admitsPort(portsAdmitted(policy, manager.podLabels), HBONE_PORT))
      return hboneHint(target.policy, target.title, true)
    const enrolledReset = live.enrolled
      ? ` Enrolled, a reset right after connecting means the manager's ztunnel accepted the connection but its tunnel to the ${target.title} was dropped or denied (a NetworkPolicy, or an AuthorizationPolicy ztunnel enforces there).`
      : ''
    return `NetworkPolicy ${target.policy} should admit pods labelled ${selectorText(manager.selectorLabels)} on ${target.port}${live.enrolled ? ` and ${HBONE_PORT}` : ''}; compare it with the pods' labels (kubectl describe networkpolicy ${target.policy} -n ${config.namespace}).${enrolledReset}`
  }
  // A deny probe got through.
  const others = live.policies.filter(
    (p) => p.metadata.name !== target.policy && subset(p.spec?.podSelector?.matchLabels, target.workload.podLabels),
  )
  const cni = facts.cni?.found.length ? facts.cni.found.join('; ') : 'no known CNI'
  return (
    `a pod without the manager's labels connected: most likely the cluster's CNI does not enforce NetworkPolicy (preflight found: ${cni}), so the policies are stored but ignored. ` +
    `Install or enable a CNI that enforces them (Calico, Cilium, kindnet in kind ≥ 0.24).${others.length ? ` Also check the other NetworkPolicies that select the ${target.title}: ${others.map((p) => p.metadata.name).join(', ')}.` : ''}`
  )
}

/** Labels as a kubectl -l selector. */
export const selectorText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')

/** Runs the four probes and turns them into checks, with the matrix in the log. Used again after the restart. */
export async function l4ReachabilityChecks(ctx: StepContext, io: StepIO, live?: LiveView): Promise<Check[]> {
  const [view, results] = await Promise.all([
    live ?? readLive(ctx),
    runProbes(ctx, io, l4ProbeSpecs(ctx.config, ctx.facts)),
  ])
  io.log(
    `L4 reachability (${view.enrolled ? 'namespace enrolled in ambient' : 'namespace not yet enrolled in ambient'}):\n${formatMatrix(results)}`,
  )
  return results.map((r) => probeCheck(r, r.ok ? undefined : diagnose(ctx.config, ctx.facts, view, r)))
}

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
    if (applied.length === 0) return { unchanged: 'both NetworkPolicies are already applied as planned' }
    io.log(`applied ${applied.join(', ')}`)
  },
  async verify(ctx, io) {
    const live = await readLive(ctx)
    return [...policyChecks(ctx.config, ctx.facts, live), ...(await l4ReachabilityChecks(ctx, io, live))]
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
