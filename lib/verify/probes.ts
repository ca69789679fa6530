// Probe pods: short-lived pods that stand in for a workload (its labels, its ServiceAccount) and try one
// connection or one HTTP request, so a policy is proven from inside the cluster rather than assumed. All
// probes of a batch are created in one call, run side by side, and are deleted afterwards — also when the
// step fails or the run is interrupted.
import { randomBytes } from 'node:crypto'
import { toYamlStream } from '../kube/cluster.ts'
import { StepFailure } from '../config/errors.ts'
import { loadManifest } from '../kube/manifests.ts'
import { assertValidManifests } from '../kube/schema.ts'
import { mapConcurrent, pollUntil, sleep } from '../kube/wait.ts'
import { workloads } from '../domain/gthulhu.ts'
import type { Config } from '../config/options.ts'
import type {
  Check,
  Facts,
  KubeObject,
  Observation,
  ProbeExpectation,
  ProbeResult,
  ProbeSpec,
  StepContext,
  StepIO,
} from '../types.ts'

import { MANAGED_BY, PROBE_RUN_LABEL } from '../domain/apply.ts'
import { kubectlAccess } from '../kube/access.ts'
import type { ApiAccess } from '../types.ts'
export { PROBE_RUN_LABEL } from '../domain/apply.ts'

// Labels a controller puts on its own pods: copying them could make a ReplicaSet or DaemonSet adopt a probe.
const CONTROLLER_LABELS = [
  'pod-template-hash',
  'controller-revision-hash',
  'pod-template-generation',
  'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index',
]

export type { Observation, ProbeExpectation, ProbeResult, ProbeSource, ProbeSpec } from '../types.ts'

export const describeExpectation = (e: ProbeExpectation) =>
  e.kind === 'answered' ? 'answers' : e.kind === 'blocked' ? 'refused' : `HTTP ${e.status}`

export function describeObservation(o: Observation): string {
  switch (o.kind) {
    case 'answered':
      return 'answers'
    case 'status':
      return `HTTP ${o.status}`
    case 'blocked':
      return `refused (${o.detail})`
    default:
      return `${o.kind} (${o.detail})`
  }
}

/** Whether an observation is what the probe expected. A deny probe proves nothing unless the target exists. */
export function meetsExpectation(expect: ProbeExpectation, observed: Observation): boolean {
  if (expect.kind === 'answered') return observed.kind === 'answered' || observed.kind === 'status'
  if (expect.kind === 'blocked') return observed.kind === 'blocked'
  return observed.kind === 'status' && observed.status === expect.status
}

// ---- commands the probe pods run ----

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * mongosh (from MongoDB's own image) sends a wire-protocol hello and prints its `ok` (1); only a MongoDB that
 * accepted the client answers it. The URI bounds server selection so a dropped connection fails in seconds.
 */
export const mongoProbeScript = (host: string, port: number, waitSeconds = 5) =>
  `mongosh --quiet --norc --eval 'db.runCommand({hello:1}).ok' ${quote(`mongodb://${host}:${port}/?directConnection=true&serverSelectionTimeoutMS=${waitSeconds * 1000}`)}`

/** curl prints only the status code (000 when no HTTP answer came back) and its own error on stderr. */
export function httpProbeScript(url: string, userAgent?: string, maxSeconds = 5): string {
  const agent = userAgent === undefined ? '' : ` -H ${quote(`User-Agent: ${userAgent}`)}`
  return `curl -sS -o /dev/null -w '%{http_code}'${agent} --max-time ${maxSeconds} ${quote(url)}`
}

/** Reads mongosh's exit code and output: "1" is a hello answered; the driver's error says why not. */
export function classifyMongo(exitCode: number | undefined, log: string): Observation {
  const text = log.trim().split('\n').pop() ?? ''
  if (exitCode === 0 && /^1$/m.test(log.trim())) return { kind: 'answered' }
  if (/ENOTFOUND|EAI_AGAIN|getaddrinfo/i.test(log)) return { kind: 'unresolved', detail: text }
  if (/ECONNREFUSED/i.test(log)) return { kind: 'refused', detail: 'connection refused: nothing listens there' }
  // A policy shows as a connection closed or reset without an answer (ztunnel), or as a timeout (CNI drop).
  if (/closed|ECONNRESET|timed out|timeout/i.test(log)) return { kind: 'blocked', detail: text }
  if (/not found/i.test(log)) return { kind: 'error', detail: `the probe image cannot run mongosh: ${text}` }
  return { kind: 'error', detail: `exit ${exitCode ?? '?'}: ${text || 'no output'}` }
}

/** Reads curl's exit code, the status it printed and its error line. */
export function classifyHttp(exitCode: number | undefined, log: string): Observation {
  const status = Number(/^(\d{3})/.exec(log.trim())?.[1] ?? NaN)
  if (exitCode === 0 && status > 0) return { kind: 'status', status }
  const error = /curl: \((\d+)\)[^\n]*/.exec(log)
  const code = Number(error?.[1] ?? NaN)
  const detail = error?.[0] ?? (log.trim() || `exit ${exitCode ?? '?'}`)
  if (code === 6) return { kind: 'unresolved', detail }
  if (code === 7) return { kind: 'refused', detail }
  if (code === 28 || code === 56 || code === 52) return { kind: 'blocked', detail }
  if (/not found/.test(log)) return { kind: 'error', detail: `the probe image cannot run curl: ${log.trim()}` }
  return { kind: 'error', detail }
}

// ---- the pods ----

export function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789'
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('')
}

