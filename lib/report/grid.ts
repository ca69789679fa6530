// The reachability grid of a report: the threat model's sources as rows, its targets as columns, and in each cell
// every path from that source to that target with what was last seen of it: allowed, refused (and by which layer),
// open (an attack that got through), stays open (no layer of this runbook closes it), unknown (something changed
// since it was last seen) or not observed. Each cell says when it was observed; an observation older than the
// latest change to a step that decides the path is never shown as if it still held.
import type { Config } from '../config/options.ts'
import type { StepId } from '../types.ts'
import type { ChangedAt, Edge } from '../verify/reachability.ts'
import { expectedOfTrial, TARGET_TITLES, type TargetId, THREAT_MODEL, type ThreatPath } from '../verify/threat-model.ts'

export type Verdict = 'allowed' | 'refused' | 'open' | 'stays open' | 'unknown' | 'not observed'

export interface GridCell {
  path: string
  /** The address or route the path takes. */
  via: string
  kind: ThreatPath['kind']
  verdict: Verdict
  /** Who decides: the refusing (or admitting) layer, or why nothing does. */
  layer: string
  port: string
  /** When it was seen: this invocation, an earlier run (with its time), or never. */
  seen: { when: 'this run' | 'earlier run' | 'never'; at?: string }
  /** Whether what was seen is what the runbook expects now (a refused control, an attack open by mistake: false). */
  ok?: boolean
  /** Set in the "after" grid when the verdict differs from the "before" grid: what it was. */
  was?: string
}

export interface Grid {
  sources: string[]
  targets: string[]
  /** cells[source][target]: the paths from that source to that target (most cells hold one, many none). */
  cells: Record<string, Record<string, GridCell[]>>
}

export interface GridInput {
  config: Config
  /** Observed in this invocation. */
  now: Edge[]
  /** Observed earlier (the record's picture). */
  earlier: Edge[]
  /** When each step last began to change the cluster: earlier observations after that are no longer known. */
  changedAt: ChangedAt
  /** Which steps' protections are in effect (done in the record). */
  inEffect: (step: StepId) => boolean
  /** The report's day (YYYY-MM-DD): times on it are shown without the date. */
  day?: string
}

/** The steps whose change can alter what a path shows: those that close it and those that try it. */
const decidingSteps = (path: ThreatPath): StepId[] => [
  ...new Set([...path.closedBy.map((c) => c.step), ...path.triedAt]),
]

/** The latest observation of each path in a list of edges (edges without a path id come from older records). */
function latestByPath(edges: Edge[]): Map<string, Edge> {
  const byPath = new Map<string, Edge>()
  for (const edge of edges) {
    if (!edge.path || edge.verdict === 'not probed') continue
    const known = byPath.get(edge.path)
    if (!known || known.at <= edge.at) byPath.set(edge.path, edge)
  }
  return byPath
}

/**
 * A step that changed the cluster after this observation, if any: the observation no longer tells what holds. A
 * refusal survives a step that adds one of the layers that close the path (more closing cannot reopen it).
 */
function changedSince(
  path: ThreatPath,
  seen: Edge,
  changedAt: ChangedAt,
): { step: StepId; at: string; status: string } | undefined {
  const closing = (step: StepId) => path.closedBy.some((c) => c.step === step)
  return decidingSteps(path)
    .filter((step) => {
      const change = changedAt[step]
      if (!change || change.at <= seen.at) return false
      return !(seen.verdict === 'refused' && closing(step) && change.status === 'done')
    })
    .map((step) => ({ step, ...changedAt[step]! }))[0]
}

const CHANGE_WORD: Record<string, string> = { done: 'applied', accepted: 'applied', undone: 'undone' }

function fromEdge(path: ThreatPath, edge: Edge, seen: GridCell['seen'], input: GridInput): GridCell {
  const base = { path: path.id, via: path.via, kind: path.kind, port: edge.port, seen, ok: edge.ok }
  if (edge.verdict === 'inconclusive')
    return { ...base, verdict: 'unknown', layer: `inconclusive: ${edge.observed}`, ok: undefined }
  if (edge.verdict === 'refused') return { ...base, verdict: 'refused', layer: edge.layer }
  if (path.kind === 'control') return { ...base, verdict: 'allowed', layer: 'answered through every layer' }
  // An attack that got through: say why it is open (a layer not applied yet, left out, or none in this runbook).
  // The runbook's probe is exempt at admission: when only admission refuses the path, it saw the layers behind it.
  const { full: expected, tried: behind, onlyAdmission } = expectedOfTrial(path, input.config, input.inEffect)
  const why =
    onlyAdmission === 'applied' && behind.verdict === 'open'
      ? `open behind admission (${behind.until ? `until ${behind.until.step}` : behind.because}): admission refuses an insider's own object, the runbook's probe is exempt there`
      : expected.verdict === 'open'
        ? expected.until
          ? `open until ${expected.until.step} (${expected.until.layer})`
          : `open: ${expected.because}`
        : `got through though ${expected.verdict === 'refused' ? expected.by.map((c) => c.layer).join(' and ') : 'refused'} should refuse it`
  return { ...base, verdict: 'open', layer: why }
}

