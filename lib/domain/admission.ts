// Who may wear Gthulhu's identities: a ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) and its binding
// that, in Gthulhu's namespace, refuse a pod, a workload or a Service that would wear (or front) the manager's, the
// scheduler's, MongoDB's, the waypoint's or the gateway's identity unless it is the chart's or istiod's own.
//
// Facts this rests on (kubernetes/kubernetes, read in a search index of the repository):
// - kube-controller-manager with --use-service-account-credentials (kubeadm's default) creates as one ServiceAccount
//   per controller in kube-system (cmd/kube-controller-manager/app/controllermanager.go, apps.go, batch.go): a
//   Deployment's ReplicaSets come from system:serviceaccount:kube-system:deployment-controller, their pods from
//   …:replicaset-controller, a DaemonSet's pods from …:daemon-set-controller, a StatefulSet's from
//   …:statefulset-controller. Without that flag every controller acts as system:kube-controller-manager; both are
//   accepted.
// - The Deployment controller names a ReplicaSet `<deployment>-<pod-template-hash>` and puts that hash on its pods
//   (pkg/controller/deployment/sync.go); the ReplicaSet and its pods carry a controller ownerReference.
// - istiod's gateway controller creates a Gateway's and a waypoint's Deployment as istiod's ServiceAccount
//   (istio/istio 1.29.1 pilot/pkg/config/kube/gateway/deploymentcontroller.go, in istio-system).
// - The CEL variables a policy sees are object, oldObject, request (userInfo, operation, kind …), params,
//   namespaceObject, variables and (with an authorizer) authorizer (staging/src/k8s.io/apiserver/pkg/admission/
//   plugin/cel/compile.go); this policy uses only the standard CEL library (has, in, all, exists, ==), which every
//   Kubernetes since 1.30 (v1 of the API) offers, and only homogeneous list and map literals (the API server
//   refuses mixed ones: cel.HomogeneousAggregateLiterals in staging/src/k8s.io/apiserver/pkg/cel/environment/base.go).
import type { Config } from '../config/options.ts'
import type { Facts, KubeObject } from '../types.ts'
import { MANAGED_BY, PROBE_RUN_LABEL } from './apply.ts'
import { workloads } from './gthulhu.ts'
import { GATEWAY_NAME_LABEL, ISTIO_NAMESPACE } from './istio.ts'

export const POLICY_RESOURCE = 'validatingadmissionpolicies.admissionregistration.k8s.io'
export const BINDING_RESOURCE = 'validatingadmissionpolicybindings.admissionregistration.k8s.io'
/** Until the step has read it, the exempt user is written as this (it matches no real user). */
export const UNKNOWN_RUNBOOK_USER = '<the user kubectl auth whoami names when the step runs>'

/** Labels a controller puts on the pods it makes: a Service selecting one of them selects that controller's pods. */
const CONTROLLER_LABELS = [
  'pod-template-hash',
  'controller-revision-hash',
  'pod-template-generation',
  'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index',
]

const KCM = 'system:kube-controller-manager'
const controllerSa = (name: string) => `system:serviceaccount:kube-system:${name}`
const ISTIOD = `system:serviceaccount:${ISTIO_NAMESPACE}:istiod`

/** One identity the policy protects: what wearing it means, and the one workload entitled to it. */
export interface ProtectedIdentity {
  key: 'manager' | 'scheduler' | 'mongodb' | 'waypoint' | 'gateway'
  /** "the manager": for messages. */
  title: string
  /** Pods naming this ServiceAccount wear the identity (MongoDB runs as `default`, which protects nothing). */
  serviceAccount?: string
  /** Pods carrying every label of one of these sets wear the identity (NetworkPolicies and Services select them). */
  labelSets: Record<string, string>[]
  /** Every label the owner's pods carry (a Service selecting a subset of them fronts these pods). */
  podLabels: Record<string, string>
  owner: { kind: 'Deployment' | 'DaemonSet' | 'StatefulSet'; name: string; by: 'the chart' | 'istiod' }
}

