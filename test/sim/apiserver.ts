// The simulated cluster's HTTP API: enough of kube-apiserver's REST surface (discovery, OpenAPI v3, CRUD,
// four patch types, status subresources, watches, pod logs, server-side tables, real Status errors) that
// the real kubectl works against it unchanged. All state lives in the Store; this file only translates.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createSecureServer } from 'node:https'
import { createServer as createNetServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { parse as parseYaml } from 'yaml'
import {
  allowEverything,
  AuthError,
  CLUSTER_ADMIN,
  impersonate,
  type Authenticator,
  type Authorizer,
  type UserInfo,
} from './authn.ts'
import { admit, validateName } from './builtin-types.ts'
import { takeApiFault, type Faults } from './faults.ts'
import { openApiDocument, openApiIndex } from './openapi.ts'
import { decodeProtobufObject } from './protobuf.ts'
import { applyMerge, jsonPatch, mergePatch, PatchError, strategicMergePatch } from './patch.ts'
import { StoreError, type KubeObject, type ResourceType, type Store, type StoreEvent } from './store.ts'
import { toTable } from './table.ts'
import { escalationProblem, forbidden, RBAC_GROUP, requestAttributes, type RbacAuthorizer } from './rbac.ts'
import type { ServingCertificate } from './tls.ts'
import {
  ADMISSION_GROUP,
  bindingProblems,
  policyExpressionProblems,
  validatingAdmission,
  type AdmissionRequest,
} from './validating-admission.ts'

export interface ApiServer {
  /** Plain HTTP: kubectl sends no credentials here, so with an authenticator only /sim/* routes answer. */
  url: string
  /** The same port over TLS (when `tls` was given): what the kubeconfig names. */
  secureUrl?: string
  port: number
  close(): Promise<void>
}

export interface ApiServerOptions {
  store: Store
  faults: Faults
  kubernetesVersion: string
  /** Handles extra routes (the world mounts /sim/* here); return true when it handled the request. */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean | Promise<boolean>
  /** Picks a free NodePort (30000–32767) not in `taken`; default: a random one that can be bound on 127.0.0.1 now. */
  allocateNodePort?: (taken: Set<number>) => Promise<number>
  /** The serving certificate; kubectl sends a kubeconfig's credentials only over TLS. */
  tls?: ServingCertificate
  /** Maps bearer tokens to users; without one every request acts as the cluster admin (tests that use fetch). */
  authenticator?: Authenticator
  /** Decides impersonation and every request; default: everything is allowed (tests that use fetch). */
  authorizer?: Authorizer
  /** Kubernetes RBAC: authorizes every request (unless `authorizer` is given) and refuses escalating role writes. */
  rbac?: RbacAuthorizer
}

/** Who a request acts as, and the warnings admission adds to its answer. */
interface RequestScope {
  user: UserInfo
  warnings: string[]
}

/** An error answered as a Kubernetes Status object. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: object,
  ) {
    super(message)
  }
}

const MAX_BODY_BYTES = 16 * 1024 * 1024
const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize'])
/**
 * Fields of built-in kinds that server-side apply replaces whole: a LabelSelector is `+structType=atomic`
 * (apimachinery pkg/apis/meta/v1/types.go) and a Service's selector `+mapType=atomic` (api core/v1/types.go). A CRD's
 * maps merge key by key unless its schema says otherwise (Istio's and Gateway API's do not).
 */
const BUILTIN_ATOMIC_FIELDS = new Set(['selector', 'podSelector', 'namespaceSelector'])

const groupVersion = (rt: ResourceType) => (rt.group ? `${rt.group}/${rt.version}` : rt.version)
const qualified = (rt: ResourceType) => (rt.group ? `${rt.plural}.${rt.group}` : rt.plural)
const hasStatusSubresource = (rt: ResourceType) => (rt.subresources ?? []).includes('status')
const notFound = (rt: ResourceType, name: string) =>
  new ApiError(404, 'NotFound', `${qualified(rt)} "${name}" not found`, { name, group: rt.group, kind: rt.plural })
const badRequest = (message: string) => new ApiError(400, 'BadRequest', message)

function statusObject(code: number, reason: string, message: string, details?: object) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  }
}

/** A 422 Invalid naming the kind (`as` names it otherwise: its details' kind and the message's first word). */
function invalid(
  rt: ResourceType,
  name: string,
  problems: string[],
  as: { kind: string; message: string } = { kind: rt.kind, message: rt.kind },
): ApiError {
  return new ApiError(
    422,
    'Invalid',
    `${as.message} ${JSON.stringify(name ?? '')} is invalid: ${problems.join(', ')}`,
    {
      name,
      group: rt.group,
      kind: as.kind,
      causes: problems.map((p) => ({
        reason: 'FieldValueInvalid',
        message: p.slice(p.indexOf(': ') + 2),
        field: p.slice(0, p.indexOf(':')),
      })),
    },
  )
}

