// Look before touching anything: kubectl works, the context answers, its Kubernetes version is one the chosen
// Istio supports, Gthulhu's three workloads are where the chart puts them, and a CNI will enforce policy.
import { text } from '../lib/config/text.ts'
import type { Cluster } from '../lib/kube/cluster.ts'
import type { Config } from '../lib/config/options.ts'
import { apiServerEndpointsAccess, readApiServerEndpoints } from '../lib/domain/network-policies.ts'
import { kubectlAccess, SERVER_VERSION } from '../lib/kube/access.ts'
import type { Check, Facts, KubeObject, Step, StepIO, WorkloadFacts } from '../lib/types.ts'

/**
 * Kubernetes minor versions each Istio minor is tested with (istio.io support tables), and istioctl's own floor
 * (MinK8SVersion in istioctl/pkg/install/k8sversion/version.go): precheck refuses a cluster only below the floor.
 */
export const ISTIO_KUBERNETES_SUPPORT: Record<string, { min: number; max: number; istioctlFloor: number }> = {
  '1.28': { min: 30, max: 34, istioctlFloor: 29 },
  '1.29': { min: 31, max: 35, istioctlFloor: 30 },
}

export function kubernetesSupport(istioVersion: string) {
  return ISTIO_KUBERNETES_SUPPORT[istioVersion.split('.').slice(0, 2).join('.')]
}

/** CNIs known to enforce NetworkPolicy, matched against DaemonSet names and images. */
const ENFORCING_CNIS = ['calico', 'cilium', 'antrea', 'weave', 'kube-router', 'kindnet']
const NON_ENFORCING_CNIS = ['flannel']

const CHART_LABELS = ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/component']
const WORKLOADS = [
  { role: 'manager', kind: 'Deployment', resource: 'deployments', port: 8080 },
  { role: 'scheduler', kind: 'DaemonSet', resource: 'daemonsets', port: 8080 },
  { role: 'mongodb', kind: 'StatefulSet', resource: 'statefulsets', port: 27017 },
] as const
type Role = (typeof WORKLOADS)[number]['role']

export const chartSelector = (config: Pick<Config, 'release'>, role: Role) =>
  `app.kubernetes.io/instance=${config.release},app.kubernetes.io/component=${role}`

interface Observation {
  kubectlVersion?: string
  kubectlError?: string
  serverVersion?: string
  serverError?: string
  workloads: Partial<Record<Role, WorkloadFacts>>
  cni: { found: string[]; enforcesNetworkPolicy: boolean }
  apiServer?: Facts['apiServer']
}

const matches = (labels: Record<string, string> | undefined, selector: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v)

function describeWorkload(
  object: KubeObject,
  kind: WorkloadFacts['kind'],
  services: KubeObject[],
  port: number,
): WorkloadFacts {
  const podLabels: Record<string, string> = object.spec?.template?.metadata?.labels ?? {}
  const service = services.find(
    (s) =>
      s.spec?.selector && matches(podLabels, s.spec.selector) && (s.spec.ports ?? []).some((p: any) => p.port === port),
  )
  return {
    kind,
    name: object.metadata.name,
    serviceAccount: object.spec?.template?.spec?.serviceAccountName || 'default',
    selectorLabels: Object.fromEntries(CHART_LABELS.filter((k) => podLabels[k]).map((k) => [k, podLabels[k]])),
    podLabels,
    service: service && { name: service.metadata.name, port, headless: service.spec.clusterIP === 'None' },
    image: containerOn(object, port)?.image,
    container: containerOn(object, port)?.name,
    images: Object.fromEntries(
      (object.spec?.template?.spec?.containers ?? []).map((c: any) => [c.name, c.image as string]),
    ),
    servesTls: servesTls(containerOn(object, port)),
    firstPort: firstContainerPort(object),
  }
}

/** The first port any container of the pod template declares: where Gthulhu's manager calls a decision maker. */
const firstContainerPort = (object: KubeObject): number | undefined =>
  (object.spec?.template?.spec?.containers ?? []).flatMap((c: any) => c.ports ?? [])[0]?.containerPort

