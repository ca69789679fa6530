// The four patch flavours the API server accepts: JSON merge patch (RFC 7386), JSON patch (RFC 6902),
// Kubernetes strategic merge patch, and the merge step of server-side apply. Strategic merge needs to know
// which lists merge by which key; real servers read that from Go struct tags, we keep a small table.

type Json = any

export class PatchError extends Error {}

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v)
const clone = <T>(v: T): T => (v === undefined ? v : structuredClone(v))

/** Lists that merge element-wise, by field name → candidate merge keys (the first one present wins). */
const MERGE_KEYS: Record<string, string[]> = {
  containers: ['name'],
  initContainers: ['name'],
  ephemeralContainers: ['name'],
  env: ['name'],
  volumes: ['name'],
  volumeMounts: ['mountPath'],
  volumeDevices: ['devicePath'],
  ports: ['containerPort', 'port'], // container ports vs Service ports
  conditions: ['type'],
  imagePullSecrets: ['name'],
  hostAliases: ['ip'],
  ownerReferences: ['uid'],
  topologySpreadConstraints: ['topologyKey'],
  resourceClaims: ['name'],
}
/** Lists of scalars that merge as sets. */
const SET_LISTS = new Set(['finalizers'])

function mergeKeyFor(field: string, ...lists: unknown[]): string | undefined {
  const candidates = MERGE_KEYS[field]
  if (!candidates) return undefined
  const elements = lists.flatMap((l) => (Array.isArray(l) ? l.filter(isObject) : []))
  return candidates.find((k) => elements.some((e) => k in e)) ?? candidates[0]
}

/** RFC 7386: objects merge recursively, `null` deletes, everything else (lists included) replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch)
  const result: Record<string, Json> = isObject(target) ? clone(target) : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k]
    else result[k] = mergePatch(result[k], v)
  }
  return result
}

/** Kubernetes strategic merge patch, with the `$patch`, `$retainKeys`, `$setElementOrder/…` and `$deleteFromPrimitiveList/…` directives. */
export function strategicMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) throw new PatchError('a strategic merge patch must be a JSON object')
  return mergeMap(target, patch) ?? {}
}

function mergeMap(target: Json, patch: Record<string, Json>): Json {
  if (patch.$patch === 'delete') return undefined
  if (patch.$patch === 'replace') return stripDirectives(patch)
  const result: Record<string, Json> = isObject(target) ? clone(target) : {}
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue
    if (v === null) delete result[k]
    else if (isObject(v)) {
      const merged = mergeMap(result[k], v)
      if (merged === undefined) delete result[k]
      else result[k] = merged
    } else if (Array.isArray(v)) result[k] = mergeList(k, result[k], v)
    else result[k] = v
  }
  // Directives that act on the merged result.
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$deleteFromPrimitiveList/') && Array.isArray(result[k.slice(25)])) {
      const field = k.slice(25)
      result[field] = result[field].filter((item: Json) => !v.includes(item))
    } else if (k.startsWith('$setElementOrder/') && Array.isArray(result[k.slice(17)]) && Array.isArray(v)) {
      const field = k.slice(17)
      result[field] = reorder(result[field], v, mergeKeyFor(field, v, result[field]))
    }
  }
  if (Array.isArray(patch.$retainKeys)) {
    for (const k of Object.keys(result)) if (!patch.$retainKeys.includes(k)) delete result[k]
  }
  return result
}

function mergeList(field: string, target: Json, patch: Json[]): Json[] {
  if (patch.some((e) => isObject(e) && e.$patch === 'replace')) {
    return patch.filter((e) => !(isObject(e) && e.$patch === 'replace')).map(stripDirectives)
  }
  if (SET_LISTS.has(field)) {
    const base: Json[] = Array.isArray(target) ? clone(target) : []
    for (const item of patch) if (!base.includes(item)) base.push(item)
    return base
  }
  const key = mergeKeyFor(field, patch, target)
  if (!key || !patch.every(isObject)) return patch.map(stripDirectives)
  const result: Json[] = Array.isArray(target) ? clone(target) : []
  for (const element of patch) {
    const index = result.findIndex((item) => isObject(item) && item[key] === element[key])
    if (element.$patch === 'delete') {
      if (index >= 0) result.splice(index, 1)
    } else if (index >= 0) result[index] = mergeMap(result[index], element)
    else result.push(mergeMap({}, element))
  }
  return result
}

function reorder(list: Json[], order: Json[], key: string | undefined): Json[] {
  const position = (item: Json) => {
    const at = order.findIndex((o) => (key && isObject(o) && isObject(item) ? o[key] === item[key] : o === item))
    return at < 0 ? order.length : at
  }
  return [...list].sort((a, b) => position(a) - position(b))
}