/** Orders versions the way Kubernetes prefers them: GA before beta before alpha, higher numbers first. */
function versionRank(v: string): number {
  const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v)
  if (!m) return -1
  return (m[2] === 'alpha' ? 0 : m[2] === 'beta' ? 1 : 2) * 1e6 + Number(m[1]) * 1e3 + Number(m[3] ?? 0)
}

// ---- selectors ----

type Matcher = (o: KubeObject) => boolean

function splitTerms(selector: string): string[] {
  const terms: string[] = []
  let depth = 0
  let current = ''
  for (const ch of selector) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) {
      terms.push(current)
      current = ''
    } else current += ch
  }
  terms.push(current)
  return terms.map((t) => t.trim()).filter(Boolean)
}

export function parseLabelSelector(selector: string): (labels: Record<string, string>) => boolean {
  const tests = splitTerms(selector).map((term): ((l: Record<string, string>) => boolean) => {
    let m = /^(!?)\s*([\w./-]+)$/.exec(term)
    if (m) return m[1] ? (l) => !(m![2] in l) : (l) => m![2] in l
    m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term)
    if (m) {
      const [, key, op, list] = m
      const values = list.split(',').map((v) => v.trim())
      return op === 'in' ? (l) => key in l && values.includes(l[key]) : (l) => !(key in l) || !values.includes(l[key])
    }
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(term)
    if (m) {
      const [, key, op, value] = m
      return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value
    }
    throw badRequest(`unable to parse requirement: invalid label selector term "${term}"`)
  })
  return (labels) => tests.every((t) => t(labels))
}

const fieldValue = (o: KubeObject, path: string): string => {
  let node: any = o
  for (const part of path.split('.')) node = node?.[part]
  return node === undefined || node === null ? '' : String(node)
}

export function parseFieldSelector(selector: string): Matcher {
  const tests = splitTerms(selector).map((term): Matcher => {
    const m = /^([\w.-]+)\s*(==|=|!=)\s*(.*)$/.exec(term)
    if (!m) throw badRequest(`invalid field selector term "${term}"`)
    const [, path, op, value] = m
    return op === '!=' ? (o) => fieldValue(o, path) !== value : (o) => fieldValue(o, path) === value
  })
  return (o) => tests.every((t) => t(o))
}

function matcherOf(query: URLSearchParams): Matcher {
  const labels = query.get('labelSelector') ? parseLabelSelector(query.get('labelSelector')!) : undefined
  const fields = query.get('fieldSelector') ? parseFieldSelector(query.get('fieldSelector')!) : undefined
  return (o) => (!labels || labels(o.metadata.labels ?? {})) && (!fields || fields(o))
}

// ---- helpers ----

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) reject(new ApiError(413, 'RequestEntityTooLarge', 'request entity too large'))
      else chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function parseBody(body: Buffer, contentType: string): any {
  if (/protobuf/.test(contentType)) {
    const decoded = decodeProtobufObject(body)
    if (decoded) return decoded
  }
  if (/protobuf|cbor/.test(contentType)) {
    throw new ApiError(
      415,
      'UnsupportedMediaType',
      `the simulated API server reads ${contentType} only for Namespaces, ConfigMaps, Secrets and ServiceAccounts; send JSON or YAML (e.g. kubectl apply -f) for this kind`,
    )
  }
  const text = body.toString('utf8')
  if (!text.trim()) throw badRequest('the request body is empty')
  try {
    return /yaml/.test(contentType) ? parseYaml(text) : JSON.parse(text)
  } catch (error) {
    throw badRequest(`the request body could not be decoded: ${(error as Error).message.split('\n')[0]}`)
  }
}

function parseObject(body: Buffer, contentType: string): KubeObject {
  const object = parseBody(body, contentType)
  if (typeof object !== 'object' || object === null || Array.isArray(object))
    throw badRequest('the request body is not a JSON object')
  if (object.metadata === undefined || object.metadata === null) object.metadata = {}
  if (typeof object.metadata !== 'object' || Array.isArray(object.metadata))
    throw badRequest('metadata must be an object')
  return object
}

function checkKind(rt: ResourceType, object: KubeObject): void {
  if (object.kind !== undefined && object.kind !== rt.kind) {
    throw badRequest(
      `the kind in the request body (${object.kind}) does not match the resource ${qualified(rt)} (kind ${rt.kind})`,
    )
  }
  const group =
    typeof object.apiVersion === 'string' && object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : ''
  if (object.apiVersion !== undefined && (typeof object.apiVersion !== 'string' || group !== rt.group)) {
    throw badRequest(`the API version in the request body (${object.apiVersion}) does not match ${groupVersion(rt)}`)
  }
}

async function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createNetServer()
    probe.once('error', () => resolve(false))
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)))
  })
}

export async function defaultAllocateNodePort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = 30000 + Math.floor(Math.random() * 2768)
    if (!taken.has(port) && (await canBind(port))) return port
  }
  throw new ApiError(500, 'InternalError', 'no free NodePort in 30000-32767')
}