/** The labels a probe carries to stand in for a workload: its pod labels, minus those its controller owns. */
export function impersonationLabels(podLabels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(podLabels).filter(([k]) => !CONTROLLER_LABELS.includes(k)))
}

/** Builds one probe pod from manifests/probe-pod.yaml. */
export function probePod(
  spec: ProbeSpec,
  options: { namespace: string; runId: string; mongoImage: string; httpImage: string },
): KubeObject {
  const pod = loadManifest('probe-pod.yaml', 'Pod')
  const name = `gthulhu-probe-${spec.role}-${randomSuffix()}`.slice(0, 63).replace(/-+$/, '')
  pod.metadata.name = name
  pod.metadata.namespace = options.namespace
  pod.metadata.labels = {
    ...pod.metadata.labels,
    ...spec.source.labels,
    ...MANAGED_BY,
    [PROBE_RUN_LABEL]: options.runId,
  }
  pod.spec.serviceAccountName = spec.source.serviceAccount
  const container = pod.spec.containers[0]
  const request = spec.request
  container.image = request.kind === 'mongo' ? options.mongoImage : options.httpImage
  container.command = [
    'sh',
    '-c',
    request.kind === 'mongo'
      ? mongoProbeScript(request.host, request.port)
      : httpProbeScript(request.url, request.userAgent),
  ]
  return pod
}

/** MongoDB probes run mongosh from MongoDB's own image (already on the nodes) unless --probe-image names another. */
export const mongoProbeImage = (config: Pick<Config, 'probeImage' | 'release'>, facts: Facts) =>
  config.probeImage ?? workloads(config, facts).mongodb.image ?? DEFAULT_MONGO_IMAGE
/** The chart's MongoDB image, for plans made before preflight read the real one. */
export const DEFAULT_MONGO_IMAGE = 'docker.io/library/mongo:8.0'

const terminated = (pod: KubeObject) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed'

/** Why a pod has not finished: unschedulable, image pull trouble, or just still running. */
function whyNotFinished(pod: KubeObject): string {
  const scheduled = (pod.status?.conditions ?? []).find((c: any) => c.type === 'PodScheduled')
  if (scheduled?.status === 'False')
    return `not scheduled: ${scheduled.message ?? scheduled.reason ?? 'no reason given'}`
  const waiting = (pod.status?.containerStatuses ?? []).map((c: any) => c.state?.waiting).find(Boolean)
  if (waiting) return `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`
  return `phase ${pod.status?.phase ?? 'Pending'}`
}

/** The API requests of a probe batch: create the pods, list them until they finish, read each log, delete them by label. */
export function probeAccess(namespace: string): ApiAccess[] {
  const why = 'probe pods: created for one verification, read, then deleted'
  return [
    kubectlAccess.create('pods', { namespace }, why),
    kubectlAccess.list('pods', { namespace }, why),
    ...kubectlAccess.logs({ namespace }, why),
    kubectlAccess.deleteSelected('pods', { namespace }, why),
  ]
}

/** How often a probe whose result differs from the expectation is tried again, and the pause before each retry. */
export const PROBE_SETTLE = { attempts: 3, pauseMs: 2000 }

