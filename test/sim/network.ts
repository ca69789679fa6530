// The simulated cluster's network: decides, from the objects in the store, what a connection or HTTP
// request from a pod (or from outside through a gateway) experiences — DNS, kube-proxy, NetworkPolicy
// enforced by the CNI, ambient ztunnel/waypoint/gateway authorization, and the answering application.
// Pod and cluster IPs are data only: nothing here opens a socket.
import type { KubeObject } from './store.ts'
import { httpServerPort, serveHttp } from './http-server.ts'
import { authorize, targetRefsOf, type AuthzRequest, type Enforcer } from './authz.ts'
import {
  type ClusterView,
  GATEWAY_GROUP,
  GATEWAY_NAME_LABEL,
  INGRESS_USE_WAYPOINT_LABEL,
  inCidr,
  isEnrolled,
  isHeadless,
  isPodReady,
  principalOf,
  resolvePort,
  selects,
} from './cluster-view.ts'

export const HBONE_PORT = 15008
/** Source address of kubelet probes once ambient has rewritten them (istio-cni SNAT). */
export const KUBELET_PROBE_SOURCE_IP = '169.254.7.127'
export const KUBELET_PROBE_SOURCE_IPV6 = 'fd16:9254:7127:1337:ffff:ffff:ffff:ffff'
export const NODE_IP = '127.0.0.1'

export interface HttpRequest {
  method: string
  path: string
  host?: string
  headers: Record<string, string> // lower-case names
}

export interface HttpResponse {
  status: number
  body: string
  contentType: string
}

/**
 * What a client experiences. `http` is only produced for HTTP requests; `open` is an L4 connection that
 * succeeded; `closed` is a connection the client's own node-local ztunnel accepted (so connect() succeeded)
 * and then closed because the path beyond it failed — what an enrolled client sees instead of a drop/refusal.
 */
export type Outcome =
  | { kind: 'unresolved'; detail: string }
  | { kind: 'refused'; detail: string; ip?: string }
  | { kind: 'dropped'; detail: string; ip?: string }
  | { kind: 'reset'; detail: string; ip?: string }
  | { kind: 'closed'; detail: string; ip?: string }
  | { kind: 'open'; ip: string; tcpOnly: boolean }
  | { kind: 'http'; ip: string; response: HttpResponse }

/** Who sends the traffic as the destination sees it. */
export interface Source {
  ip: string
  pod?: KubeObject
  principal?: string // present for mesh sources (enrolled pods, gateways, waypoints)
  mesh: boolean // speaks HBONE to enrolled destinations
}

const forbidden = (): HttpResponse => ({ status: 403, body: 'RBAC: access denied', contentType: 'text/plain' })

export function isGatewayPod(pod: KubeObject): boolean {
  return Boolean(pod.metadata.labels?.[GATEWAY_NAME_LABEL])
}

export class NetworkModel {
  constructor(readonly view: ClusterView) {}

  sourceOfPod(pod: KubeObject): Source {
    // Gateways and waypoints are Istio proxies with their own identity even though ztunnel does not capture them.
    const mesh = isEnrolled(pod) || isGatewayPod(pod)
    return { ip: pod.status?.podIP ?? '', pod, principal: mesh ? principalOf(pod) : undefined, mesh }
  }

  // ---- NetworkPolicy (enforced by the CNI) ----

