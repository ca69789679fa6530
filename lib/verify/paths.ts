// Tries the threat model's paths that a step's verification covers: one batch of probe pods for the in-cluster
// paths, requests from this machine for the gateway's, one check per path with what it should show now (given
// which steps are in effect) and, when it shows otherwise, why in the terms of the layer that decides it.
import { text } from '../config/text.ts'
import type { Config } from '../config/options.ts'
import { managerPrincipals } from '../config/options.ts'
import { workloads } from '../domain/gthulhu.ts'
import {
  gatewayPrincipal,
  HBONE_PORT,
  WAYPOINT_POLICY,
  principalOf,
  trustDomainOf,
  USE_WAYPOINT_LABEL,
  waypointPrincipal,
} from '../domain/istio.ts'
import {
  admitsPort,
  hboneHint,
  kubeletTrapHint,
  type LiveView,
  MANAGER_EGRESS_POLICY,
  portsAdmitted,
  protectedTargets,
  readLive,
  readLiveAccess,
  subset,
} from '../domain/network-policies.ts'
import { selectorText } from '../kube/object.ts'
import type { ApiAccess, Check, Facts, ProbeResult, ProbeSpec, StepContext, StepId, StepIO } from '../types.ts'
import { kubectlAccess } from '../kube/access.ts'
import { allowedCaller, managerPlacement, readyNodes } from './live-targets.ts'
import { ATTACKER_USER, refusedByOurPolicy, tryAdmission } from './admission-attempts.ts'
import { gatewayRequestCheck, liveGatewayHealthUrl } from './gateway-requests.ts'
import { describeExpectation, formatMatrix, probeAccess, probeCheck, runProbes } from './probes.ts'
import {
  type Expected,
  expectedNow,
  expectedPastAdmission,
  type NotTried,
  openForGood,
  pathsTriedAt,
  type ProbeEnv,
  probeFor,
  TARGET_TITLES,
  type ThreatPath,
  wouldClose,
} from './threat-model.ts'

/** Which steps' protections are in effect: recorded done, or the step being verified now. */
export const inEffectFor = (ctx: Pick<StepContext, 'inEffect'>, step: StepId) => (s: StepId) =>
  s === step || (ctx.inEffect?.(s) ?? false)

/** Reads what the probes of these paths need from the live cluster (only what they need). */
async function probeEnv(ctx: StepContext, paths: ThreatPath[]): Promise<ProbeEnv> {
  const { config, facts } = ctx
  const needs = (...ids: string[]) => paths.some((p) => ids.includes(p.id))
  const onHost = needs('host-network-same-node', 'host-network-other-node')
  const [placement, caller, nodes] = await Promise.all([
    needs('pod-ip-to-manager') || onHost ? managerPlacement(ctx) : undefined,
    needs('allowed-identity-to-manager')
      ? allowedCaller(
          ctx,
          managerPrincipals(config, workloads(config, facts).scheduler.serviceAccount, trustDomainOf(facts)),
        )
      : undefined,
    onHost ? readyNodes(ctx) : undefined,
  ])
  return {
    config,
    facts,
    managerPodIp: placement?.podIp,
    managerNodes: placement?.nodes,
    nodes,
    allowedCaller: caller,
  }
}

/**
 * Tries every path the threat model lists for this step and returns one check per path. An attack that should
 * be refused and got through fails the check; one that is open because its layer is not applied yet (or was left
 * out) is a warning that says so; a control that is refused fails.
 */
export const tryPaths = (ctx: StepContext, io: StepIO, step: StepId): Promise<Check[]> =>
  tryPathList(ctx, io, pathsTriedAt(step), inEffectFor(ctx, step))

