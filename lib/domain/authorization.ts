// Istio's AuthorizationPolicy and PeerAuthentication as the three enforcers in ambient mode read them, for the audit:
// which policies apply to a protected pod, Service or gateway, and whether an ALLOW policy admits anyone the plan
// does not. Written from istio/istio and istio/ztunnel at 1.29.1:
// - Which policies an Envoy proxy (waypoint, ingress gateway) applies: pilot/pkg/model/authorization.go
//   (ListAuthorizationPolicies looks in the root namespace and the workload's) and pilot/pkg/model/policyattachment.go
//   (ShouldAttachPolicy: a waypoint takes only targetRefs — a Service in its namespace, its own Gateway, or from the
//   root namespace the GatewayClass istio-waypoint; a gateway takes targetRefs to its Gateway, or with none a policy
//   whose selector is absent or a subset of its pod's labels, ENABLE_SELECTOR_BASED_K8S_GATEWAY_POLICY being on by default).
// - Which policies ztunnel applies: pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go
//   (convertAuthorizationPolicy: targetRefs are not for ztunnel; no selector means the namespace, or every workload
//   in the root namespace; CUSTOM and AUDIT are not supported; a dry-run policy is not enforced) and workloads.go
//   (buildWorkloadPolicies: a selector policy from the workload's namespace or the root namespace whose labels are a
//   subset of the pod's).
// - What a rule matches: pilot/pkg/security/authz/model/model.go for Envoy (the from entries are ORed, each ANDed
//   with every `when`; an empty source matches anyone); for ztunnel authorization.go handleRule (an ALLOW rule with an
//   HTTP attribute is dropped) and ztunnel src/rbac.rs (a policy without rules matches nothing, a rule without
//   clauses matches everything, an empty source matches nothing, a principal needs an identity — plaintext has none —
//   so notPrincipals alone admits plaintext).
// - Strings: exact, `prefix*`, `*suffix`, or `*` for any non-empty value (authorization.go stringToMatch).
import type { KubeObject } from '../types.ts'

export type Enforcer = 'ztunnel' | 'waypoint' | 'gateway'
export type Action = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM'

export const ROOT_NAMESPACE = 'istio-system'
export const DRY_RUN_ANNOTATION = 'istio.io/dry-run'
const WAYPOINT_CLASS = 'istio-waypoint'
const GATEWAY_GROUP = 'gateway.networking.k8s.io'

/** Where a protected thing sits, as an enforcer tells which policies apply to it. */
export type PolicyTarget =
  /** Pods ztunnel guards (any one of these label sets is a pod of the target). */
  | { enforcer: 'ztunnel'; namespace: string; podLabels: Record<string, string>[] }
  /** A Service behind a waypoint. */
  | { enforcer: 'waypoint'; namespace: string; service: string; waypoint: string }
  /** An ingress gateway's pods. */
  | { enforcer: 'gateway'; namespace: string; gateway: string; podLabels: Record<string, string>[] }

export const actionOf = (p: KubeObject): Action => (p.spec?.action ?? 'ALLOW') as Action

/** Go's strconv.ParseBool, which istiod uses to read the annotation. */
export const isDryRun = (p: KubeObject) =>
  ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(String(p.metadata.annotations?.[DRY_RUN_ANNOTATION] ?? ''))

const targetRefsOf = (p: KubeObject): { group?: string; kind?: string; name?: string; namespace?: string }[] =>
  p.spec?.targetRefs?.length ? p.spec.targetRefs : p.spec?.targetRef ? [p.spec.targetRef] : []
const matchLabelsOf = (p: KubeObject): Record<string, string> | undefined => p.spec?.selector?.matchLabels ?? undefined
const subsetOf = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v)

/** Whether this enforcer applies the policy to the target. */
export function appliesTo(p: KubeObject, target: PolicyTarget): boolean {
  const ns = p.metadata.namespace
  const root = ns === ROOT_NAMESPACE
  if (ns !== target.namespace && !root) return false
  const refs = targetRefsOf(p)
  switch (target.enforcer) {
    case 'ztunnel': {
      if (refs.length) return false
      // No selector: the namespace's workloads (every workload from the root namespace).
      if (!p.spec?.selector) return true
      return target.podLabels.some((labels) => subsetOf(matchLabelsOf(p) ?? {}, labels))
    }
    case 'waypoint':
      return refs.some(
        (r) =>
          (!r.group && r.kind === 'Service' && r.name === target.service && ns === target.namespace) ||
          (root && r.group === GATEWAY_GROUP && r.kind === 'GatewayClass' && r.name === WAYPOINT_CLASS) ||
          (ns === target.namespace &&
            (r.namespace ?? ns) === ns &&
            r.group === GATEWAY_GROUP &&
            r.kind === 'Gateway' &&
            r.name === target.waypoint),
      )
    case 'gateway':
      if (refs.length)
        return refs.some(
          (r) =>
            ns === target.namespace &&
            (r.namespace ?? ns) === ns &&
            r.group === GATEWAY_GROUP &&
            r.kind === 'Gateway' &&
            r.name === target.gateway,
        )
      return !p.spec?.selector || target.podLabels.some((labels) => subsetOf(matchLabelsOf(p) ?? {}, labels))
  }
}

