// Who may wear Gthulhu's identities: a ValidatingAdmissionPolicy that, in Gthulhu's namespace, lets only the chart's
// and istiod's own workloads run pods with the manager's, the scheduler's, MongoDB's, the waypoint's or the gateway's
// ServiceAccount or labels, and lets no other Service select those pods. istiod certifies whatever ServiceAccount a
// pod names, and NetworkPolicies trust labels: without this, anyone who may create a pod there can be the manager.
// Proven by an insider's attempts (a Pod, a Deployment, a CronJob naming the manager's ServiceAccount; copied labels;
// a Service selecting the manager's pods) made as another user and refused, while the workloads' own controllers are
// still admitted.
import type { Config } from '../lib/config/options.ts'
import { StepFailure } from '../lib/config/errors.ts'
import { text } from '../lib/config/text.ts'
import {
  admissionBinding,
  admissionPolicy,
  BINDING_RESOURCE,
  decisionMakerGuard,
  guardName,
  INSIDER_RULES,
  INSIDER_USER,
  insiderOtherNamespace,
  insiderRbac,
  insiderResourceOf,
  insiderRoleName,
  POLICY_RESOURCE,
  policyName,
  protectedIdentities,
  ROLE_BINDING_RESOURCE,
  ROLE_RESOURCE,
  UNKNOWN_RUNBOOK_USER,
} from '../lib/domain/admission.ts'
import { containsFields } from '../lib/domain/apply.ts'
import { compareWithPlan, comparisonAccess, comparisonCheck } from '../lib/domain/drift.ts'
import { findNamed, getNamed } from '../lib/domain/gateway-api.ts'
import { access, kubectlAccess } from '../lib/kube/access.ts'
import { assertValidManifests } from '../lib/kube/schema.ts'
import type { ApiAccess, Check, Facts, KubeObject, PlanItem, Step, StepContext, StepIO, Voided } from '../lib/types.ts'
import { controllerChecksAccess, controllerPodChecks } from '../lib/verify/admission-attempts.ts'
import { pathsAccess, tryPaths } from '../lib/verify/paths.ts'
import { pathsTriedAt } from '../lib/verify/threat-model.ts'

const runbookUserOf = (facts: Facts) => facts.admission?.runbookUser ?? UNKNOWN_RUNBOOK_USER
/** The namespace's policy and binding, and (with --decision-maker-guard) the cluster-wide guard and its binding. */
const desired = (config: Config, facts: Facts): KubeObject[] => [
  admissionPolicy(config, facts, runbookUserOf(facts)),
  admissionBinding(config),
  ...(config.decisionMakerGuard ? decisionMakerGuard(config, runbookUserOf(facts)) : []),
]
const resourceOf = (o: KubeObject) => (o.kind === 'ValidatingAdmissionPolicy' ? POLICY_RESOURCE : BINDING_RESOURCE)

/** The identity this run acts as (kubectl auth whoami): the one user the policy lets create impostor probes. */
async function runbookUser(ctx: StepContext): Promise<string> {
  const review = await ctx.cluster.getJson<{ status?: { userInfo?: { username?: string } } }>(['auth', 'whoami'])
  const user = review.status?.userInfo?.username
  if (!user) throw new StepFailure(text.failures.noWhoami)
  return user
}

/**
 * The insider's Roles and RoleBindings (what the attempts' user may create), applied when missing or changed: RBAC
 * decides before admission, so the attempts need them whether the policy is applied or left out.
 */
