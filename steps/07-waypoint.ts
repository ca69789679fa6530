// Enrol Gthulhu's namespace in ambient and give it a waypoint: ztunnel then carries every pod's traffic over
// mTLS (HBONE), and the waypoint is where L7 AuthorizationPolicies on the manager Service are enforced. The
// waypoint serves the manager Service only (the label on the Service), unless --waypoint-binding namespace
// binds every Service of the namespace to it as the guide does.
import { text } from '../lib/config/text.ts'
import { StepFailure } from '../lib/config/errors.ts'
import type { Config } from '../lib/config/options.ts'
import { condition } from '../lib/domain/gateway-api.ts'
import { managerService } from '../lib/domain/gthulhu.ts'
import { AMBIENT_LABEL, istioctlBinary, USE_WAYPOINT_LABEL, useInstalledIstioctl } from '../lib/domain/istio.ts'
import { restartOutOfAmbient } from '../lib/domain/rollouts.ts'
import { untilChanged } from '../lib/kube/wait.ts'
import { kubectlAccess } from '../lib/kube/access.ts'
import { waypointApplyAccess, waypointStatusAccess } from '../lib/domain/istio-access.ts'
import type { Check, Facts, KubeObject, PlanItem, Step, StepContext } from '../lib/types.ts'
import { outOfAmbientChecks } from '../lib/verify/enrolment.ts'

const programmed = (gateway: KubeObject | undefined) => condition(gateway, 'Programmed')

/**
 * The Programmed row of `istioctl waypoint status` for one waypoint. istioctl prints NAME STATUS TYPE REASON
 * MESSAGE (with a NAMESPACE column first when no -n is given) and, while the waypoint is not programmed, a new
 * row every second; the last Programmed row counts.
 */
export function waypointStatusRow(stdout: string, name: string): { row: string; status: string } | undefined {
  const rows = stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .map((cells) => ({ cells, at: cells.indexOf(name) }))
    .filter(({ cells, at }) => at >= 0 && cells[at + 2] === 'Programmed')
  const last = rows.at(-1)
  return last && { row: last.cells.join(' '), status: last.cells[last.at + 1] }
}

/**
 * The istioctl arguments of `waypoint apply`: --name only when it is not istioctl's default. --wait waits for
 * Programmed up to --waypoint-timeout (istioctl's default 90s; the runbook passes --timeout). With
 * --enroll-namespace istioctl also labels the namespace, but leaves one that already names a waypoint alone (a
 * warning, exit 0, nothing created) unless --overwrite is given.
 */
export const waypointApplyArgs = (
  namespace: string,
  name: string,
  timeoutSeconds: number,
  { enrollNamespace = false, overwrite = false } = {},
) => [
  'waypoint',
  'apply',
  '-n',
  namespace,
  ...(name === 'waypoint' ? [] : ['--name', name]),
  ...(enrollNamespace ? ['--enroll-namespace'] : []),
  ...(overwrite ? ['--overwrite'] : []),
  '--wait',
  `--waypoint-timeout=${timeoutSeconds}s`,
]

const namespaceWide = (config: Pick<Config, 'waypointBinding'>) => config.waypointBinding === 'namespace'

interface WaypointView {
  labels: Record<string, string>
  /** The manager Service's labels (undefined when it is missing). */
  serviceLabels?: Record<string, string>
  gateway?: KubeObject
}

async function readView(ctx: StepContext): Promise<WaypointView> {
  const { namespace, waypointName } = ctx.config
  const [ns, gateway, service] = await Promise.all([
    ctx.cluster.findJson<KubeObject>(['get', 'namespace', namespace]),
    ctx.cluster.findJson<KubeObject>(['get', 'gateways.gateway.networking.k8s.io', waypointName, '-n', namespace]),
    ctx.cluster.findJson<KubeObject>(['get', 'service', managerService(ctx.config, ctx.facts).name, '-n', namespace]),
  ])
  if (!ns) throw new StepFailure(text.failures.noNamespace(namespace))
  return { labels: ns.metadata.labels ?? {}, serviceLabels: service && (service.metadata.labels ?? {}), gateway }
}

/** The label commands that bind the waypoint: the manager Service always, the namespace only when namespace-wide. */
function bindingCommands(config: Config, facts: Facts): PlanItem[] {
  const ns = config.namespace
  const service = managerService(config, facts).name
  const label = `${USE_WAYPOINT_LABEL}=${config.waypointName}`
  return namespaceWide(config)
    ? [
        {
          kind: 'command',
          argv: ['kubectl', 'label', 'namespace', ns, label, '--overwrite'],
          why: text.plan.namespaceBinding,
        },
      ]
    : [
        {
          kind: 'command',
          argv: ['kubectl', 'label', 'service', service, '-n', ns, label, '--overwrite'],
          why: text.plan.serviceBinding,
        },
        {
          kind: 'note',
          text: text.plan.namespaceLabelRemoved(ns, label),
        },
      ]
}

