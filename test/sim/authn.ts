// Who a request comes from. Authentication maps a bearer token to a user (kube-apiserver's static token
// file); impersonation then swaps that user for the one named in the Impersonate-* headers that kubectl's
// --as / --as-group / --as-uid send. The result is the userInfo admission sees (request.userInfo in a
// ValidatingAdmissionPolicy). Authorization is a separate step with its own seam (`Authorizer` below), which
// the simulator fills with Kubernetes RBAC (rbac.ts), impersonation included.
//
// Imitates kubernetes/kubernetes (v1.32.0, read in a search index of the repository, not at the tag):
// - staging/src/k8s.io/apiserver/pkg/authentication/token/tokenfile/tokenfile.go (token → user, groups);
// - staging/src/k8s.io/apiserver/pkg/endpoints/filters/authentication.go (no or unknown credentials →
//   401 `Unauthorized`; a cluster run with --anonymous-auth=false, so nothing is anonymous);
// - staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go (Impersonate-User naming
//   `system:serviceaccount:<ns>:<name>` is a ServiceAccount and gets the ServiceAccount groups when no
//   Impersonate-Group is sent; any other user gets `system:authenticated` added unless the groups sent
//   include it or `system:unauthenticated`; groups or extras without a user are refused; each impersonated
//   thing is authorized with verb `impersonate` on users / groups / serviceaccounts / uids / userextras);
// - staging/src/k8s.io/apiserver/pkg/authentication/serviceaccount/util.go (MakeUsername, MakeGroupNames);
// - staging/src/k8s.io/api/authentication/v1/types.go (the header names, SelfSubjectReview).
// Simplifications: bearer tokens only (no client certificates, no OIDC); a ServiceAccount user carries no
// `extra` (real bound tokens add the credential id and the pod); the impersonation headers are read case-
// insensitively, as Go's http.Header does.
import type { IncomingHttpHeaders } from 'node:http'

export interface UserInfo {
  username: string
  uid?: string
  groups: string[]
  extra?: Record<string, string[]>
}

/** A user the simulated API server knows, and the bearer token that authenticates as it. */
export interface SimUser {
  token: string
  username: string
  groups?: string[]
}

export const AUTHENTICATED = 'system:authenticated'
const UNAUTHENTICATED = 'system:unauthenticated'
const SERVICE_ACCOUNT_PREFIX = 'system:serviceaccount:'

/** The kubeconfig user of a kubeadm (kind) cluster: what the runbook runs as against the simulator. */
export const CLUSTER_ADMIN: SimUser = {
  token: 'gthulhu-sim-token',
  username: 'kubernetes-admin',
  groups: ['kubeadm:cluster-admins'],
}

