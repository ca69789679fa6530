// ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1): on every write, each policy whose
// matchConstraints and whose binding's matchResources match the request runs its CEL expressions, with
// @bufbuild/cel (a CEL implementation that follows the CEL spec), over the variables Kubernetes offers:
// object, oldObject, request, namespaceObject, variables. A validation that is not true denies the request
// when the binding says Deny, with the Status the API server sends.
//
// Imitates kubernetes/kubernetes (v1.32.0, read in a search index of the repository, not at the tag):
// - staging/src/k8s.io/apiserver/pkg/admission/plugin/policy/validating/dispatcher.go (the denial: message
//   `ValidatingAdmissionPolicy '<policy>' with binding '<binding>' denied request: <message>` wrapped by
//   admission.NewForbidden, reason from the validation (default Invalid) and its code, one cause carrying
//   the message; Warn → a warning header `Validation failed for ValidatingAdmissionPolicy …`; Audit →
//   nothing a client sees; a configuration error under failurePolicy Fail → `failed to configure binding`);
// - …/policy/validating/validator.go (message: messageExpression's string, else `message`, else
//   `failed expression: <expression>`; an evaluation error denies under Fail, admits under Ignore;
//   matchConditions all true or the policy is skipped);
// - staging/src/k8s.io/apiserver/pkg/admission/plugin/cel/filter.go (`expression '<e>' resulted in error:
//   <error>`; request built from the attributes: kind, resource, name, namespace, operation, userInfo,
//   dryRun) and compile.go (the variable names; `authorizer` only with an authorizer);
// - staging/src/k8s.io/apiserver/pkg/admission/errors.go (NewForbidden: `<resource> "<name>" is forbidden:
//   …`, the generateName when there is no name yet);
// - staging/src/k8s.io/apiserver/pkg/admission/plugin/policy/matching/matching.go and
//   …/webhook/predicates/rules/rules.go (resourceRules with `*`, operations, scope; namespaceSelector
//   matched against the request's namespace's labels, cluster-scoped objects always match it;
//   objectSelector against the object's (or old object's) labels; excludeResourceRules);
// - staging/src/k8s.io/apiserver/pkg/cel/environment/base.go (the CEL environment: cel-go's standard
//   library, HomogeneousAggregateLiterals, the Kubernetes libraries (lists, regex, urls, quantity, authz,
//   ip, cidr, format, semver), ext.Strings v2 and ext.Sets).
// Simplifications: the standard CEL library only — a Kubernetes library function (e.g. `isSorted`,
// `url()`, `quantity()`, `authorizer`) is unbound here, so an expression using one errors (and denies under
// Fail); no type checking against the object's schema (a misspelt field errors at run time, not at create
// time); expressions are parsed when the policy is written (a syntax error is refused); `params` (paramKind
// / paramRef) are not modelled and count as a configuration error; `variables` are evaluated in order
// before the validations, and one that errors is left out, so using it errors; no cost budget.
import { celEnv, celError, isCelError, parse, plan, type CelInput, type CelResult, type CelValue } from '@bufbuild/cel'
import type { UserInfo } from './authn.ts'
import { selects, type LabelSelector } from './cluster-view.ts'
import type { KubeObject, ResourceType, Store } from './store.ts'

export const ADMISSION_GROUP = 'admissionregistration.k8s.io'

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT'

/** What admission knows about a request (admission.Attributes). */
export interface AdmissionRequest {
  operation: Operation
  rt: ResourceType
  subresource?: string
  namespace?: string
  /** The name on the URL (empty for a create, where the object's name or generateName is used). */
  name: string
  object: KubeObject | null
  oldObject: KubeObject | null
  userInfo: UserInfo
  dryRun: boolean
}

/** A refusal, answered as a Status. */
export interface AdmissionDenial {
  code: number
  reason: string
  message: string
  details: { name: string; group: string; kind: string; causes: { message: string }[] }
}

export interface AdmissionResult {
  denial?: AdmissionDenial
  /** Warning headers (299) the API server adds for Warn bindings. */
  warnings: string[]
}

const REASON_CODES: Record<string, number> = {
  Unauthorized: 401,
  Forbidden: 403,
  Invalid: 422,
  RequestEntityTooLarge: 413,
}