  /** Whether the CNI lets `source` reach `dest` on `port` (ingress policies only). */
  networkPolicyAllows(dest: KubeObject, source: Source, port: number): { allowed: boolean; reason: string } {
    if (!this.view.enforcesNetworkPolicy)
      return { allowed: true, reason: `CNI ${this.view.cni} does not enforce NetworkPolicy` }
    const namespace = dest.metadata.namespace
    const policies = this.view.networkPolicies.filter(
      (p) =>
        p.metadata.namespace === namespace &&
        selects(p.spec?.podSelector ?? {}, dest.metadata.labels) &&
        (!p.spec?.policyTypes || p.spec.policyTypes.includes('Ingress')),
    )
    if (policies.length === 0) return { allowed: true, reason: 'no ingress NetworkPolicy selects the destination' }
    for (const policy of policies) {
      for (const rule of policy.spec?.ingress ?? []) {
        if (this.peersMatch(rule.from, source, namespace!) && portsMatch(rule.ports, port, dest)) {
          return { allowed: true, reason: `allowed by NetworkPolicy ${policy.metadata.name}` }
        }
      }
    }
    return {
      allowed: false,
      reason: `NetworkPolicy ${policies.map((p) => p.metadata.name).join(', ')} allows no ingress from ${source.pod?.metadata.name ?? source.ip} on port ${port}`,
    }
  }

  private peersMatch(from: any[] | undefined, source: Source, policyNamespace: string): boolean {
    if (!from || from.length === 0) return true
    return from.some((peer) => {
      if (peer.ipBlock) {
        const { cidr, except = [] } = peer.ipBlock
        return inCidr(source.ip, cidr) && !except.some((e: string) => inCidr(source.ip, e))
      }
      if (!source.pod || (!peer.podSelector && !peer.namespaceSelector)) return false
      const sourceNs = source.pod.metadata.namespace
      const nsOk = peer.namespaceSelector
        ? selects(peer.namespaceSelector, this.view.namespaceLabels(sourceNs))
        : sourceNs === policyNamespace
      return nsOk && selects(peer.podSelector ?? {}, source.pod.metadata.labels)
    })
  }

  /** Kubelet readiness probes of enrolled pods come from 169.254.7.127; an ingress policy can block them. */
  kubeletProbeAllowed(pod: KubeObject, port: number): boolean {
    if (!isEnrolled(pod)) return true
    return this.networkPolicyAllows(pod, { ip: KUBELET_PROBE_SOURCE_IP, mesh: false }, port).allowed
  }

  // ---- Authorization policies ----

  /** Policies ztunnel enforces for a destination pod: selector policies in its namespace, and namespace-wide ones. */
  private ztunnelPolicies(dest: KubeObject): KubeObject[] {
    return this.view.authorizationPolicies.filter(
      (p) =>
        (p.metadata.namespace === dest.metadata.namespace || p.metadata.namespace === 'istio-system') &&
        targetRefsOf(p).length === 0 &&
        (p.spec?.selector
          ? p.metadata.namespace === dest.metadata.namespace && selects(p.spec.selector, dest.metadata.labels)
          : true),
    )
  }

  /** Policies a waypoint enforces for a Service: targetRefs naming the Service or the waypoint Gateway itself. */
  private waypointPolicies(svc: KubeObject, waypoint: KubeObject): KubeObject[] {
    return this.view.authorizationPolicies.filter((p) =>
      targetRefsOf(p).some(
        (ref) =>
          (p.metadata.namespace === svc.metadata.namespace &&
            ref.kind === 'Service' &&
            !ref.group &&
            ref.name === svc.metadata.name) ||
          (p.metadata.namespace === waypoint.metadata.namespace &&
            ref.kind === 'Gateway' &&
            ref.name === waypoint.metadata.name),
      ),
    )
  }

