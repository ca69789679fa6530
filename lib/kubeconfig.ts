// Which kube contexts exist, read through `kubectl config view` (local, no cluster call), so the runbook can
// refuse a context the operator did not name and list the valid ones.
import type { Cluster } from './cluster.ts'
import { UsageError } from './errors.ts'

export interface KubeContext {
  name: string
  cluster: string
  server?: string
  namespace?: string
  current: boolean
}

export async function readContexts(cluster: Cluster, kubeconfig?: string): Promise<KubeContext[]> {
  const argv = ['kubectl', 'config', 'view', '-o', 'json', ...(kubeconfig ? ['--kubeconfig', kubeconfig] : [])]
  // Local work, but some kubectl builds (e.g. cloud SDK dispatchers) start slowly on a loaded machine.
  const result = await cluster.exec(argv, { timeoutMs: 60_000 })
  if (result.exitCode !== 0) {
    throw new UsageError(`cannot read the kubeconfig${kubeconfig ? ` ${kubeconfig}` : ''}: ${result.stderr.trim() || `kubectl exited ${result.exitCode}`}`)
  }
  const view = JSON.parse(result.stdout || '{}')
  const servers = new Map<string, string>((view.clusters ?? []).map((c: any) => [c.name, c.cluster?.server]))
  const contexts: KubeContext[] = (view.contexts ?? []).map((c: any) => ({
    name: c.name,
    cluster: c.context?.cluster,
    server: servers.get(c.context?.cluster),
    namespace: c.context?.namespace,
    current: c.name === view['current-context'],
  }))
  // The current context first: it is what the operator most likely means.
  return contexts.sort((a, b) => Number(b.current) - Number(a.current))
}

export function requireContext(contexts: KubeContext[], name: string): KubeContext {
  const found = contexts.find((c) => c.name === name)
  if (!found) {
    const valid = contexts.map((c) => c.name)
    throw new UsageError(`--context: no context "${name}" in the kubeconfig; valid: ${valid.length ? valid.join(', ') : '(the kubeconfig has no contexts)'}`)
  }
  return found
}
