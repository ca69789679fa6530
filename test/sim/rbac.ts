// Kubernetes RBAC for the simulated API server: what a request asks for (its attributes, as kube-apiserver derives them
// from the URL), whether a user's Roles and ClusterRoles allow it, the 403 a denial answers, and the escalation check on
// writes of roles and bindings. Admin (system:masters, and kubeadm's kubernetes-admin through a ClusterRoleBinding to
// cluster-admin) keeps full access; everyone else gets exactly what the bindings in the store grant.
//
// Imitates kubernetes/kubernetes (v1.32, read in a search index of the repository, not at the tag):
// - staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go (RequestInfoFactory: /api and /apis paths below
//   the resource level are non-resource URLs; verbs from the method, get → list / watch without a name, delete →
//   deletecollection; a list or watch with fieldSelector metadata.name=X is authorized for the name X; a path
//   /namespaces/<n> is in namespace <n>);
// - plugin/pkg/auth/authorizer/rbac/rbac.go (RuleAllows: verb, API group, resource with subresource as
//   "<resource>/<subresource>" or "*/<subresource>", resourceNames; nonResourceURLs with a trailing "*");
// - pkg/apis/rbac/v1/evaluation_helpers.go (VerbMatches, APIGroupMatches, ResourceMatches, ResourceNameMatches,
//   NonResourceURLMatches);
// - pkg/registry/rbac/validation/rule.go (VisitRulesFor: every ClusterRoleBinding, then the RoleBindings of the
//   request's namespace; subjects User, Group, ServiceAccount — a ServiceAccount subject without a namespace takes
//   the binding's; a RoleBinding may reference a ClusterRole, whose rules then apply in that namespace only);
// - staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go (forbiddenMessage) and
//   staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go (NewForbidden): `<resource>[.<group>] "<name>" is
//   forbidden: User "<u>" cannot <verb> resource "<r>" in API group "<g>" in the namespace "<ns>"` (or `at the
//   cluster scope`; `forbidden: User "<u>" cannot get path "<p>"` for a non-resource URL);
// - staging/src/k8s.io/apiserver/pkg/authorization/authorizerfactory (the privileged-group authorizer put before RBAC:
//   system:masters is allowed everything);
// - pkg/registry/rbac/escalation_check.go (RoleEscalationAuthorized: verb escalate on the role; BindingAuthorized:
//   verb bind on the referenced role, by name), pkg/registry/rbac/validation/rule.go ConfirmNoEscalation and
//   staging/src/k8s.io/component-helpers/auth/rbac/validation/policy_comparator.go (Covers): writing a Role or
//   ClusterRole needs escalate or every permission it grants; writing a binding needs bind or every permission of
//   the role it references;
// - plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go and controller_policy.go (the default ClusterRoles and
//   bindings seeded below; selfsubjectreviews in system:basic-user since kubernetes/kubernetes#116274) and kubeadm's
//   ClusterRoleBinding kubeadm:cluster-admins (cmd/kubeadm/app/phases/kubeconfig).
// Simplifications: no aggregated ClusterRoles (aggregationRule is stored, not resolved); the default roles admin, edit,
// view and the node/proxy roles are not seeded; a binding to a missing role grants nothing and reports no resolution
// error; the controllers inside the simulator write to the store directly and are not authorized (their bootstrap
// roles are seeded so that a request impersonating one is authorized as on a real cluster).
import type { AuthorizationAttributes as RequestAttributes, UserInfo } from './authn.ts'
import type { KubeObject, ResourceType, Store } from './store.ts'

export const RBAC_GROUP = 'rbac.authorization.k8s.io'
const PRIVILEGED_GROUP = 'system:masters'
const SERVICE_ACCOUNT_PREFIX = 'system:serviceaccount:'

export interface PolicyRule {
  verbs: string[]
  apiGroups?: string[]
  resources?: string[]
  resourceNames?: string[]
  nonResourceURLs?: string[]
}

