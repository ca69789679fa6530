// In-memory object store of the simulated cluster: the single source of truth that the HTTP API server,
// the controllers and the network model all read and write. Every change bumps a global resourceVersion
// and is kept in a short history so watches can resume from a resourceVersion, as kube-apiserver does.
import { randomUUID } from 'node:crypto'

export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: {
    name: string
    namespace?: string
    uid?: string
    resourceVersion?: string
    generation?: number
    creationTimestamp?: string
    deletionTimestamp?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    ownerReferences?: {
      apiVersion: string
      kind: string
      name: string
      uid: string
      controller?: boolean
      blockOwnerDeletion?: boolean
    }[]
    managedFields?: unknown[]
    [key: string]: unknown
  }
  spec?: any
  status?: any
  [key: string]: any
}

/** One served resource type: what discovery lists and what URLs route to. */
export interface ResourceType {
  group: string // '' for the core group
  version: string
  kind: string
  plural: string
  singular: string
  namespaced: boolean
  shortNames?: string[]
  categories?: string[]
  subresources?: string[] // e.g. ['status', 'log']
  /** The verbs discovery lists (default: all of them); a create-only review kind lists ['create']. */
  verbs?: string[]
  /** Set for types that come from a CustomResourceDefinition. */
  crd?: string
  /** Updates must carry metadata.resourceVersion (the registry strategy's AllowUnconditionalUpdate is false). */
  conditionalUpdatesOnly?: boolean
  /** A PUT to a missing object creates it (the registry strategy's AllowCreateOnUpdate is true). */
  createOnUpdate?: boolean
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED'
export interface StoreEvent {
  type: WatchEventType
  resource: ResourceType
  object: KubeObject
  resourceVersion: number
  /** For MODIFIED: the object before the change (watches use it to tell when a selector stops matching). */
  previous?: KubeObject
}

export class StoreError extends Error {
  constructor(
    readonly code: 404 | 409 | 422 | 400,
    readonly reason: 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Invalid' | 'BadRequest',
    message: string,
  ) {
    super(message)
  }
}

const HISTORY_LIMIT = 5000
/** A deep copy of JSON data (what the store holds): several times cheaper than structuredClone for it. */
function clone<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value
  if (Array.isArray(value)) return value.map(clone) as T
  const copy: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    // A "__proto__" member is data here, never the copy's prototype.
    if (k === '__proto__') Object.defineProperty(copy, k, { value: clone(v), enumerable: true, writable: true })
    else copy[k] = clone(v)
  }
  return copy as T
}
function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return
  Object.freeze(value)
  for (const member of Object.values(value)) deepFreeze(member)
}
const resourceKey = (rt: ResourceType) => `${rt.group}/${rt.plural}`
/**
 * Where an object sits in its resource: namespace, then name. Compared as plain strings this is etcd's key order,
 * the order kube-apiserver lists in.
 */
const placeKey = (rt: ResourceType, namespace: string | undefined, name: string) =>
  `${rt.namespaced ? (namespace ?? '') : ''}/${name}`
const key = (rt: ResourceType, namespace: string | undefined, name: string) =>
  `${resourceKey(rt)}/${placeKey(rt, namespace, name)}`

export type Selector = (labels: Record<string, string>) => boolean

/** The store's contents as plain data (JSON-safe). */
export interface StoreDump {
  revision: number
  objects: { resource: ResourceType; object: KubeObject }[]
  podLogs: [string, string][]
}

export class Store {
  private objects = new Map<string, { resource: ResourceType; object: KubeObject }>()
  /** The same entries by resource (all versions of a group's plural), then by place: lists read only their own. */
  private byResource = new Map<string, Map<string, { resource: ResourceType; object: KubeObject }>>()
  private types = new Map<string, ResourceType>() // `${group}/${version}/${plural}`
  private listeners = new Set<(event: StoreEvent) => void>()
  private history: StoreEvent[] = []
  private revision = 1
  /** Container output of pods, keyed `namespace/name`; served by the pods/log subresource. */
  readonly podLogs = new Map<string, string>()

  get resourceVersion(): number {
    return this.revision
  }

  /** The oldest resourceVersion a watch may still resume from. */
  get oldestWatchableVersion(): number {
    return this.history.length ? this.history[0].resourceVersion - 1 : this.revision
  }

