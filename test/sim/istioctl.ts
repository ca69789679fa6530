// Server side of the fake istioctl (POST /sim/istioctl {args, version}): the subcommands the runbook
// uses, acting on the store the way the real tool acts on a cluster, and answering {stdout, stderr, code}.
import type { KubeObject, ResourceType, Store } from './store.ts'
import type { UserInfo } from './authn.ts'
import { escalationProblem, forbidden, RBAC_GROUP, type RbacAuthorizer } from './rbac.ts'
import {
  appliedObjects,
  INSTALL_READS,
  istioRbacObjects,
  PRECHECK_CRD_LIST,
  PRECHECK_CREATE,
  PRECHECK_INFORMERS,
  PRUNE_LISTS,
  TAG_OBJECTS,
  TAG_READS,
  VERSION_DIFF_READ,
  waitReads,
  waypointApplyReads,
  waypointEnrol,
  waypointGet,
  waypointDelete,
  waypointList,
  ztunnelRequests,
  type AppliedObject,
  type IstioRequest,
} from './istioctl-requests.ts'
import type { Controllers } from './controllers.ts'
import { admit } from './builtin-types.ts'
import { allocateNodePort } from './node-ports.ts'
import { istioCrds } from './crd-bundles.ts'
import { workload } from './seed.ts'
import {
  ClusterView,
  GATEWAY_GROUP,
  ISTIO_NAMESPACE,
  USE_WAYPOINT_LABEL,
  DATAPLANE_LABEL,
  conditionTrue,
  getOf,
  isEnrolled,
  isPodReady,
  listOf,
  mustTypeOf,
  typeOf,
  type Cni,
  type KindName,
} from './cluster-view.ts'

export interface IstioctlContext {
  store: Store
  controllers: Controllers
  kubernetesVersion: string
  cni: Cni
  /** How long install / waypoint --wait wait for readiness. */
  waitTimeoutMs?: number
  /** Authorizes what each command asks of the API server as the calling user; absent: everything is allowed. */
  rbac?: RbacAuthorizer
}

export interface IstioctlResult {
  stdout: string
  stderr: string
  code: number
}

/** Output written before the command finishes (a long wait), and the client going away. */
export interface IstioctlStream {
  write(stdout: string): void
  signal?: AbortSignal
  /** Who runs the command (the kubeconfig's credentials); absent: the cluster admin. */
  user?: UserInfo
}

/** The calling user's view of the API: whether each request the real istioctl would make is allowed. */
class Caller {
  constructor(
    private readonly store: Store,
    private readonly rbac: RbacAuthorizer | undefined,
    readonly user: UserInfo | undefined,
  ) {}

  /** The API server's refusal of a request, or undefined when it is allowed. */
  refused(request: IstioRequest): string | undefined {
    if (!this.rbac || !this.user) return undefined
    // A Namespace's own path (/api/v1/namespaces/<n>) puts the request in that namespace (requestinfo.go).
    const namespace = request.resource === 'namespaces' && request.name ? request.name : request.namespace
    const attributes = { user: this.user, ...request, ...(namespace ? { namespace } : {}) }
    return this.rbac.authorize(attributes).allowed ? undefined : forbidden(attributes).message
  }

  /** Whether the user may do this, asked with a SelfSubjectAccessReview (the review itself is the request). */
  mayDo(request: IstioRequest): boolean {
    return !this.rbac || !this.user || this.rbac.review({ user: this.user, ...request }).allowed
  }

  firstRefusal(requests: IstioRequest[]): string | undefined {
    for (const request of requests) {
      const refusal = this.refused(request)
      if (refusal) return refusal
    }
    return undefined
  }

  /** Server-side apply of an object: patch, a create of that name when it is new, and RBAC's escalation check. */
  refusedApply(o: AppliedObject, rbacObject?: KubeObject): string | undefined {
    const named = {
      group: o.group,
      resource: o.resource,
      name: o.name,
      ...(o.namespace ? { namespace: o.namespace } : {}),
    }
    const rt = this.typeOf(o)
    const exists = !!rt && !!this.store.get(rt, o.namespace, o.name)
    const refusal =
      this.refused({ verb: 'patch', ...named }) ?? (exists ? undefined : this.refused({ verb: 'create', ...named }))
    if (refusal || !rbacObject || !this.rbac || !this.user) return refusal
    const problem = escalationProblem(this.rbac, this.user, o.resource, rbacObject)
    return problem && `${o.resource}.${o.group} ${JSON.stringify(o.name)} is forbidden: ${problem}`
  }

  typeOf(o: { group: string; resource: string }): ResourceType | undefined {
    return this.store.allTypes().find((rt) => rt.group === o.group && rt.plural === o.resource)
  }
}

const objectName = (o: AppliedObject) => `${o.kind}/${o.namespace ?? ''}/${o.name}`

const ok = (stdout: string): IstioctlResult => ({ stdout, stderr: '', code: 0 })
const failure = (stderr: string, code = 1, stdout = ''): IstioctlResult => ({
  stdout,
  stderr: stderr.endsWith('\n') ? stderr : stderr + '\n',
  code,
})

/** istioctl's own Kubernetes floor (MinK8SVersion): 1.28 → 1.29, 1.29 → 1.30 (istioctl/pkg/install/k8sversion/version.go). */
export function istioctlKubernetesFloor(istioVersion: string): number {
  return Number(istioVersion.split('.')[1]) + 1
}

/** Upstream defaults of istioctl's own waits: install --readiness-timeout 300s, waypoint --waypoint-timeout 90s. */
const READINESS_TIMEOUT_MS = 300_000
const WAYPOINT_TIMEOUT_MS = 90_000

/** A Go duration as cobra's DurationVar reads it: 90s, 5m0s, 1m30s, 500ms, 1h. */
export function parseGoDuration(text: string): number | undefined {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)]
  if (parts.length === 0 || parts.map((m) => m[0]).join('') !== text) return undefined
  return parts.reduce((total, m) => total + Number(m[1]) * units[m[2]], 0)
}

