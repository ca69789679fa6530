// Which kube contexts exist, read through `kubectl config view` (local, no cluster call), so the runbook can
// refuse a context the operator did not name and list the valid ones.
import { existsSync } from 'node:fs'
import { delimiter } from 'node:path'
import type { Cluster } from './cluster.ts'
import { UsageError } from '../config/errors.ts'

export interface KubeContext {
  name: string
  cluster: string
  server?: string
  namespace?: string
  current: boolean
}

/**
 * kubectl reads a missing kubeconfig as an empty one, which would surface as "no context …": name the file instead.
 * KUBECONFIG may list several files and kubectl skips missing ones, so only a list with none present is an error.
 */
export function requireKubeconfigFiles(kubeconfig: string | undefined, env: NodeJS.ProcessEnv = process.env): void {
  if (kubeconfig) {
    if (!existsSync(kubeconfig))
      throw new UsageError(`--kubeconfig: the file ${kubeconfig} does not exist; name an existing kubeconfig file`)
    return
  }
  const listed = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean)
  if (listed.length && !listed.some((file) => existsSync(file))) {
    throw new UsageError(`KUBECONFIG names no existing file (${listed.join(', ')}); fix it or pass --kubeconfig`)
  }
}

export async function readContexts(cluster: Cluster, kubeconfig?: string): Promise<KubeContext[]> {
  requireKubeconfigFiles(kubeconfig)
  const argv = ['kubectl', 'config', 'view', '-o', 'json', ...(kubeconfig ? ['--kubeconfig', kubeconfig] : [])]
  // Local work, but some kubectl builds (e.g. cloud SDK dispatchers) start slowly on a loaded machine: the run's
  // --timeout bounds it, as it bounds every other wait.
  const result = await cluster.exec(argv)
  if (result.exitCode !== 0) {
    throw new UsageError(
      `cannot read the kubeconfig${kubeconfig ? ` ${kubeconfig}` : ''}: ${result.stderr.trim() || `kubectl exited ${result.exitCode}`}`,
    )
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
    throw new UsageError(
      `--context: no context "${name}" in the kubeconfig; valid: ${valid.length ? valid.join(', ') : '(the kubeconfig has no contexts)'}`,
    )
  }
  return found
}