/** Tries the given paths with these steps in effect (see tryPaths). */
export async function tryPathList(
  ctx: StepContext,
  io: StepIO,
  paths: ThreatPath[],
  inEffect: (step: StepId) => boolean,
): Promise<Check[]> {
  const env = await probeEnv(ctx, paths)
  const checks: Check[] = []
  const specs: ProbeSpec[] = []
  const expectations = new Map<string, Expected>()
  /**
   * Probed paths that admission refuses for an insider now ('applied') or once its step runs ('pending'), while the
   * runbook's probe, exempt there, meets no other layer that refuses it.
   */
  const onlyAdmission = new Map<string, 'applied' | 'pending'>()
  const gatewayChecks: Promise<Check>[] = []
  for (const path of paths) {
    const full = expectedNow(path, ctx.config, inEffect)
    // A probe pod meets only the layers behind admission (it is exempt there): expect what those layers do.
    const expected = path.trial.by === 'probe' ? expectedPastAdmission(path, ctx.config, inEffect) : full
    if (expected.verdict === 'open' && full.verdict === 'refused') onlyAdmission.set(path.id, 'applied')
    if (expected.verdict === 'open' && full.verdict === 'open' && full.until?.layer === 'admission' && !expected.until)
      onlyAdmission.set(path.id, 'pending')
    expectations.set(path.id, expected)
    const probe = probeFor(path, env, expected)
    if (probe && 'notTried' in probe) checks.push(notTried(path, probe, expected))
    else if (probe) specs.push(probe)
    else if (path.trial.by === 'gateway request') gatewayChecks.push(gatewayPath(ctx, path, expected))
    else if (path.trial.by === 'admission attempt') gatewayChecks.push(admissionPath(ctx, path, expected, env))
  }
  const [results, live, gateway] = await Promise.all([
    // A path expected open stays open however long one waits: only the others are tried again.
    specs.length
      ? runProbes(ctx, io, specs, (spec) => expectations.get(spec.path!)?.verdict !== 'open')
      : Promise.resolve([]),
    // The NetworkPolicies explain an L4 surprise; read them once, only when a backend path is tried.
    specs.some((s) => s.path?.endsWith('mongodb') || s.path?.endsWith('decision-maker'))
      ? readLive(ctx)
      : Promise.resolve(undefined),
    Promise.all(gatewayChecks),
  ])
  // A path open for good that was seen open is as the model says, yet an open attack: marked ⚠, not ✔.
  const disclosed = (r: ProbeResult) => {
    const expected = expectations.get(r.spec.path!)
    return !!expected && openForGood(expected) && r.ok
  }
  if (results.length) io.log(`${text.matrix.heading(live?.enrolled)}\n${formatMatrix(results, disclosed)}`)
  for (const result of results) {
    const path = paths.find((p) => p.id === result.spec.path)!
    const check = pathCheck(ctx, path, result, expectations.get(path.id)!, live)
    checks.push(
      onlyAdmission.has(path.id) && check.hint
        ? { ...check, hint: text.checks.behindAdmission(check.hint, onlyAdmission.get(path.id) === 'applied') }
        : check,
    )
  }
  return [...checks, ...gateway]
}

/** One check for a probed path: failed only when a control is refused or an attack that should be refused got through. */
function pathCheck(
  ctx: StepContext,
  path: ThreatPath,
  result: ProbeResult,
  expected: Expected,
  live: LiveView | undefined,
): Check {
  const check = probeCheck(result, result.ok ? undefined : explain(ctx, path, result, expected, live))
  if (expected.verdict !== 'open' || result.observed.kind === 'skipped') return check
  if (openForGood(expected)) {
    // Open by design or by the operator's choice: the probe expected it to get through. Seen open, it is a
    // disclosure (a warning that says why and what would close it), never a drift; refused, something this runbook
    // does not set up refused it, and nothing is claimed for that.
    return {
      ...check,
      ok: false,
      advisory: true,
      hint: result.ok
        ? text.checks.pathOpenForGood(expected.because, path.id, wouldClose(path, ctx.config))
        : result.observed.kind === 'blocked' || result.observed.kind === 'status'
          ? text.checks.pathRefusedAnyway(expected.because, path.id)
          : check.hint,
    }
  }
  // Open because its step has not run yet: a warning that names the step that closes it.
  return {
    ...check,
    advisory: true,
    hint: result.ok ? undefined : text.checks.pathOpen(expected.because, path.id, expected.until),
  }
}

/**
 * A path that could not be tried: a warning, or a failure when a protection is claimed for it — unless the path
 * does not exist on this cluster (no other node to come from), which is no gap.
 */
function notTried(path: ThreatPath, why: NotTried | string, expected: Expected): Check {
  const { notTried: reason, inapplicable } = typeof why === 'string' ? { notTried: why, inapplicable: false } : why
  return {
    name: text.checks.pathName(path.from, TARGET_TITLES[path.target], path.via, path.id),
    expected: expected.verdict === 'answered' ? 'answers' : expected.verdict,
    observed: `not tried: ${reason}`,
    ok: !!inapplicable,
    advisory: inapplicable || expected.verdict !== 'refused',
    hint: inapplicable ? undefined : 'only the other paths are proven',
    path: path.id,
  }
}

