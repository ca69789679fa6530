// The kubelet of the one simulated node: pods go Pending → Running with an IP, Ready follows their
// readiness probes, and probe pods (created directly to run a command) run that command against the
// network model, keep its output for `kubectl logs`, and end Succeeded or Failed.
//
// Imitates kubernetes/kubernetes v1.32.0:
// - pkg/kubelet/kubelet_pods.go (the pod status the kubelet reports: phase, hostIP/podIP,
//   containerStatuses with running/terminated states, exit code, reasons Completed/Error);
// - pkg/kubelet/status/generate.go (Ready and ContainersReady: False with reason ContainersNotReady and
//   `containers with unready status: [...]`, or reason PodCompleted once the pod has ended; Ready also
//   waits for every readiness gate's condition: reason ReadinessGatesNotReady,
//   `corresponding condition of pod readiness gate "<type>" does not exist.`);
// - pkg/kubelet/prober/prober_manager.go (readiness decided by each container's readinessProbe);
// - pkg/scheduler/schedule_one.go (a pod no node can take: PodScheduled False, reason Unschedulable).
// Simplifications: no containers run — a probe pod's command is interpreted by ../probe-shell.ts; a
// readiness probe passes when the network model lets the kubelet reach its port (the ambient
// kubelet-probe trap, ../network.ts); pods start after `timing.podStartMs` (probe pods after
// `timing.probeRunMs`); every pod runs once whatever its restartPolicy, except a server (python's http.server,
// ../http-server.ts), which runs until it is deleted; a Failed pod's Ready reason is PodCompleted too (the
// kubelet says PodFailed); pod IPs are handed out in order from 10.244.0.0/16; `faults.probePodsPending` keeps
// probe pods Unschedulable; `faults.readinessFails` makes the readiness probes of the pods it names fail.
import { createHash } from 'node:crypto'
import { ClusterView, listOf, now, resolvePort } from '../cluster-view.ts'
import { NODE_IP, NetworkModel } from '../network.ts'
import { ProbeShell } from '../probe-shell.ts'
import { httpServerBanner, httpServerPort } from '../http-server.ts'
import type { KubeObject } from '../store.ts'
import { condition, writeStatus, type ReconcileContext } from './context.ts'

interface ProbeResult {
  exitCode: number
  output: string
  finishAt: number
  startedAt: string
  serving?: boolean
}

/** A pod someone created directly to run a command (no controller owns it). */
export function isProbePod(pod: KubeObject): boolean {
  if ((pod.metadata.ownerReferences ?? []).length) return false
  const c = pod.spec?.containers?.[0]
  return Boolean(c?.command?.length || c?.args?.length)
}

export class Kubelet {
  /** When each pod (by uid) was first seen, for its start delay. */
  private readonly firstSeen = new Map<string, number>()
  private readonly probeResults = new Map<string, ProbeResult>()

  reconcile({ store, faults, config, wakeAt }: ReconcileContext): void {
    const view = new ClusterView(store, config.cni)
    const model = new NetworkModel(view)
    const pods = listOf(store, 'pod')
    const usedIps = new Set(pods.map((p) => p.status?.podIP).filter(Boolean))
    const nextIp = () => {
      for (let n = 2; n < 65000; n++) {
        const ip = `10.244.${n >> 8}.${n & 255}`
        if ((n & 255) > 1 && (n & 255) < 255 && !usedIps.has(ip)) {
          usedIps.add(ip)
          return ip
        }
      }
      throw new Error('pod IP range exhausted')
    }
    const t = Date.now()
    const live = new Set<string>()
    for (const pod of pods) {
      const uid = pod.metadata.uid!
      live.add(uid)
      if (!this.firstSeen.has(uid)) this.firstSeen.set(uid, t)
      const seen = this.firstSeen.get(uid)!
      const phase = pod.status?.phase ?? 'Pending'
      if (phase === 'Succeeded' || phase === 'Failed') continue
      const probe = isProbePod(pod)
      if (probe && faults.probePodsPending) {
        writeStatus(store, 'pod', pod, unschedulableStatus(pod))
        continue
      }
      // Not bound to a node yet (the scheduler does that): no kubelet runs it.
      if (!pod.spec?.nodeName) continue
      const startAfter = probe ? config.timing.probeRunMs : config.timing.podStartMs
      if (phase === 'Pending') {
        if (t < seen + startAfter) {
          wakeAt(seen + startAfter)
          continue
        }
        const hostIp = view.nodeIp(pod.spec.nodeName) ?? NODE_IP
        const ip = pod.spec?.hostNetwork ? hostIp : (pod.status?.podIP ?? nextIp())
        const started = { ...pod, status: runningStatus(pod, ip, hostIp) }
        const served = httpServerPort(pod)
        if (served !== undefined)
          store.podLogs.set(`${pod.metadata.namespace}/${pod.metadata.name}`, httpServerBanner(served))
        if (probe) {
          const run = new ProbeShell(model, started, { dnsTimesOut: faults.dnsTimesOut }).run()
          this.probeResults.set(uid, { ...run, finishAt: t + run.elapsedMs, startedAt: now() })
          wakeAt(t + run.elapsedMs)
        }
        writeStatus(store, 'pod', pod, withReadiness(started, model, probe, faults.readinessFails))
        continue
      }
      if (probe) {
        const result = this.probeResults.get(uid)
        if (!result) {
          // A probe pod we did not start (e.g. the simulator restarted): run it now.
          const run = new ProbeShell(model, pod, { dnsTimesOut: faults.dnsTimesOut }).run()
          this.probeResults.set(uid, { ...run, finishAt: t + run.elapsedMs, startedAt: now() })
          wakeAt(t + run.elapsedMs)
          continue
        }
        if (result.serving) continue // a server (python's http.server) runs until the pod is deleted
        if (t < result.finishAt) {
          wakeAt(result.finishAt)
          continue
        }
        store.podLogs.set(`${pod.metadata.namespace}/${pod.metadata.name}`, result.output)
        writeStatus(store, 'pod', pod, terminatedStatus(pod, result))
        continue
      }
      writeStatus(store, 'pod', pod, withReadiness(pod, model, false, faults.readinessFails))
    }
    for (const uid of this.firstSeen.keys()) if (!live.has(uid)) this.firstSeen.delete(uid)
    for (const uid of this.probeResults.keys()) if (!live.has(uid)) this.probeResults.delete(uid)
  }
}

