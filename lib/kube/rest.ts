// The kubectl commands the runbook sends most (reads, watches, whole-object writes) as the API requests kubectl
// itself would make, so they can go through one `kubectl proxy` (api-proxy.ts) instead of a process each, with
// the answer kubectl would have printed. Pure: cluster.ts sends the requests. A command this cannot translate
// exactly is left to kubectl.
import type { KubeObject } from './object.ts'

/** A resource the runbook reads or writes, as the API server serves it. */
export interface ApiResource {
  kind: string
  group: string
  /** The version to ask for; undefined for custom resources, whose served versions are discovered. */
  version?: string
  plural: string
  namespaced: boolean
}

const RESOURCES = new Map<string, ApiResource>()
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'Node',
  'CustomResourceDefinition',
  'GatewayClass',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'ClusterRole',
  'ClusterRoleBinding',
])
function define(kind: string, group: string, version: string | undefined, plural: string, shortNames: string[] = []) {
  const namespaced = !CLUSTER_SCOPED.has(kind)
  const resource = { kind, group, version, plural, namespaced }
  const singular = kind.toLowerCase()
  const qualified = [plural, singular].map((name) => `${name}.${group}`)
  // Custom resources only by their qualified names: `gateways` could be Istio's as well as the Gateway API's.
  const names = version ? [plural, singular, ...shortNames, ...(group ? qualified : [])] : qualified
  for (const name of names) RESOURCES.set(name, resource)
}
define('Namespace', '', 'v1', 'namespaces', ['ns'])
define('Node', '', 'v1', 'nodes', ['no'])
define('Pod', '', 'v1', 'pods', ['po'])
define('Service', '', 'v1', 'services', ['svc'])
define('ServiceAccount', '', 'v1', 'serviceaccounts', ['sa'])
define('Endpoints', '', 'v1', 'endpoints', ['ep'])
define('ConfigMap', '', 'v1', 'configmaps', ['cm'])
define('Secret', '', 'v1', 'secrets')
define('Deployment', 'apps', 'v1', 'deployments', ['deploy'])
define('DaemonSet', 'apps', 'v1', 'daemonsets', ['ds'])
define('StatefulSet', 'apps', 'v1', 'statefulsets', ['sts'])
define('Job', 'batch', 'v1', 'jobs')
define('CronJob', 'batch', 'v1', 'cronjobs', ['cj'])
define('NetworkPolicy', 'networking.k8s.io', 'v1', 'networkpolicies', ['netpol'])
define('CustomResourceDefinition', 'apiextensions.k8s.io', 'v1', 'customresourcedefinitions', ['crd', 'crds'])
define('Lease', 'coordination.k8s.io', 'v1', 'leases')
define('Role', 'rbac.authorization.k8s.io', 'v1', 'roles')
define('RoleBinding', 'rbac.authorization.k8s.io', 'v1', 'rolebindings')
define('ClusterRole', 'rbac.authorization.k8s.io', 'v1', 'clusterroles')
define('ClusterRoleBinding', 'rbac.authorization.k8s.io', 'v1', 'clusterrolebindings')
// GA since Kubernetes 1.30, the oldest release the supported Istio versions run on (steps/01-preflight.ts).
define('ValidatingAdmissionPolicy', 'admissionregistration.k8s.io', 'v1', 'validatingadmissionpolicies')
define('ValidatingAdmissionPolicyBinding', 'admissionregistration.k8s.io', 'v1', 'validatingadmissionpolicybindings')
define('AuthorizationPolicy', 'security.istio.io', undefined, 'authorizationpolicies')
define('PeerAuthentication', 'security.istio.io', undefined, 'peerauthentications')
define('Gateway', 'gateway.networking.k8s.io', undefined, 'gateways')
define('HTTPRoute', 'gateway.networking.k8s.io', undefined, 'httproutes')
define('GatewayClass', 'gateway.networking.k8s.io', undefined, 'gatewayclasses')

/** The resource kubectl means by `name` (plural, singular, short or qualified), when the runbook knows it. */
export const apiResource = (name: string): ApiResource | undefined => RESOURCES.get(name)

/** The resource an object of this apiVersion and kind is stored as. */
export const apiResourceOf = (apiVersion: string, kind: string): ApiResource | undefined => {
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : ''
  return [...RESOURCES.values()].find((r) => r.kind === kind && r.group === group)
}

/** One API read: a named object, or one kind's objects in a namespace (or all), optionally selected. */
export interface RestRead {
  resource: ApiResource
  namespace?: string
  name?: string
  labelSelector?: string
  fieldSelector?: string
}

