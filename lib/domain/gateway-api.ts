// Pure helpers for the Gateway API steps: the release bundle (where it lives, which CRDs it holds, which
// version is installed), status conditions, the Gateway Service's NodePort, the node address and one
// HTTP GET. No cluster calls here, so every rule is unit-testable.
import { text } from '../config/text.ts'
import { yaml } from '../config/lazy-yaml.ts'
import type { Config } from '../config/options.ts'
import type { Cluster } from '../kube/cluster.ts'
import type { KubeObject, StepContext } from '../types.ts'

export const BUNDLE_VERSION_ANNOTATION = 'gateway.networking.k8s.io/bundle-version'
export const CHANNEL_ANNOTATION = 'gateway.networking.k8s.io/channel'
export const SERVICE_TYPE_ANNOTATION = 'networking.istio.io/service-type'

export const bundleUrl = (config: Pick<Config, 'gatewayApiMirror' | 'gatewayApiVersion' | 'gatewayApiChannel'>) =>
  `${config.gatewayApiMirror.replace(/\/+$/, '')}/${config.gatewayApiVersion}/${config.gatewayApiChannel}-install.yaml`

export interface BundleCrd {
  name: string
  version?: string
}

/** The CRDs a bundle file defines (name and bundle-version annotation); throws when it holds none. */
export function parseBundle(text: string, source: string): BundleCrd[] {
  const crds: BundleCrd[] = []
  for (const doc of yaml().parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`${source} is not valid YAML: ${doc.errors[0].message.split('\n')[0]}`)
    const object = doc.toJS() as KubeObject | null
    if (object?.kind !== 'CustomResourceDefinition') continue
    crds.push({ name: object.metadata.name, version: object.metadata.annotations?.[BUNDLE_VERSION_ANNOTATION] })
  }
  if (!crds.length) throw new Error(`${source} defines no CustomResourceDefinition; is --gateway-api-mirror right?`)
  return crds
}

/** Compares two pre-release tags the way SemVer 2.0 (§11) does: dot-separated, numbers numerically (rc.2 < rc.10). */
function comparePrerelease(a: string, b: string): number {
  const x = a.split('.')
  const y = b.split('.')
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] === undefined) return -1 // fewer identifiers sort first: rc < rc.1
    if (y[i] === undefined) return 1
    const [xNumeric, yNumeric] = [/^\d+$/.test(x[i]), /^\d+$/.test(y[i])]
    if (xNumeric && yNumeric && Number(x[i]) !== Number(y[i])) return Number(x[i]) - Number(y[i])
    if (xNumeric !== yNumeric) return xNumeric ? -1 : 1 // numbers sort before words
    if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1
  }
  return 0
}

/** Orders release versions like v1.4.0, v1.4.0-rc.2 and v1.4.0-rc.10 (a pre-release sorts before its release). */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const [core, pre] = v.replace(/^v/, '').split(/-(.*)/s, 2)
    return { parts: core.split('.').map((n) => Number(n) || 0), pre }
  }
  const x = parse(a)
  const y = parse(b)
  for (let i = 0; i < 3; i++) if ((x.parts[i] ?? 0) !== (y.parts[i] ?? 0)) return (x.parts[i] ?? 0) - (y.parts[i] ?? 0)
  if (x.pre === y.pre) return 0
  if (!x.pre) return 1
  if (!y.pre) return -1
  return comparePrerelease(x.pre, y.pre)
}

export interface InstalledCrd {
  name: string
  version?: string
  channel?: string
  established: boolean
}

export function describeInstalledCrd(crd: KubeObject): InstalledCrd {
  return {
    name: crd.metadata.name,
    version: crd.metadata.annotations?.[BUNDLE_VERSION_ANNOTATION],
    channel: crd.metadata.annotations?.[CHANNEL_ANNOTATION],
    established: condition(crd, 'Established')?.status === 'True',
  }
}

export type BundleDecision =
  | { action: 'skip'; reason: string }
  | { action: 'apply'; reason: string }
  | { action: 'refuse-newer'; newer: InstalledCrd[] }

