// The built-in resource types the simulated API server serves, the per-type defaulting real servers do on
// write (Service IPs and NodePorts, Pod and Namespace phases), and the CRD controller that turns applied
// CustomResourceDefinitions into served types.
import type { KubeObject, ResourceType, Store } from './store.ts'

const t = (
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced: boolean,
  extra: Partial<ResourceType> = {},
): ResourceType => ({ group, version, kind, plural, singular: kind.toLowerCase(), namespaced, ...extra })

export const BUILTIN_TYPES: ResourceType[] = [
  t('', 'v1', 'Namespace', 'namespaces', false, { shortNames: ['ns'], subresources: ['status'] }),
  t('', 'v1', 'Node', 'nodes', false, { shortNames: ['no'], subresources: ['status'] }),
  t('', 'v1', 'Pod', 'pods', true, { shortNames: ['po'], categories: ['all'], subresources: ['status', 'log'] }),
  t('', 'v1', 'Service', 'services', true, { shortNames: ['svc'], categories: ['all'], subresources: ['status'] }),
  t('', 'v1', 'ServiceAccount', 'serviceaccounts', true, { shortNames: ['sa'] }),
  t('', 'v1', 'ConfigMap', 'configmaps', true, { shortNames: ['cm'] }),
  t('', 'v1', 'Secret', 'secrets', true),
  t('', 'v1', 'Endpoints', 'endpoints', true, { shortNames: ['ep'] }),
  t('', 'v1', 'Event', 'events', true, { shortNames: ['ev'] }),
  t('apps', 'v1', 'Deployment', 'deployments', true, {
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: ['status'],
  }),
  t('apps', 'v1', 'DaemonSet', 'daemonsets', true, {
    shortNames: ['ds'],
    categories: ['all'],
    subresources: ['status'],
  }),
  t('apps', 'v1', 'StatefulSet', 'statefulsets', true, {
    shortNames: ['sts'],
    categories: ['all'],
    subresources: ['status'],
  }),
  t('apps', 'v1', 'ReplicaSet', 'replicasets', true, {
    shortNames: ['rs'],
    categories: ['all'],
    subresources: ['status'],
  }),
  t('batch', 'v1', 'Job', 'jobs', true, { categories: ['all'], subresources: ['status'] }),
  t('batch', 'v1', 'CronJob', 'cronjobs', true, { shortNames: ['cj'], categories: ['all'], subresources: ['status'] }),
  t('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies', true, { shortNames: ['netpol'] }),
  t('admissionregistration.k8s.io', 'v1', 'ValidatingAdmissionPolicy', 'validatingadmissionpolicies', false, {
    categories: ['api-extensions'],
    subresources: ['status'],
  }),
  t(
    'admissionregistration.k8s.io',
    'v1',
    'ValidatingAdmissionPolicyBinding',
    'validatingadmissionpolicybindings',
    false,
    {
      categories: ['api-extensions'],
    },
  ),
  // Create-only: `kubectl auth whoami` asks who the request's credentials (and --as) make the caller.
  t('authentication.k8s.io', 'v1', 'SelfSubjectReview', 'selfsubjectreviews', false, { verbs: ['create'] }),
  // Create-only: `kubectl auth can-i` (and istioctl x precheck) ask whether the caller may do something.
  t('authorization.k8s.io', 'v1', 'SelfSubjectAccessReview', 'selfsubjectaccessreviews', false, { verbs: ['create'] }),
  // RBAC objects, enforced by rbac.ts.
  t('rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles', false),
  t('rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding', 'clusterrolebindings', false),
  t('rbac.authorization.k8s.io', 'v1', 'Role', 'roles', true),
  t('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', true),
  // kubernetes pkg/registry/coordination/lease/strategy.go: AllowUnconditionalUpdate false, AllowCreateOnUpdate true.
  t('coordination.k8s.io', 'v1', 'Lease', 'leases', true, { conditionalUpdatesOnly: true, createOnUpdate: true }),
  t('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', false, {
    shortNames: ['crd', 'crds'],
    subresources: ['status'],
  }),
]