const containerOn = (object: KubeObject, port: number): any =>
  (object.spec?.template?.spec?.containers ?? []).find((c: any) =>
    (c.ports ?? []).some((p: any) => p.containerPort === port),
  ) ?? object.spec?.template?.spec?.containers?.[0]

/**
 * Gthulhu's chart with mtls.enabled sets DM_MTLS_ENABLE=true on the decision maker's container (chart/gthulhu
 * templates/deployment.yaml, v1.3.0); the decision maker reads it through viper's DM_ prefix and then serves
 * TLS only (Gthulhu/api config/dm_config.go, decisionmaker/app/rest_app.go). viper parses it with Go's
 * strconv.ParseBool.
 */
const servesTls = (container: any): boolean | undefined => {
  const value = (container?.env ?? []).find((e: any) => e.name === 'DM_MTLS_ENABLE')?.value
  return ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(String(value ?? '')) ? true : undefined
}

/** The JSON kubectl version printed, or nothing: it prints its own version even when the server does not answer. */
function versionsOf(stdout: string): {
  clientVersion?: { gitVersion?: string }
  serverVersion?: { gitVersion?: string }
} {
  try {
    return JSON.parse(stdout)
  } catch {
    return {}
  }
}

async function observe(cluster: Cluster, config: Config): Promise<Observation> {
  // One call answers both: kubectl's own version, and the server's when the context answers.
  const serverResult = await cluster.exec(cluster.kubectlArgv(['version', '-o', 'json', '--request-timeout=10s']), {
    timeoutMs: 20_000,
  })
  let clientVersion = versionsOf(serverResult.stdout).clientVersion?.gitVersion
  const observation: Observation = { workloads: {}, cni: { found: [], enforcesNetworkPolicy: false } }
  if (!clientVersion) {
    // Nothing printed (no kubectl, or a kubeconfig it cannot load): ask for the client alone.
    const clientResult = await cluster.exec(['kubectl', 'version', '--client', '-o', 'json'], { timeoutMs: 15_000 })
    clientVersion = clientResult.exitCode === 0 ? versionsOf(clientResult.stdout).clientVersion?.gitVersion : undefined
    if (!clientVersion) observation.kubectlError = clientResult.stderr.trim() || 'kubectl not found on PATH'
  }
  observation.kubectlVersion = clientVersion
  const serverVersion =
    serverResult.exitCode === 0 ? versionsOf(serverResult.stdout).serverVersion?.gitVersion : undefined
  if (!serverVersion) {
    observation.serverError = (serverResult.stderr.trim().split('\n').pop() || 'no answer').replace(/^error: /, '')
    return observation
  }
  observation.serverVersion = serverVersion
  const ns = config.namespace
  const [services, daemonSetsEverywhere, apiServer, ...workloadLists] = await Promise.all([
    cluster.list('services', { namespace: ns }),
    cluster.list('daemonsets', { allNamespaces: true }),
    readApiServerEndpoints({ cluster }),
    ...WORKLOADS.map((w) => cluster.list(w.resource, { namespace: ns })),
  ])
  observation.apiServer = apiServer
  WORKLOADS.forEach((w, index) => {
    const selector = Object.fromEntries(
      chartSelector(config, w.role)
        .split(',')
        .map((kv) => kv.split('=')),
    )
    const found = workloadLists[index].find((o) => matches(o.spec?.template?.metadata?.labels, selector))
    if (found) observation.workloads[w.role] = describeWorkload(found, w.kind, services, w.port)
  })
  for (const ds of daemonSetsEverywhere) {
    const text =
      `${ds.metadata.name} ${(ds.spec?.template?.spec?.containers ?? []).map((c: any) => c.image).join(' ')}`.toLowerCase()
    const cni = [...ENFORCING_CNIS, ...NON_ENFORCING_CNIS].find((name) => text.includes(name))
    if (cni) observation.cni.found.push(`${cni} (DaemonSet ${ds.metadata.namespace}/${ds.metadata.name})`)
    if (cni && ENFORCING_CNIS.includes(cni)) observation.cni.enforcesNetworkPolicy = true
  }
  return observation
}