  /** Policies a gateway's Envoy enforces: selector policies on its pod, namespace-wide ones, targetRefs to the Gateway. */
  private gatewayPolicies(gwPod: KubeObject): KubeObject[] {
    const gwName = gwPod.metadata.labels?.[GATEWAY_NAME_LABEL]
    return this.view.authorizationPolicies.filter((p) => {
      if (p.metadata.namespace !== gwPod.metadata.namespace) return false
      const refs = targetRefsOf(p)
      if (refs.length)
        return refs.some(
          (r) => r.kind === 'Gateway' && (r.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && r.name === gwName,
        )
      return p.spec?.selector ? selects(p.spec.selector, gwPod.metadata.labels) : true
    })
  }

  private check(
    policies: KubeObject[],
    source: Source,
    ports: number[],
    req: HttpRequest | undefined,
    enforcer: Enforcer,
  ) {
    const request: AuthzRequest = { principal: source.principal, sourceIp: source.ip, ports, http: req }
    return authorize(policies, request, enforcer)
  }

  // ---- DNS and kube-proxy ----

  /** Resolves a host name or IP as a pod in `fromNamespace` would (search path `<ns>.svc.cluster.local`, `svc.cluster.local`). */
  resolve(host: string, fromNamespace: string): { svc?: KubeObject; pod?: KubeObject; ip?: string } | undefined {
    const name = host.toLowerCase().replace(/\.$/, '')
    if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) {
      const svc = this.view.services.find((s) => s.spec?.clusterIP === name)
      if (svc) return { svc, ip: name }
      const pod = this.view.pods.find((p) => p.status?.podIP === name && !p.spec?.hostNetwork)
      return { pod, ip: name }
    }
    const bare = name.replace(/\.cluster\.local$/, '')
    const candidates: string[][] = []
    const parts = bare.split('.')
    if (parts[parts.length - 1] === 'svc') candidates.push(parts.slice(0, -1))
    else candidates.push([...parts, fromNamespace], parts)
    for (const c of candidates) {
      if (c.length === 2) {
        const svc = this.view.service(c[1], c[0])
        if (svc) return { svc, ip: svc.spec?.clusterIP }
      } else if (c.length === 3) {
        const svc = this.view.service(c[2], c[1])
        const pod =
          svc &&
          this.view.pods.find(
            (p) => p.metadata.namespace === c[2] && p.spec?.hostname === c[0] && p.spec?.subdomain === c[1],
          )
        if (pod && isPodReady(pod)) return { pod, ip: pod.status?.podIP }
      }
    }
    return undefined
  }

  // ---- Connections ----

  /** A TCP connection (req undefined) or an HTTP request from `source` (in `fromNamespace`) to host:port. */
  connect(source: Source, fromNamespace: string, host: string, port: number, req?: HttpRequest): Outcome {
    return acceptedLocally(source, this.route(source, fromNamespace, host, port, req))
  }

  private route(
    source: Source,
    fromNamespace: string,
    host: string,
    port: number,
    req: HttpRequest | undefined,
  ): Outcome {
    const target = this.resolve(host, fromNamespace)
    if (!target) return { kind: 'unresolved', detail: `${host} does not resolve` }
    if (target.svc && isHeadless(target.svc)) {
      // Headless: DNS returns ready pod IPs and the client connects to them on the port it asked for.
      const pods = this.view.endpointsOf(target.svc)
      if (pods.length === 0) return { kind: 'unresolved', detail: `headless Service ${host} has no ready endpoints` }
      return this.toPod(source, pods[0], port, req)
    }
    if (target.svc) return this.toService(source, target.svc, port, req, false)
    if (target.pod) return this.toPod(source, target.pod, port, req)
    return { kind: 'dropped', detail: `nothing answers at ${target.ip}`, ip: target.ip }
  }

  /** Through a ClusterIP Service: kube-proxy picks a ready endpoint; a bound waypoint intercepts mesh traffic. */
  toService(
    source: Source,
    svc: KubeObject,
    port: number,
    req: HttpRequest | undefined,
    fromIngress: boolean,
  ): Outcome {
    const ip = svc.spec?.clusterIP
    const svcPort = (svc.spec?.ports ?? []).find((p: any) => p.port === port)
    if (!svcPort) return { kind: 'dropped', detail: `Service ${svc.metadata.name} has no port ${port}`, ip }
    const endpoints = this.view.endpointsOf(svc)
    if (endpoints.length === 0)
      return { kind: 'refused', detail: `Service ${svc.metadata.name} has no ready endpoints`, ip }
    const dest = endpoints[0]
    const targetPort = resolvePort(dest, svcPort.targetPort ?? svcPort.port) ?? svcPort.port
    const waypoint = this.view.boundWaypoint(svc)
    // Only the client side picks a waypoint: an enrolled client's ztunnel for Service-addressed traffic
    // (ztunnel src/proxy/outbound.rs fetch_service_waypoint), an ingress gateway only when the Service opts in.
    // The destination's ztunnel never hands plaintext to the waypoint (src/proxy/inbound_passthrough.rs).
    const clientUsesWaypoint = fromIngress
      ? svc.metadata.labels?.[INGRESS_USE_WAYPOINT_LABEL] === 'true'
      : capturedByZtunnel(source)
    if (waypoint && clientUsesWaypoint) {
      return acceptedLocally(
        source,
        this.throughWaypoint(source, svc, [port, targetPort], dest, targetPort, waypoint, req),
      )
    }
    const outcome = this.toPod(source, dest, targetPort, req)
    return 'ip' in outcome && ip ? { ...outcome, ip } : outcome
  }