/** Which Services pass the waypoint: the manager's (and, namespace-wide, every other), never more than chosen. */
function bindingChecks(config: Config, facts: Facts, view: WaypointView): Check[] {
  const { namespace: ns, waypointName: name } = config
  const service = managerService(config, facts).name
  const onService = view.serviceLabels?.[USE_WAYPOINT_LABEL]
  const onNamespace = view.labels[USE_WAYPOINT_LABEL]
  if (namespaceWide(config))
    return [
      {
        name: text.checks.namespaceLabel(ns, `${USE_WAYPOINT_LABEL}=${name}`),
        expected: name,
        observed: onNamespace ?? '(not set)',
        ok: onNamespace === name && (onService === undefined || onService === name),
        hint:
          onNamespace === name
            ? `Service ${service} carries ${USE_WAYPOINT_LABEL}=${onService}, which overrides the namespace's: remove it (kubectl label service ${service} -n ${ns} ${USE_WAYPOINT_LABEL}-)`
            : 'without it, policies that target the manager Service are not enforced by any waypoint',
      },
    ]
  return [
    {
      name: text.checks.serviceLabel(`${ns}/${service}`, `${USE_WAYPOINT_LABEL}=${name}`),
      expected: name,
      observed: view.serviceLabels ? (onService ?? '(not set)') : 'Service not found',
      ok: onService === name,
      hint: 'without it, policies that target the manager Service are not enforced by any waypoint',
    },
    {
      name: text.checks.namespaceNotBinding(ns, name),
      expected: `no ${USE_WAYPOINT_LABEL}=${name} on the namespace`,
      observed: onNamespace === undefined ? '(not set)' : `${USE_WAYPOINT_LABEL}=${onNamespace}`,
      ok: onNamespace !== name,
      hint: `a namespace-wide binding puts every Service someone creates in ${ns} on the waypoint; run the waypoint step again, or choose --waypoint-binding namespace deliberately`,
    },
  ]
}