/**
 * Runs the probes; those whose result differs from the expectation are run again (at most
 * PROBE_SETTLE.attempts in all), because a CNI or a waypoint can take a few seconds to enforce a policy that
 * was just applied. Only a result that persists fails a check.
 */
export async function runProbes(ctx: StepContext, io: StepIO, specs: ProbeSpec[]): Promise<ProbeResult[]> {
  // --no-probes: nothing is created; each probe comes back "ok" so no caller diagnoses it, and probeCheck marks it skipped.
  if (ctx.probes === false)
    return specs.map((spec) => ({
      spec,
      pod: '',
      exitCode: undefined,
      log: '',
      observed: { kind: 'skipped', detail: '--no-probes' },
      ok: true,
    }))
  const results = ctx.probeMemo
    ? await memoizedProbes(ctx, io, specs, ctx.probeMemo)
    : await settledProbes(ctx, io, specs)
  ctx.onProbeResults?.(results)
  return results
}

/** Runs only the probes no other step of this audit has started, and shares the results of the rest. */
async function memoizedProbes(
  ctx: StepContext,
  io: StepIO,
  specs: ProbeSpec[],
  memo: Map<string, Promise<ProbeResult>>,
): Promise<ProbeResult[]> {
  const key = (spec: ProbeSpec) =>
    JSON.stringify([spec.source.labels, spec.source.serviceAccount, spec.request, spec.expect])
  const missing = specs.filter((spec) => !memo.has(key(spec)))
  if (missing.length) {
    const batch = settledProbes(ctx, io, missing)
    missing.forEach((spec, i) =>
      memo.set(
        key(spec),
        batch.then((results) => results[i]),
      ),
    )
  }
  return Promise.all(specs.map(async (spec) => ({ ...(await memo.get(key(spec))!), spec })))
}

async function settledProbes(ctx: StepContext, io: StepIO, specs: ProbeSpec[]): Promise<ProbeResult[]> {
  let results = await runProbeBatch(ctx, io, specs)
  for (let attempt = 2; attempt <= PROBE_SETTLE.attempts; attempt++) {
    const unexpected = results.filter((r) => !r.ok)
    if (unexpected.length === 0) break
    io.log(
      `${unexpected.length} probe(s) not as expected yet; trying again in ${PROBE_SETTLE.pauseMs / 1000}s (attempt ${attempt} of ${PROBE_SETTLE.attempts}), as policies take a moment to be enforced`,
    )
    await sleep(PROBE_SETTLE.pauseMs, ctx.signal)
    const retried = await runProbeBatch(
      ctx,
      io,
      unexpected.map((r) => r.spec),
    )
    results = results.map((r) => retried.find((n) => n.spec === r.spec) ?? r)
  }
  return results
}

/**
 * Creates the probe pods of one batch together, waits until each has finished (bounded by --timeout), reads
 * their logs, and deletes them. The deletion is also registered with io.onCleanup, so an interruption or a
 * failure in between still removes them.
 */
