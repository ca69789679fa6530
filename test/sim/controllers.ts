// The simulated cluster's controllers and kubelet, level-triggered: any store change schedules one
// reconcile pass that brings every object one step closer to its desired state (workloads → pods,
// pod phases and readiness, ambient enrolment, Istio gateways and waypoints, route/policy status).
// Passes never overlap; time-based steps (pod start, probe run, rollout pacing) schedule a wake-up.
import { createHash } from 'node:crypto'
import type { Faults } from './faults.ts'
import type { KubeObject, ResourceType, Store } from './store.ts'
import { admit } from './builtin-types.ts'
import { allocateNodePort } from './node-ports.ts'
import { httpAttributesOf, targetRefsOf } from './authz.ts'
import {
  ClusterView,
  DATAPLANE_LABEL,
  GATEWAY_GROUP,
  GATEWAY_NAME_LABEL,
  ISTIO_NAMESPACE,
  REDIRECTION_ANNOTATION,
  getOf,
  isPodReady,
  listOf,
  now,
  resolvePort,
  selects,
  typeOf,
  type Cni,
  type KindName,
} from './cluster-view.ts'
import { NODE_IP, NetworkModel, isGatewayPod } from './network.ts'
import { ProbeShell } from './probe-shell.ts'

export const NODE_NAME = 'sim-node-1'
export const GATEWAY_CONTROLLER = 'istio.io/gateway-controller'
export const MESH_CONTROLLER = 'istio.io/mesh-controller'

export interface Timing {
  podStartMs: number
  probeRunMs: number
  rolloutStepMs: number
}

export const DEFAULT_TIMING: Timing = { podStartMs: 120, probeRunMs: 150, rolloutStepMs: 150 }

export interface WorldConfig {
  cni: Cni
  timing: Timing
}

type WorkloadKind = 'deployment' | 'daemonSet' | 'statefulSet'
const WORKLOAD_KINDS: WorkloadKind[] = ['deployment', 'daemonSet', 'statefulSet']

interface ProbeResult {
  exitCode: number
  output: string
  finishAt: number
  startedAt: string
}

export class Controllers {
  private unsubscribe?: () => void
  private timer?: NodeJS.Timeout
  private wakeAt = Infinity
  private running = false
  private dirty = false
  private stopped = false
  private readonly firstSeen = new Map<string, number>()
  private readonly lastStep = new Map<string, number>()
  private readonly probeResults = new Map<string, ProbeResult>()
  private passWaiters: (() => void)[] = []

  constructor(
    readonly store: Store,
    readonly faults: Faults,
    readonly config: WorldConfig,
  ) {}

  start(): void {
    this.unsubscribe = this.store.subscribe(() => this.kick())
    this.kick()
  }

  stop(): void {
    this.stopped = true
    this.unsubscribe?.()
    clearTimeout(this.timer)
    for (const w of this.passWaiters.splice(0)) w()
  }

  /** Schedules a reconcile pass soon (coalescing bursts of changes). */
  kick(delayMs = 5): void {
    if (this.stopped) return
    if (this.running) {
      this.dirty = true
      return
    }
    this.schedule(Date.now() + delayMs + this.faults.controllerDelayMs)
  }

  /** Resolves after the next complete reconcile pass. */
  nextPass(): Promise<void> {
    return new Promise((resolve) => {
      this.passWaiters.push(resolve)
      this.kick()
    })
  }

  private schedule(at: number): void {
    if (at >= this.wakeAt) return
    clearTimeout(this.timer)
    this.wakeAt = at
    this.timer = setTimeout(() => {
      this.wakeAt = Infinity
      void this.pass()
    }, Math.max(0, at - Date.now()))
  }

  private async pass(): Promise<void> {
    if (this.stopped) return
    this.running = true
    this.dirty = false
    let nextWake = Infinity
    const wakeAt = (t: number) => (nextWake = Math.min(nextWake, t))
    try {
      this.collectGarbage()
      this.reconcileIstio()
      await this.reconcileGateways()
      for (const kind of WORKLOAD_KINDS) for (const w of listOf(this.store, kind)) this.reconcileWorkload(kind, w, wakeAt)
      this.reconcileEnrolment()
      this.reconcilePods(wakeAt)
      for (const kind of WORKLOAD_KINDS) for (const w of listOf(this.store, kind)) this.updateWorkloadStatus(kind, w)
      this.updateGatewayStatus()
      this.updateRouteStatus()
      this.updatePolicyStatus()
    } catch (error) {
      console.error('sim: reconcile pass failed:', error)
      wakeAt(Date.now() + 200)
    } finally {
      this.running = false
    }
    for (const w of this.passWaiters.splice(0)) w()
    if (this.stopped) return
    if (this.dirty) this.schedule(Date.now() + 5 + this.faults.controllerDelayMs)
    if (nextWake < Infinity) this.schedule(nextWake + this.faults.controllerDelayMs)
  }

  // ---- helpers ----