interface Parsed {
  positional: string[]
  flags: Map<string, string | true>
  /** Every `--set key=value`, in order (the flag repeats). */
  sets: string[]
}

const VALUE_FLAGS = new Set([
  '--workload-namespace',
  '--node',
  '-n',
  '--namespace',
  '-c',
  '--kubeconfig',
  '--context',
  '-o',
  '--output',
  '--name',
  '--set',
  '-f',
  '--filename',
  '-i',
  '--istioNamespace',
  '--revision',
  '-r',
  '--for',
  '--timeout',
  '--waypoint-timeout',
  '--readiness-timeout',
])
const ALIASES: Record<string, string> = {
  '-n': '--namespace',
  '-o': '--output',
  '-y': '--skip-confirmation',
  '-c': '--kubeconfig',
  '-f': '--filename',
  '-r': '--revision',
  '-A': '--all-namespaces',
  '-i': '--istioNamespace',
}

function parse(args: string[]): Parsed {
  const positional: string[] = []
  const flags = new Map<string, string | true>()
  const sets: string[] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (!a.startsWith('-')) {
      positional.push(a)
      continue
    }
    const eq = a.indexOf('=')
    const name = ALIASES[eq > 0 ? a.slice(0, eq) : a] ?? (eq > 0 ? a.slice(0, eq) : a)
    if (eq > 0) flags.set(name, a.slice(eq + 1))
    else if (VALUE_FLAGS.has(a)) flags.set(name, args[++i] ?? '')
    else flags.set(name, true)
    if (name === '--set') sets.push(String(flags.get(name)))
  }
  return { positional, flags, sets }
}

/** Columns as Go's tabwriter pads them (`padding` spaces after the widest cell; the waypoint commands use 5). */
function table(rows: string[][], padding = 3): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)))
  return rows
    .map(
      (r) =>
        r
          .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] + padding)))
          .join('')
          .trimEnd() + '\n',
    )
    .join('')
}

export class IstioctlServer {
  constructor(private readonly ctx: IstioctlContext) {}

  private get store(): Store {
    return this.ctx.store
  }

  async run(args: string[], clientVersion: string, stream?: IstioctlStream): Promise<IstioctlResult> {
    const p = parse(args)
    const [command, sub] = p.positional
    const caller = new Caller(this.store, this.ctx.rbac, stream?.user)
    try {
      switch (command) {
        case 'version':
          return this.version(clientVersion, caller)
        case 'x':
        case 'experimental':
          if (sub === 'precheck') return this.precheck(clientVersion, caller)
          return failure(`Error: unknown command "${sub ?? ''}" for "istioctl experimental"`)
        case 'install':
          return await this.install(p, clientVersion, caller)
        case 'uninstall':
          return this.uninstall(p, caller)
        case 'waypoint':
          return await this.waypoint(p, caller, stream)
        case 'ztunnel-config':
          if (sub === 'workloads' || sub === 'workload') return this.ztunnelWorkloads(p, caller)
          return failure(`Error: unknown command "${sub ?? ''}" for "istioctl ztunnel-config"`)
        default:
          return failure(`Error: unknown command "${command}" for "istioctl"\nRun 'istioctl --help' for usage.`)
      }
    } catch (error) {
      return failure(`Error: ${(error as Error).message}`)
    }
  }

  private version(clientVersion: string, caller: Caller): IstioctlResult {
    // The remote version lists istiod's pods (then asks each through a port-forward).
    const refusal = caller.refused({ verb: 'list', group: '', resource: 'pods', namespace: ISTIO_NAMESPACE })
    if (refusal) return ok(`Istio is not present in the cluster: ${refusal}\nclient version: ${clientVersion}\n`)
    const istiod = getOf(this.store, 'deployment', ISTIO_NAMESPACE, 'istiod')
    if (!istiod)
      return ok(
        `Istio is not present in the cluster: no running Istio pods in namespace "${ISTIO_NAMESPACE}"\nclient version: ${clientVersion}\n`,
      )
    const plane = String(istiod.spec.template.spec.containers[0].image).split(':').pop()
    const proxies = listOf(this.store, 'pod').filter(
      (p) => isEnrolled(p) || p.metadata.labels?.['gateway.networking.k8s.io/gateway-name'],
    ).length
    return ok(
      `client version: ${clientVersion}\ncontrol plane version: ${plane}\ndata plane version: ${plane} (${proxies} proxies)\n`,
    )
  }

  private kubernetesMinor(): number {
    return Number(this.ctx.kubernetesVersion.split('.')[1])
  }

  /**
   * `x precheck` (istioctl/pkg/precheck/precheck.go checkServerVersion): the only version finding is a cluster
   * below istioctl's floor (IST0142, an Error). Findings go to stdout, the summary error to stderr with exit 1;
   * a clean run says so on stderr.
   */
  private precheck(clientVersion: string, caller: Caller): IstioctlResult {
    const floor = istioctlKubernetesFloor(clientVersion)
    const findings: string[] = []
    if (this.kubernetesMinor() < floor)
      findings.push(
        `Error [IST0142] (Cluster) The Kubernetes Version "v${this.ctx.kubernetesVersion}" is lower than the minimum version: 1.${floor}`,
      )
    // checkInstallPermissions: a SelfSubjectAccessReview per kind; a denial is an IST0141 finding.
    const review = caller.refused({
      verb: 'create',
      group: 'authorization.k8s.io',
      resource: 'selfsubjectaccessreviews',
    })
    for (const request of PRECHECK_CREATE) {
      const why = review ?? (caller.mayDo(request) ? undefined : 'permission denied')
      if (why)
        findings.push(
          `Error [IST0141] (Cluster) Missing required permission to create resource ${request.resource} (${why})`,
        )
    }
    const crds = caller.refused(PRECHECK_CRD_LIST)
    if (crds) return failure(`Error: ${crds}`)
    // Upstream a forbidden informer retries until the command is stopped; here it fails at once with the reflector's error.
    for (const { request, type } of PRECHECK_INFORMERS) {
      const refusal = caller.refused(request)
      if (refusal) return failure(`Error: failed to ${request.verb} ${type}: ${refusal}`)
    }
    if (findings.length) {
      return failure(
        'Error: Issues found when checking the cluster. Istio may not be safe to install or upgrade.\nSee https://istio.io/latest/docs/reference/config/analysis for more information about causes and resolutions.',
        1,
        `${findings.join('\n')}\n`,
      )
    }
    return {
      stdout: '',
      stderr:
        '✔ No issues found when checking the cluster. Istio is safe to install or upgrade!\n  To get started, check out https://istio.io/latest/docs/setup/getting-started/.\n',
      code: 0,
    }
  }

