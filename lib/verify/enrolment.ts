// After the namespace leaves ambient (undo of the waypoint or restart step): every pod Ready and no longer
// redirected to ztunnel, and the manager still reaches MongoDB and the decision maker.
import { text } from '../config/text.ts'
import { AMBIENT_LABEL } from '../domain/istio.ts'
import { isReady, ownedPods, REDIRECTION, selectorOf, theWorkloads, workloadRef } from '../domain/rollouts.ts'
import type { Check, KubeObject, StepContext, StepIO } from '../types.ts'
import { tryPathList } from './paths.ts'
import { pathById } from './threat-model.ts'

/** After taking the namespace out of ambient: every pod Ready and not redirected, and the manager still reaches MongoDB and the decision maker. */
export async function outOfAmbientChecks(ctx: StepContext, io: StepIO): Promise<Check[]> {
  const ns = ctx.config.namespace
  const list = theWorkloads(ctx)
  const controls = [pathById('manager-to-mongodb')!, pathById('manager-to-decision-maker')!]
  const [namespace, podLists, reachability] = await Promise.all([
    ctx.cluster.findJson<KubeObject>(['get', 'namespace', ns]),
    Promise.all(list.map((w) => ctx.cluster.list('pods', { namespace: ns, selector: selectorOf(w) }))),
    // Controls only: the manager must still reach its backends; no step's protection is assumed any more.
    tryPathList(ctx, io, controls, () => false),
  ])
  const stillAmbient = namespace?.metadata.labels?.[AMBIENT_LABEL] === 'ambient'
  const checks: Check[] = list.flatMap((w, i): Check[] => {
    const pods = ownedPods(podLists[i])
    const redirected = pods.filter((p) => p.metadata.annotations?.[REDIRECTION] === 'enabled')
    return [
      {
        name: text.checks.podsReady(workloadRef(w)),
        expected: 'every pod Ready',
        observed: `${pods.filter(isReady).length}/${pods.length} Ready`,
        ok: pods.length > 0 && pods.every(isReady),
        hint: `kubectl get pods -n ${ns} -l ${selectorOf(w)}`,
      },
      {
        name: text.checks.podsOutOfAmbient(workloadRef(w), stillAmbient),
        expected: stillAmbient ? 'every pod redirected to ztunnel' : 'no pod redirected to ztunnel',
        observed: `${redirected.length}/${pods.length} pod(s) redirected${redirected.length ? `: ${redirected.map((p) => p.metadata.name).join(', ')}` : ''}`,
        ok: stillAmbient ? pods.length > 0 && redirected.length === pods.length : redirected.length === 0,
      },
    ]
  })
  return [...checks, ...reachability]
}