/** What to do given the bundle's CRDs and the ones installed: skip, apply, or refuse to downgrade. */
export function decideBundle(
  bundle: BundleCrd[],
  installed: InstalledCrd[],
  config: Pick<Config, 'gatewayApiVersion' | 'gatewayApiChannel' | 'replaceNewerGatewayApi'>,
): BundleDecision {
  const wanted = config.gatewayApiVersion
  const byName = new Map(installed.map((c) => [c.name, c]))
  const newer = installed.filter((c) => c.version && compareVersions(c.version, wanted) > 0)
  if (newer.length && !config.replaceNewerGatewayApi) return { action: 'refuse-newer', newer }
  const missing = bundle.filter((c) => !byName.has(c.name))
  const other = bundle.filter((c) => byName.has(c.name) && byName.get(c.name)!.version !== wanted)
  // The experimental channel is a superset of the standard one, so a standard request is met by it.
  const channelShort = bundle.filter((c) => {
    const channel = byName.get(c.name)?.channel
    return config.gatewayApiChannel === 'experimental' && channel !== undefined && channel !== 'experimental'
  })
  if (!missing.length && !other.length && !channelShort.length) {
    return {
      action: 'skip',
      reason: text.notes.crdsInstalled(bundle.length, config.gatewayApiChannel, wanted),
    }
  }
  const versions = [...new Set(other.map((c) => byName.get(c.name)!.version ?? 'unannotated'))].join(', ')
  return {
    action: 'apply',
    reason: text.progress.bundleDiffers(bundle.length, missing.length, other.length, versions, channelShort.length),
  }
}

export interface Condition {
  type: string
  status: string
  reason?: string
  message?: string
  observedGeneration?: number
}

export function condition(object: KubeObject | undefined, type: string): Condition | undefined {
  return (object?.status?.conditions as Condition[] | undefined)?.find((c) => c.type === type)
}

/** A condition is current when it describes the object's latest generation (or carries no generation). */
export const isCurrent = (c: Condition | undefined, generation: number | undefined) =>
  !!c && (c.observedGeneration === undefined || generation === undefined || c.observedGeneration >= generation)

export const showCondition = (c: Condition | undefined) =>
  c
    ? `${c.status}${c.reason ? ` (${c.reason})` : ''}${c.status !== 'True' && c.message ? `: ${c.message}` : ''}`
    : 'not reported yet'

/** The status a route's parent (our Gateway) reports for it, written by Istio's controller. */
export function routeParentStatus(route: KubeObject | undefined, gatewayName: string, namespace: string) {
  return (route?.status?.parents ?? []).find(
    (p: any) =>
      p.parentRef?.name === gatewayName &&
      (p.parentRef?.namespace ?? namespace) === namespace &&
      (p.parentRef?.kind ?? 'Gateway') === 'Gateway',
  ) as { conditions?: Condition[] } | undefined
}

export interface ServicePort {
  name?: string
  port: number
  nodePort?: number
}

/** The NodePort that carries a listener port. Istio puts its status port (15021) first, so never pick by index. */
export function listenerNodePort(service: KubeObject | undefined, listenerPort: number): ServicePort | undefined {
  return (service?.spec?.ports as ServicePort[] | undefined)?.find((p) => p.port === listenerPort)
}

/** A Gateway Service with a load balancer address; without one the guide uses its NodePort. */
export const loadBalancerAddress = (service: KubeObject | undefined): string | undefined => {
  const ingress = service?.status?.loadBalancer?.ingress?.[0]
  return ingress?.ip ?? ingress?.hostname
}

export interface NodeAddress {
  node: string
  type: 'ExternalIP' | 'InternalIP'
  address: string
}

/**
 * The address the operator's machine uses to reach a NodePort: a Ready node's ExternalIP when one has it
 * (reachable from outside a cloud network), otherwise a Ready node's InternalIP (kind, k3s, bare metal).
 */
export function pickNodeAddress(nodes: KubeObject[]): NodeAddress | undefined {
  const ready = nodes.filter((n) => condition(n, 'Ready')?.status === 'True' && !n.spec?.unschedulable)
  for (const type of ['ExternalIP', 'InternalIP'] as const) {
    for (const node of ready) {
      const found = (node.status?.addresses ?? []).find((a: any) => a.type === type && a.address)
      if (found) return { node: node.metadata.name, type, address: found.address }
    }
  }
  return undefined
}

/** URL host part: IPv6 addresses go in brackets. */
export const urlHost = (address: string) => (address.includes(':') ? `[${address}]` : address)

/** The manager's health endpoint, which the gateway's checks GET through the gateway. */
export const HEALTH_PATH = '/health'

/** Istio names the Deployment, Service and ServiceAccount it makes for a Gateway `<gateway>-istio`. */
export const gatewayServiceName = (config: Pick<Config, 'gatewayName'>) => `${config.gatewayName}-istio`

/** The HTTP port the Gateway listens on (the guide's listener "http", port 80). */
export const listenerPort = (gateway: KubeObject): number => gateway.spec.listeners[0].port

