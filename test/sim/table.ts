// Server-side printing: the meta.k8s.io/v1 Table kubectl asks for (`Accept: …;as=Table`) when it prints
// human-readable output. Columns follow what real clusters show for the common kinds.
import type { KubeObject, ResourceType, Store } from './store.ts'

interface Column {
  name: string
  type?: string
  priority?: number // 1 = only with -o wide
  cell: (o: KubeObject) => string | number
}

// A LoadBalancer that no controller has given an address yet shows <pending>, as kubectl prints it.
const externalIp = (o: KubeObject) => {
  const assigned = (o.status?.loadBalancer?.ingress ?? []).map((i: any) => i.ip ?? i.hostname).join(',')
  if (assigned) return assigned
  return o.spec?.type === 'LoadBalancer' ? '<pending>' : none(o.spec?.externalName)
}
const none = (v: unknown) => (v === undefined || v === null || v === '' ? '<none>' : String(v))

/** Human-readable age, in the style kubectl prints (5s, 3m20s, 2h10m, 4d). */
export function age(timestamp: string | undefined, now = Date.now()): string {
  if (!timestamp) return '<unknown>'
  const s = Math.max(0, Math.floor((now - Date.parse(timestamp)) / 1000))
  const m = Math.floor(s / 60)
  const h = Math.floor(m / 60)
  const d = Math.floor(h / 24)
  if (s < 120) return `${s}s`
  if (m < 10) return s % 60 ? `${m}m${s % 60}s` : `${m}m`
  if (h < 3) return `${m}m`
  if (h < 8) return m % 60 ? `${h}h${m % 60}m` : `${h}h`
  if (d < 2) return `${h}h`
  if (d < 8) return h % 24 ? `${d}d${h % 24}h` : `${d}d`
  return `${d}d`
}

function podStatus(pod: KubeObject): string {
  if (pod.metadata.deletionTimestamp) return 'Terminating'
  for (const c of pod.status?.containerStatuses ?? []) {
    if (c.state?.waiting?.reason) return c.state.waiting.reason
    if (c.state?.terminated?.reason && pod.status?.phase === 'Running') return c.state.terminated.reason
  }
  return pod.status?.reason ?? pod.status?.phase ?? 'Pending'
}

const servicePorts = (svc: KubeObject) =>
  none(
    (svc.spec?.ports ?? [])
      .map((p: any) => `${p.port}${p.nodePort ? ':' + p.nodePort : ''}/${p.protocol ?? 'TCP'}`)
      .join(','),
  )
