// --print-rbac: the least permissions a run (or an audit) needs, as Kubernetes RBAC objects. Every step declares the
// API requests it makes (Step.access), the engine adds its own (the record, the lock, leftover probes) and kubectl's
// discovery; this module turns them into one ClusterRole for what is cluster-scoped or spans namespaces, one Role per
// namespace for the rest, and a binding of each to the subject named. Rules follow Kubernetes' RBAC semantics
// (kubernetes/kubernetes v1.32.0 pkg/apis/rbac/v1/evaluation_helpers.go): a rule with resourceNames allows only those
// names, and a create by POST has no name, so it is never limited by one; a ClusterRole bound cluster-wide applies in
// every namespace, so what it grants is left out of the Roles.
import type { Config, RbacSubject } from '../config/options.ts'
import { KUBECTL_DISCOVERY } from '../kube/access.ts'
import type { ApiAccess, KubeObject, Step, StepId } from '../types.ts'
import { leaseAccess } from './lease.ts'
import { recordAccess } from './record.ts'
import { leftoverProbeAccess } from '../verify/probes.ts'

export type RbacOperation = 'run' | 'verify'

/** One rule as granted, with the requests that need it. */
export interface GrantedRule {
  apiGroups?: string[]
  resources?: string[]
  resourceNames?: string[]
  nonResourceURLs?: string[]
  verbs: string[]
  because: ApiAccess[]
}

export interface RoleSet {
  operation: RbacOperation
  /** The name of the ClusterRole, the Roles and their bindings. */
  name: string
  cluster: GrantedRule[]
  namespaced: { namespace: string; rules: GrantedRule[] }[]
}

/** Everything a run (its steps' run and verify) or an audit (their verify) asks of the API server. */
export function runbookAccess(steps: Step[], config: Config, operation: RbacOperation): ApiAccess[] {
  return [
    ...KUBECTL_DISCOVERY,
    ...recordAccess(config.namespace, operation === 'run'),
    ...leaseAccess(config.namespace),
    ...leftoverProbeAccess(config.namespace),
    ...steps.flatMap((step) => {
      const { run, verify } = step.access(config)
      return operation === 'run' ? [...run, ...verify] : verify
    }),
  ]
}

/** One permission: a verb on one resource (or URL) and, when limited, one name, in one scope. */
interface Atom {
  scope: string
  group: string
  resource: string
  name: string
  verb: string
  nonResource: boolean
  because: ApiAccess
}

const ANY = '*'
const atomsOf = (a: ApiAccess): Atom[] =>
  a.verbs.flatMap((verb) =>
    (a.names?.length ? a.names : [ANY]).map((name) => ({
      scope: a.nonResource ? '' : (a.namespace ?? ''),
      group: a.group,
      resource: a.resource,
      name,
      verb,
      nonResource: !!a.nonResource,
      because: a,
    })),
  )

/** Whether a permission already granted covers this one: the same request, in every namespace or by any name. */
function covers(wide: Atom, narrow: Atom): boolean {
  if (wide === narrow || wide.nonResource !== narrow.nonResource) return false
  if (wide.verb !== narrow.verb || wide.group !== narrow.group || wide.resource !== narrow.resource) return false
  if (wide.scope !== '' && wide.scope !== narrow.scope) return false
  if (wide.name !== ANY && wide.name !== narrow.name) return false
  return wide.scope !== narrow.scope || wide.name !== narrow.name
}

const sorted = (values: Iterable<string>) => [...new Set(values)].sort()
const VERB_ORDER = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection']
const byVerb = (a: string, b: string) =>
  (VERB_ORDER.indexOf(a) + 1 || 99) - (VERB_ORDER.indexOf(b) + 1 || 99) || a.localeCompare(b)

