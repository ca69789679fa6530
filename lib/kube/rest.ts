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
function define(kind: string, group: string, version: string | undefined, plural: string, shortNames: string[] = []) {
  const namespaced =
    !/^(Namespace|Node|CustomResourceDefinition|GatewayClass|ValidatingAdmissionPolicy|ValidatingAdmissionPolicyBinding|ClusterRole|ClusterRoleBinding)$/.test(
      kind,
    )
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

const byKind = (apiVersion: string, kind: string): ApiResource | undefined => {
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
  /** `kubectl create|replace -f -` of one object. */
  | { verb: 'create' | 'replace'; resource: ApiResource; object: KubeObject; output: 'json' | 'name' | 'text' }

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

/** A `kubectl get` as API reads; undefined when kubectl would do something this does not model. */
function getCommand(args: string[]): RestCommand | undefined {
  const parsed = parseFlags(
    args,
    { '-n': 'namespace', '--namespace': 'namespace', '-l': 'selector', '--selector': 'selector', '-o': 'output' },
    { '--ignore-not-found': 'ignoreNotFound', '-A': 'all', '--all-namespaces': 'all' },
  )
  if (!parsed || parsed.flags.output !== 'json' || parsed.words.length === 0) return undefined
  const { flags, words } = parsed
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

/** `kubectl create|replace -f -` of one JSON object; undefined for anything else (YAML streams, dry runs). */
function writeCommand(verb: 'create' | 'replace', args: string[], input: string | undefined): RestCommand | undefined {
  const parsed = parseFlags(args, { '-f': 'file', '--filename': 'file', '-o': 'output' }, {})
  if (!parsed || parsed.words.length || parsed.flags.file !== '-' || !input?.trim().startsWith('{')) return undefined
  const output = parsed.flags.output
  if (output !== undefined && output !== 'json' && output !== 'name') return undefined
  let object: KubeObject
  try {
    object = JSON.parse(input)
  } catch {
    return undefined
  }
  const resource = object?.metadata?.name && byKind(String(object.apiVersion), String(object.kind))
  if (!resource || (resource.namespaced && !object.metadata.namespace)) return undefined
  return { verb, resource, object, output: output === 'json' ? 'json' : output === 'name' ? 'name' : 'text' }
}

/** The API requests a kubectl command stands for; undefined when it must run as kubectl. */
export function restCommandOf(args: string[], input?: string): RestCommand | undefined {
  if (args[0] === 'get') return getCommand(args.slice(1))
  if (args[0] === 'create' || args[0] === 'replace') return writeCommand(args[0], args.slice(1), input)
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

/** kubectl's name for an object under -o name: `secret/x`, `lease.coordination.k8s.io/x`. */
export const kubectlName = (resource: ApiResource, name: string) =>
  `${resource.kind.toLowerCase()}${resource.group ? `.${resource.group}` : ''}/${name}`

/** The items of an API list, each with the apiVersion and kind kubectl fills in. */
export function listItems(list: { apiVersion?: string; kind?: string; items?: KubeObject[] }): KubeObject[] {
  const kind = list.kind?.replace(/List$/, '') ?? ''
  return (list.items ?? []).map((item) => ({
    ...item,
    apiVersion: item.apiVersion || list.apiVersion || '',
    kind: item.kind || kind,
  }))
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