/** Derives a request's attributes from its method, path and query, as RequestInfoFactory does. */
export function requestAttributes(
  user: UserInfo,
  method: string,
  path: string,
  query: URLSearchParams,
): RequestAttributes {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent)
  const nonResource = { user, verb: method.toLowerCase(), resourceRequest: false, path }
  const prefix = parts[0] === 'api' ? 2 : parts[0] === 'apis' ? 3 : 0
  if (!prefix || parts.length <= prefix) return nonResource
  const group = parts[0] === 'api' ? '' : parts[1]
  let rest = parts.slice(prefix)
  const verbs: Record<string, string> = {
    POST: 'create',
    GET: 'get',
    HEAD: 'get',
    PUT: 'update',
    PATCH: 'patch',
    DELETE: 'delete',
  }
  let verb = verbs[method.toUpperCase()] ?? method.toLowerCase()
  let namespace: string | undefined
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1]
    // /namespaces/<n>/<resource>…; /namespaces/<n>/status and /finalize stay the namespace's own subresources.
    if (rest.length > 2 && !['status', 'finalize'].includes(rest[2])) rest = rest.slice(2)
  }
  const [resource, name, subresource] = rest
  const attributes: RequestAttributes = {
    user,
    verb,
    resourceRequest: true,
    group,
    resource,
    namespace,
    ...(name ? { name } : {}),
    ...(subresource ? { subresource } : {}),
  }
  if (!name && verb === 'get') {
    verb = query.get('watch') === 'true' || query.get('watch') === '1' ? 'watch' : 'list'
    const exact = /(?:^|,)metadata\.name==?([^,]+)(?:,|$)/.exec(query.get('fieldSelector') ?? '')?.[1]
    if (exact) attributes.name = exact
  }
  if (!name && verb === 'delete') verb = 'deletecollection'
  attributes.verb = verb
  return attributes
}

// ---- rule evaluation (evaluation_helpers.go) ----

const verbMatches = (rule: PolicyRule, verb: string) => rule.verbs.some((v) => v === '*' || v === verb)
const groupMatches = (rule: PolicyRule, group: string) => (rule.apiGroups ?? []).some((g) => g === '*' || g === group)
function resourceMatches(rule: PolicyRule, combined: string, subresource: string | undefined): boolean {
  return (rule.resources ?? []).some((r) => r === '*' || r === combined || (!!subresource && r === `*/${subresource}`))
}
const nameMatches = (rule: PolicyRule, name: string | undefined) =>
  !rule.resourceNames?.length || rule.resourceNames.includes(name ?? '')
function urlMatches(rule: PolicyRule, path: string): boolean {
  return (rule.nonResourceURLs ?? []).some(
    (u) => u === '*' || u === path || (u.endsWith('*') && path.startsWith(u.slice(0, -1))),
  )
}

export function ruleAllows(attributes: RequestAttributes, rule: PolicyRule): boolean {
  if (attributes.resourceRequest === false)
    return verbMatches(rule, attributes.verb) && urlMatches(rule, attributes.path ?? '')
  const combined = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : attributes.resource!
  return (
    verbMatches(rule, attributes.verb) &&
    groupMatches(rule, attributes.group ?? '') &&
    resourceMatches(rule, combined, attributes.subresource) &&
    nameMatches(rule, attributes.name)
  )
}

// ---- the rule resolver (validation/rule.go) ----

interface Subject {
  kind: string
  name: string
  namespace?: string
}

function appliesToUser(user: UserInfo, subject: Subject, bindingNamespace: string): boolean {
  switch (subject.kind) {
    case 'User':
      return user.username === subject.name
    case 'Group':
      return user.groups.includes(subject.name)
    case 'ServiceAccount': {
      const namespace = subject.namespace || bindingNamespace
      return !!namespace && user.username === `${SERVICE_ACCOUNT_PREFIX}${namespace}:${subject.name}`
    }
    default:
      return false
  }
}

const rbacType = (store: Store, plural: string): ResourceType | undefined =>
  store.allTypes().find((rt) => rt.group === RBAC_GROUP && rt.plural === plural && rt.version === 'v1')

export class RbacAuthorizer {
  constructor(readonly store: Store) {}

