// Expose the Gthulhu manager through an Istio Gateway and HTTPRoute (the guide's gateway.yaml), then prove
// it from the operator's machine: conditions, the listener's NodePort, a node address, and GET /health.
import { text } from '../lib/config/text.ts'
import { StepFailure } from '../lib/config/errors.ts'
import type { Cluster } from '../lib/kube/cluster.ts'
import {
  SERVICE_TYPE_ANNOTATION,
  condition,
  findNamed,
  HEALTH_PATH,
  gatewayServiceName,
  gatewayUrl,
  getNamed,
  getUntil,
  isCurrent,
  listenerNodePort,
  listenerPort,
  loadBalancerAddress,
  pickNodeAddress,
  requestBudget,
  routeParentStatus,
  showCondition,
  type Answer,
  type Condition,
  type NodeAddress,
} from '../lib/domain/gateway-api.ts'
import { workloads } from '../lib/domain/gthulhu.ts'
import { applyAccess, applyChanged } from '../lib/domain/apply.ts'
import { compareWithPlan, comparisonAccess, comparisonCheck } from '../lib/domain/drift.ts'
import { kubectlAccess } from '../lib/kube/access.ts'
import { readiness } from '../lib/kube/readiness.ts'
import { loadManifest } from '../lib/kube/manifests.ts'
import type { Config } from '../lib/config/options.ts'
import { assertValidManifests } from '../lib/kube/schema.ts'
import { sampleUserAgent } from '../lib/config/user-agents.ts'
import { untilChanged } from '../lib/kube/wait.ts'
import type { Check, Facts, KubeObject, Step, StepContext } from '../lib/types.ts'

const MANIFEST = 'gateway.yaml'
/** How long the GET /health check keeps retrying while the listener comes up. */
const HTTP_RETRY_MS = 20_000

/** The backend the route sends traffic to: the manager's Service as preflight found it. */
function managerBackend(config: Config, facts: Facts): { name: string; port: number } {
  const manager = workloads(config, facts).manager
  const service = manager.service
  if (!service) {
    throw new StepFailure(text.failures.noManagerService(`${manager.kind} ${manager.name}`, config.namespace))
  }
  return { name: service.name, port: service.port }
}

/**
 * The guide's Gateway and HTTPRoute with this run's names, namespace, backend and Service type, checked
 * against their schema (a UsageError lists every bad field before anything is applied).
 */
export function gatewayManifests(config: Config, facts: Facts): { gateway: KubeObject; route: KubeObject } {
  const gateway = loadManifest(MANIFEST, 'Gateway')
  gateway.metadata.name = config.gatewayName
  gateway.metadata.namespace = config.namespace
  if (config.gatewayServiceType === 'NodePort') {
    gateway.metadata.annotations = { ...gateway.metadata.annotations, [SERVICE_TYPE_ANNOTATION]: 'NodePort' }
  }
  const route = loadManifest(MANIFEST, 'HTTPRoute')
  route.metadata.name = config.routeName
  route.metadata.namespace = config.namespace
  route.spec.parentRefs = [{ name: config.gatewayName }]
  const backend = managerBackend(config, facts)
  route.spec.rules[0].backendRefs = [{ name: backend.name, port: backend.port }]
  assertValidManifests([gateway, route])
  return { gateway, route }
}

/** What kubectl gets each of the step's objects as. */
const resourceOf = (o: KubeObject) =>
  o.kind === 'Gateway' ? 'gateways.gateway.networking.k8s.io' : 'httproutes.gateway.networking.k8s.io'

/** istiod stamps its version on every Gateway it manages (deploymentcontroller.go, ControllerVersionAnnotation). */
const CONTROLLER_FIELDS = [['metadata', 'annotations', 'gateway.istio.io/controller-version']]

/** The User-Agent the health check sends: the l7-policies step may already admit only these. */
export const checkUserAgent = (config: Pick<Config, 'allowedUserAgents'>) =>
  sampleUserAgent(config.allowedUserAgents[0] ?? '*')

