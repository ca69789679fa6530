// The Kubernetes API requests the real istioctl makes for each command the fake one serves, so the fake can authorize
// them as the calling user (RBAC) before it acts, and the RBAC objects `istioctl install` writes for Istio's own
// components. Sources: istio/istio tag 1.29.1 —
// - istioctl/pkg/precheck/precheck.go (checkServerVersion; checkInstallPermissions: a SelfSubjectAccessReview for
//   `create` on each kind an install writes, unnamed; checkGatewayAPIs: list CRDs; the AlphaAnalyzer over a running
//   cluster, pkg/config/analysis/local/istiod_analyze.go AddRunningKubeSourceWithRevision: informers that list and
//   watch namespaces, services, pods and deployments in every namespace, and a get of ConfigMap `istio`);
// - operator/cmd/mesh/install.go (Install: detectIstioVersionDiff lists istiod pods), operator/pkg/install/install.go
//   (installSystemNamespace: get, else create the namespace; applyManifestSet: a server-side apply — PATCH, which
//   creates a missing object — of every rendered object; prune: a cluster-wide list of every kind in
//   operator/pkg/uninstall/prune.go PrunedResourcesSchemas), operator/pkg/install/wait.go (gets of CRDs,
//   Deployments, DaemonSets, lists of ReplicaSets and pods), operator/pkg/webhook/webhook.go and
//   istioctl/pkg/tag/{generate,util}.go (list MutatingWebhookConfigurations, list the istio-system Services with
//   istio.io/rev, update the default injector, get istiod-default-validator, then apply the default revision tag:
//   MutatingWebhookConfiguration istio-revision-tag-default, ValidatingWebhookConfiguration istiod-default-validator,
//   Service istiod-revision-tag-default);
// - the objects rendered for the ambient profile with the charts' default values: manifests/profiles/ambient.yaml,
//   manifests/charts/base/templates/reader-serviceaccount.yaml, manifests/charts/istio-control/istio-discovery/
//   templates/{serviceaccount,clusterrole,clusterrolebinding,reader-clusterrole,reader-clusterrolebinding,role,
//   rolebinding,configmap,configmap-values,istiod-injector-configmap,deployment,autoscale,service,mutatingwebhook,
//   validatingwebhookconfiguration}.yaml (no PodDisruptionBudget: autoscaleMin is 1), manifests/charts/istio-cni/
//   templates/{serviceaccount,clusterrole,clusterrolebinding,configmap-cni,daemonset}.yaml (repair and ambient on),
//   manifests/charts/ztunnel/templates/{serviceaccount,daemonset}.yaml (its ClusterRole only on OpenShift);
// - istioctl/pkg/waypoint/waypoint.go (apply: get the namespace, server-side apply of the Gateway, gets while
//   --wait waits, then get and update of the namespace to enrol it; status: list Gateways, then a get of each);
// - istioctl/pkg/ztunnelconfig/ztunnelconfig.go with pkg/kube/client.go and pkg/kube/portforwarder.go (get DaemonSet
//   ztunnel, list its pods, get the pod, then a port-forward: WebSocket first, a GET that kube-apiserver ≥ 1.31 also
//   authorizes as create on pods/portforward, SPDY (POST, create) as the fallback).
// Simplifications: the rules of Istio's roles below are the charts' at default values, for the escalation check only.
import type { KubeObject } from './store.ts'
import type { PolicyRule } from './rbac.ts'

export interface IstioRequest {
  verb: string
  group: string
  resource: string
  subresource?: string
  namespace?: string
  name?: string
}

/** An object istioctl install writes by server-side apply (PATCH; create when it does not exist yet). */
export interface AppliedObject {
  group: string
  resource: string
  kind: string
  namespace?: string
  name: string
}

const ISTIO = 'istio-system'
const RBAC = 'rbac.authorization.k8s.io'
const ADMISSION = 'admissionregistration.k8s.io'
const get = (group: string, resource: string, namespace?: string, name?: string): IstioRequest => ({
  verb: 'get',
  group,
  resource,
  ...(namespace ? { namespace } : {}),
  ...(name ? { name } : {}),
})
const list = (group: string, resource: string, namespace?: string): IstioRequest => ({
  verb: 'list',
  group,
  resource,
  ...(namespace ? { namespace } : {}),
})