  private list(plural: string, namespace?: string): KubeObject[] {
    const rt = rbacType(this.store, plural)
    return rt ? this.store.peek(rt, namespace) : [] // read only: no copies
  }

  private roleRules(roleRef: { kind?: string; name?: string } | undefined, bindingNamespace: string): PolicyRule[] {
    if (!roleRef?.name) return []
    const plural = roleRef.kind === 'Role' ? 'roles' : roleRef.kind === 'ClusterRole' ? 'clusterroles' : undefined
    const rt = plural && rbacType(this.store, plural)
    if (!rt || (plural === 'roles' && !bindingNamespace)) return []
    const role = this.store.get(rt, plural === 'roles' ? bindingNamespace : undefined, roleRef.name)
    return (role?.rules as PolicyRule[] | undefined) ?? []
  }

  /**
   * Every rule that applies to the user in the namespace ('' or undefined: cluster-wide bindings only), with the
   * binding it comes through, described as rule.go's describers do (`ClusterRoleBinding "b" of ClusterRole "r" to
   * User "u"`, `RoleBinding "b/ns" of Role "r" to …`).
   */
  sourcedRulesFor(user: UserInfo, namespace?: string): SourcedRule[] {
    const rules: SourcedRule[] = []
    const visit = (binding: KubeObject, bindingNamespace: string) => {
      const subject = (binding.subjects ?? []).find((s: Subject) => appliesToUser(user, s, bindingNamespace))
      if (!subject) return
      const who =
        subject.kind === 'ServiceAccount'
          ? `ServiceAccount ${JSON.stringify(`${subject.name}/${subject.namespace || bindingNamespace}`)}`
          : `${subject.kind} ${JSON.stringify(subject.name)}`
      const name = bindingNamespace ? `${binding.metadata.name}/${bindingNamespace}` : binding.metadata.name
      const kind = bindingNamespace ? 'RoleBinding' : 'ClusterRoleBinding'
      const source = `${kind} ${JSON.stringify(name)} of ${binding.roleRef?.kind} ${JSON.stringify(binding.roleRef?.name)} to ${who}`
      const role = { kind: String(binding.roleRef?.kind ?? ''), name: String(binding.roleRef?.name ?? '') }
      this.roleRules(binding.roleRef, bindingNamespace).forEach((rule, index) =>
        rules.push({ rule, source, role, index, namespace: bindingNamespace || undefined }),
      )
    }
    for (const binding of this.list('clusterrolebindings')) visit(binding, '')
    if (namespace) for (const binding of this.list('rolebindings', namespace)) visit(binding, namespace)
    return rules
  }

  rulesFor(user: UserInfo, namespace?: string): PolicyRule[] {
    return this.sourcedRulesFor(user, namespace).map((r) => r.rule)
  }

  private readonly listeners = new Set<(decision: Decision) => void>()

