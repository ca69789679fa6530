// Whether a Deployment, StatefulSet or DaemonSet has rolled out: every desired pod ready and updated, for the current generation.
import type { KubeObject } from './object.ts'

export interface Readiness {
  ready: boolean
  counts: string
}

/** desired = ready = updated, for the current generation (a Deployment or a DaemonSet). */
export function readiness(workload: KubeObject | undefined): Readiness {
  if (!workload) return { ready: false, counts: 'missing' }
  const s = workload.status ?? {}
  const current = (s.observedGeneration ?? 0) >= (workload.metadata.generation ?? 0)
  if (workload.kind === 'DaemonSet') {
    const desired = s.desiredNumberScheduled ?? 0
    const ready = s.numberReady ?? 0
    const updated = s.updatedNumberScheduled ?? 0
    return {
      ready: current && desired > 0 && ready === desired && updated === desired,
      counts: `${ready}/${desired} ready, ${updated} updated`,
    }
  }
  const desired = workload.spec?.replicas ?? 1
  const ready = s.readyReplicas ?? 0
  const updated = s.updatedReplicas ?? 0
  return {
    ready: current && desired > 0 && ready === desired && updated === desired && (s.replicas ?? 0) === desired,
    counts: `${ready}/${desired} ready, ${updated} updated`,
  }
}
