// Read-side helpers shared by the controllers, the network model, fake istioctl and the web UI:
// finding resource types by kind, label selectors, and a snapshot of the objects the model reasons about.
import type { KubeObject, ResourceType, Store } from './store.ts'

export type Cni = 'calico' | 'cilium' | 'flannel' | 'none'
export const ENFORCING_CNIS: Cni[] = ['calico', 'cilium']

export const GATEWAY_GROUP = 'gateway.networking.k8s.io'
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name'
export const REDIRECTION_ANNOTATION = 'ambient.istio.io/redirection'
export const DATAPLANE_LABEL = 'istio.io/dataplane-mode'
export const USE_WAYPOINT_LABEL = 'istio.io/use-waypoint'
export const INGRESS_USE_WAYPOINT_LABEL = 'istio.io/ingress-use-waypoint'
export const ISTIO_NAMESPACE = 'istio-system'

/** [group, kind] pairs for every kind the world reads or writes. */
export const KIND = {
  namespace: ['', 'Namespace'],
  node: ['', 'Node'],
  pod: ['', 'Pod'],
  service: ['', 'Service'],
  endpoints: ['', 'Endpoints'],
  configMap: ['', 'ConfigMap'],
  serviceAccount: ['', 'ServiceAccount'],
  deployment: ['apps', 'Deployment'],
  daemonSet: ['apps', 'DaemonSet'],
  statefulSet: ['apps', 'StatefulSet'],
  replicaSet: ['apps', 'ReplicaSet'],
  job: ['batch', 'Job'],
  event: ['', 'Event'],
  networkPolicy: ['networking.k8s.io', 'NetworkPolicy'],
  crd: ['apiextensions.k8s.io', 'CustomResourceDefinition'],
  gateway: [GATEWAY_GROUP, 'Gateway'],
  gatewayClass: [GATEWAY_GROUP, 'GatewayClass'],
  httpRoute: [GATEWAY_GROUP, 'HTTPRoute'],
  authorizationPolicy: ['security.istio.io', 'AuthorizationPolicy'],
} as const satisfies Record<string, readonly [string, string]>
export type KindName = keyof typeof KIND

/** The served type of a kind, preferring `version` (or the first served version); undefined when not served. */
export function typeOf(store: Store, kind: KindName, version?: string): ResourceType | undefined {
  const [group, k] = KIND[kind]
  const matches = store.allTypes().filter((rt) => rt.group === group && rt.kind === k)
  return matches.find((rt) => rt.version === version) ?? matches.find((rt) => rt.version === 'v1') ?? matches[0]
}

export function mustTypeOf(store: Store, kind: KindName, version?: string): ResourceType {
  const rt = typeOf(store, kind, version)
  if (!rt) throw new Error(`sim: kind ${KIND[kind].join('/')} is not served`)
  return rt
}

/**
 * The objects of a kind as stored, frozen (Store.peek): change a copy, never them. Empty when the kind is not
 * served (e.g. the Gateway API CRDs are not installed).
 */
export function listOf(
  store: Store,
  kind: KindName,
  namespace?: string,
  where?: (stored: Readonly<KubeObject>) => boolean,
): KubeObject[] {
  const rt = typeOf(store, kind)
  return rt ? store.peek(rt, namespace, undefined, where) : []
}

export function getOf(
  store: Store,
  kind: KindName,
  namespace: string | undefined,
  name: string,
): KubeObject | undefined {
  const rt = typeOf(store, kind)
  return rt ? store.get(rt, namespace, name) : undefined
}

export interface LabelSelector {
  matchLabels?: Record<string, string>
  matchExpressions?: { key: string; operator: string; values?: string[] }[]
}

/** Kubernetes label-selector semantics; an empty selector matches everything. */
export function selects(selector: LabelSelector | undefined | null, labels: Record<string, string> = {}): boolean {
  if (!selector) return true
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key)
    const values = e.values ?? []
    if (e.operator === 'In' && !(has && values.includes(labels[e.key]))) return false
    if (e.operator === 'NotIn' && has && values.includes(labels[e.key])) return false
    if (e.operator === 'Exists' && !has) return false
    if (e.operator === 'DoesNotExist' && has) return false
  }
  return true
}

/** A Service's plain `spec.selector` map; a Service without one selects no pods. */
export function serviceSelects(svc: KubeObject, pod: KubeObject): boolean {
  const selector = svc.spec?.selector
  if (!selector || Object.keys(selector).length === 0) return false
  return pod.metadata.namespace === svc.metadata.namespace && selects({ matchLabels: selector }, pod.metadata.labels)
}

export const conditionTrue = (o: KubeObject | undefined, type: string) =>
  (o?.status?.conditions ?? []).some((c: any) => c.type === type && c.status === 'True')

export const isPodReady = (pod: KubeObject) => pod.status?.phase === 'Running' && conditionTrue(pod, 'Ready')
export const isEnrolled = (pod: KubeObject) => pod.metadata.annotations?.[REDIRECTION_ANNOTATION] === 'enabled'
export const isHeadless = (svc: KubeObject) => svc.spec?.clusterIP === 'None'
/** Istio's default trust domain: the mesh config's trustDomain when it sets none. */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local'
/** A pod's SPIFFE identity as Istio writes principals: <trust domain>/ns/<namespace>/sa/<ServiceAccount>. */
export const principalOf = (pod: KubeObject, trustDomain = DEFAULT_TRUST_DOMAIN) =>
  `${trustDomain}/ns/${pod.metadata.namespace}/sa/${pod.spec?.serviceAccountName || 'default'}`