  addType(rt: ResourceType): void {
    this.types.set(`${rt.group}/${rt.version}/${rt.plural}`, rt)
  }

  removeTypesOfCrd(crdName: string): void {
    for (const [k, rt] of this.types) if (rt.crd === crdName) this.types.delete(k)
  }

  allTypes(): ResourceType[] {
    return [...this.types.values()]
  }

  findType(group: string, version: string, plural: string): ResourceType | undefined {
    return this.types.get(`${group}/${version}/${plural}`)
  }

  typeOfKind(apiVersion: string, kind: string): ResourceType | undefined {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion]
    return this.allTypes().find((rt) => rt.group === group && rt.version === version && rt.kind === kind)
  }

  get(rt: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const entry = this.objects.get(key(rt, namespace, name))
    return entry && clone(entry.object)
  }

  /**
   * Copies of the objects of a kind, across versions of the same group (the stored object keeps its apiVersion), in
   * etcd's key order; `where` sees each stored object before it is copied.
   */
  list(
    rt: ResourceType,
    namespace?: string,
    selector?: Selector,
    where?: (stored: Readonly<KubeObject>) => boolean,
  ): KubeObject[] {
    return this.peek(rt, namespace, selector, where).map(clone)
  }

  /**
   * The stored objects of a kind themselves, deep-frozen (never copied), in etcd's key order: for readers that
   * change nothing, such as the controllers' passes, which read every kind many times a second.
   */
  peek(
    rt: ResourceType,
    namespace?: string,
    selector?: Selector,
    where?: (stored: Readonly<KubeObject>) => boolean,
  ): KubeObject[] {
    const entries = this.byResource.get(resourceKey(rt))
    if (!entries) return []
    const out: KubeObject[] = []
    for (const place of [...entries.keys()].sort()) {
      const { object } = entries.get(place)!
      if (rt.namespaced && namespace && object.metadata.namespace !== namespace) continue
      if (selector && !selector(object.metadata.labels ?? {})) continue
      if (where && !where(object)) continue
      out.push(object)
    }
    return out
  }

  create(rt: ResourceType, object: KubeObject): KubeObject {
    const namespace = rt.namespaced ? (object.metadata.namespace ?? 'default') : undefined
    const k = key(rt, namespace, object.metadata.name)
    if (this.objects.has(k)) {
      throw new StoreError(
        409,
        'AlreadyExists',
        `${rt.plural}${rt.group ? '.' + rt.group : ''} "${object.metadata.name}" already exists`,
      )
    }
    const stored = clone(object)
    stored.apiVersion = rt.group ? `${rt.group}/${rt.version}` : rt.version
    stored.kind = rt.kind
    stored.metadata = {
      ...stored.metadata,
      ...(namespace ? { namespace } : {}),
      uid: randomUUID(),
      generation: 1,
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    }
    if (!rt.namespaced) delete stored.metadata.namespace
    return this.commit('ADDED', rt, stored)
  }

  /**
   * Replaces an object. `expectedVersion` gives optimistic concurrency (409 Conflict on mismatch).
   * The generation is bumped when the spec changes, as the real API server does.
   */
  update(rt: ResourceType, object: KubeObject, expectedVersion?: string): KubeObject {
    const namespace = rt.namespaced ? (object.metadata.namespace ?? 'default') : undefined
    const k = key(rt, namespace, object.metadata.name)
    const current = this.objects.get(k)
    if (!current)
      throw new StoreError(
        404,
        'NotFound',
        `${rt.plural}${rt.group ? '.' + rt.group : ''} "${object.metadata.name}" not found`,
      )
    if (expectedVersion && expectedVersion !== current.object.metadata.resourceVersion) {
      throw new StoreError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${rt.plural}${rt.group ? '.' + rt.group : ''} "${object.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      )
    }
    const stored = clone(object)
    stored.apiVersion = current.object.apiVersion
    stored.kind = rt.kind
    const specChanged = JSON.stringify(stored.spec) !== JSON.stringify(current.object.spec)
    stored.metadata = {
      ...stored.metadata,
      ...(namespace ? { namespace } : {}),
      uid: current.object.metadata.uid,
      creationTimestamp: current.object.metadata.creationTimestamp,
      generation: (current.object.metadata.generation ?? 1) + (specChanged ? 1 : 0),
    }
    if (
      JSON.stringify({ ...stored, metadata: { ...stored.metadata, resourceVersion: undefined } }) ===
      JSON.stringify({ ...current.object, metadata: { ...current.object.metadata, resourceVersion: undefined } })
    ) {
      return clone(current.object) // no-op updates do not bump the resourceVersion, as on a real server
    }
    return this.commit('MODIFIED', rt, stored, current.object)
  }

  /** Read-modify-write helper for controllers: `mutate` edits a copy; returns undefined when absent. */
  mutate(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    mutate: (o: KubeObject) => void,
  ): KubeObject | undefined {
    const current = this.get(rt, namespace, name)
    if (!current) return undefined
    mutate(current)
    return this.update(rt, current)
  }

  delete(rt: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const k = key(rt, namespace, name)
    const current = this.objects.get(k)
    if (!current)
      throw new StoreError(404, 'NotFound', `${rt.plural}${rt.group ? '.' + rt.group : ''} "${name}" not found`)
    this.forget(current.resource, current.object)
    const gone = clone(current.object)
    this.revision++
    gone.metadata.resourceVersion = String(this.revision)
    this.emit({ type: 'DELETED', resource: rt, object: gone, resourceVersion: this.revision })
    return clone(gone)
  }

  /** Every object with its type, the resourceVersion and the pod logs: what a saved world keeps (saved-world.ts). */
  dump(): StoreDump {
    return {
      revision: this.revision,
      objects: [...this.objects.values()].map((entry) => clone(entry)),
      podLogs: [...this.podLogs.entries()],
    }
  }

  /**
   * Puts back a dump into an empty store, objects as they were (uids, resourceVersions, generations), without
   * watch events: nothing has been watching yet. Watches may resume from the dump's resourceVersion onwards.
   */
  load(dump: StoreDump): void {
    if (this.objects.size) throw new Error('sim: a saved world loads into an empty store only')
    for (const entry of dump.objects) {
      const { resource, object } = clone(entry)
      this.keep({ resource, object })
    }
    for (const [k, text] of dump.podLogs) this.podLogs.set(k, text)
    this.revision = dump.revision
  }

  /** Subscribes to every change; returns the unsubscribe function. */
  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Changes after `resourceVersion` still in history (for watch resume). */
  eventsSince(resourceVersion: number): StoreEvent[] {
    return this.history
      .filter((e) => e.resourceVersion > resourceVersion)
      .map((e) => ({ ...e, object: clone(e.object), ...(e.previous ? { previous: clone(e.previous) } : {}) }))
  }

  private commit(type: WatchEventType, rt: ResourceType, stored: KubeObject, previous?: KubeObject): KubeObject {
    this.revision++
    stored.metadata.resourceVersion = String(this.revision)
    this.keep({ resource: rt, object: stored })
    this.emit({
      type,
      resource: rt,
      object: clone(stored),
      resourceVersion: this.revision,
      ...(previous ? { previous: clone(previous) } : {}),
    })
    return clone(stored)
  }

  private keep(entry: { resource: ResourceType; object: KubeObject }): void {
    const { resource, object } = entry
    deepFreeze(object) // a stored object is replaced on change, never edited: peek() hands it out as it is
    this.objects.set(key(resource, object.metadata.namespace, object.metadata.name), entry)
    let entries = this.byResource.get(resourceKey(resource))
    if (!entries) this.byResource.set(resourceKey(resource), (entries = new Map()))
    entries.set(placeKey(resource, object.metadata.namespace, object.metadata.name), entry)
  }

  private forget(resource: ResourceType, object: KubeObject): void {
    this.objects.delete(key(resource, object.metadata.namespace, object.metadata.name))
    this.byResource
      .get(resourceKey(resource))
      ?.delete(placeKey(resource, object.metadata.namespace, object.metadata.name))
  }

  private emit(event: StoreEvent): void {
    this.history.push(event)
    if (this.history.length > HISTORY_LIMIT) this.history.splice(0, this.history.length - HISTORY_LIMIT)
    for (const listener of this.listeners) {
      try {
        listener(event)
      } catch (error) {
        console.error('sim: store listener failed:', error)
      }
    }
  }
}