export type RestCommand =
  /** `kubectl get … -o json`: one object when exactly one was named, else a List of all that were read. */
  | { verb: 'get'; reads: RestRead[]; oneObject: boolean; ignoreNotFound: boolean }
  /** `kubectl create|replace|apply --server-side -f -` of objects, in order (each on its own, as kubectl does). */
  | {
      verb: 'create' | 'replace' | 'apply'
      objects: { resource: ApiResource; object: KubeObject }[]
      output: 'json' | 'name' | 'text'
      dryRun: boolean
      /** Server-side apply's field manager and whether it takes fields from other managers. */
      fieldManager?: string
      force?: boolean
      /** --as and --as-group. */
      impersonate?: { user: string; groups: string[] }
    }
  /** `kubectl delete … -l … --wait=false`: every object the selector lists, deleted one by one. */
  | { verb: 'delete'; reads: RestRead[]; ignoreNotFound: boolean }
  /** `kubectl logs -l … --prefix --tail=-1`: every selected pod's containers, each line prefixed as kubectl does. */
  | { verb: 'logs'; pods: RestRead }
  /** `kubectl label KIND NAME k=v… k-… --overwrite`: one merge patch of the object's labels (null removes one). */
  | { verb: 'label'; target: RestRead & { name: string }; labels: Record<string, string | null> }

/** The flags of a command and its words; undefined when a flag is one this does not translate. */
function parseFlags(
  args: string[],
  valued: Record<string, string>,
  bare: Record<string, string>,
): { flags: Record<string, string>; words: string[] } | undefined {
  const flags: Record<string, string> = {}
  const words: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    if (valued[flag]) {
      const value = eq > 0 ? arg.slice(eq + 1) : args[++i]
      if (value === undefined || flags[valued[flag]] !== undefined) return undefined
      flags[valued[flag]] = value
    } else if (bare[flag] && (eq < 0 || arg.slice(eq + 1) === 'true')) flags[bare[flag]] = 'true'
    else if (arg.startsWith('-')) return undefined
    else words.push(arg)
  }
  return { flags, words }
}

const READ_FLAGS = {
  '-n': 'namespace',
  '--namespace': 'namespace',
  '-l': 'selector',
  '--selector': 'selector',
  '-o': 'output',
}

/** A `kubectl get` as API reads; undefined when kubectl would do something this does not model. */
function getCommand(args: string[]): RestCommand | undefined {
  const parsed = parseFlags(args, READ_FLAGS, {
    '--ignore-not-found': 'ignoreNotFound',
    '-A': 'all',
    '--all-namespaces': 'all',
  })
  if (!parsed || parsed.flags.output !== 'json') return undefined
  return readsOf(parsed.flags, parsed.words)
}

/** The reads a get (or a delete) names; undefined when it names them in a way this does not model. */
function readsOf(flags: Record<string, string>, words: string[]): Extract<RestCommand, { verb: 'get' }> | undefined {
  if (words.length === 0) return undefined
  if (flags.all && flags.namespace) return undefined
  const scope = (resource: ApiResource) => (resource.namespaced && !flags.all ? flags.namespace : undefined)
  // A namespaced read without a namespace would use the kubeconfig's: only kubectl knows it.
  const unscoped = (resource: ApiResource) => resource.namespaced && !flags.all && !flags.namespace
  let reads: RestRead[]
  let named: boolean
  if (words.every((w) => w.includes('/'))) {
    named = true
    reads = []
    for (const ref of words) {
      const [name, rest] = [ref.slice(ref.indexOf('/') + 1), ref.slice(0, ref.indexOf('/'))]
      const resource = apiResource(rest)
      if (!resource || !name || name.includes('/') || unscoped(resource) || flags.all) return undefined
      reads.push({ resource, namespace: scope(resource), name })
    }
    if (flags.selector) return undefined
  } else {
    if (words.slice(1).some((w) => w.includes('/'))) return undefined
    const resources = words[0].split(',').map(apiResource)
    if (resources.some((r) => !r || unscoped(r))) return undefined
    const names = words.slice(1)
    named = names.length > 0
    if (named && (resources.length > 1 || flags.selector || flags.all)) return undefined
    reads = named
      ? names.map((name) => ({ resource: resources[0]!, namespace: scope(resources[0]!), name }))
      : resources.map((resource) => ({
          resource: resource!,
          namespace: scope(resource!),
          ...(flags.selector ? { labelSelector: flags.selector } : {}),
        }))
  }
  return { verb: 'get', reads, oneObject: named && reads.length === 1, ignoreNotFound: !!flags.ignoreNotFound }
}