/** The identities the policy protects, from the workloads preflight found (or the chart's defaults). */
export function protectedIdentities(config: Config, facts: Facts): ProtectedIdentity[] {
  const { manager, scheduler, mongodb } = workloads(config, facts)
  const chart = (
    key: ProtectedIdentity['key'],
    title: string,
    w: typeof manager,
    extraSets: Record<string, string>[] = [],
  ): ProtectedIdentity => ({
    key,
    title,
    serviceAccount: w.serviceAccount === 'default' ? undefined : w.serviceAccount,
    labelSets: [w.selectorLabels, ...extraSets],
    podLabels: w.podLabels,
    owner: { kind: w.kind, name: w.name, by: 'the chart' },
  })
  // istiod's gateway pods carry these labels (istio/istio 1.29.1 manifests/…/files/kube-gateway.yaml, waypoint.yaml).
  const istiod = (key: 'waypoint' | 'gateway', gateway: string, deployment: string, cls: string) => ({
    key,
    title: key === 'waypoint' ? `the waypoint ${gateway}` : `the ingress gateway ${gateway}`,
    serviceAccount: deployment,
    labelSets: [{ [GATEWAY_NAME_LABEL]: gateway }],
    podLabels: {
      [GATEWAY_NAME_LABEL]: gateway,
      'gateway.networking.k8s.io/gateway-class-name': cls,
      'gateway.istio.io/managed': 'istio.io-gateway-controller',
      'service.istio.io/canonical-name': deployment,
    },
    owner: { kind: 'Deployment' as const, name: deployment, by: 'istiod' as const },
  })
  const decisionMaker = scheduler.podLabels.app === 'decisionmaker' ? [{ app: 'decisionmaker' }] : []
  return [
    chart('manager', 'the manager', manager),
    chart('scheduler', 'the scheduler and its decision maker', scheduler, decisionMaker),
    chart('mongodb', 'MongoDB', mongodb),
    istiod('waypoint', config.waypointName, config.waypointName, 'istio-waypoint'),
    istiod('gateway', config.gatewayName, `${config.gatewayName}-istio`, 'istio'),
  ]
}

/** The chart's and istiod's Services: the only ones allowed to select the protected pods. */
export function allowedServices(config: Config, facts: Facts): string[] {
  const { manager, scheduler, mongodb } = workloads(config, facts)
  return [
    ...new Set(
      [
        manager.service?.name,
        scheduler.service?.name,
        `${scheduler.name}-monitor`,
        mongodb.service?.name,
        config.waypointName,
        `${config.gatewayName}-istio`,
      ].filter((n): n is string => !!n),
    ),
  ]
}

export const policyName = (config: Pick<Config, 'release' | 'namespace'>) =>
  `${config.release}-identities.${config.namespace}`

// ---- CEL, written from the data above ----

const lit = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
const list = (items: string[]) => `[${items.map(lit).join(', ')}]`
const map = (m: Record<string, string>) =>
  `{${Object.entries(m)
    .map(([k, v]) => `${lit(k)}: ${lit(v)}`)
    .join(', ')}}`
const camel = (key: string) => key[0].toUpperCase() + key.slice(1)

const WORKLOAD_KINDS = ['Deployment', 'ReplicaSet', 'DaemonSet', 'StatefulSet', 'Job', 'CronJob']

/** `labels` (a CEL map) carries every label of one of the sets. */
const wearsLabels = (labels: string, sets: Record<string, string>[]) =>
  sets
    .map(
      (set) =>
        `(${Object.entries(set)
          .map(([k, v]) => `${lit(k)} in ${labels} && ${labels}[${lit(k)}] == ${lit(v)}`)
          .join(' && ')})`,
    )
    .join(' || ')