  /** Hears every decision on a request (not on access reviews); returns the function that stops listening. */
  onDecision(listener: (decision: Decision) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Whether the user may do this, without it being a request (SelfSubjectAccessReview, `kubectl auth can-i`). */
  review(attributes: RequestAttributes): { allowed: boolean; reason?: string; by?: SourcedRule } {
    if (attributes.user.groups.includes(PRIVILEGED_GROUP)) return { allowed: true }
    const by = this.sourcedRulesFor(attributes.user, attributes.namespace).find((r) => ruleAllows(attributes, r.rule))
    return by ? { allowed: true, reason: `RBAC: allowed by ${by.source}`, by } : { allowed: false }
  }

  /** The privileged group first (allowed everything), then RBAC; every decision is reported to the listeners. */
  authorize(attributes: RequestAttributes): { allowed: boolean; reason?: string } {
    const decision = this.review(attributes)
    for (const listener of this.listeners) listener({ attributes, allowed: decision.allowed, by: decision.by })
    return { allowed: decision.allowed, ...(decision.reason ? { reason: decision.reason } : {}) }
  }
}

/** A rule that applies to a user, and where it comes from. */
export interface SourcedRule {
  rule: PolicyRule
  /** The binding, as RBAC's "allowed by" reason names it. */
  source: string
  role: { kind: string; name: string }
  /** The rule's index in its role. */
  index: number
  /** The RoleBinding's namespace; undefined for a ClusterRoleBinding. */
  namespace?: string
}

/** One authorization decision on a request, with the rule that allowed it. */
export interface Decision {
  attributes: RequestAttributes
  allowed: boolean
  by?: SourcedRule
}

/** The 403 a denied request answers (NewForbidden with forbiddenMessage). */
export function forbidden(
  attributes: RequestAttributes,
  reason?: string,
): { code: 403; reason: 'Forbidden'; message: string; details: object } {
  const who = `User ${JSON.stringify(attributes.user.username)}`
  if (attributes.resourceRequest === false) {
    return {
      code: 403,
      reason: 'Forbidden',
      message: `forbidden: ${who} cannot ${attributes.verb} path ${JSON.stringify(attributes.path)}${reason ? `: ${reason}` : ''}`,
      details: {},
    }
  }
  const resource = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : attributes.resource!
  const scope = attributes.namespace
    ? `in the namespace ${JSON.stringify(attributes.namespace)}`
    : 'at the cluster scope'
  const qualified = attributes.group ? `${attributes.resource}.${attributes.group}` : attributes.resource!
  const object = attributes.name ? `${qualified} ${JSON.stringify(attributes.name)}` : qualified
  return {
    code: 403,
    reason: 'Forbidden',
    message: `${object} is forbidden: ${who} cannot ${attributes.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(attributes.group ?? '')} ${scope}${reason ? `: ${reason}` : ''}`,
    details: {
      ...(attributes.name ? { name: attributes.name } : {}),
      group: attributes.group ?? '',
      kind: attributes.resource,
    },
  }
}

// ---- escalation prevention (policy_comparator.go Covers, ConfirmNoEscalation) ----

const hasAll = (owner: string[] | undefined, wanted: string[] | undefined) =>
  (owner ?? []).includes('*') || (wanted ?? []).every((w) => (owner ?? []).includes(w))

function resourceCoversAll(owner: string[] | undefined, wanted: string[] | undefined): boolean {
  const own = owner ?? []
  if (own.includes('*')) return true
  return (wanted ?? []).every((w) => {
    if (own.includes(w)) return true
    const slash = w.indexOf('/')
    return slash > 0 && own.includes(`*${w.slice(slash)}`)
  })
}

function urlCoversAll(owner: string[] | undefined, wanted: string[] | undefined): boolean {
  return (wanted ?? []).every((w) =>
    (owner ?? []).some((o) => o === '*' || o === w || (o.endsWith('*') && w.startsWith(o.slice(0, -1)))),
  )
}

function ruleCovers(owner: PolicyRule, sub: PolicyRule): boolean {
  return (
    hasAll(owner.verbs, sub.verbs) &&
    hasAll(owner.apiGroups, sub.apiGroups) &&
    resourceCoversAll(owner.resources, sub.resources) &&
    urlCoversAll(owner.nonResourceURLs, sub.nonResourceURLs) &&
    (!owner.resourceNames?.length || hasAll(owner.resourceNames, sub.resourceNames ?? []))
  )
}

/** Splits a rule into rules of one verb, group, resource and name each (BreakdownRule). */
function breakdown(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = []
  for (const verb of rule.verbs) {
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        if (rule.resourceNames?.length)
          for (const name of rule.resourceNames)
            out.push({ verbs: [verb], apiGroups: [group], resources: [resource], resourceNames: [name] })
        else out.push({ verbs: [verb], apiGroups: [group], resources: [resource] })
      }
    }
    for (const url of rule.nonResourceURLs ?? []) out.push({ verbs: [verb], nonResourceURLs: [url] })
  }
  return out
}

/** The permissions in `servant` that `owner` does not hold (empty: owner covers them all). */
export function uncovered(owner: PolicyRule[], servant: PolicyRule[]): PolicyRule[] {
  return servant.flatMap(breakdown).filter((sub) => !owner.some((o) => ruleCovers(o, sub)))
}