/** What a grid cell shows for one path. */
export function cellFor(
  path: ThreatPath,
  input: GridInput,
  now: Map<string, Edge>,
  earlier: Map<string, Edge>,
): GridCell {
  const seenNow = now.get(path.id)
  if (seenNow) return fromEdge(path, seenNow, { when: 'this run', at: seenNow.at }, input)
  const before = earlier.get(path.id)
  if (before) {
    const change = changedSince(path, before, input.changedAt)
    if (change)
      return {
        path: path.id,
        via: path.via,
        kind: path.kind,
        port: before.port,
        verdict: 'unknown',
        layer: `${change.step} ${CHANGE_WORD[change.status] ?? `changed (${change.status})`} at ${clock(change.at, input.day)}, after it was last seen; not re-observed`,
        seen: { when: 'earlier run', at: before.at },
      }
    return fromEdge(path, before, { when: 'earlier run', at: before.at }, input)
  }
  const never = { path: path.id, via: path.via, kind: path.kind, port: '', seen: { when: 'never' as const } }
  // No layer of this runbook closes it: open by design, said so whether or not a probe has tried it yet.
  if (path.kind === 'attack' && !path.closedBy.length)
    return {
      ...never,
      verdict: 'stays open',
      layer: path.staysOpen
        ? `no layer of this runbook closes it (see What stays open: ${path.id})`
        : path.trial.by === 'not tried'
          ? `not tried: ${path.trial.why}`
          : 'no layer of this runbook closes it',
    }
  if (path.trial.by === 'not tried') return { ...never, verdict: 'not observed', layer: `not tried: ${path.trial.why}` }
  return { ...never, verdict: 'not observed', layer: `tried at ${path.triedAt.join(', ')}, which did not probe here` }
}

/** The grid for these observations: every path of the threat model, in the model's order of sources and targets. */
export function buildGrid(input: GridInput): Grid {
  const now = latestByPath(input.now)
  const earlier = latestByPath(input.earlier)
  const sources = [...new Set(THREAT_MODEL.map((p) => p.from))]
  const targets = (Object.keys(TARGET_TITLES) as TargetId[]).filter((t) => THREAT_MODEL.some((p) => p.target === t))
  const cells: Grid['cells'] = Object.fromEntries(
    sources.map((s) => [s, Object.fromEntries(targets.map((t) => [TARGET_TITLES[t], [] as GridCell[]]))]),
  )
  for (const path of THREAT_MODEL) cells[path.from][TARGET_TITLES[path.target]].push(cellFor(path, input, now, earlier))
  return { sources, targets: targets.map((t) => TARGET_TITLES[t]), cells }
}

/** The verdict and layer of a cell, as one phrase (for differences and the Markdown grid). */
export const verdictText = (cell: GridCell) => `${cell.verdict} — ${cell.layer}`

/** Marks in `after` every cell whose verdict or deciding layer differs from `before`; returns the differences. */
export function markDifferences(
  before: Grid,
  after: Grid,
): { source: string; target: string; before: GridCell; after: GridCell }[] {
  const differences: { source: string; target: string; before: GridCell; after: GridCell }[] = []
  for (const source of after.sources)
    for (const target of after.targets)
      for (const cell of after.cells[source][target]) {
        const was = before.cells[source]?.[target]?.find((c) => c.path === cell.path)
        if (!was || (was.verdict === cell.verdict && was.layer === cell.layer)) continue
        // Never observed before and not observed now says nothing new.
        if (was.seen.when === 'never' && cell.seen.when === 'never') continue
        cell.was = verdictText(was)
        differences.push({ source, target, before: was, after: cell })
      }
  return differences
}

/** HH:MM:SS (UTC) of an ISO time, with the date when it is not `day`. */
export function clock(iso: string, day?: string): string {
  const time = iso.slice(11, 19)
  return day && iso.slice(0, 10) === day ? `${time} UTC` : `${iso.slice(0, 10)} ${time} UTC`
}