const wears = (identity: ProtectedIdentity, labels: string) =>
  [
    ...(identity.serviceAccount ? [`variables.serviceAccount == ${lit(identity.serviceAccount)}`] : []),
    wearsLabels(labels, identity.labelSets),
  ].join(' || ')

/** The object's controller ownerReference is `kind`/`name` (`name` a CEL expression). */
const ownedBy = (kind: string, name: string) =>
  `has(object.metadata.ownerReferences) && object.metadata.ownerReferences.exists(r, has(r.controller) && r.controller && r.kind == ${lit(kind)} && r.name == ${name})`

/** A pod made by the controller that owns the identity's pods, for the owner itself. */
function madeByOwner(identity: ProtectedIdentity): string {
  const { kind, name } = identity.owner
  if (kind === 'Deployment')
    return `request.userInfo.username in ${list([controllerSa('replicaset-controller'), KCM])} && 'pod-template-hash' in variables.labels && ${ownedBy('ReplicaSet', `${lit(`${name}-`)} + variables.labels['pod-template-hash']`)}`
  const controller = kind === 'DaemonSet' ? 'daemon-set-controller' : 'statefulset-controller'
  return `request.userInfo.username in ${list([controllerSa(controller), KCM])} && ${ownedBy(kind, lit(name))}`
}

/** The workload object is the identity's owner itself, or (for a Deployment) one of its ReplicaSets. */
function isOwnerWorkload(identity: ProtectedIdentity): string {
  const { kind, name, by } = identity.owner
  const own = `request.kind.kind == ${lit(kind)} && object.metadata.name == ${lit(name)}`
  // Only istiod creates its gateways' Deployments; anyone whom RBAC lets may change them afterwards (kubectl rollout restart).
  const creator =
    by === 'istiod' ? ` && (request.operation == 'UPDATE' || request.userInfo.username == ${lit(ISTIOD)})` : ''
  const owned =
    kind === 'Deployment'
      ? ` || (request.kind.kind == 'ReplicaSet' && ${ownedBy('Deployment', lit(name))} && (request.operation == 'UPDATE' || request.userInfo.username in ${list([controllerSa('deployment-controller'), KCM])}))`
      : ''
  return `(${own}${creator})${owned}`
}

const describeIdentity = (identity: ProtectedIdentity) => {
  const sa = identity.serviceAccount ? `ServiceAccount ${identity.serviceAccount} or ` : ''
  const labels = identity.labelSets
    .map((s) =>
      Object.entries(s)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    )
    .join(' / ')
  return `${sa}the labels ${labels}`
}