/** A request from this machine through the gateway, as the path's client. */
async function gatewayPath(ctx: StepContext, path: ThreatPath, expected: Expected): Promise<Check> {
  if (path.trial.by !== 'gateway request') throw new Error(`${path.id} is not tried through the gateway`)
  const gateway = await liveGatewayHealthUrl(ctx)
  // Without the gateway step there is no address to try: the check reads "skipped: needs gateway" when it was skipped.
  if (!gateway)
    return { ...notTried(path, 'no gateway address recorded: run the gateway step first', expected), needs: 'gateway' }
  if ('missing' in gateway)
    return { ...notTried(path, `the gateway has no address now: ${gateway.missing}`, expected), needs: 'gateway' }
  const agent = path.trial.userAgent(ctx.config)
  const status = expected.verdict === 'refused' ? 403 : 200
  const check = await gatewayRequestCheck(
    ctx,
    gateway.healthUrl,
    agent.value,
    agent.label,
    status,
    gatewayHint(ctx.config, ctx.facts, path),
    path.id,
  )
  return { ...check, path: path.id, needs: 'gateway' }
}

/** An object an insider would create, sent through admission as a user who is not the runbook's (server dry run). */
async function admissionPath(ctx: StepContext, path: ThreatPath, expected: Expected, env: ProbeEnv): Promise<Check> {
  if (path.trial.by !== 'admission attempt') throw new Error(`${path.id} is not tried at admission`)
  const object = path.trial.build(env)
  const outcome = await tryAdmission(ctx, object, ATTACKER_USER)
  const refused = refusedByOurPolicy(ctx.config, outcome)
  const name = text.checks.pathName(path.from, TARGET_TITLES[path.target], path.via, path.id)
  const observed = outcome.kind === 'admitted' ? `admitted: ${outcome.detail}` : outcome.detail
  const refusal = `refused at admission (kubectl create ${object.kind} --dry-run=server --as=${ATTACKER_USER})`
  if (expected.verdict === 'refused')
    return {
      name,
      expected: refusal,
      observed,
      ok: refused,
      hint: refused
        ? undefined
        : outcome.kind === 'error'
          ? `the attempt could not be made: ${outcome.detail}`
          : `the API server admitted it: check that the ValidatingAdmissionPolicy and its binding exist (kubectl get validatingadmissionpolicies,validatingadmissionpolicybindings -l app.kubernetes.io/managed-by=gthulhu-runbook) and that the API server serves admissionregistration.k8s.io/v1 (Kubernetes 1.30 or later)`,
      path: path.id,
    }
  // An admission attempt is an attack's: refused, or open (never a control to be answered).
  if (expected.verdict !== 'open') throw new Error(`${path.id} is tried at admission but is not an attack`)
  if (openForGood(expected))
    // Left out by the operator (or the opt-in guard is off), as for a probed path open for good: admitted is what
    // the model says, yet an open attack — a warning that says why and what would close it, never a passing check.
    return {
      name,
      expected: 'admitted (the path is open)',
      observed,
      ok: false,
      advisory: true,
      hint:
        outcome.kind === 'admitted'
          ? text.checks.pathOpenForGood(expected.because, path.id, wouldClose(path, ctx.config))
          : `expected the API server to admit this while the path is open; it answered: ${outcome.detail}`,
      path: path.id,
    }
  // Open until a step still to run: that step's refusal is expected; admitted, a warning that names the step.
  return {
    name,
    expected: refusal,
    observed,
    ok: refused,
    advisory: true,
    hint: refused
      ? undefined
      : outcome.kind === 'error'
        ? `the attempt could not be made: ${outcome.detail}`
        : text.checks.pathOpen(expected.because, path.id, expected.until),
    path: path.id,
  }
}

// ---- what trying the paths asks of the API server ----

/**
 * The API requests tryPathList makes for these paths: what probeEnv reads, the probe batch (fixtures from the
 * paths' own probe specs, built here against the chart's defaults), the NetworkPolicies read for an L4 surprise,
 * and the insider's attempts (kubectl --as).
 */