/** The `create` permissions precheck asks about with a SelfSubjectAccessReview each (no name). */
export const PRECHECK_CREATE: IstioRequest[] = [
  { verb: 'create', group: '', resource: 'namespaces' },
  { verb: 'create', group: RBAC, resource: 'clusterroles' },
  { verb: 'create', group: RBAC, resource: 'clusterrolebindings' },
  { verb: 'create', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions' },
  { verb: 'create', group: RBAC, resource: 'roles', namespace: ISTIO },
  { verb: 'create', group: '', resource: 'serviceaccounts', namespace: ISTIO },
  { verb: 'create', group: '', resource: 'services', namespace: ISTIO },
  { verb: 'create', group: 'apps', resource: 'deployments', namespace: ISTIO },
  { verb: 'create', group: '', resource: 'configmaps', namespace: ISTIO },
  { verb: 'create', group: ADMISSION, resource: 'mutatingwebhookconfigurations' },
  { verb: 'create', group: ADMISSION, resource: 'validatingwebhookconfigurations' },
]

/** The analyzer's informers: list and watch in every namespace. A forbidden one retries for ever upstream. */
export const PRECHECK_INFORMERS: { request: IstioRequest; type: string }[] = [
  { request: list('', 'namespaces'), type: '*v1.Namespace' },
  { request: list('', 'services'), type: '*v1.Service' },
  { request: list('', 'pods'), type: '*v1.Pod' },
  { request: list('apps', 'deployments'), type: '*v1.Deployment' },
].flatMap(({ request, type }) => [
  { request, type },
  { request: { ...request, verb: 'watch' }, type },
])

export const PRECHECK_CRD_LIST = list('apiextensions.k8s.io', 'customresourcedefinitions')

const sa = (name: string): AppliedObject => ({
  group: '',
  resource: 'serviceaccounts',
  kind: 'ServiceAccount',
  namespace: ISTIO,
  name,
})
const object = (group: string, resource: string, kind: string, name: string, namespace?: string): AppliedObject => ({
  group,
  resource,
  kind,
  name,
  ...(namespace ? { namespace } : {}),
})

/** What each component of a profile applies, in order (CRDs come from crd-bundles.ts). */
export function appliedObjects(component: 'base' | 'istiod' | 'cni' | 'ztunnel' | 'ingress'): AppliedObject[] {
  switch (component) {
    case 'base':
      return [sa('istio-reader-service-account')]
    case 'istiod':
      return [
        sa('istiod'),
        ...ISTIOD_CLUSTER_ROLES.map((r) => object(RBAC, 'clusterroles', 'ClusterRole', r.metadata.name)),
        ...ISTIOD_CLUSTER_ROLES.map((r) => object(RBAC, 'clusterrolebindings', 'ClusterRoleBinding', r.metadata.name)),
        object(RBAC, 'roles', 'Role', 'istiod', ISTIO),
        object(RBAC, 'rolebindings', 'RoleBinding', 'istiod', ISTIO),
        ...['istio', 'istio-sidecar-injector', 'values'].map((n) => object('', 'configmaps', 'ConfigMap', n, ISTIO)),
        object('', 'services', 'Service', 'istiod', ISTIO),
        object('apps', 'deployments', 'Deployment', 'istiod', ISTIO),
        object('autoscaling', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler', 'istiod', ISTIO),
        object(ADMISSION, 'mutatingwebhookconfigurations', 'MutatingWebhookConfiguration', 'istio-sidecar-injector'),
        object(
          ADMISSION,
          'validatingwebhookconfigurations',
          'ValidatingWebhookConfiguration',
          'istio-validator-istio-system',
        ),
      ]
    case 'cni':
      return [
        sa('istio-cni'),
        ...CNI_CLUSTER_ROLES.map((r) => object(RBAC, 'clusterroles', 'ClusterRole', r.metadata.name)),
        ...CNI_BINDINGS.map(([name]) => object(RBAC, 'clusterrolebindings', 'ClusterRoleBinding', name)),
        object('', 'configmaps', 'ConfigMap', 'istio-cni-config', ISTIO),
        object('apps', 'daemonsets', 'DaemonSet', 'istio-cni-node', ISTIO),
      ]
    case 'ztunnel':
      return [sa('ztunnel'), object('apps', 'daemonsets', 'DaemonSet', 'ztunnel', ISTIO)]
    case 'ingress':
      return [
        sa('istio-ingressgateway-service-account'),
        object('apps', 'deployments', 'Deployment', 'istio-ingressgateway', ISTIO),
        object('', 'services', 'Service', 'istio-ingressgateway', ISTIO),
      ]
  }
}

/** The default revision tag install applies after the components (webhook.WebhooksToDeploy, tag.Generate). */
export const TAG_OBJECTS: AppliedObject[] = [
  object(ADMISSION, 'mutatingwebhookconfigurations', 'MutatingWebhookConfiguration', 'istio-revision-tag-default'),
  object(ADMISSION, 'validatingwebhookconfigurations', 'ValidatingWebhookConfiguration', 'istiod-default-validator'),
  object('', 'services', 'Service', 'istiod-revision-tag-default', ISTIO),
]

/** Reads install makes before and between the applies (version diff, webhook checks, tag generation). */
export const INSTALL_READS: IstioRequest[] = [
  get('', 'namespaces', undefined, ISTIO),
  list(ADMISSION, 'mutatingwebhookconfigurations'),
]
export const TAG_READS: IstioRequest[] = [
  list('', 'services', ISTIO),
  list(ADMISSION, 'mutatingwebhookconfigurations'),
  { verb: 'update', group: ADMISSION, resource: 'mutatingwebhookconfigurations', name: 'istio-sidecar-injector' },
  get(ADMISSION, 'validatingwebhookconfigurations', undefined, 'istiod-default-validator'),
]
/**
 * The readiness wait after each component (operator/pkg/install/wait.go waitForResources): a get of every CRD,
 * Deployment and DaemonSet it applied, by name, and for a Deployment the list of its ReplicaSets
 * (kubectl's deployment util GetAllReplicaSets).
 */
export function waitReads(objects: AppliedObject[]): IstioRequest[] {
  const waited = objects.filter((o) => ['CustomResourceDefinition', 'Deployment', 'DaemonSet'].includes(o.kind))
  return waited.flatMap((o) => [
    get(o.group, o.resource, o.namespace, o.name),
    ...(o.kind === 'Deployment' ? [list('apps', 'replicasets', o.namespace)] : []),
  ])
}
/** detectIstioVersionDiff lists the running istiod pods first; a refusal only skips its warning. */
export const VERSION_DIFF_READ = list('', 'pods', ISTIO)
/** prune: a cluster-wide list of every kind istioctl may have installed. */
export const PRUNE_LISTS: IstioRequest[] = [
  list('apps', 'deployments'),
  list('apps', 'daemonsets'),
  list('', 'services'),
  list('', 'configmaps'),
  list('', 'pods'),
  list('', 'secrets'),
  list('', 'serviceaccounts'),
  list(RBAC, 'rolebindings'),
  list(RBAC, 'roles'),
  list('policy', 'poddisruptionbudgets'),
  list('autoscaling', 'horizontalpodautoscalers'),
  list('networking.istio.io', 'envoyfilters'),
  list(ADMISSION, 'mutatingwebhookconfigurations'),
  list(ADMISSION, 'validatingwebhookconfigurations'),
  list(RBAC, 'clusterroles'),
  list(RBAC, 'clusterrolebindings'),
]

export const waypointApplyReads = (ns: string): IstioRequest[] => [get('', 'namespaces', undefined, ns)]
export const waypointGet = (ns: string, name: string) => get('gateway.networking.k8s.io', 'gateways', ns, name)
export const waypointEnrol = (ns: string): IstioRequest[] => [
  get('', 'namespaces', undefined, ns),
  { verb: 'update', group: '', resource: 'namespaces', name: ns },
]
export const waypointList = (ns?: string) => list('gateway.networking.k8s.io', 'gateways', ns)
export const waypointDelete = (ns: string, name: string): IstioRequest => ({
  ...get('gateway.networking.k8s.io', 'gateways', ns, name),
  verb: 'delete',
})

export const ztunnelRequests = (pod: string): IstioRequest[] => [
  get('apps', 'daemonsets', ISTIO, 'ztunnel'),
  list('', 'pods', ISTIO),
  get('', 'pods', ISTIO, pod),
  { verb: 'get', group: '', resource: 'pods', subresource: 'portforward', namespace: ISTIO, name: pod },
  { verb: 'create', group: '', resource: 'pods', subresource: 'portforward', namespace: ISTIO, name: pod },
]

// ---- Istio's own RBAC objects (rules at the charts' defaults, for the escalation check) ----

const rule = (apiGroups: string[], resources: string[], verbs: string[], resourceNames?: string[]): PolicyRule => ({
  apiGroups,
  resources,
  verbs,
  ...(resourceNames ? { resourceNames } : {}),
})
const READ = ['get', 'list', 'watch']
const ALL = ['get', 'watch', 'list', 'update', 'patch', 'create', 'delete']
const ISTIO_GROUPS = [
  'config.istio.io',
  'security.istio.io',
  'networking.istio.io',
  'authentication.istio.io',
  'rbac.istio.io',
  'telemetry.istio.io',
  'extensions.istio.io',
]
const MCS = 'multicluster.x-k8s.io'
/** What istioctl install puts on every object it creates (the installed-state owner label). */
const installedMetadata = (name: string, namespace?: string) => ({
  name,
  ...(namespace ? { namespace } : {}),
  labels: { 'install.operator.istio.io/owning-resource': 'installed-state' },
})
const role = (kind: 'ClusterRole' | 'Role', name: string, rules: PolicyRule[], namespace?: string): KubeObject => ({
  apiVersion: `${RBAC}/v1`,
  kind,
  metadata: installedMetadata(name, namespace),
  rules,
})

const ISTIOD_CLUSTER_ROLES: KubeObject[] = [
  role('ClusterRole', 'istiod-clusterrole-istio-system', [
    rule([ADMISSION], ['mutatingwebhookconfigurations'], ['get', 'list', 'watch', 'update', 'patch']),
    rule([ADMISSION], ['validatingwebhookconfigurations'], ['get', 'list', 'watch', 'update']),
    rule(ISTIO_GROUPS, ['*'], ['get', 'watch', 'list']),
    rule(['networking.istio.io'], ['workloadentries'], ALL),
    rule(['networking.istio.io'], ['workloadentries/status', 'serviceentries/status'], ALL),
    rule(['security.istio.io'], ['authorizationpolicies/status'], ALL),
    rule([''], ['services/status'], ALL),
    rule(['apiextensions.k8s.io'], ['customresourcedefinitions'], READ),
    rule([''], ['pods', 'nodes', 'services', 'namespaces', 'endpoints'], READ),
    rule(['discovery.k8s.io'], ['endpointslices'], READ),
    rule(['networking.k8s.io'], ['ingresses', 'ingressclasses'], READ),
    rule(['networking.k8s.io'], ['ingresses/status'], ['*']),
    rule([''], ['configmaps'], ['create', 'get', 'list', 'watch', 'update']),
    rule(['authentication.k8s.io'], ['tokenreviews'], ['create']),
    rule(['authorization.k8s.io'], ['subjectaccessreviews'], ['create']),
    rule(['gateway.networking.k8s.io', 'gateway.networking.x-k8s.io'], ['*'], ['get', 'watch', 'list']),
    rule(
      ['gateway.networking.x-k8s.io'],
      ['xbackendtrafficpolicies/status', 'xlistenersets/status'],
      ['update', 'patch'],
    ),
    rule(
      ['gateway.networking.k8s.io'],
      [
        'backendtlspolicies/status',
        'gatewayclasses/status',
        'gateways/status',
        'grpcroutes/status',
        'httproutes/status',
        'referencegrants/status',
        'tcproutes/status',
        'tlsroutes/status',
        'udproutes/status',
      ],
      ['update', 'patch'],
    ),
    rule(['gateway.networking.k8s.io'], ['gatewayclasses'], ['create', 'update', 'patch', 'delete']),
    rule(['inference.networking.k8s.io'], ['inferencepools'], ['get', 'watch', 'list']),
    rule(['inference.networking.k8s.io'], ['inferencepools/status'], ['update', 'patch']),
    rule([''], ['secrets'], ['get', 'watch', 'list']),
    rule([MCS], ['serviceexports'], ['get', 'watch', 'list', 'create', 'delete']),
    rule([MCS], ['serviceimports'], ['get', 'watch', 'list']),
  ]),
  role('ClusterRole', 'istiod-gateway-controller-istio-system', [
    rule(['apps'], ['deployments'], ALL),
    rule(['autoscaling'], ['horizontalpodautoscalers'], ALL),
    rule(['policy'], ['poddisruptionbudgets'], ALL),
    rule([''], ['services'], ALL),
    rule([''], ['serviceaccounts'], ALL),
  ]),
  role('ClusterRole', 'istio-reader-clusterrole-istio-system', [
    rule(ISTIO_GROUPS, ['*'], READ),
    rule(
      [''],
      ['endpoints', 'pods', 'services', 'nodes', 'replicationcontrollers', 'namespaces', 'secrets', 'configmaps'],
      READ,
    ),
    rule(['networking.istio.io'], ['workloadentries'], ['get', 'watch', 'list']),
    rule(['networking.x-k8s.io', 'gateway.networking.k8s.io'], ['gateways'], ['get', 'watch', 'list']),
    rule(['apiextensions.k8s.io'], ['customresourcedefinitions'], READ),
    rule(['discovery.k8s.io'], ['endpointslices'], READ),
    rule([MCS], ['serviceexports'], ['get', 'list', 'watch', 'create', 'delete']),
    rule([MCS], ['serviceimports'], READ),
    rule(['apps'], ['replicasets'], READ),
    rule(['authentication.k8s.io'], ['tokenreviews'], ['create']),
    rule(['authorization.k8s.io'], ['subjectaccessreviews'], ['create']),
  ]),
]
const ISTIOD_ROLE = role(
  'Role',
  'istiod',
  [
    rule(['networking.istio.io'], ['gateways'], ['create']),
    rule([''], ['secrets'], ['create', 'get', 'watch', 'list', 'update', 'delete']),
    rule([''], ['configmaps'], ['delete']),
    rule(['coordination.k8s.io'], ['leases'], ['get', 'update', 'patch', 'create']),
  ],
  ISTIO,
)
const CNI_CLUSTER_ROLES: KubeObject[] = [
  role('ClusterRole', 'istio-cni', [rule([''], ['pods', 'nodes', 'namespaces'], READ)]),
  role('ClusterRole', 'istio-cni-repair-role', [
    rule([''], ['events'], ['create', 'patch']),
    rule([''], ['pods'], ['watch', 'get', 'list']),
  ]),
  role('ClusterRole', 'istio-cni-ambient', [
    rule([''], ['pods/status'], ['patch', 'update']),
    rule(['apps'], ['daemonsets'], ['get'], ['istio-cni-node']),
  ]),
]
/** [binding name, role name] of istio-cni's ClusterRoleBindings. */
const CNI_BINDINGS: [string, string][] = [
  ['istio-cni', 'istio-cni'],
  ['istio-cni-repair-rolebinding', 'istio-cni-repair-role'],
  ['istio-cni-ambient', 'istio-cni-ambient'],
]

const binding = (
  kind: 'ClusterRoleBinding' | 'RoleBinding',
  name: string,
  roleName: string,
  serviceAccount: string,
  namespace?: string,
): KubeObject => ({
  apiVersion: `${RBAC}/v1`,
  kind,
  metadata: installedMetadata(name, namespace),
  roleRef: { apiGroup: RBAC, kind: kind === 'RoleBinding' ? 'Role' : 'ClusterRole', name: roleName },
  subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace: ISTIO }],
})

/** The RBAC objects a component writes, by name: roles before the bindings that reference them. */
export function istioRbacObjects(component: string): KubeObject[] {
  if (component === 'istiod')
    return [
      ...ISTIOD_CLUSTER_ROLES,
      ...ISTIOD_CLUSTER_ROLES.map((r) =>
        binding(
          'ClusterRoleBinding',
          r.metadata.name,
          r.metadata.name,
          r.metadata.name.startsWith('istio-reader') ? 'istio-reader-service-account' : 'istiod',
        ),
      ),
      ISTIOD_ROLE,
      binding('RoleBinding', 'istiod', 'istiod', 'istiod', ISTIO),
    ]
  if (component === 'cni')
    return [
      ...CNI_CLUSTER_ROLES,
      ...CNI_BINDINGS.map(([name, roleName]) => binding('ClusterRoleBinding', name, roleName, 'istio-cni')),
    ]
  return []
}
