// L7 rules: the manager answers only the allowed identities (enforced by the namespace's waypoint, for in-mesh
// callers that address the manager Service), and the gateway admits only the allowed User-Agents (enforced by the
// gateway's own Envoy). Proven from inside the cluster with curl probes running as the allowed and as another
// ServiceAccount, by the paths that skip the waypoint, and from outside through the gateway.
import { text } from '../lib/config/text.ts'
import { managerPrincipals, type Config } from '../lib/config/options.ts'
import { assertValidUserAgents, describeUserAgent } from '../lib/config/user-agents.ts'
import { applyAccess, applyChanged, MANAGED_BY } from '../lib/domain/apply.ts'
import { compareWithPlan, comparisonAccess, comparisonCheck } from '../lib/domain/drift.ts'
import { kubectlAccess } from '../lib/kube/access.ts'
import { pathsTriedAt } from '../lib/verify/threat-model.ts'
import { condition } from '../lib/domain/gateway-api.ts'
import { managerService, workloads } from '../lib/domain/gthulhu.ts'
import {
  GATEWAY_NAME_LABEL,
  gatewayPrincipal,
  INGRESS_USE_WAYPOINT,
  POLICY_RESOURCE,
  policyCondition,
  policyConditionAccess,
  principalOf,
  refreshTrustDomain,
  trustDomainAccess,
  trustDomainOf,
  WAYPOINT_POLICY,
} from '../lib/domain/istio.ts'
import { loadManifest } from '../lib/kube/manifests.ts'
import type { Check, Facts, KubeObject, PlanItem, Step, StepContext } from '../lib/types.ts'
import { pathsAccess, tryPaths } from '../lib/verify/paths.ts'
import { foreignPolicyAccess, foreignPolicyChecks } from '../lib/verify/widening.ts'

const MANAGER_POLICY = 'manager-allow-scheduler-or-chrome'
const GATEWAY_POLICY = 'gthulhu-gateway-allow-chrome-only'
const GATEWAY_LISTENER_PORT = 80

/** Who may call the manager: the configured principals, plus the gateway when ingress passes the waypoint. */
export function allowedPrincipals(config: Config, facts: Facts): string[] {
  const base = managerPrincipals(config, workloads(config, facts).scheduler.serviceAccount, trustDomainOf(facts))
  return [...new Set([...base, ...(config.ingressViaWaypoint ? [gatewayPrincipal(config, facts)] : [])])]
}

/**
 * Who may pass the waypoint at all, whatever Service they address: the manager's callers, and — when every
 * Service of the namespace is bound to it — the manager itself, whose API-server traffic then passes the
 * waypoint in namespace default. ALLOW policies add up, so this never admits more to the manager than its own policy.
 */
export function waypointPrincipals(config: Config, facts: Facts): string[] {
  const manager = principalOf(trustDomainOf(facts), config.namespace, workloads(config, facts).manager.serviceAccount)
  return [
    ...new Set([
      ...managerPrincipals(config, workloads(config, facts).scheduler.serviceAccount, trustDomainOf(facts)),
      ...(config.waypointBinding === 'namespace' ? [manager] : []),
    ]),
  ]
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
  const waypoint = loadManifest('authorization-policies.yaml', 'AuthorizationPolicy', WAYPOINT_POLICY)
  waypoint.metadata.namespace = config.namespace
  waypoint.metadata.labels = { ...waypoint.metadata.labels, ...MANAGED_BY }
  waypoint.spec.targetRefs = [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: config.waypointName }]
  waypoint.spec.rules[0].from = [{ source: { principals: waypointPrincipals(config, facts) } }]
  return [manager, gateway, waypoint]
}

/**
 * Whether ingress passes the manager's waypoint: the Service's istio.io/ingress-use-waypoint decides when it
 * carries one, else the namespace's (istio/istio 1.29.1 pilot/pkg/serviceregistry/kube/controller/ambient/
 * sidecar_interop.go ingressUseWaypoint; "true" in any case).
 */
export function ingressPassesWaypoint(
  serviceLabels: Record<string, string> | undefined,
  namespaceLabels: Record<string, string> | undefined,
): boolean {
  const onService = serviceLabels?.[INGRESS_USE_WAYPOINT]
  if (onService !== undefined) return onService.toLowerCase() === 'true'
  return namespaceLabels?.[INGRESS_USE_WAYPOINT]?.toLowerCase() === 'true'
}

/**
 * The value the manager Service's label needs: "true" to send ingress through the waypoint; without it, nothing —
 * unless the namespace says "true", which only an explicit "false" on the Service overrides.
 */
const serviceLabelFor = (config: Config, namespaceLabels: Record<string, string> | undefined) =>
  config.ingressViaWaypoint ? 'true' : ingressPassesWaypoint(undefined, namespaceLabels) ? 'false' : undefined

