// What a report says, as data: for each kube context a list of blocks (a heading, a note, a table or the
// reachability grid), rendered twice, as Markdown and as HTML (lib/report/markdown.ts, lib/report/html.ts). A run,
// a rollback or an audit of one context is one section; an audit of several contexts is one section per context.
import type { Config } from '../config/options.ts'
import type { AuditOutcome } from '../run/audit.ts'
import type { StepResult } from '../run/engine.ts'
import type { RunbookState } from '../run/state.ts'
import { seconds } from '../run/reporter.ts'
import type { Check, StepId } from '../types.ts'
import { changedAtOf, type ReachabilityCollector } from '../verify/reachability.ts'
import { ledger, TARGET_TITLES } from '../verify/threat-model.ts'
import { buildGrid, clock, type Grid, markDifferences, verdictText } from './grid.ts'

export type ReportKind = 'run' | 'verify' | 'uninstall' | 'rollback'

/** What one invocation against one context hands the report. */
export interface ReportInput {
  kind: ReportKind
  context: string
  config: Config
  startedAt: Date
  finishedAt: Date
  results: StepResult[]
  state: RunbookState
  reachability: ReachabilityCollector
  argv: string[]
  /** The runbook's version (package.json). */
  version: string
  /** An audit's findings: the drifts with their diffs and the attack paths they weaken. */
  audit?: AuditOutcome
}

export interface Table {
  head: string[]
  rows: string[][]
  /** Column widths in percent (HTML lays tables out fixed, so long values wrap instead of widening the page). */
  widths?: number[]
}

export interface Block {
  heading: string
  note?: string
  table?: Table
  grid?: Grid
}

export interface ContextSection {
  context: string
  blocks: Block[]
}

export interface ReportModel {
  kind: ReportKind
  /** The day (YYYY-MM-DD, UTC) the report covers: times on that day are shown without the date. */
  day: string
  title: string
  intro: string
  sections: ContextSection[]
}

export const KIND_TITLE: Record<ReportKind, string> = {
  run: 'Hardening run',
  verify: 'Audit (--verify)',
  uninstall: 'Uninstall',
  rollback: 'Rollback',
}

const finished = (r: StepResult) => r.status === 'done' || r.status === 'undone' || r.status === 'accepted'

export function outcomeOf(results: StepResult[]): string {
  const failed = results.filter((r) => !finished(r))
  return failed.length ? `not complete: ${failed.map((r) => `${r.id} ${r.status}`).join(', ')}` : 'complete'
}

/** The report of one invocation against one context. */
export function buildReport(input: ReportInput): ReportModel {
  return {
    kind: input.kind,
    day: input.startedAt.toISOString().slice(0, 10),
    title: `${KIND_TITLE[input.kind]} — context ${input.context}`,
    intro: `${KIND_TITLE[input.kind]} of the Gthulhu hardening runbook ${input.version}: ${outcomeOf(input.results)}.`,
    sections: [contextSection(input)],
  }
}