interface Observation {
  gateway?: KubeObject
  route?: KubeObject
  service?: KubeObject
  /** Istio's Envoy Deployment for the Gateway: the listener answers only once it is ready. */
  deployment?: KubeObject
}

const observedRefs = (config: Config) => [
  `gateways.gateway.networking.k8s.io/${config.gatewayName}`,
  `httproutes.gateway.networking.k8s.io/${config.routeName}`,
  `service/${gatewayServiceName(config)}`,
  `deployment/${gatewayServiceName(config)}`,
]

async function observe(cluster: Cluster, config: Config): Promise<Observation> {
  const found = await getNamed(cluster, config.namespace, observedRefs(config))
  return {
    gateway: findNamed(found, 'Gateway', config.gatewayName),
    route: findNamed(found, 'HTTPRoute', config.routeName),
    service: findNamed(found, 'Service', gatewayServiceName(config)),
    deployment: findNamed(found, 'Deployment', gatewayServiceName(config)),
  }
}

interface Assessment {
  accepted?: Condition
  programmed?: Condition
  routeAccepted?: Condition
  resolvedRefs?: Condition
  nodePort?: number
  /** The load balancer's address, when the Service has one: verification goes through it on the listener port. */
  loadBalancer?: string
  proxyReady: boolean
  gatewayOk: boolean
  routeOk: boolean
  /** The route reports a failure for the current generation: waiting longer will not change it. */
  routeFailed: boolean
}

function assess(o: Observation, config: Config): Assessment {
  const generation = o.gateway?.metadata.generation as number | undefined
  const accepted = condition(o.gateway, 'Accepted')
  const programmed = condition(o.gateway, 'Programmed')
  const parent = routeParentStatus(o.route, config.gatewayName, config.namespace)
  const routeAccepted = parent?.conditions?.find((c) => c.type === 'Accepted')
  const resolvedRefs = parent?.conditions?.find((c) => c.type === 'ResolvedRefs')
  const port = o.gateway ? listenerPort(o.gateway) : 80
  const nodePort = listenerNodePort(o.service, port)?.nodePort
  const loadBalancer = loadBalancerAddress(o.service)
  const currentGateway = isCurrent(accepted, generation) && isCurrent(programmed, generation)
  // The guide's path: no load balancer, so Programmed stays False/AddressNotAssigned, yet NodePorts exist.
  const programmedOrNodePort =
    programmed?.status === 'True' || (programmed?.reason === 'AddressNotAssigned' && !!nodePort)
  const routeGeneration = o.route?.metadata.generation as number | undefined
  const routeCurrent = isCurrent(routeAccepted, routeGeneration) && isCurrent(resolvedRefs, routeGeneration)
  return {
    accepted,
    programmed,
    routeAccepted,
    resolvedRefs,
    nodePort,
    loadBalancer,
    proxyReady: readiness(o.deployment).ready,
    gatewayOk:
      currentGateway &&
      accepted?.status === 'True' &&
      programmedOrNodePort &&
      !!(nodePort || loadBalancer) &&
      readiness(o.deployment).ready,
    routeOk: routeCurrent && routeAccepted?.status === 'True' && resolvedRefs?.status === 'True',
    routeFailed: routeCurrent && (routeAccepted?.status === 'False' || resolvedRefs?.status === 'False'),
  }
}

async function nodeAddress(cluster: Cluster): Promise<{ picked?: NodeAddress; nodes: number }> {
  const nodes = await cluster.list('nodes')
  return { picked: pickNodeAddress(nodes), nodes: nodes.length }
}

/** GET /health until the listener answers below 500 (nothing listening yet, or no upstream yet, is retried). */
function healthCheck(ctx: StepContext, url: string, userAgent: string): Promise<Answer> {
  return getUntil(
    url,
    userAgent,
    (answer) => answer.status !== undefined && answer.status < 500,
    requestBudget(ctx, HTTP_RETRY_MS),
  )
}