  private rt(kind: KindName): ResourceType {
    const rt = typeOf(this.store, kind)
    if (!rt) throw new Error(`sim: ${kind} is not served`)
    return rt
  }

  private tryDelete(kind: KindName, o: KubeObject): void {
    try {
      this.store.delete(this.rt(kind), o.metadata.namespace, o.metadata.name)
    } catch {}
  }

  private writeStatus(kind: KindName, o: KubeObject, status: any): void {
    if (JSON.stringify(o.status ?? {}) === JSON.stringify(status)) return
    try {
      this.store.mutate(this.rt(kind), o.metadata.namespace, o.metadata.name, (current) => {
        current.status = status
      })
    } catch {}
  }

  /** Keeps a condition's lastTransitionTime unless its status changed. */
  private condition(previous: any[] | undefined, type: string, status: boolean | 'Unknown', reason: string, message: string, generation?: number) {
    const value = status === 'Unknown' ? 'Unknown' : status ? 'True' : 'False'
    const before = (previous ?? []).find((c: any) => c.type === type)
    return {
      type,
      status: value,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      lastTransitionTime: before?.status === value ? before.lastTransitionTime : now(),
      reason,
      message,
    }
  }

  // ---- garbage collection (ownerReferences) ----

  private collectGarbage(): void {
    const alive = new Set<string>()
    for (const kind of [...WORKLOAD_KINDS, 'gateway'] as KindName[]) for (const o of listOf(this.store, kind)) alive.add(o.metadata.uid!)
    for (const kind of ['pod', 'deployment', 'daemonSet', 'statefulSet', 'service', 'serviceAccount'] as KindName[]) {
      for (const o of listOf(this.store, kind)) {
        const owners = (o.metadata.ownerReferences ?? []).filter((r) =>
          ['Deployment', 'DaemonSet', 'StatefulSet', 'Gateway'].includes(r.kind),
        )
        if (owners.length && owners.every((r) => !alive.has(r.uid))) this.tryDelete(kind, o)
      }
    }
  }

  // ---- Istio control plane: GatewayClasses ----

  private istiodVersion(): string | undefined {
    const istiod = getOf(this.store, 'deployment', ISTIO_NAMESPACE, 'istiod')
    const image = String(istiod?.spec?.template?.spec?.containers?.[0]?.image ?? '')
    return istiod ? image.split(':').pop() || 'unknown' : undefined
  }

  private istiodReady(): boolean {
    const istiod = getOf(this.store, 'deployment', ISTIO_NAMESPACE, 'istiod')
    return (istiod?.status?.readyReplicas ?? 0) > 0
  }

