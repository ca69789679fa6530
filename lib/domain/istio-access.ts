// What istioctl asks of the API server on the runbook's behalf, as RBAC sees it: the permissions of the user the
// runbook runs as, since istioctl uses the same kubeconfig. Read from istio/istio tag 1.29.1:
// - `x precheck` (istioctl/pkg/precheck/precheck.go): the server version; checkInstallPermissions asks, unnamed, whether
//   the user may create every kind an install writes (a finding IST0141 fails the precheck otherwise); a list of
//   CRDs; the alpha-annotation analyzer (pkg/config/analysis/local/istiod_analyze.go) lists and watches namespaces,
//   Services, pods and Deployments in every namespace and reads ConfigMap istio.
// - `install --set profile=ambient` (operator/cmd/mesh/install.go, operator/pkg/install/{install,wait}.go,
//   operator/pkg/webhook/webhook.go, istioctl/pkg/tag/{generate,util}.go, operator/pkg/uninstall/prune.go): creates
//   istio-system, server-side applies every object the charts render (base, istiod, istio-cni, ztunnel at default
//   values), waits by reading them, installs the default revision tag, and prunes by listing every kind it
//   installs — Secrets included — across all namespaces. Istio's ClusterRoles grant, among others, cluster-wide reads
//   of Secrets: writing them needs `escalate` (and their bindings `bind`) unless the user already holds all of that.
// - `waypoint apply|status` (istioctl/pkg/waypoint/waypoint.go): the namespace (get, and update to enrol it), the
//   waypoint Gateway (server-side apply, get while waiting; status lists them).
// - `ztunnel-config workloads` (istioctl/pkg/ztunnelconfig/ztunnelconfig.go, pkg/kube/portforwarder.go): DaemonSet
//   ztunnel, its pods, and a port-forward to one (a WebSocket GET, also authorized as create since Kubernetes 1.31,
//   or an SPDY POST).
import { access } from '../kube/access.ts'
import type { ApiAccess } from '../types.ts'
import { ISTIO_NAMESPACE } from './istio.ts'

const ns = { namespace: ISTIO_NAMESPACE }
const named = (...names: string[]) => ({ names })
const inIstio = (...names: string[]) => ({ namespace: ISTIO_NAMESPACE, names })

/** istioctl x precheck. */
export function precheckAccess(): ApiAccess[] {
  const why = 'istioctl x precheck'
  const creatable = 'istioctl x precheck: checks (unnamed) that an install may create these'
  return [
    access('selfsubjectaccessreviews.authorization.k8s.io', ['create'], {}, `${why}: asks what the user may do`),
    access('customresourcedefinitions.apiextensions.k8s.io', ['list'], {}, `${why}: Gateway API versions`),
    ...['namespaces', 'services', 'pods', 'deployments.apps'].map((r) =>
      access(r, ['list', 'watch'], {}, `${why}: its analyzer watches every namespace`),
    ),
    access('configmaps', ['get'], inIstio('istio'), `${why}: the mesh config, when Istio is installed`),
    ...[
      'namespaces',
      'clusterroles.rbac.authorization.k8s.io',
      'clusterrolebindings.rbac.authorization.k8s.io',
      'customresourcedefinitions.apiextensions.k8s.io',
      'mutatingwebhookconfigurations.admissionregistration.k8s.io',
      'validatingwebhookconfigurations.admissionregistration.k8s.io',
    ].map((r) => access(r, ['create'], {}, creatable)),
    ...['roles.rbac.authorization.k8s.io', 'serviceaccounts', 'services', 'deployments.apps', 'configmaps'].map((r) =>
      access(r, ['create'], ns, creatable),
    ),
  ]
}

/** Istio's own ClusterRoles and bindings at the charts' defaults (istiod, the reader, istio-cni). */
const CLUSTER_ROLES = [
  'istiod-clusterrole-istio-system',
  'istiod-gateway-controller-istio-system',
  'istio-reader-clusterrole-istio-system',
  'istio-cni',
  'istio-cni-repair-role',
  'istio-cni-ambient',
]
const CLUSTER_ROLE_BINDINGS = [...CLUSTER_ROLES.filter((r) => r !== 'istio-cni-repair-role'), 'istio-cni-repair-rolebinding']
/** The kinds the install prunes, listed across all namespaces (operator/pkg/uninstall/prune.go). */
const PRUNED = [
  'deployments.apps',
  'daemonsets.apps',
  'services',
  'configmaps',
  'pods',
  'secrets',
  'serviceaccounts',
  'rolebindings.rbac.authorization.k8s.io',
  'roles.rbac.authorization.k8s.io',
  'poddisruptionbudgets.policy',
  'horizontalpodautoscalers.autoscaling',
  'envoyfilters.networking.istio.io',
  'mutatingwebhookconfigurations.admissionregistration.k8s.io',
  'validatingwebhookconfigurations.admissionregistration.k8s.io',
  'clusterroles.rbac.authorization.k8s.io',
  'clusterrolebindings.rbac.authorization.k8s.io',
]

