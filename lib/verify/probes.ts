// Probe pods: short-lived pods that stand in for a workload (its labels, its ServiceAccount) and try one
// connection or one HTTP request, so a policy is proven from inside the cluster rather than assumed. All
// probes of a batch are created in one call, run side by side, and are deleted afterwards — also when the
// step fails or the run is interrupted.
import { padColumns, terminalColumns, text } from '../config/text.ts'
import { randomBytes } from 'node:crypto'
import { Interrupted, StepFailure } from '../config/errors.ts'
import { loadManifest } from '../kube/manifests.ts'
import { assertValidManifests } from '../kube/schema.ts'
import { pollUntil, sleep } from '../kube/wait.ts'
import { CHART_MONGO_IMAGE, workloads } from '../domain/gthulhu.ts'
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
import { access, kubectlAccess } from '../kube/access.ts'
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

/**
 * Whether an observation is what the probe expected. A deny probe proves nothing unless the target exists; an
 * answer is the far side's, so an L7 layer's 401 or 403 on the way is a refusal, not an answer.
 */
export function meetsExpectation(expect: ProbeExpectation, observed: Observation): boolean {
  if (expect.kind === 'answered')
    return (
      observed.kind === 'answered' || (observed.kind === 'status' && observed.status !== 401 && observed.status !== 403)
    )
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
  const last = log.trim().split('\n').pop() ?? ''
  if (exitCode === 0 && /^1$/m.test(log.trim())) return { kind: 'answered' }
  if (/ENOTFOUND|EAI_AGAIN|getaddrinfo/i.test(log)) return { kind: 'unresolved', detail: last }
  if (/ECONNREFUSED/i.test(log)) return { kind: 'refused', detail: text.checks.nothingListens }
  // A policy shows as a connection closed or reset without an answer (ztunnel), or as a timeout (CNI drop).
  if (/closed|ECONNRESET|timed out|timeout/i.test(log)) return { kind: 'blocked', detail: last }
  if (/not found/i.test(log)) return { kind: 'error', detail: text.checks.imageCannot('mongosh', last) }
  return { kind: 'error', detail: `exit ${exitCode ?? '?'}: ${last || 'no output'}` }
}

/**
 * A listener (busybox nc from the HTTP probe image) that prints whatever reaches it: the manager's request to
 * a decision maker it found. `timeout` ends it once the manager has had a whole resync interval to call.
 */
export const listenerScript = (port: number, seconds: number) =>
  `timeout ${seconds} nc -l -p ${port}; echo 'listener closed'`

/** What a listener saw: an HTTP request line means something reached it; otherwise nothing did. */
export function classifyListener(exitCode: number | undefined, log: string): Observation {
  const request = /^(GET|POST|PUT|PATCH|DELETE|HEAD) \S+ HTTP\/[\d.]+/m.exec(log)
  if (request) return { kind: 'answered' }
  if (/listener closed/.test(log) && !/not found|can't|bad|usage/i.test(log))
    return { kind: 'blocked', detail: text.checks.nothingReachedListener }
  if (/not found/.test(log)) return { kind: 'error', detail: text.checks.imageCannot('nc', log.trim()) }
  return { kind: 'error', detail: `exit ${exitCode ?? '?'}: ${log.trim() || 'no output'}` }
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
  if (/not found/.test(log)) return { kind: 'error', detail: text.checks.imageCannot('curl', log.trim()) }
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

/** The label every node carries with its own name (what a probe's node affinity selects on). */
const HOSTNAME_LABEL = 'kubernetes.io/hostname'

/** Builds one probe pod from manifests/probe-pod.yaml. */
export function probePod(
  spec: ProbeSpec,
  options: { namespace: string; runId: string; mongoImage: string; httpImage: string },
): KubeObject {
  const pod = loadManifest('probe-pod.yaml', 'Pod')
  const name = `gthulhu-probe-${spec.role}-${randomSuffix()}`.slice(0, 63).replace(/-+$/, '')
  pod.metadata.name = name
  pod.metadata.namespace = spec.namespace ?? options.namespace
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
  container.command = ['sh', '-c', probeScript(request)]
  // The manager calls a decision maker on its first declared container port (Gthulhu/api k8s_adapter firstContainerPort).
  if (request.kind === 'listen') container.ports = [{ name: 'http', containerPort: request.port, protocol: 'TCP' }]
  if (spec.host) {
    pod.spec.hostNetwork = true
    const nodes = spec.host.nodes
    const term =
      'in' in nodes
        ? { key: HOSTNAME_LABEL, operator: 'In', values: nodes.in }
        : { key: HOSTNAME_LABEL, operator: 'NotIn', values: nodes.notIn }
    pod.spec.affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [term] }] },
      },
    }
    // The node is the point: a control-plane taint must not keep the probe off the manager's node.
    pod.spec.tolerations = [{ operator: 'Exists' }]
  }
  return pod
}