/**
 * Sets Ready from the readiness probes' reachability (the ambient kubelet-probe trap lives here); a pod whose
 * name starts with one of `failingProbes` (faults.readinessFails) fails every readiness probe it has.
 */
function withReadiness(pod: KubeObject, model: NetworkModel, probePod: boolean, failingProbes: string[] = []): any {
  const containers: any[] = pod.spec?.containers ?? []
  const blocked = new Set<string>()
  const failing = failingProbes.some((prefix) => pod.metadata.name?.startsWith(prefix))
  for (const c of containers) {
    const probe = c.readinessProbe
    const port = probe?.tcpSocket?.port ?? probe?.httpGet?.port ?? probe?.grpc?.port
    if (port === undefined) continue
    const number = resolvePort(pod, port)
    if (failing || (number !== undefined && !model.kubeletProbeAllowed(pod, number))) blocked.add(c.name)
  }
  const ready = blocked.size === 0 && !probePod
  const status = { ...pod.status }
  // Readiness gates: Ready needs a True condition of each gate's type, which only its own controller writes.
  const missingGate = (pod.spec?.readinessGates ?? [])
    .map((g: any) => String(g.conditionType))
    .find((type: string) => !(status.conditions ?? []).some((c: any) => c.type === type && c.status === 'True'))
  status.containerStatuses = (status.containerStatuses ?? []).map((cs: any) => ({
    ...cs,
    ready: probePod ? true : !blocked.has(cs.name),
  }))
  const previous = status.conditions
  const message = blocked.size ? `containers with unready status: [${[...blocked].join(' ')}]` : undefined
  const cond = (type: string, ok: boolean) => {
    const c: any = condition(previous, type, ok, ok ? '' : 'ContainersNotReady', message ?? '')
    if (ok) {
      delete c.reason
      delete c.message
    }
    return c
  }
  status.conditions = [
    condition(previous, 'PodReadyToStartContainers', true, '', ''),
    condition(previous, 'Initialized', true, '', ''),
    missingGate
      ? condition(
          previous,
          'Ready',
          false,
          'ReadinessGatesNotReady',
          `corresponding condition of pod readiness gate "${missingGate}" does not exist.`,
        )
      : cond('Ready', probePod || ready),
    cond('ContainersReady', probePod || ready),
    condition(previous, 'PodScheduled', true, '', ''),
  ].map((c: any) => {
    if (!c.reason) delete c.reason
    if (!c.message) delete c.message
    return c
  })
  return status
}

function runningStatus(pod: KubeObject, ip: string, hostIp: string): any {
  const started = now()
  return {
    ...pod.status,
    phase: 'Running',
    hostIP: hostIp,
    hostIPs: [{ ip: hostIp }],
    podIP: ip,
    podIPs: [{ ip }],
    startTime: started,
    qosClass: pod.status?.qosClass ?? 'BestEffort',
    containerStatuses: (pod.spec?.containers ?? []).map((c: any) => ({
      name: c.name,
      image: c.image,
      imageID: `${c.image}@sha256:${createHash('sha256').update(String(c.image)).digest('hex')}`,
      containerID: `containerd://${createHash('sha256')
        .update(pod.metadata.uid + c.name)
        .digest('hex')}`,
      ready: false,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: started } },
    })),
  }
}

function terminatedStatus(pod: KubeObject, result: ProbeResult): any {
  const finished = now()
  const succeeded = result.exitCode === 0
  return {
    ...pod.status,
    phase: succeeded ? 'Succeeded' : 'Failed',
    conditions: (pod.status?.conditions ?? []).map((c: any) =>
      c.type === 'Ready' || c.type === 'ContainersReady'
        ? { type: c.type, status: 'False', lastTransitionTime: finished, reason: 'PodCompleted' }
        : c,
    ),
    containerStatuses: (pod.status?.containerStatuses ?? []).map((cs: any, i: number) => ({
      ...cs,
      ready: false,
      started: false,
      state:
        i === 0
          ? {
              terminated: {
                exitCode: result.exitCode,
                reason: succeeded ? 'Completed' : 'Error',
                startedAt: result.startedAt,
                finishedAt: finished,
                containerID: cs.containerID,
              },
            }
          : cs.state,
    })),
  }
}

function unschedulableStatus(pod: KubeObject): any {
  const before = (pod.status?.conditions ?? []).find((c: any) => c.type === 'PodScheduled')
  return {
    phase: 'Pending',
    qosClass: 'BestEffort',
    conditions: [
      {
        type: 'PodScheduled',
        status: 'False',
        lastTransitionTime: before?.status === 'False' ? before.lastTransitionTime : now(),
        reason: 'Unschedulable',
        message:
          '0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/disk-pressure: }. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.',
      },
    ],
  }
}
