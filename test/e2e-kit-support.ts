// What the e2e kit's tests share: run e2e/kit.sh against a simulated cluster, read its result table as an operator
// reads it, find what it left behind, and play the Gthulhu manager's round of calls to the decision makers (which
// the simulator does not model yet).
import { spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, type RunbookWorld } from './harness.ts'
import { kubectl, runCommand, type ProcessResult } from './kit.ts'
import { ClusterView } from './sim/cluster-view.ts'
import { NetworkModel } from './sim/network.ts'
import type { KubeObject } from './sim/store.ts'

export const KIT = join(ROOT, 'e2e', 'kit.sh')
export const RUN_LABEL = 'e2e.gthulhu-runbook/run-id'

/** The kit against a world's simulator, started from outside the clone (it must not depend on the working directory). */
export function runKit(
  world: RunbookWorld,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ProcessResult> {
  return runCommand('bash', [KIT, ...args], {
    cwd: tmpdir(),
    env: { ...process.env, ...world.sim.env, NO_COLOR: '1', ...options.env },
    timeoutMs: options.timeoutMs ?? 240_000,
  })
}

/** The kit running in its own process group, for tests that signal it or act while it waits. */
export function startKit(world: RunbookWorld, args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn('bash', [KIT, ...args], {
    cwd: tmpdir(),
    env: { ...process.env, ...world.sim.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let output = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  // Never outlive the test: a kit still running after 10 minutes is killed with its whole group.
  const guard = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 600_000)
  void exited.then(() => clearTimeout(guard))
  return { pid: child.pid!, output: () => output, exited }
}

/** Polls `check` (every 100 ms) until it returns a value, or fails after `timeoutMs` naming what it waited for. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 120_000,
) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value as T
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

export interface Row {
  role: 'bypass' | 'control'
  verdict: string
  path: string
  observed: string
  staysOpen?: string
  text: string
}

/** The result table's rows by probe id: the table is what an operator reads, so it is what the tests read. */
export function resultTable(stdout: string): Map<string, Row> {
  const rows = new Map<string, Row>()
  let last: Row | undefined
  for (const line of stdout.slice(stdout.indexOf('==> Results')).split('\n')) {
    const m = /^(\S+)\s+(bypass|control)\s+(CLOSED|OPEN|STAYS OPEN|REACHED|BLOCKED|NO RESULT)\s+(.*)$/.exec(line)
    if (m) {
      last = { role: m[2] as Row['role'], verdict: m[3], path: m[4], observed: '', text: line }
      rows.set(m[1], last)
      continue
    }
    const detail = /^\s+(observed|stays open): (.*)$/.exec(line)
    if (detail && last) {
      if (detail[1] === 'observed') last.observed = detail[2]
      else last.staysOpen = detail[2]
      last.text += `\n${line}`
    }
  }
  return rows
}

/** A row by id, failing with the whole output when the table lacks it. */
export function rowOf(rows: Map<string, Row>, id: string, output: string): Row {
  const row = rows.get(id)
  if (!row) throw new Error(`the result table has no row ${id}:\n${output}`)
  return row
}

/** The objects the kit labels with its run id that still exist, after giving asynchronous deletion some seconds. */
export async function attackObjectsLeft(world: RunbookWorld): Promise<string[]> {
  const list = async () => {
    const r = await kubectl(world.sim.env, [
      'get',
      'pods,services,serviceaccounts,configmaps,roles,rolebindings,namespaces',
      '--all-namespaces',
      '-l',
      RUN_LABEL,
      '-o',
      'name',
    ])
    if (r.code !== 0) throw new Error(`listing the kit's objects failed: ${r.stderr}`)
    return r.stdout.split('\n').filter(Boolean)
  }
  for (let i = 0; ; i++) {
    const left = await list()
    if (left.length === 0 || i >= 40) return left
    await new Promise((r) => setTimeout(r, 250))
  }
}

const firstContainerPort = (pod: KubeObject): number | undefined =>
  (pod.spec?.containers ?? []).flatMap((c: any) => c.ports ?? [])[0]?.containerPort

/**
 * One round of the Gthulhu manager's intent reconciliation, played by the test because the simulator does not model
 * it yet: from the manager's pod, a token request to every Running pod labelled app=decisionmaker in any namespace
 * (or only those `to` accepts), on its first container port, through the network model (Gthulhu/api v1.3.0
 * manager/service/cron_svc.go resyncIntentsToDMs, k8s_adapter/adapter.go QueryDecisionMakerPods, client/
 * deicison_maker.go GetToken). Returns the pods it called.
 */
export function managerRound(world: RunbookWorld, to: (pod: KubeObject) => boolean = () => true): string[] {
  const view = new ClusterView(world.sim.store, 'calico')
  const model = new NetworkModel(view)
  const manager = view.pods.find(
    (p) =>
      p.metadata.labels?.['app.kubernetes.io/component'] === 'manager' &&
      p.status?.phase === 'Running' &&
      (p.metadata.ownerReferences ?? []).length > 0,
  )
  if (!manager) throw new Error('no Running manager pod to call from')
  const called: string[] = []
  for (const pod of view.pods) {
    const port = firstContainerPort(pod)
    if (pod.metadata.labels?.app !== 'decisionmaker' || pod.status?.phase !== 'Running' || !port || !to(pod)) continue
    model.connect(model.sourceOfPod(manager), manager.metadata.namespace!, pod.status.podIP, port, {
      method: 'POST',
      path: '/api/v1/auth/token',
      headers: { 'content-type': 'application/json' },
    })
    called.push(`${pod.metadata.namespace}/${pod.metadata.name}`)
  }
  return called
}
