// L7 rules: the manager answers only the allowed identities (enforced by the namespace's waypoint, for in-mesh
// callers that address the manager Service), and the gateway admits only the allowed User-Agents (enforced by the
// gateway's own Envoy). Proven from inside the cluster with curl probes running as the allowed and as another
// ServiceAccount, by the paths that skip the waypoint, and from outside through the gateway.
import { managerPrincipals, type Config } from '../lib/config/options.ts'
import {
  admitsUserAgent,
  assertValidUserAgents,
  curlDefaultUserAgent,
  describeUserAgent,
  sampleUserAgent,
  userAgentMatches,
} from '../lib/config/user-agents.ts'
import { applyChanged, appliedAsPlanned, MANAGED_BY } from '../lib/domain/apply.ts'
import { condition } from '../lib/domain/gateway-api.ts'
import { managerService, workloads } from '../lib/domain/gthulhu.ts'
import {
  GATEWAY_NAME_LABEL,
  gatewayPrincipal,
  INGRESS_USE_WAYPOINT,
  POLICY_RESOURCE,
  policyCondition,
} from '../lib/domain/istio.ts'
import { loadManifest } from '../lib/kube/manifests.ts'
import type { Check, Facts, KubeObject, PlanItem, Step, StepContext, StepIO } from '../lib/types.ts'
import { allowedCaller, bypassProbeSpecs, managerPodIp } from '../lib/verify/bypasses.ts'
import { gatewayHealthUrl, gatewayRequestCheck } from '../lib/verify/gateway-requests.ts'
import { formatMatrix, probeCheck, type ProbeResult, type ProbeSpec, runProbes } from '../lib/verify/probes.ts'

const MANAGER_POLICY = 'manager-allow-scheduler-or-chrome'
const GATEWAY_POLICY = 'gthulhu-gateway-allow-chrome-only'
const GATEWAY_LISTENER_PORT = 80

/** Who may call the manager: the configured principals, plus the gateway when ingress passes the waypoint. */
export function allowedPrincipals(config: Config, facts: Facts): string[] {
  const base = managerPrincipals(config, workloads(config, facts).scheduler.serviceAccount)
  return [...new Set([...base, ...(config.ingressViaWaypoint ? [gatewayPrincipal(config)] : [])])]
}

/** The guide's two AuthorizationPolicies with this run's namespace, Service, identities, gateway and User-Agents. */
export function desiredAuthorizationPolicies(config: Config, facts: Facts): KubeObject[] {
  assertValidUserAgents(config.allowedUserAgents)
  const service = managerService(config, facts)
  const manager = loadManifest('authorization-policies.yaml', 'AuthorizationPolicy', MANAGER_POLICY)
  manager.metadata.namespace = config.namespace
  manager.metadata.labels = { ...manager.metadata.labels, ...MANAGED_BY }
  manager.spec.targetRefs = [{ group: '', kind: 'Service', name: service.name }]
  manager.spec.rules[0].from = [{ source: { principals: allowedPrincipals(config, facts) } }]
  manager.spec.rules[0].to = [{ operation: { ports: [String(service.port)] } }]
  const gateway = loadManifest('authorization-policies.yaml', 'AuthorizationPolicy', GATEWAY_POLICY)
  gateway.metadata.namespace = config.namespace
  gateway.metadata.labels = { ...gateway.metadata.labels, ...MANAGED_BY }
  gateway.spec.selector = { matchLabels: { [GATEWAY_NAME_LABEL]: config.gatewayName } }
  gateway.spec.rules[0].to = [{ operation: { ports: [String(GATEWAY_LISTENER_PORT)] } }]
  gateway.spec.rules[0].when[0].values = [...config.allowedUserAgents]
  return [manager, gateway]
}

const ingressMode = (viaWaypoint: boolean, gatewayName: string) =>
  viaWaypoint
    ? `ingress passes the manager's waypoint (Service labelled ${INGRESS_USE_WAYPOINT}=true): the manager policy applies to browser traffic too, and admits the gateway's identity (${gatewayName}-istio)`
    : `ingress skips the manager's waypoint: browser traffic is filtered by the gateway's User-Agent policy only; the manager policy governs in-mesh callers`