export function registerBuiltinTypes(store: Store): void {
  for (const rt of BUILTIN_TYPES) store.addType(rt)
}

export const isCrdType = (rt: ResourceType) =>
  rt.group === 'apiextensions.k8s.io' && rt.plural === 'customresourcedefinitions'
const CRD_TYPE = BUILTIN_TYPES.find(isCrdType)!

/** The ResourceTypes a CustomResourceDefinition serves (one per served version). */
export function typesOfCrd(crd: KubeObject): ResourceType[] {
  const spec = crd.spec ?? {}
  const names = spec.names ?? {}
  return (spec.versions ?? [])
    .filter((v: any) => v?.served !== false && typeof v?.name === 'string')
    .map((v: any) => ({
      group: spec.group,
      version: v.name,
      kind: names.kind,
      plural: names.plural,
      singular: names.singular ?? String(names.kind ?? '').toLowerCase(),
      namespaced: spec.scope !== 'Cluster',
      shortNames: names.shortNames,
      categories: names.categories,
      subresources: v.subresources?.status ? ['status'] : [],
      crd: crd.metadata.name,
    }))
}

/**
 * Serves the types of every applied CRD and marks it Established/NamesAccepted, as the apiextensions
 * controller does; deleting a CRD stops serving its types and deletes its custom resources.
 * Returns the unsubscribe function.
 */
export function watchCrdTypes(store: Store): () => void {
  const sync = (crd: KubeObject) => {
    store.removeTypesOfCrd(crd.metadata.name)
    for (const rt of typesOfCrd(crd)) store.addType(rt)
  }
  for (const crd of store.list(CRD_TYPE)) sync(crd)
  return store.subscribe((event) => {
    if (!isCrdType(event.resource)) return
    const crd = event.object
    if (event.type === 'DELETED') {
      const served = typesOfCrd(crd)
      store.removeTypesOfCrd(crd.metadata.name)
      // Deferred: a store listener must not write to the store re-entrantly.
      setImmediate(() => {
        if (served[0]) for (const o of store.list(served[0])) tryDelete(store, served[0], o)
      })
      return
    }
    sync(crd) // synchronous, so a request right after the CRD write already finds its types
    const conditions: any[] = crd.status?.conditions ?? []
    const established = ['Established', 'NamesAccepted'].every((type) =>
      conditions.some((c) => c.type === type && c.status === 'True'),
    )
    if (established && JSON.stringify(crd.status?.acceptedNames) === JSON.stringify(crd.spec?.names)) return
    setImmediate(() => {
      try {
        store.mutate(CRD_TYPE, undefined, crd.metadata.name, (current) => {
          const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
          const condition = (type: string, reason: string, message: string) => ({
            type,
            status: 'True',
            lastTransitionTime: now,
            reason,
            message,
          })
          current.status = {
            ...current.status,
            acceptedNames: current.spec?.names ?? {},
            storedVersions: (current.spec?.versions ?? []).filter((v: any) => v.storage).map((v: any) => v.name),
            conditions: [
              condition('NamesAccepted', 'NoConflicts', 'no conflicts found'),
              condition('Established', 'InitialNamesAccepted', 'the initial names have been accepted'),
            ],
          }
        })
      } catch (error) {
        console.error('sim: marking CRD established failed:', error)
      }
    })
  })
}

function tryDelete(store: Store, rt: ResourceType, o: KubeObject) {
  try {
    store.delete(rt, o.metadata.namespace, o.metadata.name)
  } catch {}
}

// ---- validation and defaulting on write ----

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/

