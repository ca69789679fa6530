// The simulated cluster's network: decides, from the objects in the store, what a connection or HTTP
// request from a pod (or from outside through a gateway) experiences — DNS, kube-proxy, NetworkPolicy
// enforced by the CNI, ambient ztunnel/waypoint/gateway authorization, and the answering application.
// Pod and cluster IPs are data only: nothing here opens a socket.
import type { KubeObject } from './store.ts'
import { httpServerPort, serveHttp } from './http-server.ts'
import {
  authorize,
  ROOT_NAMESPACE,
  targetRefsOf,
  ztunnelPolicyApplies,
  type AuthzRequest,
  type Enforcer,
} from './authz.ts'
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
  /** A hostNetwork pod (or a node process): it sends from the node, on this node. */
  host?: { node: string }
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
    return {
      ip: pod.status?.podIP ?? '',
      pod,
      principal: mesh ? principalOf(pod, this.view.trustDomain) : undefined,
      mesh,
      ...(pod.spec?.hostNetwork ? { host: { node: String(pod.spec?.nodeName ?? '') } } : {}),
    }
  }

  // ---- egress NetworkPolicy (enforced by the CNI on what leaves a pod) ----

  /**
   * Whether the CNI lets `source` open a connection to `to` (a pod, else just an address) on `port`/`protocol`.
   * A policy in the source's namespace that selects it for Egress must have a rule whose `to` peers and ports
   * match. The CNI sees the packet as it leaves the pod: after kube-proxy rewrote a Service address to an
   * endpoint, and — for an enrolled pod — as ztunnel sends it from inside the pod (HBONE to the destination pod on
   * 15008, or plain TCP to a destination outside the mesh). hostNetwork pods are not workload endpoints: no
   * NetworkPolicy applies to what they send.
   */
  egressAllows(
    source: Source,
    to: { pod?: KubeObject; ip: string },
    port: number,
    protocol: 'TCP' | 'UDP' = 'TCP',
  ): { allowed: boolean; reason: string } {
    if (!this.view.enforcesNetworkPolicy || !source.pod || source.host) return { allowed: true, reason: 'not policed' }
    const namespace = source.pod.metadata.namespace
    const policies = this.view.networkPolicies.filter(
      (p) =>
        p.metadata.namespace === namespace &&
        selects(p.spec?.podSelector ?? {}, source.pod!.metadata.labels) &&
        (p.spec?.policyTypes ? p.spec.policyTypes.includes('Egress') : Boolean(p.spec?.egress)),
    )
    if (policies.length === 0) return { allowed: true, reason: 'no egress NetworkPolicy selects the source' }
    for (const policy of policies) {
      for (const rule of policy.spec?.egress ?? []) {
        if (this.egressPeersMatch(rule.to, to, namespace!) && portsMatch(rule.ports, port, to.pod, protocol))
          return { allowed: true, reason: `allowed by egress NetworkPolicy ${policy.metadata.name}` }
      }
    }
    return {
      allowed: false,
      reason: `egress NetworkPolicy ${policies.map((p) => p.metadata.name).join(', ')} allows no ${protocol} from ${source.pod.metadata.name} to ${to.pod?.metadata.name ?? to.ip} on port ${port}`,
    }
  }

  private egressPeersMatch(peers: any[] | undefined, to: { pod?: KubeObject; ip: string }, policyNamespace: string) {
    if (!peers || peers.length === 0) return true
    return peers.some((peer) => {
      if (peer.ipBlock) {
        const { cidr, except = [] } = peer.ipBlock
        return inCidr(to.ip, cidr) && !except.some((e: string) => inCidr(to.ip, e))
      }
      // A pod selector selects pods, never a node's address (a hostNetwork pod's).
      if (!to.pod || to.pod.spec?.hostNetwork || (!peer.podSelector && !peer.namespaceSelector)) return false
      const destNs = to.pod.metadata.namespace
      const nsOk = peer.namespaceSelector
        ? selects(peer.namespaceSelector, this.view.namespaceLabels(destNs))
        : destNs === policyNamespace
      return nsOk && selects(peer.podSelector ?? {}, to.pod.metadata.labels)
    })
  }

  /**
   * Whether a pod's lookups reach cluster DNS: kube-dns's pods on 53/UDP past its egress policy. An enrolled
   * pod's lookups of cluster names are answered by ztunnel's DNS proxy inside the pod (istio-cni
   * ambient.dnsCapture, on by default: istio/istio 1.29.1 manifests/charts/istio-cni/values.yaml; istio/ztunnel
   * 1.29.1 src/dns/server.rs), so only pods outside the mesh are checked.
   */
  private dnsAnswers(source: Source): boolean {
    if (!source.pod || source.host || capturedByZtunnel(source)) return true
    const dns = this.view.service('kube-system', 'kube-dns')
    const servers = dns ? this.view.endpointsOf(dns) : []
    // No cluster DNS modelled at all: names resolve as before.
    if (servers.length === 0) return true
    return servers.some((pod) => this.egressAllows(source, { pod, ip: pod.status?.podIP ?? '' }, 53, 'UDP').allowed)
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

  /**
   * Kubelet readiness probes of enrolled pods come from 169.254.7.127 (istio-cni's SNAT); whether an ingress
   * NetworkPolicy can block them depends on the CNI:
   * - Cilium exempts host traffic only while it comes from the node's own address, so the rewritten probes meet
   *   the policy (istio/istio#49277; istio.io docs/ambient/install/platform-prerequisites, "Cilium");
   * - Calico's iptables dataplane never polices host → local pod traffic (projectcalico/calico
   *   felix/rules/static.go, filterOutputChain: packets leaving for a workload interface return before any
   *   workload ingress policy), so the probes pass whatever the policies say.
   */
  kubeletProbeAllowed(pod: KubeObject, port: number): boolean {
    if (!isEnrolled(pod) || this.view.cni !== 'cilium') return true
    return this.networkPolicyAllows(pod, { ip: KUBELET_PROBE_SOURCE_IP, mesh: false }, port).allowed
  }

  // ---- Authorization policies ----

  /** Policies ztunnel enforces for a destination pod (../authz.ts ztunnelPolicyApplies). */
  private ztunnelPolicies(dest: KubeObject): KubeObject[] {
    const target = { namespace: dest.metadata.namespace!, labels: dest.metadata.labels ?? {} }
    return this.view.authorizationPolicies.filter((p) => ztunnelPolicyApplies(p, target))
  }

  /**
   * Policies a waypoint enforces for a Service: targetRefs naming the Service, the waypoint Gateway itself, or (from
   * the root namespace) its GatewayClass istio-waypoint.
   */
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
            ref.name === waypoint.metadata.name) ||
          (p.metadata.namespace === ROOT_NAMESPACE &&
            ref.kind === 'GatewayClass' &&
            ref.name === waypoint.spec?.gatewayClassName),
      ),
    )
  }

  /** Policies a gateway's Envoy enforces: selector policies on its pod, namespace-wide and root-namespace ones, targetRefs to the Gateway. */
  private gatewayPolicies(gwPod: KubeObject): KubeObject[] {
    const gwName = gwPod.metadata.labels?.[GATEWAY_NAME_LABEL]
    return this.view.authorizationPolicies.filter((p) => {
      if (p.metadata.namespace !== gwPod.metadata.namespace && p.metadata.namespace !== ROOT_NAMESPACE) return false
      const refs = targetRefsOf(p)
      if (refs.length)
        return refs.some(
          (r) =>
            p.metadata.namespace === gwPod.metadata.namespace &&
            r.kind === 'Gateway' &&
            (r.group ?? GATEWAY_GROUP) === GATEWAY_GROUP &&
            r.name === gwName,
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
    destinationIp: string | undefined,
  ) {
    const request: AuthzRequest = {
      principal: source.principal,
      sourceIp: source.ip,
      destinationIp,
      ports,
      http: req,
      trustDomain: this.view.trustDomain,
    }
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
    const byName = !/^\d+\.\d+\.\d+\.\d+$/.test(host)
    if (byName && !this.dnsAnswers(source))
      return { kind: 'unresolved', detail: `${host}: no answer from cluster DNS (egress to kube-dns refused)` }
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

  /**
   * Whether an ingress gateway sends a Service's traffic to its waypoint: the Service's
   * istio.io/ingress-use-waypoint decides when it has one, else its namespace's ("true", any case). Source:
   * istio/istio 1.29.1 pilot/pkg/serviceregistry/kube/controller/ambient/sidecar_interop.go ingressUseWaypoint,
   * services.go (IngressLabelPresent / IngressUseWaypoint), multicluster.go (the namespace's label).
   */
  ingressUsesWaypoint(svc: KubeObject): boolean {
    const onService = svc.metadata.labels?.[INGRESS_USE_WAYPOINT_LABEL]
    if (onService !== undefined) return onService.toLowerCase() === 'true'
    const onNamespace = this.view.namespaceLabels(svc.metadata.namespace)[INGRESS_USE_WAYPOINT_LABEL]
    return onNamespace?.toLowerCase() === 'true'
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
    const clientUsesWaypoint = fromIngress ? this.ingressUsesWaypoint(svc) : capturedByZtunnel(source)
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
    const leaving = this.egressAllows(source, { pod: wpPod, ip: wpPod.status?.podIP ?? '' }, HBONE_PORT)
    if (!leaving.allowed) return { kind: 'dropped', detail: `to waypoint: ${leaving.reason}`, ip }
    const toWaypoint = this.networkPolicyAllows(wpPod, source, HBONE_PORT)
    if (!toWaypoint.allowed) return { kind: 'dropped', detail: `to waypoint: ${toWaypoint.reason}`, ip }
    // The waypoint's RBAC: on an HTTP request with HTTP rules; on a connection to a port it does not carry as
    // HTTP, at once with the TCP rules (a denied connection is closed). A bare connect to an HTTP port sends no
    // request, so nothing is checked yet.
    const protocol = servicePortProtocol(svc, ports[0])
    if (req || protocol !== 'http') {
      const httpRequest = protocol === 'tcp' ? undefined : req
      const decision = this.check(this.waypointPolicies(svc, waypoint), source, ports, httpRequest, 'waypoint', ip)
      if (!decision.allowed) {
        if (httpRequest) return { kind: 'http', ip: ip ?? '', response: forbidden() }
        return { kind: 'reset', detail: `waypoint ${waypoint.metadata.name}: ${decision.reason}`, ip }
      }
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
    if (source.host && source.host.node === dest.spec?.nodeName) return this.fromLocalHost(source, dest, port, req)
    // Mesh-to-mesh traffic travels as HBONE, so the CNI sees port 15008 rather than the app port.
    const wirePort = source.mesh && destEnrolled ? HBONE_PORT : port
    const leaving = this.egressAllows(source, { pod: dest, ip }, wirePort)
    if (!leaving.allowed) return { kind: 'dropped', detail: leaving.reason, ip }
    const l4 = this.networkPolicyAllows(dest, source, wirePort)
    if (!l4.allowed) return { kind: 'dropped', detail: l4.reason, ip }
    if (destEnrolled) {
      // HBONE carries the client's mTLS identity; plaintext from outside the mesh has none (src_identity: None).
      const decision = this.check(this.ztunnelPolicies(dest), source, [port], undefined, 'ztunnel', ip)
      // ztunnel accepts the connection before it authorizes it, then closes it: connect() succeeds, no data comes back.
      if (!decision.allowed)
        return {
          kind: 'closed',
          detail: `accepted by ${dest.metadata.name}'s ztunnel, then closed: ${decision.reason}`,
          ip,
        }
    }
    if (isGatewayPod(dest) && req && !isWaypointPod(dest)) {
      const decision = this.check(this.gatewayPolicies(dest), source, [port], req, 'gateway', ip)
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

  /**
   * From a node's own network namespace (a hostNetwork pod, a node process) to a pod on the same node. istio-cni
   * SNATs what a local socket sends to an ambient pod to 169.254.7.127, and the pod's own rules accept that source
   * on every port before anything is redirected to ztunnel (istio/istio 1.29.1 cni/pkg/iptables/iptables.go:
   * AppendHostRules, and the ISTIO_PRERT `-s 169.254.7.127 -p tcp -j ACCEPT` rule with no port match), so no
   * ztunnel policy applies. Calico does not police host-to-local-workload traffic (projectcalico/calico
   * felix/rules/static.go filterOutputChain: "We don't currently police host -> endpoint"); Cilium is modelled as
   * the kubelet-probe trap is: its ingress policy sees the packet from 169.254.7.127 (from the node's address for a
   * pod outside the mesh).
   */
  private fromLocalHost(source: Source, dest: KubeObject, port: number, req: HttpRequest | undefined): Outcome {
    const ip = dest.status?.podIP ?? ''
    if (this.view.cni === 'cilium') {
      const seenFrom = isEnrolled(dest) ? KUBELET_PROBE_SOURCE_IP : source.ip
      const l4 = this.networkPolicyAllows(dest, { ip: seenFrom, mesh: false }, port)
      if (!l4.allowed) return { kind: 'dropped', detail: l4.reason, ip }
    }
    const app = appAt(dest, port)
    if (!app) return { kind: 'refused', detail: `nothing listens on ${dest.metadata.name}:${port}`, ip }
    if (!req || app === 'tcp') return { kind: 'open', ip, tcpOnly: app === 'tcp' }
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
    const decision = this.check(
      this.gatewayPolicies(gwPod),
      client,
      [listenerPort],
      req,
      'gateway',
      gwPod.status?.podIP,
    )
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

/**
 * How a waypoint carries a Service port (istio/istio 1.29.1 pkg/config/kube/conversion.go ConvertProtocol: appProtocol,
 * else the name's prefix before `-`; pkg/config/protocol/instance.go; pilot/pkg/networking/core/listener_waypoint.go:
 * HTTP ports get the HTTP chain, TCP-like ones the TCP chain, unknown ones are sniffed).
 */
export function servicePortProtocol(svc: KubeObject, port: number | undefined): 'http' | 'tcp' | 'sniffed' {
  const p = (svc.spec?.ports ?? []).find((x: any) => x.port === port)
  const appProtocol: string | undefined = p?.appProtocol
  if (appProtocol === 'kubernetes.io/h2c' || appProtocol === 'kubernetes.io/ws') return 'http'
  if (appProtocol === 'kubernetes.io/wss') return 'tcp'
  const name = String(appProtocol ?? p?.name ?? '').toLowerCase()
  if (name.startsWith('grpc-web')) return 'http'
  const prefix = name.split('-')[0]
  if (['http', 'http2', 'http_proxy', 'grpc'].includes(prefix)) return 'http'
  if (['tcp', 'https', 'tls', 'mongo', 'redis', 'mysql', 'udp'].includes(prefix)) return 'tcp'
  // Well-known ports (SMTP, DNS, MySQL, MongoDB) default to TCP; anything else is sniffed.
  return [25, 53, 3306, 27017].includes(Number(port)) ? 'tcp' : 'sniffed'
}

export const isWaypointPod = (pod: KubeObject) =>
  pod.metadata.labels?.['gateway.istio.io/managed'] === 'istio.io-mesh-controller'

function portsMatch(ports: any[] | undefined, port: number, dest: KubeObject | undefined, protocol = 'TCP'): boolean {
  if (!ports || ports.length === 0) return true
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== protocol) return false
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

const TLS_TO_PLAIN_HTTP: HttpResponse = {
  status: 400,
  body: 'Client sent an HTTP request to an HTTPS server.\n',
  contentType: 'text/plain',
}

/** viper reads a bool from the environment with Go's strconv.ParseBool. */
const envTrue = (container: any, name: string) =>
  ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(
    String((container.env ?? []).find((e: any) => e.name === name)?.value ?? ''),
  )

/**
 * The application listening on a pod's port, if any: only declared container ports listen, and the container
 * that declares the port decides what answers, by the program it runs (the chart's command lines):
 * - `mongod` (or a MongoDB image): the wire protocol only;
 * - `/app/main manager` (Gthulhu/api manager/rest/routes.go): `GET /health` → 200, `/` → the Web UI, else 404;
 * - `/app/main decisionmaker` (Gthulhu/api decisionmaker/rest/handler.go SetupRoutes): `/health`, `/version` and
 *   `/metrics`; with `DM_MTLS_ENABLE=true` (the chart's mtls.enabled; config/dm_config.go reads DM_* from the
 *   environment, decisionmaker/app/rest_app.go then serves TLS only) a plain HTTP request gets Go's 400;
 * - `/gthulhu/main daemon` on its `monitor-metrics` port (Gthulhu/Gthulhu monitor/monitor.go: `/metrics`,
 *   `/healthz`), declared only with the chart's monitoring.enabled.
 * Pods made by tests without those command lines fall back to their labels (component=manager, app=decisionmaker).
 */
export function appAt(pod: KubeObject, port: number): App | undefined {
  const container = (pod.spec?.containers ?? []).find((c: any) =>
    (c.ports ?? []).some((p: any) => p.containerPort === port),
  )
  if (!container) return undefined
  const labels = pod.metadata.labels ?? {}
  const argv = [...(container.command ?? []), ...(container.args ?? [])].map(String)
  const program = argv.slice(0, 2).join(' ')
  if (
    argv[0] === 'mongod' ||
    /mongo/.test(String(container.image ?? '')) ||
    labels['app.kubernetes.io/component'] === 'mongodb'
  )
    return 'tcp'
  if (program === '/gthulhu/main daemon') {
    return (req) =>
      req.path === '/metrics'
        ? { status: 200, body: '# HELP up 1\nup 1\n', contentType: 'text/plain' }
        : req.path === '/healthz'
          ? { status: 200, body: 'ok', contentType: 'text/plain' }
          : { status: 404, body: '404 page not found\n', contentType: 'text/plain' }
  }
  if (program === '/app/main manager' || (!argv.length && labels['app.kubernetes.io/component'] === 'manager')) {
    return (req) =>
      req.path === '/health'
        ? json(200, { status: 'ok' })
        : req.path === '/' || req.path === '/index.html'
          ? { status: 200, body: MANAGER_PAGE, contentType: 'text/html' }
          : json(404, { error: 'not found' })
  }
  if (program === '/app/main decisionmaker' || (!argv.length && labels.app === 'decisionmaker')) {
    if (envTrue(container, 'DM_MTLS_ENABLE')) return () => TLS_TO_PLAIN_HTTP
    return (req) =>
      req.path === '/health' || req.path === '/version'
        ? json(200, { status: 'ok' })
        : req.path === '/metrics'
          ? { status: 200, body: '# HELP up 1\nup 1\n', contentType: 'text/plain' }
          : json(404, { error: 'not found' })
  }
  return () => ({ status: 200, body: 'ok', contentType: 'text/plain' })
}
