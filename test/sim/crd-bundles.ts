// CustomResourceDefinitions the simulated world serves: the Gateway API release bundles (standard and
// experimental channel, as the mirror publishes them) and the CRDs `istioctl install` creates.
// Schemas are compact and hand-written: enough structure for kubectl, unknown fields preserved.
import { stringify } from 'yaml'
import type { KubeObject } from './store.ts'

export const GATEWAY_API_VERSIONS = ['v1.3.0', 'v1.4.0']
export type Channel = 'standard' | 'experimental'

interface CrdSpec {
  group: string
  kind: string
  plural: string
  scope: 'Namespaced' | 'Cluster'
  shortNames?: string[]
  categories?: string[]
  versions: { name: string; served?: boolean; storage?: boolean }[]
  columns?: { name: string; type: string; jsonPath: string; description?: string; priority?: number }[]
  spec?: Record<string, any> // openAPI properties of .spec
  required?: string[]
}

const AGE = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }
const preserved = (description: string) => ({
  type: 'object',
  description,
  'x-kubernetes-preserve-unknown-fields': true,
})
const str = (description: string) => ({ type: 'string', description })
const list = (description: string, items: any = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }) => ({
  type: 'array',
  description,
  items,
})

function crdObject(
  c: CrdSpec,
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> },
): KubeObject {
  const schema = {
    type: 'object',
    description: `${c.kind} (simulated schema).`,
    properties: {
      apiVersion: str('APIVersion of this representation of the object.'),
      kind: str('Kind of the REST resource this object represents.'),
      metadata: { type: 'object' },
      spec: {
        type: 'object',
        description: `Desired state of the ${c.kind}.`,
        properties: c.spec ?? {},
        required: c.required,
        'x-kubernetes-preserve-unknown-fields': true,
      },
      status: preserved(`Observed state of the ${c.kind}, written by its controller.`),
    },
    ...(c.required ? { required: ['spec'] } : {}),
  }
  if (!c.required) delete (schema.properties.spec as any).required
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${c.plural}.${c.group}`, ...metadata },
    spec: {
      group: c.group,
      names: {
        kind: c.kind,
        listKind: `${c.kind}List`,
        plural: c.plural,
        singular: c.kind.toLowerCase(),
        ...(c.shortNames ? { shortNames: c.shortNames } : {}),
        ...(c.categories ? { categories: c.categories } : {}),
      },
      scope: c.scope,
      versions: c.versions.map((v, i) => ({
        name: v.name,
        served: v.served ?? true,
        storage: v.storage ?? i === 0,
        schema: { openAPIV3Schema: schema },
        subresources: { status: {} },
        ...(c.columns ? { additionalPrinterColumns: [...c.columns, AGE] } : {}),
      })),
    },
  }
}

const routeSpec = {
  parentRefs: list('Gateways (or other parents) this route attaches to.'),
  hostnames: list('Host names matched against the Host header.', { type: 'string' }),
  rules: list('Matching rules and the backends they forward to.'),
}

function gatewayApiCrds(channel: Channel, version: string): CrdSpec[] {
  const g = 'gateway.networking.k8s.io'
  const cat = ['gateway-api']
  const experimental = channel === 'experimental'
  const crds: CrdSpec[] = [
    {
      group: g,
      kind: 'GatewayClass',
      plural: 'gatewayclasses',
      scope: 'Cluster',
      shortNames: ['gc'],
      categories: cat,
      versions: [{ name: 'v1' }, { name: 'v1beta1', storage: false }],
      columns: [
        { name: 'Controller', type: 'string', jsonPath: '.spec.controllerName' },
        { name: 'Accepted', type: 'string', jsonPath: '.status.conditions[?(@.type=="Accepted")].status' },
        { name: 'Description', type: 'string', jsonPath: '.spec.description', priority: 1 },
      ],
      spec: {
        controllerName: str('The controller that manages Gateways of this class.'),
        description: str('Free-form description.'),
        parametersRef: preserved('Implementation-specific parameters.'),
      },
      required: ['controllerName'],
    },
    {
      group: g,
      kind: 'Gateway',
      plural: 'gateways',
      scope: 'Namespaced',
      shortNames: ['gtw'],
      categories: cat,
      versions: [{ name: 'v1' }, { name: 'v1beta1', storage: false }],
      columns: [
        { name: 'Class', type: 'string', jsonPath: '.spec.gatewayClassName' },
        { name: 'Address', type: 'string', jsonPath: '.status.addresses[*].value' },
        { name: 'Programmed', type: 'string', jsonPath: '.status.conditions[?(@.type=="Programmed")].status' },
      ],
      spec: {
        gatewayClassName: str('Name of the GatewayClass this Gateway belongs to.'),
        listeners: list('Logical endpoints bound on this Gateway’s addresses.'),
        addresses: list('Requested addresses.'),
        infrastructure: preserved('Labels and annotations for generated resources.'),
      },
      required: ['gatewayClassName', 'listeners'],
    },
    {
      group: g,
      kind: 'HTTPRoute',
      plural: 'httproutes',
      scope: 'Namespaced',
      categories: cat,
      versions: [{ name: 'v1' }, { name: 'v1beta1', storage: false }],
      columns: [{ name: 'Hostnames', type: 'string', jsonPath: '.spec.hostnames' }],
      spec: routeSpec,
    },
    {
      group: g,
      kind: 'GRPCRoute',
      plural: 'grpcroutes',
      scope: 'Namespaced',
      categories: cat,
      versions: [{ name: 'v1' }],
      columns: [{ name: 'Hostnames', type: 'string', jsonPath: '.spec.hostnames' }],
      spec: routeSpec,
    },
    {
      group: g,
      kind: 'ReferenceGrant',
      plural: 'referencegrants',
      scope: 'Namespaced',
      shortNames: ['refgrant'],
      categories: cat,
      versions: [{ name: 'v1beta1' }],
      spec: {
        from: list('Trusted namespaces and kinds that may refer to objects here.'),
        to: list('Kinds that may be referred to.'),
      },
    },
    {
      group: g,
      kind: 'BackendTLSPolicy',
      plural: 'backendtlspolicies',
      scope: 'Namespaced',
      shortNames: ['btlspolicy'],
      categories: cat,
      versions: [{ name: 'v1' }, { name: 'v1alpha3', served: experimental, storage: false }],
      spec: {
        targetRefs: list('Backends this policy applies to.'),
        validation: preserved('How the backend certificate is validated.'),
      },
    },
  ]
  if (experimental) {
    for (const [kind, plural, versions] of [
      ['TCPRoute', 'tcproutes', [{ name: 'v1alpha2' }]],
      ['TLSRoute', 'tlsroutes', [{ name: 'v1alpha3' }, { name: 'v1alpha2', storage: false }]],
      ['UDPRoute', 'udproutes', [{ name: 'v1alpha2' }]],
    ] as const) {
      crds.push({
        group: g,
        kind,
        plural,
        scope: 'Namespaced',
        categories: cat,
        versions: [...versions],
        spec: routeSpec,
      })
    }
    const x = 'gateway.networking.x-k8s.io'
    crds.push(
      {
        group: x,
        kind: 'XBackendTrafficPolicy',
        plural: 'xbackendtrafficpolicies',
        scope: 'Namespaced',
        shortNames: ['xbtrafficpolicy'],
        categories: cat,
        versions: [{ name: 'v1alpha1' }],
        spec: { targetRefs: list('Backends this policy applies to.') },
      },
      {
        group: x,
        kind: 'XListenerSet',
        plural: 'xlistenersets',
        scope: 'Namespaced',
        shortNames: ['lset'],
        categories: cat,
        versions: [{ name: 'v1alpha1' }],
        spec: { parentRef: preserved('The Gateway these listeners join.'), listeners: list('Additional listeners.') },
      },
      {
        group: x,
        kind: 'XMesh',
        plural: 'xmeshes',
        scope: 'Cluster',
        shortNames: ['mesh'],
        categories: cat,
        versions: [{ name: 'v1alpha1' }],
        spec: { controllerName: str('The mesh implementation.') },
      },
    )
  }
  void version
  return crds
}

/** The CRD objects of one Gateway API release bundle. */
export function gatewayApiBundle(version: string, channel: Channel): KubeObject[] {
  return gatewayApiCrds(channel, version).map((c) =>
    crdObject(c, {
      annotations: {
        'api-approved.kubernetes.io': 'https://github.com/kubernetes-sigs/gateway-api/pull/3328',
        'gateway.networking.k8s.io/bundle-version': version,
        'gateway.networking.k8s.io/channel': channel,
      },
    }),
  )
}

/** The bundle as the release's `<channel>-install.yaml`: a multi-document YAML file. */
export function gatewayApiBundleYaml(version: string, channel: Channel): string {
  const header = `# Gateway API ${channel} channel install, ${version} (generated by the Gthulhu simulated cluster)\n`
  return (
    header +
    gatewayApiBundle(version, channel)
      .map((o) => '---\n' + stringify(o, { lineWidth: 0 }))
      .join('')
  )
}

