// What istioctl asks of the API server on the runbook's behalf. istioctl uses the same kubeconfig, so these are the
// permissions of the user the runbook runs as. Read from istio/istio tag 1.29.1:
// - `x precheck` (istioctl/pkg/precheck/precheck.go): checkInstallPermissions asks with one SelfSubjectAccessReview
//   per kind, without a name, whether the user may create every kind an install writes — a "no" is finding IST0141,
//   which fails the precheck — so the user must hold those creates for any name; checkGatewayAPIs lists the CRDs; the
//   analyzer over the running cluster (pkg/config/analysis/local/istiod_analyze.go AddRunningKubeSourceWithRevision)
//   lists and watches namespaces, Services, pods and Deployments in every namespace and reads ConfigMap istio.
// - `install --set profile=ambient` (operator/cmd/mesh/install.go; operator/pkg/install/install.go and wait.go;
//   operator/pkg/webhook/webhook.go; istioctl/pkg/tag/generate.go and util.go; operator/pkg/uninstall/prune.go):
//   lists istiod's pods (detectIstioVersionDiff), reads istio-system (and creates it when missing), server-side
//   applies every object the charts render for the profile (base, istiod, istio-cni, ztunnel), waits by reading each
//   CRD, Deployment (and its ReplicaSets) and DaemonSet by name, installs the default revision tag (the injector is
//   updated, the tag's webhooks and Service applied) and prunes, listing every kind it installs — Secrets included —
//   in every namespace. Istio's ClusterRoles grant, among much else, reading every Secret in the cluster: writing a
//   role that grants more than the writer holds needs `escalate` on it, and binding it needs `bind`
//   (kubernetes pkg/registry/rbac/escalation_check.go).
// - `waypoint apply|status` (istioctl/pkg/waypoint/waypoint.go): the namespace (get; update to enrol it), the
//   waypoint Gateway (server-side apply; a get each tick while --wait waits; status lists the namespace's Gateways and
//   gets each).
// - `ztunnel-config workloads` (istioctl/pkg/ztunnelconfig/ztunnelconfig.go, pkg/kube/portforwarder.go): DaemonSet
//   ztunnel, its pods, one pod, and a port-forward to it (a WebSocket GET, which kube-apiserver since 1.31 also
//   authorizes as create, or an SPDY POST).
import { access, kubectlAccess } from '../kube/access.ts'
import type { ApiAccess } from '../types.ts'
import { ISTIO_NAMESPACE } from './istio.ts'

const inIstio = (...names: string[]) => ({ namespace: ISTIO_NAMESPACE, ...(names.length ? { names } : {}) })
const PRECHECK_HOLDS =
  'held, not requested: istioctl x precheck asks (SelfSubjectAccessReview, no name) whether the user may'

/** istioctl x precheck. */
export function precheckAccess(): ApiAccess[] {
  const why = 'ambient: istioctl x precheck'
  const creatable = `${why} checks that an install may create these, under any name`
  return [
    ...kubectlAccess.create('selfsubjectaccessreviews.authorization.k8s.io', {}, `${why} asks what the user may do`),
    ...kubectlAccess.list('customresourcedefinitions.apiextensions.k8s.io', {}, `${why}: the Gateway API CRDs`),
    ...['namespaces', 'services', 'pods', 'deployments.apps'].map((r) =>
      access(r, ['list', 'watch'], {}, `${why}: its analyzer watches every namespace`),
    ),
    ...[
      'namespaces',
      'clusterroles.rbac.authorization.k8s.io',
      'clusterrolebindings.rbac.authorization.k8s.io',
      'customresourcedefinitions.apiextensions.k8s.io',
      'mutatingwebhookconfigurations.admissionregistration.k8s.io',
      'validatingwebhookconfigurations.admissionregistration.k8s.io',
    ].map((r) => access(r, ['create'], { when: PRECHECK_HOLDS }, creatable)),
    ...['roles.rbac.authorization.k8s.io', 'serviceaccounts', 'services', 'deployments.apps', 'configmaps'].map((r) =>
      access(r, ['create'], { ...inIstio(), when: PRECHECK_HOLDS }, creatable),
    ),
  ]
}