/** Everything the report says about one context. */
export function contextSection(input: ReportInput): ContextSection {
  const { results, state, reachability, config } = input
  const day = input.startedAt.toISOString().slice(0, 10)
  const inEffect = (step: StepId) => state.steps[step]?.status === 'done'
  const before = buildGrid({
    config,
    now: [],
    earlier: reachability.before,
    changedAt: reachability.changedBefore,
    inEffect,
    day,
  })
  const after = buildGrid({
    config,
    now: reachability.current,
    // An uninstall starts afresh: what was seen before it describes a cluster that is gone.
    earlier: input.kind === 'uninstall' ? [] : reachability.before,
    changedAt: changedAtOf(state.steps),
    inEffect,
    day,
  })
  const differences = markDifferences(before, after)
  const changed = results.filter((r) => r.changes?.length)
  const lastSeen = reachability.before
    .map((e) => e.at)
    .sort()
    .at(-1)
  return {
    context: input.context,
    blocks: [
      { heading: 'Run', table: runTable(input) },
      { heading: 'Versions', table: versionsTable(input) },
      {
        heading: 'Steps',
        note:
          input.kind === 'verify'
            ? `An audit verifies every step at the same time: "from" and "to" are seconds on the audit's own clock, and the steps' times overlap. The audit took ${seconds(input.finishedAt.getTime() - input.startedAt.getTime())} in all.`
            : `"from" and "to" are seconds on the run's clock (wall-clock time since it started, questions included). The run took ${seconds(input.finishedAt.getTime() - input.startedAt.getTime())} in all.`,
        table: stepsTable(input),
      },
      {
        heading: 'What changed',
        note:
          input.kind === 'verify'
            ? 'An audit changes nothing (probe pods aside, which are deleted).'
            : changed.length
              ? 'As each step reported it while applying or undoing.'
              : 'Nothing: every step found the cluster as planned.',
        table:
          input.kind === 'verify' || !changed.length
            ? undefined
            : { head: ['step', 'change'], rows: changed.map((r) => [r.id, r.changes!.join('\n')]), widths: [18, 82] },
      },
      {
        heading: 'Reachability after',
        note: `Now: each cell is what the last probe of that path showed and when. A cell marked "changed" differs from before. ${
          differences.length
            ? `${differences.length} path(s) differ from before.`
            : lastSeen
              ? `No path differs from before (last observed ${clock(lastSeen, day)}).`
              : 'Nothing was observed before.'
        }`,
        grid: after,
      },
      ...(differences.length
        ? [
            {
              heading: 'Differences',
              table: {
                head: ['from', 'to', 'path', 'before', 'after'],
                rows: differences.map((d) => [
                  d.source,
                  d.target,
                  d.after.path,
                  `${verdictText(d.before)}${d.before.seen.at ? ` (${clock(d.before.seen.at, day)})` : ''}`,
                  `${verdictText(d.after)}${d.after.seen.at ? ` (${clock(d.after.seen.at, day)})` : ''}`,
                ]),
                widths: [18, 12, 14, 28, 28],
              },
            },
          ]
        : []),
      {
        heading: 'Reachability before',
        note: lastSeen
          ? `The record's last observation of each path before this ${input.kind === 'verify' ? 'audit' : input.kind}, with its time; a path whose deciding step changed afterwards is unknown.`
          : 'The record holds no earlier observation.',
        grid: before,
      },
      { heading: 'What stays open', note: LEDGER_NOTE, table: ledgerTable(config, inEffect) },
      ...(input.audit ? auditBlocks(input.audit) : []),
      ...results.map((r) => ({ heading: `Checks of ${r.id}`, table: checkTable(r.checks) })),
    ],
  }
}

/** A fleet audit: one summary table, then one section per context. */
export function buildFleetReport(inputs: ReportInput[]): ReportModel {
  const startedAt = inputs[0]?.startedAt ?? new Date()
  const title = `Fleet audit (--verify) — ${inputs.length} contexts`
  return {
    kind: 'verify',
    day: startedAt.toISOString().slice(0, 10),
    title,
    intro: `${title} by the Gthulhu hardening runbook ${inputs[0]?.version ?? ''}.`,
    sections: [
      { context: 'every context', blocks: [{ heading: 'Fleet', table: fleetSummary(inputs) }] },
      ...inputs.map(contextSection),
    ],
  }
}

function fleetSummary(inputs: ReportInput[]): Table {
  return {
    head: ['context', 'steps holding', 'drifts', 'paths open', 'verdict'],
    rows: inputs.map(({ context, audit }) => [
      context,
      audit ? `${audit.holding}/${audit.audited.length}` : '—',
      audit ? (audit.error ? 'failed' : String(audit.drifts.length)) : '—',
      audit?.paths.length ? String(audit.pathsOpen) : '—',
      !audit ? '—' : audit.error ? `not finished: ${audit.error}` : audit.drifts.length ? 'drifted' : 'holds',
    ]),
  }
}

/** An audit's drifts (with what differs) and the attack paths as the audit leaves them. */
function auditBlocks(audit: AuditOutcome): Block[] {
  return [
    {
      heading: 'Drifts',
      note: audit.drifts.length
        ? undefined
        : `None: every object the runbook owns is as planned and no foreign object widens access${audit.probed ? '' : ' (reachability was not tried: --no-probes)'}.`,
      table: audit.drifts.length
        ? {
            head: ['step', 'check', 'expected', 'observed', 'diff (- the cluster, + the plan)'],
            rows: audit.drifts.map((d) => [d.step, d.check, d.expected, d.observed, (d.diff ?? []).join('\n')]),
            widths: [12, 22, 20, 20, 26],
          }
        : undefined,
    },
    {
      heading: 'Attack paths',
      note: `${audit.pathsOpen} of ${audit.paths.length} open.${audit.probed ? '' : ' Reachability was not tried (--no-probes): the statuses follow from the objects checked, no probe confirmed them.'}`,
      table: {
        head: ['path', 'from → to', 'status', 'refused by', 'out of force', 'why'],
        rows: audit.paths.map((row) => [
          row.path.id,
          `${row.path.from} → ${row.path.target} via ${row.path.via}`,
          row.status,
          row.holding.map((c) => c.layer).join(', '),
          row.voided.map((c) => c.layer).join(', '),
          row.why ?? '',
        ]),
        widths: [16, 24, 10, 16, 14, 20],
      },
    },
  ]
}

