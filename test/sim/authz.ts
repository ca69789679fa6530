// Istio AuthorizationPolicy evaluation as the three enforcement points of ambient mode apply it. A waypoint and a
// gateway are Envoys: istiod turns each policy into Envoy RBAC, with HTTP attributes for requests and without them
// for plain TCP. ztunnel gets its own L4 translation from istiod and matches connections itself.
//
// Envoy side (istio/istio 1.29.1):
// - pilot/pkg/security/authz/builder/builder.go (build: DENY then ALLOW; a policy annotated istio.io/dry-run goes to
//   shadow rules and is not enforced; a policy without rules matches nothing; a rule that fails to generate is
//   skipped; CUSTOM needs an ext_authz provider, AUDIT only logs);
// - pilot/pkg/security/authz/model/model.go (New: `when` keys are folded into every `from`/`to` entry, an unknown
//   key makes the rule invalid; Generate: permissions OR'ed, principals OR'ed, each an AND of its keys; checkError:
//   an attribute that cannot be generated — HTTP-only ones for TCP, bad IPs or ports — drops the whole rule of an
//   ALLOW policy but only that value of a DENY policy);
// - pilot/pkg/security/authz/model/generator.go (what each key matches: principals `spiffe://<value>` with
//   StringMatcherWithPrefix, namespaces as the regex `.*/ns/<value with * as .*>/.*` on the principal, service
//   accounts as `spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?`, hosts case-insensitively, paths with path templates when
//   they contain {*} or {**}, methods and headers with HeaderMatcher, IPs as CIDRs, request principals from JWTs);
// - pilot/pkg/security/authz/matcher/{string,header,template}.go (`*` alone is the regex `.+` — never an empty
//   value — or presence for headers and hosts; a leading `*` is a suffix match of the rest, else a trailing `*` a
//   prefix match: only those two places are wildcards, so `*/productpage*` is the suffix `/productpage*`;
//   `{*}`/`{**}` become Envoy URI-template operators); envoyproxy/envoy
//   source/extensions/path/uri_template_lib/uri_template_internal.cc (`*` = `[pchar]+`, one segment; `**` =
//   `[pchar/]*`, any text including slashes).
// ztunnel side:
// - istio/istio 1.29.1 pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go (convertAuthorizationPolicy:
//   a dry-run policy is not sent while AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY is off — its default in
//   pilot/pkg/features/ambient.go — and gets an UnsupportedValue status; targetRefs policies are not for ztunnel;
//   only ALLOW and DENY; handleRule: one clause for `to`, one for `from`, one per `when`; ALLOW rules with HTTP
//   attributes are dropped; DENY rules keep their L4 fields, so an entry holding only HTTP fields becomes an empty
//   match; stringToMatch, stringToServiceAccountMatch, stringToPort, stringToIP, l4WhenAttributes);
// - istio/ztunnel 1.29.1 src/rbac.rs (Authorization::matches: any rule, every clause, any non-empty match in a
//   clause — an empty match is skipped, so a clause of only empty matches never matches (istio/istio#61126);
//   StringMatch presence is "non-empty"; principals are compared without `spiffe://`, plaintext has none;
//   ServiceAccountMatch compares namespace and account); src/state.rs (assert_rbac: dry-run policies only log;
//   DENY first, no ALLOW policy allows, any matching ALLOW allows, else deny).
//
// Simplifications (listed in ../README.md too): no JWTs exist, so request principals, audiences, presenters and
// claims never match; `connection.sni` and `experimental.envoy.filters.*` never match; CUSTOM policies are not
// evaluated (no ext_authz provider); the remote IP (remoteIpBlocks, remote.ip) is the direct source address; the
// destination IP is the pod's address at ztunnel and at a gateway, and the Service's ClusterIP at a waypoint;
// trust-domain aliases are not modelled.
import { isIP } from 'node:net'
import type { KubeObject } from './store.ts'
import { selects } from './cluster-view.ts'

export type Enforcer = 'waypoint' | 'gateway' | 'ztunnel'

export interface AuthzRequest {
  principal?: string // mTLS identity of the source, `<trust domain>/ns/<ns>/sa/<sa>`; absent for plaintext
  sourceIp: string
  destinationIp?: string
  ports: number[] // the destination port(s) the policy may name (Service port and target port)
  http?: { method: string; path: string; host?: string; headers: Record<string, string> } // header names lower-case
  /** The mesh's trust domain (meshConfig.trustDomain); default cluster.local. */
  trustDomain?: string
}

