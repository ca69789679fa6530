// The cluster as undo tests compare it: every object the runbook could touch, by kind/namespace/name, with its
// labels (pods and ReplicaSets come and go with restarts, so they are left out).
import type { RunbookWorld } from './harness.ts'

export type Snapshot = Record<string, Record<string, string>>
const SNAPSHOT_RESOURCES =
  'namespaces,deployments,statefulsets,daemonsets,services,serviceaccounts,networkpolicies,customresourcedefinitions'

export async function snapshot(world: RunbookWorld): Promise<Snapshot> {
  const { items } = await world.kubectlJson('get', SNAPSHOT_RESOURCES, '--all-namespaces')
  return Object.fromEntries(
    items.map((o: any) => [`${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, o.metadata.labels ?? {}]),
  )
}