/**
 * meshConfig.trustDomain from the mesh config istiod reads (ConfigMap istio-system/istio, key `mesh`), which
 * istiod puts in every certificate it signs (istio/istio 1.29.1 manifests/charts/istio-control/istio-discovery/
 * templates/configmap.yaml; pilot/pkg/bootstrap reads meshConfig.trustDomain for the CA). A line-based read of the
 * one top-level key this simulator writes, not a YAML parser.
 */
export function meshTrustDomain(store: Store): string {
  const mesh = String(getOf(store, 'configMap', ISTIO_NAMESPACE, 'istio')?.data?.mesh ?? '')
  const line = /^trustDomain:\s*["']?([^"'\s]+)["']?\s*$/m.exec(mesh)
  return line?.[1] ?? DEFAULT_TRUST_DOMAIN
}

export function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z')
}

/** A consistent read of everything the network model needs, taken once per decision. */
export class ClusterView {
  readonly pods: KubeObject[]
  readonly services: KubeObject[]
  readonly namespaces: KubeObject[]
  readonly networkPolicies: KubeObject[]
  readonly authorizationPolicies: KubeObject[]
  readonly gateways: KubeObject[]
  readonly httpRoutes: KubeObject[]
  readonly nodes: KubeObject[]
  readonly endpoints: KubeObject[]
  /** The mesh's trust domain: every mesh identity carries it. */
  readonly trustDomain: string

  constructor(
    readonly store: Store,
    readonly cni: Cni,
  ) {
    this.pods = listOf(store, 'pod')
    this.services = listOf(store, 'service')
    this.namespaces = listOf(store, 'namespace')
    this.networkPolicies = listOf(store, 'networkPolicy')
    this.authorizationPolicies = listOf(store, 'authorizationPolicy')
    this.gateways = listOf(store, 'gateway')
    this.httpRoutes = listOf(store, 'httpRoute')
    this.nodes = listOf(store, 'node')
    this.endpoints = listOf(store, 'endpoints')
    this.trustDomain = meshTrustDomain(store)
  }

  /** The InternalIP of a node, by name. */
  nodeIp(name: string | undefined): string | undefined {
    const node = this.nodes.find((n) => n.metadata.name === name)
    return (node?.status?.addresses ?? []).find((a: any) => a.type === 'InternalIP')?.address
  }

  get enforcesNetworkPolicy(): boolean {
    return ENFORCING_CNIS.includes(this.cni)
  }

  namespaceLabels(namespace: string | undefined): Record<string, string> {
    const ns = this.namespaces.find((n) => n.metadata.name === namespace)
    // The API server always sets this label; selectors in the guide's style rely on it.
    return { ...(ns?.metadata.labels ?? {}), 'kubernetes.io/metadata.name': namespace ?? '' }
  }

  service(namespace: string, name: string): KubeObject | undefined {
    return this.services.find((s) => s.metadata.namespace === namespace && s.metadata.name === name)
  }

  endpointsOf(svc: KubeObject): KubeObject[] {
    return this.pods.filter((p) => serviceSelects(svc, p) && isPodReady(p))
  }

  gateway(namespace: string, name: string): KubeObject | undefined {
    return this.gateways.find((g) => g.metadata.namespace === namespace && g.metadata.name === name)
  }

  /** The waypoint Gateway a Service is bound to (Service label, else namespace label), if it is Programmed. */
  boundWaypoint(svc: KubeObject): KubeObject | undefined {
    const ns = svc.metadata.namespace!
    const name = svc.metadata.labels?.[USE_WAYPOINT_LABEL] ?? this.namespaceLabels(ns)[USE_WAYPOINT_LABEL]
    if (!name || name === 'none') return undefined
    const waypointNs = svc.metadata.labels?.['istio.io/use-waypoint-namespace'] ?? ns
    const gw = this.gateway(waypointNs, name)
    if (!gw || gw.spec?.gatewayClassName !== 'istio-waypoint' || !conditionTrue(gw, 'Programmed')) return undefined
    return gw
  }

  /** Pods that serve a Gateway (ingress gateways and waypoints carry the gateway-name label). */
  gatewayPods(gw: KubeObject): KubeObject[] {
    return this.pods.filter(
      (p) =>
        p.metadata.namespace === gw.metadata.namespace && p.metadata.labels?.[GATEWAY_NAME_LABEL] === gw.metadata.name,
    )
  }
}

/** A container port given by number or by name, resolved against a pod's containers. */
export function resolvePort(pod: KubeObject | undefined, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port
  if (port === undefined) return undefined
  if (/^\d+$/.test(port)) return Number(port)
  for (const c of pod?.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === port) return p.containerPort
  }
  return undefined
}

export function ipv4ToNumber(ip: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip)
  if (!m) return undefined
  const parts = m.slice(1).map(Number)
  if (parts.some((p) => p > 255)) return undefined
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3]
}

/** IPv4 CIDR membership (IPv6 blocks never match: the simulated cluster is IPv4 single-stack). */
export function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/')
  const a = ipv4ToNumber(ip)
  const b = ipv4ToNumber(base)
  if (a === undefined || b === undefined) return false
  const bits = bitsText === undefined ? 32 : Number(bitsText)
  if (!(bits >= 0 && bits <= 32)) return false
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0
  return (a & mask) >>> 0 === (b & mask) >>> 0
}
