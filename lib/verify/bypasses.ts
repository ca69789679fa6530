// The paths an attacker takes around the waypoint and the NetworkPolicies: a pod outside the mesh to the manager
// Service, an enrolled pod with another identity to the manager's pod IP, a pod wearing the manager's labels with
// another identity to MongoDB and the decision maker. Only the ztunnel identity policies refuse them.
import type { Config } from '../config/options.ts'
import { managerService, workloads } from '../domain/gthulhu.ts'
import { AMBIENT_LABEL, gatewayPrincipal } from '../domain/istio.ts'
import { protectedTargets } from '../domain/network-policies.ts'
import { selectorText } from '../kube/object.ts'
import type { Facts, StepContext } from '../types.ts'
import { impersonationLabels, type ProbeSpec } from './probes.ts'
import { targetProbe } from './targets.ts'

/** An existing ServiceAccount in the namespace that the manager's L7 policy admits, to call the manager as (through the waypoint). */
export async function allowedCaller(
  ctx: StepContext,
  principals: string[],
): Promise<{ sa: string; principal: string } | undefined> {
  for (const principal of principals) {
    const match = /^[^/]+\/ns\/([^/]+)\/sa\/([^/*]+)$/.exec(principal)
    if (!match || match[1] !== ctx.config.namespace || principal === gatewayPrincipal(ctx.config)) continue
    if (await ctx.cluster.findJson(['get', 'serviceaccount', match[2], '-n', ctx.config.namespace]))
      return { sa: match[2], principal }
  }
  return undefined
}

/** A Running pod's IP of the manager, the address a caller uses to skip the waypoint. */
export async function managerPodIp(ctx: StepContext): Promise<string | undefined> {
  const { manager } = workloads(ctx.config, ctx.facts)
  const pods = await ctx.cluster.list('pods', {
    namespace: ctx.config.namespace,
    selector: selectorText(manager.selectorLabels),
  })
  // Only the manager's own pods (owned by its ReplicaSet), never a probe wearing its labels.
  return pods.find(
    (p) =>
      p.status?.phase === 'Running' && p.status?.podIP && (p.metadata.ownerReferences as unknown[] | undefined)?.length,
  )?.status?.podIP
}

/**
 * The attacker's paths, each exchanging data (ztunnel accepts a connection before it authorizes it, so only an
 * answer counts): a pod outside the mesh to the manager Service, an enrolled pod with another identity to the
 * manager's pod IP, and a pod wearing the manager's labels with another identity to MongoDB and the decision maker.
 */
export function bypassProbeSpecs(config: Config, facts: Facts, podIp: string | undefined): ProbeSpec[] {
  const { manager } = workloads(config, facts)
  const service = managerService(config, facts)
  const refused = { kind: 'blocked' } as const
  // Whatever step runs them, these paths are closed (or left open) by the identity policies alone.
  const layer = 'ztunnel identity policy' as const
  const specs: ProbeSpec[] = [
    {
      role: 'outside-mesh-manager',
      source: {
        name: 'pod outside the mesh',
        labels: { 'app.kubernetes.io/component': 'probe', [AMBIENT_LABEL]: 'none' },
        serviceAccount: 'default',
      },
      destination: `manager Service :${service.port}`,
      request: { kind: 'http', url: `http://${service.name}.${config.namespace}.svc:${service.port}/health` },
      expect: refused,
      layer,
    },
  ]
  if (podIp) {
    specs.push({
      role: 'pod-ip-manager',
      source: {
        name: 'enrolled pod, ServiceAccount default',
        labels: { 'app.kubernetes.io/component': 'probe' },
        serviceAccount: 'default',
      },
      destination: `manager pod IP :${service.port}`,
      request: { kind: 'http', url: `http://${podIp}:${service.port}/health` },
      expect: refused,
      layer,
    })
  }
  const impostor = {
    name: "manager's labels, ServiceAccount default",
    labels: impersonationLabels(manager.podLabels),
    serviceAccount: 'default',
  }
  for (const target of protectedTargets(config, facts)) {
    const { destination, request } = targetProbe(target)
    specs.push({ role: `impostor-${target.key}`, source: impostor, destination, request, expect: refused, layer })
  }
  return specs
}