const LEDGER_NOTE =
  'Every attack path of the threat model (docs/threat-model.md) for the steps done in this context: closed (by which layer, after which step), partly open, or open, with why and what would close it.'

function runTable(input: ReportInput): Table {
  return {
    head: ['what', 'value'],
    rows: [
      ['kind', input.kind],
      ['kube context', input.context],
      ['namespace', String(input.state.config.namespace ?? input.config.namespace)],
      ['started', input.startedAt.toISOString()],
      ['finished', input.finishedAt.toISOString()],
      ['took (wall clock)', seconds(input.finishedAt.getTime() - input.startedAt.getTime())],
      ['outcome', outcomeOf(input.results)],
      ['flags', input.argv.join(' ')],
    ],
    widths: [22, 78],
  }
}

function versionsTable(input: ReportInput): Table {
  const { facts } = input.state
  const { config } = input
  const workloads = facts.workloads
  const images = workloads
    ? (['manager', 'scheduler', 'mongodb'] as const).flatMap((role) =>
        Object.entries(workloads[role].images ?? (workloads[role].image ? { [role]: workloads[role].image } : {})).map(
          ([container, image]) => [`Gthulhu ${role} (${workloads[role].name}), container ${container}`, image],
        ),
      )
    : [['Gthulhu images', 'not observed (preflight has not run in this context)']]
  return {
    head: ['component', 'version'],
    rows: [
      ['gthulhu-runbook', input.version],
      ['Kubernetes (API server)', facts.serverVersion ?? 'not observed'],
      ['kubectl', facts.kubectlVersion ?? 'not observed'],
      [
        'Istio',
        facts.istio?.version
          ? `${facts.istio.version} (istiod, as verified)${facts.istio.version === config.istioVersion ? '' : `; configured ${config.istioVersion}`}`
          : `${config.istioVersion} (configured; not verified in this context)`,
      ],
      [
        'Gateway API',
        facts.gatewayApi && typeof facts.gatewayApi === 'object'
          ? `${(facts.gatewayApi as { version?: string }).version} ${(facts.gatewayApi as { channel?: string }).channel} (installed by the runbook)`
          : `${config.gatewayApiVersion} ${config.gatewayApiChannel} (configured)`,
      ],
      ...images,
    ],
    widths: [40, 60],
  }
}

function stepsTable(input: ReportInput): Table {
  const start = input.startedAt.getTime()
  return {
    head: ['step', 'status', 'from', 'to', 'took', 'checks passed', 'note'],
    rows: input.results.map((r) => [
      r.id,
      r.status,
      `+${seconds(r.finishedAt - r.durationMs - start)}`,
      `+${seconds(r.finishedAt - start)}`,
      seconds(r.durationMs),
      `${r.checks.filter((c) => c.ok).length}/${r.checks.length}${r.checks.some((c) => c.skipped) ? ` (${r.checks.filter((c) => c.skipped).length} skipped)` : ''}`,
      r.note ?? '',
    ]),
    widths: [17, 10, 10, 10, 9, 11, 33],
  }
}

function ledgerTable(config: Config, inEffect: (step: StepId) => boolean): Table {
  return {
    head: ['path', 'from → to', 'status', 'why', 'would close it', 'how it is known'],
    rows: ledger(config, inEffect).map((row) => [
      row.path.id,
      `${row.path.from} → ${TARGET_TITLES[row.path.target]} (${row.path.via})`,
      row.status === 'closed'
        ? `${row.why ? 'partly open; ' : ''}closed by ${row.closedBy.map((c) => `${c.layer} (${c.step})`).join(' and ')}`
        : 'open',
      row.why ?? '',
      row.wouldClose ?? '',
      row.tried,
    ]),
    widths: [14, 20, 16, 20, 18, 12],
  }
}

function checkTable(checks: Check[]): Table {
  return {
    head: ['check', 'expected', 'observed', 'result'],
    rows: checks.map((c) => [
      c.name,
      c.expected,
      c.observed + (c.diff?.length && !c.ok ? `\n${c.diff.join('\n')}` : ''),
      c.ok ? 'pass' : c.skipped ? 'skipped' : c.advisory ? 'warning' : 'FAIL',
    ]),
    widths: [32, 26, 32, 10],
  }
}