/** A `kubectl delete` that does not wait for the objects to be gone (waiting is kubectl's). */
function deleteCommand(args: string[]): RestCommand | undefined {
  if (!args.includes('--wait=false')) return undefined
  const parsed = parseFlags(
    args.filter((a) => a !== '--wait=false'),
    READ_FLAGS,
    { '--ignore-not-found': 'ignoreNotFound' },
  )
  const get = parsed && !parsed.flags.output ? readsOf(parsed.flags, parsed.words) : undefined
  // By selector only: kubectl deletes named objects without reading them first (RBAC `delete`, no `get`).
  if (!get || get.reads.some((r) => r.name)) return undefined
  return { verb: 'delete', reads: get.reads, ignoreNotFound: get.ignoreNotFound }
}

/** `kubectl logs -n NS -l SELECTOR --prefix --tail=-1 [--max-log-requests=N]`. */
function logsCommand(args: string[]): RestCommand | undefined {
  if (!args.includes('--tail=-1')) return undefined
  const parsed = parseFlags(
    args.filter((a) => a !== '--tail=-1' && !a.startsWith('--max-log-requests=')),
    READ_FLAGS,
    { '--prefix': 'prefix' },
  )
  const { namespace, selector, prefix, output } = parsed?.flags ?? {}
  if (!parsed || parsed.words.length || !namespace || !selector || !prefix || output) return undefined
  return { verb: 'logs', pods: { resource: apiResource('pods')!, namespace, labelSelector: selector } }
}

/** A label key as kubectl takes it: an optional DNS-subdomain prefix and a name of up to 63 characters. */
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/

/**
 * `kubectl label [-n NS] KIND NAME k=v… k-… [--overwrite]` on one named object. Setting a label needs --overwrite
 * (without it kubectl first reads the object to refuse a changed value); removing one never does.
 */
function labelCommand(args: string[]): RestCommand | undefined {
  const parsed = parseFlags(args, { '-n': 'namespace', '--namespace': 'namespace' }, { '--overwrite': 'overwrite' })
  if (!parsed) return undefined
  const { flags, words } = parsed
  // KIND NAME or KIND/NAME, then the changes (k=v, k-): names never hold "=" nor end with "-".
  const isChange = (word: string) => word.includes('=') || word.endsWith('-')
  const target = readsOf(
    flags,
    words.filter((w) => !isChange(w)),
  )?.reads
  const changes = words.filter(isChange)
  if (target?.length !== 1 || !target[0].name || !changes.length) return undefined
  const labels: Record<string, string | null> = {}
  for (const change of changes) {
    const removed = !change.includes('=')
    const [key, value] = removed
      ? [change.slice(0, -1), null]
      : [change.slice(0, change.indexOf('=')), change.slice(change.indexOf('=') + 1)]
    // kubectl's own checks and messages for a malformed label, a value set without --overwrite, a key named twice.
    if (!removed && (!flags.overwrite || !LABEL_VALUE.test(value ?? ''))) return undefined
    if (!LABEL_KEY.test(key) || key in labels) return undefined
    labels[key] = value
  }
  return { verb: 'label', target: { ...target[0], name: target[0].name }, labels }
}

/** The objects of a `-f -` input (its documents; undefined when they cannot be read); undefined unless all are. */
function objectsOf(documents: () => unknown[] | undefined): KubeObject[] | undefined {
  try {
    const objects = (documents() ?? []).filter((d) => d !== null && d !== undefined) as KubeObject[]
    return objects.every((o) => typeof o === 'object' && o.metadata?.name) ? objects : undefined
  } catch {
    return undefined
  }
}

/**
 * `kubectl create|replace -f -` and `kubectl apply --server-side -f -` (optionally a server dry run, -o json|name,
 * impersonated); undefined for anything else (client-side apply, generated names, kinds this does not know).
 */