const goQuoted = (values: string[]) => `[${values.map((v) => JSON.stringify(v)).join(' ')}]`
/** CompactString of a rule, as the escalation error lists it. */
export function compactRule(rule: PolicyRule): string {
  const parts: string[] = []
  if (rule.apiGroups?.length) parts.push(`APIGroups:${goQuoted(rule.apiGroups)}`)
  if (rule.resources?.length) parts.push(`Resources:${goQuoted(rule.resources)}`)
  if (rule.nonResourceURLs?.length) parts.push(`NonResourceURLs:${goQuoted(rule.nonResourceURLs)}`)
  if (rule.resourceNames?.length) parts.push(`ResourceNames:${goQuoted(rule.resourceNames)}`)
  if (rule.verbs.length) parts.push(`Verbs:${goQuoted(rule.verbs)}`)
  return `{${parts.join(', ')}}`
}

/**
 * Why writing this Role, ClusterRole or binding would grant the user more than it holds (undefined: allowed). A
 * role needs `escalate` on it or every permission it grants; a binding needs `bind` on the role it references or
 * every permission of that role.
 */
export function escalationProblem(
  rbac: RbacAuthorizer,
  user: UserInfo,
  plural: string,
  object: KubeObject,
): string | undefined {
  if (user.groups.includes(PRIVILEGED_GROUP)) return undefined
  const namespace = plural === 'roles' || plural === 'rolebindings' ? object.metadata.namespace : undefined
  const allowedTo = (verb: string, resource: string, name: string) =>
    rbac.authorize({ user, verb, resourceRequest: true, group: RBAC_GROUP, resource, namespace, name }).allowed
  let granted: PolicyRule[]
  if (plural === 'roles' || plural === 'clusterroles') {
    if (allowedTo('escalate', plural, object.metadata.name)) return undefined
    granted = (object.rules as PolicyRule[] | undefined) ?? []
  } else if (plural === 'rolebindings' || plural === 'clusterrolebindings') {
    const ref = object.roleRef ?? {}
    const refPlural = ref.kind === 'Role' ? 'roles' : 'clusterroles'
    if (allowedTo('bind', refPlural, ref.name)) return undefined
    const rt = rbacType(rbac.store, refPlural)
    const role = rt && rbac.store.get(rt, refPlural === 'roles' ? namespace : undefined, ref.name)
    if (!role)
      return `${ref.kind === 'Role' ? 'role' : 'clusterrole'}.${RBAC_GROUP} ${JSON.stringify(ref.name)} not found`
    granted = (role.rules as PolicyRule[] | undefined) ?? []
  } else return undefined
  const missing = uncovered(rbac.rulesFor(user, namespace), granted)
  if (!missing.length) return undefined
  return `user ${JSON.stringify(user.username)} (groups=${goQuoted(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${[...new Set(missing.map(compactRule))].sort().join('\n')}`
}

// ---- the default policy a kubeadm cluster starts with ----