function l7Hint(ctx: StepContext, result: ProbeResult, principal: string): string {
  const { namespace, waypointName } = ctx.config
  const observed = result.observed
  if (result.spec.expect.kind === 'status' && result.spec.expect.status === 200) {
    if (observed.kind === 'status' && observed.status === 403) {
      return `the manager's ALLOW policy rejected ${principal}: an ALLOW policy denies every request none of its rules match, so a policy whose principals or port do not cover this identity locks it out. Compare with: kubectl get authorizationpolicy ${MANAGER_POLICY} -n ${namespace} -o yaml (principals, ports), then run l7-policies again`
    }
    return `the request did not get an answer from the manager (${observed.kind}); check the waypoint ${waypointName} pods and the manager pods in ${namespace}`
  }
  if (observed.kind === 'status' && observed.status === 200) {
    return `the manager answered an identity the policy does not list: a policy that targets a Service is enforced only by a bound waypoint — check that namespace ${namespace} has istio.io/use-waypoint=${waypointName} (waypoint step) and that ${MANAGER_POLICY} reports WaypointAccepted=True`
  }
  return `expected the waypoint's 403 (RBAC: access denied); a different failure (${observed.kind}) proves nothing about the policy`
}

/** The policies as planned, the waypoint's acceptance, the gateway's pods and the ingress path label. */
async function policyStateChecks(ctx: StepContext): Promise<Check[]> {
  const { config, facts } = ctx
  const ns = config.namespace
  const desired = desiredAuthorizationPolicies(config, facts)
  const principals = allowedPrincipals(config, facts)
  const service = managerService(config, facts)
  const [live, svc, gatewayPods] = await Promise.all([
    Promise.all(
      desired.map((o) => ctx.cluster.findJson<KubeObject>(['get', POLICY_RESOURCE, o.metadata.name, '-n', ns])),
    ),
    ctx.cluster.findJson<KubeObject>(['get', 'service', service.name, '-n', ns]),
    ctx.cluster.list('pods', { namespace: ns, selector: `${GATEWAY_NAME_LABEL}=${config.gatewayName}` }),
  ])
  const checks: Check[] = desired.map((want, i) => ({
    name: `AuthorizationPolicy ${ns}/${want.metadata.name} applied as planned`,
    expected:
      want.metadata.name === MANAGER_POLICY
        ? `ALLOW ${principals.join(', ')} on ${service.name}:${service.port}`
        : `ALLOW User-Agent ${config.allowedUserAgents.join(' | ')} on port ${GATEWAY_LISTENER_PORT}`,
    observed: live[i]
      ? appliedAsPlanned(want, live[i])
        ? 'as planned'
        : `differs: ${JSON.stringify(live[i]!.spec?.rules)}`
      : 'not found',
    ok: appliedAsPlanned(want, live[i]),
    hint: 'someone changed or deleted it; run the l7-policies step again',
  }))
  const accepted = await policyCondition(ctx, 'WaypointAccepted', live[0])
  checks.push({
    name: `${MANAGER_POLICY} accepted by the waypoint`,
    expected: 'WaypointAccepted=True',
    observed: accepted
      ? `WaypointAccepted=${accepted.status}${accepted.message ? ` (${accepted.message})` : ''}`
      : 'no WaypointAccepted condition',
    ok: accepted?.status === 'True',
    needs: 'waypoint',
    hint: `a policy that targets a Service does nothing without a bound waypoint: check the waypoint step (istio.io/use-waypoint=${config.waypointName} on namespace ${ns})`,
  })
  const ztunnelNote = condition(live[1], 'ZtunnelAccepted')
  if (ztunnelNote?.reason === 'UnsupportedValue') {
    // istiod translates every selector policy for ztunnel and warns that it cannot match headers; the gateway's pods are not captured by ztunnel.
    checks.push({
      name: `${GATEWAY_POLICY}: istiod's ZtunnelAccepted warning`,
      expected:
        'harmless: the gateway pods are outside ztunnel (istio.io/dataplane-mode=none); their own Envoy enforces the User-Agent rule',
      observed: `ZtunnelAccepted=${ztunnelNote.status} (${ztunnelNote.reason})`,
      ok: true,
      advisory: true,
    })
  }
  const runningGateway = gatewayPods.filter((p) => p.status?.phase === 'Running')
  checks.push({
    name: `${GATEWAY_POLICY} selects the gateway's pods`,
    expected: `at least one running pod labelled ${GATEWAY_NAME_LABEL}=${config.gatewayName}`,
    observed: runningGateway.length ? runningGateway.map((p) => p.metadata.name).join(', ') : 'none',
    ok: runningGateway.length > 0,
    needs: 'gateway',
    hint: 'the gateway step creates the Gateway whose pods this policy selects',
  })
  const labelled = svc?.metadata.labels?.[INGRESS_USE_WAYPOINT] === 'true'
  checks.push({
    name: `ingress path to the manager (${INGRESS_USE_WAYPOINT} on Service ${service.name})`,
    expected: config.ingressViaWaypoint ? 'true: ingress passes the waypoint' : 'absent: ingress skips the waypoint',
    observed: labelled ? 'true: ingress passes the waypoint' : 'absent: ingress skips the waypoint',
    ok: labelled === config.ingressViaWaypoint,
  })
  return checks
}

