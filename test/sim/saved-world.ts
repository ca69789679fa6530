// A simulated world saved and started again: the object store (every object as it was, uids and
// resourceVersions included, and the pods' logs) with the options it was started with. Tests that need a
// cluster the runbook has already hardened start from one instead of running every step again.
// Not saved: what only lives in memory while the world runs — timers of pods still starting, open watches,
// the controllers' pacing of a rollout in progress. The controllers are level-triggered, so a world saved in
// the middle of a change carries on from its objects; the fixtures save settled worlds.
import type { SimOptions } from './index.ts'
import type { KubeObject, Store, StoreDump } from './store.ts'
import { allocateNodePort } from './node-ports.ts'
import { listOf } from './cluster-view.ts'

export const SAVED_WORLD_FORMAT = 1

export interface SavedWorld {
  format: typeof SAVED_WORLD_FORMAT
  /** The options the world was started with (those that shape it; not where its files go). */
  options: Omit<SimOptions, 'dir' | 'restore' | 'faults'>
  store: StoreDump
}

/** The options worth keeping: what the world is, not where it ran or which faults were armed. */
export function savedOptions(options: SimOptions): SavedWorld['options'] {
  const { dir: _dir, restore: _restore, faults: _faults, ...kept } = options
  return structuredClone(kept)
}

/**
 * Gives every Service NodePort of a loaded world a port that can be bound here now (the web UI listens on them),
 * so worlds started from the same save do not collide. Returns old → new.
 */
export async function reassignNodePorts(store: Store): Promise<Record<number, number>> {
  const map: Record<number, number> = {}
  const taken = new Set<number>()
  const services = listOf(store, 'service').filter((s: KubeObject) =>
    (s.spec?.ports ?? []).some((p: any) => p.nodePort),
  )
  for (const service of services) {
    for (const port of service.spec.ports) {
      if (!port.nodePort) continue
      map[port.nodePort] ??= await allocateNodePort(new Set([...taken, ...Object.values(map)]))
      taken.add(map[port.nodePort])
    }
  }
  const rt = store.allTypes().find((t) => t.group === '' && t.plural === 'services')!
  for (const service of services)
    store.mutate(rt, service.metadata.namespace, service.metadata.name, (s) => {
      for (const port of s.spec.ports) if (port.nodePort) port.nodePort = map[port.nodePort]
    })
  return map
}
