// A compact schema check of every manifest the runbook renders, run before anything is applied, so a bad
// name, port or enum value fails with its field path instead of half-way through a kubectl apply. The field
// tables below are written by hand for the fields this runbook uses (plus the other fields each API
// defines, so that a typo in a field name is caught too); they are not a copy of any upstream schema.
import { isIP } from 'node:net'
import { UsageError } from '../config/errors.ts'
import type { KubeObject } from './object.ts'

// ---------------------------------------------------------------------------------------------------------
// Value formats

const LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1035_RE = /^[a-z]([-a-z0-9]*[a-z0-9])?$/
const SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const QUALIFIED_NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const KIND_RE = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/

export type Format =
  | 'dns1123-label'
  | 'dns1123-subdomain'
  | 'dns1035-label'
  | 'qualified-name'
  | 'label-value'
  | 'hostname'
  | 'cidr'
  | 'ip-or-cidr'
  | 'port-name'
  | 'kind'
  | 'group'
  | 'path'
  | 'non-empty'
  | 'image'

/** Returns why `value` is not of `format`, or undefined when it is. */
export function checkFormat(format: Format, value: string): string | undefined {
  const q = JSON.stringify(value)
  switch (format) {
    case 'dns1123-label':
      return value.length <= 63 && LABEL_RE.test(value)
        ? undefined
        : `${q} is not a DNS-1123 label (at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit)`
    case 'dns1035-label':
      return value.length <= 63 && DNS1035_RE.test(value)
        ? undefined
        : `${q} is not a DNS-1035 label (at most 63 lower-case letters, digits and '-', starting with a letter)`
    case 'dns1123-subdomain':
      return value.length <= 253 && SUBDOMAIN_RE.test(value)
        ? undefined
        : `${q} is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253 characters, starting and ending with a letter or digit)`
    case 'qualified-name': {
      // Label and annotation keys: an optional DNS subdomain prefix and '/', then a name of at most 63 characters.
      const slash = value.lastIndexOf('/')
      const prefix = slash >= 0 ? value.slice(0, slash) : undefined
      const name = slash >= 0 ? value.slice(slash + 1) : value
      if (prefix !== undefined && (prefix.length > 253 || !SUBDOMAIN_RE.test(prefix)))
        return `${q} has a prefix that is not a DNS-1123 subdomain`
      if (name.length > 63 || !QUALIFIED_NAME_RE.test(name))
        return `${q} is not a valid key (a name of at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit, optionally after "<dns-prefix>/")`
      return undefined
    }
    case 'label-value':
      return value === '' || (value.length <= 63 && QUALIFIED_NAME_RE.test(value))
        ? undefined
        : `${q} is not a valid label value (at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)`
    case 'hostname': {
      // Gateway API hostnames: a DNS name, optionally with a leading "*." wildcard; never an IP address.
      const bare = value.startsWith('*.') ? value.slice(2) : value
      return value.length <= 253 && SUBDOMAIN_RE.test(bare) && !isIP(bare)
        ? undefined
        : `${q} is not a hostname (a DNS name, optionally starting with "*.")`
    }
    case 'cidr': {
      const [address, bits, extra] = value.split('/')
      const version = isIP(address ?? '')
      const max = version === 4 ? 32 : 128
      return version && extra === undefined && /^\d{1,3}$/.test(bits ?? '') && Number(bits) <= max
        ? undefined
        : `${q} is not a CIDR like 10.0.0.0/8 or fd00::/64`
    }
    case 'ip-or-cidr':
      return isIP(value) || !checkFormat('cidr', value) ? undefined : `${q} is not an IP address or CIDR`
    case 'port-name':
      // IANA service names: what Kubernetes accepts for named ports.
      return value.length <= 15 &&
        /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(value) &&
        /[a-z]/.test(value) &&
        !value.includes('--')
        ? undefined
        : `${q} is not a port name (at most 15 lower-case letters, digits and single '-', with at least one letter)`
    case 'kind':
      return value.length <= 63 && KIND_RE.test(value) ? undefined : `${q} is not a Kubernetes kind`
    case 'group':
      return value === '' || (value.length <= 253 && SUBDOMAIN_RE.test(value))
        ? undefined
        : `${q} is not an API group (empty for the core group, or a DNS subdomain)`
    case 'path':
      return value.startsWith('/') && !/\s/.test(value) ? undefined : `${q} is not an absolute path starting with "/"`
    case 'non-empty':
      return value.trim() ? undefined : 'must not be empty'
    case 'image':
      return value && !/\s/.test(value) ? undefined : `${q} is not a container image reference`
  }
}

