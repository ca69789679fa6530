// --verify for one kube context: every done step's verify at once (the engine), then what it adds up to — the
// drifts (each failed check, with its diff), the attack paths the threat model says are open once the layers the
// audit found out of force no longer count, and one verdict line that says whether reachability was tried. A fleet
// audit runs this per context concurrently and prints one table.
import { EXIT, Interrupted } from '../config/errors.ts'
import type { Config } from '../config/options.ts'
import type { Cluster } from '../kube/cluster.ts'
import type { Check, Step, StepId, Voided } from '../types.ts'
import type { Edge, ReachabilityCollector } from '../verify/reachability.ts'
import { padColumns, terminalColumns, text } from '../config/text.ts'
import { type AuditedPath, auditPaths, isOpen, pathById, TARGET_TITLES } from '../verify/threat-model.ts'
import { Engine, type StepResult, summary } from './engine.ts'
import type { Reporter } from './reporter.ts'
import type { StateStore } from './state.ts'

/** One check that failed: what changed, and (for an object) how. */
export interface Drift {
  step: StepId
  check: string
  expected: string
  observed: string
  diff?: string[]
}

export interface AuditOutcome {
  context: string
  /** The steps audited, and how many hold. */
  audited: StepId[]
  holding: number
  drifts: Drift[]
  paths: AuditedPath[]
  pathsOpen: number
  /** False under --no-probes: reachability was not tried. */
  probed: boolean
  results: StepResult[]
  exitCode: number
  /** Set when the audit could not finish (interrupted, a cluster that does not answer). */
  error?: string
}

export interface AuditRun {
  config: Config
  steps: Step[]
  state: StateStore
  cluster: Cluster
  reporter: Reporter
  signal: AbortSignal
  ids: StepId[]
  /** Collects what the probes and gateway requests saw (for the report, and for the paths seen open). */
  collector: ReachabilityCollector
}

const failedHard = (c: Check) => !c.ok && !c.advisory

/**
 * Attack paths a probe or a gateway request got through where it expected a refusal (a path open by design or by
 * choice expects an answer, so seeing it answer is not among these).
 */
function seenOpen(edges: Edge[]): Set<string> {
  return new Set(
    edges
      .filter((e) => e.path && e.verdict === 'allowed' && !e.ok && pathById(e.path)?.kind === 'attack')
      .map((e) => e.path!),
  )
}

/** Audits one context: runs the engine's audit, prints the summary, the drifts and the paths, and says the verdict. */
export async function auditContext(run: AuditRun): Promise<AuditOutcome> {
  const { config, state, reporter } = run
  const engine = new Engine({
    config,
    steps: run.steps,
    selected: run.ids,
    state,
    cluster: run.cluster,
    reporter,
    signal: run.signal,
    fancy: false,
    probes: config.probes,
    onProbeResults: run.collector.add,
  })
  const context = state.state.context
  let error: string | undefined
  try {
    await engine.audit()
  } catch (caught) {
    if (caught instanceof Interrupted) throw caught
    error = (caught as Error).message
  }
  const results = engine.results
  for (const result of results) run.collector.addChecks(result.id, result.checks)
  const drifts: Drift[] = results.flatMap((r) =>
    r.checks.filter(failedHard).map((c) => ({
      step: r.id,
      check: c.name,
      expected: c.expected,
      observed: c.observed,
      ...(c.diff ? { diff: c.diff } : {}),
    })),
  )
  const voided: Voided[] = results.flatMap((r) => r.checks.filter(failedHard).flatMap((c) => c.voids ?? []))
  const inEffect = (step: StepId) => state.state.steps[step]?.status === 'done'
  const paths = auditPaths(config, inEffect, voided, seenOpen(run.collector.current))
  const pathsOpen = paths.filter(isOpen).length
  const holding = results.filter((r) => r.status === 'done').length
  const exitCode = error ? EXIT.failed : drifts.length ? EXIT.failed : EXIT.ok
  const outcome: AuditOutcome = {
    context,
    audited: run.ids,
    holding,
    drifts,
    paths,
    pathsOpen,
    probed: config.probes,
    results,
    exitCode,
    ...(error ? { error } : {}),
  }
  reporter.say(`\n${summary(results, [])}`)
  reporter.say(`\n${verdictText(outcome)}`)
  for (const row of paths.filter((p) => p.status !== 'closed' && p.status !== 'open'))
    reporter.event({
      event: 'path',
      path: row.path.id,
      status: row.status,
      holding: row.holding.map((c) => c.layer),
      voided: row.voided.map((c) => c.layer),
    })
  reporter.event({
    event: 'audit-end',
    steps: run.ids.length,
    holding,
    drifts: drifts.length,
    pathsOpen,
    probed: config.probes,
    exitCode,
    ...(error ? { message: error } : {}),
  })
  return outcome
}