function probeScript(request: ProbeSpec['request']): string {
  switch (request.kind) {
    case 'mongo':
      return mongoProbeScript(request.host, request.port)
    case 'http':
      return httpProbeScript(request.url, request.userAgent)
    case 'listen':
      return listenerScript(request.port, request.seconds)
  }
}

const classify = (request: ProbeSpec['request'], exitCode: number | undefined, log: string): Observation =>
  request.kind === 'mongo'
    ? classifyMongo(exitCode, log)
    : request.kind === 'listen'
      ? classifyListener(exitCode, log)
      : classifyHttp(exitCode, log)

/** The objects a batch needs besides its pods, labelled so they are deleted with the pods. */
function batchFixtures(specs: ProbeSpec[], runId: string): KubeObject[] {
  const fixtures = specs.flatMap((s) => s.fixtures ?? []).map((o) => structuredClone(o))
  for (const o of fixtures) o.metadata.labels = { ...o.metadata.labels, ...MANAGED_BY, [PROBE_RUN_LABEL]: runId }
  // Namespaces first: what lives in them is created after them, in stream order.
  return fixtures.sort((a, b) => Number(b.kind === 'Namespace') - Number(a.kind === 'Namespace'))
}

/** MongoDB probes run mongosh from MongoDB's own image (already on the nodes) unless --probe-image names another. */
export const mongoProbeImage = (config: Pick<Config, 'probeImage' | 'release'>, facts: Facts) =>
  config.probeImage ?? workloads(config, facts).mongodb.image ?? CHART_MONGO_IMAGE

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

/**
 * The API requests of the probe batches a verification runs (runProbeBatch): the fixtures (a namespace of its own
 * with a ServiceAccount, a Service), the pods, one watch that follows them (every namespace when they are in
 * several), their logs, and the deletion by the batch's label. Pods in a namespace of their own are made in a
 * namespace with a fresh random name: RBAC cannot name it, so those grants cover every namespace.
 */
export function probeAccess(
  namespace: string,
  uses: { ownNamespaces: boolean; services: boolean },
  who: string,
): ApiAccess[] {
  const why = `${who}: probe pods, created for the check, read, then deleted`
  const everywhere: { namespace?: string } = uses.ownNamespaces ? {} : { namespace }
  const inOwn = (what: string) => `${who}: ${what} in a namespace of its own (a fresh name each time), then deleted`
  return [
    ...kubectlAccess.create('pods', everywhere, why),
    ...kubectlAccess.list('pods', everywhere, `${why} (the watch that follows them lists them first)`),
    access('pods', ['watch'], everywhere, why),
    access('pods/log', ['get'], everywhere, `${why} (kubectl logs -l)`),
    // `kubectl delete pods,services -l RUN` lists both kinds, then deletes what it found.
    ...kubectlAccess.deleteSelected('pods', { namespace }, why),
    ...kubectlAccess.list('services', { namespace }, `${who}: the probes' Services, deleted with their pods`),
    ...(uses.services
      ? [
          ...kubectlAccess.create('services', { namespace }, `${who}: a Service the probes call, deleted afterwards`),
          ...kubectlAccess.delete('services', { namespace }, `${who}: deletes the probes' Service`),
        ]
      : []),
    ...(uses.ownNamespaces
      ? [
          ...kubectlAccess.create('namespaces', {}, inOwn('a listener')),
          ...kubectlAccess.create('serviceaccounts', {}, inOwn("the listener's ServiceAccount")),
          ...kubectlAccess.deleteSelected('namespaces', {}, inOwn('a listener')),
        ]
      : []),
  ]
}

/**
 * Probes an interrupted run left (a second Ctrl-C leaves at once): pods and Services in Gthulhu's namespace and the
 * probes' own namespaces, listed when the lock is taken and deleted when found.
 */