/** Istio string matching: exact, `prefix*`, `*suffix`, `*` (any non-empty value); a `*` elsewhere is literal. */
export function istioMatches(pattern: string, value: string): boolean {
  if (pattern === '*') return value !== ''
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1))
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1))
  return pattern === value
}

/** Whether every value `pattern` matches is matched by one of `allowed` (so admitting it admits nothing new). */
export function coveredBy(pattern: string, allowed: string[]): boolean {
  return allowed.some((a) => {
    if (a === '*') return true
    if (pattern === '*') return false
    if (pattern.endsWith('*')) return a.endsWith('*') && pattern.slice(0, -1).startsWith(a.slice(0, -1))
    if (pattern.startsWith('*')) return a.startsWith('*') && pattern.slice(1).endsWith(a.slice(1))
    return istioMatches(a, pattern)
  })
}

const HTTP_OPERATION = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths']
const HTTP_SOURCE = ['remoteIpBlocks', 'notRemoteIpBlocks', 'requestPrincipals', 'notRequestPrincipals']
const L4_CONDITIONS = ['source.ip', 'source.namespace', 'source.principal', 'destination.ip', 'destination.port']
const present = (v: unknown) => Array.isArray(v) && v.length > 0

/** Whether istiod drops this ALLOW rule for ztunnel: it uses an HTTP attribute (authorization.go handleRule). */
function droppedAtZtunnel(rule: any): boolean {
  return (
    (rule.to ?? []).some((t: any) => HTTP_OPERATION.some((k) => present(t?.operation?.[k]))) ||
    (rule.from ?? []).some((f: any) => HTTP_SOURCE.some((k) => present(f?.source?.[k]))) ||
    (rule.when ?? []).some((w: any) => !L4_CONDITIONS.includes(String(w?.key)))
  )
}

/** What may pass: the identities (principal patterns) for pods and Services, the User-Agents at a gateway. */
export type Admitted = { principals: string[] } | { userAgents: string[] }

/** `ns/sa` or `sa` (in the policy's namespace), as a principal pattern with any trust domain. */
const serviceAccountPrincipal = (entry: string, policyNamespace: string) => {
  const [ns, sa] = entry.includes('/') ? entry.split('/', 2) : [policyNamespace, entry]
  return `*/ns/${ns}/sa/${sa}`
}

/** Whether a serviceAccounts entry names only identities the plan admits (any trust domain). */
const serviceAccountCovered = (pattern: string, allowed: string[]) =>
  allowed.some((a) => !a.includes('*') && a.endsWith(pattern.slice(1)))

/** The identities one source entry admits, or why it admits more than `allowed` (undefined: nothing beyond). */
function sourceBeyond(source: any, allowed: string[], policyNamespace: string): string | undefined {
  const principals: string[] = source?.principals ?? []
  const serviceAccounts: string[] = source?.serviceAccounts ?? []
  if (principals.length) {
    const beyond = principals.filter((p) => !coveredBy(String(p), allowed))
    return beyond.length ? `principals ${beyond.join(', ')}` : undefined
  }
  if (serviceAccounts.length) {
    const beyond = serviceAccounts
      .map((s) => serviceAccountPrincipal(String(s), policyNamespace))
      .filter((p) => !serviceAccountCovered(p, allowed))
    return beyond.length ? `ServiceAccounts ${beyond.map((p) => p.slice(2)).join(', ')}` : undefined
  }
  if (present(source?.namespaces)) return `any identity in namespace(s) ${source.namespaces.join(', ')}`
  const from = present(source?.ipBlocks) ? ` from ${source.ipBlocks.join(', ')}` : ''
  if (present(source?.notPrincipals))
    return `every caller${from} but ${source.notPrincipals.join(', ')} (plaintext included)`
  return `every caller${from}`
}

/** A `when` that pins the caller's identity (source.principal) within the plan: then no from entry matters. */
const whenBounds = (rule: any, key: string, allowed: string[]) =>
  (rule.when ?? []).some(
    (w: any) =>
      String(w?.key).toLowerCase() === key.toLowerCase() &&
      present(w.values) &&
      w.values.every((v: string) => coveredBy(String(v), allowed)),
  )

const USER_AGENT_KEY = 'request.headers[User-Agent]'

/**
 * What an ALLOW policy admits at this enforcer beyond `plan`, one phrase per rule that does (empty: nothing more).
 * A rule is within the plan only when it provably restricts who passes to what the plan admits: principals (or
 * ServiceAccounts) all covered, or a `when` on source.principal all covered; at a gateway, a `when` on the
 * User-Agent header with values all covered. Ports, paths and IP blocks narrow a rule but do not bound who it admits.
 */