// ---------------------------------------------------------------------------------------------------------
// Field specifications

export type Spec =
  | { t: 'string'; format?: Format; enum?: readonly string[]; maxLength?: number }
  | { t: 'int'; min?: number; max?: number }
  | { t: 'int-or-string'; min: number; max: number; format: Format }
  | { t: 'bool' }
  | { t: 'object'; fields: Record<string, Spec>; required?: string[]; open?: boolean; rules?: Rule[] }
  | { t: 'array'; items: Spec; min?: number; max?: number }
  | { t: 'map'; key: Format; value?: Format }
  | { t: 'any' }

/** A rule across fields of one object; returns problems as [field path suffix, message]. */
type Rule = (value: Record<string, any>) => Array<[string, string]>

const str = (format?: Format, extra: { enum?: readonly string[]; maxLength?: number } = {}): Spec => ({
  t: 'string',
  format,
  ...extra,
})
const oneOf = (values: readonly string[]): Spec => ({ t: 'string', enum: values })
const int = (min?: number, max?: number): Spec => ({ t: 'int', min, max })
const bool: Spec = { t: 'bool' }
const any: Spec = { t: 'any' }
const obj = (
  fields: Record<string, Spec>,
  options: { required?: string[]; open?: boolean; rules?: Rule[] } = {},
): Spec => ({ t: 'object', fields, ...options })
const arr = (items: Spec, min?: number, max?: number): Spec => ({ t: 'array', items, min, max })
/** An object whose inner fields this checker does not model (accepted as long as it is an object). */
const opaque: Spec = { t: 'object', fields: {}, open: true }

const PORT = int(1, 65535)
const strings = (format?: Format) => arr(str(format))