export function leftoverProbeAccess(namespace: string): ApiAccess[] {
  const why = 'every run and audit: removes probes an interrupted run left behind'
  const when = 'when an interrupted run left some'
  return [
    ...kubectlAccess.list('pods', { namespace }, why),
    ...kubectlAccess.list('services', { namespace }, why),
    ...kubectlAccess.list('namespaces', {}, why),
    ...kubectlAccess.delete('pods', { namespace, when }, why),
    ...kubectlAccess.delete('services', { namespace, when }, why),
    ...kubectlAccess.delete('namespaces', { when }, why),
  ]
}

/** How often a probe whose result differs from the expectation is tried again, and the pause before each retry. */
export const PROBE_SETTLE = { attempts: 3, pauseMs: 2000 }

/**
 * Runs the probes; those whose result differs from the expectation are run again (at most
 * PROBE_SETTLE.attempts in all), because a CNI or a waypoint can take a few seconds to enforce a policy that
 * was just applied. Only a result that persists fails a check.
 */
export async function runProbes(
  ctx: StepContext,
  io: StepIO,
  specs: ProbeSpec[],
  /** Which disagreements are worth trying again (default: all); a path known to be open will not close by waiting. */
  settle: (spec: ProbeSpec) => boolean = () => true,
): Promise<ProbeResult[]> {
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
    ? await memoizedProbes(ctx, io, specs, ctx.probeMemo, settle)
    : await settledProbes(ctx, io, specs, settle)
  ctx.onProbeResults?.(results)
  return results
}

/** Probes the steps of one audit asked for in the same moment, not started yet: they run as one batch. */
interface PendingAuditProbes {
  specs: ProbeSpec[]
  ios: StepIO[]
  started: Promise<ProbeResult[]>
}
const pendingAuditProbes = new WeakMap<Map<string, Promise<ProbeResult>>, PendingAuditProbes>()

/**
 * Runs only the probes no other step of this audit has started, and shares the results of the rest. Probes
 * the steps ask for together (their reads come back in one answer, so they ask in the same moment) are
 * collected for a turn of the event loop and run as one batch of pods: one create, one watch, one logs call.
 */
async function memoizedProbes(
  ctx: StepContext,
  io: StepIO,
  specs: ProbeSpec[],
  memo: Map<string, Promise<ProbeResult>>,
  settle: (spec: ProbeSpec) => boolean,
): Promise<ProbeResult[]> {
  const key = (spec: ProbeSpec) =>
    JSON.stringify([
      spec.source.labels,
      spec.source.serviceAccount,
      spec.request,
      spec.expect,
      spec.host,
      spec.namespace,
    ])
  const missing = [...new Map(specs.filter((spec) => !memo.has(key(spec))).map((s) => [key(s), s])).values()]
  if (missing.length) {
    let pending = pendingAuditProbes.get(memo)
    if (!pending) {
      const collected: PendingAuditProbes = { specs: [], ios: [], started: Promise.resolve([]) }
      collected.started = new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve))).then(() => {
        pendingAuditProbes.delete(memo)
        // Logs go to the first step that asked; every asking step will clean the pods up if interrupted.
        const shared: StepIO = {
          ...collected.ios[0],
          onCleanup: (cleanup) => collected.ios.forEach((each) => each.onCleanup(cleanup)),
        }
        return settledProbes(ctx, shared, collected.specs, settle)
      })
      pendingAuditProbes.set(memo, collected)
      pending = collected
    }
    const batch = pending
    const offset = batch.specs.length
    batch.specs.push(...missing)
    batch.ios.push(io)
    missing.forEach((spec, i) =>
      memo.set(
        key(spec),
        batch.started.then((results) => results[offset + i]),
      ),
    )
  }
  return Promise.all(specs.map(async (spec) => ({ ...(await memo.get(key(spec))!), spec })))
}

