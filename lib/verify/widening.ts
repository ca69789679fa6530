// Foreign objects that widen what the runbook closed: AuthorizationPolicies it did not write that apply to a
// protected pod, the manager Service (through the waypoint) or the ingress gateway and admit someone the plan does
// not, the DENY, CUSTOM, AUDIT and dry-run policies beside them (named: they change what the runbook's policies do),
// and PeerAuthentications that let plaintext reach a protected pod. The Istio semantics are in
// lib/domain/authorization.ts; the steps say what they protect and whom they admit.
import {
  type Admitted,
  actionOf,
  admitsBeyond,
  appliesTo,
  effectiveMtls,
  isDryRun,
  type PolicyTarget,
  ROOT_NAMESPACE,
} from '../domain/authorization.ts'
import { text } from '../config/text.ts'
import { POLICY_RESOURCE } from '../domain/istio.ts'
import type { Config } from '../config/options.ts'
import { kubectlAccess } from '../kube/access.ts'
import type { ApiAccess, Check, KubeObject, Layer, StepContext, TargetId } from '../types.ts'

const PEER_AUTHENTICATION_RESOURCE = 'peerauthentications.security.istio.io'

/** One thing a step protects with an AuthorizationPolicy, and whom its plan admits there. */
export interface Protected {
  /** "MongoDB's pods", "the manager Service (through the waypoint)". */
  title: string
  target: PolicyTarget
  admitted: Admitted
  /** The runbook's own policies for it (names in the namespace): compared whole elsewhere, not foreign. */
  own: string[]
  /** The layer and threat-model target whose protection a widening takes away. */
  layer: Layer
  threat: TargetId
}

const ref = (p: KubeObject) => `${p.metadata.namespace}/${p.metadata.name}`

/** What policiesAround asks: the kind's list in the namespace and in the mesh's root namespace. */
function aroundAccess(config: Config, resource: string, why: string): ApiAccess[] {
  return [...new Set([config.namespace, ROOT_NAMESPACE])].flatMap((namespace) =>
    kubectlAccess.list(resource, { namespace }, why),
  )
}

/** What foreignPolicyChecks asks: the AuthorizationPolicies around. */
export const foreignPolicyAccess = (config: Config, why: string) => aroundAccess(config, POLICY_RESOURCE, why)
/** What plaintextChecks asks: the PeerAuthentications around. */
export const plaintextAccess = (config: Config, why: string) => aroundAccess(config, PEER_AUTHENTICATION_RESOURCE, why)

/** Reads the policies of the namespace and of the mesh's root namespace (once per audit, whichever step asks first). */
function policiesAround(ctx: StepContext, resource: string): Promise<KubeObject[]> {
  const read = async () => {
    const namespaces = [...new Set([ctx.config.namespace, ROOT_NAMESPACE])]
    return (await Promise.all(namespaces.map((namespace) => ctx.cluster.list(resource, { namespace })))).flat()
  }
  if (!ctx.reads) return read()
  const key = `${resource} in ${ctx.config.namespace} and ${ROOT_NAMESPACE}`
  if (!ctx.reads.has(key)) ctx.reads.set(key, read())
  return ctx.reads.get(key) as Promise<KubeObject[]>
}

/** Why a policy that does not widen is still worth naming: what it does to the runbook's policies. */
function otherEffect(p: KubeObject, enforcer: PolicyTarget['enforcer']): string | undefined {
  const action = actionOf(p)
  if (isDryRun(p)) return `${action} ${ref(p)} in dry run (istio.io/dry-run): logged, not enforced`
  if (enforcer === 'ztunnel' && (action === 'CUSTOM' || action === 'AUDIT'))
    return `${action} ${ref(p)}: ztunnel does not run ${action} policies (a waypoint would)`
  if (action === 'DENY') return `DENY ${ref(p)}: refuses what its rules match, before any ALLOW`
  if (action === 'CUSTOM')
    return `CUSTOM ${ref(p)}: an external authorizer (${p.spec?.provider?.name ?? 'no provider named'}) decides first`
  if (action === 'AUDIT') return `AUDIT ${ref(p)}: logs what its rules match`
  return undefined
}

