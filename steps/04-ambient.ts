// Install Istio with the ambient profile using the istioctl the previous step verified: precheck first,
// leave an identical install alone, and stop rather than reconfigure a different Istio someone else runs.
import { text } from '../lib/config/text.ts'
import { StepFailure } from '../lib/config/errors.ts'
import type { Config } from '../lib/config/options.ts'
import { findNamed, getNamed } from '../lib/domain/gateway-api.ts'
import {
  AMBIENT_LABEL,
  DEFAULT_TRUST_DOMAIN,
  ISTIO_NAMESPACE,
  istioctlBinary,
  MESH_CONFIG,
  readTrustDomain,
  useInstalledIstioctl,
} from '../lib/domain/istio.ts'
import { shellLine, type Cluster } from '../lib/kube/cluster.ts'
import { readiness } from '../lib/kube/readiness.ts'
import { untilChanged } from '../lib/kube/wait.ts'
import { kubectlAccess } from '../lib/kube/access.ts'
import { installAccess, precheckAccess } from '../lib/domain/istio-access.ts'
import type { Check, KubeObject, Step } from '../lib/types.ts'

/** istioctl waits for the components up to --readiness-timeout (default 5m); the runbook passes its own --timeout. */
const installArgs = (timeoutSeconds: number) => [
  'install',
  '--set',
  'profile=ambient',
  '-y',
  `--readiness-timeout=${timeoutSeconds}s`,
]
const PRECHECK_ARGS = ['x', 'precheck']

/** The three workloads the ambient profile runs, and how each reports readiness. */
export const AMBIENT_COMPONENTS = [
  { kind: 'Deployment', resource: 'deployment', name: 'istiod' },
  { kind: 'DaemonSet', resource: 'daemonset', name: 'ztunnel' },
  { kind: 'DaemonSet', resource: 'daemonset', name: 'istio-cni-node' },
] as const

/** The release an Istio workload runs: its first container's image tag without a variant suffix. */
export function imageVersion(workload: KubeObject | undefined): string | undefined {
  // A digest (image:tag@sha256:…) is not the tag; a registry port (host:5000/image) has no tag after it.
  const image: string = (workload?.spec?.template?.spec?.containers?.[0]?.image ?? '').split('@')[0]
  const name = image.slice(image.lastIndexOf('/') + 1)
  const tag = name.includes(':') ? name.slice(name.lastIndexOf(':') + 1) : ''
  return /^\d+\.\d+\.\d+(-(alpha|beta|rc)[.\w]*)?/.exec(tag)?.[0]
}

/** Whether istiod runs with ambient support switched on, as the ambient profile configures it. */
export function ambientEnabled(istiod: KubeObject | undefined): boolean {
  const containers: any[] = istiod?.spec?.template?.spec?.containers ?? []
  return containers.some((c) => (c.env ?? []).some((e: any) => e.name === 'PILOT_ENABLE_AMBIENT' && e.value === 'true'))
}

const componentRefs = AMBIENT_COMPONENTS.map((c) => `${c.resource}/${c.name}`)

async function observe(cluster: Cluster): Promise<Record<string, KubeObject | undefined>> {
  const found = await getNamed(cluster, ISTIO_NAMESPACE, componentRefs)
  return Object.fromEntries(AMBIENT_COMPONENTS.map((c) => [c.name, findNamed(found, c.kind, c.name)]))
}

export type IstioDecision =
  | { action: 'install'; reason: string }
  | { action: 'skip'; reason: string }
  | { action: 'stop'; reason: string }

/** Compares what runs in istio-system (and the app namespace's labels) with what the step would install. */
export function decideIstio(
  components: Record<string, KubeObject | undefined>,
  namespace: KubeObject | undefined,
  config: Pick<Config, 'istioVersion' | 'namespace'>,
): IstioDecision {
  const labels = namespace?.metadata.labels ?? {}
  const injection = Object.entries(labels).filter(
    ([k, v]) => (k === 'istio-injection' && v === 'enabled') || k === 'istio.io/rev',
  )
  if (injection.length) {
    return {
      action: 'stop',
      reason: text.failures.sidecarInjection(
        config.namespace,
        injection.map(([k, v]) => `${k}=${v}`).join(', '),
        injection.map(([k]) => `${k}-`).join(' '),
      ),
    }
  }
  const istiod = components.istiod
  if (!istiod) return { action: 'install', reason: text.progress.noIstiod(ISTIO_NAMESPACE) }
  const version = imageVersion(istiod) ?? text.failures.unknownVersion
  if (version !== config.istioVersion) {
    return {
      action: 'stop',
      reason: text.failures.otherIstio(version, ISTIO_NAMESPACE, config.istioVersion),
    }
  }
  if (!ambientEnabled(istiod)) {
    return {
      action: 'stop',
      reason: text.failures.notAmbient(version, ISTIO_NAMESPACE),
    }
  }
  const absent = AMBIENT_COMPONENTS.filter((c) => !components[c.name]).map((c) => c.name)
  if (absent.length) return { action: 'install', reason: text.progress.ambientIncomplete(version, absent) }
  const others = AMBIENT_COMPONENTS.filter(
    (c) => components[c.name] && imageVersion(components[c.name]) !== config.istioVersion,
  )
  if (others.length)
    return {
      action: 'install',
      reason: text.progress.componentsRun(
        others.map((c) => ({ name: c.name, version: imageVersion(components[c.name]) })),
      ),
    }
  return { action: 'skip', reason: text.notes.istioInstalled(version) }
}