async function runProbeBatch(ctx: StepContext, io: StepIO, specs: ProbeSpec[]): Promise<ProbeResult[]> {
  const namespace = ctx.config.namespace
  const runId = randomSuffix()
  const selector = `${PROBE_RUN_LABEL}=${runId}`
  const mongoImage = mongoProbeImage(ctx.config, ctx.facts)
  const pods = specs.map((spec) =>
    probePod(spec, { namespace, runId, mongoImage, httpImage: ctx.config.httpProbeImage }),
  )
  assertValidManifests(pods)
  const remove = async () => {
    await ctx.cluster
      .forCleanup()
      .kubectl(['delete', 'pods', '-n', namespace, '-l', selector, '--ignore-not-found', '--wait=false'])
  }
  let removal: Promise<void> | undefined
  io.onCleanup(async () => {
    await (removal ?? remove())
  })
  await ctx.cluster.kubectl(['create', '-f', '-'], { input: toYamlStream(pods) })
  io.log(`started ${pods.length} probe pod(s) in ${namespace}: ${pods.map((p) => p.metadata.name).join(', ')}`)
  try {
    let latest: KubeObject[] = []
    const finished = await pollUntil(
      async () => {
        latest = await ctx.cluster.list('pods', { namespace, selector })
        return latest.length === pods.length && latest.every(terminated) ? latest : undefined
      },
      { timeoutMs: ctx.config.timeout * 1000, intervalMs: 200, signal: ctx.signal },
    )
    if (!finished) {
      const stuck = pods
        .map((p) => latest.find((l) => l.metadata.name === p.metadata.name) ?? p)
        .filter((p) => !terminated(p))
        .map((p) => `${p.metadata.name}: ${p.status ? whyNotFinished(p) : 'disappeared'}`)
      throw new StepFailure(
        `probe pods did not finish within ${ctx.config.timeout}s, so the policies could not be verified:\n  ${stuck.join('\n  ')}\n` +
          `check that pods can be scheduled in ${namespace} and that the images ${mongoImage} / ${ctx.config.httpProbeImage} can be pulled (--probe-image, --http-probe-image, --timeout)`,
      )
    }
    const batch = specs.map((spec, i) => ({ spec, name: pods[i].metadata.name }))
    return await mapConcurrent(batch, 4, async ({ spec, name }) => {
      const pod = finished.find((p) => p.metadata.name === name)!
      const exitCode: number | undefined = pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode
      const log = (
        await ctx.cluster.exec(ctx.cluster.kubectlArgv(['logs', '-n', namespace, name]), { timeoutMs: 30_000 })
      ).stdout
      const observed = spec.request.kind === 'mongo' ? classifyMongo(exitCode, log) : classifyHttp(exitCode, log)
      return { spec, pod: name, exitCode, log, observed, ok: meetsExpectation(spec.expect, observed) }
    })
  } finally {
    // Start deleting now without waiting; the registered cleanup awaits it (or retries it after an interruption).
    if (!ctx.signal.aborted) removal = remove()
    removal?.catch(() => undefined)
  }
}

// ---- showing results ----

/** The reachability matrix: one row per source, one column per destination, "expected / observed" in each cell. */
export function formatMatrix(results: ProbeResult[]): string {
  const sources = [...new Set(results.map((r) => r.spec.source.name))]
  const destinations = [...new Set(results.map((r) => r.spec.destination))]
  const cell = (r: ProbeResult | undefined) =>
    r
      ? `${r.ok ? '✔' : '✖'} ${short(describeExpectation(r.spec.expect))} / ${short(describeObservation(r.observed))}`
      : '—'
  const rows = [
    ['source ↓  destination →', ...destinations],
    ...sources.map((s) => [
      s,
      ...destinations.map((d) => cell(results.find((r) => r.spec.source.name === s && r.spec.destination === d))),
    ]),
  ]
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)))
  const line = (row: string[]) =>
    row
      .map((c, i) => c.padEnd(widths[i]))
      .join(' │ ')
      .trimEnd()
  return [
    line(rows[0]),
    widths.map((w) => '─'.repeat(w)).join('─┼─'),
    ...rows.slice(1).map(line),
    '(each cell: expected / observed)',
  ].join('\n')
}

const short = (text: string) => text.replace(/ \(.*\)$/, '')

/** One check per probe; `hint` explains a failure (the caller knows the likely causes). */
export function probeCheck(result: ProbeResult, hint?: string): Check {
  const { spec } = result
  if (result.observed.kind === 'skipped') {
    return {
      name: `${spec.source.name} → ${spec.destination}: ${describeExpectation(spec.expect)}`,
      expected: describeExpectation(spec.expect),
      observed: 'not probed (--no-probes)',
      ok: false,
      advisory: true,
    }
  }
  return {
    name: `${spec.source.name} → ${spec.destination}: ${describeExpectation(spec.expect)}`,
    expected: describeExpectation(spec.expect),
    observed: `${describeObservation(result.observed)} [pod ${result.pod}]`,
    ok: result.ok,
    hint: result.ok ? undefined : hint,
  }
}

/** The port a kubelet health probe (tcpSocket, httpGet or grpc) targets, with named ports resolved. */
export function resolveProbePort(pod: KubeObject, probe: any): number | undefined {
  const port = probe?.tcpSocket?.port ?? probe?.httpGet?.port ?? probe?.grpc?.port
  if (typeof port === 'number') return port
  if (typeof port !== 'string') return undefined
  if (/^\d+$/.test(port)) return Number(port)
  for (const c of pod.spec?.containers ?? []) for (const p of c.ports ?? []) if (p.name === port) return p.containerPort
  return undefined
}
