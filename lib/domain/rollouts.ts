// Restarting Gthulhu's workloads and reading their pods: which pods a workload owns, whether they are Ready, and
// the rollout that takes them out of ambient again on undo.
import { StepFailure } from '../config/errors.ts'
import { selectorText } from '../kube/object.ts'
import { readiness } from '../kube/readiness.ts'
import { text } from '../config/text.ts'
import type { KubeObject, StepContext, StepIO, WorkloadFacts } from '../types.ts'
import { workloads } from './gthulhu.ts'
import { AMBIENT_LABEL } from './istio.ts'

/** istio-cni's annotation on a pod it redirected to ztunnel. */
export const REDIRECTION = 'ambient.istio.io/redirection'
const RESOURCE = { Deployment: 'deployment', StatefulSet: 'statefulset', DaemonSet: 'daemonset' } as const

/** kubectl's name for a workload, e.g. deployment/gthulhu-manager. */
export const workloadRef = (w: WorkloadFacts) => `${RESOURCE[w.kind]}/${w.name}`
export const selectorOf = (w: WorkloadFacts) => selectorText(w.selectorLabels)
export const isReady = (pod: KubeObject) =>
  pod.status?.phase === 'Running' &&
  (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True')
// Probe pods may wear a workload's labels; only pods a controller owns belong to the workload.
export const ownedPods = (pods: KubeObject[]) =>
  pods.filter(
    (p) => ((p.metadata.ownerReferences as unknown[] | undefined) ?? []).length > 0 && !p.metadata.deletionTimestamp,
  )

/** The manager, MongoDB and the scheduler, in the order they are restarted and reported. */
export const theWorkloads = (ctx: Pick<StepContext, 'config' | 'facts'>) => {
  const { manager, mongodb, scheduler } = workloads(ctx.config, ctx.facts)
  return [manager, mongodb, scheduler]
}

/** `kubectl rollout status`, bounded by the rollout's own timeout plus a margin for kubectl itself. */
export async function rolloutStatus(ctx: StepContext, w: WorkloadFacts, seconds: number) {
  return ctx.cluster.exec(
    ctx.cluster.kubectlArgv(['rollout', 'status', workloadRef(w), '-n', ctx.config.namespace, `--timeout=${seconds}s`]),
    {
      timeoutMs: (seconds + 30) * 1000,
    },
  )
}

/**
 * Like rolloutStatus, without a process when the workload's status already says it rolled out (every desired
 * pod ready and updated, for its current generation — what `kubectl rollout status` waits for) or when the
 * context allows no wait (an audit); otherwise `kubectl rollout status` waits for it, up to ctx.settleMs.
 */
export async function rolledOut(ctx: StepContext, w: WorkloadFacts) {
  const live = await ctx.cluster.findJson<KubeObject>(['get', workloadRef(w), '-n', ctx.config.namespace])
  const state = readiness(live)
  const ref = `${RESOURCE[w.kind]} "${w.name}"`
  if (live && state.ready)
    return { exitCode: 0, stdout: `${ref} successfully rolled out (${state.counts})\n`, stderr: '' }
  const seconds = Math.ceil(ctx.settleMs / 1000)
  if (seconds > 0) return rolloutStatus(ctx, w, seconds)
  return { exitCode: 1, stdout: '', stderr: live ? `${ref} not rolled out (${state.counts})\n` : `${ref} not found\n` }
}

/** Undo of enrolment: once the namespace is no longer ambient, restart the workloads whose pods still are. */
export async function restartOutOfAmbient(ctx: StepContext, io: StepIO): Promise<void> {
  const ns = ctx.config.namespace
  const namespace = await ctx.cluster.findJson<KubeObject>(['get', 'namespace', ns])
  if (namespace?.metadata.labels?.[AMBIENT_LABEL] === 'ambient') {
    io.log(text.progress.stillAmbient(ns, AMBIENT_LABEL))
    return
  }
  // istio-cni takes running pods out on its own; the restart (as the guide's enrolment did) gives them fresh connections outside the mesh.
  const list = theWorkloads(ctx)
  await Promise.all(list.map((w) => ctx.cluster.kubectl(['rollout', 'restart', workloadRef(w), '-n', ns])))
  io.log(text.progress.restartedOutOfAmbient(list.map(workloadRef).join(', ')))
  const statuses = await Promise.all(list.map((w) => rolloutStatus(ctx, w, ctx.config.timeout)))
  const failed = list.filter((_, i) => statuses[i].exitCode !== 0)
  if (failed.length)
    throw new StepFailure(
      text.failures.rolloutsIncomplete(
        ctx.config.timeout,
        failed.map(workloadRef).join(', '),
        `kubectl rollout status ${workloadRef(failed[0])} -n ${ns}`,
      ),
    )
}