  private throughWaypoint(
    source: Source,
    svc: KubeObject,
    ports: number[],
    dest: KubeObject,
    targetPort: number,
    waypoint: KubeObject,
    req: HttpRequest | undefined,
  ): Outcome {
    const ip = svc.spec?.clusterIP
    const wpPod = this.view.gatewayPods(waypoint).find(isPodReady)
    if (!wpPod) return { kind: 'reset', detail: `waypoint ${waypoint.metadata.name} has no ready pod`, ip }
    const toWaypoint = this.networkPolicyAllows(wpPod, source, HBONE_PORT)
    if (!toWaypoint.allowed) return { kind: 'dropped', detail: `to waypoint: ${toWaypoint.reason}`, ip }
    if (req) {
      const decision = this.check(this.waypointPolicies(svc, waypoint), source, ports, req, 'waypoint')
      if (!decision.allowed) return { kind: 'http', ip: ip ?? '', response: forbidden() }
    }
    // The destination now sees the waypoint's address and identity.
    const outcome = this.toPod(this.sourceOfPod(wpPod), dest, targetPort, req)
    if (req && outcome.kind !== 'http' && outcome.kind !== 'open')
      return { kind: 'http', ip: ip ?? '', response: upstreamFailure(outcome) }
    return 'ip' in outcome && ip ? { ...outcome, ip } : outcome
  }

  /** Straight to a pod IP: NetworkPolicy, then ztunnel (enrolled) or gateway Envoy policies, then the app. */
  toPod(source: Source, dest: KubeObject, port: number, req: HttpRequest | undefined): Outcome {
    return acceptedLocally(source, this.deliver(source, dest, port, req))
  }

  private deliver(source: Source, dest: KubeObject, port: number, req: HttpRequest | undefined): Outcome {
    const ip = dest.status?.podIP ?? ''
    if (dest.status?.phase !== 'Running')
      return { kind: 'dropped', detail: `pod ${dest.metadata.name} is not running`, ip }
    const destEnrolled = isEnrolled(dest)
    // Mesh-to-mesh traffic travels as HBONE, so the CNI sees port 15008 rather than the app port.
    const wirePort = source.mesh && destEnrolled ? HBONE_PORT : port
    const l4 = this.networkPolicyAllows(dest, source, wirePort)
    if (!l4.allowed) return { kind: 'dropped', detail: l4.reason, ip }
    if (destEnrolled) {
      // HBONE carries the client's mTLS identity; plaintext from outside the mesh has none (src_identity: None).
      const decision = this.check(this.ztunnelPolicies(dest), source, [port], undefined, 'ztunnel')
      // ztunnel accepts the connection before it authorizes it, then closes it: connect() succeeds, no data comes back.
      if (!decision.allowed)
        return {
          kind: 'closed',
          detail: `accepted by ${dest.metadata.name}'s ztunnel, then closed: ${decision.reason}`,
          ip,
        }
    }
    if (isGatewayPod(dest) && req && !isWaypointPod(dest)) {
      const decision = this.check(this.gatewayPolicies(dest), source, [port], req, 'gateway')
      if (!decision.allowed) return { kind: 'http', ip, response: forbidden() }
      return { kind: 'http', ip, response: this.gatewayForward(dest, port, req, source) }
    }
    if (httpServerPort(dest) === port) {
      if (!req) return { kind: 'open', ip, tcpOnly: false }
      // Python's http.server answers and logs the request line with the client's address (../http-server.ts).
      const served = serveHttp(req, source.ip)
      const key = `${dest.metadata.namespace}/${dest.metadata.name}`
      this.view.store.podLogs.set(key, (this.view.store.podLogs.get(key) ?? '') + served.log)
      return { kind: 'http', ip, response: served.response }
    }
    const app = appAt(dest, port)
    if (!app) return { kind: 'refused', detail: `nothing listens on ${dest.metadata.name}:${port}`, ip }
    if (!req) return { kind: 'open', ip, tcpOnly: app === 'tcp' }
    if (app === 'tcp') return { kind: 'open', ip, tcpOnly: true }
    return { kind: 'http', ip, response: app(req) }
  }