export function pathsAccess(config: Config, paths: ThreatPath[], who: string): ApiAccess[] {
  const ns = config.namespace
  const has = (...ids: string[]) => paths.some((p) => ids.includes(p.id))
  const onHost = has('host-network-same-node', 'host-network-other-node')
  // Stand-ins for what probeEnv reads from the cluster, so every path builds the probe it would build.
  const env: ProbeEnv = {
    config,
    facts: {},
    managerPodIp: '192.0.2.1',
    managerNodes: ['node-a'],
    nodes: ['node-a', 'node-b'],
    allowedCaller: { sa: 'caller', principal: `cluster.local/ns/${ns}/sa/caller` },
  }
  const specs = paths.flatMap((path) => {
    const probe = probeFor(path, env)
    return probe && !('notTried' in probe) ? [probe] : []
  })
  const fixtures = specs.flatMap((s) => s.fixtures ?? [])
  const attempts = paths.filter((p) => p.trial.by === 'admission attempt')
  const throughGateway = paths.some((p) => p.trial.by === 'gateway request')
  const gateway = `${who}: the gateway's address as it is now (its listener, Service and a node)`
  return [
    ...(throughGateway
      ? [
          ...kubectlAccess.get(
            'gateways.gateway.networking.k8s.io',
            { namespace: ns, names: [config.gatewayName] },
            gateway,
          ),
          ...kubectlAccess.get('services', { namespace: ns, names: [`${config.gatewayName}-istio`] }, gateway),
          ...kubectlAccess.list('nodes', {}, gateway),
        ]
      : []),
    ...(has('pod-ip-to-manager') || onHost
      ? kubectlAccess.list('pods', { namespace: ns }, `${who}: the manager's pod IP and nodes`)
      : []),
    ...(has('allowed-identity-to-manager')
      ? kubectlAccess.get('serviceaccounts', { namespace: ns }, `${who}: a ServiceAccount the manager's policy admits`)
      : []),
    ...(onHost ? kubectlAccess.list('nodes', {}, `${who}: the nodes that take pods (hostNetwork probes)`) : []),
    // --no-probes: runProbes reports the probes skipped and creates nothing.
    ...(specs.length && config.probes
      ? probeAccess(
          ns,
          {
            ownNamespaces: fixtures.some((f) => f.kind === 'Namespace'),
            services: fixtures.some((f) => f.kind === 'Service'),
          },
          who,
        )
      : []),
    ...(specs.some((s) => s.path?.endsWith('mongodb') || s.path?.endsWith('decision-maker'))
      ? readLiveAccess(config, `${who}: the NetworkPolicies, to explain a surprise`)
      : []),
    ...(attempts.length
      ? kubectlAccess.impersonateUser(
          ATTACKER_USER,
          `${who}: plays the insider ${ATTACKER_USER} (kubectl --as, server dry runs its insider Roles allow)`,
        )
      : []),
  ]
}

// ---- why a path came out otherwise than expected ----

function explain(
  ctx: StepContext,
  path: ThreatPath,
  result: ProbeResult,
  expected: Expected,
  live: LiveView | undefined,
): string {
  const { config, facts } = ctx
  const observed = result.observed
  if (observed.kind === 'error') return `the probe itself failed: ${observed.detail}`
  if (path.id === 'impostor-decision-maker') return impostorHint(config, facts, expected)
  if (path.id === 'deputy-service-to-manager' || path.id === 'unbound-service-to-manager')
    return deputyHint(config, facts, path, result)
  if (path.target === 'mongodb' || path.target === 'decision-maker') {
    if (path.kind === 'control' || expected.verdict !== 'refused' || !live)
      return backendHint(config, facts, live, result)
    return expected.by.some((c) => c.layer === 'CNI NetworkPolicy') &&
      !expected.by.some((c) => c.step !== 'l4-policies')
      ? cniHint(config, facts, live, result)
      : identityHint(config, result)
  }
  if (path.id === 'allowed-identity-to-manager') {
    if (observed.kind === 'status' && observed.status === 403)
      return `the manager's ALLOW policy rejected ${principalOf(trustDomainOf(facts), config.namespace, result.spec.source.serviceAccount)}: an ALLOW policy denies every request none of its rules match. Compare with: kubectl get authorizationpolicy -n ${config.namespace} -o yaml (principals, ports), then run l7-policies again`
    if (observed.kind === 'blocked')
      return `the manager's identity policy must admit the waypoint's identity ${waypointPrincipal(config, facts)}; if you named another waypoint, run identity-policies with the same --waypoint-name. If the mesh's trust domain changed (meshConfig.trustDomain), run identity-policies again so its principals use the new one`
    return `the request did not get an answer from the manager (${observed.kind}); check the waypoint ${config.waypointName} pods and the manager pods in ${config.namespace}`
  }
  if (path.id === 'other-identity-to-manager-service') {
    if (observed.kind === 'status' && observed.status === 200)
      return `the manager answered an identity the policy does not list: a policy that targets a Service is enforced only by a bound waypoint — check that ${config.waypointBinding === 'service' ? `the manager Service has ${USE_WAYPOINT_LABEL}=${config.waypointName}` : `namespace ${config.namespace} has ${USE_WAYPOINT_LABEL}=${config.waypointName}`} (waypoint step) and that the manager policy reports WaypointAccepted=True`
    return `expected the waypoint's 403 (RBAC: access denied); a different failure (${observed.kind}) proves nothing about the policy`
  }
  return identityHint(config, result)
}

