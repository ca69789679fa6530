// Which reads can share one kubectl process. Reads that start together (the checks of one verify, the steps of an
// audit) are merged: named objects into one `kubectl get kind/name kind/name … -o json --ignore-not-found`, whole
// kinds into one `kubectl get kind,kind … -o json`; each caller then gets exactly what its own call would have
// printed. Pure: cluster.ts runs the merged commands.
import type { KubeObject } from './object.ts'

/** The resources the runbook reads, as kubectl names them, with the group and kind of the objects they hold. */
const KINDS: Record<string, { group: string; kind: string; namespaced: boolean }> = {}
const define = (names: string[], group: string, kind: string, namespaced = true) => {
  for (const name of names) KINDS[name] = { group, kind, namespaced }
}
define(['namespace', 'namespaces', 'ns'], '', 'Namespace', false)
define(['node', 'nodes'], '', 'Node', false)
define(['pod', 'pods'], '', 'Pod')
define(['service', 'services', 'svc'], '', 'Service')
define(['serviceaccount', 'serviceaccounts', 'sa'], '', 'ServiceAccount')
define(['endpoints', 'ep'], '', 'Endpoints')
define(['configmap', 'configmaps', 'cm'], '', 'ConfigMap')
define(['deployment', 'deployments'], 'apps', 'Deployment')
define(['daemonset', 'daemonsets'], 'apps', 'DaemonSet')
define(['statefulset', 'statefulsets'], 'apps', 'StatefulSet')
define(['networkpolicy', 'networkpolicies'], 'networking.k8s.io', 'NetworkPolicy')
define(
  ['customresourcedefinition', 'customresourcedefinitions', 'crd', 'crds'],
  'apiextensions.k8s.io',
  'CustomResourceDefinition',
  false,
)
define(['authorizationpolicies.security.istio.io'], 'security.istio.io', 'AuthorizationPolicy')
define(['gateways.gateway.networking.k8s.io'], 'gateway.networking.k8s.io', 'Gateway')
define(['httproutes.gateway.networking.k8s.io'], 'gateway.networking.k8s.io', 'HTTPRoute')
define(['gatewayclasses.gateway.networking.k8s.io'], 'gateway.networking.k8s.io', 'GatewayClass', false)

export interface NamedRef {
  resource: string
  name: string
}

/** One read a caller asked for, in a form that can join others. */
export type BatchableRead =
  /** `get RESOURCE NAME [-n NS]` (one object or nothing) or `get R/N R/N … -n NS` (a List of those found). */
  | { kind: 'named'; namespace?: string; refs: NamedRef[]; shape: 'object' | 'list' }
  /** `get RESOURCE [-n NS] [-l k=v,…]`: the items of one kind, filtered here by an equality selector. */
  | { kind: 'list'; namespace?: string; resource: string; selector?: Record<string, string> }

const known = (resource: string) => KINDS[resource]

/** The namespace flag of a get's arguments and the rest; undefined when anything else is there. */
export function splitNamespace(args: string[]): { namespace?: string; rest: string[] } | undefined {
  const rest: string[] = []
  let namespace: string | undefined
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-n' || args[i] === '--namespace') {
      if (namespace !== undefined || args[i + 1] === undefined) return undefined
      namespace = args[++i]
    } else if (args[i].startsWith('-')) return undefined
    else rest.push(args[i])
  }
  return { namespace, rest }
}

/** A findJson read (`get …` without -o) that can be merged with others, or undefined. */
export function namedRead(args: string[]): BatchableRead | undefined {
  if (args[0] !== 'get') return undefined
  const split = splitNamespace(args.slice(1))
  if (!split || split.rest.length === 0) return undefined
  const { namespace, rest } = split
  if (rest.length === 2 && !rest[0].includes('/') && !rest[1].includes('/') && known(rest[0]))
    return { kind: 'named', namespace, refs: [{ resource: rest[0], name: rest[1] }], shape: 'object' }
  const refs = rest.map((ref) => {
    const at = ref.indexOf('/')
    return at > 0 ? { resource: ref.slice(0, at), name: ref.slice(at + 1) } : undefined
  })
  if (refs.some((r) => !r || !known(r.resource) || !r.name || r.name.includes('/'))) return undefined
  // kubectl prints one object for one `kind/name`, and a List for several.
  return { kind: 'named', namespace, refs: refs as NamedRef[], shape: refs.length === 1 ? 'object' : 'list' }
}