const labelSelector = obj({
  matchLabels: { t: 'map', key: 'qualified-name', value: 'label-value' },
  matchExpressions: arr(
    obj(
      {
        key: str('qualified-name'),
        operator: oneOf(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: arr(str('label-value')),
      },
      {
        required: ['key', 'operator'],
        rules: [
          (e) =>
            ['In', 'NotIn'].includes(e.operator) && !e.values?.length
              ? [['values', `operator ${e.operator} needs at least one value`]]
              : [],
          (e) =>
            ['Exists', 'DoesNotExist'].includes(e.operator) && e.values?.length
              ? [['values', `operator ${e.operator} takes no values`]]
              : [],
        ],
      },
    ),
  ),
})

// ---- Gateway API (gateway.networking.k8s.io/v1)

// Core protocols plus Istio's HBONE (waypoint listeners), or an implementation-specific one qualified by a
// domain ("example.com/PROTO").
const GATEWAY_PROTOCOLS = ['HTTP', 'HTTPS', 'TLS', 'TCP', 'UDP', 'HBONE']
const gatewayProtocol: Rule = (listener) =>
  typeof listener.protocol === 'string' &&
  !GATEWAY_PROTOCOLS.includes(listener.protocol) &&
  !/^[a-z0-9.-]+\/[A-Za-z0-9]+$/.test(listener.protocol)
    ? [
        [
          'protocol',
          `"${listener.protocol}" is not one of ${GATEWAY_PROTOCOLS.join(', ')} (or a domain-qualified protocol)`,
        ],
      ]
    : []

const listener = obj(
  {
    name: str('dns1123-subdomain'),
    hostname: str('hostname'),
    port: PORT,
    protocol: str(),
    tls: opaque,
    allowedRoutes: obj({
      namespaces: obj(
        { from: oneOf(['All', 'Same', 'Selector']), selector: labelSelector },
        {
          rules: [
            (n) => (n.from === 'Selector' && !n.selector ? [['selector', 'from: Selector needs a selector']] : []),
          ],
        },
      ),
      kinds: arr(obj({ group: str('group'), kind: str('kind') }, { required: ['kind'] }), 0, 8),
    }),
  },
  { required: ['name', 'port', 'protocol'], rules: [gatewayProtocol] },
)

const uniqueListeners: Rule = (spec) => {
  const seen = new Set<string>()
  const problems: Array<[string, string]> = []
  ;(Array.isArray(spec.listeners) ? spec.listeners : []).forEach((l: any, i: number) => {
    if (seen.has(l?.name))
      problems.push([`listeners[${i}].name`, `"${l.name}" is used by another listener; names must be unique`])
    seen.add(l?.name)
  })
  return problems
}

const gatewaySpec = obj(
  {
    gatewayClassName: str('dns1123-subdomain'),
    listeners: arr(listener, 1, 64),
    addresses: arr(obj({ type: str(), value: str('non-empty') }, { required: ['value'] }), 0, 16),
    infrastructure: obj({
      labels: { t: 'map', key: 'qualified-name', value: 'label-value' },
      annotations: { t: 'map', key: 'qualified-name' },
      parametersRef: obj(
        { group: str('group'), kind: str('kind'), name: str('dns1123-subdomain') },
        { required: ['group', 'kind', 'name'] },
      ),
    }),
    backendTLS: opaque,
    allowedListeners: opaque,
    tls: opaque,
  },
  { required: ['gatewayClassName', 'listeners'], rules: [uniqueListeners] },
)

const parentRef = obj(
  {
    group: str('group'),
    kind: str('kind'),
    namespace: str('dns1123-label'),
    name: str('dns1123-subdomain'),
    sectionName: str('dns1123-subdomain'),
    port: PORT,
  },
  { required: ['name'] },
)

// A backend in the core group is a Service unless said otherwise, and a Service backend must name its port.
const servicePortRequired: Rule = (ref) =>
  (ref.group ?? '') === '' && (ref.kind ?? 'Service') === 'Service' && ref.port === undefined
    ? [['port', 'a Service backend needs a port']]
    : []

const httpFilter = obj(
  {
    type: oneOf([
      'RequestHeaderModifier',
      'ResponseHeaderModifier',
      'RequestMirror',
      'RequestRedirect',
      'URLRewrite',
      'ExtensionRef',
      'CORS',
      'ExternalAuth',
    ]),
    requestHeaderModifier: opaque,
    responseHeaderModifier: opaque,
    requestMirror: opaque,
    requestRedirect: opaque,
    urlRewrite: opaque,
    extensionRef: opaque,
    cors: opaque,
    externalAuth: opaque,
  },
  { required: ['type'] },
)

const backendRef = obj(
  {
    group: str('group'),
    kind: str('kind'),
    name: str('dns1123-subdomain'),
    namespace: str('dns1123-label'),
    port: PORT,
    weight: int(0, 1_000_000),
    filters: arr(httpFilter, 0, 16),
  },
  { required: ['name'], rules: [servicePortRequired] },
)

const httpMatch = obj({
  path: obj(
    { type: oneOf(['Exact', 'PathPrefix', 'RegularExpression']), value: str() },
    {
      rules: [
        (p) =>
          p.type !== 'RegularExpression' && typeof p.value === 'string' && !p.value.startsWith('/')
            ? [['value', `"${p.value}" must start with "/"`]]
            : [],
      ],
    },
  ),
  headers: arr(
    obj(
      { type: oneOf(['Exact', 'RegularExpression']), name: str('non-empty'), value: str() },
      { required: ['name', 'value'] },
    ),
    0,
    16,
  ),
  queryParams: arr(
    obj(
      { type: oneOf(['Exact', 'RegularExpression']), name: str('non-empty'), value: str() },
      { required: ['name', 'value'] },
    ),
    0,
    16,
  ),
  method: oneOf(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']),
})

const httpRouteSpec = obj({
  parentRefs: arr(parentRef, 0, 32),
  hostnames: arr(str('hostname'), 0, 16),
  useDefaultGateways: any,
  rules: arr(
    obj({
      name: str('dns1123-subdomain'),
      matches: arr(httpMatch, 0, 64),
      filters: arr(httpFilter, 0, 16),
      backendRefs: arr(backendRef, 0, 16),
      timeouts: obj({ request: str(), backendRequest: str() }),
      retry: opaque,
      sessionPersistence: opaque,
    }),
    0,
    16,
  ),
})

// ---- NetworkPolicy (networking.k8s.io/v1)

const networkPolicyPeer = obj(
  {
    podSelector: labelSelector,
    namespaceSelector: labelSelector,
    ipBlock: obj({ cidr: str('cidr'), except: strings('cidr') }, { required: ['cidr'] }),
  },
  {
    rules: [
      (peer) =>
        peer.ipBlock && (peer.podSelector || peer.namespaceSelector)
          ? [['ipBlock', 'ipBlock cannot be combined with podSelector or namespaceSelector in one peer']]
          : [],
      (peer) =>
        !peer.ipBlock && !peer.podSelector && !peer.namespaceSelector
          ? [['', 'a peer needs podSelector, namespaceSelector or ipBlock']]
          : [],
    ],
  },
)

const networkPolicyPort = obj(
  {
    protocol: oneOf(['TCP', 'UDP', 'SCTP']),
    port: { t: 'int-or-string', min: 1, max: 65535, format: 'port-name' },
    endPort: PORT,
  },
  {
    rules: [
      (p) =>
        p.endPort !== undefined && typeof p.port !== 'number' ? [['endPort', 'endPort needs a numeric port']] : [],
      (p) =>
        typeof p.endPort === 'number' && typeof p.port === 'number' && p.endPort < p.port
          ? [['endPort', `${p.endPort} is below port ${p.port}`]]
          : [],
    ],
  },
)

const networkPolicySpec = obj(
  {
    podSelector: labelSelector,
    policyTypes: arr(oneOf(['Ingress', 'Egress']), 0, 2),
    ingress: arr(obj({ from: arr(networkPolicyPeer), ports: arr(networkPolicyPort) })),
    egress: arr(obj({ to: arr(networkPolicyPeer), ports: arr(networkPolicyPort) })),
  },
  { required: ['podSelector'] },
)

// ---- AuthorizationPolicy (security.istio.io/v1)

// What an Istio policy can attach to, by kind, with the API group each kind lives in.
const POLICY_TARGET_GROUPS: Record<string, string> = {
  Service: '',
  Gateway: 'gateway.networking.k8s.io',
  GatewayClass: 'gateway.networking.k8s.io',
  ServiceEntry: 'networking.istio.io',
}

const policyTargetRef = obj(
  {
    group: str('group'),
    kind: oneOf(Object.keys(POLICY_TARGET_GROUPS)),
    name: str('dns1123-subdomain'),
    namespace: str('dns1123-label'),
  },
  {
    required: ['kind', 'name'],
    rules: [
      (ref) =>
        ref.kind in POLICY_TARGET_GROUPS && (ref.group ?? '') !== POLICY_TARGET_GROUPS[ref.kind]
          ? [['group', `kind ${ref.kind} is in group "${POLICY_TARGET_GROUPS[ref.kind]}", not "${ref.group ?? ''}"`]]
          : [],
    ],
  },
)

const istioPorts = arr({ t: 'string', format: 'non-empty' })
const portStrings: Rule = (operation) =>
  ['ports', 'notPorts'].flatMap((field) =>
    (Array.isArray(operation[field]) ? operation[field] : []).flatMap(
      (p: unknown, i: number): Array<[string, string]> =>
        /^\d+$/.test(String(p)) && Number(p) >= 1 && Number(p) <= 65535
          ? []
          : [[`${field}[${i}]`, `"${p}" is not a port number 1–65535`]],
    ),
  )

const source = obj({
  principals: strings('non-empty'),
  notPrincipals: strings('non-empty'),
  requestPrincipals: strings('non-empty'),
  notRequestPrincipals: strings('non-empty'),
  namespaces: strings('non-empty'),
  notNamespaces: strings('non-empty'),
  ipBlocks: strings('ip-or-cidr'),
  notIpBlocks: strings('ip-or-cidr'),
  remoteIpBlocks: strings('ip-or-cidr'),
  notRemoteIpBlocks: strings('ip-or-cidr'),
})

const operation = obj(
  {
    hosts: strings('non-empty'),
    notHosts: strings('non-empty'),
    ports: istioPorts,
    notPorts: istioPorts,
    methods: strings('non-empty'),
    notMethods: strings('non-empty'),
    paths: strings('non-empty'),
    notPaths: strings('non-empty'),
  },
  { rules: [portStrings] },
)

const condition = obj(
  { key: str('non-empty'), values: strings(), notValues: strings() },
  {
    required: ['key'],
    rules: [
      (c) =>
        !c.values?.length && !c.notValues?.length ? [['', `condition "${c.key}" needs values or notValues`]] : [],
    ],
  },
)

const authorizationPolicySpec = obj(
  {
    selector: obj({ matchLabels: { t: 'map', key: 'qualified-name', value: 'label-value' } }),
    targetRef: policyTargetRef,
    targetRefs: arr(policyTargetRef, 0, 16),
    action: oneOf(['ALLOW', 'DENY', 'AUDIT', 'CUSTOM']),
    provider: obj({ name: str('non-empty') }, { required: ['name'] }),
    rules: arr(
      obj({
        from: arr(obj({ source }, { required: ['source'] })),
        to: arr(obj({ operation }, { required: ['operation'] })),
        when: arr(condition),
      }),
    ),
  },
  {
    rules: [
      (s) =>
        s.selector && (s.targetRef || s.targetRefs)
          ? [['selector', 'selector cannot be combined with targetRef/targetRefs']]
          : [],
      (s) => (s.targetRef && s.targetRefs ? [['targetRef', 'use targetRefs or targetRef, not both']] : []),
      (s) => (s.action === 'CUSTOM' && !s.provider ? [['provider', 'action CUSTOM needs a provider']] : []),
      (s) =>
        s.provider && s.action !== 'CUSTOM' ? [['provider', 'a provider is only allowed with action CUSTOM']] : [],
    ],
  },
)

// ---- Pod (v1), as the probe pods use it

const probe = opaque
const container = obj(
  {
    name: str('dns1123-label'),
    image: str('image'),
    command: strings(),
    args: strings(),
    workingDir: str(),
    env: arr(obj({ name: str('non-empty'), value: str(), valueFrom: opaque }, { required: ['name'] })),
    envFrom: arr(opaque),
    ports: arr(
      obj(
        {
          name: str('port-name'),
          containerPort: PORT,
          hostPort: PORT,
          hostIP: str(),
          protocol: oneOf(['TCP', 'UDP', 'SCTP']),
        },
        { required: ['containerPort'] },
      ),
    ),
    resources: opaque,
    resizePolicy: arr(opaque),
    restartPolicy: oneOf(['Always']),
    volumeMounts: arr(opaque),
    volumeDevices: arr(opaque),
    livenessProbe: probe,
    readinessProbe: probe,
    startupProbe: probe,
    lifecycle: opaque,
    terminationMessagePath: str(),
    terminationMessagePolicy: oneOf(['File', 'FallbackToLogsOnError']),
    imagePullPolicy: oneOf(['Always', 'Never', 'IfNotPresent']),
    securityContext: opaque,
    stdin: bool,
    stdinOnce: bool,
    tty: bool,
  },
  { required: ['name', 'image'] },
)

const podSpec = obj(
  {
    containers: arr(container, 1),
    initContainers: arr(container),
    ephemeralContainers: arr(opaque),
    restartPolicy: oneOf(['Always', 'OnFailure', 'Never']),
    terminationGracePeriodSeconds: int(0),
    activeDeadlineSeconds: int(1),
    dnsPolicy: oneOf(['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None']),
    dnsConfig: opaque,
    nodeSelector: { t: 'map', key: 'qualified-name', value: 'label-value' },
    serviceAccountName: str('dns1123-subdomain'),
    serviceAccount: str('dns1123-subdomain'),
    automountServiceAccountToken: bool,
    nodeName: str('dns1123-subdomain'),
    hostNetwork: bool,
    hostPID: bool,
    hostIPC: bool,
    hostUsers: bool,
    shareProcessNamespace: bool,
    securityContext: opaque,
    imagePullSecrets: arr(obj({ name: str('dns1123-subdomain') })),
    hostname: str('dns1123-label'),
    subdomain: str('dns1123-label'),
    setHostnameAsFQDN: bool,
    affinity: opaque,
    schedulerName: str(),
    tolerations: arr(opaque),
    hostAliases: arr(opaque),
    priorityClassName: str(),
    priority: int(),
    preemptionPolicy: oneOf(['PreemptLowerPriority', 'Never']),
    readinessGates: arr(opaque),
    runtimeClassName: str(),
    enableServiceLinks: bool,
    overhead: opaque,
    topologySpreadConstraints: arr(opaque),
    os: obj({ name: oneOf(['linux', 'windows']) }),
    schedulingGates: arr(opaque),
    resourceClaims: arr(opaque),
    resources: opaque,
    volumes: arr(opaque),
  },
  {
    required: ['containers'],
    rules: [
      (s) => {
        const names = [...(s.containers ?? []), ...(s.initContainers ?? [])].map((c: any) => c?.name)
        const dup = names.find((n, i) => n !== undefined && names.indexOf(n) !== i)
        return dup ? [['containers', `container name "${dup}" is used twice`]] : []
      },
    ],
  },
)

const servicePort = obj(
  {
    name: str('dns1123-label'),
    port: PORT,
    targetPort: any,
    protocol: oneOf(['TCP', 'UDP', 'SCTP']),
    appProtocol: str(),
    nodePort: PORT,
  },
  { required: ['port'] },
)

const serviceSpec = obj({
  type: oneOf(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']),
  selector: { t: 'map', key: 'qualified-name', value: 'label-value' },
  ports: arr(servicePort),
  clusterIP: str(),
  publishNotReadyAddresses: bool,
  sessionAffinity: oneOf(['None', 'ClientIP']),
})

// ---- ValidatingAdmissionPolicy and its binding (admissionregistration.k8s.io/v1)

const admissionRule = obj(
  {
    apiGroups: strings(),
    apiVersions: strings(),
    operations: arr(oneOf(['*', 'CREATE', 'UPDATE', 'DELETE', 'CONNECT'])),
    resources: strings(),
    resourceNames: strings(),
    scope: oneOf(['*', 'Cluster', 'Namespaced']),
  },
  { required: ['apiGroups', 'apiVersions', 'operations', 'resources'] },
)
const matchResources = obj({
  namespaceSelector: labelSelector,
  objectSelector: labelSelector,
  resourceRules: arr(admissionRule),
  excludeResourceRules: arr(admissionRule),
  matchPolicy: oneOf(['Exact', 'Equivalent']),
})
const celExpression = str('non-empty')
const admissionPolicySpec = obj(
  {
    paramKind: obj({ apiVersion: str('non-empty'), kind: str('kind') }),
    matchConstraints: matchResources,
    validations: arr(
      obj(
        {
          expression: celExpression,
          message: str(),
          messageExpression: celExpression,
          reason: oneOf(['Unauthorized', 'Forbidden', 'Invalid', 'RequestEntityTooLarge']),
        },
        { required: ['expression'] },
      ),
    ),
    failurePolicy: oneOf(['Ignore', 'Fail']),
    auditAnnotations: arr(opaque),
    matchConditions: arr(
      obj({ name: str('qualified-name'), expression: celExpression }, { required: ['name', 'expression'] }),
    ),
    variables: arr(obj({ name: str('non-empty'), expression: celExpression }, { required: ['name', 'expression'] })),
  },
  { required: ['matchConstraints'] },
)
const admissionBindingSpec = obj(
  {
    policyName: str('dns1123-subdomain'),
    paramRef: opaque,
    matchResources,
    validationActions: arr(oneOf(['Deny', 'Warn', 'Audit']), 1),
  },
  { required: ['policyName', 'validationActions'] },
)

// ---------------------------------------------------------------------------------------------------------
// Kinds

interface KindSchema {
  apiVersion: string
  namespaced: boolean
  /** The format Kubernetes requires of metadata.name for this kind. */
  nameFormat: Format
  spec?: Spec
  /** Checks that span the whole object (e.g. names derived from this one). */
  rules?: Array<(object: KubeObject) => string[]>
}

// Istio names the Gateway's Deployment and Service "<gateway>-istio"; a Service name must be a DNS-1035 label.
const istioGatewayServiceName = (object: KubeObject): string[] => {
  const name = object.metadata?.name
  if (typeof name !== 'string' || object.spec?.gatewayClassName !== 'istio') return []
  const problem = checkFormat('dns1035-label', `${name}-istio`)
  return problem
    ? [`metadata.name: Istio creates a Service named "${name}-istio" for this Gateway, and ${problem}`]
    : []
}

export const SCHEMAS: Record<string, KindSchema> = {
  Gateway: {
    apiVersion: 'gateway.networking.k8s.io/v1',
    namespaced: true,
    nameFormat: 'dns1123-subdomain',
    spec: gatewaySpec,
    rules: [istioGatewayServiceName],
  },
  HTTPRoute: {
    apiVersion: 'gateway.networking.k8s.io/v1',
    namespaced: true,
    nameFormat: 'dns1123-subdomain',
    spec: httpRouteSpec,
  },
  NetworkPolicy: {
    apiVersion: 'networking.k8s.io/v1',
    namespaced: true,
    nameFormat: 'dns1123-subdomain',
    spec: networkPolicySpec,
  },
  AuthorizationPolicy: {
    apiVersion: 'security.istio.io/v1',
    namespaced: true,
    nameFormat: 'dns1123-subdomain',
    spec: authorizationPolicySpec,
  },
  Pod: { apiVersion: 'v1', namespaced: true, nameFormat: 'dns1123-subdomain', spec: podSpec },
  ValidatingAdmissionPolicy: {
    apiVersion: 'admissionregistration.k8s.io/v1',
    namespaced: false,
    nameFormat: 'dns1123-subdomain',
    spec: admissionPolicySpec,
  },
  ValidatingAdmissionPolicyBinding: {
    apiVersion: 'admissionregistration.k8s.io/v1',
    namespaced: false,
    nameFormat: 'dns1123-subdomain',
    spec: admissionBindingSpec,
  },
  Namespace: { apiVersion: 'v1', namespaced: false, nameFormat: 'dns1123-label', spec: obj({ finalizers: strings() }) },
  // What probes create besides their pods: a Service for the manager's pods, an impostor's namespace and account.
  Service: { apiVersion: 'v1', namespaced: true, nameFormat: 'dns1035-label', spec: serviceSpec },
  ServiceAccount: { apiVersion: 'v1', namespaced: true, nameFormat: 'dns1123-subdomain' },
}

const METADATA_FIELDS = new Set([
  'name',
  'generateName',
  'namespace',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
])
const TOP_LEVEL_FIELDS = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status'])
const MAX_ANNOTATIONS_BYTES = 256 * 1024

// ---------------------------------------------------------------------------------------------------------
// The walker

const typeName = (value: unknown) =>
  value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a map' : `a ${typeof value}`
const join = (path: string, field: string) => (field === '' ? path : path ? `${path}.${field}` : field)

function walk(spec: Spec, value: unknown, path: string, problems: string[]): void {
  const at = (message: string) => problems.push(`${path}: ${message}`)
  if (value === undefined) return
  switch (spec.t) {
    case 'any':
      return
    case 'string': {
      if (typeof value !== 'string') return void at(`expected a string, got ${typeName(value)}`)
      if (spec.enum && !spec.enum.includes(value)) return void at(`"${value}" is not one of ${spec.enum.join(', ')}`)
      if (spec.maxLength !== undefined && value.length > spec.maxLength)
        return void at(`longer than ${spec.maxLength} characters`)
      const problem = spec.format && checkFormat(spec.format, value)
      if (problem) at(problem)
      return
    }
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value))
        return void at(`expected an integer, got ${typeName(value)} ${JSON.stringify(value)}`)
      if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
        at(`${value} is outside ${spec.min ?? '…'}–${spec.max ?? '…'}`)
      }
      return
    case 'int-or-string':
      if (typeof value === 'number') return walk({ t: 'int', min: spec.min, max: spec.max }, value, path, problems)
      if (typeof value === 'string') return walk({ t: 'string', format: spec.format }, value, path, problems)
      return void at(`expected a number or a name, got ${typeName(value)}`)
    case 'bool':
      if (typeof value !== 'boolean') at(`expected true or false, got ${typeName(value)}`)
      return
    case 'array':
      if (!Array.isArray(value)) return void at(`expected a list, got ${typeName(value)}`)
      if (spec.min !== undefined && value.length < spec.min)
        at(`needs at least ${spec.min} item${spec.min === 1 ? '' : 's'}`)
      if (spec.max !== undefined && value.length > spec.max)
        at(`has ${value.length} items; at most ${spec.max} are allowed`)
      value.forEach((item, i) => walk(spec.items, item, `${path}[${i}]`, problems))
      return
    case 'map':
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return void at(`expected a map, got ${typeName(value)}`)
      for (const [key, item] of Object.entries(value)) {
        const keyProblem = checkFormat(spec.key, key)
        if (keyProblem) problems.push(`${path}: key ${keyProblem}`)
        if (typeof item !== 'string') problems.push(`${path}.${key}: expected a string, got ${typeName(item)}`)
        else if (spec.value) {
          const valueProblem = checkFormat(spec.value, item)
          if (valueProblem) problems.push(`${path}.${key}: ${valueProblem}`)
        }
      }
      return
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return void at(`expected a map, got ${typeName(value)}`)
      const record = value as Record<string, unknown>
      for (const field of spec.required ?? []) {
        if (record[field] === undefined || record[field] === null) problems.push(`${join(path, field)}: required`)
      }
      for (const [field, item] of Object.entries(record)) {
        const fieldSpec = spec.fields[field]
        if (fieldSpec) walk(fieldSpec, item, join(path, field), problems)
        else if (!spec.open) problems.push(`${join(path, field)}: unknown field`)
      }
      for (const rule of spec.rules ?? [])
        for (const [field, message] of rule(record)) problems.push(`${join(path, field)}: ${message}`)
      return
    }
  }
}