  // ---- install / uninstall ----

  private upsert(kind: KindName, object: KubeObject): void {
    const rt = mustTypeOf(this.store, kind)
    const existing = this.store.get(rt, object.metadata.namespace, object.metadata.name)
    if (!existing) this.store.create(rt, object)
    else
      this.store.update(rt, {
        ...existing,
        metadata: { ...existing.metadata, labels: object.metadata.labels },
        spec: object.spec,
      })
  }

  private async install(p: Parsed, version: string, caller: Caller): Promise<IstioctlResult> {
    if (!p.flags.has('--skip-confirmation')) return failure('', 1, 'Cancelled.\n')
    const setting = (key: string) =>
      p.sets
        .map((s) => s.split(/=(.*)/s))
        .filter(([k]) => k === key)
        .map(([, v]) => v)
        .pop()
    const profile = setting('profile') ?? 'default'
    // meshConfig.* lands in the mesh config istiod reads (manifests/charts/istio-control/istio-discovery/templates/configmap.yaml).
    const trustDomain = setting('meshConfig.trustDomain') ?? 'cluster.local'
    const components: Record<string, string[]> = {
      ambient: ['istiod', 'cni', 'ztunnel'],
      default: ['istiod', 'ingress'],
      demo: ['istiod', 'ingress'],
      minimal: ['istiod'],
    }
    if (!components[profile])
      return failure(
        `Error: generate config: unknown profile "${profile}"; known profiles: ${Object.keys(components).join(', ')}`,
      )
    // Below the floor istioctl only warns and goes on (operator/cmd/mesh/install.go → k8sversion.IsK8VersionSupported).
    const floor = istioctlKubernetesFloor(version)
    const warning =
      this.kubernetesMinor() < floor
        ? `\nThe Kubernetes version v${this.ctx.kubernetesVersion} is not supported by Istio ${version}. The minimum supported Kubernetes version is 1.${floor}.\nProceeding with the installation, but you might experience problems. See https://istio.io/latest/docs/releases/supported-releases/ for a list of supported versions.\n`
        : ''
    const readinessMs = this.timeoutOf(p, '--readiness-timeout', READINESS_TIMEOUT_MS)
    if (readinessMs === undefined)
      return failure(
        `Error: invalid argument "${p.flags.get('--readiness-timeout')}" for "--readiness-timeout" flag: time: invalid duration`,
      )
    const ns = ISTIO_NAMESPACE
    const refused = this.installRefusal(caller, components[profile])
    if (refused) return failure(`Error: failed to install manifests: ${refused}`, 1, warning)
    if (!getOf(this.store, 'namespace', undefined, ns)) {
      this.store.create(mustTypeOf(this.store, 'namespace'), {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } },
      })
    }
    const crdType = mustTypeOf(this.store, 'crd')
    for (const crd of istioCrds())
      if (!this.store.get(crdType, undefined, crd.metadata.name)) this.store.create(crdType, crd)

    const want = components[profile]
    const sa = (name: string) => {
      if (!getOf(this.store, 'serviceAccount', ns, name)) {
        this.store.create(mustTypeOf(this.store, 'serviceAccount'), {
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          metadata: { name, namespace: ns, labels: { 'install.operator.istio.io/owning-resource': 'installed-state' } },
        })
      }
    }
    const labelled = (o: KubeObject, extra: Record<string, string>) => {
      o.metadata.labels = {
        ...o.metadata.labels,
        ...extra,
        'operator.istio.io/component': extra.component ?? '',
        'install.operator.istio.io/owning-resource': 'installed-state',
      }
      return o
    }
    sa('istiod')
    this.writeMeshConfig(trustDomain)
    const istiod = workload(
      'Deployment',
      'istiod',
      ns,
      { app: 'istiod', istio: 'pilot' },
      {
        serviceAccountName: 'istiod',
        containers: [
          {
            name: 'discovery',
            image: `docker.io/istio/pilot:${version}`,
            ports: [8080, 15010, 15012, 15014, 15017].map((port) => ({ containerPort: port, protocol: 'TCP' })),
            env: profile === 'ambient' ? [{ name: 'PILOT_ENABLE_AMBIENT', value: 'true' }] : [],
            readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 3 },
          },
        ],
      },
    )
    this.upsert('deployment', labelled(istiod, { component: 'Pilot' }))
    await this.ensureService({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'istiod', namespace: ns, labels: { app: 'istiod', istio: 'pilot' } },
      spec: {
        selector: { app: 'istiod', istio: 'pilot' },
        ports: [
          { name: 'grpc-xds', port: 15010, protocol: 'TCP', targetPort: 15010 },
          { name: 'https-dns', port: 15012, protocol: 'TCP', targetPort: 15012 },
          { name: 'https-webhook', port: 443, protocol: 'TCP', targetPort: 15017 },
          { name: 'http-monitoring', port: 15014, protocol: 'TCP', targetPort: 15014 },
        ],
      },
    })
    const lines = ['✔ Istio core installed ⛵️', '✔ Istiod installed 🧠']
    if (want.includes('cni')) {
      sa('istio-cni')
      const cni = workload(
        'DaemonSet',
        'istio-cni-node',
        ns,
        { 'k8s-app': 'istio-cni-node' },
        {
          serviceAccountName: 'istio-cni',
          hostNetwork: true,
          containers: [
            {
              name: 'install-cni',
              image: `docker.io/istio/install-cni:${version}`,
              ports: [{ containerPort: 8000, protocol: 'TCP' }],
              readinessProbe: { httpGet: { path: '/readyz', port: 8000 } },
            },
          ],
        },
      )
      this.upsert('daemonSet', labelled(cni, { component: 'Cni' }))
      lines.push('✔ CNI installed 🪢')
    }
    if (want.includes('ztunnel')) {
      sa('ztunnel')
      const ztunnel = workload(
        'DaemonSet',
        'ztunnel',
        ns,
        { app: 'ztunnel' },
        {
          serviceAccountName: 'ztunnel',
          containers: [
            {
              name: 'istio-proxy',
              image: `docker.io/istio/ztunnel:${version}`,
              ports: [
                { containerPort: 15020, name: 'ztunnel-stats', protocol: 'TCP' },
                { containerPort: 15021, protocol: 'TCP' },
              ],
              readinessProbe: { httpGet: { path: '/healthz/ready', port: 15021 } },
            },
          ],
        },
      )
      this.upsert('daemonSet', labelled(ztunnel, { component: 'Ztunnel' }))
      lines.push('✔ Ztunnel installed 🔒️')
    }
    if (want.includes('ingress')) {
      sa('istio-ingressgateway-service-account')
      const labels = { app: 'istio-ingressgateway', istio: 'ingressgateway' }
      const gw = workload('Deployment', 'istio-ingressgateway', ns, labels, {
        serviceAccountName: 'istio-ingressgateway-service-account',
        containers: [
          {
            name: 'istio-proxy',
            image: `docker.io/istio/proxyv2:${version}`,
            ports: [15021, 8080, 8443].map((port) => ({ containerPort: port, protocol: 'TCP' })),
            readinessProbe: { httpGet: { path: '/healthz/ready', port: 15021 } },
          },
        ],
      })
      this.upsert('deployment', labelled(gw, { component: 'IngressGateways' }))
      await this.ensureService({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'istio-ingressgateway', namespace: ns, labels },
        spec: {
          type: 'LoadBalancer',
          selector: labels,
          ports: [
            { name: 'status-port', port: 15021, protocol: 'TCP', targetPort: 15021 },
            { name: 'http2', port: 80, protocol: 'TCP', targetPort: 8080 },
            { name: 'https', port: 443, protocol: 'TCP', targetPort: 8443 },
          ],
        },
      })
      lines.push('✔ Ingress gateways installed 🛬')
    }
    this.ctx.controllers.kick()
    const ready = await this.waitFor(() => {
      const deploymentsReady = ['istiod', ...(want.includes('ingress') ? ['istio-ingressgateway'] : [])].every(
        (name) => {
          const d = getOf(this.store, 'deployment', ns, name)
          return (
            d &&
            (d.status?.readyReplicas ?? 0) >= 1 &&
            d.status?.updatedReplicas === d.spec.replicas &&
            d.status?.replicas === d.spec.replicas
          )
        },
      )
      const daemonsReady = [
        ...(want.includes('cni') ? ['istio-cni-node'] : []),
        ...(want.includes('ztunnel') ? ['ztunnel'] : []),
      ].every((name) => {
        const d = getOf(this.store, 'daemonSet', ns, name)
        return d && d.status?.numberReady >= 1 && d.status?.updatedNumberScheduled === d.status?.desiredNumberScheduled
      })
      return Boolean(deploymentsReady && daemonsReady)
    }, readinessMs)
    if (!ready)
      return failure(
        `✘ Installation incomplete: components in ${ns} did not become ready in time`,
        1,
        warning + lines.slice(0, 1).join('\n') + '\n',
      )
    lines.push('✔ Installation complete')
    if (profile === 'ambient')
      lines.push('The ambient profile has been installed successfully, enjoy Istio without sidecars!')
    return ok(warning + lines.join('\n') + '\n')
  }

  /**
   * The first request of `install` the caller may not make, in the order istioctl makes them (see
   * istioctl-requests.ts): the namespace, the webhook check, every component's server-side applies, the readiness
   * reads, the default revision tag and the prune lists. Reads whose failure istioctl ignores are left out.
   */
  private installRefusal(caller: Caller, components: string[]): string | undefined {
    caller.refused(VERSION_DIFF_READ) // its refusal only skips a warning
    const namespaceRead = caller.refused(INSTALL_READS[0])
    if (namespaceRead) return `failed to check if namespace ${ISTIO_NAMESPACE} exists: ${namespaceRead}`
    if (!getOf(this.store, 'namespace', undefined, ISTIO_NAMESPACE)) {
      const create = caller.refused({ verb: 'create', group: '', resource: 'namespaces' })
      if (create) return `failed to create namespace ${ISTIO_NAMESPACE}: ${create}`
    }
    const webhooks = caller.refused(INSTALL_READS[1])
    if (webhooks) return webhooks
    const crds: AppliedObject[] = istioCrds().map((crd) => ({
      group: 'apiextensions.k8s.io',
      resource: 'customresourcedefinitions',
      kind: 'CustomResourceDefinition',
      name: crd.metadata.name,
    }))
    for (const component of ['base', ...components]) {
      const rbacObjects = istioRbacObjects(component)
      const objects = [
        ...(component === 'base' ? crds : []),
        ...appliedObjects(component as Parameters<typeof appliedObjects>[0]),
      ]
      for (const object of objects) {
        const rbacObject =
          object.group === RBAC_GROUP
            ? rbacObjects.find((r) => r.metadata.name === object.name && r.kind === object.kind)
            : undefined
        const refusal = caller.refusedApply(object, rbacObject)
        if (refusal) return `failed to update resource with server-side apply for obj ${objectName(object)}: ${refusal}`
        // Later applies (a binding's escalation check) see the roles applied before them.
        if (rbacObject) this.upsertRbac(rbacObject)
      }
      const wait = caller.firstRefusal(waitReads(objects))
      if (wait) return `failed to wait for resource: ${wait}`
    }
    // The default revision tag: istioctl skips it silently when it cannot read what it needs (webhook.go).
    if (!caller.firstRefusal(TAG_READS)) {
      for (const object of TAG_OBJECTS) {
        const refusal = caller.refusedApply(object)
        if (refusal)
          return `failed deploying webhooks: failed to update resource with server-side apply for obj ${objectName(object)}: ${refusal}`
      }
    }
    const prune = caller.firstRefusal(PRUNE_LISTS)
    return prune && `pruning: ${prune}`
  }

  private upsertRbac(object: KubeObject): void {
    const rt = this.store.allTypes().find((t) => t.group === RBAC_GROUP && t.kind === object.kind)
    if (!rt) return
    const existing = this.store.get(rt, object.metadata.namespace, object.metadata.name)
    if (!existing) this.store.create(rt, structuredClone(object))
    else
      this.store.update(rt, {
        ...existing,
        ...structuredClone(object),
        metadata: { ...existing.metadata, ...object.metadata },
      })
  }

  /** The `istio` ConfigMap with the mesh config (only the keys this simulator reads, as the chart renders them). */
  private writeMeshConfig(trustDomain: string): void {
    const rt = mustTypeOf(this.store, 'configMap')
    const data = {
      meshNetworks: 'networks: {}',
      mesh: `defaultConfig:\n  discoveryAddress: istiod.${ISTIO_NAMESPACE}.svc:15012\nrootNamespace: ${ISTIO_NAMESPACE}\ntrustDomain: ${trustDomain}`,
    }
    const existing = this.store.get(rt, ISTIO_NAMESPACE, 'istio')
    if (existing) this.store.update(rt, { ...existing, data })
    else
      this.store.create(rt, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: 'istio',
          namespace: ISTIO_NAMESPACE,
          labels: {
            'istio.io/rev': 'default',
            'install.operator.istio.io/owning-resource': 'installed-state',
            'operator.istio.io/component': 'Pilot',
            release: 'istio',
            'app.kubernetes.io/name': 'istiod',
          },
        },
        data,
      })
  }

  private async ensureService(svc: KubeObject): Promise<void> {
    const rt = mustTypeOf(this.store, 'service')
    const existing = this.store.get(rt, svc.metadata.namespace, svc.metadata.name)
    if (existing) return
    await admit({ store: this.store, allocateNodePort }, rt, svc)
    this.store.create(rt, svc)
  }

  private uninstall(p: Parsed, caller: Caller): IstioctlResult {
    if (!p.flags.has('--skip-confirmation')) return failure('', 1, 'Cancelled.\n')
    if (!p.flags.has('--purge') && !p.flags.has('--revision') && !p.flags.has('--filename')) {
      return failure(
        'Error: at least one of the --revision (or --set revision=<revision>), --filename or --purge flags must be set',
      )
    }
    // GetPrunedResources lists every kind istioctl installs (CRDs too with --purge); each object is then deleted.
    const lists = p.flags.has('--purge')
      ? [...PRUNE_LISTS, { verb: 'list', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions' }]
      : PRUNE_LISTS
    const listRefusal = caller.firstRefusal(lists)
    if (listRefusal) return failure(`Error: failed to get Istio resources: ${listRefusal}`)
    const installed = (['istiod', 'cni', 'ztunnel'] as const).flatMap(appliedObjects).filter((o) => {
      const rt = caller.typeOf(o)
      return !!rt && !!this.store.get(rt, o.namespace, o.name)
    })
    const deleteRefusal = caller.firstRefusal(
      installed.map((o) => ({
        verb: 'delete',
        group: o.group,
        resource: o.resource,
        name: o.name,
        ...(o.namespace ? { namespace: o.namespace } : {}),
      })),
    )
    if (deleteRefusal) return failure(`Error: failed to delete control plane resources by revision: ${deleteRefusal}`)
    const ns = ISTIO_NAMESPACE
    const removed: string[] = []
    const remove = (kind: KindName, kindName: string, namespace: string | undefined, name: string) => {
      const rt = typeOf(this.store, kind)
      if (!rt || !this.store.get(rt, namespace, name)) return
      this.store.delete(rt, namespace, name)
      removed.push(`  Removed ${kindName}:${namespace ? namespace + ':' : ''}${name}.`)
    }
    for (const name of ['istiod', 'istio-ingressgateway']) remove('deployment', 'Deployment', ns, name)
    for (const name of ['ztunnel', 'istio-cni-node']) remove('daemonSet', 'DaemonSet', ns, name)
    for (const name of ['istiod', 'istio-ingressgateway']) remove('service', 'Service', ns, name)
    for (const name of ['istiod', 'ztunnel', 'istio-cni', 'istio-ingressgateway-service-account'])
      remove('serviceAccount', 'ServiceAccount', ns, name)
    for (const name of ['istio', 'istio-waypoint']) remove('gatewayClass', 'GatewayClass', undefined, name)
    for (const object of ['istiod', 'cni'].flatMap(istioRbacObjects)) {
      const rt = this.store.allTypes().find((t) => t.group === RBAC_GROUP && t.kind === object.kind)
      if (rt && this.store.get(rt, object.metadata.namespace, object.metadata.name)) {
        this.store.delete(rt, object.metadata.namespace, object.metadata.name)
        removed.push(
          `  Removed ${object.kind}:${object.metadata.namespace ? `${object.metadata.namespace}:` : ''}${object.metadata.name}.`,
        )
      }
    }
    remove('configMap', 'ConfigMap', ns, 'istio')
    if (p.flags.has('--purge'))
      for (const crd of istioCrds()) remove('crd', 'CustomResourceDefinition', undefined, crd.metadata.name)
    this.ctx.controllers.kick()
    return ok((removed.length ? removed.join('\n') + '\n' : '') + '✔ Uninstall complete\n')
  }

  // ---- waypoints ----

  private async waypoint(p: Parsed, caller: Caller, stream?: IstioctlStream): Promise<IstioctlResult> {
    const action = p.positional[1]
    const ns = String(p.flags.get('--namespace') ?? 'default')
    const gatewayType = typeOf(this.store, 'gateway')
    if (!['apply', 'status', 'delete', 'list'].includes(action ?? '')) {
      return failure(`Error: unknown command "${action ?? ''}" for "istioctl waypoint"`)
    }
    const allNamespaces = p.flags.has('--all-namespaces')
    const waypoints = () =>
      gatewayType ? this.store.list(gatewayType, ns).filter((g) => g.spec?.gatewayClassName === 'istio-waypoint') : []
    // Without the Gateway API CRDs the Gateway client gets a 404 from the API server (client-go's generic message).
    const noGatewayApi = (verb: string, name?: string) =>
      `the server could not find the requested resource (${verb} gateways.gateway.networking.k8s.io${name ? ` ${name}` : ''})`
    if (action === 'list' || action === 'status') {
      if (!gatewayType) return failure(`Error: ${noGatewayApi('get')}`)
      const listed = caller.refused(waypointList(allNamespaces ? undefined : ns))
      if (listed) return failure(`Error: ${listed}`)
      // Both list every Gateway of the namespace (or all with -A); --name filters neither.
      const gateways = this.store.list(gatewayType, allNamespaces ? undefined : ns)
      if (gateways.length === 0) return ok('No waypoints found.\n')
      const found = gateways
        .filter((g) => g.spec?.gatewayClassName === 'istio-waypoint')
        .sort(
          (a, b) =>
            a.metadata.namespace!.localeCompare(b.metadata.namespace!) ||
            a.metadata.name.localeCompare(b.metadata.name),
        )
      if (action === 'list') {
        const programmed = (g: KubeObject) =>
          (g.status?.conditions ?? []).find((c: any) => c.type === 'Programmed')?.status ?? 'False'
        return ok(
          table(
            [
              [...(allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'REVISION', 'TRAFFIC TYPE', 'PROGRAMMED'],
              ...found.map((g) => [
                ...(allNamespaces ? [g.metadata.namespace!] : []),
                g.metadata.name,
                g.metadata.labels?.['istio.io/rev'] || 'default',
                g.metadata.labels?.['istio.io/waypoint-for'] || 'none',
                programmed(g),
              ]),
            ],
            5,
          ),
        )
      }
      return this.waypointStatus(p, found, gatewayType, caller, stream)
    }
    if (action === 'delete') {
      // deleteWaypoints: names that are not waypoints are reported and skipped (exit 0).
      const all = p.flags.has('--all')
      const given = p.positional.slice(2)
      if (all && given.length) return failure('Error: cannot specify waypoint names when deleting all waypoints')
      if (!all && given.length === 0)
        return failure(
          'Error: must specify a waypoint name or delete all using --all or delete specific revision using --revision',
        )
      if (!gatewayType) return failure(`Error: ${noGatewayApi('list')}`)
      const listed = caller.refused(waypointList(ns))
      if (listed) return failure(`Error: ${listed}`)
      const existing = new Set(waypoints().map((g) => g.metadata.name))
      let out = ''
      const refusals: string[] = []
      for (const name of all ? [...existing] : given) {
        if (!existing.has(name)) {
          out += `waypoint ${ns}/${name} not found\n`
          continue
        }
        // Each delete is its own request; the refused ones are gathered into one error (a multierror upstream).
        const refusal = caller.refused(waypointDelete(ns, name))
        if (refusal) {
          refusals.push(refusal)
          continue
        }
        this.store.delete(gatewayType, ns, name)
        out += `waypoint ${ns}/${name} deleted\n`
      }
      this.ctx.controllers.kick()
      if (refusals.length)
        return failure(
          `Error: ${refusals.length} error${refusals.length > 1 ? 's' : ''} occurred:\n${refusals.map((r) => `\t* ${r}`).join('\n')}\n\n`,
          1,
          out,
        )
      return ok(out)
    }
    // apply (istioctl/pkg/waypoint/waypoint.go waypointApplyCmd): it reads the namespace's labels first (a missing
    // namespace is an error), then server-side applies the Gateway. It checks no GatewayClass: without
    // istio-waypoint nothing programs the Gateway, and only --wait notices.
    const namespaceRead = caller.firstRefusal(waypointApplyReads(ns))
    if (namespaceRead) return failure(`Error: failed to get namespace ${ns}: ${namespaceRead}`)
    const namespace = getOf(this.store, 'namespace', undefined, ns)
    if (!namespace) return failure(`Error: namespace: ${ns} not found`)
    const waypointMs = this.timeoutOf(p, '--waypoint-timeout', WAYPOINT_TIMEOUT_MS)
    if (waypointMs === undefined)
      return failure(
        `Error: invalid argument "${p.flags.get('--waypoint-timeout')}" for "--waypoint-timeout" flag: time: invalid duration`,
      )
    const nsLabels = namespace.metadata.labels ?? {}
    let out = ''
    if (p.flags.has('--enroll-namespace')) {
      // A namespace that already names a waypoint (a non-empty label) is left alone, and nothing is applied, unless --overwrite.
      if (nsLabels[USE_WAYPOINT_LABEL] && !p.flags.has('--overwrite')) {
        return ok(
          `⚠️ Warning: namespace (${ns}) already has an enrolled Waypoint. Consider adding the \`--overwrite\` flag to your apply command.\n`,
        )
      }
      if (nsLabels[DATAPLANE_LABEL] !== 'ambient') {
        out += `⚠️ Warning: namespace is not enrolled in ambient. Consider running\t\`kubectl label namespace ${ns} istio.io/dataplane-mode=ambient\`\n`
      }
    }
    // makeGateway: an empty --name means the default; "none" is reserved.
    const name = String(p.flags.get('--name') || 'waypoint')
    if (name === 'none')
      return failure(
        "Error: failed to create gateway: invalid name provided for waypoint, 'none' is a reserved value",
        1,
        out,
      )
    // Only --for labels the traffic type (istiod otherwise applies its default, service); only --revision labels the revision.
    const labels: Record<string, string> = {}
    const trafficType = p.flags.get('--for')
    if (typeof trafficType === 'string' && trafficType !== '') {
      if (!['service', 'workload', 'all', 'none'].includes(trafficType))
        return failure(
          `Error: failed to create gateway: invalid traffic type: ${trafficType}. Valid options are: [all none service workload]`,
          1,
          out,
        )
      labels['istio.io/waypoint-for'] = trafficType
    }
    const revision = p.flags.get('--revision')
    if (typeof revision === 'string' && revision !== '') labels['istio.io/rev'] = revision
    if (!gatewayType)
      return failure(
        `Error: missing Kubernetes Gateway CRDs need to be installed before applying a waypoint: ${noGatewayApi('patch', name)}`,
        1,
        out,
      )
    const gw: KubeObject = {
      apiVersion: `${GATEWAY_GROUP}/${gatewayType.version}`,
      kind: 'Gateway',
      metadata: { name, namespace: ns, ...(Object.keys(labels).length ? { labels } : {}) },
      spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
    }
    const applyRefusal = caller.refusedApply({
      group: GATEWAY_GROUP,
      resource: 'gateways',
      kind: 'Gateway',
      namespace: ns,
      name,
    })
    if (applyRefusal) return failure(`Error: ${applyRefusal}`, 1, out)
    const existing = this.store.get(gatewayType, ns, name)
    if (existing)
      this.store.update(gatewayType, {
        ...existing,
        metadata: { ...existing.metadata, labels: { ...existing.metadata.labels, ...labels } },
        spec: gw.spec,
      })
    else this.store.create(gatewayType, gw)
    out += `✅ waypoint ${ns}/${name} applied\n`
    this.ctx.controllers.kick()
    if (p.flags.has('--wait')) {
      // Only the Gateway's Programmed condition is waited for, not its pods.
      // Each tick gets the Gateway; a refused get reads as not programmed, until the timeout names the error.
      const readRefusal = () => caller.refused(waypointGet(ns, name))
      const programmed = await this.waitFor(
        () => !readRefusal() && conditionTrue(this.store.get(gatewayType, ns, name), 'Programmed'),
        waypointMs,
      )
      if (!programmed) {
        const refusal = readRefusal()
        return failure(
          `Error: timed out while waiting for waypoint\t${ns}/${name}${refusal ? `: ${refusal}` : ''}`,
          1,
          out,
        )
      }
      out += `✅ waypoint ${ns}/${name} is ready!\n`
    }
    // The namespace is labelled only after the waypoint exists (and, with --wait, is programmed).
    if (p.flags.has('--enroll-namespace')) {
      const enrol = caller.firstRefusal(waypointEnrol(ns))
      if (enrol)
        return failure(
          `Error: failed to label namespace with waypoint: failed to update namespace ${ns}: ${enrol}`,
          1,
          out,
        )
      this.store.mutate(mustTypeOf(this.store, 'namespace'), undefined, ns, (n) => {
        n.metadata.labels = { ...(n.metadata.labels ?? {}), [USE_WAYPOINT_LABEL]: name }
      })
      out += `✅ namespace ${ns} labeled with "${USE_WAYPOINT_LABEL}: ${name}"\n`
      this.ctx.controllers.kick()
    }
    return ok(out)
  }

  /**
   * `waypoint status` (printWaypointStatus): one row per waypoint (no NAMESPACE column when -n names the
   * namespace); while a waypoint is not Programmed it prints a row per tick and keeps polling, until it is or
   * --waypoint-timeout (default 90s) has passed: then it fails "timed out while retrieving status for waypoint".
   * Simplification: ticks are 100 ms here, 1 s upstream.
   */
  private async waypointStatus(
    p: Parsed,
    waypoints: KubeObject[],
    gatewayType: NonNullable<ReturnType<typeof typeOf>>,
    caller: Caller,
    stream?: IstioctlStream,
  ): Promise<IstioctlResult> {
    // The NAMESPACE column comes only with -A (istioctl resolves a missing -n to the context's namespace).
    const withNamespace = p.flags.has('--all-namespaces')
    const timeoutMs = this.timeoutOf(p, '--waypoint-timeout', WAYPOINT_TIMEOUT_MS)
    if (timeoutMs === undefined)
      return failure(
        `Error: invalid argument "${p.flags.get('--waypoint-timeout')}" for "--waypoint-timeout" flag: time: invalid duration`,
      )
    const header = [...(withNamespace ? ['NAMESPACE'] : []), 'NAME', 'STATUS', 'TYPE', 'REASON', 'MESSAGE']
    const current = () =>
      waypoints
        .map((w) => this.store.get(gatewayType, w.metadata.namespace, w.metadata.name))
        .filter((g): g is KubeObject => Boolean(g))
    const row = (g: KubeObject) => {
      const c = (g.status?.conditions ?? []).find((x: any) => x.type === 'Programmed')
      return [
        ...(withNamespace ? [g.metadata.namespace!] : []),
        g.metadata.name,
        c?.status ?? '',
        c ? 'Programmed' : '',
        c?.reason ?? '',
        c?.message ?? '',
      ]
    }
    // A Gateway the caller may not get reads as not programmed (printWaypointStatus ignores the error and polls).
    const refusedGet = (g: KubeObject) => caller.refused(waypointGet(g.metadata.namespace!, g.metadata.name))
    const waiting = () => current().filter((g) => refusedGet(g) || !conditionTrue(g, 'Programmed'))
    if (waiting().length === 0) return ok(table([header, ...current().map(row)], 5))
    stream?.write(table([header, ...waiting().map(row)], 5))
    const deadline = Date.now() + timeoutMs
    while (waiting().length > 0 && !stream?.signal?.aborted && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100))
    }
    const stuck = waiting()[0]
    if (stuck) {
      const refusal = refusedGet(stuck)
      return failure(
        `Error: timed out while retrieving status for waypoint\t${stuck.metadata.namespace}/${stuck.metadata.name}${refusal ? `: ${refusal}` : ''}`,
      )
    }
    const done = table([header, ...current().map(row)], 5)
    // The header was printed already.
    return ok(done.slice(done.indexOf('\n') + 1))
  }

  // ---- ztunnel-config ----

  private ztunnelWorkloads(p: Parsed, caller: Caller): IstioctlResult {
    const ztunnel = getOf(this.store, 'daemonSet', ISTIO_NAMESPACE, 'ztunnel')
    const ztunnelPod = listOf(this.store, 'pod', ISTIO_NAMESPACE).find(
      (pod) => pod.metadata.labels?.app === 'ztunnel' && isPodReady(pod),
    )
    const refusal = caller.firstRefusal(ztunnelRequests(ztunnelPod?.metadata.name ?? 'ztunnel'))
    if (refusal) return failure(`Error: ${refusal}`)
    if (!ztunnel || !ztunnelPod)
      return failure(`Error: failed to get ztunnel pods: no running ztunnel pods in namespace "${ISTIO_NAMESPACE}"`)
    // -n/--namespace tells istioctl where the ztunnel pods run, not which workloads to list; --workload-namespace filters.
    const ns = p.flags.get('--workload-namespace')
    const view = new ClusterView(this.store, this.ctx.cni)
    const pods = view.pods.filter(
      (pod) =>
        pod.status?.podIP &&
        !pod.spec?.hostNetwork &&
        pod.status?.phase === 'Running' &&
        (typeof ns !== 'string' || pod.metadata.namespace === ns),
    )
    const waypointOf = (pod: KubeObject) => {
      const name =
        pod.metadata.labels?.[USE_WAYPOINT_LABEL] ?? view.namespaceLabels(pod.metadata.namespace)[USE_WAYPOINT_LABEL]
      const gw = name && view.gateway(pod.metadata.namespace!, name)
      // A workload shows a waypoint only when that waypoint takes workload-addressed traffic.
      return gw && ['workload', 'all'].includes(gw.metadata.labels?.['istio.io/waypoint-for'] ?? 'service')
        ? name
        : undefined
    }
    // A Deployment's pods are owned by its ReplicaSet `<deployment>-<pod-template-hash>`: ztunnel names the Deployment.
    const workloadName = (pod: KubeObject) => {
      const owner = pod.metadata.ownerReferences?.[0]
      const hash = pod.metadata.labels?.['pod-template-hash']
      if (!owner) return pod.metadata.name
      return owner.kind === 'ReplicaSet' && hash ? owner.name.replace(new RegExp(`-${hash}$`), '') : owner.name
    }
    if (p.flags.get('--output') === 'json') {
      const rows = pods.map((pod) => ({
        uid: `Kubernetes//Pod/${pod.metadata.namespace}/${pod.metadata.name}`,
        workloadIps: [pod.status.podIP],
        protocol: isEnrolled(pod) ? 'HBONE' : 'TCP',
        name: pod.metadata.name,
        namespace: pod.metadata.namespace,
        serviceAccount: pod.spec?.serviceAccountName ?? 'default',
        workloadName: workloadName(pod),
        workloadType: 'pod',
        canonicalName: pod.metadata.labels?.['app.kubernetes.io/name'] ?? workloadName(pod),
        canonicalRevision: 'latest',
        clusterId: 'Kubernetes',
        trustDomain: 'cluster.local',
        node: pod.spec?.nodeName,
        status: isPodReady(pod) ? 'Healthy' : 'Unhealthy',
        ...(waypointOf(pod) ? { waypoint: { destination: `${pod.metadata.namespace}/${waypointOf(pod)}` } } : {}),
      }))
      return ok(JSON.stringify(rows, null, 2) + '\n')
    }
    const rows = [['NAMESPACE', 'POD NAME', 'ADDRESS', 'NODE', 'WAYPOINT', 'PROTOCOL']]
    for (const pod of pods) {
      rows.push([
        pod.metadata.namespace!,
        pod.metadata.name,
        pod.status.podIP,
        pod.spec?.nodeName ?? '',
        waypointOf(pod) ?? 'None',
        isEnrolled(pod) ? 'HBONE' : 'TCP',
      ])
    }
    return ok(table(rows))
  }

  /**
   * How long one of istioctl's own waits lasts: its flag, else the upstream default — capped by the simulator's
   * waitTimeoutMs (a simplification that keeps tests short). undefined: the flag is not a Go duration.
   */
  private timeoutOf(p: Parsed, flag: string, upstreamDefaultMs: number): number | undefined {
    const given = p.flags.get(flag)
    if (typeof given === 'string') return parseGoDuration(given)
    return Math.min(upstreamDefaultMs, this.ctx.waitTimeoutMs ?? upstreamDefaultMs)
  }

  private async waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (predicate()) return true
      await new Promise((r) => setTimeout(r, 25))
    }
    return predicate()
  }
}
