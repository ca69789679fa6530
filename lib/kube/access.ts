// What each kind of kubectl command the runbook runs asks of the API server, as RBAC sees it: the verb, the API group,
// the resource (with its subresource) and, when the request names one, the object. Read from kubernetes/kubectl and
// kubernetes/kubernetes at v1.32.0:
// - `get NAME` is a GET of the object; `get` without a name lists (a GET of the collection), `--watch` lists and then
//   watches, and with a name both carry the fieldSelector metadata.name=NAME, which kube-apiserver authorizes as that
//   name (staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go);
// - `label`, `annotate`, `patch` and `rollout restart NAME` read the object through the resource builder, then PATCH it;
// - `apply --server-side` is one PATCH, which kube-apiserver also authorizes as a create of that name when the object
//   is new (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go); `--dry-run=server` is authorized like the
//   real request;
// - `create -f` and `replace -f` are a POST (a create with no name yet: RBAC cannot name it) and a PUT (update);
// - `delete NAME` is a DELETE of the object; `delete -l SELECTOR` lists, then deletes each object it found;
// - `rollout status NAME` gets the object, then lists and watches it by name;
// - `logs -l SELECTOR` lists the pods, then GETs each one's pods/log;
// - `auth whoami` creates a SelfSubjectReview; `--as USER` is authorized as `impersonate` on users (serviceaccounts for
//   system:serviceaccount:NS:NAME) before the request itself, which is then authorized as the impersonated user
//   (staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go).
// Steps describe their commands with these, so --print-rbac grants what the commands ask and nothing else.
/**
 * One kind of Kubernetes API request, as RBAC sees it: what a step (or a tool it runs, such as istioctl) needs to be
 * allowed. `--print-rbac` turns these into Roles and ClusterRoles.
 */
export interface ApiAccess {
  /** The API group: '' for the core group. */
  group: string
  /** The resource, with a subresource after a slash (`pods/log`); or a non-resource URL path (`/version`). */
  resource: string
  verbs: string[]
  /** The namespace of the requests; absent for cluster-scoped resources and for requests in every namespace. */
  namespace?: string
  /** Only these objects (RBAC resourceNames); absent: any. A create by POST has no name yet, so it is never limited. */
  names?: string[]
  /** Who makes the requests and why, shown beside the rule. */
  why: string
  /** Set when the requests happen only in some runs (a wait that had to wait, an object that was missing): why. */
  when?: string
  /** A non-resource URL (discovery, /version): allowed only by a ClusterRole bound cluster-wide. */
  nonResource?: boolean
}

/** Where the requests go, and when they happen at all. */
export interface Where {
  /** The namespace; absent: a cluster-scoped resource, or every namespace. */
  namespace?: string
  /** The objects, when the requests name them (RBAC resourceNames). */
  names?: string[]
  /** Set when the requests happen only sometimes (what for): not every run makes them. */
  when?: string
}

/** `deployments.apps` → apps/deployments; `pods/log` → core pods/log; `authorizationpolicies.security.istio.io`. */
export function resourceOf(qualified: string): { group: string; resource: string } {
  const [name, subresource] = qualified.split('/')
  const dot = name.indexOf('.')
  const resource = dot < 0 ? name : name.slice(0, dot)
  return { group: dot < 0 ? '' : name.slice(dot + 1), resource: subresource ? `${resource}/${subresource}` : resource }
}

/** One kind of request: these verbs on a resource, where, and why the runbook makes it. */
export function access(qualified: string, verbs: string[], where: Where, why: string): ApiAccess {
  return {
    ...resourceOf(qualified),
    verbs: [...verbs],
    ...(where.namespace ? { namespace: where.namespace } : {}),
    ...(where.names?.length ? { names: [...where.names] } : {}),
    why,
    ...(where.when ? { when: where.when } : {}),
  }
}

const unnamed = (where: Where): Where => ({ namespace: where.namespace, when: where.when })
const sometimes = (where: Where, when: string): Where => ({ ...where, when: where.when ?? when })

