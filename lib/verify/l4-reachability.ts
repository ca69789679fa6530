// L4 reachability: the manager's stand-in reaches MongoDB and the decision maker, a pod without its labels (outside
// the mesh) does not. Run by the l4-policies step and again after the restart, with a diagnosis for each surprise.
import type { Config } from '../config/options.ts'
import { workloads } from '../domain/gthulhu.ts'
import { AMBIENT_LABEL, HBONE_PORT } from '../domain/istio.ts'
import {
  admitsPort,
  hboneHint,
  kubeletTrapHint,
  type LiveView,
  portsAdmitted,
  protectedTargets,
  readLive,
  subset,
} from '../domain/network-policies.ts'
import { selectorText } from '../kube/object.ts'
import type { Check, Facts, StepContext, StepIO } from '../types.ts'
import {
  describeExpectation,
  formatMatrix,
  impersonationLabels,
  probeCheck,
  type ProbeResult,
  type ProbeSpec,
  runProbes,
} from './probes.ts'
import { targetProbe } from './targets.ts'

/**
 * The four probes, each exchanging data (a bare connect proves nothing once ztunnel is in the path): the
 * manager's stand-in gets MongoDB's hello answered and HTTP 200 from the decision maker; a pod without its
 * labels, outside the mesh, gets neither.
 */
export function l4ProbeSpecs(config: Config, facts: Facts): ProbeSpec[] {
  const { manager } = workloads(config, facts)
  const asManager = {
    name: `manager (${manager.name}'s labels)`,
    labels: impersonationLabels(manager.podLabels),
    serviceAccount: manager.serviceAccount,
  }
  // The guide's deny probe: the manager's labels except the component, so only the component label decides. It
  // stays out of ambient, so what refuses it is the CNI, not an identity policy at the destination.
  const outsider = {
    name: 'other pod (component=probe)',
    labels: { ...manager.selectorLabels, 'app.kubernetes.io/component': 'probe', [AMBIENT_LABEL]: 'none' },
    serviceAccount: 'default',
  }
  return protectedTargets(config, facts).flatMap((target): ProbeSpec[] => {
    const { destination, request, answer } = targetProbe(target)
    return [
      { role: `manager-${target.key}`, source: asManager, destination, request, expect: answer },
      { role: `other-${target.key}`, source: outsider, destination, request, expect: { kind: 'blocked' } },
    ]
  })
}

/** Why a probe came out wrong, from the live policies and what the probe saw. */
function diagnose(config: Config, facts: Facts, live: LiveView, result: ProbeResult): string {
  const target = protectedTargets(config, facts).find((t) => result.spec.role.endsWith(t.key))!
  const policy = live.policies.find((p) => p.metadata.name === target.policy)
  const { manager } = workloads(config, facts)
  if (result.observed.kind === 'unresolved' || result.observed.kind === 'refused') {
    return `the ${target.title} did not answer at all (${result.observed.detail}), so this probe proves nothing about the policy: check that its pods are Running and Ready (kubectl get pods -n ${config.namespace} -l ${selectorText(target.workload.selectorLabels)}). If they turned unready after ambient enrolment, that is the kubelet-probe trap: ${kubeletTrapHint(target.title, target.policy)}`
  }
  if (result.observed.kind === 'error') return `the probe itself failed: ${result.observed.detail}`
  if (result.spec.expect.kind !== 'blocked') {
    if (result.observed.kind === 'status') {
      // A Go server with TLS on the port answers plain HTTP with 400: that is Gthulhu's mtls.enabled, not a sick pod.
      if (result.observed.status === 400 && !target.workload.servesTls) {
        return `the ${target.title} answered HTTP 400 to plain HTTP: it most likely serves (mutual) TLS on ${target.port} (Gthulhu with mtls.enabled), which preflight did not notice. The connection got through, so the NetworkPolicy holds; run preflight again so the probes expect TLS`
      }
      return `the ${target.title} answered HTTP ${result.observed.status}, not ${describeExpectation(result.spec.expect)}: the connection got through, so the NetworkPolicy is not the cause; check the pod's health (kubectl logs -n ${config.namespace} -l ${selectorText(target.workload.selectorLabels)}${target.workload.container ? ` -c ${target.workload.container}` : ''})`
    }
    if (policy && live.enrolled && !admitsPort(portsAdmitted(policy, manager.podLabels), HBONE_PORT))
      return hboneHint(target.policy, target.title, true)
    const enrolledReset = live.enrolled
      ? ` Enrolled, a reset right after connecting means the manager's ztunnel accepted the connection but its tunnel to the ${target.title} was dropped or denied (a NetworkPolicy, or an AuthorizationPolicy ztunnel enforces there).`
      : ''
    return `NetworkPolicy ${target.policy} should admit pods labelled ${selectorText(manager.selectorLabels)} on ${target.port}${live.enrolled ? ` and ${HBONE_PORT}` : ''}; compare it with the pods' labels (kubectl describe networkpolicy ${target.policy} -n ${config.namespace}).${enrolledReset}`
  }
  // A deny probe got through.
  const others = live.policies.filter(
    (p) => p.metadata.name !== target.policy && subset(p.spec?.podSelector?.matchLabels, target.workload.podLabels),
  )
  const cni = facts.cni?.found.length ? facts.cni.found.join('; ') : 'no known CNI'
  return (
    `a pod without the manager's labels connected: most likely the cluster's CNI does not enforce NetworkPolicy (preflight found: ${cni}), so the policies are stored but ignored. ` +
    `Install or enable a CNI that enforces them (Calico, Cilium, kindnet in kind ≥ 0.24).${others.length ? ` Also check the other NetworkPolicies that select the ${target.title}: ${others.map((p) => p.metadata.name).join(', ')}.` : ''}`
  )
}

/** Runs the four probes and turns them into checks, with the matrix in the log. Used again after the restart. */
export async function l4ReachabilityChecks(ctx: StepContext, io: StepIO, live?: LiveView): Promise<Check[]> {
  const [view, results] = await Promise.all([
    live ?? readLive(ctx),
    runProbes(ctx, io, l4ProbeSpecs(ctx.config, ctx.facts)),
  ])
  io.log(
    `L4 reachability (${view.enrolled ? 'namespace enrolled in ambient' : 'namespace not yet enrolled in ambient'}):\n${formatMatrix(results)}`,
  )
  return results.map((r) => probeCheck(r, r.ok ? undefined : diagnose(ctx.config, ctx.facts, view, r)))
}