/** JSON → the values @bufbuild/cel reads: objects become maps, whole numbers ints (Kubernetes' int64 fields). */
export function toCel(value: unknown): CelInput {
  if (value === undefined || value === null) return null
  if (Array.isArray(value)) return value.map(toCel)
  if (typeof value === 'object') return new Map(Object.entries(value).map(([k, v]) => [k, toCel(v)]))
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value)
  return value as CelInput
}

/** Expressions that parsed: the runbook writes the same policy again and again, and parsing a long one is costly. */
const parsedBefore = new Set<string>()

/** Problems with the CEL of a policy (`field: message`), as the API server's validation refuses them on write. */
export function policyExpressionProblems(policy: KubeObject): string[] {
  const problems: string[] = []
  const spec = policy.spec ?? {}
  const check = (field: string, expression: unknown) => {
    if (typeof expression !== 'string' || !expression.trim()) {
      problems.push(`${field}: Required value`)
      return
    }
    if (parsedBefore.has(expression)) return
    try {
      parse(expression)
      parsedBefore.add(expression)
    } catch (error) {
      problems.push(
        `${field}: Invalid value: ${JSON.stringify(expression)}: compilation failed: ${(error as Error).message}`,
      )
    }
  }
  ;(spec.validations ?? []).forEach((v: any, i: number) => {
    check(`spec.validations[${i}].expression`, v?.expression)
    if (v?.messageExpression !== undefined) check(`spec.validations[${i}].messageExpression`, v.messageExpression)
  })
  ;(spec.matchConditions ?? []).forEach((c: any, i: number) =>
    check(`spec.matchConditions[${i}].expression`, c?.expression),
  )
  ;(spec.variables ?? []).forEach((v: any, i: number) => check(`spec.variables[${i}].expression`, v?.expression))
  if (!(spec.validations ?? []).length && !(spec.auditAnnotations ?? []).length)
    problems.push('spec.validations: Required value: validations or auditAnnotations must contain at least one item')
  if (!spec.matchConstraints?.resourceRules?.length)
    problems.push('spec.matchConstraints.resourceRules: Required value')
  return problems
}

/** Problems with a binding, as the API server's validation refuses them on write. */
export function bindingProblems(binding: KubeObject): string[] {
  const spec = binding.spec ?? {}
  const problems: string[] = []
  if (!spec.policyName) problems.push('spec.policyName: Required value')
  const actions: unknown[] = spec.validationActions ?? []
  if (!actions.length) problems.push('spec.validationActions: Required value')
  for (const [i, a] of actions.entries())
    if (!['Deny', 'Warn', 'Audit'].includes(String(a)))
      problems.push(
        `spec.validationActions[${i}]: Unsupported value: ${JSON.stringify(a)}: supported values: "Audit", "Deny", "Warn"`,
      )
  if (actions.includes('Deny') && actions.includes('Warn'))
    problems.push(
      'spec.validationActions: Invalid value: ["Deny","Warn"]: must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)',
    )
  return problems
}

// ---- matching ----

interface Rule {
  apiGroups?: string[]
  apiVersions?: string[]
  operations?: string[]
  resources?: string[]
  resourceNames?: string[]
  scope?: string
}

const anyOf = (list: string[] | undefined, value: string) => (list ?? []).some((v) => v === '*' || v === value)

function ruleMatches(rule: Rule, request: AdmissionRequest): boolean {
  const { rt } = request
  if (!anyOf(rule.apiGroups, rt.group) || !anyOf(rule.apiVersions, rt.version)) return false
  if (!anyOf(rule.operations, request.operation)) return false
  const resource = request.subresource ? `${rt.plural}/${request.subresource}` : rt.plural
  const resourceMatches = (rule.resources ?? []).some((r) => {
    if (r === '*') return !request.subresource
    if (r === '*/*') return true
    if (r === resource) return true
    const [plural, sub] = r.split('/')
    return (
      sub !== undefined && ((plural === '*' && sub === request.subresource) || (plural === rt.plural && sub === '*'))
    )
  })
  if (!resourceMatches) return false
  const scope = rule.scope ?? '*'
  if (scope === 'Cluster' && rt.namespaced) return false
  if (scope === 'Namespaced' && !rt.namespaced) return false
  const name = request.name || request.object?.metadata?.name || ''
  return !(rule.resourceNames ?? []).length || rule.resourceNames!.includes(name)
}