async function settledProbes(
  ctx: StepContext,
  io: StepIO,
  specs: ProbeSpec[],
  settle: (spec: ProbeSpec) => boolean,
): Promise<ProbeResult[]> {
  let results = await runProbeBatch(ctx, io, specs)
  for (let attempt = 2; attempt <= PROBE_SETTLE.attempts; attempt++) {
    const unexpected = results.filter((r) => !r.ok && settle(r.spec))
    if (unexpected.length === 0) break
    io.log(text.progress.probesRetry(unexpected.length, PROBE_SETTLE.pauseMs / 1000, attempt, PROBE_SETTLE.attempts))
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
 * Creates the probe pods of one batch together (after the objects they need: a namespace, a Service), waits
 * until each has finished (bounded by --timeout, plus the time a listener listens), reads their logs, and deletes
 * them with those objects. The deletion is also registered with io.onCleanup, so an interruption or a failure in
 * between still removes them. hostNetwork probes are created on their own: admission (Pod Security) may refuse
 * them, and that leaves their paths untried instead of failing the batch.
 */
async function runProbeBatch(ctx: StepContext, io: StepIO, specs: ProbeSpec[]): Promise<ProbeResult[]> {
  const namespace = ctx.config.namespace
  const runId = randomSuffix()
  const selector = `${PROBE_RUN_LABEL}=${runId}`
  const mongoImage = mongoProbeImage(ctx.config, ctx.facts)
  const pods = specs.map((spec) =>
    probePod(spec, { namespace, runId, mongoImage, httpImage: ctx.config.httpProbeImage }),
  )
  const fixtures = batchFixtures(specs, runId)
  assertValidManifests([...fixtures, ...pods])
  const podNamespaces = [...new Set([namespace, ...pods.map((p) => p.metadata.namespace!)])]
  const ownNamespaces = fixtures.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name)
  const remove = async () => {
    const cleanup = ctx.cluster.forCleanup()
    const inNamespaces = podNamespaces.filter((ns) => !ownNamespaces.includes(ns))
    await Promise.all([
      ...inNamespaces.map((ns) =>
        cleanup.kubectl(['delete', 'pods,services', '-n', ns, '-l', selector, '--ignore-not-found', '--wait=false']),
      ),
      // Deleting a probe namespace deletes everything in it.
      ...(ownNamespaces.length
        ? [cleanup.kubectl(['delete', 'namespaces', '-l', selector, '--ignore-not-found', '--wait=false'])]
        : []),
    ])
  }
  let removal: Promise<void> | undefined
  // After an interruption (no deletion started yet) the cleanup deletes the pods and waits for it, once every create
  // still in flight has its answer: a sibling check stopped by Ctrl-C can end the step while a probe pod is being
  // stored, and the clean-up must not look before it is. A deletion already under way is not waited for: the next
  // step need not wait on it, and the runbook does not exit before its kubectl has (a failure is still reported).
  let creating: Promise<unknown> = Promise.resolve()
  const creation = <T>(write: Promise<T>): Promise<T> => {
    creating = Promise.allSettled([creating, write])
    return write
  }
  io.onCleanup(async () => {
    await creating
    if (!removal) await remove()
  })
  if (fixtures.length) await creation(ctx.cluster.kubectl(['create', '-f', '-'], { objects: fixtures }))
  const onHost = pods.filter((p) => p.spec.hostNetwork)
  const created = pods.filter((p) => !p.spec.hostNetwork)
  const listening = Math.max(0, ...specs.map((s) => (s.request.kind === 'listen' ? s.request.seconds : 0)))
  // The watch starts with the creation, so the pods are followed from their first moment.
  const following = followProbePods(ctx, podNamespaces, selector, () => created.length, ctx.config.timeout + listening)
  const refused = new Map<string, string>()
  try {
    if (created.length) await creation(ctx.cluster.kubectl(['create', '-f', '-'], { objects: created }))
    for (const pod of onHost) {
      const made = await creation(
        ctx.cluster.exec(ctx.cluster.kubectlArgv(['create', '-f', '-']), { objects: [pod], timeoutMs: 60_000 }),
      )
      if (made.exitCode === 0) created.push(pod)
      else refused.set(pod.metadata.name, (made.stderr || made.stdout).trim().split('\n').pop() ?? 'refused')
    }
  } catch (error) {
    following.stop()
    throw error
  }
  following.recount()
  io.log(
    text.progress.probesStarted(
      created.length,
      podNamespaces.join(', '),
      created.map((p) => p.metadata.name).join(', '),
    ),
  )
  try {
    const finished = await following.finished
    if (!finished.done) {
      const stuck = created
        .map((p) => finished.pods.get(p.metadata.name) ?? p)
        .filter((p) => !terminated(p))
        .map((p) => `${p.metadata.name}: ${p.status ? whyNotFinished(p) : text.failures.podDisappeared}`)
      throw new StepFailure(
        text.failures.probesStuck(
          ctx.config.timeout + listening,
          stuck,
          namespace,
          `${mongoImage} / ${ctx.config.httpProbeImage}`,
        ),
      )
    }
    const logs = await probeLogs(
      ctx,
      podNamespaces,
      selector,
      created.map((p) => p.metadata.name),
    )
    return specs.map((spec, i): ProbeResult => {
      const name = pods[i].metadata.name
      const refusal = refused.get(name)
      // Not created: the path stays untried (and says why); retrying cannot change an admission decision.
      if (refusal)
        return {
          spec,
          pod: name,
          exitCode: undefined,
          log: '',
          observed: { kind: 'skipped', detail: `the API server refused the hostNetwork probe pod: ${refusal}` },
          ok: true,
        }
      const pod = finished.pods.get(name)!
      const exitCode: number | undefined = pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode
      const log = logs.get(name) ?? ''
      const observed = classify(spec.request, exitCode, log)
      return { spec, pod: name, exitCode, log, observed, ok: meetsExpectation(spec.expect, observed) }
    })
  } finally {
    if (!ctx.signal.aborted) {
      removal = remove()
      removal.catch((error) => io.warn(text.progress.probesNotDeleted(selector, (error as Error).message)))
    }
  }
}

/**
 * Follows the batch's pods until every one has finished (bounded by --timeout): one watch, which sees each pod
 * end the moment the kubelet reports it, instead of listing them again and again.
 */
function followProbePods(
  ctx: StepContext,
  namespaces: string[],
  selector: string,
  expected: () => number,
  timeoutSeconds: number,
): { stop(): void; recount(): void; finished: Promise<{ done: boolean; pods: Map<string, KubeObject> }> } {
  const pods = new Map<string, KubeObject>()
  // The count is final only once every pod was created (a hostNetwork one may be refused), hence recount().
  let counted = false
  const allDone = () => counted && pods.size === expected() && [...pods.values()].every(terminated)
  const deadline = Date.now() + timeoutSeconds * 1000
  const where = namespaces.length === 1 ? { namespace: namespaces[0] } : { allNamespaces: true }
  let finish: (() => void) | undefined
  const watch = ctx.cluster.watch(
    { resource: 'pods', ...where, selector },
    (event) => {
      if (event.type === 'DELETED') pods.delete(event.object.metadata.name)
      else pods.set(event.object.metadata.name, event.object)
      if (allDone()) finish?.()
    },
    { timeoutMs: timeoutSeconds * 1000 },
  )
  const finished = (async () => {
    try {
      await new Promise<void>((resolve) => {
        finish = resolve
        void watch.ended.then(() => resolve())
        ctx.signal.addEventListener('abort', () => resolve(), { once: true })
      })
      if (ctx.signal.aborted) throw new Interrupted()
      if (allDone()) return { done: true, pods }
      if (Date.now() >= deadline) return { done: false, pods }
      // The watch ended early (kubectl could not watch): read the pods instead, bounded by --timeout.
      const listed = await pollUntil(
        async () => {
          const latest = await ctx.cluster.list('pods', { ...where, selector })
          pods.clear()
          for (const pod of latest) pods.set(pod.metadata.name, pod)
          return allDone() ? true : undefined
        },
        { timeoutMs: deadline - Date.now(), intervalMs: 500, signal: ctx.signal },
      )
      return { done: !!listed, pods }
    } finally {
      watch.stop()
    }
  })()
  finished.catch(() => undefined)
  const recount = () => {
    counted = true
    if (allDone()) finish?.()
  }
  return { stop: () => watch.stop(), recount, finished }
}

/**
 * Every probe's output in one `kubectl logs -l --prefix` instead of one call per pod. kubectl starts each line
 * with `[pod/NAME/CONTAINER] `; a pod whose output does not end in a newline (curl's status code) runs into the
 * next pod's prefix, so the text is cut at every known pod's prefix, wherever it stands.
 */
async function probeLogs(
  ctx: StepContext,
  namespaces: string[],
  selector: string,
  names: string[],
): Promise<Map<string, string>> {
  // Pod names carry the run's random suffix, so one map holds every namespace's logs.
  const outputs = await Promise.all(
    namespaces.map(async (namespace) => {
      const result = await ctx.cluster.exec(
        ctx.cluster.kubectlArgv([
          'logs',
          '-n',
          namespace,
          '-l',
          selector,
          '--prefix',
          '--tail=-1',
          `--max-log-requests=${Math.max(5, names.length)}`,
        ]),
        { timeoutMs: 30_000 },
      )
      return splitPrefixedLogs(result.stdout, names)
    }),
  )
  return new Map(outputs.flatMap((logs) => [...logs].filter(([, text]) => text !== '')))
}

/** Splits `kubectl logs --prefix` output of several pods into each pod's own text. */
export function splitPrefixedLogs(text: string, names: string[]): Map<string, string> {
  const logs = new Map<string, string>(names.map((name) => [name, '']))
  const escaped = names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  const prefix = new RegExp(`\\[pod/(${escaped.join('|')})/[^\\]/]*\\] ?`, 'g')
  let current: string | undefined
  let at = 0
  for (const match of text.matchAll(prefix)) {
    if (current !== undefined) logs.set(current, logs.get(current)! + text.slice(at, match.index))
    current = match[1]
    at = match.index! + match[0].length
  }
  if (current !== undefined) logs.set(current, logs.get(current)! + text.slice(at))
  return logs
}

// ---- showing results ----

/**
 * The reachability matrix: one row per source, one column per destination, "expected / observed" in each cell.
 * `disclosed` picks the results that are as expected yet an open attack (a path this runbook leaves open): ⚠, not ✔.
 */
export function formatMatrix(results: ProbeResult[], disclosed: (r: ProbeResult) => boolean = () => false): string {
  const sources = [...new Set(results.map((r) => r.spec.source.name))]
  const destinations = [...new Set(results.map((r) => r.spec.destination))]
  const mark = (r: ProbeResult) => (disclosed(r) ? '⚠' : r.ok ? '✔' : '✖')
  const expected = ({ spec: { expect: e } }: ProbeResult) =>
    text.checks.expectation(e.kind, e.kind === 'status' ? e.status : undefined)
  const observed = ({ observed: o }: ProbeResult) =>
    text.matrix.observation(o.kind, o.kind === 'status' ? o.status : undefined)
  const cell = (r: ProbeResult | undefined) => (r ? text.matrix.cell(mark(r), expected(r), observed(r)) : '—')
  const rows = [
    [text.matrix.corner, ...destinations.map(text.matrix.place)],
    ...sources.map((s) => [
      text.matrix.place(s),
      ...destinations.map((d) => cell(results.find((r) => r.spec.source.name === s && r.spec.destination === d))),
    ]),
  ]
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => terminalColumns(row[i]))))
  const line = (row: string[]) =>
    row
      .map((c, i) => padColumns(c, widths[i]))
      .join(' │ ')
      .trimEnd()
  return [
    line(rows[0]),
    widths.map((w) => '─'.repeat(w)).join('─┼─'),
    ...rows.slice(1).map(line),
    results.some(disclosed) ? text.matrix.legendDisclosed : text.matrix.legend,
  ].join('\n')
}

/** A probe's check name, in the run's language: who → where: what it should get. */
const probeName = (spec: ProbeSpec) =>
  text.checks.probe(
    spec.source.name,
    spec.destination,
    text.checks.expectation(spec.expect.kind, spec.expect.kind === 'status' ? spec.expect.status : undefined),
    spec.path,
  )

const expectationOf = ({ expect }: ProbeSpec) =>
  text.checks.expectation(expect.kind, expect.kind === 'status' ? expect.status : undefined)
const observationOf = (o: Observation) =>
  text.checks.observation(o.kind, 'detail' in o ? o.detail : undefined, o.kind === 'status' ? o.status : undefined)

/** One check per probe; `hint` explains a failure (the caller knows the likely causes). */
export function probeCheck(result: ProbeResult, hint?: string): Check {
  const { spec } = result
  if (result.observed.kind === 'skipped') {
    return {
      name: probeName(spec),
      expected: expectationOf(spec),
      observed: text.checks.observation('skipped', result.observed.detail),
      ok: false,
      advisory: true,
    }
  }
  return {
    name: probeName(spec),
    expected: expectationOf(spec),
    observed: text.checks.observedBy(observationOf(result.observed), result.pod),
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