const ingressMode = (viaWaypoint: boolean, gatewayName: string) =>
  text.progress.ingressMode(viaWaypoint, INGRESS_USE_WAYPOINT, gatewayName)

const describeIngress = (passes: boolean) => (passes ? 'ingress passes the waypoint' : 'ingress skips the waypoint')

/** The manager Service's and its namespace's labels (both decide the ingress path). */
async function readIngressLabels(ctx: StepContext) {
  const service = managerService(ctx.config, ctx.facts)
  const [svc, ns] = await Promise.all([
    ctx.cluster.findJson<KubeObject>(['get', 'service', service.name, '-n', ctx.config.namespace]),
    ctx.cluster.findJson<KubeObject>(['get', 'namespace', ctx.config.namespace]),
  ])
  return { service: svc?.metadata.labels ?? {}, namespace: ns?.metadata.labels ?? {} }
}

/** The policies as planned, the waypoint's acceptance, the gateway's pods and the ingress path label. */
async function policyStateChecks(ctx: StepContext): Promise<Check[]> {
  const { config, facts } = ctx
  const ns = config.namespace
  const desired = desiredAuthorizationPolicies(config, facts)
  const principals = allowedPrincipals(config, facts)
  const service = managerService(config, facts)
  const [comparisons, labels, gatewayPods] = await Promise.all([
    compareWithPlan(ctx.cluster, desired, () => POLICY_RESOURCE),
    readIngressLabels(ctx),
    ctx.cluster.list('pods', { namespace: ns, selector: `${GATEWAY_NAME_LABEL}=${config.gatewayName}` }),
  ])
  const live = comparisons.map((c) => c.live)
  const checks: Check[] = desired.map((want, i) => ({
    ...comparisonCheck(
      comparisons[i],
      want.metadata.name === MANAGER_POLICY
        ? `ALLOW ${principals.join(', ')} on ${service.name}:${service.port}`
        : want.metadata.name === WAYPOINT_POLICY
          ? `ALLOW ${waypointPrincipals(config, facts).join(', ')} through waypoint ${config.waypointName}, whatever Service`
          : `ALLOW User-Agent ${config.allowedUserAgents.join(' | ')} on port ${GATEWAY_LISTENER_PORT}`,
      'someone changed or deleted it; run the l7-policies step again',
    ),
    voids: [
      want.metadata.name === GATEWAY_POLICY
        ? { layer: 'gateway L7', target: 'gateway' }
        : { layer: 'waypoint L7', target: 'manager' },
    ],
  }))
  checks.push(
    ...(await foreignPolicyChecks(ctx, [
      {
        title: text.checks.managerServiceThroughWaypoint(service.name),
        target: { enforcer: 'waypoint', namespace: ns, service: service.name, waypoint: config.waypointName },
        admitted: { principals },
        own: desired.map((p) => p.metadata.name),
        layer: 'waypoint L7',
        threat: 'manager',
      },
      {
        title: text.checks.ingressGateway(config.gatewayName),
        target: {
          enforcer: 'gateway',
          namespace: ns,
          gateway: config.gatewayName,
          podLabels: [{ [GATEWAY_NAME_LABEL]: config.gatewayName }, ...gatewayPods.map((p) => p.metadata.labels ?? {})],
        },
        admitted: { userAgents: config.allowedUserAgents },
        own: desired.map((p) => p.metadata.name),
        layer: 'gateway L7',
        threat: 'gateway',
      },
    ])),
  )
  const [accepted, waypointAccepted] = await Promise.all([
    policyCondition(ctx, 'WaypointAccepted', live[0]),
    policyCondition(ctx, 'WaypointAccepted', live[2]),
  ])
  const binding = config.waypointBinding === 'namespace' ? `namespace ${ns}` : `Service ${service.name}`
  checks.push(
    {
      name: text.checks.waypointAccepted(MANAGER_POLICY),
      expected: 'WaypointAccepted=True',
      observed: accepted
        ? `WaypointAccepted=${accepted.status}${accepted.message ? ` (${accepted.message})` : ''}`
        : 'no WaypointAccepted condition',
      ok: accepted?.status === 'True',
      needs: 'waypoint',
      hint: `a policy that targets a Service does nothing without a bound waypoint: check the waypoint step (istio.io/use-waypoint=${config.waypointName} on ${binding})`,
    },
    {
      name: text.checks.waypointAttached(WAYPOINT_POLICY, config.waypointName),
      expected: 'WaypointAccepted=True',
      observed: waypointAccepted
        ? `WaypointAccepted=${waypointAccepted.status}${waypointAccepted.message ? ` (${waypointAccepted.message})` : ''}`
        : 'no WaypointAccepted condition',
      ok: waypointAccepted?.status === 'True',
      needs: 'waypoint',
      hint: `the waypoint Gateway ${ns}/${config.waypointName} must exist (waypoint step); without this policy a Service someone else binds to the waypoint reaches the manager with the waypoint's identity`,
    },
  )
  const ztunnelNote = condition(live[1], 'ZtunnelAccepted')
  if (ztunnelNote?.reason === 'UnsupportedValue') {
    // istiod translates every selector policy for ztunnel and warns that it cannot match headers; the gateway's pods are not captured by ztunnel.
    checks.push({
      name: text.checks.ztunnelWarning(GATEWAY_POLICY),
      expected:
        'harmless: the gateway pods are outside ztunnel (istio.io/dataplane-mode=none); their own Envoy enforces the User-Agent rule',
      observed: `ZtunnelAccepted=${ztunnelNote.status} (${ztunnelNote.reason})`,
      ok: true,
      advisory: true,
    })
  }
  const runningGateway = gatewayPods.filter((p) => p.status?.phase === 'Running')
  checks.push({
    name: text.checks.selectsGatewayPods(GATEWAY_POLICY),
    expected: `at least one running pod labelled ${GATEWAY_NAME_LABEL}=${config.gatewayName}`,
    observed: runningGateway.length ? runningGateway.map((p) => p.metadata.name).join(', ') : 'none',
    ok: runningGateway.length > 0,
    needs: 'gateway',
    hint: 'the gateway step creates the Gateway whose pods this policy selects',
  })
  const passes = ingressPassesWaypoint(labels.service, labels.namespace)
  const shown = (where: Record<string, string>) => where[INGRESS_USE_WAYPOINT] ?? '(not set)'
  checks.push({
    name: text.checks.ingressPath(INGRESS_USE_WAYPOINT, service.name, ns),
    expected: describeIngress(config.ingressViaWaypoint),
    observed: `${describeIngress(passes)} (Service: ${shown(labels.service)}, namespace: ${shown(labels.namespace)})`,
    ok: passes === config.ingressViaWaypoint,
    hint: config.ingressViaWaypoint
      ? 'run l7-policies again: it labels the Service'
      : `the Service's label decides when it has one, else the namespace's: run l7-policies again (it sets ${INGRESS_USE_WAYPOINT}=false on the Service when the namespace says true)`,
  })
  return checks
}

