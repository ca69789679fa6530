// kubectl's imperative `create namespace|configmap|secret|serviceaccount` and `auth can-i` send protobuf bodies
// (typed client-go clients), not JSON. Protobuf cannot be read without the schema, so this decodes just those
// few kinds by their published field numbers; anything else stays unsupported (415).

type Fields = Map<number, (Buffer | number)[]>

/** Splits one protobuf message into field number → raw values (varints as numbers, length-delimited as Buffers). */
function readFields(buf: Buffer): Fields {
  const fields: Fields = new Map()
  let pos = 0
  const varint = () => {
    let result = 0
    let shift = 0
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated varint')
      const byte = buf[pos++]
      result += (byte & 0x7f) * 2 ** shift
      shift += 7
      if (!(byte & 0x80)) return result
    }
  }
  while (pos < buf.length) {
    const tag = varint()
    const field = Math.floor(tag / 8)
    const wire = tag & 7
    let value: Buffer | number
    if (wire === 0) value = varint()
    else if (wire === 2) {
      const length = varint()
      if (pos + length > buf.length) throw new Error('truncated field')
      value = buf.subarray(pos, pos + length)
      pos += length
    } else if (wire === 1) value = ((pos += 8), 0)
    else if (wire === 5) value = ((pos += 4), 0)
    else throw new Error(`unsupported wire type ${wire}`)
    fields.set(field, [...(fields.get(field) ?? []), value])
  }
  return fields
}

// Go's protobuf encoder writes empty strings too; treat them as absent, as JSON's omitempty would.
const text = (f: Fields, n: number) => (f.get(n)?.[0] as Buffer | undefined)?.toString('utf8') || undefined
const texts = (f: Fields, n: number) => (f.get(n) ?? []).map((v) => (v as Buffer).toString('utf8'))
const flag = (f: Fields, n: number) => (f.has(n) ? Boolean(f.get(n)![0]) : undefined)
function map(f: Fields, n: number, bytes = false): Record<string, string> | undefined {
  const entries = (f.get(n) ?? []).map((entry) => {
    const kv = readFields(entry as Buffer)
    const value = (kv.get(2)?.[0] as Buffer | undefined) ?? Buffer.alloc(0)
    return [text(kv, 1) ?? '', bytes ? value.toString('base64') : value.toString('utf8')]
  })
  return entries.length ? Object.fromEntries(entries) : undefined
}

/** Drops undefined members so the result looks like decoded JSON. */
const compact = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))

function objectMeta(buf: Buffer | undefined) {
  if (!buf) return {}
  const f = readFields(buf)
  const finalizers = texts(f, 14)
  return compact({
    name: text(f, 1),
    generateName: text(f, 2),
    namespace: text(f, 3),
    labels: map(f, 11),
    annotations: map(f, 12),
    finalizers: finalizers.length ? finalizers : undefined,
  })
}

const DECODERS: Record<string, (f: Fields) => Record<string, unknown>> = {
  'v1/Namespace': () => ({}),
  'v1/ConfigMap': (f) => ({ data: map(f, 2), binaryData: map(f, 3, true), immutable: flag(f, 4) }),
  'v1/Secret': (f) => ({ data: map(f, 2, true), type: text(f, 3), stringData: map(f, 4), immutable: flag(f, 5) }),
  'v1/ServiceAccount': (f) => ({ automountServiceAccountToken: flag(f, 4) }),
  // kubectl auth can-i: spec.resourceAttributes (namespace 1, verb 2, group 3, version 4, resource 5,
  // subresource 6, name 7) or spec.nonResourceAttributes (path 1, verb 2); k8s.io/api authorization/v1 generated.proto.
  'authorization.k8s.io/v1/SelfSubjectAccessReview': (f) => {
    const spec = readFields((f.get(2)?.[0] as Buffer | undefined) ?? Buffer.alloc(0))
    const resource = spec.get(1)?.[0] as Buffer | undefined
    const nonResource = spec.get(2)?.[0] as Buffer | undefined
    const r = resource && readFields(resource)
    const n = nonResource && readFields(nonResource)
    return {
      spec: compact({
        resourceAttributes: r
          ? compact({
              namespace: text(r, 1),
              verb: text(r, 2),
              group: text(r, 3),
              version: text(r, 4),
              resource: text(r, 5),
              subresource: text(r, 6),
              name: text(r, 7),
            })
          : undefined,
        nonResourceAttributes: n ? compact({ path: text(n, 1), verb: text(n, 2) }) : undefined,
      }),
    }
  },
}

/** Decodes a `application/vnd.kubernetes.protobuf` body of a supported kind; undefined when unsupported. */
export function decodeProtobufObject(body: Buffer): Record<string, unknown> | undefined {
  if (body.length < 4 || body.subarray(0, 4).toString('latin1') !== 'k8s\u0000') return undefined
  try {
    const envelope = readFields(body.subarray(4))
    const typeMeta = readFields((envelope.get(1)?.[0] as Buffer | undefined) ?? Buffer.alloc(0))
    const apiVersion = text(typeMeta, 1) ?? ''
    const kind = text(typeMeta, 2) ?? ''
    const decode = DECODERS[`${apiVersion}/${kind}`]
    if (!decode) return undefined
    const fields = readFields((envelope.get(2)?.[0] as Buffer | undefined) ?? Buffer.alloc(0))
    return compact({
      apiVersion,
      kind,
      metadata: objectMeta(fields.get(1)?.[0] as Buffer | undefined),
      ...decode(fields),
    })
  } catch {
    return undefined
  }
}
