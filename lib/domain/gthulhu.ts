// Gthulhu's workloads as later steps need them: the facts preflight found, or — for plans made before
// preflight ran (dry runs, renders) — what the Helm chart would have created for this release.
import type { Config } from '../config/options.ts'
import type { Facts, WorkloadFacts } from '../types.ts'

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
  ): WorkloadFacts => ({
    kind,
    name,
    serviceAccount,
    selectorLabels,
    podLabels: selectorLabels,
    service,
  })
  const r = config.release
  return {
    manager: workload('Deployment', `${r}-manager`, `${r}-manager`, labels('gthulhu', 'manager'), {
      name: `${r}-manager`,
      port: 8080,
      headless: false,
    }),
    scheduler: workload('DaemonSet', `${r}-scheduler`, r, labels('gthulhu', 'scheduler'), {
      name: `${r}-scheduler-sidecar`,
      port: 8080,
      headless: true,
    }),
    mongodb: workload('StatefulSet', `${r}-mongodb`, 'default', labels('mongodb', 'mongodb'), {
      name: `${r}-mongodb`,
      port: 27017,
      headless: true,
    }),
  }
}

/** The workloads found by preflight, or the chart's defaults when preflight has not run yet. */
export function workloads(config: Pick<Config, 'release'>, facts: Facts): NonNullable<Facts['workloads']> {
  return facts.workloads ?? chartDefaults(config)
}

/** The manager's Service: the address people and tools (and the gateway) use. */
export function managerService(config: Pick<Config, 'release'>, facts: Facts) {
  const { manager } = workloads(config, facts)
  return { name: manager.service?.name ?? `${config.release}-manager`, port: manager.service?.port ?? 8080 }
}