/** One line per path the audit found weakened, reopened or seen open. */
export function describeAudited(row: AuditedPath): string {
  const { path } = row
  const name = text.audit.path(path.id, path.from, TARGET_TITLES[path.target], path.via)
  const layers = (closures: AuditedPath['voided']) => closures.map((c) => c.layer)
  if (row.status === 'weakened') return text.audit.weakened(name, layers(row.holding), layers(row.voided))
  if (row.status === 'reopened') return text.audit.reopened(name, layers(row.voided))
  return text.audit.seenOpen(name)
}

/** The audit's last words: drifts with their diffs, the paths they weaken or reopen, and whether probes ran. */
export function verdictText(o: AuditOutcome): string {
  const lines: string[] = []
  if (o.error) lines.push(text.audit.didNotFinish(o.error))
  if (o.drifts.length) {
    lines.push(text.cli.drifts(o.drifts.length))
    for (const d of o.drifts) {
      lines.push(`  ${text.checks.drift(d.step, d.check, d.expected, d.observed)}`)
      for (const line of d.diff ?? []) lines.push(`      ${line}`)
    }
  }
  const changed = o.paths.filter((p) => p.status === 'weakened' || p.status === 'reopened' || p.status === 'seen open')
  if (changed.length) {
    lines.push(text.audit.weakerTitle)
    for (const row of changed) lines.push(`  ${describeAudited(row)}`)
  }
  const attack = o.paths.length
  lines.push(
    text.audit.counts(attack - o.pathsOpen, attack, o.pathsOpen, o.paths.filter((p) => p.status === 'open').length),
  )
  const reach = o.probed ? text.audit.probed : text.audit.notProbed
  if (!o.error && !o.drifts.length) lines.push(o.probed ? text.audit.holds(reach) : text.audit.holdsUnprobed(reach))
  else lines.push(`(${reach})`)
  return lines.join('\n')
}

/** The fleet's table: one row per context. */
/** A context that could not be audited at all (its lock held by a run, say): every step unproven, no path tried. */
export function notAudited(
  run: Pick<AuditRun, 'ids' | 'reporter' | 'config'>,
  context: string,
  error: string,
): AuditOutcome {
  const outcome = {
    context,
    audited: run.ids,
    holding: 0,
    drifts: [],
    paths: [],
    pathsOpen: 0,
    probed: run.config.probes,
    results: [],
    exitCode: EXIT.failed,
    error,
  }
  run.reporter.say(`✖ ${error}`)
  run.reporter.event({
    event: 'audit-end',
    steps: run.ids.length,
    holding: 0,
    drifts: 0,
    pathsOpen: 0,
    probed: outcome.probed,
    exitCode: outcome.exitCode,
    message: error,
  })
  return outcome
}

export function fleetTable(outcomes: AuditOutcome[]): string {
  const rows = outcomes.map((o) => [
    o.context,
    `${o.holding}/${o.audited.length}`,
    o.error ? text.audit.fleetFailed : String(o.drifts.length),
    // No path was looked at when the context could not be audited at all.
    o.paths.length ? String(o.pathsOpen) : '—',
    o.error ? `✖ ${o.error}` : o.drifts.length ? text.audit.fleetDrifted : text.audit.fleetHolds,
  ])
  const head = text.audit.fleetColumns
  const widths = head.map((h, i) => Math.max(terminalColumns(h), ...rows.map((r) => terminalColumns(r[i]))))
  const line = (cells: string[]) =>
    `  ${cells
      .map((c, i) => padColumns(c, widths[i]))
      .join('  ')
      .trimEnd()}`
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}