export const ambientStep: Step = {
  id: 'ambient',
  title: 'Install Istio (ambient profile)',
  why:
    'Ambient mode puts workloads in the mesh without sidecars: the istio-cni node agent redirects pod traffic to ztunnel, a per-node proxy ' +
    'that gives every enrolled pod a workload identity and mutual TLS, and istiod programs both. The precheck catches an unsupported cluster ' +
    'before anything changes. An Istio that is already there at the same version with the ambient profile is left as it is; a different one ' +
    '(another version, another profile, or sidecar injection on the namespace) stops the runbook, because changing it affects every workload it serves.',
  requires: ['preflight', 'istioctl'],
  settings: ['istioVersion', 'namespace'],
  access: (config) => {
    const who = 'ambient'
    const components = [
      ...kubectlAccess.get('deployments.apps', { namespace: ISTIO_NAMESPACE, names: ['istiod'] }, `${who}: istiod`),
      ...kubectlAccess.get(
        'daemonsets.apps',
        { namespace: ISTIO_NAMESPACE, names: ['ztunnel', 'istio-cni-node'] },
        `${who}: ztunnel and istio-cni`,
      ),
    ]
    return {
      run: [
        ...components,
        ...kubectlAccess.get(
          'namespaces',
          { names: [config.namespace, ISTIO_NAMESPACE] },
          `${who}: sidecar injection on Gthulhu's namespace; whether ${ISTIO_NAMESPACE} was there before`,
        ),
        ...precheckAccess(),
        ...installAccess(),
      ],
      verify: [
        ...components,
        ...['deployments.apps', 'daemonsets.apps'].flatMap((r) =>
          kubectlAccess.watch(r, { namespace: ISTIO_NAMESPACE }, `${who}: until Istio's components are ready`),
        ),
        ...kubectlAccess.get(
          'configmaps',
          { namespace: MESH_CONFIG.namespace, names: [MESH_CONFIG.name] },
          `${who}: the mesh's trust domain`,
        ),
      ],
    }
  },
  plan: ({ config, facts }) => {
    const binary = istioctlBinary(config, facts)
    return [
      {
        kind: 'command',
        argv: ['kubectl', 'get', ...componentRefs, '-n', ISTIO_NAMESPACE, '-o', 'json', '--ignore-not-found'],
        why: text.plan.skipOrStopIstio(config.istioVersion),
      },
      {
        kind: 'command',
        argv: ['kubectl', 'get', 'namespace', config.namespace, '-o', 'json', '--ignore-not-found'],
        why: text.plan.stopOnInjection,
      },
      { kind: 'command', argv: [binary, ...PRECHECK_ARGS] },
      { kind: 'command', argv: [binary, ...installArgs(config.timeout)] },
      {
        kind: 'note',
        text: text.plan.waitReady(
          AMBIENT_COMPONENTS.map((c) => `${c.kind.toLowerCase()}/${c.name}`).join(', '),
          ISTIO_NAMESPACE,
        ),
      },
    ]
  },
  async run(ctx, io) {
    useInstalledIstioctl(ctx)
    const [components, namespace] = await Promise.all([
      observe(ctx.cluster),
      ctx.cluster.findJson<KubeObject>(['get', 'namespace', ctx.config.namespace]),
    ])
    const decision = decideIstio(components, namespace, ctx.config)
    if (decision.action === 'stop') throw new StepFailure(decision.reason)
    if (decision.action === 'skip') return { unchanged: decision.reason }
    io.log(text.progress.istioPrecheck(decision.reason))
    const precheck = await ctx.cluster.exec(ctx.cluster.istioctlArgv(PRECHECK_ARGS), { timeoutMs: 120_000 })
    if (precheck.exitCode !== 0) {
      // istioctl prints its findings on stdout and only a summary ("Issues found …") on stderr; warnings fail it too.
      const findings = [precheck.stdout.trim(), precheck.stderr.trim()]
        .filter(Boolean)
        .join('\n')
        .split('\n')
        .slice(-15)
        .join('\n')
      throw new StepFailure(
        text.failures.precheckFailed(precheck.exitCode, findings, shellLine(ctx.cluster.istioctlArgv(PRECHECK_ARGS))),
      )
    }
    io.log(text.progress.installingIstio(ctx.config.istioVersion))
    // istioctl waits for the components itself; give it the configured wait plus time to render and apply.
    // istioctl gives up after --readiness-timeout; the process timeout only backs that up.
    const result = await ctx.cluster.istioctl(installArgs(ctx.config.timeout), {
      timeoutMs: (ctx.config.timeout + 60) * 1000,
    })
    const last = result.stdout.trim().split('\n').pop()
    if (last) io.log(text.progress.toolSaid('istioctl', last))
  },
  undo: {
    found: async (ctx) => {
      const [components, namespace] = await Promise.all([
        observe(ctx.cluster),
        ctx.cluster.findJson<KubeObject>(['get', 'namespace', ISTIO_NAMESPACE]),
      ])
      return { istioInstalled: !!components.istiod, istioNamespaceExisted: !!namespace }
    },
    // Uninstalling Istio takes every enrolled namespace out of the mesh: refuse while any is.
    async blockedBy(ctx) {
      if (ctx.before?.found?.istioInstalled) return undefined
      const enrolled = await ctx.cluster.list('namespaces', { selector: `${AMBIENT_LABEL}=ambient` })
      if (enrolled.length === 0) return undefined
      return text.failures.stillEnrolled(enrolled.map((n) => n.metadata.name).join(', '), AMBIENT_LABEL)
    },
    describe: ({ before }) => [
      before?.found?.istioInstalled
        ? `leave Istio in ${ISTIO_NAMESPACE}: it was installed before the runbook`
        : `istioctl uninstall --purge -y${before?.found?.istioNamespaceExisted ? '' : `, then delete namespace ${ISTIO_NAMESPACE}`} (refused while any namespace is enrolled in ambient)`,
    ],
  },
  async rollback(ctx, io) {
    if (ctx.before?.found?.istioInstalled) return io.log(text.progress.istioLeft(ISTIO_NAMESPACE))
    useInstalledIstioctl(ctx)
    await ctx.cluster.istioctl(['uninstall', '--purge', '-y'], { timeoutMs: (ctx.config.timeout + 60) * 1000 })
    io.log(text.progress.istioUninstalled)
    if (ctx.before?.found?.istioNamespaceExisted) return
    await ctx.cluster.kubectl(['delete', 'namespace', ISTIO_NAMESPACE, '--ignore-not-found'], {
      timeoutMs: ctx.config.timeout * 1000,
    })
    io.log(text.progress.namespaceDeleted(ISTIO_NAMESPACE))
  },
  async verifyRollback(ctx) {
    const kept = !!ctx.before?.found?.istioInstalled
    const istiod = (await observe(ctx.cluster)).istiod
    return [
      {
        name: text.checks.istiodUndone(ISTIO_NAMESPACE, kept),
        expected: kept ? 'present' : 'absent',
        observed: istiod ? 'present' : 'absent',
        ok: !!istiod === kept,
      },
    ]
  },
  async verify(ctx) {
    let components: Record<string, KubeObject | undefined> = {}
    const allReady = () =>
      AMBIENT_COMPONENTS.every(
        (c) => readiness(components[c.name]).ready && imageVersion(components[c.name]) === ctx.config.istioVersion,
      )
    await untilChanged(
      ctx.cluster,
      [
        { resource: 'deployments', namespace: ISTIO_NAMESPACE },
        { resource: 'daemonsets', namespace: ISTIO_NAMESPACE },
      ],
      async () => {
        components = await observe(ctx.cluster)
        return allReady() ? true : undefined
      },
      { timeoutMs: ctx.settleMs, signal: ctx.signal },
    )
    ctx.facts.istio = { version: imageVersion(components.istiod) }
    // Every principal a later step writes carries the mesh's trust domain: record it as the mesh has it.
    const trustDomain = await readTrustDomain(ctx)
    if (trustDomain) ctx.facts.trustDomain = trustDomain
    const meshCheck: Check = {
      name: text.checks.trustDomain(`${MESH_CONFIG.namespace}/${MESH_CONFIG.name}`),
      expected: 'read from the mesh config: identity policies are written in it',
      observed:
        trustDomain ??
        `ConfigMap ${MESH_CONFIG.namespace}/${MESH_CONFIG.name} not found; assuming ${DEFAULT_TRUST_DOMAIN}`,
      ok: !!trustDomain,
      advisory: true,
      hint: trustDomain
        ? undefined
        : `a revisioned install keeps its mesh config in istio-<revision>; if the mesh's trust domain is not ${DEFAULT_TRUST_DOMAIN}, every identity policy would refuse everything`,
    }
    const componentChecks = AMBIENT_COMPONENTS.map((c): Check => {
      const object = components[c.name]
      const state = readiness(object)
      const version = imageVersion(object)
      const ok = state.ready && version === ctx.config.istioVersion
      return {
        name: text.checks.componentReady(c.kind, `${ISTIO_NAMESPACE}/${c.name}`),
        expected: `desired = ready, version ${ctx.config.istioVersion}`,
        observed: object ? `${state.counts}, version ${version ?? 'unknown'}` : 'missing',
        ok,
        hint: ok
          ? undefined
          : `kubectl -n ${ISTIO_NAMESPACE} rollout status ${c.resource}/${c.name}; kubectl -n ${ISTIO_NAMESPACE} describe ${c.resource} ${c.name}`,
      }
    })
    return [...componentChecks, meshCheck]
  },
}
