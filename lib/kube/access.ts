// What each kind of kubectl command the runbook runs asks of the API server, as RBAC sees it: the resource, its API
// group and the verbs (kubernetes/kubectl kubernetes-1.32.0: `get NAME` and `label`/`annotate`/`rollout restart`/
// `delete NAME` read the object first through the resource builder, `get` without a name lists, `delete -l` lists
// then deletes each, `rollout status` gets the object then lists and watches it by metadata.name, `logs` gets the pod
// then pods/log, `apply --server-side` is one PATCH — which kube-apiserver also authorizes as a create of that name
// when the object is new (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go) — and `create -f` a POST,
// which has no name yet). Steps describe their commands with these, so --print-rbac follows the commands.
import type { ApiAccess } from '../types.ts'

/** Where the requests go: a namespace (absent: cluster-scoped, or all namespaces) and, when known, the object names. */
export interface Where {
  namespace?: string
  names?: string[]
}

/** `deployments.apps` → apps/deployments; `pods/log` → core pods/log; `authorizationpolicies.security.istio.io`. */
export function resourceOf(qualified: string): { group: string; resource: string } {
  const [name, subresource] = qualified.split('/')
  const dot = name.indexOf('.')
  const resource = dot < 0 ? name : name.slice(0, dot)
  return { group: dot < 0 ? '' : name.slice(dot + 1), resource: subresource ? `${resource}/${subresource}` : resource }
}

export function access(qualified: string, verbs: string[], where: Where, why: string): ApiAccess {
  return {
    ...resourceOf(qualified),
    verbs,
    ...(where.namespace ? { namespace: where.namespace } : {}),
    ...(where.names?.length ? { names: [...where.names] } : {}),
    why,
  }
}

/** The API requests behind each kubectl command form. */
export const kubectlAccess = {
  /** `kubectl get <resource> <name>…` (also `--ignore-not-found`). */
  get: (qualified: string, where: Where, why: string) => access(qualified, ['get'], where, why),
  /** `kubectl get <resource> [-l …] [--all-namespaces]`. */
  list: (qualified: string, where: Where, why: string) =>
    access(qualified, ['list'], { namespace: where.namespace }, why),
  /** `kubectl apply --server-side`: a patch, and a create of that name when the object is new. */
  apply: (qualified: string, where: Where, why: string) => access(qualified, ['patch', 'create'], where, why),
  /** `kubectl create -f`: a POST, whose name RBAC cannot see. */
  create: (qualified: string, where: Where, why: string) =>
    access(qualified, ['create'], { namespace: where.namespace }, why),
  /** `kubectl label|annotate|rollout restart <resource> <name>`: read, then patch. */
  patch: (qualified: string, where: Where, why: string) => access(qualified, ['get', 'patch'], where, why),
  /** `kubectl delete <resource> <name>`: read, then delete. */
  deleteNamed: (qualified: string, where: Where, why: string) => access(qualified, ['get', 'delete'], where, why),
  /** `kubectl delete <resource> -l …`: list, then delete each. */
  deleteSelected: (qualified: string, where: Where, why: string) =>
    access(qualified, ['list', 'delete'], { namespace: where.namespace }, why),
  /** `kubectl rollout status <resource>/<name>`: read, then list and watch it by name. */
  rolloutStatus: (qualified: string, where: Where, why: string) =>
    access(qualified, ['get', 'list', 'watch'], where, why),
  /** `kubectl logs <pod>`: read the pod, then its log. */
  logs: (where: Where, why: string): ApiAccess[] => [
    access('pods', ['get'], where, why),
    access('pods/log', ['get'], where, why),
  ],
  /** `kubectl auth whoami`. */
  whoami: (why: string) => access('selfsubjectreviews.authentication.k8s.io', ['create'], {}, why),
}

/**
 * What every kubectl command reads before its request: discovery, the OpenAPI schema (apply's field validation) and
 * the server version. Kubernetes' default policy grants these to every authenticated user (system:discovery,
 * system:public-info-viewer); they are listed so the generated role works where those bindings were narrowed.
 */
export const KUBECTL_DISCOVERY: ApiAccess[] = [
  '/api',
  '/api/*',
  '/apis',
  '/apis/*',
  '/openapi/v3',
  '/openapi/v3/*',
  '/version',
].map((url) => ({
  group: '',
  resource: url,
  verbs: ['get'],
  nonResource: true,
  why: "kubectl's discovery, OpenAPI schema and server version (Kubernetes grants these to every authenticated user by default)",
}))