async function applyInsiderRbac(ctx: StepContext, io: StepIO): Promise<string[]> {
  const want = insiderRbac(ctx.config)
  const namespaces = [...new Set(want.map((o) => o.metadata.namespace!))]
  const live = (
    await Promise.all(
      namespaces.map((ns) =>
        getNamed(
          ctx.cluster,
          ns,
          want.filter((o) => o.metadata.namespace === ns).map((o) => `${insiderResourceOf(o)}/${o.metadata.name}`),
        ),
      ),
    )
  ).flat()
  const granted = (o: KubeObject) =>
    o.kind === 'Role' ? { rules: o.rules } : { roleRef: o.roleRef, subjects: o.subjects }
  const changed = want.filter((o) => {
    const have = live.find((l) => l.kind === o.kind && l.metadata.namespace === o.metadata.namespace)
    const seen = have && findNamed([have], o.kind, o.metadata.name)
    return !(seen && containsFields(granted(o), seen))
  })
  if (!changed.length) return []
  await ctx.cluster.apply(changed, { forceConflicts: true })
  const applied = changed.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`)
  io.log(text.progress.insiderRbac(applied, INSIDER_USER))
  return applied
}

/** What the step asks of the API server (see Step.access). */
function admissionAccess(config: Config): { run: ApiAccess[]; verify: ApiAccess[] } {
  const who = 'admission-policy'
  const names = [insiderRoleName(config)]
  const insider = [config.namespace, insiderOtherNamespace(config)].flatMap((namespace) => [
    ...kubectlAccess.get(ROLE_RESOURCE, { namespace, names }, `${who}: the insider's Role`),
    ...kubectlAccess.apply(ROLE_RESOURCE, { namespace, names }, `${who}: the insider's Role`),
    ...kubectlAccess.get(ROLE_BINDING_RESOURCE, { namespace, names }, `${who}: the insider's RoleBinding`),
    ...kubectlAccess.apply(ROLE_BINDING_RESOURCE, { namespace, names }, `${who}: the insider's RoleBinding`),
  ])
  // RBAC lets a user grant only what it holds itself (kubernetes pkg/registry/rbac/escalation_check.go).
  const held = (namespace: string, rules: (typeof INSIDER_RULES)['own']) =>
    rules.flatMap((rule) =>
      rule.resources.map((resource) =>
        access(
          rule.apiGroups[0] ? `${resource}.${rule.apiGroups[0]}` : resource,
          rule.verbs,
          {
            namespace,
            when: 'held, not requested: RBAC lets the runbook grant the insider only what it holds itself',
          },
          `${who}: the insider's Role grants it`,
        ),
      ),
    )
  const policies = [POLICY_RESOURCE, BINDING_RESOURCE]
  const policyNames = desired(config, {}).map((o) => o.metadata.name)
  // The undo record reads the guard too, whatever this run's flags (an earlier run may have applied it).
  const recordedNames = [
    ...new Set([...policyNames, ...decisionMakerGuard(config, UNKNOWN_RUNBOOK_USER).map((o) => o.metadata.name)]),
  ]
  const paths = pathsAccess(config, pathsTriedAt('admission-policy'), who)
  const policy = policies.flatMap((resource) =>
    comparisonAccess(resource, { names: policyNames }, `${who}: the ValidatingAdmissionPolicy and its binding`),
  )
  return {
    run: [
      ...insider,
      ...held(config.namespace, INSIDER_RULES.own),
      ...held(insiderOtherNamespace(config), INSIDER_RULES.other),
      ...policies.flatMap((resource) =>
        kubectlAccess.get(resource, { names: recordedNames }, `${who}: the policy and its binding, as they were`),
      ),
      ...(config.admissionPolicy
        ? [
            ...kubectlAccess.whoami(`${who}: who the runbook acts as (the one user the policy exempts for its probes)`),
            ...policies.flatMap((resource) =>
              kubectlAccess.apply(resource, { names: policyNames }, `${who}: the policy and its binding`),
            ),
          ]
        : []),
    ],
    verify: [...(config.admissionPolicy ? [...policy, ...controllerChecksAccess(config.namespace)] : []), ...paths],
  }
}

/**
 * The targets whose attack paths admission no longer closes once this object is changed or deleted: the namespace's
 * policy and binding stand between borrowed identities and the manager, MongoDB and the decision makers; the
 * cluster-wide guard, between impostor decision makers and the manager's requests.
 */
const guardedBy = (config: Config, o: KubeObject): Voided[] =>
  (o.metadata.name === guardName(config)
    ? (['decision-maker'] as const)
    : (['manager', 'mongodb', 'decision-maker'] as const)
  ).map((target) => ({ layer: 'admission', target }))

async function policyChecks(ctx: StepContext): Promise<Check[]> {
  const want = desired(ctx.config, ctx.facts)
  const comparisons = await compareWithPlan(ctx.cluster, want, resourceOf)
  return want.map((o, i) => ({
    ...comparisonCheck(
      comparisons[i],
      o.kind === 'ValidatingAdmissionPolicy'
        ? `failurePolicy Fail, ${o.spec.validations.length} validation(s), exempting ${runbookUserOf(ctx.facts)}'s probes`
        : o.spec.matchResources.namespaceSelector.matchLabels
          ? `Deny in namespace ${ctx.config.namespace}`
          : `Deny in every namespace but ${ctx.config.namespace}`,
      'someone changed or deleted it; run the admission-policy step again',
    ),
    // A policy without its binding (or changed) refuses nothing the plan counts on: the paths it closes lose it.
    voids: guardedBy(ctx.config, o),
  }))
}

