// What some probes need from the live cluster: the manager's pod IP (the address that skips the waypoint) and an
// existing ServiceAccount the manager's policy admits (to call the manager as a legitimate caller).
import { workloads } from '../domain/gthulhu.ts'
import { gatewayPrincipal } from '../domain/istio.ts'
import { selectorText } from '../kube/object.ts'
import type { StepContext } from '../types.ts'

/** An existing ServiceAccount in the namespace that the manager's L7 policy admits, to call the manager as (through the waypoint). */
export async function allowedCaller(
  ctx: StepContext,
  principals: string[],
): Promise<{ sa: string; principal: string } | undefined> {
  for (const principal of principals) {
    const match = /^[^/]+\/ns\/([^/]+)\/sa\/([^/*]+)$/.exec(principal)
    if (!match || match[1] !== ctx.config.namespace || principal === gatewayPrincipal(ctx.config, ctx.facts)) continue
    if (await ctx.cluster.findJson(['get', 'serviceaccount', match[2], '-n', ctx.config.namespace]))
      return { sa: match[2], principal }
  }
  return undefined
}

/** A Running manager pod's IP (the address a caller uses to skip the waypoint), and the nodes its pods run on (that pod's first). */
export async function managerPlacement(ctx: StepContext): Promise<{ podIp?: string; nodes: string[] }> {
  const { manager } = workloads(ctx.config, ctx.facts)
  const pods = await ctx.cluster.list('pods', {
    namespace: ctx.config.namespace,
    selector: selectorText(manager.selectorLabels),
  })
  // Only the manager's own pods (owned by its ReplicaSet), never a probe wearing its labels.
  const running = pods.filter(
    (p) =>
      p.status?.phase === 'Running' && p.status?.podIP && (p.metadata.ownerReferences as unknown[] | undefined)?.length,
  )
  const nodes = running.map((p) => p.spec?.nodeName as string | undefined).filter((n): n is string => !!n)
  return { podIp: running[0]?.status?.podIP, nodes: [...new Set(nodes)] }
}

/** The nodes that take pods: Ready and not cordoned. */
export async function readyNodes(ctx: StepContext): Promise<string[]> {
  const nodes = await ctx.cluster.list('nodes')
  return nodes
    .filter(
      (n) =>
        !n.spec?.unschedulable &&
        (n.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'),
    )
    .map((n) => n.metadata.name)
}