/** istioctl install --set profile=ambient -y. */
export function installAccess(): ApiAccess[] {
  const apply = 'istioctl install: server-side apply of what the ambient profile renders'
  return [
    access('namespaces', ['get'], named(ISTIO_NAMESPACE), 'istioctl install: creates istio-system unless it exists'),
    access('customresourcedefinitions.apiextensions.k8s.io', ['get', 'patch'], {}, `${apply} (Istio's CRDs)`),
    access('serviceaccounts', ['patch'], inIstio('istio-reader-service-account', 'istiod', 'istio-cni', 'ztunnel'), apply),
    access('clusterroles.rbac.authorization.k8s.io', ['patch', 'escalate'], named(...CLUSTER_ROLES), `${apply}; they grant more than this role holds (cluster-wide reads of Secrets among them), hence escalate`),
    access('clusterroles.rbac.authorization.k8s.io', ['bind'], named(...CLUSTER_ROLES), `${apply}: binding Istio's ClusterRoles to its ServiceAccounts`),
    access('clusterrolebindings.rbac.authorization.k8s.io', ['patch'], named(...CLUSTER_ROLE_BINDINGS), apply),
    access('roles.rbac.authorization.k8s.io', ['patch', 'escalate', 'bind'], inIstio('istiod'), `${apply}: istiod's Role (Secrets in istio-system)`),
    access('rolebindings.rbac.authorization.k8s.io', ['patch', 'create'], inIstio('istiod'), apply),
    access('configmaps', ['patch'], inIstio('istio', 'istio-sidecar-injector', 'values', 'istio-cni-config'), apply),
    access('services', ['patch'], inIstio('istiod', 'istiod-revision-tag-default'), apply),
    access('deployments.apps', ['patch'], inIstio('istiod'), apply),
    access('daemonsets.apps', ['patch', 'create'], inIstio('istio-cni-node', 'ztunnel'), apply),
    access('horizontalpodautoscalers.autoscaling', ['patch', 'create'], inIstio('istiod'), apply),
    access(
      'mutatingwebhookconfigurations.admissionregistration.k8s.io',
      ['patch'],
      named('istio-sidecar-injector', 'istio-revision-tag-default'),
      `${apply} (injection webhook, default revision tag)`,
    ),
    access(
      'mutatingwebhookconfigurations.admissionregistration.k8s.io',
      ['update'],
      named('istio-sidecar-injector'),
      'istioctl install: points default injection at the revision tag',
    ),
    access(
      'validatingwebhookconfigurations.admissionregistration.k8s.io',
      ['get', 'patch'],
      named('istio-validator-istio-system', 'istiod-default-validator'),
      `${apply} (config validation webhooks)`,
    ),
    ...PRUNED.map((r) => access(r, ['list'], {}, 'istioctl install: prunes what an earlier install left, listing every namespace')),
    access('deployments.apps', ['get'], ns, 'istioctl install: waits for istiod'),
    access('daemonsets.apps', ['get'], ns, 'istioctl install: waits for ztunnel and istio-cni-node'),
    access('replicasets.apps', ['list'], ns, 'istioctl install: waits for istiod'),
    access('pods', ['list'], ns, 'istioctl install: waits for the pods, reads istiod versions'),
    access('pods/portforward', ['get', 'create'], ns, 'istioctl install: asks a running istiod its version'),
  ]
}

/** istioctl waypoint apply -n NS --name W --enroll-namespace --wait. */
export function waypointApplyAccess(namespace: string, waypoint: string): ApiAccess[] {
  const why = 'istioctl waypoint apply'
  return [
    access('namespaces', ['get', 'update'], named(namespace), `${why}: reads the namespace, labels it with the waypoint`),
    access('gateways.gateway.networking.k8s.io', ['patch', 'create', 'get'], { namespace, names: [waypoint] }, `${why}: server-side apply of the waypoint, then waits for it`),
  ]
}

/** istioctl waypoint status -n NS --name W. */
export function waypointStatusAccess(namespace: string, waypoint: string): ApiAccess[] {
  const why = 'istioctl waypoint status'
  return [
    access('gateways.gateway.networking.k8s.io', ['list'], { namespace }, why),
    access('gateways.gateway.networking.k8s.io', ['get'], { namespace, names: [waypoint] }, why),
  ]
}

/** istioctl ztunnel-config workloads. */
export function ztunnelConfigAccess(): ApiAccess[] {
  const why = 'istioctl ztunnel-config workloads: reads the workload table from a ztunnel pod'
  return [
    access('daemonsets.apps', ['get'], inIstio('ztunnel'), why),
    access('pods', ['list', 'get'], ns, why),
    access('pods/portforward', ['get', 'create'], ns, why),
  ]
}
