// OpenAPI v3 documents, generated from the served types. kubectl reads them to decide whether the server
// validates fields itself (it looks for the `fieldValidation` parameter on each kind's PATCH operation);
// the schemas are permissive on purpose: this simulator stores whatever it is given.
import { createHash } from 'node:crypto'
import type { ResourceType } from './store.ts'

export const groupVersionPath = (group: string, version: string) =>
  group ? `apis/${group}/${version}` : `api/${version}`

/** The `/openapi/v3` index: one entry per group-version, each URL carrying a hash of its document. */
export function openApiIndex(types: ResourceType[]): object {
  const paths: Record<string, { serverRelativeURL: string }> = {}
  for (const gv of new Set(types.map((rt) => groupVersionPath(rt.group, rt.version)))) {
    const hash = createHash('sha512')
      .update(JSON.stringify(openApiDocument(types, gv)))
      .digest('hex')
      .slice(0, 64)
      .toUpperCase()
    paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${hash}` }
  }
  return { paths }
}

const schemaName = (rt: ResourceType) =>
  `${rt.group ? rt.group.split('.').reverse().join('.') : 'io.k8s.api.core'}.${rt.version}.${rt.kind}`

const queryParameter = (name: string) => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } })

/** The document of one group-version (`api/v1`, `apis/apps/v1`, …), or undefined when nothing is served there. */
export function openApiDocument(types: ResourceType[], gv: string): object | undefined {
  const served = types.filter((rt) => groupVersionPath(rt.group, rt.version) === gv)
  if (!served.length) return undefined
  const paths: Record<string, object> = {}
  const schemas: Record<string, object> = {}
  for (const rt of served) {
    const gvk = { group: rt.group, version: rt.version, kind: rt.kind }
    const ref = { $ref: `#/components/schemas/${schemaName(rt)}` }
    const response = { '200': { description: 'OK', content: { 'application/json': { schema: ref } } } }
    const body = { content: { 'application/json': { schema: ref } }, required: true }
    const collection = `/${gv}${rt.namespaced ? '/namespaces/{namespace}' : ''}/${rt.plural}`
    const operation = (action: string, extra: object = {}) => ({
      operationId: `${action}${rt.kind}`,
      'x-kubernetes-action': action,
      'x-kubernetes-group-version-kind': gvk,
      responses: response,
      ...extra,
    })
    paths[collection] = {
      get: operation('list'),
      post: operation('post', {
        requestBody: body,
        parameters: ['dryRun', 'fieldManager', 'fieldValidation'].map(queryParameter),
      }),
    }
    const item = {
      get: operation('get'),
      put: operation('put', {
        requestBody: body,
        parameters: ['dryRun', 'fieldManager', 'fieldValidation'].map(queryParameter),
      }),
      patch: operation('patch', {
        requestBody: { content: { 'application/merge-patch+json': { schema: { type: 'object' } } }, required: true },
        parameters: ['dryRun', 'fieldManager', 'fieldValidation', 'force'].map(queryParameter),
      }),
      delete: operation('delete'),
    }
    paths[`${collection}/{name}`] = item
    for (const sub of rt.subresources ?? []) if (sub === 'status') paths[`${collection}/{name}/status`] = item
    // kubectl's client-side apply sees no strategic-merge media type on these PATCH operations and falls
    // back to the strategic-merge metadata compiled into it for built-in kinds.
    schemas[schemaName(rt)] = {
      type: 'object',
      description: `${rt.kind} (schema not modelled by the simulator)`,
      'x-kubernetes-preserve-unknown-fields': true,
      'x-kubernetes-group-version-kind': [gvk],
    }
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes (simulated)', version: gv },
    paths,
    components: { schemas },
  }
}