/** The rules of one scope: the same verbs on resources of one group (and the same names) make one rule. */
function rulesOf(atoms: Atom[]): GrantedRule[] {
  // resource → name → verbs (with the requests behind them)
  const grants = new Map<
    string,
    { group: string; resource: string; name: string; nonResource: boolean; verbs: Map<string, ApiAccess[]> }
  >()
  for (const atom of atoms) {
    const key = JSON.stringify([atom.nonResource, atom.group, atom.resource, atom.name])
    const grant = grants.get(key) ?? {
      group: atom.group,
      resource: atom.resource,
      name: atom.name,
      nonResource: atom.nonResource,
      verbs: new Map<string, ApiAccess[]>(),
    }
    grant.verbs.set(atom.verb, [...(grant.verbs.get(atom.verb) ?? []), atom.because])
    grants.set(key, grant)
  }
  // Names with the same verbs on one resource share a rule; then resources with the same verbs and names do.
  const named = new Map<
    string,
    { group: string; resource: string; nonResource: boolean; verbs: string[]; names: string[]; because: ApiAccess[] }
  >()
  for (const grant of grants.values()) {
    const verbs = [...grant.verbs.keys()].sort(byVerb)
    const key = JSON.stringify([grant.nonResource, grant.group, grant.resource, verbs, grant.name === ANY])
    const entry = named.get(key) ?? {
      group: grant.group,
      resource: grant.resource,
      nonResource: grant.nonResource,
      verbs,
      names: [],
      because: [],
    }
    if (grant.name !== ANY) entry.names.push(grant.name)
    entry.because.push(...[...grant.verbs.values()].flat())
    named.set(key, entry)
  }
  const rules = new Map<string, GrantedRule>()
  for (const entry of named.values()) {
    const names = sorted(entry.names)
    const key = JSON.stringify([entry.nonResource, entry.group, entry.verbs, names])
    const rule: GrantedRule = rules.get(key) ?? {
      ...(entry.nonResource ? { nonResourceURLs: [] } : { apiGroups: [entry.group], resources: [] }),
      ...(names.length ? { resourceNames: names } : {}),
      verbs: entry.verbs,
      because: [],
    }
    if (entry.nonResource) rule.nonResourceURLs!.push(entry.resource)
    else rule.resources!.push(entry.resource)
    rule.because.push(...entry.because)
    rules.set(key, rule)
  }
  const result = [...rules.values()].map((r) => ({
    ...r,
    ...(r.resources ? { resources: sorted(r.resources) } : {}),
    ...(r.nonResourceURLs ? { nonResourceURLs: sorted(r.nonResourceURLs) } : {}),
    because: [...new Set(r.because)],
  }))
  const order = (r: GrantedRule) =>
    JSON.stringify([
      !!r.nonResourceURLs,
      r.apiGroups ?? [],
      r.resources ?? r.nonResourceURLs,
      r.resourceNames ?? [],
      r.verbs,
    ])
  return result.sort((a, b) => order(a).localeCompare(order(b)))
}

/** The permissions as one ClusterRole and one Role per namespace, nothing granted twice. */
export function roleSet(accesses: ApiAccess[], config: Pick<Config, 'release'>, operation: RbacOperation): RoleSet {
  const atoms = accesses.flatMap(atomsOf)
  const kept = atoms.filter((atom) => !atoms.some((wide) => covers(wide, atom)))
  const scopes = sorted(kept.map((a) => a.scope)).filter((s) => s !== '')
  return {
    operation,
    name: `${config.release}-runbook${operation === 'verify' ? '-audit' : ''}`,
    cluster: rulesOf(kept.filter((a) => a.scope === '')),
    namespaced: scopes.map((namespace) => ({ namespace, rules: rulesOf(kept.filter((a) => a.scope === namespace)) })),
  }
}

/** The permissions of the selected steps, for a run or an audit. */
export function rolesFor(steps: Step[], ids: StepId[], config: Config, operation: RbacOperation): RoleSet {
  const selected = steps.filter((s) => ids.includes(s.id))
  return roleSet(runbookAccess(selected, config, operation), config, operation)
}

const RBAC = 'rbac.authorization.k8s.io'
const LABELS = { 'app.kubernetes.io/managed-by': 'gthulhu-runbook-print-rbac' }

const subjectOf = (subject: RbacSubject) =>
  subject.kind === 'ServiceAccount'
    ? { kind: 'ServiceAccount', name: subject.name, namespace: subject.namespace }
    : { apiGroup: RBAC, kind: subject.kind, name: subject.name }

const ruleObject = (rule: GrantedRule) => {
  const { because, ...rest } = rule
  return rest
}

/** Namespaces every cluster has: a Role there can be bound at any time. */
const ALWAYS_THERE = ['default', 'kube-system', 'kube-public']

/**
 * The namespaces a run's Roles need that the run itself creates (istio-system, by istioctl install): created with
 * the roles, so the Role in them can be bound before the run. istioctl install uses a namespace it finds.
 */
export const namespacesToCreate = (set: RoleSet, config: Pick<Config, 'namespace'>) =>
  set.operation === 'run'
    ? set.namespaced.map((n) => n.namespace).filter((ns) => ns !== config.namespace && !ALWAYS_THERE.includes(ns))
    : []