  // ---- Ingress through a Gateway ----

  /** A request arriving at a gateway pod on a listener port: its own policies were already checked. */
  gatewayForward(gwPod: KubeObject, port: number, req: HttpRequest, _client: Source): HttpResponse {
    const namespace = gwPod.metadata.namespace!
    const gwName = gwPod.metadata.labels?.[GATEWAY_NAME_LABEL]!
    const routes = this.view.httpRoutes.filter((r) =>
      (r.spec?.parentRefs ?? []).some(
        (ref: any) =>
          ref.name === gwName &&
          (ref.namespace ?? r.metadata.namespace) === namespace &&
          (ref.kind ?? 'Gateway') === 'Gateway' &&
          (ref.port === undefined || ref.port === port),
      ),
    )
    for (const route of routes) {
      for (const rule of route.spec?.rules ?? []) {
        if (!ruleMatchesPath(rule, req.path)) continue
        const backend = (rule.backendRefs ?? [])[0]
        if (!backend) return { status: 500, body: '', contentType: 'text/plain' }
        const svc =
          (backend.kind ?? 'Service') === 'Service' &&
          this.view.service(backend.namespace ?? route.metadata.namespace, backend.name)
        if (!svc) return { status: 500, body: '', contentType: 'text/plain' }
        const gwSource = this.sourceOfPod(gwPod)
        const outcome = this.toService(gwSource, svc, Number(backend.port ?? 80), req, true)
        if (outcome.kind === 'http') return outcome.response
        return upstreamFailure(outcome)
      }
    }
    return { status: 404, body: '', contentType: 'text/plain' }
  }

  /** An HTTP request from outside the cluster to a Gateway's listener (the web UI's NodePort path). */
  ingress(gateway: KubeObject, listenerPort: number, req: HttpRequest): HttpResponse {
    const gwPod = this.view.gatewayPods(gateway).find(isPodReady)
    if (!gwPod) return { status: 503, body: 'no healthy upstream', contentType: 'text/plain' }
    const client: Source = { ip: NODE_IP, mesh: false }
    const decision = this.check(this.gatewayPolicies(gwPod), client, [listenerPort], req, 'gateway')
    if (!decision.allowed) return forbidden()
    return this.gatewayForward(gwPod, listenerPort, req, client)
  }
}

/** Whether ztunnel captures this source's outbound connections: an enrolled pod (gateways/waypoints are Envoys). */
export const capturedByZtunnel = (source: Source) => Boolean(source.pod && isEnrolled(source.pod))

/**
 * An enrolled client's connect() is answered by its own node's ztunnel, which only then opens HBONE (or a
 * plain connection) onwards; when that leg is dropped, refused or reset, the client sees an accepted
 * connection that closes: `nc -z` succeeds, an HTTP client gets a reset. Other clients see the failure itself.
 */