function minorOf(gitVersion: string): number {
  return Number(/^v?1\.(\d+)/.exec(gitVersion)?.[1] ?? NaN)
}

/**
 * The cluster's Kubernetes against the chosen Istio: in the tested range, fine; below istioctl's floor, a failure
 * (precheck would refuse it); in between or newer, istioctl goes on, so the operator decides (guided: a question;
 * automation: --allow-untested-kubernetes).
 */
async function kubernetesVersionCheck(serverVersion: string, config: Config, io: StepIO): Promise<Check> {
  const name = text.checks.kubernetesSupported(config.istioVersion)
  const support = kubernetesSupport(config.istioVersion)
  if (!support) {
    return {
      name,
      expected: 'a known support range',
      observed: `no support table for Istio ${config.istioVersion}; check istio.io before going on`,
      ok: false,
      advisory: true,
    }
  }
  const minor = minorOf(serverVersion)
  const expected = `1.${support.min}–1.${support.max} (tested); istioctl accepts 1.${support.istioctlFloor} and later`
  if (minor >= support.min && minor <= support.max) return { name, expected, observed: serverVersion, ok: true }
  if (minor < support.istioctlFloor) {
    return {
      name,
      expected,
      observed: `${serverVersion}: below istioctl's floor, its precheck refuses this cluster`,
      ok: false,
      hint: 'choose an --istio-version that supports this cluster, or upgrade the cluster',
    }
  }
  const untested = `${serverVersion} is outside the versions Istio ${config.istioVersion} is tested with (1.${support.min}–1.${support.max}); istioctl accepts it`
  const accepted =
    config.allowUntestedKubernetes ||
    (await io.confirm(
      text.questions.untestedKubernetes(serverVersion, config.istioVersion, `1.${support.min}–1.${support.max}`),
    ))
  return accepted
    ? {
        name,
        expected,
        observed: `${untested}; going on (${config.allowUntestedKubernetes ? '--allow-untested-kubernetes' : 'confirmed'})`,
        ok: false,
        advisory: true,
      }
    : {
        name,
        expected,
        observed: untested,
        ok: false,
        hint: 'to go on with it, confirm in guided mode or pass --allow-untested-kubernetes; or choose an --istio-version tested with this cluster',
      }
}

function checksOf(observation: Observation, config: Config): Check[] {
  const checks: Check[] = [
    {
      name: text.checks.kubectlOnPath,
      expected: 'a kubectl client',
      observed: observation.kubectlVersion ?? observation.kubectlError!,
      ok: !!observation.kubectlVersion,
    },
    {
      name: text.checks.contextAnswers(config.context ?? '(current)'),
      expected: 'a Kubernetes API server',
      observed: observation.serverVersion
        ? `Kubernetes ${observation.serverVersion}`
        : `unreachable: ${observation.serverError}`,
      ok: !!observation.serverVersion,
      hint: observation.serverVersion
        ? undefined
        : 'check --context/--kubeconfig and that the cluster is up (kubectl cluster-info)',
    },
  ]
  if (!observation.serverVersion) return checks
  for (const w of WORKLOADS) {
    const found = observation.workloads[w.role]
    checks.push({
      name: text.checks.workloadFound(w.role, w.kind),
      expected: `a ${w.kind} in namespace ${config.namespace} with pod labels ${chartSelector(config, w.role)}`,
      observed: found
        ? `${w.kind.toLowerCase()}/${found.name}, ServiceAccount ${found.serviceAccount}${found.service ? `, Service ${found.service.name}:${found.service.port}` : ', no Service'}`
        : 'none found',
      ok: !!found,
      hint: found
        ? undefined
        : `is Gthulhu installed? check --namespace and --release (kubectl get ${w.resource} -n ${config.namespace} --show-labels)`,
    })
  }
  checks.push({
    name: text.checks.cniEnforces,
    expected: `one of ${ENFORCING_CNIS.join(', ')}`,
    observed: observation.cni.found.length ? observation.cni.found.join('; ') : 'no known CNI DaemonSet found',
    ok: observation.cni.enforcesNetworkPolicy,
    advisory: true,
    hint: 'without one, the L4 NetworkPolicies are stored but never enforced, and the l4-policies step will fail its deny probes',
  })
  const api = observation.apiServer
  checks.push({
    name: text.checks.apiServerEndpoints,
    expected: "at least one address and port: the manager's egress policy must admit them",
    observed: api ? `${api.addresses.join(', ')} on ${api.ports.join(', ')}` : 'none readable',
    ok: !!api || !config.managerEgressPolicy,
    advisory: true,
    hint: api
      ? undefined
      : "without them the l4-policies step cannot write the manager's egress policy (it would cut the manager off from the API server): check kubectl get endpoints kubernetes -n default, or pass --no-manager-egress-policy",
  })
  return checks
}