function send(res: ServerResponse, code: number, body: unknown, warnings: string[] = []): void {
  // A Warning header per admission warning (RFC 7234 code 299), which kubectl prints as "Warning: …".
  if (warnings.length)
    res.setHeader(
      'Warning',
      warnings.map((w) => `299 - ${JSON.stringify(w)}`),
    )
  res.writeHead(code, { 'Content-Type': 'application/json' })
  res.end(JSON.stringify(body))
}

interface Target {
  rt: ResourceType
  namespace?: string
  name?: string
  subresource?: string
}

// ---- the server ----

export function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { store, faults } = options
  const authorize: Authorizer =
    options.authorizer ?? (options.rbac ? (attributes) => options.rbac!.authorize(attributes) : allowEverything)
  const allocateNodePort = options.allocateNodePort ?? defaultAllocateNodePort
  const openWatches = new Set<() => void>()
  const [major, minor] = options.kubernetesVersion.split('.')

  /** Distinct kinds (one ResourceType per group/plural), for cascades. */
  const distinctTypes = () => [...new Map(store.allTypes().map((rt) => [`${rt.group}/${rt.plural}`, rt])).values()]

  function resolve(group: string, version: string, rest: string[]): Target | undefined {
    let namespace: string | undefined
    const namespaceSub = group === '' && rest.length === 3 && NAMESPACE_SUBRESOURCES.has(rest[2])
    if (rest[0] === 'namespaces' && rest.length >= 3 && !namespaceSub) {
      namespace = rest[1]
      rest = rest.slice(2)
    }
    const [plural, name, subresource, ...extra] = rest
    const rt = plural ? store.findType(group, version, plural) : undefined
    if (!rt || extra.length || (namespace !== undefined && !rt.namespaced)) return undefined
    if (subresource && !(rt.subresources ?? []).includes(subresource)) return undefined
    return { rt, namespace, name, subresource }
  }

  function discovery(path: string[]): unknown {
    const types = store.allTypes()
    const groups = new Map<string, string[]>()
    for (const rt of types)
      if (rt.group) groups.set(rt.group, [...new Set([...(groups.get(rt.group) ?? []), rt.version])])
    const groupEntry = (name: string) => {
      const versions = groups.get(name)!.sort((a, b) => versionRank(b) - versionRank(a))
      const entries = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }))
      return { name, versions: entries, preferredVersion: entries[0] }
    }
    const resourceList = (group: string, version: string) => ({
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: group ? `${group}/${version}` : version,
      resources: types
        .filter((rt) => rt.group === group && rt.version === version)
        .flatMap((rt) => [
          {
            name: rt.plural,
            singularName: rt.singular,
            namespaced: rt.namespaced,
            kind: rt.kind,
            verbs: rt.verbs ?? VERBS,
            ...(rt.shortNames?.length ? { shortNames: rt.shortNames } : {}),
            ...(rt.categories?.length ? { categories: rt.categories } : {}),
          },
          ...(rt.subresources ?? []).map((sub) => ({
            name: `${rt.plural}/${sub}`,
            singularName: '',
            namespaced: rt.namespaced,
            kind: rt.kind,
            verbs: sub === 'log' ? ['get'] : ['get', 'patch', 'update'],
          })),
        ]),
    })
    const [root, group, version] = path
    if (root === 'api') {
      if (!group)
        return {
          kind: 'APIVersions',
          versions: ['v1'],
          serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }],
        }
      return group === 'v1' && path.length === 2 ? resourceList('', 'v1') : undefined
    }
    if (!group) return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups.keys()].sort().map(groupEntry) }
    if (!groups.has(group)) return undefined
    if (!version) return { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(group) }
    return groups.get(group)!.includes(version) && path.length === 3 ? resourceList(group, version) : undefined
  }

  /** Runs the ValidatingAdmissionPolicies over a request; throws their denial. */
  function runValidatingAdmission(request: AdmissionRequest, scope: RequestScope): void {
    const { denial, warnings } = validatingAdmission(store, request)
    scope.warnings.push(...warnings)
    if (denial) throw new ApiError(denial.code, denial.reason, denial.message, denial.details)
  }

  async function write(
    rt: ResourceType,
    object: KubeObject,
    existing: KubeObject | undefined,
    opts: { dryRun: boolean; expectedVersion?: string; scope: RequestScope; subresource?: string },
  ): Promise<KubeObject> {
    object.apiVersion = existing?.apiVersion ?? groupVersion(rt)
    object.kind = rt.kind
    const problems = validateName(rt, object)
    if (problems.length) throw invalid(rt, object.metadata.name, problems)
    if (!existing && rt.namespaced) {
      const namespaces = store.findType('', 'v1', 'namespaces')
      const namespace = object.metadata.namespace ?? 'default'
      if (namespaces && !store.get(namespaces, undefined, namespace)) {
        throw new ApiError(404, 'NotFound', `namespaces "${namespace}" not found`, {
          name: namespace,
          kind: 'namespaces',
        })
      }
    }
    if (!existing) delete object.metadata.resourceVersion
    // kubernetes staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go Update: without
    // AllowUnconditionalUpdate an update that names no resourceVersion is Invalid; a stale one is a 409 Conflict.
    // That Invalid is built from the resource, not the kind (GroupKind{Group, Kind: qualifiedResource.Resource}), so
    // the message reads `leases.coordination.k8s.io "x" is invalid` and kubectl prints `The leases "x" is invalid`.
    // kubectl replace never sends such a PUT: an object without a resourceVersion gets the server's current one
    // first (cli-runtime pkg/resource/helper.go Replace); `kubectl replace --raw` sends the body as it is.
    if (existing && rt.conditionalUpdatesOnly && !opts.expectedVersion) {
      throw invalid(
        rt,
        object.metadata.name,
        ['metadata.resourceVersion: Invalid value: 0x0: must be specified for an update'],
        { kind: rt.plural, message: qualified(rt) },
      )
    }
    // The same Update compares the resourceVersion before validation and admission run, so a stale write is a 409
    // whatever else is wrong with it, a dry run included (the store checks again when it commits).
    if (existing && opts.expectedVersion && opts.expectedVersion !== existing.metadata.resourceVersion)
      throw new StoreError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualified(rt)} "${object.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      )
    // Empty maps are omitted on real servers (Go's omitempty), so `kubectl label x k-` leaves no `labels: {}`.
    for (const field of ['labels', 'annotations'] as const) {
      const map = object.metadata[field]
      if (map && typeof map === 'object' && !Object.keys(map).length) delete object.metadata[field]
    }
    const admitted = await admit({ store, allocateNodePort }, rt, object, existing)
    if (rt.group === ADMISSION_GROUP && rt.kind === 'ValidatingAdmissionPolicy')
      admitted.push(...policyExpressionProblems(object))
    if (rt.group === ADMISSION_GROUP && rt.kind === 'ValidatingAdmissionPolicyBinding')
      admitted.push(...bindingProblems(object))
    if (admitted.length) throw invalid(rt, object.metadata.name, admitted)
    // RBAC's own storage refuses a role or binding that grants more than the writer holds, before admission.
    const escalation =
      rt.group === RBAC_GROUP && options.rbac
        ? escalationProblem(options.rbac, opts.scope.user, rt.plural, object)
        : undefined
    if (escalation)
      throw new ApiError(
        403,
        'Forbidden',
        `${qualified(rt)} ${JSON.stringify(object.metadata.name)} is forbidden: ${escalation}`,
        {
          name: object.metadata.name,
          group: rt.group,
          kind: rt.plural,
        },
      )
    runValidatingAdmission(
      {
        operation: existing ? 'UPDATE' : 'CREATE',
        rt,
        subresource: opts.subresource,
        namespace: rt.namespaced ? object.metadata.namespace : undefined,
        name: existing ? existing.metadata.name : '',
        object,
        oldObject: existing ?? null,
        userInfo: opts.scope.user,
        dryRun: opts.dryRun,
      },
      opts.scope,
    )
    if (opts.dryRun) {
      // A dry-run create still fails on a name in use (apiserver registry/generic/registry/dryrun.go, Create).
      if (!existing && store.get(rt, object.metadata.namespace ?? 'default', object.metadata.name))
        throw new StoreError(409, 'AlreadyExists', `${qualified(rt)} "${object.metadata.name}" already exists`)
      return {
        ...object,
        metadata: { ...existing?.metadata, ...object.metadata, resourceVersion: existing?.metadata.resourceVersion },
      }
    }
    return existing ? store.update(rt, object, opts.expectedVersion) : store.create(rt, object)
  }

  /** Deletes an object, the objects of a deleted Namespace, and (unless orphaning) objects it owns. */
  function deleteCascade(rt: ResourceType, namespace: string | undefined, name: string, orphan: boolean): KubeObject {
    if (rt.group === '' && rt.kind === 'Namespace') {
      for (const type of distinctTypes()) {
        if (!type.namespaced) continue
        for (const o of store.list(type, name)) deleteQuietly(type, o, true)
      }
    }
    const gone = store.delete(rt, namespace, name)
    if (!orphan) {
      for (const type of distinctTypes()) {
        for (const o of store.list(type, gone.metadata.namespace)) {
          if ((o.metadata.ownerReferences ?? []).some((ref) => ref.uid === gone.metadata.uid))
            deleteQuietly(type, o, false)
        }
      }
    }
    return gone
  }
  const deleteQuietly = (rt: ResourceType, o: KubeObject, orphan: boolean) => {
    try {
      deleteCascade(rt, o.metadata.namespace, o.metadata.name, orphan)
    } catch (error) {
      if (!(error instanceof StoreError)) throw error // already gone: another cascade got there first
    }
  }

  function serveWatch(
    req: IncomingMessage,
    res: ServerResponse,
    target: Target,
    query: URLSearchParams,
    table: boolean,
  ) {
    const { rt, namespace } = target
    const matches = matcherOf(query)
    const rvParam = query.get('resourceVersion')
    const since = rvParam && rvParam !== '0' ? Number(rvParam) : undefined
    if (since !== undefined && !Number.isInteger(since)) throw badRequest(`invalid resourceVersion "${rvParam}"`)
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' })
    res.flushHeaders()
    const emit = (type: string, object: KubeObject | object) => {
      if (res.writableEnded || res.destroyed) return
      const payload =
        table && type !== 'ERROR'
          ? toTable(store, rt, [object as KubeObject], query.get('includeObject'), String(store.resourceVersion))
          : rt.crd && type !== 'ERROR'
            ? { ...object, apiVersion: groupVersion(rt) }
            : object
      res.write(JSON.stringify({ type, object: payload }) + '\n')
    }
    const inScope = (e: StoreEvent) =>
      e.resource.group === rt.group &&
      e.resource.plural === rt.plural &&
      (!namespace || e.object.metadata.namespace === namespace)
    const relay = (e: StoreEvent) => {
      if (!inScope(e)) return
      const now = matches(e.object)
      if (e.type !== 'MODIFIED') {
        if (now) emit(e.type, e.object)
        return
      }
      // Selector semantics: leaving the selection reads as DELETED, entering it as ADDED.
      const before = e.previous ? matches(e.previous) : now
      if (now) emit(before ? 'MODIFIED' : 'ADDED', e.object)
      else if (before) emit('DELETED', e.object)
    }
    let finished = false
    let timer: NodeJS.Timeout | undefined
    let unsubscribe = () => {}
    const finish = () => {
      if (finished) return
      finished = true
      unsubscribe()
      clearTimeout(timer)
      openWatches.delete(finish)
      if (!res.writableEnded) res.end()
    }
    openWatches.add(finish)
    res.on('close', finish)
    req.on('close', finish)
    if (since !== undefined && since < store.oldestWatchableVersion) {
      emit(
        'ERROR',
        statusObject(410, 'Expired', `too old resource version: ${since} (${store.oldestWatchableVersion})`),
      )
      return finish()
    }
    if (since !== undefined) for (const e of store.eventsSince(since)) relay(e)
    else for (const o of store.list(rt, namespace)) if (matches(o)) emit('ADDED', o)
    unsubscribe = store.subscribe(relay)
    const timeout = Number(query.get('timeoutSeconds'))
    if (timeout > 0) timer = setTimeout(finish, timeout * 1000)
  }

  async function serveResource(
    req: IncomingMessage,
    res: ServerResponse,
    target: Target,
    query: URLSearchParams,
    body: Buffer,
    scope: RequestScope,
  ) {
    const { rt, name, subresource } = target
    const method = req.method ?? 'GET'
    const accept = String(req.headers.accept ?? '')
    const contentType = String(req.headers['content-type'] ?? 'application/json')
      .split(';')[0]
      .trim()
    const table = method === 'GET' && /as=Table/.test(accept) && !subresource
    const dryRun = query.get('dryRun') === 'All'
    const namespace = rt.namespaced ? target.namespace : undefined
    const present = (o: KubeObject) => (rt.crd ? { ...o, apiVersion: groupVersion(rt) } : o)
    const current = () => {
      const o = name === undefined ? undefined : store.get(rt, namespace ?? 'default', name)
      if (!o) throw notFound(rt, name ?? '')
      return o
    }
    const respond = (code: number, o: KubeObject) =>
      send(
        res,
        code,
        table ? toTable(store, rt, [o], query.get('includeObject'), String(store.resourceVersion)) : present(o),
        scope.warnings,
      )
    const writeOptions = (expectedVersion?: string) => ({ dryRun, expectedVersion, scope, subresource })

    if (rt.group === 'authorization.k8s.io' && rt.kind === 'SelfSubjectAccessReview') {
      if (method !== 'POST' || name !== undefined)
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')
      // kubectl auth can-i: the same authorizer answers for the acting user.
      const review = parseBody(body, contentType)
      const spec = review?.spec ?? {}
      const asked = spec.resourceAttributes
        ? {
            user: scope.user,
            verb: String(spec.resourceAttributes.verb ?? ''),
            group: String(spec.resourceAttributes.group ?? ''),
            resource: String(spec.resourceAttributes.resource ?? ''),
            ...(spec.resourceAttributes.subresource
              ? { subresource: String(spec.resourceAttributes.subresource) }
              : {}),
            ...(spec.resourceAttributes.namespace ? { namespace: String(spec.resourceAttributes.namespace) } : {}),
            ...(spec.resourceAttributes.name ? { name: String(spec.resourceAttributes.name) } : {}),
          }
        : {
            user: scope.user,
            verb: String(spec.nonResourceAttributes?.verb ?? ''),
            resourceRequest: false,
            path: String(spec.nonResourceAttributes?.path ?? ''),
          }
      // A review asks without acting: it is not a request of its own for RBAC's listeners.
      const decision = options.rbac && !options.authorizer ? options.rbac.review(asked) : authorize(asked)
      return send(res, 201, {
        kind: 'SelfSubjectAccessReview',
        apiVersion: groupVersion(rt),
        metadata: { creationTimestamp: null },
        spec,
        status: { allowed: decision.allowed, ...(decision.reason ? { reason: decision.reason } : {}) },
      })
    }

    if (rt.group === 'authentication.k8s.io' && rt.kind === 'SelfSubjectReview') {
      if (method !== 'POST' || name !== undefined)
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')
      // The body carries nothing the answer depends on (kubectl sends it as protobuf), so it is not read.
      const { username, uid, groups, extra } = scope.user
      return send(res, 201, {
        kind: 'SelfSubjectReview',
        apiVersion: groupVersion(rt),
        metadata: { creationTimestamp: null },
        status: { userInfo: { username, ...(uid ? { uid } : {}), groups, ...(extra ? { extra } : {}) } },
      })
    }

    if (name === undefined) {
      if (method === 'GET') {
        if (query.get('watch') === 'true' || query.get('watch') === '1')
          return serveWatch(req, res, target, query, /as=Table/.test(accept))
        const matches = matcherOf(query)
        const items = store.list(rt, namespace).filter(matches).map(present)
        const resourceVersion = String(store.resourceVersion)
        if (table) return send(res, 200, toTable(store, rt, items, query.get('includeObject'), resourceVersion))
        return send(res, 200, {
          kind: `${rt.kind}List`,
          apiVersion: groupVersion(rt),
          metadata: { resourceVersion },
          items,
        })
      }
      if (method === 'POST') {
        const object = parseObject(body, contentType)
        checkKind(rt, object)
        if (namespace && object.metadata.namespace && object.metadata.namespace !== namespace) {
          throw badRequest('the namespace of the provided object does not match the namespace sent on the request')
        }
        if (rt.namespaced) object.metadata.namespace = namespace ?? object.metadata.namespace ?? 'default'
        if (!object.metadata.name && typeof object.metadata.generateName === 'string' && object.metadata.generateName) {
          object.metadata.name = object.metadata.generateName + Math.random().toString(36).slice(2, 7)
        }
        return send(res, 201, present(await write(rt, object, undefined, writeOptions())), scope.warnings)
      }
      if (method === 'DELETE') {
        const matches = matcherOf(query)
        const items = store.list(rt, namespace).filter(matches)
        if (!dryRun) for (const o of items) deleteQuietly(rt, o, false)
        return send(res, 200, {
          kind: `${rt.kind}List`,
          apiVersion: groupVersion(rt),
          metadata: { resourceVersion: String(store.resourceVersion) },
          items,
        })
      }
      throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`)
    }

    if (subresource === 'log') {
      if (method !== 'GET')
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')
      const pod = current()
      const container = query.get('container')
      const key = `${pod.metadata.namespace}/${name}`
      let text = (container && store.podLogs.get(`${key}/${container}`)) ?? store.podLogs.get(key) ?? ''
      const tail = Number(query.get('tailLines'))
      if (query.has('tailLines') && tail >= 0) {
        const lines = text.split('\n')
        if (lines[lines.length - 1] === '') lines.pop()
        text = tail === 0 ? '' : lines.slice(-tail).join('\n') + (lines.length ? '\n' : '')
      }
      res.writeHead(200, { 'Content-Type': 'text/plain' })
      return res.end(text)
    }

    const statusWrite = subresource === 'status'
    /** For writes through /status only .status changes; through the main resource .status is kept. */
    const restrict = (desired: KubeObject, existing: KubeObject): KubeObject => {
      if (statusWrite)
        return {
          ...existing,
          metadata: { ...existing.metadata, resourceVersion: desired.metadata?.resourceVersion },
          status: desired.status,
        }
      if (hasStatusSubresource(rt)) {
        const kept = { ...desired, status: existing.status }
        if (existing.status === undefined) delete kept.status
        return kept
      }
      return desired
    }

    switch (method) {
      case 'GET':
        return respond(200, current())
      case 'PUT': {
        const object = parseObject(body, contentType)
        checkKind(rt, object)
        if (object.metadata.name !== name)
          throw badRequest(
            `the name of the object (${object.metadata.name}) does not match the name on the URL (${name})`,
          )
        if (namespace && object.metadata.namespace && object.metadata.namespace !== namespace) {
          throw badRequest('the namespace of the provided object does not match the namespace sent on the request')
        }
        const stored = store.get(rt, namespace ?? 'default', name)
        if (!stored && rt.createOnUpdate && !subresource) {
          object.metadata.namespace = namespace
          return respond(201, await write(rt, object, undefined, { dryRun, scope }))
        }
        const existing = current()
        const desired = restrict(
          { ...object, metadata: { ...object.metadata, namespace: existing.metadata.namespace } },
          existing,
        )
        return respond(200, await write(rt, desired, existing, writeOptions(object.metadata.resourceVersion)))
      }
      case 'PATCH': {
        const existing = store.get(rt, namespace ?? 'default', name)
        let patched: KubeObject
        if (contentType === 'application/apply-patch+yaml' || contentType === 'application/apply-patch+cbor') {
          const applied = parseObject(body, 'yaml')
          checkKind(rt, applied)
          if (applied.metadata.name !== undefined && applied.metadata.name !== name) {
            throw badRequest(
              `the name of the object (${applied.metadata.name}) does not match the name on the URL (${name})`,
            )
          }
          if (!existing) {
            if (statusWrite) throw notFound(rt, name)
            // An apply that creates is also authorized as a create of that name (handlers/patch.go).
            const creating = {
              user: scope.user,
              verb: 'create',
              group: rt.group,
              resource: rt.plural,
              name,
              ...(namespace ? { namespace } : {}),
            }
            const decision = authorize(creating)
            if (!decision.allowed) {
              const denial = forbidden(creating, decision.reason)
              throw new ApiError(denial.code, denial.reason, denial.message, denial.details)
            }
            applied.metadata = {
              ...applied.metadata,
              name,
              ...(rt.namespaced ? { namespace: namespace ?? 'default' } : {}),
            }
            return respond(201, await write(rt, applied, undefined, writeOptions()))
          }
          patched = applyMerge(existing, applied, rt.crd ? undefined : BUILTIN_ATOMIC_FIELDS)
        } else {
          if (!existing) throw notFound(rt, name)
          const patch = parseBody(body, 'json')
          try {
            if (contentType === 'application/merge-patch+json') patched = mergePatch(existing, patch)
            else if (contentType === 'application/strategic-merge-patch+json') {
              if (rt.crd)
                throw new ApiError(
                  415,
                  'UnsupportedMediaType',
                  `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
                )
              patched = strategicMergePatch(existing, patch)
            } else if (contentType === 'application/json-patch+json') patched = jsonPatch(existing, patch)
            else
              throw new ApiError(
                415,
                'UnsupportedMediaType',
                `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
              )
          } catch (error) {
            if (error instanceof PatchError) throw new ApiError(422, 'Invalid', error.message)
            throw error
          }
        }
        if (
          typeof patched !== 'object' ||
          patched === null ||
          Array.isArray(patched) ||
          typeof patched.metadata !== 'object' ||
          !patched.metadata
        ) {
          throw new ApiError(422, 'Invalid', 'the patch produced something that is not an object with metadata')
        }
        checkKind(rt, patched)
        // Identity never changes through a patch.
        patched.metadata = {
          ...patched.metadata,
          name: existing.metadata.name,
          namespace: existing.metadata.namespace,
          uid: existing.metadata.uid,
        }
        if (!rt.namespaced) delete patched.metadata.namespace
        const desired = restrict(patched, existing)
        return respond(200, await write(rt, desired, existing, writeOptions(patched.metadata.resourceVersion)))
      }
      case 'DELETE': {
        if (subresource)
          throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')
        const existing = current()
        const deleteOptions = body.length ? parseBody(body, 'json') : {}
        const preconditions = deleteOptions?.preconditions ?? {}
        if (preconditions.resourceVersion && preconditions.resourceVersion !== existing.metadata.resourceVersion) {
          throw new ApiError(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${qualified(rt)} "${name}": the resourceVersion in the precondition (${preconditions.resourceVersion}) does not match the one in the object (${existing.metadata.resourceVersion})`,
          )
        }
        if (preconditions.uid && preconditions.uid !== existing.metadata.uid) {
          throw new ApiError(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${qualified(rt)} "${name}": the UID in the precondition (${preconditions.uid}) does not match the UID in record (${existing.metadata.uid})`,
          )
        }
        runValidatingAdmission(
          {
            operation: 'DELETE',
            rt,
            namespace: existing.metadata.namespace,
            name,
            object: null,
            oldObject: existing,
            userInfo: scope.user,
            dryRun,
          },
          scope,
        )
        const policy = deleteOptions?.propagationPolicy ?? query.get('propagationPolicy')
        const gone = dryRun ? existing : deleteCascade(rt, existing.metadata.namespace, name, policy === 'Orphan')
        return send(
          res,
          200,
          {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Success',
            details: { name, group: rt.group, kind: rt.plural, uid: gone.metadata.uid },
          },
          scope.warnings,
        )
      }
      default:
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')
    }
  }

  async function serveKubernetes(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    body: Buffer,
    scope: RequestScope,
  ) {
    const path = url.pathname.replace(/\/+$/, '') || '/'
    const segments = path.split('/').filter(Boolean).map(decodeURIComponent)
    const method = req.method ?? 'GET'
    if (path === '/version') {
      return send(res, 200, {
        major,
        minor: minor.replace(/\D.*$/, ''),
        gitVersion: `v${options.kubernetesVersion}`,
        gitCommit: '0000000000000000000000000000000000000000',
        gitTreeState: 'clean',
        buildDate: '2025-01-01T00:00:00Z',
        goVersion: 'go1.24.0',
        compiler: 'gc',
        platform: 'linux/amd64',
      })
    }
    if (['/healthz', '/readyz', '/livez'].includes(path)) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' })
      return res.end('ok')
    }
    if (segments[0] === 'openapi' && segments[1] === 'v3') {
      const doc =
        segments.length === 2
          ? openApiIndex(store.allTypes())
          : openApiDocument(store.allTypes(), segments.slice(2).join('/'))
      if (!doc) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource')
      return send(res, 200, doc)
    }
    const isCore = segments[0] === 'api'
    const isGroup = segments[0] === 'apis'
    const discoveryDepth = isCore ? 2 : 3
    if ((isCore || isGroup) && segments.length <= discoveryDepth) {
      if (method !== 'GET')
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')
      const doc = discovery(segments)
      if (!doc) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource')
      // Plain JSON, even when the Accept header asks for aggregated discovery: kubectl then uses legacy discovery.
      return send(res, 200, doc)
    }
    if (isCore || isGroup) {
      const [group, version, rest] = isCore
        ? ['', segments[1], segments.slice(2)]
        : [segments[1], segments[2], segments.slice(3)]
      const target = resolve(group, version, rest)
      if (target) return serveResource(req, res, target, url.searchParams, body, scope)
    }
    throw new ApiError(404, 'NotFound', 'the server could not find the requested resource')
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const body = await readBody(req)
      if (options.extraRoutes && (await options.extraRoutes(req, res, body))) return
      const fault = takeApiFault(faults, req.method ?? 'GET', url.pathname)
      if (fault?.hold) {
        fault.hold.arrived()
        await fault.hold.released
      } else if (fault?.failWith === 'reset') return void req.socket.destroy()
      else if (fault?.failWith) {
        const reason = fault.failWith === 503 ? 'ServiceUnavailable' : 'InternalError'
        return send(
          res,
          fault.failWith,
          statusObject(
            fault.failWith,
            reason,
            `simulated fault: ${req.method} ${url.pathname} answered ${fault.failWith}`,
          ),
        )
      }
      // The real API server has no plain-HTTP port: Go's TLS server answers plain HTTP with this 400.
      if (options.tls && !(req.socket as { encrypted?: boolean }).encrypted) {
        res.writeHead(400, { 'Content-Type': 'text/plain' })
        return void res.end('Client sent an HTTP request to an HTTPS server.\n')
      }
      // Authentication, then impersonation: the user every later step (admission, one day RBAC) sees.
      const requester = options.authenticator?.authenticate(req.headers) ?? {
        username: CLUSTER_ADMIN.username,
        groups: [...(CLUSTER_ADMIN.groups ?? []), 'system:authenticated'],
      }
      const user = impersonate(requester, req.headers, authorize)
      // Authorization, from the URL alone (before the resource is even looked up), as kube-apiserver's filter does.
      const attributes = requestAttributes(user, req.method ?? 'GET', url.pathname, url.searchParams)
      const decision = authorize(attributes)
      if (!decision.allowed) {
        const denial = forbidden(attributes, decision.reason)
        throw new ApiError(denial.code, denial.reason, denial.message, denial.details)
      }
      await serveKubernetes(req, res, url, body, { user, warnings: [] })
    } catch (error) {
      let status: ReturnType<typeof statusObject>
      if (error instanceof ApiError) status = statusObject(error.code, error.reason, error.message, error.details)
      else if (error instanceof AuthError) status = statusObject(error.code, error.reason, error.message, error.details)
      else if (error instanceof StoreError) status = statusObject(error.code, error.reason, error.message)
      else {
        console.error('sim apiserver: request failed:', req.method, req.url, error)
        status = statusObject(500, 'InternalError', `Internal error occurred: ${(error as Error)?.message ?? error}`)
      }
      if (res.headersSent) res.destroy()
      else send(res, status.code, status)
    }
  }

  const plain = createServer((req, res) => void handle(req, res))
  const secure = options.tls
    ? createSecureServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => void handle(req, res))
    : undefined
  for (const s of [plain, secure]) s?.on('clientError', (_error, socket) => socket.destroy())
  // One port for both: a connection that opens with a TLS handshake record (0x16) goes to the TLS server.
  const front = createNetServer((socket) => {
    socket.once('data', (first) => {
      socket.pause()
      socket.unshift(first)
      ;(secure && first[0] === 0x16 ? secure : plain).emit('connection', socket)
      process.nextTick(() => socket.resume())
    })
    socket.on('error', () => socket.destroy())
  })
  return new Promise((resolveStart, rejectStart) => {
    front.once('error', rejectStart)
    front.listen(0, '127.0.0.1', () => {
      const port = (front.address() as AddressInfo).port
      resolveStart({
        url: `http://127.0.0.1:${port}`,
        ...(secure ? { secureUrl: `https://127.0.0.1:${port}` } : {}),
        port,
        close: () =>
          new Promise<void>((resolveClose) => {
            for (const finish of [...openWatches]) finish()
            front.close(() => resolveClose())
            for (const s of [plain, secure]) s?.closeAllConnections()
          }),
      })
    })
  })
}
