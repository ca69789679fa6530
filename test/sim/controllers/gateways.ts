// Istio's gateway controller for class `istio` (ingress) and, through a class profile, for class
// `istio-waypoint` (./waypoints.ts): a Gateway G gets a ServiceAccount, a Deployment and a Service
// named `G-istio` (pods labelled `gateway.networking.k8s.io/gateway-name: G`), and a status.
//
// Imitates istio/istio 1.29.1:
// - pilot/pkg/config/kube/gateway/deploymentcontroller.go (objects named `<gateway>-<class>`, owned by
//   the Gateway; Service type from the `networking.istio.io/service-type` annotation, else the class
//   default, LoadBalancer for `istio`; extractServicePorts: `status-port` 15021 first, then one port per
//   distinct listener port, named after the listener, appProtocol the listener's protocol);
// - manifests/charts/istio-control/istio-discovery/files/kube-gateway.yaml (labels
//   `gateway.istio.io/managed`, `sidecar.istio.io/inject: "false"`, `service.istio.io/canonical-name`;
//   readiness on /healthz/ready port 15021);
// - pilot/pkg/config/kube/gateway/conversion.go (Gateway status: Accepted `Resource accepted`;
//   Programmed `Resource programmed, assigned to service(s) …`, or False with reason AddressNotAssigned
//   while a LoadBalancer Service has no address; listener conditions `No errors found`).
// Condition types and reasons as kubernetes-sigs/gateway-api v1.4.0 apis/v1/gateway_types.go defines them.
// Simplifications: one replica, one container, no HPA/PDB; no infrastructure labels/annotations, no
// `istio.io/dataplane-mode: none` label (enrolment.ts skips gateway pods instead), no customization
// ConfigMaps, no per-listener validation (every listener is Accepted and Programmed); the Service is
// replaced only when its type or ports differ; `addresses` is the ClusterIP, or the host name while no
// load-balancer address exists; a LoadBalancer never gets an address (there is no load balancer).
import { ClusterView, GATEWAY_GROUP, GATEWAY_NAME_LABEL, getOf, listOf } from '../cluster-view.ts'
import { admit } from '../builtin-types.ts'
import { allocateNodePort } from '../node-ports.ts'
import { ISTIOD_USER } from '../authn.ts'
import type { KubeObject } from '../store.ts'
import { condition, createAs, resourceType, writeStatus, type ReconcileContext } from './context.ts'
import { istiodReady, istiodVersion } from './istio-install.ts'
import { WAYPOINT_PROFILE } from './waypoints.ts'

export interface GatewayListenerPort {
  name?: string
  port: number
  protocol?: string
}

/** What differs between Istio's two gateway classes. */
export interface GatewayClassProfile {
  /** Name of the ServiceAccount, Deployment and Service made for the Gateway. */
  objectName(gw: KubeObject): string
  /** Labels on those objects and the pods, after `gateway.networking.k8s.io/gateway-name`. */
  labels(gw: KubeObject): Record<string, string>
  /** Container and Service ports after `status-port` 15021. */
  servicePorts(gw: KubeObject): GatewayListenerPort[]
  serviceType(gw: KubeObject): string
  /** Ports named in the Programmed condition's message. */
  statusPorts(gw: KubeObject): number[]
  /** Whether listeners accept routes (attachedRoutes, supportedKinds). */
  takesRoutes: boolean
}

const listenersOf = (gw: KubeObject): any[] => gw.spec?.listeners ?? []

export const INGRESS_PROFILE: GatewayClassProfile = {
  objectName: (gw) => `${gw.metadata.name}-istio`,
  labels: () => ({ 'gateway.istio.io/managed': 'istio.io-gateway-controller' }),
  // One Service port per distinct listener port.
  servicePorts: (gw) => listenersOf(gw).filter((l, i, all) => all.findIndex((o) => o.port === l.port) === i),
  serviceType: (gw) => gw.metadata.annotations?.['networking.istio.io/service-type'] ?? 'LoadBalancer',
  statusPorts: (gw) => listenersOf(gw).map((l) => l.port),
  takesRoutes: true,
}

const PROFILES = new Map<string, GatewayClassProfile>([
  ['istio', INGRESS_PROFILE],
  ['istio-waypoint', WAYPOINT_PROFILE],
])

export async function reconcileGateways(ctx: ReconcileContext): Promise<void> {
  const { store } = ctx
  const version = istiodVersion(store)
  if (!version || !istiodReady(store)) return
  for (const gw of listOf(store, 'gateway')) {
    const cls = gw.spec?.gatewayClassName
    const profile = PROFILES.get(cls)
    if (!profile) continue
    if (!getOf(store, 'gatewayClass', undefined, cls)) continue
    await ensureGatewayObjects(ctx, gw, profile, version)
  }
}