/**
 * In-cluster probes: the allowed identity and the namespace's default ServiceAccount through the waypoint, and
 * the two paths that never reach the waypoint (outside the mesh, the manager's pod IP), which only the identity
 * policies refuse.
 */
async function inMeshChecks(ctx: StepContext, io: StepIO): Promise<Check[]> {
  const { config, facts } = ctx
  const ns = config.namespace
  const principals = allowedPrincipals(config, facts)
  const service = managerService(config, facts)
  const [allowed, podIp] = await Promise.all([allowedCaller(ctx, principals), managerPodIp(ctx)])
  const checks: Check[] = []
  const url = `http://${service.name}.${ns}.svc:${service.port}/health`
  const outsiderPrincipal = `cluster.local/ns/${ns}/sa/default`
  // Principals match like other Istio strings (exact, prefix*, *suffix, *).
  const outsiderAllowed = principals.some((p) => userAgentMatches(p, outsiderPrincipal))
  const specs: ProbeSpec[] = []
  if (allowed) {
    specs.push({
      role: 'allowed-manager',
      source: { name: `ServiceAccount ${allowed.sa}`, labels: {}, serviceAccount: allowed.sa },
      destination: `manager Service :${service.port}`,
      request: { kind: 'http', url },
      expect: { kind: 'status', status: 200 },
    })
  } else {
    checks.push({
      name: 'a probe as an allowed identity',
      expected: `a ServiceAccount in ${ns} named by --manager-principals`,
      observed: `none of ${principals.join(', ')} is an existing ServiceAccount in ${ns}`,
      ok: false,
      advisory: true,
      hint: 'the allowed identity could not be impersonated, so only the deny side is proven',
    })
  }
  specs.push({
    role: 'other-manager',
    source: { name: 'ServiceAccount default', labels: {}, serviceAccount: 'default' },
    destination: `manager Service :${service.port}`,
    request: { kind: 'http', url },
    expect: { kind: 'status', status: outsiderAllowed ? 200 : 403 },
  })
  const bypasses = bypassProbeSpecs(config, facts, podIp).filter((b) => b.role.endsWith('-manager'))
  const results = await runProbes(ctx, io, [...specs, ...bypasses])
  io.log(`Who reaches the manager (each cell: expected / observed):\n${formatMatrix(results)}`)
  for (const r of results) {
    if (bypasses.includes(r.spec)) {
      // Only the identity policies close these paths; without them (left out, or not run yet) an open one is a warning.
      const enforced = config.identityPolicies && facts.identityPolicies === true
      const check = probeCheck(r, r.ok ? undefined : bypassHint(config, enforced))
      checks.push(enforced ? check : { ...check, advisory: true })
    } else
      checks.push({
        ...probeCheck(
          r,
          r.ok ? undefined : l7Hint(ctx, r, r.spec.role === 'allowed-manager' ? allowed!.principal : outsiderPrincipal),
        ),
        // These callers address the manager Service: the waypoint decides, so without it they prove nothing.
        needs: 'waypoint',
      })
  }
  return checks
}