export interface AuthzDecision {
  allowed: boolean
  reason: string
}

export const ROOT_NAMESPACE = 'istio-system'
const actionOf = (p: KubeObject) => String(p.spec?.action ?? 'ALLOW').toUpperCase()

/** Go's strconv.ParseBool, as istiod reads the istio.io/dry-run annotation (anything else is an error: not dry-run). */
export const parseGoBool = (value: unknown): boolean | undefined =>
  ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(String(value))
    ? true
    : ['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(String(value))
      ? false
      : undefined
export const isDryRun = (p: KubeObject) => parseGoBool(p.metadata.annotations?.['istio.io/dry-run']) === true

// ---------------------------------------------------------------------------------------------------------------
// Envoy string matchers (pilot/pkg/security/authz/matcher)

export type EnvoyStringMatcher =
  | { type: 'exact' | 'prefix' | 'suffix'; value: string; ignoreCase: boolean }
  | { type: 'regex'; regex: string }
  | { type: 'present' }

/** StringMatcherWithPrefix: `*` → `.+`; a leading `*` → suffix (or a regex when a prefix is added); a trailing `*` → prefix. */
export function envoyStringMatcher(v: string, prefix = ''): EnvoyStringMatcher {
  if (v === '*') return { type: 'regex', regex: '.+' }
  if (v.startsWith('*'))
    return prefix
      ? { type: 'regex', regex: `${prefix}.*${v.slice(1)}` }
      : { type: 'suffix', value: v.slice(1), ignoreCase: false }
  if (v.endsWith('*')) return { type: 'prefix', value: prefix + v.slice(0, -1), ignoreCase: false }
  return { type: 'exact', value: prefix + v, ignoreCase: false }
}

/** HeaderMatcher (and HostMatcher with ignoreCase): `*` is presence; otherwise suffix, prefix or exact. */
export function envoyHeaderMatcher(v: string, ignoreCase = false): EnvoyStringMatcher {
  if (v === '*') return { type: 'present' }
  if (v.startsWith('*')) return { type: 'suffix', value: v.slice(1), ignoreCase }
  if (v.endsWith('*')) return { type: 'prefix', value: v.slice(0, -1), ignoreCase }
  return { type: 'exact', value: v, ignoreCase }
}

export const envoyHostMatcher = (v: string) => envoyHeaderMatcher(v, true)

/** Envoy's safe_regex matches the whole value (RE2 syntax; JavaScript's is close enough for these patterns). */
const fullRegex = (regex: string) => new RegExp(`^(?:${regex})$`)

export function matchesEnvoy(m: EnvoyStringMatcher, value: string | undefined): boolean {
  if (value === undefined) return false
  if (m.type === 'present') return true
  if (m.type === 'regex') return fullRegex(m.regex).test(value)
  const [v, want] = m.ignoreCase ? [value.toLowerCase(), m.value.toLowerCase()] : [value, m.value]
  if (m.type === 'exact') return v === want
  if (m.type === 'prefix') return v.startsWith(want)
  return v.endsWith(want)
}

export const MATCH_ONE_TEMPLATE = '{*}'
export const MATCH_ANY_TEMPLATE = '{**}'
export const containsPathTemplate = (path: string) =>
  path.includes(MATCH_ONE_TEMPLATE) || path.includes(MATCH_ANY_TEMPLATE)
/** sanitizePathTemplate: `{**}` → `**`, `{*}` → `*` (a `*` or `**` already there stays). */
export const sanitizePathTemplate = (path: string) =>
  path.replaceAll(MATCH_ANY_TEMPLATE, '**').replaceAll(MATCH_ONE_TEMPLATE, '*')

// RFC 3986 pchar, the characters Envoy's URI templates allow in a segment.
const PCHAR = "A-Za-z0-9\\-._~%!$&'()*+,;=:@"
/** Envoy's URI-template match on a path (query removed): `*` one non-empty segment, `**` anything, slashes included. */
export function matchesPathTemplate(template: string, path: string): boolean {
  const regex = sanitizePathTemplate(template)
    .split(/(\*\*|\*)/)
    .map((part) =>
      part === '**' ? `[${PCHAR}/]*` : part === '*' ? `[${PCHAR}]+` : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('')
  return fullRegex(regex).test(path.split('?')[0])
}

// ---------------------------------------------------------------------------------------------------------------
// Identities

interface Identity {
  trustDomain: string
  namespace: string
  serviceAccount: string
}
function identityOf(principal: string | undefined): Identity | undefined {
  const m = /^([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(principal ?? '')
  return m ? { trustDomain: m[1], namespace: m[2], serviceAccount: m[3] } : undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Envoy RBAC (waypoints and gateways)

/** Thrown while generating a rule: HTTP-only for TCP, or a value Envoy cannot use. */
class GenerateError extends Error {}

const HTTP_ONLY = (key: string) => new GenerateError(`"${key}" is HTTP only`)

function toPort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new GenerateError(`invalid port ${value}`)
  return Number(value)
}
/** An address as bits (IPv4 32, IPv6 128), or undefined when it is not one. */
function addressBits(ip: string): { bits: bigint; width: number } | undefined {
  const family = isIP(ip)
  if (family === 4) {
    const bits = ip.split('.').reduce((n, part) => (n << 8n) + BigInt(Number(part)), 0n)
    return { bits, width: 32 }
  }
  if (family !== 6) return undefined
  const compressed = ip.includes('::')
  const [head, tail] = compressed ? ip.split('::') : [ip, '']
  const groupsOf = (text: string) => (text ? text.split(':') : [])
  const expand = (groups: string[]) =>
    groups.flatMap((g) => {
      if (!g.includes('.')) return [g]
      const v4 = addressBits(g)!.bits // an embedded IPv4 address is two groups
      return [(v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16)]
    })
  const left = expand(groupsOf(head))
  const right = expand(groupsOf(tail))
  const groups = compressed ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left
  return { bits: groups.reduce((n, g) => (n << 16n) + BigInt(parseInt(g, 16)), 0n), width: 128 }
}

/** Go's netip.ParsePrefix / ParseAddr (a bare address is a full-length prefix); throws GenerateError otherwise. */
function toCidr(value: string): string {
  const [address, length, ...rest] = String(value).split('/')
  const parsed = addressBits(address)
  const bits = length === undefined ? parsed?.width : /^\d+$/.test(length) ? Number(length) : Number.NaN
  if (!parsed || rest.length || bits === undefined || !(bits >= 0 && bits <= parsed.width))
    throw new GenerateError(`invalid IP ${value}`)
  return `${address}/${bits}`
}

/** Whether an address lies in a CIDR of the same family (IPv4 or IPv6), as ipnet's contains does. */
export function ipInCidr(ip: string | undefined, cidr: string): boolean {
  const [base, length] = cidr.split('/')
  const a = ip ? addressBits(ip) : undefined
  const b = addressBits(base)
  if (!a || !b || a.width !== b.width) return false
  const shift = BigInt(a.width - Number(length))
  return a.bits >> shift === b.bits >> shift
}
const inRange = ipInCidr

type Predicate = (req: AuthzRequest) => boolean
const spiffe = (req: AuthzRequest) => (req.principal ? `spiffe://${req.principal}` : undefined)
const headerValue = (req: AuthzRequest, name: string) => req.http?.headers[name.toLowerCase()]

/** One value of one key as Envoy matches it; throws GenerateError when Envoy could not build it. */
function envoyValue(key: string, value: string, forTCP: boolean): Predicate {
  switch (key) {
    case 'destination.port':
    case 'ports': {
      const port = toPort(value)
      return (req) => req.ports.includes(port)
    }
    case 'destination.ip': {
      const cidr = toCidr(value)
      return (req) => inRange(req.destinationIp, cidr)
    }
    case 'source.ip':
    case 'ipBlocks':
    case 'remote.ip':
    case 'remoteIpBlocks': {
      const cidr = toCidr(value)
      return (req) => inRange(req.sourceIp, cidr)
    }
    case 'source.namespace':
    case 'namespaces': {
      const regex = fullRegex(`.*/ns/${value.replaceAll('*', '.*')}/.*`)
      return (req) => spiffe(req) !== undefined && regex.test(spiffe(req)!)
    }
    case 'source.principal':
    case 'principals': {
      const m = envoyStringMatcher(value, 'spiffe://')
      return (req) => matchesEnvoy(m, spiffe(req))
    }
    case 'connection.sni':
      return () => false
    case 'hosts': {
      if (forTCP) throw HTTP_ONLY(key)
      const m = envoyHostMatcher(value)
      return (req) => matchesEnvoy(m, req.http?.host)
    }
    case 'methods': {
      if (forTCP) throw HTTP_ONLY(key)
      const m = envoyHeaderMatcher(value)
      return (req) => matchesEnvoy(m, req.http?.method)
    }
    case 'paths': {
      if (forTCP) throw HTTP_ONLY(key)
      if (containsPathTemplate(value))
        return (req) => req.http !== undefined && matchesPathTemplate(value, req.http.path)
      const m = envoyStringMatcher(value)
      return (req) => matchesEnvoy(m, req.http?.path.split('?')[0])
    }
  }
  if (key.startsWith('request.headers')) {
    if (forTCP) throw HTTP_ONLY(key)
    const name = /^request\.headers\[(.+)\]$/.exec(key)?.[1]
    if (!name) throw new GenerateError(`bad header key ${key}`)
    const m = envoyHeaderMatcher(value)
    return (req) => matchesEnvoy(m, headerValue(req, name))
  }
  if (key.startsWith('request.auth.') || key === 'requestPrincipals') {
    if (forTCP) throw HTTP_ONLY(key)
    // No JWT is ever presented in the simulated cluster.
    return () => false
  }
  // experimental.envoy.filters.*: Envoy metadata the simulator does not have.
  return () => false
}

/** The service-account regex of generator.go (namespace defaults to the policy's). */
function serviceAccountPredicate(value: string, policyNamespace = ''): Predicate {
  const [ns, sa] = value.includes('/')
    ? [value.slice(0, value.indexOf('/')), value.slice(value.indexOf('/') + 1)]
    : [policyNamespace, value]
  const regex = fullRegex(`spiffe://.+/ns/${ns}/(.+/|)sa/${sa}(/.+)?`)
  return (req) => spiffe(req) !== undefined && regex.test(spiffe(req)!)
}

const KNOWN_WHEN_KEYS = [
  'destination.ip',
  'destination.port',
  'connection.sni',
  'source.ip',
  'remote.ip',
  'source.namespace',
  'source.serviceAccount',
  'source.principal',
  'request.auth.principal',
  'request.auth.audiences',
  'request.auth.presenter',
]
const isKnownWhenKey = (key: string) =>
  KNOWN_WHEN_KEYS.includes(key) ||
  key.startsWith('experimental.envoy.filters.') ||
  key.startsWith('request.headers') ||
  key.startsWith('request.auth.claims')
/** Keys the model puts on the principal side; the rest are permissions. */
const PERMISSION_KEYS = new Set(['destination.ip', 'destination.port', 'connection.sni'])

interface Condition {
  key: string
  values?: string[]
  notValues?: string[]
}

/** One key with its values and notValues as an AND-able predicate; GenerateError handling per checkError. */
function envoyCondition(c: Condition, forTCP: boolean, deny: boolean, policyNamespace: string): Predicate[] {
  const build = (values: string[]) => {
    const out: Predicate[] = []
    for (const value of values) {
      try {
        out.push(
          c.key === 'serviceAccounts' || c.key === 'source.serviceAccount'
            ? serviceAccountPredicate(value, policyNamespace)
            : envoyValue(c.key, value, forTCP),
        )
      } catch (error) {
        // checkError: an ALLOW rule that cannot be generated is dropped whole; a DENY rule loses only this value.
        if (!(error instanceof GenerateError) || !deny) throw error
      }
    }
    return out
  }
  const result: Predicate[] = []
  const positive = build(c.values ?? [])
  if (positive.length) result.push((req) => positive.some((p) => p(req)))
  const negative = build(c.notValues ?? [])
  if (negative.length) result.push((req) => !negative.some((p) => p(req)))
  return result
}

const SOURCE_KEYS: [string, string][] = [
  ['ipBlocks', 'notIpBlocks'],
  ['remoteIpBlocks', 'notRemoteIpBlocks'],
  ['namespaces', 'notNamespaces'],
  ['serviceAccounts', 'notServiceAccounts'],
  ['requestPrincipals', 'notRequestPrincipals'],
  ['principals', 'notPrincipals'],
]
const OPERATION_KEYS: [string, string][] = [
  ['ports', 'notPorts'],
  ['paths', 'notPaths'],
  ['methods', 'notMethods'],
  ['hosts', 'notHosts'],
]

/** A rule as Envoy RBAC would hold it, or undefined when the rule is skipped (invalid, or not generatable). */
function envoyRule(rule: any, forTCP: boolean, deny: boolean, policyNamespace: string): Predicate | undefined {
  const when: Condition[] = rule?.when ?? []
  if (when.some((w) => !isKnownWhenKey(String(w?.key ?? '')))) return undefined // model.New: unknown attribute
  try {
    const of = (conditions: Condition[]) => conditions.flatMap((c) => envoyCondition(c, forTCP, deny, policyNamespace))
    const permissionKey = (key: string) => PERMISSION_KEYS.has(key) || key.startsWith('experimental.envoy.filters.')
    const basePermission = of(when.filter((w) => permissionKey(w.key)))
    const basePrincipal = of(when.filter((w) => !permissionKey(w.key)))
    const entry = (source: any, keys: [string, string][]) =>
      keys.map(([key, not]) => ({ key, values: source?.[key], notValues: source?.[not] }))
    const permissions = (rule?.to?.length ? rule.to : [undefined]).map((t: any) => [
      ...of(entry(t?.operation, OPERATION_KEYS)),
      ...basePermission,
    ])
    const principals = (rule?.from?.length ? rule.from : [undefined]).map((f: any) => [
      ...of(entry(f?.source, SOURCE_KEYS)),
      ...basePrincipal,
    ])
    const all = (ps: Predicate[]) => (req: AuthzRequest) => ps.every((p) => p(req))
    return (req) =>
      permissions.some((ps: Predicate[]) => all(ps)(req)) && principals.some((ps: Predicate[]) => all(ps)(req))
  } catch (error) {
    if (error instanceof GenerateError) return undefined
    throw error
  }
}

/** Whether any rule of the policy matches, as the Envoy of a waypoint or gateway evaluates it. */
export function envoyPolicyMatches(policy: KubeObject, req: AuthzRequest, forTCP: boolean): boolean {
  const deny = actionOf(policy) === 'DENY'
  const ns = policy.metadata.namespace ?? ''
  return (policy.spec?.rules ?? []).some((rule: any) => envoyRule(rule, forTCP, deny, ns)?.(req) ?? false)
}

/**
 * The principals an enforcer compares with. Envoy (a waypoint, a gateway) reads a principal whose trust domain is
 * "cluster.local" as the mesh's own trust domain (istio/istio 1.29.1 pilot/pkg/security/trustdomain/bundle.go
 * ReplaceTrustDomainAliases, "a pointer to the local trust domain"); ztunnel gets the strings as they are
 * (pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go stringToMatch), so a policy written with
 * cluster.local matches nobody in a mesh whose trust domain is another.
 */
function localPrincipals(policy: KubeObject, enforcer: Enforcer, trustDomain: string): KubeObject {
  if (enforcer === 'ztunnel' || trustDomain === 'cluster.local') return policy
  const local = (values: unknown) =>
    Array.isArray(values) ? values.map((v) => String(v).replace(/^cluster\.local\//, `${trustDomain}/`)) : values
  const copy = structuredClone(policy)
  for (const rule of copy.spec?.rules ?? []) {
    for (const from of rule.from ?? []) {
      if (from.source?.principals) from.source.principals = local(from.source.principals)
      if (from.source?.notPrincipals) from.source.notPrincipals = local(from.source.notPrincipals)
    }
    for (const when of rule.when ?? [])
      if (when.key === 'source.principal') {
        if (when.values) when.values = local(when.values)
        if (when.notValues) when.notValues = local(when.notValues)
      }
  }
  return copy
}

function envoyDecide(policies: KubeObject[], req: AuthzRequest): AuthzDecision {
  const forTCP = !req.http
  const enforced = policies.filter((p) => !isDryRun(p))
  for (const policy of enforced.filter((p) => actionOf(p) === 'DENY'))
    if (envoyPolicyMatches(policy, req, forTCP))
      return { allowed: false, reason: `denied by DENY policy ${policy.metadata.namespace}/${policy.metadata.name}` }
  const allows = enforced.filter((p) => actionOf(p) === 'ALLOW')
  if (allows.length === 0) return { allowed: true, reason: 'no ALLOW policy applies' }
  for (const policy of allows)
    if (envoyPolicyMatches(policy, req, forTCP))
      return { allowed: true, reason: `allowed by ${policy.metadata.namespace}/${policy.metadata.name}` }
  return {
    allowed: false,
    reason: `no rule of ALLOW policies ${allows.map((p) => p.metadata.name).join(', ')} matched`,
  }
}

// ---------------------------------------------------------------------------------------------------------------
// ztunnel: istiod's translation (ambient/authorization.go) and ztunnel's matching (src/rbac.rs, src/state.rs)

export type ZtunnelStringMatch = { type: 'exact' | 'prefix' | 'suffix'; value: string } | { type: 'presence' }

/** stringToMatch: `*` presence; a leading `*` suffix of the rest; else a trailing `*` prefix; else exact. */
export function ztunnelStringMatch(v: string): ZtunnelStringMatch {
  if (v === '*') return { type: 'presence' }
  if (v.startsWith('*')) return { type: 'suffix', value: v.slice(1) }
  if (v.endsWith('*')) return { type: 'prefix', value: v.slice(0, -1) }
  return { type: 'exact', value: v }
}

export function matchesZtunnel(m: ZtunnelStringMatch, check: string): boolean {
  if (m.type === 'presence') return check !== ''
  if (m.type === 'exact') return check === m.value
  if (m.type === 'prefix') return check.startsWith(m.value)
  return check.endsWith(m.value)
}

export interface ZtunnelMatch {
  namespaces: ZtunnelStringMatch[]
  notNamespaces: ZtunnelStringMatch[]
  serviceAccounts: { namespace: string; serviceAccount: string }[]
  notServiceAccounts: { namespace: string; serviceAccount: string }[]
  principals: ZtunnelStringMatch[]
  notPrincipals: ZtunnelStringMatch[]
  sourceIps: string[]
  notSourceIps: string[]
  destinationIps: string[]
  notDestinationIps: string[]
  destinationPorts: number[]
  notDestinationPorts: number[]
}

export interface ZtunnelAuthorization {
  name: string
  namespace: string
  scope: 'WorkloadSelector' | 'Namespace' | 'Global'
  action: 'ALLOW' | 'DENY'
  /** rules → clauses → matches (any rule; every clause; any match of a clause). */
  rules: ZtunnelMatch[][][]
  dryRun: boolean
}

export interface StatusMessage {
  reason: string
  message: string
}

export const emptyMatch = (): ZtunnelMatch => ({
  namespaces: [],
  notNamespaces: [],
  serviceAccounts: [],
  notServiceAccounts: [],
  principals: [],
  notPrincipals: [],
  sourceIps: [],
  notSourceIps: [],
  destinationIps: [],
  notDestinationIps: [],
  destinationPorts: [],
  notDestinationPorts: [],
})
export const isEmptyMatch = (m: ZtunnelMatch) => Object.values(m).every((list) => list.length === 0)

const stringsToMatch = (values: string[] | undefined) => (values ?? []).map(String).map(ztunnelStringMatch)
/** stringToPort: numbers up to 65535; anything else is left out. */
const stringsToPorts = (values: string[] | undefined) =>
  (values ?? []).filter((v) => /^\d+$/.test(String(v)) && Number(v) <= 65535).map(Number)
/** stringToIP: an address or a CIDR; empty or unparsable entries are left out. */
const stringsToIps = (values: string[] | undefined) =>
  (values ?? []).flatMap((v) => {
    try {
      return v ? [toCidr(String(v))] : []
    } catch {
      return []
    }
  })
const stringsToServiceAccounts = (values: string[] | undefined, ruleNamespace: string) =>
  (values ?? []).map((v) =>
    String(v).includes('/')
      ? {
          namespace: String(v).slice(0, String(v).indexOf('/')),
          serviceAccount: String(v).slice(String(v).indexOf('/') + 1),
        }
      : { namespace: ruleNamespace, serviceAccount: String(v) },
  )

const HTTP_OPERATIONS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths']
const HTTP_SOURCES = ['remoteIpBlocks', 'notRemoteIpBlocks', 'requestPrincipals', 'notRequestPrincipals']
// istiod hands ztunnel only these condition keys; any other is an HTTP attribute.
export const L4_WHEN_KEYS = new Set([
  'source.ip',
  'source.namespace',
  'source.principal',
  'destination.ip',
  'destination.port',
])

/** Names the HTTP-only attributes a rule uses (ztunnel cannot evaluate them), as istiod's status lists them. */
export function httpAttributesOf(rule: any): string[] {
  const found = new Set<string>()
  for (const t of rule?.to ?? []) for (const k of HTTP_OPERATIONS) if (t?.operation?.[k]?.length) found.add(k)
  for (const f of rule?.from ?? []) for (const k of HTTP_SOURCES) if (f?.source?.[k]?.length) found.add(k)
  for (const w of rule?.when ?? []) if (!L4_WHEN_KEYS.has(String(w?.key ?? ''))) found.add(String(w.key))
  return [...found]
}

/** handleRule: the rule's clauses for ztunnel, or undefined when an ALLOW rule uses HTTP attributes. */
function ztunnelRule(action: 'ALLOW' | 'DENY', rule: any, ruleNamespace: string): ZtunnelMatch[][] | undefined {
  const clauses: ZtunnelMatch[][] = []
  const to: any[] = rule?.to ?? []
  const from: any[] = rule?.from ?? []
  if (to.length)
    clauses.push(
      to.map((t) => ({
        ...emptyMatch(),
        destinationPorts: stringsToPorts(t?.operation?.ports),
        notDestinationPorts: stringsToPorts(t?.operation?.notPorts),
      })),
    )
  if (from.length)
    clauses.push(
      from.map((f) => {
        const s = f?.source ?? {}
        return {
          ...emptyMatch(),
          sourceIps: stringsToIps(s.ipBlocks),
          notSourceIps: stringsToIps(s.notIpBlocks),
          namespaces: stringsToMatch(s.namespaces),
          notNamespaces: stringsToMatch(s.notNamespaces),
          serviceAccounts: stringsToServiceAccounts(s.serviceAccounts, ruleNamespace),
          notServiceAccounts: stringsToServiceAccounts(s.notServiceAccounts, ruleNamespace),
          principals: stringsToMatch(s.principals),
          notPrincipals: stringsToMatch(s.notPrincipals),
        }
      }),
    )
  for (const w of rule?.when ?? []) {
    const key = String(w?.key ?? '')
    const m = emptyMatch()
    if (key === 'source.namespace')
      [m.namespaces, m.notNamespaces] = [stringsToMatch(w.values), stringsToMatch(w.notValues)]
    if (key === 'source.principal')
      [m.principals, m.notPrincipals] = [stringsToMatch(w.values), stringsToMatch(w.notValues)]
    if (key === 'source.ip') [m.sourceIps, m.notSourceIps] = [stringsToIps(w.values), stringsToIps(w.notValues)]
    if (key === 'destination.ip')
      [m.destinationIps, m.notDestinationIps] = [stringsToIps(w.values), stringsToIps(w.notValues)]
    if (key === 'destination.port')
      [m.destinationPorts, m.notDestinationPorts] = [stringsToPorts(w.values), stringsToPorts(w.notValues)]
    clauses.push([m])
  }
  if (action === 'ALLOW' && httpAttributesOf(rule).length) return undefined
  return clauses
}

const HTTP_RULES_DROPPED = {
  ALLOW:
    'Within an ALLOW policy, rules matching HTTP attributes are omitted. This will be more restrictive than requested.',
  DENY: 'DENY policy with HTTP attributes is enforced without the HTTP rules. This will be more restrictive than requested.',
}

/**
 * convertAuthorizationPolicy: what istiod sends ztunnel for a policy (nothing for targetRefs policies, dry-run
 * policies or actions ztunnel cannot run) and the status message it reports.
 */
export function ztunnelAuthorization(
  policy: KubeObject,
  rootNamespace = ROOT_NAMESPACE,
): { authorization?: ZtunnelAuthorization; status?: StatusMessage } {
  const { name, namespace = '' } = policy.metadata
  const dryRun = isDryRun(policy)
  if (dryRun)
    return {
      status: {
        reason: 'UnsupportedValue',
        message: `found policy "${namespace}/${name}" using dry-run annotation, but support for ambient dry-run authorizationPolicies isn't enabled`,
      },
    }
  if (targetRefsOf(policy).length) return {}
  const action = actionOf(policy)
  if (action !== 'ALLOW' && action !== 'DENY')
    return { status: { reason: 'UnsupportedValue', message: `ztunnel does not support the ${action} action` } }
  const scope = policy.spec?.selector ? 'WorkloadSelector' : namespace === rootNamespace ? 'Global' : 'Namespace'
  const rules: ZtunnelMatch[][][] = []
  const http = new Set<string>()
  for (const rule of policy.spec?.rules ?? []) {
    const clauses = ztunnelRule(action, rule, namespace)
    if (clauses) rules.push(clauses)
    for (const attribute of httpAttributesOf(rule)) http.add(attribute)
  }
  const authorization: ZtunnelAuthorization = { name, namespace, scope, action, rules, dryRun }
  if (http.size === 0) return { authorization }
  return {
    authorization,
    status: {
      reason: 'UnsupportedValue',
      message: `ztunnel does not support HTTP attributes (found: ${[...http].sort().join(', ')}). In ambient mode you must use a waypoint proxy to enforce HTTP rules. ${HTTP_RULES_DROPPED[action]}`,
    },
  }
}

export interface ZtunnelConnection {
  sourceIp: string
  destinationIp: string
  destinationPort: number
  /** `<trust domain>/ns/<ns>/sa/<sa>`; absent for plaintext. */
  principal?: string
}

const listMatches = <T>(positive: T[], negative: T[], predicate: (t: T) => boolean) =>
  (positive.length === 0 || positive.some(predicate)) && (negative.length === 0 || !negative.some(predicate))

/** Authorization::matches (ztunnel src/rbac.rs). */
export function ztunnelMatches(authz: ZtunnelAuthorization, conn: ZtunnelConnection): boolean {
  const identity = identityOf(conn.principal)
  const id = conn.principal ?? ''
  const ns = identity?.namespace ?? ''
  if (authz.rules.length === 0) return false
  return authz.rules.some((rule) =>
    rule.every((clause) => {
      if (clause.length === 0) return true
      // An empty match in a clause is skipped: a clause with only empty matches never matches.
      return clause.some(
        (m) =>
          !isEmptyMatch(m) &&
          listMatches(m.destinationIps, m.notDestinationIps, (c) => inRange(conn.destinationIp, c)) &&
          listMatches(m.sourceIps, m.notSourceIps, (c) => inRange(conn.sourceIp, c)) &&
          listMatches(m.destinationPorts, m.notDestinationPorts, (p) => p === conn.destinationPort) &&
          listMatches(
            m.serviceAccounts,
            m.notServiceAccounts,
            (sa) =>
              identity !== undefined &&
              sa.namespace === identity.namespace &&
              sa.serviceAccount === identity.serviceAccount,
          ) &&
          // Principals are matched after `spiffe://` is stripped; a connection without an identity has none to strip.
          listMatches(m.principals, m.notPrincipals, (p) => identity !== undefined && matchesZtunnel(p, id)) &&
          listMatches(m.namespaces, m.notNamespaces, (p) => matchesZtunnel(p, ns)),
      )
    }),
  )
}

/** assert_rbac (ztunnel src/state.rs): dry-run policies only log; DENY first; no ALLOW allows; a matching ALLOW allows. */
export function ztunnelDecide(policies: ZtunnelAuthorization[], conn: ZtunnelConnection): AuthzDecision {
  const enforced = policies.filter((p) => !p.dryRun)
  for (const p of enforced.filter((p) => p.action === 'DENY'))
    if (ztunnelMatches(p, conn)) return { allowed: false, reason: `denied by DENY policy ${p.namespace}/${p.name}` }
  const allows = enforced.filter((p) => p.action === 'ALLOW')
  if (allows.length === 0) return { allowed: true, reason: 'no ALLOW policy applies' }
  const match = allows.find((p) => ztunnelMatches(p, conn))
  if (match) return { allowed: true, reason: `allowed by ${match.namespace}/${match.name}` }
  return { allowed: false, reason: `no rule of ALLOW policies ${allows.map((p) => p.name).join(', ')} matched` }
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Whether ztunnel applies a policy to a destination workload: namespace-wide ones of its namespace, global ones (the
 * root namespace, no selector), and selector ones from its namespace or the root namespace that select it (istio/istio
 * 1.29.1 ambient/workloads.go buildWorkloadPolicies; ztunnel src/state.rs assert_rbac). targetRefs ones are not
 * ztunnel's.
 */
export function ztunnelPolicyApplies(
  policy: KubeObject,
  dest: { namespace: string; labels: Record<string, string> },
  rootNamespace = ROOT_NAMESPACE,
): boolean {
  const ns = policy.metadata.namespace
  if ((ns !== dest.namespace && ns !== rootNamespace) || targetRefsOf(policy).length) return false
  return policy.spec?.selector ? selects(policy.spec.selector, dest.labels) : true
}

/** The decision of one enforcement point for the policies that apply there. */
export function authorize(
  policies: KubeObject[],
  req: AuthzRequest,
  enforcer: Enforcer,
  rootNamespace = ROOT_NAMESPACE,
): AuthzDecision {
  if (enforcer !== 'ztunnel')
    return envoyDecide(
      policies.map((p) => localPrincipals(p, enforcer, req.trustDomain ?? 'cluster.local')),
      req,
    )
  const translated = policies
    .map((p) => ztunnelAuthorization(p, rootNamespace).authorization)
    .filter((a): a is ZtunnelAuthorization => Boolean(a))
  return ztunnelDecide(translated, {
    sourceIp: req.sourceIp,
    destinationIp: req.destinationIp ?? '',
    destinationPort: req.ports[0] ?? 0,
    principal: req.principal,
  })
}

/** Whether a policy names a target (`targetRefs` or the older single `targetRef`). */
export function targetRefsOf(policy: KubeObject): { group?: string; kind: string; name: string; namespace?: string }[] {
  const refs = [...(policy.spec?.targetRefs ?? [])]
  if (policy.spec?.targetRef) refs.push(policy.spec.targetRef)
  return refs
}