function writeCommand(
  verb: 'create' | 'replace' | 'apply',
  args: string[],
  documents: () => unknown[] | undefined,
): RestCommand | undefined {
  // --as-group may repeat: taken out before the other flags are read.
  const groups = args.filter((a) => a.startsWith('--as-group=')).map((a) => a.slice('--as-group='.length))
  const parsed = parseFlags(
    args.filter((a) => !a.startsWith('--as-group=')),
    {
      '-f': 'file',
      '--filename': 'file',
      '-o': 'output',
      '--output': 'output',
      '--field-manager': 'fieldManager',
      '--dry-run': 'dryRun',
      '--as': 'user',
    },
    { '--server-side': 'serverSide', '--force-conflicts': 'force' },
  )
  if (!parsed || parsed.words.length || parsed.flags.file !== '-') return undefined
  const { flags } = parsed
  if ((verb === 'apply') !== !!flags.serverSide || (flags.dryRun && flags.dryRun !== 'server')) return undefined
  if (flags.output !== undefined && flags.output !== 'json' && flags.output !== 'name') return undefined
  if (groups.length && !flags.user) return undefined
  const objects = objectsOf(documents)?.map((object) => ({
    object,
    resource: apiResourceOf(String(object.apiVersion), String(object.kind)),
  }))
  // kubectl create prints several objects one after another under -o json, not as a List: left to kubectl.
  if (!objects?.length || (verb !== 'apply' && flags.output === 'json' && objects.length > 1)) return undefined
  if (objects.some(({ object, resource }) => !resource || (resource.namespaced && !object.metadata.namespace)))
    return undefined
  return {
    verb,
    objects: objects as { resource: ApiResource; object: KubeObject }[],
    output: flags.output === 'json' ? 'json' : flags.output === 'name' ? 'name' : 'text',
    dryRun: !!flags.dryRun,
    ...(verb === 'apply' ? { fieldManager: flags.fieldManager ?? 'kubectl', force: !!flags.force } : {}),
    ...(flags.user ? { impersonate: { user: flags.user, groups } } : {}),
  }
}

/** The API requests a kubectl command stands for; undefined when it must run as kubectl. */
export function restCommandOf(
  args: string[],
  /** The documents of the command's stdin, read only when the command is one that takes them. */
  documents: () => unknown[] | undefined = () => undefined,
): RestCommand | undefined {
  if (args[0] === 'get') return getCommand(args.slice(1))
  if (args[0] === 'delete') return deleteCommand(args.slice(1))
  if (args[0] === 'logs') return logsCommand(args.slice(1))
  if (args[0] === 'label') return labelCommand(args.slice(1))
  if (args[0] === 'create' || args[0] === 'replace' || args[0] === 'apply')
    return writeCommand(args[0], args.slice(1), documents)
  return undefined
}

/** The path of a read or write, given the version the resource is served at. */
export function restPath(resource: ApiResource, version: string, namespace?: string, name?: string): string {
  const base = resource.group ? `/apis/${resource.group}/${version}` : `/api/${version}`
  const ns = resource.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : ''
  return `${base}${ns}/${resource.plural}${name ? `/${encodeURIComponent(name)}` : ''}`
}

/** The query of a list or watch. */
export function listQuery(read: Pick<RestRead, 'labelSelector' | 'fieldSelector'>, watch = false): string {
  const query = new URLSearchParams()
  if (read.labelSelector) query.set('labelSelector', read.labelSelector)
  if (read.fieldSelector) query.set('fieldSelector', read.fieldSelector)
  if (watch) query.set('watch', '1')
  const text = query.toString()
  return text ? `?${text}` : ''
}

/** How kubectl names a kind in what it prints: `secret`, `lease.coordination.k8s.io`. */
export const qualifiedKind = (resource: ApiResource) =>
  `${resource.kind.toLowerCase()}${resource.group ? `.${resource.group}` : ''}`

/** kubectl's name for an object under -o name: `secret/x`, `lease.coordination.k8s.io/x`. */
export const kubectlName = (resource: ApiResource, name: string) => `${qualifiedKind(resource)}/${name}`

/** The items of an API list, each with the apiVersion and kind kubectl fills in. */
export function listItems(list: { apiVersion?: string; kind?: string; items?: KubeObject[] }): KubeObject[] {
  const kind = list.kind?.replace(/List$/, '') ?? ''
  return (list.items ?? []).map((item) => ({
    ...item,
    apiVersion: item.apiVersion || list.apiVersion || '',
    kind: item.kind || kind,
  }))
}

/**
 * Whether a 404 is about an object (a JSON Status naming it), not a path the server does not serve (kube-apiserver
 * answers those with plain text, `404 page not found`).
 */
export function namesAnObject(body: string): boolean {
  try {
    const status = JSON.parse(body)
    return status?.kind === 'Status' && !!status.details?.name
  } catch {
    return false
  }
}

/** An API error as kubectl prints it: `Error from server (Reason): message`. */
export function serverError(status: number, body: string, doing?: string): string {
  let reason = ''
  let message = body.trim()
  try {
    const parsed = JSON.parse(body)
    if (parsed?.kind === 'Status') {
      reason = parsed.reason ?? ''
      message = parsed.message ?? message
    }
  } catch {}
  reason ||= status === 404 ? 'NotFound' : status === 403 ? 'Forbidden' : status === 409 ? 'Conflict' : `${status}`
  return `Error from server (${reason}): ${doing ? `${doing}: ` : ''}${message}`
}