interface MatchResources {
  namespaceSelector?: LabelSelector
  objectSelector?: LabelSelector
  resourceRules?: Rule[]
  excludeResourceRules?: Rule[]
}

function resourcesMatch(store: Store, match: MatchResources | undefined, request: AdmissionRequest): boolean {
  if (!match) return true
  if (match.resourceRules && !match.resourceRules.some((r) => ruleMatches(r, request))) return false
  if ((match.excludeResourceRules ?? []).some((r) => ruleMatches(r, request))) return false
  if (match.namespaceSelector && Object.keys(match.namespaceSelector).length) {
    const isNamespace = request.rt.group === '' && request.rt.kind === 'Namespace'
    if (isNamespace) {
      const labels = (request.object ?? request.oldObject)?.metadata?.labels
      if (!selects(match.namespaceSelector, labels ?? {})) return false
    } else if (request.rt.namespaced) {
      const nsType = store.allTypes().find((t) => t.group === '' && t.kind === 'Namespace')
      const ns = nsType && request.namespace ? store.get(nsType, undefined, request.namespace) : undefined
      if (!selects(match.namespaceSelector, ns?.metadata.labels ?? {})) return false
    }
  }
  if (match.objectSelector && Object.keys(match.objectSelector).length) {
    const labelsOf = (o: KubeObject | null) => (o ? (o.metadata?.labels ?? {}) : undefined)
    const candidates = [labelsOf(request.object), labelsOf(request.oldObject)].filter((l) => l !== undefined)
    if (!candidates.some((labels) => selects(match.objectSelector, labels))) return false
  }
  return true
}

// ---- evaluation ----

/** The `request` variable (admission/v1 AdmissionRequest without object and oldObject). */
function requestVariable(request: AdmissionRequest) {
  const { rt } = request
  const gvk = { group: rt.group, version: rt.version, kind: rt.kind }
  const gvr = { group: rt.group, version: rt.version, resource: rt.plural }
  return {
    kind: gvk,
    resource: gvr,
    subResource: request.subresource ?? '',
    requestKind: gvk,
    requestResource: gvr,
    requestSubResource: request.subresource ?? '',
    name: request.name || request.object?.metadata?.name || '',
    namespace: request.namespace ?? '',
    operation: request.operation,
    userInfo: {
      username: request.userInfo.username,
      ...(request.userInfo.uid ? { uid: request.userInfo.uid } : {}),
      groups: request.userInfo.groups,
      extra: request.userInfo.extra ?? {},
    },
    dryRun: request.dryRun,
  }
}

type Evaluated = { value: CelValue } | { error: string }

// Compiled once per expression, as the API server compiles a policy once when it is written: parsing a long
// expression on every request would stall the simulator's one event loop.
const ENV = celEnv()
const programs = new Map<string, (bindings: Record<string, CelInput>) => CelResult>()
function compiled(expression: string): (bindings: Record<string, CelInput>) => CelResult {
  let program = programs.get(expression)
  if (!program) {
    try {
      program = plan(ENV, parse(expression)) as (bindings: Record<string, CelInput>) => CelResult
    } catch (error) {
      const failure = celError(error)
      program = () => failure
    }
    if (programs.size > 1000) programs.clear() // bounded: policies come and go in long test runs
    programs.set(expression, program)
  }
  return program
}

function evaluate(expression: string, bindings: Record<string, CelInput>): Evaluated {
  let result: CelResult
  try {
    result = compiled(expression)(bindings)
  } catch (error) {
    result = celError(error)
  }
  if (isCelError(result)) return { error: `expression '${expression}' resulted in error: ${result.message}` }
  return { value: result }
}

type Decision = { action: 'admit' } | { action: 'deny'; message: string; reason: string }