/** Returns "field: problem" strings for an object's name, as the real server's validation would. */
export function validateName(rt: ResourceType, object: KubeObject): string[] {
  const name = object.metadata?.name
  if (!name) return ['metadata.name: Required value: name or generateName is required']
  const invalid = (why: string) => [`metadata.name: Invalid value: ${JSON.stringify(name)}: ${why}`]
  if (rt.kind === 'Namespace' && rt.group === '') {
    if (name.length > 63 || !DNS1123_LABEL.test(name)) {
      return invalid(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
      )
    }
  } else if (rt.kind === 'Service' && rt.group === '') {
    if (name.length > 63 || !DNS1035_LABEL.test(name)) {
      return invalid(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
      )
    }
  } else if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    return invalid(
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
    )
  }
  if (isCrdType(rt)) {
    const expected = `${object.spec?.names?.plural}.${object.spec?.group}`
    if (name !== expected)
      return [`metadata.name: Invalid value: ${JSON.stringify(name)}: must be spec.names.plural+"."+spec.group`]
  }
  return []
}

export interface AdmissionContext {
  store: Store
  allocateNodePort: (taken: Set<number>) => Promise<number>
}

/** Per-type defaulting on create and update; `existing` is the stored object on update. Returns problems (422). */
export async function admit(
  ctx: AdmissionContext,
  rt: ResourceType,
  object: KubeObject,
  existing?: KubeObject,
): Promise<string[]> {
  if (rt.group === 'apps') defaultWorkload(rt.kind, (object.spec ??= {}))
  if (rt.group === 'coordination.k8s.io' && rt.kind === 'Lease') return leaseProblems(object)
  if (rt.group !== '') return []
  if (rt.kind === 'Namespace') {
    // Real servers label every namespace with its own name (namespaceSelectors rely on it).
    object.metadata.labels = { ...object.metadata.labels, 'kubernetes.io/metadata.name': object.metadata.name }
    object.status = { phase: 'Active', ...object.status }
  } else if (rt.kind === 'Secret') {
    object.type ||= 'Opaque'
    return secretProblems(object)
  } else if (rt.kind === 'Pod' && !existing) {
    object.status = { phase: 'Pending', ...object.status }
  } else if (rt.kind === 'Service') {
    return admitService(ctx, rt, object, existing)
  }
  return []
}

/** A Secret's data may hold at most 1 MiB (kubernetes pkg/apis/core/validation/validation.go ValidateSecret, MaxSecretSize). */
const MAX_SECRET_BYTES = 1024 * 1024
function secretProblems(secret: KubeObject): string[] {
  const data: Record<string, unknown> = secret.data ?? {}
  const bytes = Object.values(data).reduce<number>((n, v) => n + Buffer.from(String(v), 'base64').length, 0)
  return bytes > MAX_SECRET_BYTES ? [`data: Too long: may not be more than ${MAX_SECRET_BYTES} bytes`] : []
}

// metav1.MicroTime is written and parsed as RFC 3339 with exactly six fractional digits (apimachinery
// pkg/apis/meta/v1/micro_time.go, RFC3339Micro); another form fails to decode.
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/

/** kubernetes pkg/apis/coordination/validation/validation.go ValidateLeaseSpec, and MicroTime decoding. */
function leaseProblems(lease: KubeObject): string[] {
  const spec = lease.spec ?? {}
  const problems: string[] = []
  for (const field of ['acquireTime', 'renewTime'] as const)
    if (spec[field] != null && !MICRO_TIME.test(String(spec[field])))
      problems.push(`spec.${field}: Invalid value: ${JSON.stringify(spec[field])}: must be RFC 3339 with microseconds`)
  if (spec.leaseDurationSeconds != null && !(spec.leaseDurationSeconds > 0))
    problems.push(`spec.leaseDurationSeconds: Invalid value: ${spec.leaseDurationSeconds}: must be greater than 0`)
  if (spec.leaseTransitions != null && !(spec.leaseTransitions >= 0))
    problems.push(`spec.leaseTransitions: Invalid value: ${spec.leaseTransitions}: must be greater than or equal to 0`)
  return problems
}

