// Which kube contexts exist, so the runbook can refuse a context the operator did not name and list the valid ones:
// read here from the kubeconfig files kubectl would read, merged as kubectl merges them, or, when a file is not
// plainly readable, through `kubectl config view` (local, no cluster call), which then says what is wrong.
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, join } from 'node:path'
import type { Cluster } from './cluster.ts'
import { UsageError } from '../config/errors.ts'
import { yaml } from '../config/lazy-yaml.ts'

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

/** What `kubectl config view -o json` says of contexts and clusters (the parts the runbook reads). */
export interface ConfigView {
  'current-context'?: string
  contexts?: { name: string; context?: { cluster?: string; namespace?: string } }[]
  clusters?: { name: string; cluster?: { server?: string } }[]
}

/** The kubeconfig files kubectl reads, first one first: --kubeconfig, else KUBECONFIG's list, else ~/.kube/config. */
export function kubeconfigFiles(kubeconfig: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  if (kubeconfig) return [kubeconfig]
  const listed = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean)
  return listed.length ? [...new Set(listed)] : [join(env.HOME || homedir(), '.kube', 'config')]
}

/**
 * The files merged as kubectl merges them (client-go clientcmd's loading rules: missing files are skipped, the
 * first file to name a context or cluster wins, and so does the first current-context), in kubectl's order;
 * undefined when a file is not plain YAML of the expected shape, so that kubectl reads it and names the problem.
 */
export function mergedView(files: string[]): ConfigView | undefined {
  const view: Required<ConfigView> = { 'current-context': '', contexts: [], clusters: [] }
  for (const file of files) {
    if (!existsSync(file)) continue
    let doc: unknown
    try {
      // YAML 1.1, as kubectl reads it: an unquoted `y` or `on` is a boolean there, and a name that is not a string
      // sends the file to kubectl.
      doc = yaml().parse(readFileSync(file, 'utf8'), { version: '1.1' })
    } catch {
      return undefined
    }
    if (doc === null || doc === undefined) continue
    if (typeof doc !== 'object' || Array.isArray(doc)) return undefined
    const { contexts = [], clusters = [], 'current-context': current } = doc as Record<string, unknown>
    if (!Array.isArray(contexts) || !Array.isArray(clusters)) return undefined
    if (current !== undefined && current !== null && typeof current !== 'string') return undefined
    for (const [list, into] of [
      [contexts, view.contexts],
      [clusters, view.clusters],
    ] as const) {
      for (const entry of list) {
        if (typeof entry?.name !== 'string') return undefined
        if (!into.some((known) => known.name === entry.name)) (into as unknown[]).push(entry)
      }
    }
    view['current-context'] ||= current ?? ''
  }
  // kubectl keeps them in maps and prints them by name.
  for (const list of [view.contexts, view.clusters])
    list.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))
  return view
}

export async function readContexts(cluster: Cluster, kubeconfig?: string): Promise<KubeContext[]> {
  requireKubeconfigFiles(kubeconfig)
  return contextsOf(mergedView(kubeconfigFiles(kubeconfig)) ?? (await viewThroughKubectl(cluster, kubeconfig)))
}

/** The contexts of a view, the current one first (it is what the operator most likely means). */
export function contextsOf(view: ConfigView): KubeContext[] {
  const servers = new Map((view.clusters ?? []).map((c) => [c.name, c.cluster?.server]))
  const contexts: KubeContext[] = (view.contexts ?? []).map((c) => ({
    name: c.name,
    cluster: c.context?.cluster ?? '',
    server: servers.get(c.context?.cluster ?? ''),
    namespace: c.context?.namespace,
    current: c.name === view['current-context'],
  }))
  return contexts.sort((a, b) => Number(b.current) - Number(a.current))
}

/** `kubectl config view -o json`, for files this module does not read itself. */
export async function viewThroughKubectl(cluster: Cluster, kubeconfig?: string): Promise<ConfigView> {
  const argv = ['kubectl', 'config', 'view', '-o', 'json', ...(kubeconfig ? ['--kubeconfig', kubeconfig] : [])]
  // Local work, but some kubectl builds (e.g. cloud SDK dispatchers) start slowly on a loaded machine: the run's
  // --timeout bounds it, as it bounds every other wait.
  const result = await cluster.exec(argv)
  if (result.exitCode !== 0) {
    throw new UsageError(
      `cannot read the kubeconfig${kubeconfig ? ` ${kubeconfig}` : ''}: ${result.stderr.trim() || `kubectl exited ${result.exitCode}`}`,
    )
  }
  return JSON.parse(result.stdout || '{}')
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