export function admitsBeyond(p: KubeObject, enforcer: Enforcer, plan: Admitted): string[] {
  if (actionOf(p) !== 'ALLOW' || isDryRun(p)) return []
  const ns = p.metadata.namespace ?? ''
  const found: string[] = []
  ;(p.spec?.rules ?? []).forEach((rule: any, i: number) => {
    rule = rule ?? {}
    if (enforcer === 'ztunnel' && droppedAtZtunnel(rule)) return
    const label = `rule ${i + 1}`
    if ('userAgents' in plan) {
      if (!whenBounds(rule, USER_AGENT_KEY, plan.userAgents)) found.push(`${label}: requests with any User-Agent`)
      return
    }
    if (whenBounds(rule, 'source.principal', plan.principals)) return
    const from: any[] = rule.from ?? []
    if (from.length === 0) {
      found.push(`${label}: every caller${enforcer === 'ztunnel' ? ' (plaintext included)' : ''}`)
      return
    }
    const beyond = from
      .filter((f) => !(enforcer === 'ztunnel' && isEmptySource(f?.source)))
      .map((f) => sourceBeyond(f?.source, plan.principals, ns))
      .filter((b): b is string => !!b)
    if (beyond.length) found.push(`${label}: ${[...new Set(beyond)].join('; ')}`)
  })
  return found
}

/** ztunnel skips an empty match (rbac.rs), so a source without fields admits no one there. */
const isEmptySource = (source: any) => !source || Object.values(source).every((v) => !present(v))

// ---- PeerAuthentication: in ambient only STRICT changes anything ----

export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT'
const modeOf = (pa: KubeObject | undefined): MtlsMode => (pa?.spec?.mtls?.mode ?? 'UNSET') as MtlsMode
const oldest = (list: KubeObject[]) =>
  [...list].sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)))[0]
const hasSelector = (pa: KubeObject) => Object.keys(pa.spec?.selector?.matchLabels ?? {}).length > 0

export interface EffectiveMtls {
  /** Plaintext is refused on every port (istiod sends ztunnel its static STRICT policy). */
  strict: boolean
  /** The ports a STRICT workload policy exempts (PERMISSIVE or DISABLE there). */
  exemptPorts: string[]
  /** The policy that decided it last (workload over namespace over mesh), if any. */
  decidedBy?: KubeObject
  /** A broader STRICT that a narrower policy turned off: plaintext now reaches the workload. */
  overrides?: { strict: KubeObject; by: KubeObject }
}

/**
 * The mTLS mode ztunnel enforces for a workload, as istiod works it out (ambient/authorization.go
 * convertedSelectorPeerAuthentications; workloads.go fetchPeerAuthentications): the oldest mesh-wide policy (root
 * namespace, no selector), overridden by the oldest namespace-wide one unless UNSET, overridden by the oldest
 * selecting workload policy; PERMISSIVE and DISABLE both leave plaintext in; port-level modes make exceptions.
 */
export function effectiveMtls(all: KubeObject[], namespace: string, labels: Record<string, string>): EffectiveMtls {
  const mesh = oldest(all.filter((pa) => pa.metadata.namespace === ROOT_NAMESPACE && !hasSelector(pa)))
  const nsWide = oldest(all.filter((pa) => pa.metadata.namespace === namespace && !hasSelector(pa)))
  const workload = oldest(
    all.filter(
      (pa) =>
        pa.metadata.namespace === namespace &&
        namespace !== ROOT_NAMESPACE &&
        hasSelector(pa) &&
        subsetOf(pa.spec.selector.matchLabels, labels),
    ),
  )
  let strict = modeOf(mesh) === 'STRICT'
  let decidedBy = mesh
  let strictBy = strict ? mesh : undefined
  let overrides: EffectiveMtls['overrides']
  const apply = (pa: KubeObject | undefined) => {
    const mode = modeOf(pa)
    if (!pa || mode === 'UNSET') return
    if (mode === 'STRICT') {
      strict = true
      strictBy = pa
    } else {
      if (strict && strictBy) overrides = { strict: strictBy, by: pa }
      strict = false
    }
    decidedBy = pa
  }
  apply(nsWide)
  apply(workload)
  const ports: Record<string, { mode?: MtlsMode }> = workload?.spec?.portLevelMtls ?? {}
  const exemptPorts = strict
    ? Object.entries(ports)
        .filter(([, v]) => v?.mode === 'PERMISSIVE' || v?.mode === 'DISABLE')
        .map(([port]) => port)
    : []
  if (exemptPorts.length && strictBy && workload) overrides = { strict: strictBy, by: workload }
  return { strict, exemptPorts, decidedBy, ...(overrides ? { overrides } : {}) }
}