export interface GatewayUrl {
  /** The gateway's base URL, ending in "/". */
  url: string
  via: 'load balancer' | 'NodePort'
}

/**
 * Where the operator's machine reaches the gateway: the load balancer's address on the listener port when the
 * Service has one (cloud NodePorts are often firewalled), otherwise a node's address on the listener's NodePort.
 */
export function gatewayUrl(
  port: number,
  loadBalancer: string | undefined,
  node: NodeAddress | undefined,
  nodePort: number | undefined,
): GatewayUrl | undefined {
  if (loadBalancer)
    return { url: `http://${urlHost(loadBalancer)}${port === 80 ? '' : `:${port}`}/`, via: 'load balancer' }
  if (node && nodePort) return { url: `http://${urlHost(node.address)}:${nodePort}/`, via: 'NodePort' }
  return undefined
}

/** One HTTP GET with a short timeout: the status code, or why there was none. */
export async function httpGet(
  url: string,
  userAgent: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ status?: number; error?: string }> {
  const timeout = AbortSignal.timeout(timeoutMs)
  try {
    const response = await fetch(url, {
      headers: { 'user-agent': userAgent },
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      redirect: 'manual',
    })
    await response.body?.cancel()
    return { status: response.status }
  } catch (error) {
    const cause = (error as any)?.cause
    if (timeout.aborted) return { error: `no answer within ${Math.round(timeoutMs / 1000)}s` }
    return {
      error: cause?.code ? `${cause.code}${cause.message ? ` (${cause.message})` : ''}` : (error as Error).message,
    }
  }
}

/** The first request's wait for an answer; a request left without one is tried again with twice the wait. */
export const FIRST_REQUEST_TIMEOUT_MS = 3_000
/** The pause before asking again after a quick answer that was not the one wanted (or a refused connection). */
const REQUEST_RETRY_PAUSE_MS = 250

export interface Answer {
  status?: number
  error?: string
  attempts: number
}

/**
 * GETs until `wanted(answer)` holds, and says what came back last. Two budgets, because they have different
 * causes: a request that gets no answer in time (a slow or busy machine, a listener still coming up) is tried
 * again with twice the wait, for up to `slowMs` in all (the run's --timeout), so a slow machine is never taken for
 * a broken gateway; any other answer — a status that is not the wanted one, a refused connection — is asked again
 * for `settleMs` (policies take a moment to reach Envoy).
 */
/**
 * getUntil's budgets in a step: a request without an answer is asked again within --timeout; another answer for up
 * to `retryMs` after a run (its change is still reaching Envoy), not at all in an audit (ctx.settleMs is 0).
 */
export const requestBudget = (ctx: Pick<StepContext, 'config' | 'settleMs' | 'signal'>, retryMs: number) => ({
  slowMs: ctx.config.timeout * 1000,
  settleMs: Math.min(retryMs, ctx.settleMs),
  signal: ctx.signal,
})

export async function getUntil(
  url: string,
  userAgent: string,
  wanted: (answer: { status?: number; error?: string }) => boolean,
  options: { slowMs: number; settleMs: number; signal?: AbortSignal },
): Promise<Answer> {
  const started = Date.now()
  let wait = FIRST_REQUEST_TIMEOUT_MS
  let attempts = 0
  for (;;) {
    const left = started + options.slowMs - Date.now()
    attempts++
    const answer = await httpGet(url, userAgent, Math.max(1_000, Math.min(wait, left)), options.signal)
    if (wanted(answer)) return { ...answer, attempts }
    const timedOut = answer.status === undefined && answer.error?.startsWith('no answer within')
    const elapsed = Date.now() - started
    if (elapsed >= options.slowMs || (!timedOut && elapsed >= options.settleMs)) return { ...answer, attempts }
    if (options.signal?.aborted) return { ...answer, attempts }
    if (timedOut) wait *= 2
    else await new Promise((resolve) => setTimeout(resolve, REQUEST_RETRY_PAUSE_MS))
  }
}

/**
 * Several named objects of one namespace in a single kubectl call ("deployment/istiod", …); the ones that do
 * not exist are simply absent. One process instead of one per object keeps polling cheap.
 */
export async function getNamed(
  cluster: Pick<Cluster, 'findJson'>,
  namespace: string,
  refs: string[],
): Promise<KubeObject[]> {
  const found = await cluster.findJson<KubeObject & { items?: KubeObject[] }>(['get', ...refs, '-n', namespace])
  if (!found) return []
  return found.kind === 'List' || Array.isArray(found.items) ? (found.items ?? []) : [found]
}

export const findNamed = (objects: KubeObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name)
