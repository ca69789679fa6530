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
import { formatMatrix, probeAccess, probeCheck, runProbes } from './probes.ts'
import {
  type Expected,
  expectedOfTrial,
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
    // A probe pod meets only the layers behind admission (it is exempt there): expect what those layers do.
    const { tried: expected, onlyAdmission: admissionAlone } = expectedOfTrial(path, ctx.config, inEffect)
    if (admissionAlone) onlyAdmission.set(path.id, admissionAlone)
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
    expected: text.hints.verdict(expected.verdict),
    observed: text.hints.notTried(reason),
    ok: !!inapplicable,
    advisory: inapplicable || expected.verdict !== 'refused',
    hint: inapplicable ? undefined : text.hints.otherPathsProven,
    path: path.id,
  }
}

/** A request from this machine through the gateway, as the path's client. */
async function gatewayPath(ctx: StepContext, path: ThreatPath, expected: Expected): Promise<Check> {
  if (path.trial.by !== 'gateway request') throw new Error(`${path.id} is not tried through the gateway`)
  const gateway = await liveGatewayHealthUrl(ctx)
  // Without the gateway step there is no address to try: the check reads "skipped: needs gateway" when it was skipped.
  if (!gateway) return { ...notTried(path, text.hints.noGatewayAddress, expected), needs: 'gateway' }
  if ('missing' in gateway)
    return { ...notTried(path, text.hints.gatewayAddressGone(gateway.missing), expected), needs: 'gateway' }
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
  const observed = outcome.kind === 'admitted' ? text.hints.admitted(outcome.detail) : outcome.detail
  const refusal = text.hints.refusedAtAdmission(object.kind, ATTACKER_USER)
  if (expected.verdict === 'refused')
    return {
      name,
      expected: refusal,
      observed,
      ok: refused,
      hint: refused
        ? undefined
        : outcome.kind === 'error'
          ? text.hints.attemptFailed(outcome.detail)
          : text.hints.apiServerAdmitted,
      path: path.id,
    }
  // An admission attempt is an attack's: refused, or open (never a control to be answered).
  if (expected.verdict !== 'open') throw new Error(`${path.id} is tried at admission but is not an attack`)
  if (openForGood(expected))
    // Left out by the operator (or the opt-in guard is off), as for a probed path open for good: admitted is what
    // the model says, yet an open attack — a warning that says why and what would close it, never a passing check.
    return {
      name,
      expected: text.hints.admittedOpen,
      observed,
      ok: false,
      advisory: true,
      hint:
        outcome.kind === 'admitted'
          ? text.checks.pathOpenForGood(expected.because, path.id, wouldClose(path, ctx.config))
          : text.hints.expectedAdmitted(outcome.detail),
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
        ? text.hints.attemptFailed(outcome.detail)
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

/** What a probe expected, in the run's language. */
const expectationOf = ({ spec: { expect } }: ProbeResult) =>
  text.checks.expectation(expect.kind, expect.kind === 'status' ? expect.status : undefined)

function explain(
  ctx: StepContext,
  path: ThreatPath,
  result: ProbeResult,
  expected: Expected,
  live: LiveView | undefined,
): string {
  const { config, facts } = ctx
  const observed = result.observed
  if (observed.kind === 'error') return text.hints.probeFailed(observed.detail)
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
      return text.hints.allowRejected(
        principalOf(trustDomainOf(facts), config.namespace, result.spec.source.serviceAccount),
        config.namespace,
      )
    if (observed.kind === 'blocked') return text.hints.waypointIdentity(waypointPrincipal(config, facts))
    return text.hints.noAnswerFromManager(observed.kind, config.waypointName, config.namespace)
  }
  if (path.id === 'other-identity-to-manager-service') {
    if (observed.kind === 'status' && observed.status === 200)
      return text.hints.unlistedIdentityAnswered(
        config.waypointBinding === 'service'
          ? text.hints.managerServiceHas(`${USE_WAYPOINT_LABEL}=${config.waypointName}`)
          : text.hints.namespaceHas(config.namespace, `${USE_WAYPOINT_LABEL}=${config.waypointName}`),
      )
    return text.hints.expectedWaypoint403(observed.kind)
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
    return text.hints.noAnswerAtAll(
      target.title,
      observed.detail,
      config.namespace,
      selectorText(target.workload.selectorLabels),
      kubeletTrapHint(target.title, target.policy),
    )
  if (observed.kind === 'status') {
    // A Go server with TLS on the port answers plain HTTP with 400: that is Gthulhu's mtls.enabled, not a sick pod.
    if (observed.status === 400 && !target.workload.servesTls) return text.hints.servesTls(target.title, target.port)
    return text.hints.answeredStatus(
      target.title,
      observed.status,
      expectationOf(result),
      `kubectl logs -n ${config.namespace} -l ${selectorText(target.workload.selectorLabels)}${target.workload.container ? ` -c ${target.workload.container}` : ''}`,
    )
  }
  if (policy && live?.enrolled && !admitsPort(portsAdmitted(policy, manager.podLabels), HBONE_PORT))
    return hboneHint(target.policy, target.title, true)
  const enrolledReset = live?.enrolled ? text.hints.enrolledReset(target.title, manager.serviceAccount) : ''
  return text.hints.shouldAdmitManager(
    target.policy,
    selectorText(manager.selectorLabels),
    text.hints.portAnd(target.port, live?.enrolled ? HBONE_PORT : undefined),
    config.namespace,
    enrolledReset,
  )
}

/** An attack only the CNI refuses got through: most likely the NetworkPolicies are stored but not enforced. */
function cniHint(config: Config, facts: Facts, live: LiveView, result: ProbeResult): string {
  const target = protectedTargets(config, facts).find((t) => result.spec.destination.startsWith(t.title))!
  const others = live.policies.filter(
    (p) => p.metadata.name !== target.policy && subset(p.spec?.podSelector?.matchLabels, target.workload.podLabels),
  )
  const cni = facts.cni?.found.length ? facts.cni.found.join('; ') : text.hints.noKnownCni
  return text.hints.cniNotEnforcing(cni, target.title, others.map((p) => p.metadata.name).join(', '))
}

/** The impostor decision maker received the manager's request although the egress policy should have stopped it. */
function impostorHint(config: Config, facts: Facts, expected: Expected): string {
  if (expected.verdict !== 'refused') return text.hints.impostorCalled
  const { manager } = workloads(config, facts)
  const cni = facts.cni?.found.join('; ') || text.hints.noKnownCni
  const reached = text.hints.impostorReached(config.namespace)
  // Preflight already saw a CNI that stores NetworkPolicies without enforcing them: that is the likely cause.
  if (facts.cni?.found.length && !facts.cni.enforcesNetworkPolicy)
    return text.hints.egressIgnored(reached, cni, MANAGER_EGRESS_POLICY)
  return text.hints.egressShouldAdmit(
    reached,
    MANAGER_EGRESS_POLICY,
    config.namespace,
    selectorText(manager.selectorLabels),
    cni,
  )
}

/** A Service someone else made for the manager's pods got an answer the policies should have refused. */
function deputyHint(config: Config, facts: Facts, path: ThreatPath, result: ProbeResult): string {
  const observed = result.observed
  if (observed.kind === 'status' && observed.status === 200)
    return path.id === 'deputy-service-to-manager' || config.waypointBinding === 'namespace'
      ? text.hints.waypointForwarded(
          waypointPrincipal(config, facts),
          WAYPOINT_POLICY,
          config.waypointName,
          config.namespace,
        )
      : text.hints.unboundReached(USE_WAYPOINT_LABEL)
  return text.hints.deputyOtherFailure(
    expectationOf(result),
    `${observed.kind}${'detail' in observed ? `: ${observed.detail}` : ''}`,
  )
}

/** An attack the identity policies should refuse got an answer. */
function identityHint(config: Config, result: ProbeResult): string {
  return text.hints.identityNotRefused(config.namespace, result.spec.destination)
}

function gatewayHint(config: Config, facts: Facts, path: ThreatPath): string {
  if (path.kind === 'control')
    return config.ingressViaWaypoint
      ? text.hints.gatewayViaWaypoint(gatewayPrincipal(config, facts))
      : text.hints.gatewayControl(gatewayPrincipal(config, facts))
  return text.hints.gatewayAdmittedAgent(config.gatewayName)
}