/** A control to MongoDB or the decision maker did not get its answer. */
function backendHint(config: Config, facts: Facts, live: LiveView | undefined, result: ProbeResult): string {
  const target = protectedTargets(config, facts).find((t) => result.spec.destination.startsWith(t.title))!
  const policy = live?.policies.find((p) => p.metadata.name === target.policy)
  const { manager } = workloads(config, facts)
  const observed = result.observed
  if (observed.kind === 'unresolved' || observed.kind === 'refused')
    return `the ${target.title} did not answer at all (${observed.detail}), so this probe proves nothing about the policy: check that its pods are Running and Ready (kubectl get pods -n ${config.namespace} -l ${selectorText(target.workload.selectorLabels)}). If they turned unready after ambient enrolment, that is the kubelet-probe trap: ${kubeletTrapHint(target.title, target.policy)}`
  if (observed.kind === 'status') {
    // A Go server with TLS on the port answers plain HTTP with 400: that is Gthulhu's mtls.enabled, not a sick pod.
    if (observed.status === 400 && !target.workload.servesTls)
      return `the ${target.title} answered HTTP 400 to plain HTTP: it most likely serves (mutual) TLS on ${target.port} (Gthulhu with mtls.enabled), which preflight did not notice. The connection got through, so the NetworkPolicy holds; run preflight again so the probes expect TLS`
    return `the ${target.title} answered HTTP ${observed.status}, not ${describeExpectation(result.spec.expect)}: the connection got through, so the NetworkPolicy is not the cause; check the pod's health (kubectl logs -n ${config.namespace} -l ${selectorText(target.workload.selectorLabels)}${target.workload.container ? ` -c ${target.workload.container}` : ''})`
  }
  if (policy && live?.enrolled && !admitsPort(portsAdmitted(policy, manager.podLabels), HBONE_PORT))
    return hboneHint(target.policy, target.title, true)
  const enrolledReset = live?.enrolled
    ? ` Enrolled, a reset right after connecting means the manager's ztunnel accepted the connection but its tunnel to the ${target.title} was dropped or denied (a NetworkPolicy, or an AuthorizationPolicy ztunnel enforces there: its identity policy must admit the manager's ServiceAccount ${manager.serviceAccount}).`
    : ''
  return `NetworkPolicy ${target.policy} should admit pods labelled ${selectorText(manager.selectorLabels)} on ${target.port}${live?.enrolled ? ` and ${HBONE_PORT}` : ''}; compare it with the pods' labels (kubectl describe networkpolicy ${target.policy} -n ${config.namespace}).${enrolledReset}`
}

/** An attack only the CNI refuses got through: most likely the NetworkPolicies are stored but not enforced. */
function cniHint(config: Config, facts: Facts, live: LiveView, result: ProbeResult): string {
  const target = protectedTargets(config, facts).find((t) => result.spec.destination.startsWith(t.title))!
  const others = live.policies.filter(
    (p) => p.metadata.name !== target.policy && subset(p.spec?.podSelector?.matchLabels, target.workload.podLabels),
  )
  const cni = facts.cni?.found.length ? facts.cni.found.join('; ') : 'no known CNI'
  return (
    `a pod without the manager's labels connected: most likely the cluster's CNI does not enforce NetworkPolicy (preflight found: ${cni}), so the policies are stored but ignored. ` +
    `Install or enable a CNI that enforces them (Calico, Cilium, kindnet in kind ≥ 0.24).${others.length ? ` Also check the other NetworkPolicies that select the ${target.title}: ${others.map((p) => p.metadata.name).join(', ')}.` : ''}`
  )
}