  private reconcileIstio(): void {
    const classType = typeOf(this.store, 'gatewayClass')
    if (!classType || !this.istiodVersion()) return
    // istiod creates its default GatewayClasses whenever the Gateway API CRDs are present.
    for (const [name, controllerName] of [
      ['istio', GATEWAY_CONTROLLER],
      ['istio-waypoint', MESH_CONTROLLER],
    ]) {
      let gc = this.store.get(classType, undefined, name)
      if (!gc) {
        try {
          gc = this.store.create(classType, {
            apiVersion: `${GATEWAY_GROUP}/${classType.version}`,
            kind: 'GatewayClass',
            metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'istio' } },
            spec: { controllerName, description: `The default Istio GatewayClass for ${name === 'istio' ? 'ingress' : 'waypoint'} gateways` },
          })
        } catch {
          continue
        }
      }
      if (!this.istiodReady()) continue
      const conditions = [this.condition(gc.status?.conditions, 'Accepted', true, 'Accepted', 'Handled by Istio controller', gc.metadata.generation)]
      this.writeStatus('gatewayClass', gc, { ...gc.status, conditions })
    }
  }

  // ---- Gateways and waypoints → Deployment, Service, ServiceAccount ----

  private async reconcileGateways(): Promise<void> {
    const version = this.istiodVersion()
    if (!version || !this.istiodReady()) return
    for (const gw of listOf(this.store, 'gateway')) {
      const cls = gw.spec?.gatewayClassName
      if (cls !== 'istio' && cls !== 'istio-waypoint') continue
      if (!getOf(this.store, 'gatewayClass', undefined, cls)) continue
      await this.ensureGatewayObjects(gw, cls === 'istio-waypoint', version)
    }
  }

  private async ensureGatewayObjects(gw: KubeObject, waypoint: boolean, version: string): Promise<void> {
    const ns = gw.metadata.namespace!
    const name = waypoint ? gw.metadata.name : `${gw.metadata.name}-istio`
    const owner = { apiVersion: gw.apiVersion, kind: 'Gateway', name: gw.metadata.name, uid: gw.metadata.uid!, controller: true }
    const labels: Record<string, string> = {
      [GATEWAY_NAME_LABEL]: gw.metadata.name,
      'gateway.istio.io/managed': waypoint ? 'istio.io-mesh-controller' : 'istio.io-gateway-controller',
      ...(waypoint ? { 'istio.io/waypoint-for': gw.metadata.labels?.['istio.io/waypoint-for'] ?? 'service' } : {}),
    }
    const listeners: any[] = gw.spec?.listeners ?? []
    const listenerPorts = waypoint
      ? [{ name: 'mesh', port: 15008, protocol: 'HBONE' }]
      : listeners.filter((l, i) => listeners.findIndex((o) => o.port === l.port) === i)
    const meta = (extra: Record<string, unknown> = {}) => ({ name, namespace: ns, labels, ownerReferences: [owner], ...extra })

    if (!getOf(this.store, 'serviceAccount', ns, name)) {
      this.store.create(this.rt('serviceAccount'), { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta() })
    }

    const template = {
      metadata: { labels: { ...labels, 'sidecar.istio.io/inject': 'false', 'service.istio.io/canonical-name': name } },
      spec: {
        serviceAccountName: name,
        containers: [
          {
            name: 'istio-proxy',
            image: `docker.io/istio/proxyv2:${version}`,
            ports: [
              { name: 'status-port', containerPort: 15021, protocol: 'TCP' },
              ...listenerPorts.map((l: any) => ({ containerPort: l.port, protocol: 'TCP' })),
            ],
            readinessProbe: { httpGet: { path: '/healthz/ready', port: 15021 }, periodSeconds: 15 },
          },
        ],
      },
    }
    const deployment = getOf(this.store, 'deployment', ns, name)
    const spec = { replicas: 1, selector: { matchLabels: { [GATEWAY_NAME_LABEL]: gw.metadata.name } }, template }
    if (!deployment) {
      this.store.create(this.rt('deployment'), { apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta(), spec })
    } else if (JSON.stringify(deployment.spec) !== JSON.stringify(spec)) {
      this.store.update(this.rt('deployment'), { ...deployment, spec })
    }

    const type = waypoint ? 'ClusterIP' : gw.metadata.annotations?.['networking.istio.io/service-type'] ?? 'LoadBalancer'
    const existing = getOf(this.store, 'service', ns, name)
    const ports = [
      { name: 'status-port', port: 15021, protocol: 'TCP', targetPort: 15021, appProtocol: 'tcp' },
      ...listenerPorts.map((l: any, i: number) => ({
        name: l.name ?? `${String(l.protocol).toLowerCase()}-${i}`,
        port: l.port,
        protocol: 'TCP',
        targetPort: l.port,
        appProtocol: String(l.protocol ?? 'tcp').toLowerCase(),
      })),
    ]
    const desired: KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { ...(existing?.metadata ?? {}), ...meta() },
      spec: { ...(existing?.spec ?? {}), type, selector: { [GATEWAY_NAME_LABEL]: gw.metadata.name }, ports },
      status: type === 'LoadBalancer' ? { loadBalancer: {} } : {},
    }
    const sameShape = (s?: KubeObject) =>
      s && s.spec?.type === type && JSON.stringify(s.spec.ports.map(({ nodePort, ...p }: any) => p)) === JSON.stringify(ports)
    if (sameShape(existing)) return
    const svcType = this.rt('service')
    await admit({ store: this.store, allocateNodePort }, svcType, desired, existing)
    if (existing) this.store.update(svcType, desired)
    else this.store.create(svcType, desired)
  }

  // ---- workloads → pods ----

  private reconcileWorkload(kind: WorkloadKind, w: KubeObject, wakeAt: (t: number) => void): void {
    const defaults = this.workloadDefaults(kind, w)
    if (defaults) {
      this.store.update(this.rt(kind), defaults)
      return
    }
    const hash = createHash('sha256').update(JSON.stringify(w.spec?.template ?? {})).digest('hex').slice(0, 10)
    const revision = kind === 'statefulSet' ? `${w.metadata.name}-${hash}` : hash
    const revisionLabel = kind === 'deployment' ? 'pod-template-hash' : 'controller-revision-hash'
    const pods = listOf(this.store, 'pod', w.metadata.namespace).filter((p) =>
      (p.metadata.ownerReferences ?? []).some((r) => r.uid === w.metadata.uid),
    )
    const isNew = (p: KubeObject) => p.metadata.labels?.[revisionLabel] === revision
    const fresh = pods.filter(isNew)
    const old = pods.filter((p) => !isNew(p))
    const desired = kind === 'daemonSet' ? 1 : Number(w.spec?.replicas ?? 1)
    const frozen = old.length > 0 && this.faults.rolloutNeverConverges.includes(w.metadata.name)
    if (frozen) {
      wakeAt(Date.now() + 200) // faults change without store events: look again soon
      return
    }
    // Pace every step after the first pods exist, so rollouts take visible time.
    const last = this.lastStep.get(w.metadata.uid!) ?? 0
    if (pods.length > 0 && Date.now() < last + this.config.timing.rolloutStepMs) {
      wakeAt(last + this.config.timing.rolloutStepMs)
      return
    }
    const step = () => {
      this.lastStep.set(w.metadata.uid!, Date.now())
      wakeAt(Date.now() + this.config.timing.rolloutStepMs)
    }
    const create = (name: string, extra: Record<string, any> = {}) => {
      this.store.create(this.rt('pod'), this.podFor(kind, w, name, { [revisionLabel]: revision, ...extra.labels }, extra.spec))
    }

    if (kind === 'statefulSet') {
      for (let i = 0; i < desired; i++) {
        const name = `${w.metadata.name}-${i}`
        const pod = pods.find((p) => p.metadata.name === name)
        if (!pod) {
          const lowerReady = pods.filter((p) => ordinal(p) < i).every(isPodReady)
          if (lowerReady) {
            create(name, {
              labels: { 'statefulset.kubernetes.io/pod-name': name, 'apps.kubernetes.io/pod-index': String(i) },
              spec: { hostname: name, subdomain: w.spec?.serviceName },
            })
            step()
          }
          return
        }
      }
      const surplus = pods.filter((p) => ordinal(p) >= desired).sort((a, b) => ordinal(b) - ordinal(a))[0]
      if (surplus) {
        this.tryDelete('pod', surplus)
        return step()
      }
      // Rolling update: highest ordinal first, once every pod is ready.
      const stale = old.sort((a, b) => ordinal(b) - ordinal(a))[0]
      if (stale && pods.every(isPodReady)) {
        this.tryDelete('pod', stale)
        step()
      }
      return
    }

    if (kind === 'daemonSet') {
      // maxUnavailable 1 on one node: the old pod goes first, then its replacement starts.
      if (old.length) {
        for (const p of old) this.tryDelete('pod', p)
        return step()
      }
      if (fresh.length < desired) {
        create(`${w.metadata.name}-${randomSuffix()}`, { labels: { 'pod-template-generation': String(w.metadata.generation ?? 1) } })
        step()
      }
      return
    }

    // Deployment: surge first, remove old pods once the new ones are ready.
    const podBase = `${w.metadata.name}-${hash}`
    if (fresh.length < desired) {
      const count = pods.length === 0 ? desired : 1
      for (let i = 0; i < count; i++) create(`${podBase}-${randomSuffix()}`)
      return step()
    }
    if (fresh.length > desired) {
      for (const p of fresh.slice(desired)) this.tryDelete('pod', p)
      return step()
    }
    if (old.length && fresh.filter(isPodReady).length >= desired) {
      for (const p of old) this.tryDelete('pod', p)
      step()
    }
  }

  /** Defaults the API server would have set and `kubectl rollout status` relies on; undefined when complete. */
  private workloadDefaults(kind: WorkloadKind, w: KubeObject): KubeObject | undefined {
    if (kind === 'deployment') return undefined
    if (w.spec?.updateStrategy?.type) return undefined
    return {
      ...w,
      spec: {
        ...w.spec,
        updateStrategy:
          kind === 'daemonSet'
            ? { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }
            : { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      },
    }
  }

  private podFor(kind: WorkloadKind, w: KubeObject, name: string, labels: Record<string, string>, specExtra: any = {}): KubeObject {
    const template = w.spec?.template ?? {}
    const apiKind = { deployment: 'Deployment', daemonSet: 'DaemonSet', statefulSet: 'StatefulSet' }[kind]
    const serviceAccountName = template.spec?.serviceAccountName ?? template.spec?.serviceAccount ?? 'default'
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: w.metadata.namespace,
        labels: { ...(template.metadata?.labels ?? {}), ...labels },
        ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
        ownerReferences: [{ apiVersion: 'apps/v1', kind: apiKind, name: w.metadata.name, uid: w.metadata.uid!, controller: true }],
      },
      spec: {
        restartPolicy: 'Always',
        ...(template.spec ?? {}),
        ...specExtra,
        serviceAccountName,
        serviceAccount: serviceAccountName,
        nodeName: NODE_NAME,
      },
      status: {
        phase: 'Pending',
        qosClass: 'BestEffort',
        conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: now() }],
      },
    }
  }

  // ---- ambient enrolment ----

  private ztunnelReady(): boolean {
    const ztunnel = getOf(this.store, 'daemonSet', ISTIO_NAMESPACE, 'ztunnel')
    return (ztunnel?.status?.numberReady ?? 0) > 0
  }

  private reconcileEnrolment(): void {
    const ztunnel = this.ztunnelReady()
    const nsLabels = new Map(listOf(this.store, 'namespace').map((n) => [n.metadata.name, n.metadata.labels ?? {}]))
    for (const pod of listOf(this.store, 'pod')) {
      if (pod.spec?.hostNetwork || pod.metadata.deletionTimestamp) continue
      const podMode = pod.metadata.labels?.[DATAPLANE_LABEL]
      const nsMode = nsLabels.get(pod.metadata.namespace!)?.[DATAPLANE_LABEL]
      const want =
        ztunnel &&
        !isGatewayPod(pod) &&
        pod.metadata.namespace !== ISTIO_NAMESPACE &&
        (podMode === 'ambient' || (nsMode === 'ambient' && podMode !== 'none'))
      const has = pod.metadata.annotations?.[REDIRECTION_ANNOTATION] === 'enabled'
      if (want === has) continue
      this.store.mutate(this.rt('pod'), pod.metadata.namespace, pod.metadata.name, (p) => {
        const annotations = { ...(p.metadata.annotations ?? {}) }
        if (want) annotations[REDIRECTION_ANNOTATION] = 'enabled'
        else delete annotations[REDIRECTION_ANNOTATION]
        p.metadata.annotations = annotations
      })
    }
  }

  // ---- kubelet: phases, readiness, probe pods ----

  private reconcilePods(wakeAt: (t: number) => void): void {
    const model = new NetworkModel(new ClusterView(this.store, this.config.cni))
    const pods = listOf(this.store, 'pod')
    const usedIps = new Set(pods.map((p) => p.status?.podIP).filter(Boolean))
    const nextIp = () => {
      for (let n = 2; n < 65000; n++) {
        const ip = `10.244.${n >> 8}.${n & 255}`
        if ((n & 255) > 1 && (n & 255) < 255 && !usedIps.has(ip)) {
          usedIps.add(ip)
          return ip
        }
      }
      throw new Error('pod IP range exhausted')
    }
    const t = Date.now()
    const live = new Set<string>()
    for (const pod of pods) {
      const uid = pod.metadata.uid!
      live.add(uid)
      if (!this.firstSeen.has(uid)) this.firstSeen.set(uid, t)
      const seen = this.firstSeen.get(uid)!
      const phase = pod.status?.phase ?? 'Pending'
      if (phase === 'Succeeded' || phase === 'Failed') continue
      const probe = isProbePod(pod)
      if (probe && this.faults.probePodsPending) {
        this.writeStatus('pod', pod, unschedulableStatus(pod))
        continue
      }
      const startAfter = probe ? this.config.timing.probeRunMs : this.config.timing.podStartMs
      if (phase === 'Pending') {
        if (t < seen + startAfter) {
          wakeAt(seen + startAfter)
          continue
        }
        const ip = pod.spec?.hostNetwork ? NODE_IP : pod.status?.podIP ?? nextIp()
        const started = { ...pod, status: runningStatus(pod, ip) }
        if (probe) {
          const run = new ProbeShell(model, started).run()
          this.probeResults.set(uid, { ...run, finishAt: t + run.elapsedMs, startedAt: now() })
          wakeAt(t + run.elapsedMs)
        }
        this.writeStatus('pod', pod, this.withReadiness(started, model, probe))
        continue
      }
      if (probe) {
        const result = this.probeResults.get(uid)
        if (!result) {
          // A probe pod we did not start (e.g. the simulator restarted): run it now.
          const run = new ProbeShell(model, pod).run()
          this.probeResults.set(uid, { ...run, finishAt: t + run.elapsedMs, startedAt: now() })
          wakeAt(t + run.elapsedMs)
          continue
        }
        if (t < result.finishAt) {
          wakeAt(result.finishAt)
          continue
        }
        this.store.podLogs.set(`${pod.metadata.namespace}/${pod.metadata.name}`, result.output)
        this.writeStatus('pod', pod, terminatedStatus(pod, result))
        continue
      }
      this.writeStatus('pod', pod, this.withReadiness(pod, model, false))
    }
    for (const uid of this.firstSeen.keys()) if (!live.has(uid)) this.firstSeen.delete(uid)
    for (const uid of this.probeResults.keys()) if (!live.has(uid)) this.probeResults.delete(uid)
  }

  /** Sets Ready from the readiness probes' reachability (the ambient kubelet-probe trap lives here). */
  private withReadiness(pod: KubeObject, model: NetworkModel, probePod: boolean): any {
    const containers: any[] = pod.spec?.containers ?? []
    const blocked = new Set<string>()
    for (const c of containers) {
      const probe = c.readinessProbe
      const port = probe?.tcpSocket?.port ?? probe?.httpGet?.port ?? probe?.grpc?.port
      if (port === undefined) continue
      const number = resolvePort(pod, port)
      if (number !== undefined && !model.kubeletProbeAllowed(pod, number)) blocked.add(c.name)
    }
    const ready = blocked.size === 0 && !probePod
    const status = { ...pod.status }
    status.containerStatuses = (status.containerStatuses ?? []).map((cs: any) => ({ ...cs, ready: probePod ? true : !blocked.has(cs.name) }))
    const previous = status.conditions
    const message = blocked.size ? `containers with unready status: [${[...blocked].join(' ')}]` : undefined
    const cond = (type: string, ok: boolean) => {
      const c: any = this.condition(previous, type, ok, ok ? '' : 'ContainersNotReady', message ?? '')
      if (ok) {
        delete c.reason
        delete c.message
      }
      return c
    }
    status.conditions = [
      this.condition(previous, 'PodReadyToStartContainers', true, '', ''),
      this.condition(previous, 'Initialized', true, '', ''),
      cond('Ready', probePod || ready),
      cond('ContainersReady', probePod || ready),
      this.condition(previous, 'PodScheduled', true, '', ''),
    ].map((c: any) => {
      if (!c.reason) delete c.reason
      if (!c.message) delete c.message
      return c
    })
    return status
  }

  // ---- workload status as `kubectl rollout status` reads it ----

  private updateWorkloadStatus(kind: WorkloadKind, w: KubeObject): void {
    const hash = createHash('sha256').update(JSON.stringify(w.spec?.template ?? {})).digest('hex').slice(0, 10)
    const revision = kind === 'statefulSet' ? `${w.metadata.name}-${hash}` : hash
    const revisionLabel = kind === 'deployment' ? 'pod-template-hash' : 'controller-revision-hash'
    const pods = listOf(this.store, 'pod', w.metadata.namespace).filter((p) =>
      (p.metadata.ownerReferences ?? []).some((r) => r.uid === w.metadata.uid),
    )
    const updated = pods.filter((p) => p.metadata.labels?.[revisionLabel] === revision)
    const ready = pods.filter(isPodReady)
    const updatedReady = updated.filter(isPodReady)
    const generation = w.metadata.generation ?? 1
    const desired = kind === 'daemonSet' ? 1 : Number(w.spec?.replicas ?? 1)
    let status: any
    if (kind === 'deployment') {
      const complete = updated.length === desired && pods.length === desired && updatedReady.length === desired
      const previous = w.status?.conditions
      status = {
        observedGeneration: generation,
        replicas: pods.length,
        updatedReplicas: updated.length,
        readyReplicas: ready.length,
        availableReplicas: ready.length,
        ...(pods.length - ready.length > 0 ? { unavailableReplicas: pods.length - ready.length } : {}),
        conditions: [
          ready.length >= desired
            ? this.condition(previous, 'Available', true, 'MinimumReplicasAvailable', 'Deployment has minimum availability.')
            : this.condition(previous, 'Available', false, 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.'),
          complete
            ? this.condition(previous, 'Progressing', true, 'NewReplicaSetAvailable', `ReplicaSet "${w.metadata.name}-${hash}" has successfully progressed.`)
            : this.condition(previous, 'Progressing', true, 'ReplicaSetUpdated', `ReplicaSet "${w.metadata.name}-${hash}" is progressing.`),
        ],
      }
      // lastUpdateTime moves with every change on a real cluster; kept equal to the transition time here.
      for (const c of status.conditions) c.lastUpdateTime = c.lastTransitionTime
      if (status.readyReplicas === 0) delete status.readyReplicas
      if (status.availableReplicas === 0) delete status.availableReplicas
    } else if (kind === 'daemonSet') {
      status = {
        observedGeneration: generation,
        desiredNumberScheduled: desired,
        currentNumberScheduled: pods.length,
        updatedNumberScheduled: updated.length,
        numberReady: ready.length,
        numberAvailable: ready.length,
        numberMisscheduled: 0,
        ...(desired - ready.length > 0 ? { numberUnavailable: desired - ready.length } : {}),
      }
    } else {
      const previousCurrent = w.status?.currentRevision
      const allUpdated = updated.length === desired && pods.length === desired && updatedReady.length === desired
      status = {
        observedGeneration: generation,
        replicas: pods.length,
        readyReplicas: ready.length,
        availableReplicas: ready.length,
        currentReplicas: allUpdated ? updated.length : pods.length - updated.length,
        updatedReplicas: updated.length,
        currentRevision: allUpdated || !previousCurrent ? revision : previousCurrent,
        updateRevision: revision,
        collisionCount: 0,
      }
      if (status.readyReplicas === 0) delete status.readyReplicas
    }
    this.writeStatus(kind, w, status)
  }

  // ---- Gateway API and Istio status ----

  private updateGatewayStatus(): void {
    if (!this.istiodReady()) return
    const view = new ClusterView(this.store, this.config.cni)
    for (const gw of view.gateways) {
      const cls = gw.spec?.gatewayClassName
      if (cls !== 'istio' && cls !== 'istio-waypoint') continue
      const waypoint = cls === 'istio-waypoint'
      const ns = gw.metadata.namespace!
      const svcName = waypoint ? gw.metadata.name : `${gw.metadata.name}-istio`
      const svc = view.service(ns, svcName)
      if (!svc) continue
      const host = `${svcName}.${ns}.svc.cluster.local`
      const listenerPorts: number[] = waypoint ? [15008] : (gw.spec?.listeners ?? []).map((l: any) => l.port)
      const assigned = listenerPorts.map((p) => `${host}:${p}`).join(', ')
      const previous = gw.status?.conditions
      const generation = gw.metadata.generation
      const noAddress = svc.spec?.type === 'LoadBalancer' && !(svc.status?.loadBalancer?.ingress ?? []).length
      const programmed = noAddress
        ? this.condition(previous, 'Programmed', false, 'AddressNotAssigned', `Assigned to service(s) ${assigned}, but failed to assign to all requested addresses: address pending for hostname "${host}"`, generation)
        : this.condition(previous, 'Programmed', true, 'Programmed', `Resource programmed, assigned to service(s) ${assigned}`, generation)
      const routes = view.httpRoutes.filter((r) =>
        (r.spec?.parentRefs ?? []).some((ref: any) => ref.name === gw.metadata.name && (ref.namespace ?? r.metadata.namespace) === ns),
      )
      const listeners = (gw.spec?.listeners ?? []).map((l: any) => {
        const before = (gw.status?.listeners ?? []).find((x: any) => x.name === l.name)?.conditions
        return {
          name: l.name,
          attachedRoutes: waypoint
            ? 0
            : routes.filter((r) => (r.spec.parentRefs ?? []).some((ref: any) => ref.name === gw.metadata.name && (!ref.sectionName || ref.sectionName === l.name))).length,
          supportedKinds: waypoint || l.protocol === 'HBONE' ? [] : [{ group: GATEWAY_GROUP, kind: 'HTTPRoute' }, { group: GATEWAY_GROUP, kind: 'GRPCRoute' }],
          conditions: [
            this.condition(before, 'Accepted', true, 'Accepted', 'No errors found', generation),
            this.condition(before, 'Conflicted', false, 'NoConflicts', 'No errors found', generation),
            this.condition(before, 'Programmed', true, 'Programmed', 'No errors found', generation),
            this.condition(before, 'ResolvedRefs', true, 'ResolvedRefs', 'No errors found', generation),
          ],
        }
      })
      const status = {
        ...gw.status,
        addresses: noAddress ? [{ type: 'Hostname', value: host }] : [{ type: 'IPAddress', value: svc.spec?.clusterIP }],
        conditions: [this.condition(previous, 'Accepted', true, 'Accepted', 'Resource accepted', generation), programmed],
        listeners,
      }
      this.writeStatus('gateway', gw, status)
    }
  }

  private updateRouteStatus(): void {
    if (!this.istiodReady()) return
    const view = new ClusterView(this.store, this.config.cni)
    for (const route of view.httpRoutes) {
      const ns = route.metadata.namespace!
      const missing = (route.spec?.rules ?? [])
        .flatMap((r: any) => r.backendRefs ?? [])
        .filter((b: any) => (b.kind ?? 'Service') === 'Service' && !view.service(b.namespace ?? ns, b.name))
        .map((b: any) => `${b.name}.${b.namespace ?? ns}.svc.cluster.local`)
      const ours = (route.spec?.parentRefs ?? []).map((ref: any) => {
        const gw = view.gateway(ref.namespace ?? ns, ref.name)
        const before = (route.status?.parents ?? []).find((p: any) => JSON.stringify(p.parentRef) === JSON.stringify(parentRefOf(ref)))?.conditions
        const generation = route.metadata.generation
        return {
          parentRef: parentRefOf(ref),
          controllerName: GATEWAY_CONTROLLER,
          conditions: [
            gw
              ? this.condition(before, 'Accepted', true, 'Accepted', 'Route was valid', generation)
              : this.condition(before, 'Accepted', false, 'NoMatchingParent', `parent gateway ${ref.namespace ?? ns}/${ref.name} not found`, generation),
            missing.length
              ? this.condition(before, 'ResolvedRefs', false, 'BackendNotFound', `backend(${missing.join(', ')}) not found`, generation)
              : this.condition(before, 'ResolvedRefs', true, 'ResolvedRefs', 'All references resolved', generation),
          ],
        }
      })
      const others = (route.status?.parents ?? []).filter((p: any) => p.controllerName !== GATEWAY_CONTROLLER)
      this.writeStatus('httpRoute', route, { ...route.status, parents: [...others, ...ours] })
    }
  }

  private updatePolicyStatus(): void {
    if (!this.istiodReady()) return
    const view = new ClusterView(this.store, this.config.cni)
    for (const policy of view.authorizationPolicies) {
      const ns = policy.metadata.namespace!
      const previous = policy.status?.conditions
      const generation = policy.metadata.generation
      const conditions: any[] = []
      const refs = targetRefsOf(policy)
      if (refs.length) {
        const bound = refs
          .map((ref) => {
            if (ref.kind === 'Service' && !ref.group) {
              const svc = view.service(ns, ref.name)
              return svc && view.boundWaypoint(svc)
            }
            if (ref.kind === 'Gateway') {
              const gw = view.gateway(ns, ref.name)
              return gw?.spec?.gatewayClassName === 'istio-waypoint' ? gw : undefined
            }
            return undefined
          })
          .filter((g): g is KubeObject => Boolean(g))
        const ingressOnly = refs.every((r) => r.kind === 'Gateway' && view.gateway(ns, r.name)?.spec?.gatewayClassName === 'istio')
        if (!ingressOnly) {
          conditions.push(
            bound.length
              ? this.condition(previous, 'WaypointAccepted', true, 'Accepted', `bound to ${bound.map((g) => `${g.metadata.namespace}/${g.metadata.name}`).join(', ')}`, generation)
              : this.condition(previous, 'WaypointAccepted', false, 'TargetNotFound', `not bound to a waypoint: ${refs.map((r) => `${r.kind} ${ns}/${r.name}`).join(', ')} has no istio.io/use-waypoint binding to a programmed waypoint`, generation),
          )
        }
      } else {
        const selected = view.pods.filter(
          (p) => p.metadata.namespace === ns && selects(policy.spec?.selector ?? {}, p.metadata.labels) && p.metadata.annotations?.[REDIRECTION_ANNOTATION] === 'enabled',
        )
        if (selected.length) {
          const http = [...new Set((policy.spec?.rules ?? []).flatMap((r: any) => httpAttributesOf(r)))]
          const action = String(policy.spec?.action ?? 'ALLOW').toUpperCase()
          conditions.push(
            http.length
              ? this.condition(
                  previous,
                  'ZtunnelAccepted',
                  false,
                  'UnsupportedValue',
                  `ztunnel does not support HTTP attributes (found: ${http.join(', ')}). In ambient mode you must use a waypoint proxy to enforce HTTP rules. ${action === 'ALLOW' ? 'Within an ALLOW policy, rules matching HTTP attributes are omitted. This will be more restrictive than requested.' : 'Within a DENY policy, HTTP attributes are ignored. This will be more restrictive than requested.'}`,
                  generation,
                )
              : this.condition(previous, 'ZtunnelAccepted', true, 'Accepted', 'attached to ztunnel', generation),
          )
        }
      }
      if (!conditions.length && !policy.status) continue
      // istiod writes Istio status in proto JSON, where the int64 observedGeneration is a string.
      const asIstio = conditions.map((c: any) => (c.observedGeneration === undefined ? c : { ...c, observedGeneration: String(c.observedGeneration) }))
      this.writeStatus('authorizationPolicy', policy, { ...policy.status, conditions: asIstio })
    }
  }
}