function validatePolicy(
  store: Store,
  policy: KubeObject,
  request: AdmissionRequest,
): Decision[] | { configurationError: string } {
  const spec = policy.spec ?? {}
  const failOpen = spec.failurePolicy === 'Ignore'
  const onError = (message: string): Decision =>
    failOpen ? { action: 'admit' } : { action: 'deny', message, reason: 'Invalid' }
  if (spec.paramKind) return { configurationError: 'the simulated API server does not model paramKind / paramRef' }
  const nsType = store.allTypes().find((t) => t.group === '' && t.kind === 'Namespace')
  const namespace = request.namespace && nsType ? store.get(nsType, undefined, request.namespace) : undefined
  const bindings: Record<string, CelInput> = {
    object: toCel(request.object),
    oldObject: toCel(request.oldObject),
    request: toCel(requestVariable(request)),
    namespaceObject: toCel(
      namespace ? { metadata: namespace.metadata, spec: namespace.spec ?? {}, status: namespace.status ?? {} } : null,
    ),
  }
  for (const condition of spec.matchConditions ?? []) {
    const result = evaluate(condition.expression, bindings)
    if ('error' in result) return [onError(result.error)]
    if (result.value !== true) return []
  }
  const variables = new Map<string, CelInput>()
  bindings.variables = variables
  for (const variable of spec.variables ?? []) {
    const result = evaluate(variable.expression, bindings)
    if ('value' in result) variables.set(variable.name, result.value as CelInput)
  }
  return (spec.validations ?? []).map((validation: any): Decision => {
    const result = evaluate(validation.expression, bindings)
    if ('error' in result) return onError(result.error)
    if (result.value === true) return { action: 'admit' }
    let message = ''
    if (validation.messageExpression) {
      const m = evaluate(validation.messageExpression, bindings)
      if ('value' in m && typeof m.value === 'string' && !m.value.includes('\n')) message = m.value.trim()
    }
    if (!message && validation.message) message = String(validation.message).trim()
    if (!message) message = `failed expression: ${String(validation.expression).trim()}`
    return { action: 'deny', message, reason: validation.reason ?? 'Invalid' }
  })
}

/** Runs every matching ValidatingAdmissionPolicy over a request. */
export function validatingAdmission(store: Store, request: AdmissionRequest): AdmissionResult {
  const policyType = store.allTypes().find((t) => t.group === ADMISSION_GROUP && t.kind === 'ValidatingAdmissionPolicy')
  const bindingType = store
    .allTypes()
    .find((t) => t.group === ADMISSION_GROUP && t.kind === 'ValidatingAdmissionPolicyBinding')
  const warnings: string[] = []
  if (!policyType || !bindingType) return { warnings }
  const bindings = store.peek(bindingType) // policies and bindings are only read: no copies
  const denied: { policy: string; binding?: string; message: string; reason: string }[] = []
  for (const policy of store.peek(policyType)) {
    if (!resourcesMatch(store, policy.spec?.matchConstraints, request)) continue
    for (const binding of bindings.filter((b) => b.spec?.policyName === policy.metadata.name)) {
      if (!resourcesMatch(store, binding.spec?.matchResources, request)) continue
      const decisions = validatePolicy(store, policy, request)
      if ('configurationError' in decisions) {
        if (policy.spec?.failurePolicy !== 'Ignore')
          denied.push({
            policy: policy.metadata.name,
            binding: binding.metadata.name,
            message: `failed to configure binding: ${decisions.configurationError}`,
            reason: 'Invalid',
          })
        continue
      }
      const actions: string[] = binding.spec?.validationActions ?? []
      for (const decision of decisions) {
        if (decision.action !== 'deny') continue
        if (actions.includes('Deny'))
          denied.push({ policy: policy.metadata.name, binding: binding.metadata.name, ...decision })
        if (actions.includes('Warn'))
          warnings.push(
            `Validation failed for ValidatingAdmissionPolicy '${policy.metadata.name}' with binding '${binding.metadata.name}': ${decision.message}`,
          )
      }
    }
  }
  const first = denied[0]
  if (!first) return { warnings }
  const message = `ValidatingAdmissionPolicy '${first.policy}' with binding '${first.binding}' denied request: ${first.message}`
  const name = String(
    request.name || request.object?.metadata?.name || request.object?.metadata?.generateName || 'Unknown',
  )
  const resource = request.rt.group ? `${request.rt.plural}.${request.rt.group}` : request.rt.plural
  return {
    warnings,
    denial: {
      code: REASON_CODES[first.reason] ?? 422,
      reason: first.reason,
      message: `${resource} ${JSON.stringify(name)} is forbidden: ${message}`,
      details: { name, group: request.rt.group, kind: request.rt.plural, causes: [{ message }] },
    },
  }
}