/** An equality selector (k=v,k2=v2) as labels; undefined for anything richer (sets, !=, existence). */
export function equalitySelector(selector: string): Record<string, string> | undefined {
  const labels: Record<string, string> = {}
  for (const part of selector.split(',')) {
    const match = /^([\w./-]+)=([\w.-]*)$/.exec(part.trim())
    if (!match) return undefined
    labels[match[1]] = match[2]
  }
  return labels
}

/** A list read that can be merged with others, or undefined. */
export function listRead(resource: string, namespace?: string, selector?: string): BatchableRead | undefined {
  if (!known(resource)) return undefined
  const labels = selector ? equalitySelector(selector) : undefined
  if (selector && !labels) return undefined
  return { kind: 'list', namespace, resource, selector: labels }
}

const groupOf = (object: KubeObject) => (object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : '')

function isOf(object: KubeObject, resource: string): boolean {
  const k = known(resource)
  return !!k && object.kind === k.kind && groupOf(object) === k.group
}

function inScope(object: KubeObject, resource: string, namespace: string | undefined): boolean {
  return !known(resource)?.namespaced || !namespace || object.metadata.namespace === namespace
}

/** What the caller's own kubectl call would have printed, taken from the merged answer's items. */
export function answerFrom(read: BatchableRead, items: KubeObject[]): unknown {
  if (read.kind === 'list') {
    const labels = Object.entries(read.selector ?? {})
    return {
      apiVersion: 'v1',
      kind: 'List',
      items: items.filter(
        (o) =>
          isOf(o, read.resource) &&
          inScope(o, read.resource, read.namespace) &&
          labels.every(([k, v]) => o.metadata.labels?.[k] === v),
      ),
    }
  }
  const found = read.refs
    .map((ref) =>
      items.find(
        (o) => isOf(o, ref.resource) && o.metadata.name === ref.name && inScope(o, ref.resource, read.namespace),
      ),
    )
    .filter((o): o is KubeObject => !!o)
  if (read.shape === 'object') return found[0]
  return { apiVersion: 'v1', kind: 'List', items: found }
}

// Kinds whose whole list is too big to fetch in place of a few named objects (every pod, every CRD schema, every
// Service's endpoints, every ConfigMap's data).
const LIST_ONLY_WHEN_ASKED = new Set(['Pod', 'CustomResourceDefinition', 'Node', 'Endpoints', 'ConfigMap'])

/**
 * A named read as a list of its kind, so it can join a batch of lists in the same namespace (one call where
 * there would be two); undefined for kinds whose whole list is too big for that.
 */
export function asListReads(read: BatchableRead): BatchableRead[] | undefined {
  if (read.kind === 'list') return [read]
  if (read.refs.some((ref) => LIST_ONLY_WHEN_ASKED.has(known(ref.resource)!.kind))) return undefined
  return read.refs.map((ref) => ({ kind: 'list', namespace: read.namespace, resource: ref.resource }))
}

/** The namespace a batch runs in; reads of cluster-scoped objects only may join any batch. */
export const batchNamespace = (read: BatchableRead): string | undefined => {
  const namespaced =
    read.kind === 'list' ? known(read.resource)?.namespaced : read.refs.some((r) => known(r.resource)?.namespaced)
  return namespaced ? (read.namespace ?? '') : undefined
}

/** The merged kubectl arguments for reads that share a namespace (all named, or all lists). */
export function mergedArgs(reads: BatchableRead[], namespace: string | undefined): string[] {
  const ns = namespace ? ['-n', namespace] : []
  if (reads[0].kind === 'named') {
    const refs = [
      ...new Set(reads.flatMap((r) => (r.kind === 'named' ? r.refs.map((ref) => `${ref.resource}/${ref.name}`) : []))),
    ]
    return ['get', ...refs, ...ns, '-o', 'json', '--ignore-not-found']
  }
  const resources = [...new Set(reads.map((r) => (r.kind === 'list' ? r.resource : '')))]
  return ['get', resources.join(','), ...ns, '-o', 'json']
}

/** The items of a kubectl -o json answer (a List, or one object). */
export const itemsOf = (stdout: string): KubeObject[] => {
  if (!stdout.trim()) return []
  const parsed = JSON.parse(stdout)
  return Array.isArray(parsed.items) ? parsed.items : [parsed]
}
