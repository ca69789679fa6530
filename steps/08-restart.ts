// Restart Gthulhu's three workloads so every pod starts inside ambient, then prove it: rollouts complete,
// pods Ready and shown as HBONE by ztunnel, and the L4 reachability matrix still as the policies say.
import { text } from '../lib/config/text.ts'
import { StepFailure } from '../lib/config/errors.ts'
import { AMBIENT_LABEL, istioctlBinary, KUBELET_PROBE_SOURCES, useInstalledIstioctl } from '../lib/domain/istio.ts'
import {
  kubeletTrapHint,
  L4_POLICY_NAMES,
  policyChecks,
  portsAdmittedFromBlock,
  readLive,
  readLiveAccess,
} from '../lib/domain/network-policies.ts'
import {
  isReady,
  ownedPods,
  REDIRECTION,
  restartOutOfAmbient,
  rolledOut,
  rolloutStatus,
  selectorOf,
  theWorkloads,
  workloadRef,
} from '../lib/domain/rollouts.ts'
import type { Check, KubeObject, Step, StepContext, WorkloadFacts } from '../lib/types.ts'
import { outOfAmbientChecks } from '../lib/verify/enrolment.ts'
import { pathsAccess, tryPaths } from '../lib/verify/paths.ts'
import { kubectlAccess } from '../lib/kube/access.ts'
import { ztunnelConfigAccess } from '../lib/domain/istio-access.ts'
import { pathsTriedAt } from '../lib/verify/threat-model.ts'
import { resolveProbePort } from '../lib/verify/probes.ts'

export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt'

/** When this runbook restarted each workload (its restartedAt annotation), so a second run changes nothing. */
type RestartFacts = Record<string, string>

/**
 * Why a workload's pods are not Ready. Names the kubelet-probe trap when an enrolled pod's readiness probe
 * port is covered by a NetworkPolicy that does not admit ambient's probe source.
 */
export async function explainUnready(ctx: StepContext, workload: WorkloadFacts): Promise<string | undefined> {
  const ns = ctx.config.namespace
  const [pods, policies] = await Promise.all([
    ctx.cluster.list('pods', { namespace: ns, selector: selectorOf(workload) }),
    ctx.cluster.list('networkpolicies', { namespace: ns }),
  ])
  const unready = ownedPods(pods).filter((p) => !isReady(p))
  if (unready.length === 0) return undefined
  const names = unready.map((p) => p.metadata.name).join(', ')
  for (const pod of unready) {
    if (pod.metadata.annotations?.[REDIRECTION] !== 'enabled') continue
    const probePorts = (pod.spec?.containers ?? [])
      .map((c: any) => resolveProbePort(pod, c.readinessProbe))
      .filter((p: number | undefined): p is number => p !== undefined)
    const blocking = policies.find((policy) => {
      const selects = Object.entries(policy.spec?.podSelector?.matchLabels ?? {}).every(
        ([k, v]) => pod.metadata.labels?.[k] === v,
      )
      if (!selects || !(policy.spec?.policyTypes ?? ['Ingress']).includes('Ingress')) return false
      const admitted = portsAdmittedFromBlock(policy, KUBELET_PROBE_SOURCES[0])
      return probePorts.some((port: number) => !admitted.includes(port))
    })
    if (blocking) {
      return `${names} not Ready after ambient enrolment — the kubelet-probe trap: ${kubeletTrapHint(workload.name, blocking.metadata.name)} Fix: run l4-policies again without --no-allow-kubelet-probes, then this step.`
    }
  }
  const reason = unready
    .map((p) => (p.status?.conditions ?? []).find((c: any) => c.type === 'Ready' && c.status !== 'True'))
    .map((c: any) => c?.message ?? c?.reason)
    .find(Boolean)
  return `${names} not Ready${reason ? `: ${reason}` : ''} (kubectl describe pod -n ${ns} ${unready[0].metadata.name})`
}

// No -n: for ztunnel-config, -n names the namespace of the ztunnel pod to ask (default istio-system), not a
// workload filter; ztunnel knows every workload, so the rows are filtered by namespace here.
const ZTUNNEL_WORKLOADS_ARGS = ['ztunnel-config', 'workloads', '-o', 'json']

/** Pods of each workload as ztunnel lists them (protocol HBONE once enrolled). */
async function ztunnelProtocols(ctx: StepContext): Promise<Map<string, string> | string> {
  const result = await ctx.cluster.exec(ctx.cluster.istioctlArgv(ZTUNNEL_WORKLOADS_ARGS), { timeoutMs: 60_000 })
  if (result.exitCode !== 0)
    return `istioctl ztunnel-config workloads failed: ${(result.stderr || result.stdout).trim().split('\n').pop()}`
  try {
    const rows = JSON.parse(result.stdout) as { name?: string; namespace?: string; protocol?: string }[]
    return new Map(
      rows.filter((r) => r.namespace === ctx.config.namespace && r.name).map((r) => [r.name!, String(r.protocol)]),
    )
  } catch {
    return 'istioctl ztunnel-config workloads -o json printed something that is not JSON'
  }
}