function recordFacts(facts: Facts, observation: Observation): void {
  facts.kubectlVersion = observation.kubectlVersion
  facts.serverVersion = observation.serverVersion
  facts.cni = observation.cni
  facts.apiServer = observation.apiServer
  const { manager, scheduler, mongodb } = observation.workloads
  if (manager && scheduler && mongodb) facts.workloads = { manager, scheduler, mongodb }
}

export const preflightStep: Step = {
  id: 'preflight',
  title: 'Preflight checks',
  why:
    'Before changing anything, make sure the runbook talks to the cluster you meant, that the Istio release you chose supports its ' +
    "Kubernetes version, and find Gthulhu's manager, scheduler and MongoDB by the labels its Helm chart sets. Their names, " +
    'ServiceAccounts and labels feed every later step. It also looks for a CNI that enforces NetworkPolicy, without which the L4 step cannot protect anything.',
  // It judges the Kubernetes version by --istio-version (and --allow-untested-kubernetes), and the API server's
  // endpoints as the manager's egress policy needs them.
  settings: ['namespace', 'release', 'istioVersion', 'allowUntestedKubernetes', 'managerEgressPolicy'],
  access: (config) => ({
    run: [],
    verify: [
      SERVER_VERSION,
      ...WORKLOADS.flatMap((w) =>
        kubectlAccess.list(`${w.resource}.apps`, { namespace: config.namespace }, `preflight: finds the ${w.role}`),
      ),
      ...kubectlAccess.list('services', { namespace: config.namespace }, "preflight: the workloads' Services"),
      ...kubectlAccess.list('daemonsets.apps', {}, 'preflight: which CNI runs (its DaemonSet, in any namespace)'),
      ...apiServerEndpointsAccess("preflight: the API server's addresses, for the manager's egress policy"),
    ],
  }),
  plan: ({ config }) => [
    {
      kind: 'command',
      argv: ['kubectl', 'version', '--client', '-o', 'json'],
      why: text.plan.clientVersion,
    },
    {
      kind: 'command',
      argv: ['kubectl', 'version', '-o', 'json'],
      why: text.plan.serverVersion,
    },
    ...WORKLOADS.map((w) => ({
      kind: 'command' as const,
      argv: ['kubectl', 'get', w.resource, '-n', config.namespace, '-o', 'json'],
      why: text.plan.findWorkload(w.role, chartSelector(config, w.role)),
    })),
    {
      kind: 'command',
      argv: ['kubectl', 'get', 'daemonsets', '--all-namespaces', '-o', 'json'],
      why: text.plan.whichCni,
    },
    {
      kind: 'command',
      argv: ['kubectl', 'get', 'endpoints', 'kubernetes', '-n', 'default', '-o', 'json'],
      why: text.plan.apiServerAddresses,
    },
    { kind: 'note', text: text.plan.readOnly },
  ],
  // Read-only: the observation happens once, in verify, which also records the facts.
  async run() {
    return { unchanged: text.notes.readOnly }
  },
  async verify(ctx, io) {
    const observation = await observe(ctx.cluster, ctx.config)
    recordFacts(ctx.facts, observation)
    const checks = checksOf(observation, ctx.config)
    if (observation.serverVersion)
      checks.splice(2, 0, await kubernetesVersionCheck(observation.serverVersion, ctx.config, io))
    return checks
  },
}