function acceptedLocally(source: Source, outcome: Outcome): Outcome {
  if (!capturedByZtunnel(source)) return outcome
  if (outcome.kind !== 'dropped' && outcome.kind !== 'refused' && outcome.kind !== 'reset') return outcome
  return { kind: 'closed', detail: `accepted by the client's ztunnel, then closed: ${outcome.detail}`, ip: outcome.ip }
}

export const isWaypointPod = (pod: KubeObject) =>
  pod.metadata.labels?.['gateway.istio.io/managed'] === 'istio.io-mesh-controller'

function portsMatch(ports: any[] | undefined, port: number, dest: KubeObject): boolean {
  if (!ports || ports.length === 0) return true
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== 'TCP') return false
    if (p.port === undefined) return true
    const start = resolvePort(dest, p.port)
    if (start === undefined) return false
    return p.endPort ? port >= start && port <= p.endPort : port === start
  })
}

function ruleMatchesPath(rule: any, path: string): boolean {
  const matches: any[] = rule.matches ?? []
  if (matches.length === 0) return true
  return matches.some((m) => {
    const type = m.path?.type ?? 'PathPrefix'
    const value = m.path?.value ?? '/'
    const bare = path.split('?')[0]
    if (type === 'Exact') return bare === value
    if (type === 'PathPrefix') return value === '/' || bare === value || bare.startsWith(value.replace(/\/$/, '') + '/')
    return new RegExp(value).test(bare)
  })
}

function upstreamFailure(outcome: Outcome): HttpResponse {
  const reason =
    outcome.kind === 'dropped'
      ? 'connection timeout'
      : outcome.kind === 'refused'
        ? 'remote connection failure'
        : 'connection termination'
  return {
    status: outcome.kind === 'dropped' ? 504 : 503,
    body: `upstream connect error or disconnect/reset before headers. reset reason: ${reason}`,
    contentType: 'text/plain',
  }
}

type App = 'tcp' | ((req: HttpRequest) => HttpResponse)

const json = (status: number, value: unknown): HttpResponse => ({
  status,
  body: JSON.stringify(value),
  contentType: 'application/json',
})
const MANAGER_PAGE =
  '<!doctype html><html><head><title>Gthulhu</title></head><body><div id="root">Gthulhu Manager</div></body></html>'

/** The application listening on a pod's port, if any: only declared container ports listen. */
export function appAt(pod: KubeObject, port: number): App | undefined {
  const declared = (pod.spec?.containers ?? []).some((c: any) =>
    (c.ports ?? []).some((p: any) => p.containerPort === port),
  )
  if (!declared) return undefined
  const labels = pod.metadata.labels ?? {}
  const images = (pod.spec?.containers ?? []).map((c: any) => String(c.image ?? '')).join(' ')
  if (labels['app.kubernetes.io/component'] === 'mongodb' || /mongo/.test(images)) return 'tcp'
  if (labels['app.kubernetes.io/component'] === 'manager') {
    return (req) =>
      req.path === '/health'
        ? json(200, { status: 'ok' })
        : req.path === '/' || req.path === '/index.html'
          ? { status: 200, body: MANAGER_PAGE, contentType: 'text/html' }
          : json(404, { error: 'not found' })
  }
  if (labels.app === 'decisionmaker') {
    // With mtls.enabled the chart gives the decision maker tcpSocket probes and it serves TLS: Go's server answers plain HTTP with 400.
    const tls = (pod.spec?.containers ?? []).some(
      (c: any) => c.name === 'decision-maker' && c.readinessProbe?.tcpSocket,
    )
    if (tls && port !== 9090)
      return () => ({
        status: 400,
        body: 'Client sent an HTTP request to an HTTPS server.\n',
        contentType: 'text/plain',
      })
    if (port === 9090)
      return (req) =>
        req.path === '/metrics'
          ? { status: 200, body: '# HELP up 1\nup 1\n', contentType: 'text/plain' }
          : json(404, {})
    return (req) => (req.path === '/health' ? json(200, { status: 'ok' }) : json(404, { error: 'not found' }))
  }
  return () => ({ status: 200, body: 'ok', contentType: 'text/plain' })
}