function parentRefOf(ref: any) {
  return { group: ref.group ?? GATEWAY_GROUP, kind: ref.kind ?? 'Gateway', name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}), ...(ref.sectionName ? { sectionName: ref.sectionName } : {}), ...(ref.port ? { port: ref.port } : {}) }
}

const ordinal = (p: KubeObject) => Number(p.metadata.name.split('-').pop())

function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789'
  return Array.from({ length: 5 }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('')
}

/** A pod someone created directly to run a command (no controller owns it). */
export function isProbePod(pod: KubeObject): boolean {
  if ((pod.metadata.ownerReferences ?? []).length) return false
  const c = pod.spec?.containers?.[0]
  return Boolean(c?.command?.length || c?.args?.length)
}

function runningStatus(pod: KubeObject, ip: string): any {
  const started = now()
  return {
    ...pod.status,
    phase: 'Running',
    hostIP: NODE_IP,
    hostIPs: [{ ip: NODE_IP }],
    podIP: ip,
    podIPs: [{ ip }],
    startTime: started,
    qosClass: pod.status?.qosClass ?? 'BestEffort',
    containerStatuses: (pod.spec?.containers ?? []).map((c: any) => ({
      name: c.name,
      image: c.image,
      imageID: `${c.image}@sha256:${createHash('sha256').update(String(c.image)).digest('hex')}`,
      containerID: `containerd://${createHash('sha256').update(pod.metadata.uid + c.name).digest('hex')}`,
      ready: false,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: started } },
    })),
  }
}