const clusterRole = (name: string, rules: PolicyRule[]): KubeObject => ({
  apiVersion: `${RBAC_GROUP}/v1`,
  kind: 'ClusterRole',
  metadata: { name, labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
  rules,
})
const clusterBinding = (name: string, role: string, subjects: Subject[]): KubeObject => ({
  apiVersion: `${RBAC_GROUP}/v1`,
  kind: 'ClusterRoleBinding',
  metadata: { name, labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
  roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: role },
  subjects: subjects.map((s) => ({ ...(s.kind === 'ServiceAccount' ? {} : { apiGroup: RBAC_GROUP }), ...s })),
})
const group = (name: string): Subject => ({ kind: 'Group', name })
const rule = (verbs: string[], apiGroups: string[], resources: string[]): PolicyRule => ({
  verbs,
  apiGroups,
  resources,
})
const EVENTS = rule(['create', 'update', 'patch'], ['', 'events.k8s.io'], ['events'])

/** kube-controller-manager's controllers this simulator runs, with the rules of their bootstrap roles. */
const CONTROLLER_ROLES: Record<string, PolicyRule[]> = {
  'deployment-controller': [
    rule(['get', 'list', 'watch', 'update'], ['apps'], ['deployments']),
    rule(['update'], ['apps'], ['deployments/status', 'deployments/finalizers']),
    rule(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], ['apps'], ['replicasets']),
    rule(['get', 'list', 'update', 'watch'], [''], ['pods']),
    EVENTS,
  ],
  'replicaset-controller': [
    rule(['get', 'list', 'watch', 'update'], ['apps'], ['replicasets']),
    rule(['update'], ['apps'], ['replicasets/status', 'replicasets/finalizers']),
    rule(['list', 'watch', 'patch', 'create', 'delete'], [''], ['pods']),
    EVENTS,
  ],
  'daemon-set-controller': [
    rule(['get', 'list', 'watch'], ['apps'], ['daemonsets']),
    rule(['update'], ['apps'], ['daemonsets/status', 'daemonsets/finalizers']),
    rule(['list', 'watch'], [''], ['nodes']),
    rule(['list', 'watch', 'create', 'delete', 'patch'], [''], ['pods']),
    rule(['create'], [''], ['pods/binding']),
    rule(['get', 'list', 'watch', 'create', 'delete', 'update', 'patch'], ['apps'], ['controllerrevisions']),
    EVENTS,
  ],
  'statefulset-controller': [
    rule(['list', 'watch'], [''], ['pods']),
    rule(['list', 'watch'], ['apps'], ['statefulsets']),
    rule(['update'], ['apps'], ['statefulsets/status', 'statefulsets/finalizers']),
    rule(['get', 'create', 'delete', 'update', 'patch'], [''], ['pods']),
    rule(['get', 'create', 'delete', 'update', 'patch', 'list', 'watch'], ['apps'], ['controllerrevisions']),
    rule(['get', 'create'], [''], ['persistentvolumeclaims']),
    EVENTS,
  ],
}

/** The ClusterRoles and ClusterRoleBindings a kubeadm cluster has from the start (those this simulator needs). */
export function bootstrapPolicy(): KubeObject[] {
  const discoveryUrls = [
    '/api',
    '/api/*',
    '/apis',
    '/apis/*',
    '/healthz',
    '/livez',
    '/openapi',
    '/openapi/*',
    '/readyz',
    '/version',
    '/version/',
  ]
  const publicInfo = ['/healthz', '/livez', '/readyz', '/version', '/version/']
  const objects: KubeObject[] = [
    clusterRole('cluster-admin', [
      { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
      { verbs: ['*'], nonResourceURLs: ['*'] },
    ]),
    clusterRole('system:discovery', [{ verbs: ['get'], nonResourceURLs: discoveryUrls }]),
    clusterRole('system:public-info-viewer', [{ verbs: ['get'], nonResourceURLs: publicInfo }]),
    clusterRole('system:basic-user', [
      rule(['create'], ['authorization.k8s.io'], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']),
      rule(['create'], ['authentication.k8s.io'], ['selfsubjectreviews']),
    ]),
    clusterBinding('cluster-admin', 'cluster-admin', [group(PRIVILEGED_GROUP)]),
    clusterBinding('system:discovery', 'system:discovery', [group('system:authenticated')]),
    clusterBinding('system:basic-user', 'system:basic-user', [group('system:authenticated')]),
    clusterBinding('system:public-info-viewer', 'system:public-info-viewer', [
      group('system:authenticated'),
      group('system:unauthenticated'),
    ]),
    // kubeadm (1.29+) puts kubernetes-admin in this group and binds it to cluster-admin, instead of system:masters.
    {
      ...clusterBinding('kubeadm:cluster-admins', 'cluster-admin', [group('kubeadm:cluster-admins')]),
      metadata: { name: 'kubeadm:cluster-admins' },
    },
  ]
  for (const [controller, rules] of Object.entries(CONTROLLER_ROLES)) {
    objects.push(clusterRole(`system:controller:${controller}`, rules))
    objects.push(
      clusterBinding(`system:controller:${controller}`, `system:controller:${controller}`, [
        { kind: 'ServiceAccount', name: controller, namespace: 'kube-system' },
      ]),
    )
  }
  return objects
}
