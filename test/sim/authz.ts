// Istio AuthorizationPolicy evaluation as the three enforcement points in ambient mode apply it:
// a waypoint and a gateway's Envoy see HTTP; ztunnel sees only L4 and treats HTTP-only rule parts specially.
import type { KubeObject } from './store.ts'
import { inCidr } from './cluster-view.ts'

export type Enforcer = 'waypoint' | 'gateway' | 'ztunnel'

export interface AuthzRequest {
  principal?: string // mTLS identity of the source; absent for plaintext / out-of-mesh sources
  sourceIp: string
  ports: number[] // the destination port(s) the policy may name (Service port and target port)
  http?: { method: string; path: string; host?: string; headers: Record<string, string> } // header names lower-case
}

export interface AuthzDecision {
  allowed: boolean
  reason: string
}

/**
 * Istio string matching, in the order istiod tests it (pilot/pkg/serviceregistry/kube/controller/ambient/
 * authorization.go stringToMatch; pilot/pkg/security/authz/matcher/string.go StringMatcherWithPrefix): `*` is
 * presence, a leading `*` a suffix match, else a trailing `*` a prefix match, else exact. Any other `*` is a
 * literal character (`*a*` is the suffix "a*").
 */
export function matchValue(pattern: string, value: string | undefined): boolean {
  if (value === undefined) return false
  if (pattern === '*') return value !== ''
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1))
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1))
  return pattern === value
}

const anyMatch = (patterns: string[] | undefined, value: string | undefined) =>
  (patterns ?? []).some((p) => matchValue(String(p), value))

const HTTP_SOURCE_FIELDS = ['requestPrincipals', 'notRequestPrincipals', 'remoteIpBlocks', 'notRemoteIpBlocks']
const HTTP_OPERATION_FIELDS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths']
// istiod hands ztunnel only these condition keys; any other is an HTTP attribute (ambient/authorization.go l4WhenAttributes).
const L4_WHEN_KEYS = new Set([
  'source.ip',
  'source.namespace',
  'source.principal',
  'destination.ip',
  'destination.port',
])
const isHttpWhenKey = (key: string) => !L4_WHEN_KEYS.has(key)

/** Names the HTTP-only attributes a rule uses (ztunnel cannot evaluate them). */
export function httpAttributesOf(rule: any): string[] {
  const found = new Set<string>()
  for (const f of rule?.from ?? []) for (const k of HTTP_SOURCE_FIELDS) if (f?.source?.[k]) found.add(k)
  for (const t of rule?.to ?? []) for (const k of HTTP_OPERATION_FIELDS) if (t?.operation?.[k]) found.add(k)
  for (const w of rule?.when ?? []) if (isHttpWhenKey(String(w?.key ?? ''))) found.add(String(w.key))
  return [...found]
}

function sourceMatches(source: any, req: AuthzRequest, ignoreHttp: boolean): boolean {
  const namespace = req.principal?.split('/')[2]
  if (source.principals && !anyMatch(source.principals, req.principal)) return false
  if (source.notPrincipals && anyMatch(source.notPrincipals, req.principal)) return false
  if (source.namespaces && !anyMatch(source.namespaces, namespace)) return false
  if (source.notNamespaces && anyMatch(source.notNamespaces, namespace)) return false
  if (source.ipBlocks && !source.ipBlocks.some((c: string) => inCidr(req.sourceIp, c))) return false
  if (source.notIpBlocks && source.notIpBlocks.some((c: string) => inCidr(req.sourceIp, c))) return false
  if (!ignoreHttp) {
    // No JWTs exist in the simulated cluster, so request principals never match.
    if (source.requestPrincipals) return false
    if (source.remoteIpBlocks && !source.remoteIpBlocks.some((c: string) => inCidr(req.sourceIp, c))) return false
    if (source.notRemoteIpBlocks && source.notRemoteIpBlocks.some((c: string) => inCidr(req.sourceIp, c))) return false
  }
  return true
}