/** The roles and their bindings as Kubernetes objects (what `kubectl apply -f` takes). */
export function rbacObjects(set: RoleSet, subject: RbacSubject, config: Pick<Config, 'namespace'>): KubeObject[] {
  const objects: KubeObject[] = namespacesToCreate(set, config).map((name) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: LABELS },
  }))
  if (set.cluster.length)
    objects.push(
      {
        apiVersion: `${RBAC}/v1`,
        kind: 'ClusterRole',
        metadata: { name: set.name, labels: LABELS },
        rules: set.cluster.map(ruleObject),
      },
      {
        apiVersion: `${RBAC}/v1`,
        kind: 'ClusterRoleBinding',
        metadata: { name: set.name, labels: LABELS },
        roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: set.name },
        subjects: [subjectOf(subject)],
      },
    )
  for (const { namespace, rules } of set.namespaced)
    objects.push(
      {
        apiVersion: `${RBAC}/v1`,
        kind: 'Role',
        metadata: { name: set.name, namespace, labels: LABELS },
        rules: rules.map(ruleObject),
      },
      {
        apiVersion: `${RBAC}/v1`,
        kind: 'RoleBinding',
        metadata: { name: set.name, namespace, labels: LABELS },
        roleRef: { apiGroup: RBAC, kind: 'Role', name: set.name },
        subjects: [subjectOf(subject)],
      },
    )
  return objects
}

// ---- plain words about what the roles amount to ----

const grants = (set: RoleSet, test: (rule: GrantedRule, namespace?: string) => boolean) =>
  set.cluster.some((r) => test(r)) ||
  set.namespaced.some(({ namespace, rules }) => rules.some((r) => test(r, namespace)))
const has = (rule: GrantedRule, group: string, resource: string, verb: string, anyName = true) =>
  (rule.apiGroups ?? []).includes(group) &&
  (rule.resources ?? []).includes(resource) &&
  rule.verbs.includes(verb) &&
  (!anyName || !rule.resourceNames?.length)

/** What holding these roles amounts to, said plainly: the grants that reach beyond what the runbook itself touches. */
export function plainWords(set: RoleSet, config: Pick<Config, 'namespace'>): string[] {
  const words: string[] = []
  if (grants(set, (r) => has(r, RBAC, 'clusterroles', 'escalate', false)))
    words.push(
      "The ambient step runs istioctl install. istioctl 1.29 writes CustomResourceDefinitions, webhooks, Istio's workloads and Istio's ClusterRoles and bindings, which grant (among much else) reading every Secret in the cluster; writing and binding them needs escalate and bind on them. Whoever holds this role can become cluster-admin in practice, as with any Istio install: grant it for the run and take it away after, or install Istio yourself and leave the step out (--skip ambient). The istioctl rules are what istioctl 1.29.1 asks for the ambient profile (read from its sources); another version or profile may ask for more.",
    )
  if (grants(set, (r, ns) => ns === config.namespace && has(r, '', 'secrets', 'list')))
    words.push(
      `The record lives in Secrets in ${config.namespace}; their names change with every revision and RBAC cannot select Secrets by label, so these rules ${grants(set, (r, ns) => ns === config.namespace && has(r, '', 'secrets', 'update')) ? 'read and write' : 'read'} every Secret of ${config.namespace}, Gthulhu's own included.`,
    )
  if (grants(set, (r) => has(r, '', 'namespaces', 'create') && has(r, '', 'namespaces', 'delete')))
    words.push(
      'The impostor probe listens in a namespace of its own with a fresh random name, which RBAC cannot name: the role may create and delete any namespace, and create pods and ServiceAccounts in every namespace. --no-probes leaves the probes (and these rules) out.',
    )
  if (grants(set, (r) => has(r, '', 'serviceaccounts', 'impersonate', false)))
    words.push(
      "The admission-policy step sends copies of the workloads' pods as the kube-system controllers that make them (a server dry run, nothing is created). Impersonating a ServiceAccount lends its rights, and these controllers create and delete pods in every namespace: RBAC cannot limit impersonation to dry runs.",
    )
  return words
}

// ---- YAML with comments ----

/** A YAML scalar: plain when it is safe, otherwise quoted as JSON (which YAML reads). */
const scalar = (value: string) => (/^[a-z0-9]([a-z0-9.:/_-]*[a-z0-9/])?$/i.test(value) ? value : JSON.stringify(value))
const flow = (values: string[]) => `[${values.map(scalar).join(', ')}]`

const wrap = (text: string, width = 116) => {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line)
      line = word
    } else line = line ? `${line} ${word}` : word
  }
  if (line) lines.push(line)
  return lines
}