/** The user a ServiceAccount's token authenticates as. */
export function serviceAccountUser(namespace: string, name: string): UserInfo {
  return {
    username: `${SERVICE_ACCOUNT_PREFIX}${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, AUTHENTICATED],
  }
}

/**
 * A kube-controller-manager controller's own identity: with --use-service-account-credentials (kubeadm's
 * default) each controller uses a ServiceAccount token of its name in kube-system
 * (cmd/kube-controller-manager/app/controllermanager.go, NewDynamicClientBuilder with NamespaceSystem;
 * names from cmd/kube-controller-manager/app/apps.go and batch.go).
 */
export const controllerUser = (
  controller:
    | 'replicaset-controller'
    | 'deployment-controller'
    | 'daemon-set-controller'
    | 'statefulset-controller'
    | 'job-controller'
    | 'cronjob-controller'
    | 'generic-garbage-collector',
): UserInfo => serviceAccountUser('kube-system', controller)

/** istiod's identity: its gateway deployment controller creates the gateways' and waypoints' objects with it. */
export const ISTIOD_USER: UserInfo = serviceAccountUser('istio-system', 'istiod')

/** A request refused before it reaches a handler (401 or 403), answered as a Status. */
export class AuthError extends Error {
  constructor(
    readonly code: 400 | 401 | 403 | 500,
    readonly reason: string,
    message: string,
    readonly details?: object,
  ) {
    super(message)
  }
}

/** What a request asks for, as an authorizer sees it (a resource request unless `resourceRequest` is false). */
export interface AuthorizationAttributes {
  user: UserInfo
  verb: string
  /** False for a non-resource URL (`path`): discovery, /version, /openapi. */
  resourceRequest?: boolean
  group?: string
  resource?: string
  subresource?: string
  namespace?: string
  name?: string
  path?: string
}

/** Decides whether a user may do something (rbac.ts's RbacAuthorizer in the simulator). */
export type Authorizer = (attributes: AuthorizationAttributes) => { allowed: boolean; reason?: string }
export const allowEverything: Authorizer = () => ({ allowed: true })

/** Maps bearer tokens to users. */
export class Authenticator {
  private readonly byToken: Map<string, SimUser>

  constructor(users: SimUser[]) {
    this.byToken = new Map(users.map((u) => [u.token, u]))
  }

  /** Lets one more user in (a token already known is refused: it would change who an old token is). */
  add(user: SimUser): void {
    if (this.byToken.has(user.token)) throw new Error(`sim: token of ${user.username} is already in use`)
    this.byToken.set(user.token, user)
  }

  /** The user behind the request's bearer token; AuthError 401 when there is none or it is unknown. */
  authenticate(headers: IncomingHttpHeaders): UserInfo {
    const header = String(headers.authorization ?? '')
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1]
    const user = token ? this.byToken.get(token) : undefined
    if (!user) throw new AuthError(401, 'Unauthorized', 'Unauthorized')
    const groups = [...(user.groups ?? [])]
    if (!groups.includes(AUTHENTICATED)) groups.push(AUTHENTICATED)
    return { username: user.username, groups }
  }
}

const headerValues = (headers: IncomingHttpHeaders, name: string): string[] => {
  const value = headers[name.toLowerCase()]
  if (value === undefined) return []
  return (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).map((v) => v.trim())
}

/**
 * The user a request acts as: the requester itself, or the one its Impersonate-* headers name once the
 * requester was allowed to impersonate each part.
 */
export function impersonate(requester: UserInfo, headers: IncomingHttpHeaders, authorize: Authorizer): UserInfo {
  const user = headerValues(headers, 'Impersonate-User')[0] ?? ''
  const groups = headerValues(headers, 'Impersonate-Group').filter(Boolean)
  const uid = headerValues(headers, 'Impersonate-Uid')[0]
  const extraHeaders = Object.keys(headers).filter((h) => h.startsWith('impersonate-extra-'))
  if (!user) {
    if (groups.length || extraHeaders.length || uid)
      throw new AuthError(500, 'InternalError', 'Internal error occurred: requested impersonation without a user')
    return requester
  }
  const check = (resource: string, name: string, namespace?: string, subresource?: string) => {
    const group = resource === 'uids' || resource === 'userextras' ? 'authentication.k8s.io' : ''
    const decision = authorize({ user: requester, verb: 'impersonate', group, resource, subresource, namespace, name })
    if (!decision.allowed) {
      const scope = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope'
      throw new AuthError(
        403,
        'Forbidden',
        `${resource} "${name}" is forbidden: User "${requester.username}" cannot impersonate resource "${resource}" in API group "${group}" ${scope}${decision.reason ? `: ${decision.reason}` : ''}`,
        { name, group, kind: resource },
      )
    }
  }
  let acting: UserInfo
  if (user.startsWith(SERVICE_ACCOUNT_PREFIX) && user.split(':').length === 4) {
    const [, , namespace, name] = user.split(':')
    check('serviceaccounts', name, namespace)
    acting = { username: user, groups: groups.length ? [] : serviceAccountUser(namespace, name).groups }
  } else {
    check('users', user)
    acting = { username: user, groups: [] }
  }
  for (const group of groups) {
    check('groups', group)
    acting.groups.push(group)
  }
  if (uid) {
    check('uids', uid)
    acting.uid = uid
  }
  for (const header of extraHeaders) {
    const key = decodeURIComponent(header.slice('impersonate-extra-'.length))
    for (const value of headerValues(headers, header)) {
      check('userextras', value, undefined, key)
      acting.extra = { ...acting.extra, [key]: [...(acting.extra?.[key] ?? []), value] }
    }
  }
  if (user !== 'system:anonymous' && !acting.groups.some((g) => g === AUTHENTICATED || g === UNAUTHENTICATED)) {
    acting.groups.push(AUTHENTICATED)
  }
  return acting
}