function operationMatches(op: any, req: AuthzRequest, ignoreHttp: boolean): boolean {
  const portMatches = (ports: string[]) => ports.some((p) => req.ports.includes(Number(p)))
  if (op.ports && !portMatches(op.ports)) return false
  if (op.notPorts && portMatches(op.notPorts)) return false
  if (ignoreHttp) return true
  const http = req.http
  if (op.methods && !anyMatch(op.methods, http?.method)) return false
  if (op.notMethods && anyMatch(op.notMethods, http?.method)) return false
  if (op.paths && !anyMatch(op.paths, http?.path)) return false
  if (op.notPaths && anyMatch(op.notPaths, http?.path)) return false
  if (op.hosts && !anyMatch(op.hosts, http?.host)) return false
  if (op.notHosts && anyMatch(op.notHosts, http?.host)) return false
  return true
}

function conditionValue(key: string, req: AuthzRequest): string | undefined {
  const header = /^request\.headers\[(.+)\]$/.exec(key)
  if (header) return req.http?.headers[header[1].toLowerCase()]
  if (key === 'source.principal') return req.principal
  if (key === 'source.namespace') return req.principal?.split('/')[2]
  if (key === 'source.ip') return req.sourceIp
  if (key === 'destination.port') return req.ports[0] !== undefined ? String(req.ports[0]) : undefined
  return undefined
}

function whenMatches(condition: any, req: AuthzRequest, ignoreHttp: boolean): boolean {
  const key = String(condition?.key ?? '')
  if (ignoreHttp && isHttpWhenKey(key)) return true
  const value = conditionValue(key, req)
  if (condition.values && !anyMatch(condition.values, value)) return false
  if (condition.notValues && anyMatch(condition.notValues, value)) return false
  return true
}

function ruleMatches(rule: any, req: AuthzRequest, ignoreHttp: boolean): boolean {
  const from: any[] = rule?.from ?? []
  const to: any[] = rule?.to ?? []
  const when: any[] = rule?.when ?? []
  if (from.length && !from.some((f) => sourceMatches(f?.source ?? {}, req, ignoreHttp))) return false
  if (to.length && !to.some((t) => operationMatches(t?.operation ?? {}, req, ignoreHttp))) return false
  return when.every((w) => whenMatches(w, req, ignoreHttp))
}

/**
 * DENY before ALLOW; with any ALLOW policy present a request needs a matching ALLOW rule.
 * ztunnel: an ALLOW rule using HTTP attributes matches nothing; a DENY rule has its HTTP parts dropped
 * (denying more), as istiod translates them for ztunnel.
 */
export function authorize(policies: KubeObject[], req: AuthzRequest, enforcer: Enforcer): AuthzDecision {
  const l4Only = enforcer === 'ztunnel'
  const actionOf = (p: KubeObject) => String(p.spec?.action ?? 'ALLOW').toUpperCase()
  for (const policy of policies.filter((p) => actionOf(p) === 'DENY')) {
    const rules: any[] = policy.spec?.rules ?? []
    if (rules.some((r) => ruleMatches(r, req, l4Only)))
      return { allowed: false, reason: `denied by DENY policy ${policy.metadata.namespace}/${policy.metadata.name}` }
  }
  const allows = policies.filter((p) => actionOf(p) === 'ALLOW')
  if (allows.length === 0) return { allowed: true, reason: 'no ALLOW policy applies' }
  for (const policy of allows) {
    const rules: any[] = policy.spec?.rules ?? []
    const usable = l4Only ? rules.filter((r) => httpAttributesOf(r).length === 0) : rules
    if (usable.some((r) => ruleMatches(r, req, false)))
      return { allowed: true, reason: `allowed by ${policy.metadata.namespace}/${policy.metadata.name}` }
  }
  return {
    allowed: false,
    reason: `no rule of ALLOW policies ${allows.map((p) => p.metadata.name).join(', ')} matched`,
  }
}

/** Whether a policy names a target (`targetRefs` or the older single `targetRef`). */
export function targetRefsOf(policy: KubeObject): { group?: string; kind: string; name: string }[] {
  const refs = [...(policy.spec?.targetRefs ?? [])]
  if (policy.spec?.targetRef) refs.push(policy.spec.targetRef)
  return refs
}