const bypassHint = (config: Config, enforced: boolean) =>
  enforced
    ? `this caller never reaches the waypoint, so only the identity policy on the manager's pods can refuse it: check the identity-policies step (kubectl get authorizationpolicy gthulhu-manager-allow-waypoint-and-gateway -n ${config.namespace})`
    : config.identityPolicies
      ? 'the waypoint bypass is open: the identity-policies step has not run in this context, and the manager policy only governs in-mesh callers that address the manager Service'
      : 'the waypoint bypass is open because the identity policies were left out (--no-identity-policies): the manager policy only governs in-mesh callers that address the manager Service'

/** From outside, through the gateway: an allowed browser gets the manager's /health, curl's own User-Agent does not. */
async function gatewayChecks(ctx: StepContext): Promise<Check[]> {
  const { config, facts } = ctx
  const ns = config.namespace
  const url = gatewayHealthUrl(facts)
  if (!url)
    return [
      {
        name: 'gateway checks',
        expected: 'the gateway URL found by the gateway step',
        observed: 'no gateway facts',
        ok: false,
        needs: 'gateway',
        hint: 'run the gateway step first',
      },
    ]
  const browser = sampleUserAgent(config.allowedUserAgents[0])
  const curlAgent = curlDefaultUserAgent(config.httpProbeImage)
  const curlExpected = admitsUserAgent(config.allowedUserAgents, curlAgent) ? 200 : 403
  return Promise.all([
    gatewayRequestCheck(
      ctx,
      url,
      browser,
      `an allowed User-Agent (${browser})`,
      200,
      config.ingressViaWaypoint
        ? `ingress passes the manager's waypoint, so ${MANAGER_POLICY} must admit the gateway's identity ${gatewayPrincipal(config)} (it is added with --ingress-via-waypoint; run l7-policies again)`
        : `the gateway policy ${GATEWAY_POLICY} should admit this User-Agent; check its values (kubectl get authorizationpolicy ${GATEWAY_POLICY} -n ${ns} -o yaml)`,
    ),
    gatewayRequestCheck(
      ctx,
      url,
      curlAgent,
      `curl's default User-Agent (${curlAgent})`,
      curlExpected,
      curlExpected === 403
        ? `the gateway admitted a User-Agent its policy does not list: check that ${GATEWAY_POLICY} selects the gateway pods (${GATEWAY_NAME_LABEL}=${config.gatewayName})`
        : 'an allowed pattern also admits curl',
    ),
  ])
}

