// Gthulhu's workloads as later steps need them: the facts preflight found, or — for plans made before
// preflight ran (dry runs, renders) — what the Helm chart would have created for this release.
//
// The chart is Gthulhu/Gthulhu v1.3.0 chart/gthulhu: its fullname helper (templates/_helpers.tpl) is the release
// name when that contains "gthulhu", else `<release>-gthulhu`; every Gthulhu object is named after it
// (`<fullname>-manager`, `<fullname>-scheduler`, `<fullname>-scheduler-sidecar`, ServiceAccount `<fullname>`).
// MongoDB is a subchart named mongodb with the same rule: `<release>-mongodb` unless the release contains "mongodb".
import type { Config } from '../config/options.ts'
import type { Facts, WorkloadFacts } from '../types.ts'

/** The chart's MongoDB image (charts/mongodb/values.yaml), for plans made before preflight read the real one. */
export const CHART_MONGO_IMAGE = 'mongo:8.2.2'
/** The chart's name for the decision maker's container in the scheduler DaemonSet (templates/deployment.yaml). */
export const DECISION_MAKER_CONTAINER = 'scheduler-sidecar'

/** Helm's `<chart>.fullname`: the release name if it already contains the chart's name, truncated to 63. */
function fullname(release: string, chart: string): string {
  return (release.includes(chart) ? release : `${release}-${chart}`).slice(0, 63).replace(/-$/, '')
}

/** The names the chart gives this release's objects. */
export function chartNames(release: string) {
  const gthulhu = fullname(release, 'gthulhu')
  return {
    manager: `${gthulhu}-manager`,
    scheduler: `${gthulhu}-scheduler`,
    schedulerServiceAccount: gthulhu,
    decisionMakerService: `${gthulhu}-scheduler-sidecar`,
    mongodb: fullname(release, 'mongodb'),
  }
}

export function chartDefaults(config: Pick<Config, 'release'>): NonNullable<Facts['workloads']> {
  const labels = (name: string, component: string) => ({
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/instance': config.release,
    'app.kubernetes.io/component': component,
  })
  const workload = (
    kind: WorkloadFacts['kind'],
    name: string,
    serviceAccount: string,
    selectorLabels: Record<string, string>,
    service: WorkloadFacts['service'],
    extra: Partial<WorkloadFacts> = {},
  ): WorkloadFacts => ({
    kind,
    name,
    serviceAccount,
    selectorLabels,
    podLabels: selectorLabels,
    service,
    ...extra,
  })
  const names = chartNames(config.release)
  return {
    manager: workload('Deployment', names.manager, names.manager, labels('gthulhu', 'manager'), {
      name: names.manager,
      port: 8080,
      headless: false,
    }),
    scheduler: workload(
      'DaemonSet',
      names.scheduler,
      names.schedulerServiceAccount,
      labels('gthulhu', 'scheduler'),
      { name: names.decisionMakerService, port: 8080, headless: true },
      { container: DECISION_MAKER_CONTAINER },
    ),
    // The subchart's StatefulSet names no ServiceAccount: its pods run as the namespace's default.
    mongodb: workload(
      'StatefulSet',
      names.mongodb,
      'default',
      labels('mongodb', 'mongodb'),
      { name: names.mongodb, port: 27017, headless: true },
      { image: CHART_MONGO_IMAGE },
    ),
  }
}

/** The workloads found by preflight, or the chart's defaults when preflight has not run yet. */
export function workloads(config: Pick<Config, 'release'>, facts: Facts): NonNullable<Facts['workloads']> {
  return facts.workloads ?? chartDefaults(config)
}

/** The manager's Service: the address people and tools (and the gateway) use. */
export function managerService(config: Pick<Config, 'release'>, facts: Facts) {
  const { manager } = workloads(config, facts)
  return { name: manager.service?.name ?? chartNames(config.release).manager, port: manager.service?.port ?? 8080 }
}