function stripDirectives(value: Json): Json {
  if (Array.isArray(value)) return value.map(stripDirectives)
  if (!isObject(value)) return value
  const out: Record<string, Json> = {}
  for (const [k, v] of Object.entries(value)) if (!k.startsWith('$') && v !== null) out[k] = stripDirectives(v)
  return out
}

/**
 * The merge step of server-side apply, without field ownership: maps deep-merge, associative lists
 * (containers by name, ports by port, …) merge by key, other lists are replaced by the applied ones, and the
 * fields named in `atomic` (an atomic struct or map) are replaced whole.
 */
export function applyMerge(target: Json, applied: Json, atomic?: Set<string>): Json {
  if (!isObject(applied)) return clone(applied)
  const result: Record<string, Json> = isObject(target) ? clone(target) : {}
  for (const [k, v] of Object.entries(applied)) {
    if (v === null) continue
    if (isObject(v) && atomic?.has(k)) result[k] = clone(v)
    else if (isObject(v)) result[k] = applyMerge(result[k], v, atomic)
    else if (Array.isArray(v)) {
      const key = mergeKeyFor(k, v, result[k])
      if (SET_LISTS.has(k)) result[k] = [...new Set([...(Array.isArray(result[k]) ? result[k] : []), ...v])]
      else if (!key || !v.every(isObject) || !Array.isArray(result[k])) result[k] = clone(v)
      else {
        // Elements keep the applied order; each merges into the existing element with the same key.
        const existing: Json[] = result[k]
        result[k] = v.map((el) =>
          applyMerge(
            existing.find((e) => isObject(e) && e[key] === el[key]),
            el,
            atomic,
          ),
        )
      }
    } else result[k] = v
  }
  return result
}

/** RFC 6902 JSON patch: add, remove, replace, move, copy, test. */
export function jsonPatch(target: Json, operations: Json): Json {
  if (!Array.isArray(operations)) throw new PatchError('a JSON patch must be a list of operations')
  let doc = clone(target)
  for (const op of operations) {
    if (!isObject(op) || typeof op.op !== 'string' || typeof op.path !== 'string') {
      throw new PatchError(`invalid JSON patch operation: ${JSON.stringify(op)}`)
    }
    switch (op.op) {
      case 'add':
        doc = put(doc, op.path, clone(op.value), 'add')
        break
      case 'replace':
        get(doc, op.path) // must exist
        doc = put(doc, op.path, clone(op.value), 'replace')
        break
      case 'remove':
        doc = remove(doc, op.path)
        break
      case 'move': {
        const value = get(doc, op.from)
        doc = put(remove(doc, op.from), op.path, value, 'add')
        break
      }
      case 'copy':
        doc = put(doc, op.path, clone(get(doc, op.from)), 'add')
        break
      case 'test':
        if (JSON.stringify(get(doc, op.path)) !== JSON.stringify(op.value)) {
          throw new PatchError(`testing value ${op.path} failed`)
        }
        break
      default:
        throw new PatchError(`unknown JSON patch operation "${op.op}"`)
    }
  }
  return doc
}

function pointer(path: string): string[] {
  if (path === '') return []
  if (!path.startsWith('/')) throw new PatchError(`invalid JSON pointer "${path}"`)
  return path
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
}

function get(doc: Json, path: string): Json {
  let node = doc
  for (const part of pointer(path)) {
    if (Array.isArray(node) ? !(Number(part) in node) : !isObject(node) || !(part in node)) {
      throw new PatchError(`path ${path} does not exist`)
    }
    node = node[Array.isArray(node) ? Number(part) : part]
  }
  return node
}

function parentOf(doc: Json, path: string): { parent: Json; last: string } {
  const parts = pointer(path)
  if (!parts.length) throw new PatchError('cannot address the document root here')
  const last = parts.pop()!
  const parentPath = parts.map((p) => '/' + p.replace(/~/g, '~0').replace(/\//g, '~1')).join('')
  return { parent: get(doc, parentPath), last }
}

function put(doc: Json, path: string, value: Json, mode: 'add' | 'replace'): Json {
  if (path === '') return value
  const { parent, last } = parentOf(doc, path)
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last)
    if (!Number.isInteger(index) || index < 0 || index > parent.length)
      throw new PatchError(`index ${last} out of range`)
    if (mode === 'add') parent.splice(index, 0, value)
    else parent[index] = value
  } else if (isObject(parent)) parent[last] = value
  else throw new PatchError(`path ${path} has no container to ${mode} into`)
  return doc
}

function remove(doc: Json, path: string): Json {
  get(doc, path)
  const { parent, last } = parentOf(doc, path)
  if (Array.isArray(parent)) parent.splice(Number(last), 1)
  else delete parent[last]
  return doc
}