/** The API requests behind each kubectl command form. */
export const kubectlAccess = {
  /** `kubectl get RESOURCE NAME…` (also `--ignore-not-found`). */
  get: (q: string, where: Where, why: string) => [access(q, ['get'], where, why)],
  /** `kubectl get RESOURCE [-l …] [--all-namespaces]`. */
  list: (q: string, where: Where, why: string) => [access(q, ['list'], unnamed(where), why)],
  /**
   * A wait that follows objects (`kubectl get --watch`): it starts only when the first look did not find what it
   * waits for. Named, it lists and watches just that object.
   */
  watch: (q: string, where: Where, why: string) => [
    access(q, ['list', 'watch'], sometimes(where, 'while waiting for a change'), why),
  ],
  /** `kubectl apply --server-side`: a patch, and a create of that name when the object is new. */
  apply: (q: string, where: Where, why: string) => [
    access(q, ['patch'], where, why),
    access(q, ['create'], sometimes(where, 'when it does not exist yet'), why),
  ],
  /** `kubectl create -f`: a POST, whose name RBAC cannot see. */
  create: (q: string, where: Where, why: string) => [access(q, ['create'], unnamed(where), why)],
  /** `kubectl replace -f`: a PUT of the named object. */
  replace: (q: string, where: Where, why: string) => [access(q, ['update'], where, why)],
  /** `kubectl label|annotate|patch|rollout restart RESOURCE NAME`: read, then patch. */
  patch: (q: string, where: Where, why: string) => [access(q, ['get', 'patch'], where, why)],
  /** `kubectl delete RESOURCE NAME…`. */
  delete: (q: string, where: Where, why: string) => [access(q, ['delete'], where, why)],
  /** `kubectl delete RESOURCE -l …`: list, then delete each (their names are not known beforehand). */
  deleteSelected: (q: string, where: Where, why: string) => [access(q, ['list', 'delete'], unnamed(where), why)],
  /** `kubectl rollout status RESOURCE/NAME`: read, then list and watch it by name. */
  rolloutStatus: (q: string, where: Where, why: string) => [access(q, ['get', 'list', 'watch'], where, why)],
  /** `kubectl logs -l …`: list the pods, then read each one's log. */
  logsSelected: (where: Where, why: string) => [
    access('pods', ['list'], unnamed(where), why),
    access('pods/log', ['get'], unnamed(where), why),
  ],
  /** `kubectl auth whoami`. */
  whoami: (why: string) => [access('selfsubjectreviews.authentication.k8s.io', ['create'], {}, why)],
  /** `kubectl --as=USER`: impersonating a user (not a ServiceAccount). */
  impersonateUser: (user: string, why: string) => [access('users', ['impersonate'], { names: [user] }, why)],
  /** `kubectl --as=system:serviceaccount:NS:NAME`. */
  impersonateServiceAccounts: (namespace: string, names: string[], why: string) => [
    access('serviceaccounts', ['impersonate'], { namespace, names }, why),
  ],
}

/**
 * What every kubectl command reads before its request: discovery, the OpenAPI schema (apply's and create's field
 * validation) and the server version. Kubernetes' default policy grants these to every authenticated user
 * (system:discovery and system:public-info-viewer, plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go); the
 * generated role lists them so it also works where those bindings were narrowed.
 */
export const KUBECTL_DISCOVERY: ApiAccess[] = [
  '/api',
  '/api/*',
  '/apis',
  '/apis/*',
  '/openapi/v3',
  '/openapi/v3/*',
].map((url) => ({
  group: '',
  resource: url,
  verbs: ['get'],
  nonResource: true,
  why: "kubectl's discovery and OpenAPI schema (Kubernetes grants these to every authenticated user by default)",
}))

/** `kubectl version` asks the server's version. */
export const SERVER_VERSION: ApiAccess = {
  group: '',
  resource: '/version',
  verbs: ['get'],
  nonResource: true,
  why: "preflight: the server's Kubernetes version (kubectl version)",
}