export const l7PoliciesStep: Step = {
  id: 'l7-policies',
  title: 'L7 AuthorizationPolicies: allowed identities to the manager, allowed browsers through the gateway',
  why:
    'Two Istio AuthorizationPolicies from the guide. The first targets the manager Service and is enforced by the waypoint: of the in-mesh callers that address the manager Service, only the listed identities ' +
    "(by default the scheduler's ServiceAccount) may call it on 8080; the others get 403. The waypoint sees nothing else: a caller outside the mesh or one that uses the manager's pod IP goes straight to the manager, " +
    "and only the identity policies (previous step) refuse those; verification tries both paths. The second sits on the ingress gateway's own proxy and admits " +
    "only requests whose User-Agent matches an allowed value. The guide's default admits Chrome (and other Chromium browsers) on macOS only — not Safari, Firefox, nor any browser on Windows, Linux or phones. " +
    'A User-Agent is chosen by the client: anyone can send Chrome\'s, so it is a filter against casual access, not authentication. Istio compares header values exactly, by prefix ("abc*"), by suffix ("*abc") or for presence ("*"); ' +
    'a value with a "*" anywhere else is refused before anything is applied. ' +
    "A third policy, the runbook's own, is attached to the waypoint itself (targetRefs kind Gateway): a Service someone else creates for the manager's pods and binds to the waypoint has no policy of its own, " +
    "and the waypoint would forward it with its own identity, which the manager's identity policy admits; attached to the waypoint, the policy admits only the manager's callers whatever Service they address " +
    '(ALLOW policies add up, so it admits nobody to the manager that its own policy does not). Verification creates such a Service and calls it with another identity. ' +
    "Ingress traffic skips the manager's waypoint unless istio.io/ingress-use-waypoint=true is on the manager Service, or on its namespace while the Service carries no such label " +
    "(--ingress-via-waypoint, which also admits the gateway's identity in the manager policy; without it, a namespace saying true is overridden with false on the Service).",
  requires: ['preflight', 'waypoint', 'gateway'],
  settings: [
    'namespace',
    'release',
    'gatewayName',
    'waypointName',
    'waypointBinding',
    'managerPrincipals',
    'allowedUserAgents',
    'ingressViaWaypoint',
    'identityPolicies',
  ],
  access: (config) => {
    const who = 'l7-policies'
    const ns = config.namespace
    const desired = desiredAuthorizationPolicies(config, {})
    const policies = { namespace: ns, names: desired.map((p) => p.metadata.name) }
    const trustDomain = trustDomainAccess(`${who}: the mesh's trust domain, which the principals carry`)
    // The manager Service's name comes from preflight (the chart's fullname): not known beforehand.
    const labels = [
      ...kubectlAccess.get(
        'services',
        { namespace: ns },
        `${who}: the manager Service's ${INGRESS_USE_WAYPOINT} label`,
      ),
      ...kubectlAccess.get('namespaces', { names: [ns] }, `${who}: the namespace's ${INGRESS_USE_WAYPOINT} label`),
    ]
    return {
      run: [
        ...trustDomain,
        ...applyAccess(POLICY_RESOURCE, policies, `${who}: the L7 policies`),
        ...labels,
        ...kubectlAccess.patch(
          'services',
          { namespace: ns, when: "when the manager Service's label must change" },
          `${who}: sets or removes ${INGRESS_USE_WAYPOINT} on the manager Service`,
        ),
      ],
      verify: [
        ...trustDomain,
        ...comparisonAccess(POLICY_RESOURCE, policies, `${who}: the L7 policies`),
        ...labels,
        ...kubectlAccess.list('pods', { namespace: ns }, `${who}: the gateway's pods`),
        ...foreignPolicyAccess(config, `${who}: other AuthorizationPolicies that could widen them`),
        ...policyConditionAccess(
          ns,
          desired.filter((p) => p.metadata.name !== GATEWAY_POLICY).map((p) => p.metadata.name),
          `${who}: until the waypoint has taken them up`,
        ),
        ...pathsAccess(config, pathsTriedAt('l7-policies'), who),
      ],
    }
  },
  plan: ({ config, facts }) => {
    const service = managerService(config, facts)
    const items: PlanItem[] = desiredAuthorizationPolicies(config, facts).map((object) => ({
      kind: 'manifest',
      object,
      apply: 'server-side',
      why:
        object.metadata.name === MANAGER_POLICY
          ? text.plan.mayCallManager(allowedPrincipals(config, facts).join(', '))
          : object.metadata.name === WAYPOINT_POLICY
            ? text.plan.waypointPolicy(config.waypointName, waypointPrincipals(config, facts).join(', '))
            : text.plan.admitsAgents(config.allowedUserAgents.map(describeUserAgent).join('; ')),
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
      why: `${ingressMode(config.ingressViaWaypoint, config.gatewayName)}${config.ingressViaWaypoint ? '' : text.plan.namespaceDecides(INGRESS_USE_WAYPOINT, config.namespace)}`,
    })
    items.push({
      kind: 'note',
      text: text.plan.verifyL7(config.httpProbeImage),
    })
    return items
  },
  async run(ctx, io) {
    // Principals are written in the mesh's trust domain: read it from the live mesh first.
    await refreshTrustDomain(ctx)
    // Rejects unusable User-Agent values (UsageError) before any change.
    const desired = desiredAuthorizationPolicies(ctx.config, ctx.facts)
    const service = managerService(ctx.config, ctx.facts)
    // The labels are read alongside the policies' apply, which does not touch them.
    const [applied, labels] = await Promise.all([
      applyChanged(ctx, io, desired, POLICY_RESOURCE),
      readIngressLabels(ctx),
    ])
    const want = serviceLabelFor(ctx.config, labels.namespace)
    const have = labels.service[INGRESS_USE_WAYPOINT]
    if (want !== undefined && have !== want) {
      await ctx.cluster.kubectl([
        'label',
        'service',
        service.name,
        '-n',
        ctx.config.namespace,
        `${INGRESS_USE_WAYPOINT}=${want}`,
        '--overwrite',
      ])
      applied.push(
        text.progress.serviceLabelSet(
          `${INGRESS_USE_WAYPOINT}=${want}`,
          service.name,
          want === 'false' ? ctx.config.namespace : undefined,
        ),
      )
    } else if (want === undefined && have !== undefined) {
      await ctx.cluster.kubectl([
        'label',
        'service',
        service.name,
        '-n',
        ctx.config.namespace,
        `${INGRESS_USE_WAYPOINT}-`,
      ])
      applied.push(text.progress.serviceLabelRemoved(INGRESS_USE_WAYPOINT, service.name))
    }
    io.log(ingressMode(ctx.config.ingressViaWaypoint, ctx.config.gatewayName))
    if (applied.length === 0) return { unchanged: text.notes.l7Applied }
    io.log(text.progress.appliedChanges(applied))
  },
  async verify(ctx, io) {
    await refreshTrustDomain(ctx)
    const [state, paths] = await Promise.all([policyStateChecks(ctx), tryPaths(ctx, io, 'l7-policies')])
    return [...state, ...paths]
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