/** The CRDs `istioctl install` creates (base chart), labelled as Istio labels them. */
export function istioCrds(): KubeObject[] {
  const labels = (group: string) => ({
    app: 'istio-pilot',
    chart: 'istio',
    heritage: 'Tiller',
    release: 'istio',
    ...(group.startsWith('security')
      ? { istio: 'security' }
      : group.startsWith('telemetry')
        ? { istio: 'telemetry' }
        : {}),
  })
  const policyColumns = (action: boolean) =>
    action ? [{ name: 'Action', type: 'string', jsonPath: '.spec.action', description: 'The operation to take.' }] : []
  const sec = 'security.istio.io'
  const net = 'networking.istio.io'
  const v1Trio = [{ name: 'v1' }, { name: 'v1alpha3', storage: false }, { name: 'v1beta1', storage: false }]
  const specs: CrdSpec[] = [
    {
      group: sec,
      kind: 'AuthorizationPolicy',
      plural: 'authorizationpolicies',
      scope: 'Namespaced',
      shortNames: ['ap'],
      versions: [{ name: 'v1' }, { name: 'v1beta1', storage: false }],
      columns: policyColumns(true),
      spec: {
        selector: preserved('Workloads the policy applies to.'),
        targetRefs: list('Gateways or Services the policy attaches to (enforced by a waypoint or gateway).'),
        action: str('ALLOW, DENY, AUDIT or CUSTOM.'),
        rules: list('Rules: from sources, to operations, when conditions.'),
      },
    },
    {
      group: sec,
      kind: 'PeerAuthentication',
      plural: 'peerauthentications',
      scope: 'Namespaced',
      shortNames: ['pa'],
      versions: [{ name: 'v1' }, { name: 'v1beta1', storage: false }],
      columns: [{ name: 'Mode', type: 'string', jsonPath: '.spec.mtls.mode' }],
      spec: { mtls: preserved('Mutual TLS settings.') },
    },
    {
      group: sec,
      kind: 'RequestAuthentication',
      plural: 'requestauthentications',
      scope: 'Namespaced',
      shortNames: ['ra'],
      versions: [{ name: 'v1' }, { name: 'v1beta1', storage: false }],
      spec: { jwtRules: list('JWT issuers accepted.') },
    },
    {
      group: net,
      kind: 'DestinationRule',
      plural: 'destinationrules',
      scope: 'Namespaced',
      shortNames: ['dr'],
      versions: v1Trio,
      columns: [{ name: 'Host', type: 'string', jsonPath: '.spec.host' }],
    },
    { group: net, kind: 'Gateway', plural: 'gateways', scope: 'Namespaced', shortNames: ['gw'], versions: v1Trio },
    {
      group: net,
      kind: 'ServiceEntry',
      plural: 'serviceentries',
      scope: 'Namespaced',
      shortNames: ['se'],
      versions: v1Trio,
      columns: [{ name: 'Hosts', type: 'string', jsonPath: '.spec.hosts' }],
    },
    { group: net, kind: 'Sidecar', plural: 'sidecars', scope: 'Namespaced', versions: v1Trio },
    {
      group: net,
      kind: 'VirtualService',
      plural: 'virtualservices',
      scope: 'Namespaced',
      shortNames: ['vs'],
      versions: v1Trio,
      columns: [
        { name: 'Gateways', type: 'string', jsonPath: '.spec.gateways' },
        { name: 'Hosts', type: 'string', jsonPath: '.spec.hosts' },
      ],
    },
    {
      group: net,
      kind: 'WorkloadEntry',
      plural: 'workloadentries',
      scope: 'Namespaced',
      shortNames: ['we'],
      versions: v1Trio,
    },
    {
      group: net,
      kind: 'WorkloadGroup',
      plural: 'workloadgroups',
      scope: 'Namespaced',
      shortNames: ['wg'],
      versions: v1Trio,
    },
    { group: net, kind: 'EnvoyFilter', plural: 'envoyfilters', scope: 'Namespaced', versions: [{ name: 'v1alpha3' }] },
    { group: net, kind: 'ProxyConfig', plural: 'proxyconfigs', scope: 'Namespaced', versions: [{ name: 'v1beta1' }] },
    {
      group: 'telemetry.istio.io',
      kind: 'Telemetry',
      plural: 'telemetries',
      scope: 'Namespaced',
      shortNames: ['telemetry'],
      versions: [{ name: 'v1alpha1' }, { name: 'v1', storage: false }],
    },
    {
      group: 'extensions.istio.io',
      kind: 'WasmPlugin',
      plural: 'wasmplugins',
      scope: 'Namespaced',
      versions: [{ name: 'v1alpha1' }],
    },
  ]
  return specs.map((c) => {
    const crd = crdObject(
      { ...c, categories: ['istio-io', `${c.group.split('.')[0]}-istio-io`] },
      { labels: labels(c.group), annotations: { 'helm.sh/resource-policy': 'keep' } },
    )
    return crd
  })
}