/** The impostor decision maker received the manager's request although the egress policy should have stopped it. */
function impostorHint(config: Config, facts: Facts, expected: Expected): string {
  if (expected.verdict !== 'refused')
    return `the manager sent its request to a pod labelled app=decisionmaker in another namespace: it calls every such pod it finds (Gthulhu/api lists them in all namespaces)`
  const { manager } = workloads(config, facts)
  const cni = facts.cni?.found.join('; ') || 'no known CNI'
  const reached = `the manager reached a pod labelled app=decisionmaker outside ${config.namespace}`
  // Preflight already saw a CNI that stores NetworkPolicies without enforcing them: that is the likely cause.
  if (facts.cni?.found.length && !facts.cni.enforcesNetworkPolicy)
    return `${reached}: most likely the cluster's CNI does not enforce NetworkPolicy (preflight found: ${cni}), so its egress NetworkPolicy ${MANAGER_EGRESS_POLICY} is stored but ignored. Install or enable a CNI that enforces egress policies (Calico, Cilium, kindnet in kind ≥ 0.24).`
  return `${reached}: its egress NetworkPolicy ${MANAGER_EGRESS_POLICY} should admit only MongoDB, this namespace's decision makers, DNS and the API server. Check that it exists and selects the manager's pods (kubectl describe networkpolicy ${MANAGER_EGRESS_POLICY} -n ${config.namespace}; pods labelled ${selectorText(manager.selectorLabels)}), and that the CNI enforces egress policies (preflight found: ${cni})`
}

/** A Service someone else made for the manager's pods got an answer the policies should have refused. */
function deputyHint(config: Config, facts: Facts, path: ThreatPath, result: ProbeResult): string {
  const observed = result.observed
  if (observed.kind === 'status' && observed.status === 200)
    return path.id === 'deputy-service-to-manager' || config.waypointBinding === 'namespace'
      ? `the waypoint forwarded a Service that is not the manager's with its own identity ${waypointPrincipal(config, facts)}, which the manager's identity policy admits: the policy attached to the waypoint itself (${WAYPOINT_POLICY}, targetRefs kind Gateway ${config.waypointName}) must refuse every identity the manager policy does not list. Check that it exists and reports WaypointAccepted=True (kubectl get authorizationpolicies -n ${config.namespace}), then run l7-policies again`
      : `a Service without a waypoint label reached the manager's pods: ztunnel's identity policy on the manager should have refused the caller's own identity. Check that the namespace does not carry ${USE_WAYPOINT_LABEL} (it would put every Service on the waypoint) and that the identity policies exist (identity-policies step)`
  return `expected ${describeExpectation(result.spec.expect)} for a Service someone else created; a different failure (${observed.kind}${'detail' in observed ? `: ${observed.detail}` : ''}) proves nothing about the policies`
}

/** An attack the identity policies should refuse got an answer. */
function identityHint(config: Config, result: ProbeResult): string {
  return `the path got an answer, so no identity policy refused it: check that the policies exist and select the pods (kubectl get authorizationpolicies -n ${config.namespace} -l app.kubernetes.io/managed-by=gthulhu-runbook), that the destination pods are enrolled (istioctl ztunnel-config workloads shows HBONE), and that ${result.spec.destination} is covered by one`
}

function gatewayHint(config: Config, facts: Facts, path: ThreatPath): string {
  if (path.kind === 'control')
    return config.ingressViaWaypoint
      ? `ingress passes the manager's waypoint, so the manager policy must admit the gateway's identity ${gatewayPrincipal(config, facts)} (it is added with --ingress-via-waypoint; run l7-policies again)`
      : `the gateway's User-Agent policy should admit this User-Agent, and the manager's identity policy the gateway's identity ${gatewayPrincipal(config, facts)}; if you named another gateway, run the policy steps with the same --gateway-name`
  return `the gateway admitted a User-Agent its policy does not list: check that the gateway policy selects the gateway pods (gateway.networking.k8s.io/gateway-name=${config.gatewayName})`
}