/** Istio's own ClusterRoles at the charts' defaults (istiod, the reader, istio-cni) and their bindings. */
const CLUSTER_ROLES = [
  'istiod-clusterrole-istio-system',
  'istiod-gateway-controller-istio-system',
  'istio-reader-clusterrole-istio-system',
  'istio-cni',
  'istio-cni-repair-role',
  'istio-cni-ambient',
]
const CLUSTER_ROLE_BINDINGS = [
  ...CLUSTER_ROLES.filter((r) => r !== 'istio-cni-repair-role'),
  'istio-cni-repair-rolebinding',
]
/** The kinds the install prunes, listed in every namespace (operator/pkg/uninstall/prune.go). */
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
  const install = 'ambient: istioctl install'
  const apply = `${install}: server-side apply of what the ambient profile renders`
  const wait = `${install}: waits until it is ready`
  return [
    ...kubectlAccess.list('pods', inIstio(), `${install}: compares with a running istiod's version`),
    ...kubectlAccess.get(
      'namespaces',
      { names: [ISTIO_NAMESPACE] },
      `${install}: creates ${ISTIO_NAMESPACE} unless it exists`,
    ),
    ...kubectlAccess.list(
      'mutatingwebhookconfigurations.admissionregistration.k8s.io',
      {},
      `${install}: looks for other injection webhooks, then for the default revision tag`,
    ),
    ...kubectlAccess.apply('customresourcedefinitions.apiextensions.k8s.io', {}, `${apply} (Istio's CRDs)`),
    ...kubectlAccess.get('customresourcedefinitions.apiextensions.k8s.io', {}, `${wait} (Istio's CRDs, by name)`),
    ...kubectlAccess.apply(
      'serviceaccounts',
      inIstio('istio-reader-service-account', 'istiod', 'istio-cni', 'ztunnel'),
      apply,
    ),
    ...kubectlAccess.apply('clusterroles.rbac.authorization.k8s.io', { names: CLUSTER_ROLES }, apply),
    access(
      'clusterroles.rbac.authorization.k8s.io',
      ['escalate', 'bind'],
      { names: CLUSTER_ROLES },
      `${apply}: Istio's ClusterRoles grant more than this role holds (reading every Secret, among others), so writing them needs escalate and binding them bind`,
    ),
    ...kubectlAccess.apply('clusterrolebindings.rbac.authorization.k8s.io', { names: CLUSTER_ROLE_BINDINGS }, apply),
    ...kubectlAccess.apply('roles.rbac.authorization.k8s.io', inIstio('istiod'), apply),
    access(
      'roles.rbac.authorization.k8s.io',
      ['escalate', 'bind'],
      inIstio('istiod'),
      `${apply}: istiod's Role (Secrets and Leases in ${ISTIO_NAMESPACE}) grants more than this role holds`,
    ),
    ...kubectlAccess.apply('rolebindings.rbac.authorization.k8s.io', inIstio('istiod'), apply),
    ...kubectlAccess.apply(
      'configmaps',
      inIstio('istio', 'istio-sidecar-injector', 'values', 'istio-cni-config'),
      apply,
    ),
    ...kubectlAccess.apply(
      'services',
      inIstio('istiod', 'istiod-revision-tag-default'),
      `${apply} and the default revision tag`,
    ),
    ...kubectlAccess.apply('deployments.apps', inIstio('istiod'), apply),
    ...kubectlAccess.get('deployments.apps', inIstio('istiod'), wait),
    ...kubectlAccess.list('replicasets.apps', inIstio(), `${wait} (istiod's ReplicaSets)`),
    ...kubectlAccess.apply('horizontalpodautoscalers.autoscaling', inIstio('istiod'), apply),
    ...kubectlAccess.apply('daemonsets.apps', inIstio('istio-cni-node', 'ztunnel'), apply),
    ...kubectlAccess.get('daemonsets.apps', inIstio('istio-cni-node', 'ztunnel'), wait),
    ...kubectlAccess.apply(
      'mutatingwebhookconfigurations.admissionregistration.k8s.io',
      { names: ['istio-sidecar-injector', 'istio-revision-tag-default'] },
      `${apply} (the injection webhook, the default revision tag)`,
    ),
    ...kubectlAccess.replace(
      'mutatingwebhookconfigurations.admissionregistration.k8s.io',
      { names: ['istio-sidecar-injector'] },
      `${install}: points default injection at the revision tag`,
    ),
    ...kubectlAccess.list('services', inIstio(), `${install}: the revision tag's Services`),
    ...kubectlAccess.get(
      'validatingwebhookconfigurations.admissionregistration.k8s.io',
      { names: ['istiod-default-validator'] },
      `${install}: the default revision tag's validator`,
    ),
    ...kubectlAccess.apply(
      'validatingwebhookconfigurations.admissionregistration.k8s.io',
      { names: ['istio-validator-istio-system', 'istiod-default-validator'] },
      `${apply} (config validation)`,
    ),
    ...PRUNED.flatMap((r) =>
      kubectlAccess.list(r, {}, `${install}: prunes what an earlier install left, listing every namespace`),
    ),
  ]
}

/** istioctl waypoint apply -n NS --name W [--enroll-namespace] --wait. */
export function waypointApplyAccess(namespace: string, waypoint: string, enrol: boolean): ApiAccess[] {
  const why = 'waypoint: istioctl waypoint apply'
  return [
    ...kubectlAccess.get('namespaces', { names: [namespace] }, `${why} reads the namespace's labels`),
    ...(enrol ? kubectlAccess.replace('namespaces', { names: [namespace] }, `${why} labels it with the waypoint`) : []),
    ...kubectlAccess.apply(
      'gateways.gateway.networking.k8s.io',
      { namespace, names: [waypoint] },
      `${why}: the waypoint`,
    ),
    ...kubectlAccess.get(
      'gateways.gateway.networking.k8s.io',
      { namespace, names: [waypoint] },
      `${why} --wait: until it is programmed`,
    ),
  ]
}

/** istioctl waypoint status -n NS. */
export function waypointStatusAccess(namespace: string, waypoint: string): ApiAccess[] {
  const why = 'waypoint: istioctl waypoint status'
  return [
    ...kubectlAccess.list('gateways.gateway.networking.k8s.io', { namespace }, why),
    ...kubectlAccess.get('gateways.gateway.networking.k8s.io', { namespace, names: [waypoint] }, why),
  ]
}

/** istioctl ztunnel-config workloads. */
export function ztunnelConfigAccess(): ApiAccess[] {
  const why = "restart: istioctl ztunnel-config workloads reads ztunnel's workload table through a port-forward"
  return [
    ...kubectlAccess.get('daemonsets.apps', inIstio('ztunnel'), why),
    ...kubectlAccess.list('pods', inIstio(), why),
    // The pod's name is ztunnel-<random>: RBAC cannot name it in advance.
    ...kubectlAccess.get('pods', inIstio(), why),
    access('pods/portforward', ['get', 'create'], inIstio(), why),
  ]
}