export const waypointStep: Step = {
  id: 'waypoint',
  title: 'Enrol the namespace in ambient and add a waypoint for the manager',
  why:
    "Labelling the namespace istio.io/dataplane-mode=ambient hands every Gthulhu pod's traffic to ztunnel, which wraps it in mutual TLS with each pod's ServiceAccount identity — " +
    'the identity the L7 policy later checks. ztunnel only sees L4, so a waypoint proxy is added and bound with istio.io/use-waypoint: traffic to the manager Service then passes the waypoint, ' +
    'which enforces HTTP-level AuthorizationPolicies — for in-mesh callers that address the Service; callers outside the mesh and pod-IP traffic go straight to the pod (the identity-policies step closes that path). ' +
    'Policies that target a Service do nothing without a bound waypoint. ' +
    "The label goes on the manager Service only. The guide puts it on the namespace, which binds every Service there to the waypoint: a Service someone else creates for the manager's pods then passes the waypoint too, " +
    "and the waypoint forwards it with its own identity, which the manager's identity policy admits (a confused deputy; the l7-policies step attaches a policy to the waypoint itself against that). " +
    "In the default namespace it also binds kubernetes.default.svc, so the API-server traffic of enrolled pods passes the waypoint. --waypoint-binding namespace keeps the guide's form; " +
    'otherwise a namespace label naming this waypoint is removed. Every command here is idempotent, and a run repairs a waypoint that was deleted while the labels stayed.',
  requires: ['preflight', 'istioctl'],
  settings: ['namespace', 'release', 'waypointName', 'waypointBinding'],
  access: (config) => {
    const who = 'waypoint'
    const ns = config.namespace
    const waypoint = { namespace: ns, names: [config.waypointName] }
    const view = [
      ...kubectlAccess.get('namespaces', { names: [ns] }, `${who}: the namespace's labels`),
      ...kubectlAccess.get('gateways.gateway.networking.k8s.io', waypoint, `${who}: the waypoint`),
      // The manager Service's name comes from preflight (the chart's fullname): not known beforehand.
      ...kubectlAccess.get('services', { namespace: ns }, `${who}: the manager Service's labels`),
    ]
    return {
      run: [
        ...view,
        ...kubectlAccess.patch('namespaces', { names: [ns] }, `${who}: enrols the namespace (label ${AMBIENT_LABEL})`),
        ...waypointApplyAccess(ns, config.waypointName, namespaceWide(config)),
        ...(namespaceWide(config)
          ? []
          : kubectlAccess.patch(
              'services',
              { namespace: ns },
              `${who}: binds the manager Service (label ${USE_WAYPOINT_LABEL})`,
            )),
      ],
      verify: [
        ...view,
        ...kubectlAccess.watch(
          'gateways.gateway.networking.k8s.io',
          waypoint,
          `${who}: until the waypoint is programmed`,
        ),
        ...waypointStatusAccess(ns, config.waypointName),
      ],
    }
  },
  plan: ({ config, facts }) => {
    const ns = config.namespace
    const items: PlanItem[] = [
      {
        kind: 'command',
        argv: ['kubectl', 'label', 'namespace', ns, `${AMBIENT_LABEL}=ambient`, '--overwrite'],
        why: text.plan.ztunnelTakesOver,
      },
      {
        kind: 'command',
        argv: [
          istioctlBinary(config, facts),
          ...waypointApplyArgs(ns, config.waypointName, config.timeout, { enrollNamespace: namespaceWide(config) }),
        ],
        why: text.plan.waypointFor(namespaceWide(config) ? ns : undefined),
      },
      ...bindingCommands(config, facts),
      {
        kind: 'note',
        text: text.plan.verifyWaypoint(
          ns,
          namespaceWide(config)
            ? text.plan.boundNamespace(ns)
            : text.plan.boundService(managerService(config, facts).name),
          config.waypointName,
        ),
      },
    ]
    return items
  },
  async run(ctx, io) {
    useInstalledIstioctl(ctx)
    const { namespace: ns, waypointName: name } = ctx.config
    const service = managerService(ctx.config, ctx.facts).name
    const before = await readView(ctx)
    const foreignClass = before.gateway?.spec?.gatewayClassName
    if (before.gateway && foreignClass !== 'istio-waypoint') {
      // istioctl waypoint apply would rewrite this Gateway into a waypoint: never take over someone else's object.
      throw new StepFailure(text.failures.foreignWaypoint(`${ns}/${name}`, foreignClass, name, ns))
    }
    if (!before.serviceLabels) throw new StepFailure(text.failures.noManagerServiceForWaypoint(`${ns}/${service}`))
    const done: string[] = []
    if (before.labels[AMBIENT_LABEL] !== 'ambient') {
      await ctx.cluster.kubectl(['label', 'namespace', ns, `${AMBIENT_LABEL}=ambient`, '--overwrite'])
      done.push(text.progress.namespaceLabelled(ns, `${AMBIENT_LABEL}=ambient`))
    }
    const wide = namespaceWide(ctx.config)
    const waypointReady = programmed(before.gateway)?.status === 'True'
    const bound = before.labels[USE_WAYPOINT_LABEL]
    if (!waypointReady || (wide && bound !== name)) {
      // Without --overwrite istioctl would skip a namespace that already names a waypoint (a repair after the waypoint was deleted).
      if (wide && bound !== undefined && bound !== name) io.warn(text.warnings.waypointRebound(ns, bound, name))
      // istioctl stops at --waypoint-timeout; the process timeout only backs that up.
      const { stdout } = await ctx.cluster.istioctl(
        waypointApplyArgs(ns, name, ctx.config.timeout, {
          enrollNamespace: wide,
          overwrite: wide && bound !== undefined,
        }),
        { timeoutMs: (ctx.config.timeout + 30) * 1000 },
      )
      const said = stdout.trim().split('\n').join('; ')
      done.push(said ? text.progress.toolSaid('istioctl', said) : text.progress.waypointApplied(`${ns}/${name}`))
    }
    if (wide) {
      if (ns === 'default') io.warn(text.warnings.namespaceWideDefault)
      // --enroll-namespace sets this label too; setting it again keeps the guide's explicit step and is harmless.
      const after = await readView(ctx)
      if (after.labels[USE_WAYPOINT_LABEL] !== name) {
        await ctx.cluster.kubectl(['label', 'namespace', ns, `${USE_WAYPOINT_LABEL}=${name}`, '--overwrite'])
        done.push(text.progress.namespaceLabelled(ns, `${USE_WAYPOINT_LABEL}=${name}`))
      }
    } else {
      if (before.serviceLabels[USE_WAYPOINT_LABEL] !== name) {
        await ctx.cluster.kubectl([
          'label',
          'service',
          service,
          '-n',
          ns,
          `${USE_WAYPOINT_LABEL}=${name}`,
          '--overwrite',
        ])
        done.push(text.progress.serviceLabelled(`${ns}/${service}`, `${USE_WAYPOINT_LABEL}=${name}`))
      }
      // A namespace-wide binding to this waypoint (the guide's, or an earlier run's) would put every Service on it.
      if (bound === name) {
        await ctx.cluster.kubectl(['label', 'namespace', ns, `${USE_WAYPOINT_LABEL}-`])
        done.push(text.progress.namespaceBindingRemoved(`${USE_WAYPOINT_LABEL}=${name}`, ns))
      } else if (bound !== undefined && bound !== 'none') io.warn(text.warnings.otherServicesBound(ns, bound))
    }
    if (done.length === 0)
      return {
        unchanged: text.notes.waypointInPlace(
          ns,
          name,
          wide ? text.notes.waypointScopeNamespace : text.notes.waypointScopeService(service),
        ),
      }
    for (const line of done) io.log(line)
  },
  async verify(ctx) {
    useInstalledIstioctl(ctx)
    const { namespace: ns, waypointName: name } = ctx.config
    // The waypoint may still be starting on a first run: wait for Programmed (ctx.settleMs: --timeout; an audit reads once).
    const settled = await untilChanged(
      ctx.cluster,
      [{ resource: 'gateways.gateway.networking.k8s.io', namespace: ns, name }],
      async () => {
        const seen = await readView(ctx)
        return programmed(seen.gateway)?.status === 'True' ? seen : undefined
      },
      { timeoutMs: ctx.settleMs, signal: ctx.signal },
    )
    const view = settled ?? (await readView(ctx))
    const condition = programmed(view.gateway)
    // istioctl waypoint status polls until the waypoint is Programmed or --waypoint-timeout passes: only ask once
    // the Gateway says so (it then answers after one tick), and bound it anyway.
    const status =
      condition?.status === 'True'
        ? await ctx.cluster.exec(
            ctx.cluster.istioctlArgv(['waypoint', 'status', '-n', ns, '--name', name, '--waypoint-timeout=30s']),
            { timeoutMs: 60_000 },
          )
        : undefined
    const statusRow = status && waypointStatusRow(status.stdout, name)
    const checks: Check[] = [
      {
        name: text.checks.namespaceLabel(ns, `${AMBIENT_LABEL}=ambient`),
        expected: 'ambient',
        observed: view.labels[AMBIENT_LABEL] ?? '(not set)',
        ok: view.labels[AMBIENT_LABEL] === 'ambient',
        hint: `kubectl label namespace ${ns} ${AMBIENT_LABEL}=ambient --overwrite`,
      },
      ...bindingChecks(ctx.config, ctx.facts, view),
      {
        name: text.checks.waypointProgrammed(`${ns}/${name}`),
        expected: 'gatewayClassName istio-waypoint, Programmed=True',
        observed: view.gateway
          ? `gatewayClassName ${view.gateway.spec?.gatewayClassName}, Programmed=${condition?.status ?? 'Unknown'}${condition?.reason ? ` (${condition.reason}${condition.message ? `: ${condition.message}` : ''})` : ''}`
          : 'not found',
        ok: view.gateway?.spec?.gatewayClassName === 'istio-waypoint' && condition?.status === 'True',
        hint: `kubectl describe gateway ${name} -n ${ns}; kubectl get pods -n ${ns} -l gateway.networking.k8s.io/gateway-name=${name}`,
      },
      {
        name: text.checks.waypointStatus(ns, name),
        expected: `exit 0, ${name} Programmed with status True`,
        observed: !status
          ? 'not asked: the waypoint Gateway is not Programmed'
          : status.exitCode === 0
            ? (statusRow?.row ?? `no Programmed row for ${name}`)
            : `exit ${status.exitCode}: ${(status.stderr || status.stdout).trim().split('\n').pop()}`,
        ok: status?.exitCode === 0 && statusRow?.status === 'True',
      },
    ]
    return checks
  },
  undo: {
    labels: ({ config, facts }) => [
      ...[AMBIENT_LABEL, USE_WAYPOINT_LABEL].map((key) => ({ resource: 'namespace', name: config.namespace, key })),
      {
        resource: 'service',
        namespace: config.namespace,
        name: managerService(config, facts).name,
        key: USE_WAYPOINT_LABEL,
      },
    ],
    objects: ({ config }) => [
      { resource: 'gateways.gateway.networking.k8s.io', namespace: config.namespace, name: config.waypointName },
    ],
    describe: ({ config }) => [
      `then restart the workloads of ${config.namespace} out of ambient, and check they are Ready and the manager still reaches MongoDB and the decision maker`,
    ],
  },
  rollback: restartOutOfAmbient,
  verifyRollback: outOfAmbientChecks,
}