export const admissionPolicyStep: Step = {
  id: 'admission-policy',
  title: "Admission: only the chart's and istiod's own workloads may wear Gthulhu's identities and labels",
  why:
    "The identity policies trust ServiceAccounts, and istiod issues a certificate for whatever ServiceAccount a pod's spec names; the NetworkPolicies trust labels. " +
    "So anyone allowed to create a pod, a Deployment, a Job or a CronJob in Gthulhu's namespace can run as the manager (and reach MongoDB and the decision makers), as the scheduler (and pass the manager's L7 policy), or as the waypoint or the gateway (and reach the manager's pods), " +
    "and a Service of their own that selects the manager's pods is forwarded by the waypoint with the waypoint's identity. " +
    "A ValidatingAdmissionPolicy (failurePolicy Fail) bound to the namespace refuses all of that unless it is the chart's own workload or istiod's gateway, and their pods as their own controllers create them. " +
    "One exemption remains: the identity the runbook runs as (read with kubectl auth whoami when the step runs), and the users named with --probe-users (a scheduled audit's ServiceAccount), may create probe pods and Services, which carry the runbook's probe label, so verification can still play the impostor. " +
    'It trusts whoever holds, or may impersonate, that identity — typically a cluster admin, who could remove the policy anyway. ' +
    "Changing the chart's own workloads (helm upgrade, kubectl edit) stays a matter of RBAC. Verification plays the insider, as another user with a server-side dry run: each attempt must be refused, while each workload's controller is still admitted.",
  requires: ['preflight'],
  settings: [
    'namespace',
    'release',
    'gatewayName',
    'waypointName',
    'admissionPolicy',
    'decisionMakerGuard',
    'probeUsers',
  ],
  plan: ({ config, facts }) => {
    const insider = insiderRbac(config).map(
      (object): PlanItem => ({
        kind: 'manifest',
        object,
        apply: 'server-side',
        why:
          object.kind === 'Role'
            ? text.plan.insiderRole(INSIDER_USER, object.metadata.namespace!)
            : text.plan.insiderBinding(INSIDER_USER),
      }),
    )
    if (!config.admissionPolicy)
      return [
        ...insider,
        {
          kind: 'note',
          text: text.plan.admissionLeftOut,
        },
      ]
    const owners = protectedIdentities(config, facts)
      .map((i) => `${i.owner.kind} ${i.owner.name}`)
      .join(', ')
    return [
      ...(!facts.admission
        ? [
            {
              kind: 'note' as const,
              text: text.plan.exemptUserLater(UNKNOWN_RUNBOOK_USER),
            },
          ]
        : []),
      ...insider,
      ...desired(config, facts).map(
        (object, i): PlanItem => ({
          kind: 'manifest',
          object,
          apply: 'server-side',
          why: i === 0 ? text.plan.onlyOwners(owners) : text.plan.bindingDenies(config.namespace),
        }),
      ),
      {
        kind: 'note',
        text: text.plan.verifyAdmission(managerServiceAccount(config, facts)),
      },
    ]
  },
  access: admissionAccess,
  async run(ctx, io) {
    const insider = await applyInsiderRbac(ctx, io)
    if (!ctx.config.admissionPolicy) return insider.length ? undefined : { unchanged: text.notes.admissionLeftOut }
    const user = await runbookUser(ctx)
    ctx.facts.admission = { runbookUser: user }
    const want = desired(ctx.config, ctx.facts)
    assertValidManifests(want)
    const live = await Promise.all(
      want.map((o) => ctx.cluster.findJson<KubeObject>(['get', resourceOf(o), o.metadata.name])),
    )
    const changed = want.filter((o, i) => !(live[i] && containsFields(o.spec, live[i]!.spec)))
    if (!changed.length)
      return insider.length ? undefined : { unchanged: text.notes.admissionApplied(policyName(ctx.config)) }
    await ctx.cluster.apply(changed, { forceConflicts: true })
    io.log(
      text.progress.admissionApplied(
        changed.map((o) => `${o.kind} ${o.metadata.name}`),
        user,
      ),
    )
  },
  async verify(ctx, io) {
    if (!ctx.config.admissionPolicy) return tryPaths(ctx, io, 'admission-policy')
    const [policy, controllers] = await Promise.all([policyChecks(ctx), controllerPodChecks(ctx)])
    return [...policy, ...controllers, ...(await tryPaths(ctx, io, 'admission-policy'))]
  },
  undo: {
    // The guard too, whatever this run's flags: it may have been applied by an earlier run.
    objects: ({ config, facts }) => [
      ...[
        admissionPolicy(config, facts, runbookUserOf(facts)),
        admissionBinding(config),
        ...decisionMakerGuard(config, runbookUserOf(facts)),
      ].map((o) => ({ resource: resourceOf(o), name: o.metadata.name })),
      ...insiderRbac(config).map((o) => ({
        resource: insiderResourceOf(o),
        namespace: o.metadata.namespace,
        name: o.metadata.name,
      })),
    ],
  },
}

function managerServiceAccount(config: Config, facts: Facts): string {
  const manager = protectedIdentities(config, facts).find((i) => i.key === 'manager')!
  return `ServiceAccount ${manager.serviceAccount}`
}