async function ensureGatewayObjects(
  ctx: ReconcileContext,
  gw: KubeObject,
  profile: GatewayClassProfile,
  version: string,
): Promise<void> {
  const { store } = ctx
  const ns = gw.metadata.namespace!
  const name = profile.objectName(gw)
  const owner = {
    apiVersion: gw.apiVersion,
    kind: 'Gateway',
    name: gw.metadata.name,
    uid: gw.metadata.uid!,
    controller: true,
  }
  const labels: Record<string, string> = { [GATEWAY_NAME_LABEL]: gw.metadata.name, ...profile.labels(gw) }
  const listenerPorts = profile.servicePorts(gw)
  const meta = (extra: Record<string, unknown> = {}) => ({
    name,
    namespace: ns,
    labels,
    ownerReferences: [owner],
    ...extra,
  })

  // istiod creates what a Gateway needs with its own identity, through admission.
  if (!getOf(store, 'serviceAccount', ns, name)) {
    createAs(ctx, ISTIOD_USER, 'serviceAccount', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta() }, gw)
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
            ...listenerPorts.map((l) => ({ containerPort: l.port, protocol: 'TCP' })),
          ],
          readinessProbe: { httpGet: { path: '/healthz/ready', port: 15021 }, periodSeconds: 15 },
        },
      ],
    },
  }
  const deployment = getOf(store, 'deployment', ns, name)
  const spec = { replicas: 1, selector: { matchLabels: { [GATEWAY_NAME_LABEL]: gw.metadata.name } }, template }
  if (!deployment) {
    createAs(ctx, ISTIOD_USER, 'deployment', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta(), spec }, gw)
  } else if (JSON.stringify(deployment.spec) !== JSON.stringify(spec)) {
    store.update(resourceType(store, 'deployment'), { ...deployment, spec })
  }

  const type = profile.serviceType(gw)
  const existing = getOf(store, 'service', ns, name)
  const ports = [
    { name: 'status-port', port: 15021, protocol: 'TCP', targetPort: 15021, appProtocol: 'tcp' },
    ...listenerPorts.map((l, i) => ({
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
    s &&
    s.spec?.type === type &&
    JSON.stringify(s.spec.ports.map(({ nodePort, ...p }: any) => p)) === JSON.stringify(ports)
  if (sameShape(existing)) return
  const svcType = resourceType(store, 'service')
  await admit({ store, allocateNodePort }, svcType, desired, existing)
  if (existing) store.update(svcType, desired)
  else createAs(ctx, ISTIOD_USER, 'service', desired, gw)
}

export function updateGatewayStatus({ store, config }: ReconcileContext): void {
  if (!istiodReady(store)) return
  const view = new ClusterView(store, config.cni)
  for (const gw of view.gateways) {
    const profile = PROFILES.get(gw.spec?.gatewayClassName)
    if (!profile) continue
    const ns = gw.metadata.namespace!
    const svcName = profile.objectName(gw)
    const svc = view.service(ns, svcName)
    if (!svc) continue
    const host = `${svcName}.${ns}.svc.cluster.local`
    const assigned = profile
      .statusPorts(gw)
      .map((p) => `${host}:${p}`)
      .join(', ')
    const previous = gw.status?.conditions
    const generation = gw.metadata.generation
    const noAddress = svc.spec?.type === 'LoadBalancer' && !(svc.status?.loadBalancer?.ingress ?? []).length
    const programmed = noAddress
      ? condition(
          previous,
          'Programmed',
          false,
          'AddressNotAssigned',
          `Assigned to service(s) ${assigned}, but failed to assign to all requested addresses: address pending for hostname "${host}"`,
          generation,
        )
      : condition(
          previous,
          'Programmed',
          true,
          'Programmed',
          `Resource programmed, assigned to service(s) ${assigned}`,
          generation,
        )
    const routes = view.httpRoutes.filter((r) =>
      (r.spec?.parentRefs ?? []).some(
        (ref: any) => ref.name === gw.metadata.name && (ref.namespace ?? r.metadata.namespace) === ns,
      ),
    )
    const listeners = listenersOf(gw).map((l: any) => {
      const before = (gw.status?.listeners ?? []).find((x: any) => x.name === l.name)?.conditions
      return {
        name: l.name,
        attachedRoutes: profile.takesRoutes
          ? routes.filter((r) =>
              (r.spec.parentRefs ?? []).some(
                (ref: any) => ref.name === gw.metadata.name && (!ref.sectionName || ref.sectionName === l.name),
              ),
            ).length
          : 0,
        supportedKinds:
          !profile.takesRoutes || l.protocol === 'HBONE'
            ? []
            : [
                { group: GATEWAY_GROUP, kind: 'HTTPRoute' },
                { group: GATEWAY_GROUP, kind: 'GRPCRoute' },
              ],
        conditions: [
          condition(before, 'Accepted', true, 'Accepted', 'No errors found', generation),
          condition(before, 'Conflicted', false, 'NoConflicts', 'No errors found', generation),
          condition(before, 'Programmed', true, 'Programmed', 'No errors found', generation),
          condition(before, 'ResolvedRefs', true, 'ResolvedRefs', 'No errors found', generation),
        ],
      }
    })
    const status = {
      ...gw.status,
      addresses: noAddress ? [{ type: 'Hostname', value: host }] : [{ type: 'IPAddress', value: svc.spec?.clusterIP }],
      conditions: [condition(previous, 'Accepted', true, 'Accepted', 'Resource accepted', generation), programmed],
      listeners,
    }
    writeStatus(store, 'gateway', gw, status)
  }
}
