// L7 rules: the manager answers only the allowed identities (enforced by the namespace's waypoint, for in-mesh
// callers that address the manager Service), and the gateway admits only the allowed User-Agents (enforced by the
// gateway's own Envoy). Proven from inside the cluster with curl probes running as the allowed and as another
// ServiceAccount, by the paths that skip the waypoint, and from outside through the gateway.
import { text } from '../lib/config/text.ts'
import { managerPrincipals, type Config } from '../lib/config/options.ts'
import { assertValidUserAgents, describeUserAgent } from '../lib/config/user-agents.ts'
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
import type { Check, Facts, KubeObject, PlanItem, Step, StepContext } from '../lib/types.ts'
import { tryPaths } from '../lib/verify/paths.ts'

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
    name: text.checks.policyApplied('AuthorizationPolicy', `${ns}/${want.metadata.name}`),
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
    name: text.checks.waypointAccepted(MANAGER_POLICY),
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
  const labelled = svc?.metadata.labels?.[INGRESS_USE_WAYPOINT] === 'true'
  checks.push({
    name: text.checks.ingressPath(INGRESS_USE_WAYPOINT, service.name),
    expected: config.ingressViaWaypoint ? 'true: ingress passes the waypoint' : 'absent: ingress skips the waypoint',
    observed: labelled ? 'true: ingress passes the waypoint' : 'absent: ingress skips the waypoint',
    ok: labelled === config.ingressViaWaypoint,
  })
  return checks
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
    if (applied.length === 0) return { unchanged: text.notes.l7Applied }
    io.log(`applied: ${applied.join('; ')}`)
  },
  async verify(ctx, io) {
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