/** The ValidatingAdmissionPolicy. `runbookUser` is exempt for its own probe pods and Services (they carry the probe label). */
export function admissionPolicy(config: Config, facts: Facts, runbookUser: string): KubeObject {
  const identities = protectedIdentities(config, facts)
  // The runbook's own identity and the audits' (--probe-users) may create probes, which carry the probe label.
  const exempt = `request.userInfo.username in ${list([runbookUser, ...config.probeUsers])} && has(object.metadata.labels) && ${lit(PROBE_RUN_LABEL)} in object.metadata.labels`
  const variables = [
    {
      name: 'podTemplate',
      expression: `request.kind.kind == 'Pod' ? object : (request.kind.kind == 'CronJob' ? object.spec.jobTemplate.spec.template : (request.kind.kind in ${list(WORKLOAD_KINDS)} ? object.spec.template : {}))`,
    },
    {
      name: 'labels',
      expression:
        'has(variables.podTemplate.metadata) && has(variables.podTemplate.metadata.labels) ? variables.podTemplate.metadata.labels : {}',
    },
    {
      name: 'serviceAccount',
      expression:
        "!has(variables.podTemplate.spec) ? '' : (has(variables.podTemplate.spec.serviceAccountName) ? variables.podTemplate.spec.serviceAccountName : (has(variables.podTemplate.spec.serviceAccount) ? variables.podTemplate.spec.serviceAccount : 'default'))",
    },
    {
      name: 'oldLabels',
      expression:
        "request.kind.kind == 'Pod' && request.operation == 'UPDATE' && has(oldObject.metadata.labels) ? oldObject.metadata.labels : {}",
    },
    { name: 'probe', expression: exempt },
    ...identities.map((i) => ({ name: `wears${camel(i.key)}`, expression: wears(i, 'variables.labels') })),
  ]
  const validations = identities.flatMap((i) => {
    const v = `variables.wears${camel(i.key)}`
    const who = `${i.owner.kind} ${i.owner.name} (${i.owner.by}'s)`
    const podCreator =
      i.owner.kind === 'Deployment'
        ? `the ReplicaSet controller for ${who}`
        : `the ${i.owner.kind} controller for ${who}`
    return [
      {
        expression: `request.kind.kind != 'Pod' || !(${v}) || variables.probe || (request.operation == 'UPDATE' && (${wears(i, 'variables.oldLabels')})) || (${madeByOwner(i)})`,
        messageExpression: `${lit(`a pod wearing ${i.title}'s identity (${describeIdentity(i)}) may only be created by ${podCreator}, not by `)} + request.userInfo.username`,
        reason: 'Forbidden',
      },
      {
        expression: `!(request.kind.kind in ${list(WORKLOAD_KINDS)}) || !(${v}) || ${isOwnerWorkload(i)}`,
        messageExpression: `${lit(`only ${who}${i.owner.kind === 'Deployment' ? ' and its ReplicaSets' : ''} may run pods wearing ${i.title}'s identity (${describeIdentity(i)}); refused for `)} + request.kind.kind + ' ' + object.metadata.name + ' from ' + request.userInfo.username`,
        reason: 'Forbidden',
      },
    ]
  })
  const selectsAny = identities
    .map(
      (i) =>
        `object.spec.selector.all(k, k in ${list(CONTROLLER_LABELS)} || (k in ${map(i.podLabels)} && ${map(i.podLabels)}[k] == object.spec.selector[k]))`,
    )
    .join(' || ')
  validations.push({
    expression: `request.kind.kind != 'Service' || object.metadata.name in ${list(allowedServices(config, facts))} || variables.probe || !has(object.spec.selector) || size(object.spec.selector) == 0 || !(${selectsAny})`,
    messageExpression: `${lit(`only the chart's and istiod's Services (${allowedServices(config, facts).join(', ')}) may select the pods of Gthulhu, its waypoint or its gateway; refused for Service `)} + object.metadata.name + ' from ' + request.userInfo.username`,
    reason: 'Forbidden',
  })
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: policyName(config), labels: { ...MANAGED_BY } },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods', 'services'] },
          {
            apiGroups: ['apps'],
            apiVersions: ['v1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['deployments', 'replicasets', 'daemonsets', 'statefulsets'],
          },
          {
            apiGroups: ['batch'],
            apiVersions: ['v1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['jobs', 'cronjobs'],
          },
        ],
      },
      variables,
      validations,
    },
  }
}

/** The binding: the policy applies in Gthulhu's namespace only, and denies. */
export function admissionBinding(config: Config): KubeObject {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: policyName(config), labels: { ...MANAGED_BY } },
    spec: {
      policyName: policyName(config),
      validationActions: ['Deny'],
      matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': config.namespace } } },
    },
  }
}

export const guardName = (config: Pick<Config, 'release' | 'namespace'>) =>
  `${config.release}-decision-makers.${config.namespace}`

/**
 * The optional cluster-wide guard: outside Gthulhu's namespace, no pod or workload may carry app=decisionmaker
 * (the manager lists such pods in every namespace and sends them intents and token requests), except the runbook's
 * own probes.
 */