export const l7PoliciesStep: Step = {
  id: 'l7-policies',
  title: 'L7 AuthorizationPolicies: allowed identities to the manager, allowed browsers through the gateway',
  why:
    "Two Istio AuthorizationPolicies from the guide. The first targets the manager Service and is enforced by the namespace's waypoint: of the in-mesh callers that address the manager Service, only the listed identities " +
    "(by default the scheduler's ServiceAccount) may call it on 8080; the others get 403. The waypoint sees nothing else: a caller outside the mesh or one that uses the manager's pod IP goes straight to the manager, " +
    "and only the identity policies (previous step) refuse those; verification tries both paths. The second sits on the ingress gateway's own proxy and admits " +
    "only requests whose User-Agent matches an allowed value. The guide's default admits Chrome (and other Chromium browsers) on macOS only — not Safari, Firefox, nor any browser on Windows, Linux or phones. " +
    'A User-Agent is chosen by the client: anyone can send Chrome\'s, so it is a filter against casual access, not authentication. Istio compares header values exactly, by prefix ("abc*"), by suffix ("*abc") or for presence ("*"); ' +
    'a value with a "*" anywhere else is refused before anything is applied. Ingress traffic skips the manager\'s waypoint unless the manager Service is labelled istio.io/ingress-use-waypoint=true ' +
    "(--ingress-via-waypoint, which also admits the gateway's identity in the manager policy).",
  requires: ['preflight', 'waypoint', 'gateway'],
  settings: [
    'namespace',
    'release',
    'gatewayName',
    'waypointName',
    'managerPrincipals',
    'allowedUserAgents',
    'ingressViaWaypoint',
    'identityPolicies',
  ],
  plan: ({ config, facts }) => {
    const service = managerService(config, facts)
    const items: PlanItem[] = desiredAuthorizationPolicies(config, facts).map((object) => ({
      kind: 'manifest',
      object,
      apply: 'server-side',
      why:
        object.metadata.name === MANAGER_POLICY
          ? `only ${allowedPrincipals(config, facts).join(', ')} may call the manager`
          : `admits ${config.allowedUserAgents.map(describeUserAgent).join('; ')}`,
    }))
    items.push({
      kind: 'command',
      argv: [
        'kubectl',
        'label',
        'service',
        service.name,
        '-n',
        config.namespace,
        config.ingressViaWaypoint ? `${INGRESS_USE_WAYPOINT}=true` : `${INGRESS_USE_WAYPOINT}-`,
        ...(config.ingressViaWaypoint ? ['--overwrite'] : []),
      ],
      why: ingressMode(config.ingressViaWaypoint, config.gatewayName),
    })
    items.push({
      kind: 'note',
      text: `verify: curl probe pods (${config.httpProbeImage}) as the allowed ServiceAccount (expect 200) and as "default" (expect 403); the NodePort with an allowed and with curl's default User-Agent`,
    })
    return items
  },
  async run(ctx, io) {
    // Rejects unusable User-Agent values (UsageError) before any change.
    const desired = desiredAuthorizationPolicies(ctx.config, ctx.facts)
    const applied = await applyChanged(ctx, io, desired, POLICY_RESOURCE)
    const service = managerService(ctx.config, ctx.facts)
    const svc = await ctx.cluster.findJson<KubeObject>(['get', 'service', service.name, '-n', ctx.config.namespace])
    const labelled = svc?.metadata.labels?.[INGRESS_USE_WAYPOINT] === 'true'
    if (ctx.config.ingressViaWaypoint && !labelled) {
      await ctx.cluster.kubectl([
        'label',
        'service',
        service.name,
        '-n',
        ctx.config.namespace,
        `${INGRESS_USE_WAYPOINT}=true`,
        '--overwrite',
      ])
      applied.push(`label ${INGRESS_USE_WAYPOINT}=true on Service ${service.name}`)
    } else if (!ctx.config.ingressViaWaypoint && svc?.metadata.labels?.[INGRESS_USE_WAYPOINT] !== undefined) {
      await ctx.cluster.kubectl([
        'label',
        'service',
        service.name,
        '-n',
        ctx.config.namespace,
        `${INGRESS_USE_WAYPOINT}-`,
      ])
      applied.push(`removed label ${INGRESS_USE_WAYPOINT} from Service ${service.name}`)
    }
    io.log(ingressMode(ctx.config.ingressViaWaypoint, ctx.config.gatewayName))
    if (applied.length === 0)
      return { unchanged: 'both AuthorizationPolicies and the Service label are already as planned' }
    io.log(`applied: ${applied.join('; ')}`)
  },
  async verify(ctx, io) {
    const [state, inMesh, gateway] = await Promise.all([
      policyStateChecks(ctx),
      inMeshChecks(ctx, io),
      gatewayChecks(ctx),
    ])
    return [...state, ...inMesh, ...gateway]
  },
  undo: {
    objects: ({ config, facts }) =>
      desiredAuthorizationPolicies(config, facts).map((p) => ({
        resource: POLICY_RESOURCE,
        namespace: config.namespace,
        name: p.metadata.name,
      })),
    labels: ({ config, facts }) => [
      {
        resource: 'service',
        namespace: config.namespace,
        name: managerService(config, facts).name,
        key: INGRESS_USE_WAYPOINT,
      },
    ],
  },
}