/**
 * Per protected target: a check that no foreign ALLOW policy admits more than the plan (failing, naming each and
 * whom it admits), and a warning naming the DENY, CUSTOM, AUDIT and dry-run policies that also apply there.
 */
export async function foreignPolicyChecks(ctx: StepContext, targets: Protected[]): Promise<Check[]> {
  if (!targets.length) return []
  const policies = await policiesAround(ctx, POLICY_RESOURCE)
  return targets.flatMap((t): Check[] => {
    const foreign = policies.filter(
      (p) =>
        !(p.metadata.namespace === ctx.config.namespace && t.own.includes(p.metadata.name)) && appliesTo(p, t.target),
    )
    const widening = foreign
      .map((p) => ({ p, beyond: admitsBeyond(p, t.target.enforcer, t.admitted) }))
      .filter((w) => w.beyond.length)
    const plan =
      'principals' in t.admitted
        ? `only ${t.admitted.principals.join(', ')}`
        : `only User-Agents ${t.admitted.userAgents.join(' | ')}`
    const checks: Check[] = [
      {
        name: text.checks.noWiderAllow(t.title),
        expected: `${plan} (the runbook's policy)`,
        observed: widening.length
          ? widening.map((w) => `ALLOW ${ref(w.p)} admits ${w.beyond.join('; ')}`).join('; ')
          : 'none does',
        ok: widening.length === 0,
        hint: `ALLOW policies add up: a request any of them admits passes. Remove or narrow ${widening.map((w) => ref(w.p)).join(', ') || 'it'} (kubectl get authorizationpolicies -A -o yaml), or, if it is meant, know that the audit will name it every time`,
        voids: [{ layer: t.layer, target: t.threat }],
      },
    ]
    const named = foreign.map((p) => otherEffect(p, t.target.enforcer)).filter((e): e is string => !!e)
    if (named.length)
      checks.push({
        name: text.checks.otherPoliciesApply(t.title),
        expected: "none but the runbook's",
        observed: named.join('; '),
        ok: false,
        advisory: true,
        hint: 'these do not admit anyone the plan refuses, but they change what reaches the workload: check they are meant',
      })
    return checks
  })
}

/** One protected workload for the PeerAuthentication check. */
export interface PlaintextTarget {
  title: string
  podLabels: Record<string, string>
  /** Whether an identity policy the runbook vouches for refuses plaintext there (no identity matches no principal). */
  identityPolicy: boolean
  threat: TargetId
}

/**
 * PeerAuthentications that let plaintext reach a protected workload where a broader STRICT would refuse it. In ambient
 * only STRICT changes anything (istiod sends ztunnel a policy refusing callers without an identity); PERMISSIVE and
 * DISABLE both mean plaintext is let in. That matters where no identity policy refuses plaintext: then it fails;
 * where one does, it is named.
 */
export async function plaintextChecks(ctx: StepContext, targets: PlaintextTarget[]): Promise<Check[]> {
  const all = await policiesAround(ctx, PEER_AUTHENTICATION_RESOURCE)
  return targets.flatMap((t): Check[] => {
    const effective = effectiveMtls(all, ctx.config.namespace, t.podLabels)
    if (!effective.overrides) return []
    const { strict, by } = effective.overrides
    const where = effective.exemptPorts.length ? ` on port(s) ${effective.exemptPorts.join(', ')}` : ''
    return [
      {
        name: text.checks.noPlaintext(t.title),
        expected: `STRICT, as ${ref(strict)} sets it`,
        observed: `PeerAuthentication ${ref(by)} lets plaintext in${where} (${by.spec?.mtls?.mode ?? 'UNSET'}${where ? ' for those ports' : ''})${t.identityPolicy ? "; the runbook's identity policy still refuses it (plaintext carries no identity)" : ''}`,
        ok: false,
        advisory: t.identityPolicy,
        hint: t.identityPolicy
          ? `harmless while the identity policy holds; remove ${ref(by)} unless something outside the mesh must reach ${t.title}`
          : `nothing else refuses plaintext to ${t.title} here (no identity policy is in effect): remove ${ref(by)} or run identity-policies`,
        voids: t.identityPolicy ? [] : [{ layer: 'ztunnel identity policy', target: t.threat }],
      },
    ]
  })
}