export const restartStep: Step = {
  id: 'restart',
  title: 'Restart Gthulhu so every pod runs inside ambient',
  why:
    'Pods that were running before the namespace joined ambient keep connections and health-check paths set up the old way; the guide restarts the manager, MongoDB and the scheduler so that every pod starts enrolled. ' +
    "The restart is also the moment of truth for the L4 policies: after it, ambient's rewritten kubelet probes and HBONE traffic hit them. " +
    'So the step checks that each rollout completes, that ztunnel lists every pod as HBONE, and that the reachability matrix still holds. ' +
    'Pods that fail readiness right after enrolment are almost always the kubelet-probe trap (a NetworkPolicy that does not admit 169.254.7.127).',
  requires: ['preflight', 'istioctl'],
  settings: ['namespace', 'release'],
  access: (config) => {
    const who = 'restart'
    const ns = { namespace: config.namespace }
    // The workloads' names come from preflight (the chart's fullname): not known beforehand.
    const workloads = ['deployments.apps', 'statefulsets.apps', 'daemonsets.apps']
    const read = workloads.flatMap((r) => kubectlAccess.get(r, ns, `${who}: Gthulhu's workloads`))
    const rollout = (when?: string) =>
      workloads.flatMap((r) =>
        kubectlAccess.rolloutStatus(r, { ...ns, ...(when ? { when } : {}) }, `${who}: kubectl rollout status`),
      )
    const unready = kubectlAccess.list(
      'networkpolicies.networking.k8s.io',
      { ...ns, when: 'when a pod is not Ready (the kubelet-probe trap)' },
      `${who}: why a pod is not Ready`,
    )
    return {
      run: [
        ...kubectlAccess.get('namespaces', { names: [config.namespace] }, `${who}: enrolled in ambient?`),
        ...read,
        ...workloads.flatMap((r) => kubectlAccess.patch(r, ns, `${who}: kubectl rollout restart`)),
        ...rollout(),
        ...kubectlAccess.list('pods', { ...ns, when: 'when it ran before' }, `${who}: already restarted?`),
        ...unready,
      ],
      verify: [
        ...read,
        ...rollout('when a rollout is still under way'),
        ...kubectlAccess.list('pods', ns, `${who}: the workloads' pods`),
        ...ztunnelConfigAccess(),
        ...readLiveAccess(config, `${who}: the NetworkPolicies after the restart`),
        ...unready,
        ...pathsAccess(config, pathsTriedAt('restart'), who),
      ],
    }
  },
  plan: (ctx) => [
    ...theWorkloads(ctx).map((w) => ({
      kind: 'command' as const,
      argv: ['kubectl', 'rollout', 'restart', workloadRef(w), '-n', ctx.config.namespace],
      why: text.plan.concurrently,
    })),
    ...theWorkloads(ctx).map((w) => ({
      kind: 'command' as const,
      argv: [
        'kubectl',
        'rollout',
        'status',
        workloadRef(w),
        '-n',
        ctx.config.namespace,
        `--timeout=${ctx.config.timeout}s`,
      ],
    })),
    {
      kind: 'command',
      argv: [istioctlBinary(ctx.config, ctx.facts), ...ZTUNNEL_WORKLOADS_ARGS],
      why: text.plan.everyPodHbone(ctx.config.namespace),
    },
    {
      kind: 'note',
      text: text.plan.verifyRestart,
    },
  ],
  async run(ctx, io) {
    useInstalledIstioctl(ctx)
    const ns = ctx.config.namespace
    const list = theWorkloads(ctx)
    const recorded = (ctx.facts.restarts ?? {}) as RestartFacts
    const [namespace, ...live] = await Promise.all([
      ctx.cluster.findJson<KubeObject>(['get', 'namespace', ns]),
      ...list.map((w) => ctx.cluster.findJson<KubeObject>(['get', workloadRef(w), '-n', ns])),
    ])
    const missing = list.filter((_, i) => !live[i])
    if (missing.length) throw new StepFailure(text.failures.workloadsMissing(missing.map(workloadRef), ns))
    if (namespace?.metadata.labels?.[AMBIENT_LABEL] !== 'ambient') {
      io.warn(text.warnings.restartNotEnrolled(ns, AMBIENT_LABEL))
    }
    const restartedAt = (o: KubeObject | undefined) =>
      o?.spec?.template?.metadata?.annotations?.[RESTARTED_AT] as string | undefined
    // Already restarted by this runbook, and every pod enrolled: a second run changes nothing.
    if (list.every((w, i) => recorded[w.name] && restartedAt(live[i]) === recorded[w.name])) {
      const pods = ownedPods(
        (
          await Promise.all(list.map((w) => ctx.cluster.list('pods', { namespace: ns, selector: selectorOf(w) })))
        ).flat(),
      )
      if (pods.length && pods.every((p) => p.metadata.annotations?.[REDIRECTION] === 'enabled')) {
        return {
          unchanged: text.notes.restarted([...new Set(Object.values(recorded))].join(', ')),
        }
      }
    }
    await Promise.all(list.map((w) => ctx.cluster.kubectl(['rollout', 'restart', workloadRef(w), '-n', ns])))
    io.log(text.progress.restarting(list.map(workloadRef).join(', '), ctx.config.timeout))
    const statuses = await Promise.all(list.map((w) => rolloutStatus(ctx, w, ctx.config.timeout)))
    const after = await Promise.all(
      list.map((w) => ctx.cluster.findJson<KubeObject>(['get', workloadRef(w), '-n', ns])),
    )
    ctx.facts.restarts = Object.fromEntries(list.map((w, i) => [w.name, restartedAt(after[i]) ?? ''])) as RestartFacts
    const failed = list.filter((_, i) => statuses[i].exitCode !== 0)
    if (failed.length) {
      const reasons = await Promise.all(
        failed.map(
          async (w) =>
            `${workloadRef(w)}: ${(await explainUnready(ctx, w)) ?? (statuses[list.indexOf(w)].stderr.trim().split('\n').pop() || text.failures.rolloutDidNotComplete)}`,
        ),
      )
      throw new StepFailure(text.failures.rolloutIncomplete(ctx.config.timeout, reasons))
    }
    io.log(text.progress.rolloutsComplete(list.map(workloadRef).join(', ')))
  },
  async verify(ctx, io) {
    useInstalledIstioctl(ctx)
    const ns = ctx.config.namespace
    const list = theWorkloads(ctx)
    const [statuses, podLists, protocols, policies] = await Promise.all([
      Promise.all(list.map((w) => rolledOut(ctx, w))),
      Promise.all(list.map((w) => ctx.cluster.list('pods', { namespace: ns, selector: selectorOf(w) }))),
      ztunnelProtocols(ctx),
      ctx.cluster.list('networkpolicies', { namespace: ns }),
    ])
    const checks: Check[] = []
    for (const [i, w] of list.entries()) {
      const pods = ownedPods(podLists[i])
      const unready = pods.filter((p) => !isReady(p))
      checks.push({
        name: text.checks.rolloutComplete(workloadRef(w)),
        expected: 'complete',
        observed:
          statuses[i].exitCode === 0
            ? (statuses[i].stdout.trim().split('\n').pop() ?? 'complete')
            : ((statuses[i].stderr || statuses[i].stdout).trim().split('\n').pop() ?? `exit ${statuses[i].exitCode}`),
        ok: statuses[i].exitCode === 0,
      })
      checks.push({
        name: text.checks.podsReady(workloadRef(w)),
        expected: 'every pod Ready',
        observed: `${pods.length - unready.length}/${pods.length} Ready${unready.length ? ` (not: ${unready.map((p) => p.metadata.name).join(', ')})` : ''}`,
        ok: pods.length > 0 && unready.length === 0,
        hint: unready.length ? await explainUnready(ctx, w) : `no pods found with labels ${selectorOf(w)}`,
      })
      const shown =
        typeof protocols === 'string'
          ? []
          : pods.map((p) => `${p.metadata.name}=${protocols.get(p.metadata.name) ?? 'not listed'}`)
      checks.push({
        name: text.checks.podsEnrolled(workloadRef(w)),
        expected: 'HBONE for every pod',
        observed: typeof protocols === 'string' ? protocols : shown.join(', ') || 'no pods',
        ok:
          typeof protocols !== 'string' &&
          pods.length > 0 &&
          pods.every((p) => protocols.get(p.metadata.name) === 'HBONE'),
        hint: `is namespace ${ns} labelled ${AMBIENT_LABEL}=ambient (waypoint step) and is ztunnel running (kubectl -n istio-system get ds ztunnel)?`,
      })
    }
    if (!policies.some((p) => L4_POLICY_NAMES.includes(p.metadata.name))) {
      checks.push({
        name: text.checks.l4AfterRestart,
        expected: 'the l4-policies NetworkPolicies',
        observed: 'not found: nothing to check',
        ok: false,
        advisory: true,
        hint: 'run the l4-policies step',
      })
      return checks
    }
    // The policies themselves too: after enrolment a TCP "connects" is answered by the client's own ztunnel, so the
    // static "admits 15008 (HBONE)" check (with the HTTP probe to the scheduler) carries the evidence.
    const [live, paths] = await Promise.all([readLive(ctx), tryPaths(ctx, io, 'restart')])
    return [...checks, ...policyChecks(ctx.config, ctx.facts, live), ...paths]
  },
  async rollback(ctx, io) {
    await restartOutOfAmbient(ctx, io)
  },
  verifyRollback: outOfAmbientChecks,
}