function checkMetadata(object: KubeObject, schema: KindSchema | undefined, problems: string[]): void {
  const metadata = object.metadata as unknown
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
    return void problems.push('metadata: required')
  const m = metadata as Record<string, unknown>
  for (const field of Object.keys(m)) if (!METADATA_FIELDS.has(field)) problems.push(`metadata.${field}: unknown field`)
  if (typeof m.name !== 'string' || !m.name) problems.push('metadata.name: required')
  else {
    const problem = checkFormat(schema?.nameFormat ?? 'dns1123-subdomain', m.name)
    if (problem) problems.push(`metadata.name: ${problem}`)
  }
  if (schema?.namespaced) {
    if (typeof m.namespace !== 'string' || !m.namespace)
      problems.push('metadata.namespace: required (the runbook never relies on the current namespace)')
    else {
      const problem = checkFormat('dns1123-label', m.namespace)
      if (problem) problems.push(`metadata.namespace: ${problem}`)
    }
  } else if (schema && m.namespace !== undefined) problems.push(`metadata.namespace: ${object.kind} is not namespaced`)
  walk({ t: 'map', key: 'qualified-name', value: 'label-value' }, m.labels, 'metadata.labels', problems)
  walk({ t: 'map', key: 'qualified-name' }, m.annotations, 'metadata.annotations', problems)
  if (m.annotations && typeof m.annotations === 'object') {
    const size = Object.entries(m.annotations).reduce(
      (sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(String(v)),
      0,
    )
    if (size > MAX_ANNOTATIONS_BYTES)
      problems.push(`metadata.annotations: ${size} bytes in total; at most ${MAX_ANNOTATIONS_BYTES} are allowed`)
  }
}

/** Every problem with one manifest, each as "<field path>: <what is wrong>"; empty when it is fine. */
export function validateManifest(object: KubeObject): string[] {
  const problems: string[] = []
  if (typeof object !== 'object' || object === null || Array.isArray(object))
    return [`expected an object, got ${typeName(object)}`]
  const schema = SCHEMAS[object.kind]
  if (!schema) problems.push(`kind: no schema for kind "${object.kind}" (known: ${Object.keys(SCHEMAS).join(', ')})`)
  else if (object.apiVersion !== schema.apiVersion)
    problems.push(
      `apiVersion: "${object.apiVersion}" is not ${schema.apiVersion} (the version of ${object.kind} this runbook applies)`,
    )
  for (const field of Object.keys(object))
    if (!TOP_LEVEL_FIELDS.has(field)) problems.push(`${field}: unknown top-level field`)
  checkMetadata(object, schema, problems)
  if (schema?.spec) {
    if (object.spec === undefined) problems.push('spec: required')
    else walk(schema.spec, object.spec, 'spec', problems)
  }
  for (const rule of schema?.rules ?? []) problems.push(...rule(object))
  return problems
}

/** "Kind namespace/name", for messages. */
export const describeObject = (object: KubeObject) =>
  `${object?.kind ?? '(no kind)'} ${object?.metadata?.namespace ? `${object.metadata.namespace}/` : ''}${object?.metadata?.name ?? '(no name)'}`

/**
 * Throws a UsageError (exit 2, before anything is applied) listing every problem of every object, each with
 * the object's kind and name and the field path.
 */
export function assertValidManifests(objects: KubeObject[]): void {
  const lines = objects.flatMap((object) =>
    validateManifest(object).map((problem) => `  ${describeObject(object)}: ${problem}`),
  )
  if (lines.length) {
    throw new UsageError(
      `${lines.length} problem${lines.length === 1 ? '' : 's'} in the rendered manifests; nothing was applied (check the flags or --config values that set these fields):\n${lines.join('\n')}`,
    )
  }
}