function terminatedStatus(pod: KubeObject, result: ProbeResult): any {
  const finished = now()
  const succeeded = result.exitCode === 0
  return {
    ...pod.status,
    phase: succeeded ? 'Succeeded' : 'Failed',
    conditions: (pod.status?.conditions ?? []).map((c: any) =>
      c.type === 'Ready' || c.type === 'ContainersReady'
        ? { type: c.type, status: 'False', lastTransitionTime: finished, reason: 'PodCompleted' }
        : c,
    ),
    containerStatuses: (pod.status?.containerStatuses ?? []).map((cs: any, i: number) => ({
      ...cs,
      ready: false,
      started: false,
      state:
        i === 0
          ? {
              terminated: {
                exitCode: result.exitCode,
                reason: succeeded ? 'Completed' : 'Error',
                startedAt: result.startedAt,
                finishedAt: finished,
                containerID: cs.containerID,
              },
            }
          : cs.state,
    })),
  }
}

function unschedulableStatus(pod: KubeObject): any {
  const before = (pod.status?.conditions ?? []).find((c: any) => c.type === 'PodScheduled')
  return {
    phase: 'Pending',
    qosClass: 'BestEffort',
    conditions: [
      {
        type: 'PodScheduled',
        status: 'False',
        lastTransitionTime: before?.status === 'False' ? before.lastTransitionTime : now(),
        reason: 'Unschedulable',
        message: '0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/disk-pressure: }. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.',
      },
    ],
  }
}