const selectorText = (selector: Record<string, string> | undefined) =>
  none(
    Object.entries(selector ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  )
const containerField = (o: KubeObject, field: 'name' | 'image') =>
  (o.spec?.template?.spec?.containers ?? []).map((c: any) => c[field]).join(',')

const name: Column = { name: 'Name', cell: (o) => o.metadata.name }
const ageColumn: Column = { name: 'Age', cell: (o) => age(o.metadata.creationTimestamp) }

const COLUMNS: Record<string, Column[]> = {
  '/Pod': [
    name,
    {
      name: 'Ready',
      cell: (o) =>
        `${(o.status?.containerStatuses ?? []).filter((c: any) => c.ready).length}/${(o.spec?.containers ?? []).length}`,
    },
    { name: 'Status', cell: podStatus },
    {
      name: 'Restarts',
      type: 'string',
      cell: (o) =>
        String((o.status?.containerStatuses ?? []).reduce((n: number, c: any) => n + (c.restartCount ?? 0), 0)),
    },
    ageColumn,
    { name: 'IP', priority: 1, cell: (o) => none(o.status?.podIP) },
    { name: 'Node', priority: 1, cell: (o) => none(o.spec?.nodeName) },
    { name: 'Nominated Node', priority: 1, cell: (o) => none(o.status?.nominatedNodeName) },
    {
      name: 'Readiness Gates',
      priority: 1,
      cell: (o) => none((o.spec?.readinessGates ?? []).map((g: any) => g.conditionType).join(',')),
    },
  ],
  '/Service': [
    name,
    { name: 'Type', cell: (o) => o.spec?.type ?? 'ClusterIP' },
    { name: 'Cluster-IP', cell: (o) => none(o.spec?.clusterIP) },
    { name: 'External-IP', cell: externalIp },
    { name: 'Port(s)', cell: servicePorts },
    ageColumn,
    { name: 'Selector', priority: 1, cell: (o) => selectorText(o.spec?.selector) },
  ],
  '/Namespace': [name, { name: 'Status', cell: (o) => o.status?.phase ?? 'Active' }, ageColumn],
  '/Node': [
    name,
    {
      name: 'Status',
      cell: (o) =>
        (o.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True') ? 'Ready' : 'NotReady',
    },
    {
      name: 'Roles',
      cell: (o) =>
        none(
          Object.keys(o.metadata.labels ?? {})
            .filter((k) => k.startsWith('node-role.kubernetes.io/'))
            .map((k) => k.slice(24))
            .join(','),
        ),
    },
    ageColumn,
    { name: 'Version', cell: (o) => o.status?.nodeInfo?.kubeletVersion ?? '' },
    {
      name: 'Internal-IP',
      priority: 1,
      cell: (o) => none((o.status?.addresses ?? []).find((a: any) => a.type === 'InternalIP')?.address),
    },
  ],
  '/ConfigMap': [
    name,
    { name: 'Data', type: 'integer', cell: (o) => Object.keys({ ...o.data, ...o.binaryData }).length },
    ageColumn,
  ],
  '/Secret': [
    name,
    { name: 'Type', cell: (o) => o.type ?? 'Opaque' },
    { name: 'Data', type: 'integer', cell: (o) => Object.keys({ ...o.data, ...o.stringData }).length },
    ageColumn,
  ],
  // kubernetes pkg/printers/internalversion/printers.go leaseColumnDefinitions.
  'coordination.k8s.io/Lease': [name, { name: 'Holder', cell: (o) => o.spec?.holderIdentity ?? '' }, ageColumn],
  '/ServiceAccount': [name, { name: 'Secrets', type: 'integer', cell: (o) => (o.secrets ?? []).length }, ageColumn],
  'apps/Deployment': [
    name,
    { name: 'Ready', cell: (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}` },
    { name: 'Up-to-date', type: 'integer', cell: (o) => o.status?.updatedReplicas ?? 0 },
    { name: 'Available', type: 'integer', cell: (o) => o.status?.availableReplicas ?? 0 },
    ageColumn,
    { name: 'Containers', priority: 1, cell: (o) => containerField(o, 'name') },
    { name: 'Images', priority: 1, cell: (o) => containerField(o, 'image') },
    { name: 'Selector', priority: 1, cell: (o) => selectorText(o.spec?.selector?.matchLabels) },
  ],
  'apps/DaemonSet': [
    name,
    { name: 'Desired', type: 'integer', cell: (o) => o.status?.desiredNumberScheduled ?? 0 },
    { name: 'Current', type: 'integer', cell: (o) => o.status?.currentNumberScheduled ?? 0 },
    { name: 'Ready', type: 'integer', cell: (o) => o.status?.numberReady ?? 0 },
    { name: 'Up-to-date', type: 'integer', cell: (o) => o.status?.updatedNumberScheduled ?? 0 },
    { name: 'Available', type: 'integer', cell: (o) => o.status?.numberAvailable ?? 0 },
    { name: 'Node Selector', cell: (o) => selectorText(o.spec?.template?.spec?.nodeSelector) },
    ageColumn,
    { name: 'Containers', priority: 1, cell: (o) => containerField(o, 'name') },
    { name: 'Images', priority: 1, cell: (o) => containerField(o, 'image') },
  ],
  'apps/StatefulSet': [
    name,
    { name: 'Ready', cell: (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}` },
    ageColumn,
    { name: 'Containers', priority: 1, cell: (o) => containerField(o, 'name') },
    { name: 'Images', priority: 1, cell: (o) => containerField(o, 'image') },
  ],
  'apps/ReplicaSet': [
    name,
    { name: 'Desired', type: 'integer', cell: (o) => o.spec?.replicas ?? 1 },
    { name: 'Current', type: 'integer', cell: (o) => o.status?.replicas ?? 0 },
    { name: 'Ready', type: 'integer', cell: (o) => o.status?.readyReplicas ?? 0 },
    ageColumn,
  ],
  'apiextensions.k8s.io/CustomResourceDefinition': [
    name,
    { name: 'Created At', type: 'date', cell: (o) => o.metadata.creationTimestamp ?? '' },
  ],
}

/** Evaluates the simple JSONPaths CRD printer columns use (`.status.phase`, `.spec.ports[0].port`). */
function simpleJsonPath(o: KubeObject, path: string): unknown {
  let node: any = o
  for (const part of path
    .replace(/^\./, '')
    .split(/\.|\[(\d+)\]/)
    .filter(Boolean)) {
    if (node === undefined || node === null) return undefined
    node = node[part]
  }
  return node
}

function crdColumns(store: Store, rt: ResourceType): Column[] | undefined {
  if (!rt.crd) return undefined
  const crdType = store.findType('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')
  const crd = crdType && store.get(crdType, undefined, rt.crd)
  const version = (crd?.spec?.versions ?? []).find((v: any) => v.name === rt.version)
  const printers: any[] = version?.additionalPrinterColumns ?? []
  if (!printers.length) return undefined
  return [
    name,
    ...printers.map((p) => ({
      name: p.name,
      type: p.type,
      priority: p.priority ?? 0,
      cell: (o: KubeObject) => {
        const value = simpleJsonPath(o, p.jsonPath)
        if (p.type === 'date' && typeof value === 'string') return age(value)
        return value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : (value as string | number)
      },
    })),
    ...(printers.some((p) => p.jsonPath === '.metadata.creationTimestamp') ? [] : [ageColumn]),
  ]
}

/** Builds the Table for a list of objects; `includeObject` is the request's includeObject parameter. */
export function toTable(
  store: Store,
  rt: ResourceType,
  objects: KubeObject[],
  includeObject: string | null,
  resourceVersion: string,
): object {
  const columns = COLUMNS[`${rt.group}/${rt.kind}`] ?? crdColumns(store, rt) ?? [name, ageColumn]
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: columns.map((c) => ({
      name: c.name,
      type: c.type ?? 'string',
      format: c.name === 'Name' ? 'name' : '',
      description: c.name,
      priority: c.priority ?? 0,
    })),
    rows: objects.map((o) => ({
      cells: columns.map((c) => c.cell(o)),
      object:
        includeObject === 'Object'
          ? o
          : includeObject === 'None'
            ? undefined
            : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  }
}