export function decisionMakerGuard(config: Config, runbookUser: string): KubeObject[] {
  const base = admissionPolicy(config, {}, runbookUser)
  const policy: KubeObject = {
    ...base,
    metadata: { name: guardName(config), labels: { ...MANAGED_BY } },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: base.spec.matchConstraints,
      variables: [
        ...base.spec.variables.filter((v: { name: string }) => ['podTemplate', 'labels', 'probe'].includes(v.name)),
      ],
      validations: [
        {
          expression: "!('app' in variables.labels) || variables.labels['app'] != 'decisionmaker' || variables.probe",
          messageExpression: `${lit(`the label app=decisionmaker belongs to Gthulhu's decision makers in namespace ${config.namespace} (its manager sends them intents and tokens); refused for `)} + request.kind.kind + ' ' + object.metadata.name + ' from ' + request.userInfo.username`,
          reason: 'Forbidden',
        },
      ],
    },
  }
  const binding: KubeObject = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: guardName(config), labels: { ...MANAGED_BY } },
    spec: {
      policyName: guardName(config),
      validationActions: ['Deny'],
      matchResources: {
        namespaceSelector: {
          matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [config.namespace] }],
        },
      },
    },
  }
  return [policy, binding]
}

/** The prefix of the API server's message when this policy refuses a request (dispatcher.go). */
export const denialPrefix = (config: Pick<Config, 'release' | 'namespace'>, name = policyName(config)) =>
  `ValidatingAdmissionPolicy '${name}' with binding '${name}' denied request:`

/**
 * The insider whose attempts the admission-policy step sends (server dry runs, through kubectl --as): a user with no
 * credentials of its own who may create pods, Deployments, CronJobs and Services in Gthulhu's namespace and pods in
 * one other namespace, and nothing else. RBAC decides before admission, so without these grants the API server
 * refuses every attempt as forbidden and the policy is never tried.
 */
export const INSIDER_USER = 'gthulhu-runbook-attacker'
export const insiderRoleName = (config: Pick<Config, 'release'>) => `${config.release}-runbook-insider`
/** The other namespace the insider tries an impostor decision maker in: kube-public exists on every cluster. */
export const insiderOtherNamespace = (config: Pick<Config, 'namespace'>) =>
  config.namespace === 'kube-public' ? 'default' : 'kube-public'
export const ROLE_RESOURCE = 'roles.rbac.authorization.k8s.io'
export const ROLE_BINDING_RESOURCE = 'rolebindings.rbac.authorization.k8s.io'

/** What the insider may create in Gthulhu's namespace, and in the other one. */
export const INSIDER_RULES = {
  own: [
    { apiGroups: [''], resources: ['pods', 'services'], verbs: ['create'] },
    { apiGroups: ['apps'], resources: ['deployments'], verbs: ['create'] },
    { apiGroups: ['batch'], resources: ['cronjobs'], verbs: ['create'] },
  ],
  other: [{ apiGroups: [''], resources: ['pods'], verbs: ['create'] }],
}

/** The insider's Role and RoleBinding in Gthulhu's namespace and in the other one. */
export function insiderRbac(config: Pick<Config, 'release' | 'namespace'>): KubeObject[] {
  const name = insiderRoleName(config)
  return [
    [config.namespace, INSIDER_RULES.own],
    [insiderOtherNamespace(config), INSIDER_RULES.other],
  ].flatMap(([namespace, rules]) => {
    const metadata = { name, namespace: namespace as string, labels: { ...MANAGED_BY } }
    return [
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: {
          ...metadata,
          annotations: {
            'gthulhu-runbook/why': `what the insider ${INSIDER_USER} the admission-policy step plays may create (it has no credentials: the runbook sends server dry runs as it with kubectl --as)`,
          },
        },
        rules,
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata,
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: INSIDER_USER }],
      },
    ]
  })
}

export const insiderResourceOf = (o: KubeObject) => (o.kind === 'Role' ? ROLE_RESOURCE : ROLE_BINDING_RESOURCE)