/** The defaults kubectl's rollout status relies on (it refuses non-RollingUpdate strategies). */
function defaultWorkload(kind: string, spec: any): void {
  if (kind !== 'DaemonSet') spec.replicas ??= 1
  spec.revisionHistoryLimit ??= 10
  if (kind === 'Deployment') {
    spec.strategy ??= { type: 'RollingUpdate' }
    if (spec.strategy.type === 'RollingUpdate')
      spec.strategy.rollingUpdate ??= { maxSurge: '25%', maxUnavailable: '25%' }
    spec.progressDeadlineSeconds ??= 600
  } else if (kind === 'DaemonSet') {
    spec.updateStrategy ??= { type: 'RollingUpdate' }
    if (spec.updateStrategy.type === 'RollingUpdate')
      spec.updateStrategy.rollingUpdate ??= { maxUnavailable: 1, maxSurge: 0 }
  } else if (kind === 'StatefulSet') {
    spec.updateStrategy ??= { type: 'RollingUpdate' }
    if (spec.updateStrategy.type === 'RollingUpdate') spec.updateStrategy.rollingUpdate ??= { partition: 0 }
    spec.podManagementPolicy ??= 'OrderedReady'
  }
}

async function admitService(
  ctx: AdmissionContext,
  rt: ResourceType,
  svc: KubeObject,
  existing?: KubeObject,
): Promise<string[]> {
  const spec = (svc.spec ??= {})
  const before = existing?.spec ?? {}
  spec.type ??= 'ClusterIP'
  if (spec.type !== 'ExternalName') {
    if (before.clusterIP && !spec.clusterIP) spec.clusterIP = before.clusterIP
    if (before.clusterIP && spec.clusterIP !== before.clusterIP) {
      return [`spec.clusterIP: Invalid value: ${JSON.stringify(spec.clusterIP)}: field is immutable`]
    }
    spec.clusterIP ??= freeClusterIp(ctx.store, rt)
    spec.clusterIPs = [spec.clusterIP]
  }
  const ports: any[] = Array.isArray(spec.ports) ? spec.ports : []
  for (const port of ports) {
    port.protocol ??= 'TCP'
    if (spec.type !== 'ExternalName') port.targetPort ??= port.port
  }
  spec.sessionAffinity ??= 'None'
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') {
    const taken = new Set<number>()
    for (const other of ctx.store.list(rt)) {
      if (other.metadata.uid === existing?.metadata.uid) continue
      for (const p of other.spec?.ports ?? []) if (p.nodePort) taken.add(p.nodePort)
    }
    for (const port of ports) {
      // Keep the NodePort an earlier version of this Service already had, so re-applies stay stable.
      const previous = (before.ports ?? []).find(
        (p: any) => p.port === port.port && (p.protocol ?? 'TCP') === port.protocol,
      )
      port.nodePort ??= previous?.nodePort
      if (port.nodePort && taken.has(port.nodePort)) {
        return [
          `spec.ports[${ports.indexOf(port)}].nodePort: Invalid value: ${port.nodePort}: provided port is already allocated`,
        ]
      }
      port.nodePort ??= await ctx.allocateNodePort(taken)
      taken.add(port.nodePort)
    }
  } else {
    for (const port of ports) delete port.nodePort
  }
  return []
}

function freeClusterIp(store: Store, rt: ResourceType): string {
  const used = new Set(store.list(rt).map((s) => s.spec?.clusterIP))
  // 10.96.0.1 is the kubernetes Service and 10.96.0.10 cluster DNS on real clusters; start above them.
  for (let n = 20; n < 65534; n++) {
    const ip = `10.96.${n >> 8}.${n & 255}`
    if ((n & 255) !== 0 && (n & 255) !== 255 && !used.has(ip)) return ip
  }
  throw new Error('service IP range exhausted')
}