export const gatewayStep: Step = {
  id: 'gateway',
  title: 'Expose the Web UI through a Gateway',
  why:
    "The guide reaches Gthulhu's manager (REST API and Web UI) through an Istio ingress Gateway and an HTTPRoute instead of a port-forward. " +
    'Istio creates a Deployment and a Service "<gateway>-istio" for it. Without a cloud load balancer the Service never gets an external ' +
    'address, but Kubernetes still assigns NodePorts, and the guide uses the NodePort of listener port 80 on a node address. ' +
    '--gateway-service-type NodePort asks Istio for a NodePort Service directly. Both manifests are checked against their schema before they are ' +
    'applied, and the step ends only when GET /health answers 200 from this machine.',
  requires: ['preflight'],
  settings: ['namespace', 'release', 'gatewayName', 'routeName', 'gatewayServiceType', 'allowedUserAgents'],
  access: (config) => {
    const who = 'gateway'
    const ns = config.namespace
    const owned = (compare: typeof applyAccess) => [
      ...compare(
        'gateways.gateway.networking.k8s.io',
        { namespace: ns, names: [config.gatewayName] },
        `${who}: the Gateway`,
      ),
      ...compare(
        'httproutes.gateway.networking.k8s.io',
        { namespace: ns, names: [config.routeName] },
        `${who}: the HTTPRoute`,
      ),
    ]
    const proxy = { namespace: ns, names: [gatewayServiceName(config)] }
    return {
      run: owned(applyAccess),
      verify: [
        ...owned(comparisonAccess),
        ...kubectlAccess.get('services', proxy, `${who}: the gateway's Service (its NodePort)`),
        ...kubectlAccess.get('deployments.apps', proxy, `${who}: the gateway's Envoy Deployment`),
        ...[
          'gateways.gateway.networking.k8s.io',
          'httproutes.gateway.networking.k8s.io',
          'deployments.apps',
          'services',
        ].flatMap((r) => kubectlAccess.watch(r, { namespace: ns }, `${who}: until Istio has programmed the Gateway`)),
        ...kubectlAccess.list('nodes', {}, `${who}: a node address for the NodePort`),
      ],
    }
  },
  plan: ({ config, facts }) => {
    const { gateway, route } = gatewayManifests(config, facts)
    const ns = config.namespace
    return [
      {
        kind: 'manifest',
        object: gateway,
        apply: 'server-side',
        why: text.plan.gatewayServiceType(config.gatewayServiceType === 'NodePort'),
      },
      { kind: 'manifest', object: route, apply: 'server-side' },
      {
        kind: 'note',
        text: text.plan.removedFields(SERVICE_TYPE_ANNOTATION),
      },
      {
        kind: 'command',
        argv: ['kubectl', 'get', ...observedRefs(config), '-n', ns, '-o', 'json', '--ignore-not-found'],
        why: text.plan.gatewayConditions(listenerPort(gateway)),
      },
      {
        kind: 'command',
        argv: ['kubectl', 'get', 'nodes', '-o', 'json'],
        why: text.plan.nodeAddress,
      },
      {
        kind: 'note',
        text: text.plan.healthMustAnswer(HEALTH_PATH, checkUserAgent(config)),
      },
    ]
  },
  async run(ctx, io) {
    const { gateway, route } = gatewayManifests(ctx.config, ctx.facts)
    // Back to LoadBalancer drops the service-type annotation: a field the plan no longer sets is removed as well.
    const applied = await applyChanged(ctx, io, [gateway, route], resourceOf, { controllerFields: CONTROLLER_FIELDS })
    if (applied.length === 0)
      return {
        unchanged: text.notes.gatewayAsConfigured(ctx.config.gatewayName, ctx.config.routeName),
      }
    io.log(text.progress.applied(applied))
  },
  async verify(ctx, io) {
    const { config } = ctx
    const ns = config.namespace
    const { gateway, route } = gatewayManifests(config, ctx.facts)
    const owned = compareWithPlan(ctx.cluster, [gateway, route], resourceOf, { controllerFields: CONTROLLER_FIELDS })
    owned.catch(() => undefined) // awaited after the wait below: a failure meanwhile is its check's, not a crash
    let observation: Observation = {}
    let verdict = assess(observation, config)
    // The node address does not depend on the Gateway: read it while waiting.
    const nodeRead = nodeAddress(ctx.cluster)
    nodeRead.catch(() => undefined)
    // Istio's controller writes the Gateway's and the route's status and rolls out the Envoy Deployment: look again
    // whenever one of them changes.
    await untilChanged(
      ctx.cluster,
      ['gateways.gateway.networking.k8s.io', 'httproutes.gateway.networking.k8s.io', 'deployments', 'services'].map(
        (resource) => ({ resource, namespace: ns }),
      ),
      async () => {
        observation = await observe(ctx.cluster, config)
        verdict = assess(observation, config)
        return (verdict.gatewayOk && verdict.routeOk) || verdict.routeFailed ? true : undefined
      },
      { timeoutMs: ctx.settleMs, signal: ctx.signal },
    )
    const { picked, nodes } = await nodeRead
    const gatewayRef = `Gateway ${ns}/${config.gatewayName}`
    const routeRef = `HTTPRoute ${ns}/${config.routeName}`
    const port = observation.gateway ? listenerPort(observation.gateway) : 80
    const lbAddress = verdict.loadBalancer
    const addressNotAssigned =
      verdict.programmed?.status !== 'True' && verdict.programmed?.reason === 'AddressNotAssigned'
    const checks: Check[] = [
      {
        name: text.checks.condition(gatewayRef, 'Accepted'),
        expected: 'True',
        observed: observation.gateway ? showCondition(verdict.accepted) : 'not found',
        ok: verdict.accepted?.status === 'True',
        hint: 'is Istio installed (ambient step) and GatewayClass istio present? kubectl get gatewayclass istio',
      },
      {
        name: text.checks.condition(gatewayRef, 'Programmed'),
        expected: 'True, or False (AddressNotAssigned) with NodePorts assigned',
        observed:
          addressNotAssigned && verdict.nodePort
            ? "False (AddressNotAssigned): no load balancer address, NodePorts assigned — the guide's NodePort path, accepted"
            : showCondition(verdict.programmed),
        ok: verdict.programmed?.status === 'True' || (addressNotAssigned && !!verdict.nodePort),
        hint: `kubectl describe gateway ${config.gatewayName} -n ${ns}`,
      },
      {
        name: text.checks.routeAccepted(routeRef, config.gatewayName),
        expected: 'True',
        observed: observation.route ? showCondition(verdict.routeAccepted) : 'not found',
        ok: verdict.routeAccepted?.status === 'True',
        hint: `kubectl describe httproute ${config.routeName} -n ${ns}`,
      },
      {
        name: text.checks.condition(routeRef, 'ResolvedRefs'),
        expected: 'True',
        observed: observation.route ? showCondition(verdict.resolvedRefs) : 'not found',
        ok: verdict.resolvedRefs?.status === 'True',
        hint: `does the backend Service exist? kubectl get service -n ${ns} ${observation.route?.spec?.rules?.[0]?.backendRefs?.[0]?.name ?? ''}`.trim(),
      },
      {
        name: text.checks.nodePort(`${ns}/${gatewayServiceName(config)}`, port),
        expected: 'a NodePort (picked by port, not by position: the status port 15021 comes first)',
        observed: observation.service
          ? verdict.nodePort
            ? `${observation.service.spec?.type}, port ${port} → NodePort ${verdict.nodePort}${lbAddress ? `, load balancer ${lbAddress}` : ''}`
            : `${observation.service.spec?.type}, no NodePort for port ${port} (ports: ${(observation.service.spec?.ports ?? []).map((p: any) => `${p.port}:${p.nodePort ?? '-'}`).join(', ')})`
          : 'not found',
        ok: !!verdict.nodePort,
        // With a load balancer address the NodePort is not needed (clouds may even turn NodePorts off).
        advisory: !!lbAddress,
        hint: `kubectl get service ${gatewayServiceName(config)} -n ${ns}`,
      },
      {
        name: text.checks.gatewayEnvoyReady(`${ns}/${gatewayServiceName(config)}`),
        expected: 'desired = ready',
        observed: readiness(observation.deployment).counts,
        ok: verdict.proxyReady,
        hint: `kubectl -n ${ns} describe deployment ${gatewayServiceName(config)}`,
      },
      {
        name: text.checks.nodeAddress,
        expected: text.plan.nodeAddress,
        observed: picked ? `${picked.address} (${picked.type} of node ${picked.node})` : `none among ${nodes} node(s)`,
        ok: !!picked,
        advisory: !!lbAddress,
        hint: 'kubectl get nodes -o wide',
      },
    ]
    const userAgent = checkUserAgent(config)
    const address = gatewayUrl(port, lbAddress, picked, verdict.nodePort)
    const url = address?.url
    const via = address?.via ?? 'NodePort'
    const healthUrl = url ? `${url.slice(0, -1)}${HEALTH_PATH}` : undefined
    if (healthUrl && checks.every((c) => c.ok || c.advisory)) {
      io.log(text.progress.healthRequest(healthUrl, text.progress.via(via), userAgent))
      const answer = await healthCheck(ctx, healthUrl, userAgent)
      checks.push({
        name: text.checks.healthThrough(healthUrl, via),
        expected: '200',
        observed: `${answer.status ?? answer.error} after ${answer.attempts} attempt(s), User-Agent "${userAgent}"`,
        ok: answer.status === 200,
        hint:
          answer.status === 403
            ? 'the gateway refused this User-Agent: check --allowed-user-agents'
            : `is ${healthUrl} reachable from this machine (firewall, node address)? try: curl -v -A '${userAgent}' ${healthUrl}`,
      })
    } else {
      checks.push({
        name: text.checks.health(healthUrl ?? `http://<node>:<nodePort>${HEALTH_PATH}`),
        expected: '200',
        observed: 'not tried: the checks above failed',
        ok: false,
      })
    }
    if (url && checks.every((c) => c.ok || c.advisory)) {
      ctx.facts.gateway = {
        service: gatewayServiceName(config),
        nodePort: verdict.nodePort,
        nodeAddress: picked?.address,
        url,
        addressAssigned: verdict.programmed?.status === 'True',
        via,
      }
    }
    // What the gateway admits and where it sends it: the objects compared whole with the plan.
    const [gatewayPlan, routePlan] = await owned
    checks.push(
      { ...comparisonCheck(gatewayPlan, `listener as planned`, `someone changed it; run the gateway step again`) },
      {
        ...comparisonCheck(routePlan, `routes to the manager only`, `someone changed it; run the gateway step again`),
        voids: [{ layer: 'gateway L7', target: 'gateway' }],
      },
    )
    return checks
  },
  undo: {
    objects: ({ config }) => [
      { resource: 'httproutes.gateway.networking.k8s.io', namespace: config.namespace, name: config.routeName },
      { resource: 'gateways.gateway.networking.k8s.io', namespace: config.namespace, name: config.gatewayName },
    ],
    describe: ({ config }) => [`Istio removes ${gatewayServiceName(config)} (Deployment and Service) with the Gateway`],
  },
  async rollback(ctx) {
    if (ctx.facts.gateway?.service === gatewayServiceName(ctx.config)) delete ctx.facts.gateway
  },
}