/** Why a rule is there: each step's reasons on one line (wrapped), and when a request is made only sometimes. */
function reasons(rule: GrantedRule): string[] {
  // who → what → when (undefined: always; a reason given both ways is always)
  const byWho = new Map<string, Map<string, string | undefined>>()
  for (const a of rule.because) {
    const at = a.why.indexOf(': ')
    const [who, what] = at > 0 ? [a.why.slice(0, at), a.why.slice(at + 2)] : ['', a.why]
    const whats = byWho.get(who) ?? new Map<string, string | undefined>()
    whats.set(what, whats.has(what) && whats.get(what) === undefined ? undefined : a.when)
    byWho.set(who, whats)
  }
  return [...byWho.keys()].sort().flatMap((who) => {
    const whats = [...byWho.get(who)!].map(([what, when]) => (when ? `${what} (only ${when})` : what))
    const text = `${who ? `${who}: ` : ''}${sorted(whats).join('; ')}`
    return wrap(text, 112).map((line, i) => (i === 0 ? line : `  ${line}`))
  })
}

function ruleLines(rule: GrantedRule): string[] {
  const lines = reasons(rule).map((why) => `# ${why}`)
  const fields: [string, string[] | undefined][] = [
    ['apiGroups', rule.apiGroups],
    ['resources', rule.resources],
    ['resourceNames', rule.resourceNames],
    ['nonResourceURLs', rule.nonResourceURLs],
    ['verbs', rule.verbs],
  ]
  const present = fields.filter(([, v]) => v !== undefined) as [string, string[]][]
  lines.push(...present.map(([key, values], i) => `${i === 0 ? '- ' : '  '}${key}: ${flow(values)}`))
  return lines
}

function objectYaml(object: KubeObject, rules?: GrantedRule[]): string {
  const meta = object.metadata
  const lines = [
    `apiVersion: ${object.apiVersion}`,
    `kind: ${object.kind}`,
    'metadata:',
    `  name: ${scalar(meta.name)}`,
    ...(meta.namespace ? [`  namespace: ${scalar(meta.namespace)}`] : []),
    '  labels:',
    ...Object.entries(meta.labels ?? {}).map(([k, v]) => `    ${scalar(k)}: ${scalar(String(v))}`),
  ]
  if (object.kind === 'Namespace') return lines.join('\n')
  if (rules) lines.push('rules:', ...rules.flatMap(ruleLines))
  else {
    lines.push(
      'roleRef:',
      `  apiGroup: ${RBAC}`,
      `  kind: ${object.roleRef.kind}`,
      `  name: ${scalar(object.roleRef.name)}`,
      'subjects:',
      ...object.subjects.flatMap((s: Record<string, string>, i: number) =>
        Object.entries(s).map(([k, v], j) => `${i >= 0 && j === 0 ? '- ' : '  '}${k}: ${scalar(v)}`),
      ),
    )
  }
  return lines.join('\n')
}

/** The roles and bindings as a YAML stream, each rule under the reasons for it. */
export function rbacYaml(set: RoleSet, subject: RbacSubject, config: Pick<Config, 'namespace' | 'release'>): string {
  const what =
    set.operation === 'run'
      ? 'a run of the runbook (every step selected: its changes and its verification)'
      : 'an audit (--verify: the verification of every step selected; it changes nothing but its probes)'
  const header = [
    `Least permissions for ${what}, release ${config.release} in namespace ${config.namespace}: generated by --print-rbac`,
    'from the API requests each step declares. A rule marked "only …" is used only in some runs. kubectl\'s discovery is',
    "granted to every authenticated user by Kubernetes' default policy; it is listed so the role also works where that was narrowed.",
  ].join(' ')
  const created = namespacesToCreate(set, config)
  const words = [
    ...(created.length
      ? [
          `${created.join(', ')} ${created.length > 1 ? 'are' : 'is'} created here, so the Role there can be bound before the run; istioctl install uses the namespace it finds.`,
        ]
      : []),
    ...plainWords(set, config),
  ]
  const comment = [...wrap(header), ...words.flatMap((w) => ['', ...wrap(`⚠ ${w}`)])].map((l) => (l ? `# ${l}` : '#'))
  const objects = rbacObjects(set, subject, config)
  const rulesFor = (o: KubeObject) =>
    o.kind === 'ClusterRole'
      ? set.cluster
      : o.kind === 'Role'
        ? set.namespaced.find((n) => n.namespace === o.metadata.namespace)!.rules
        : undefined
  return `${comment.join('\n')}\n${objects.map((o) => objectYaml(o, rulesFor(o))).join('\n---\n')}\n`
}
