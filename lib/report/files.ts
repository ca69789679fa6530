// --report <dir>: report.md for a change ticket or pull request, and report.html, the same content in one
// self-contained file (no scripts, no network: a Content-Security-Policy forbids every fetch) with the
// reachability picture drawn as an inline SVG graph.
import { accessSync, constants, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { UsageError } from '../config/errors.ts'
import { redactCredentials, writeFileSafely } from '../config/safe-output.ts'
import type { AuditOutcome } from '../run/audit.ts'
import type { StepResult } from '../run/engine.ts'
import { seconds, type Reporter } from '../run/reporter.ts'
import type { Edge, ReachabilityCollector } from '../verify/reachability.ts'
import type { RunbookState } from '../run/state.ts'
import type { Check } from '../types.ts'

export interface ReportInput {
  kind: 'run' | 'verify' | 'uninstall' | 'rollback'
  context: string
  startedAt: Date
  finishedAt: Date
  results: StepResult[]
  state: RunbookState
  reachability: ReachabilityCollector
  argv: string[]
  /** An audit's findings: the drifts with their diffs and the attack paths they weaken. */
  audit?: AuditOutcome
}

interface Table {
  head: string[]
  rows: string[][]
}

const KIND_TITLE = { run: 'Hardening run', verify: 'Audit (--verify)', uninstall: 'Uninstall', rollback: 'Rollback' }

/** The report as tables and paragraphs, rendered twice: Markdown and HTML. */
function sections(input: ReportInput): {
  title: string
  intro: string
  tables: { heading: string; table: Table; note?: string }[]
  before: Edge[]
  after: Edge[]
} {
  const { results, reachability } = input
  const failed = results.filter((r) => r.status !== 'done' && r.status !== 'undone' && r.status !== 'accepted')
  const outcome = failed.length ? `not complete: ${failed.map((r) => `${r.id} ${r.status}`).join(', ')}` : 'complete'
  const before = reachability.before
  const after = reachability.after(input.kind === 'uninstall')
  const edgeTable = (edges: Edge[]): Table => ({
    head: ['from', 'to', 'port', 'verdict', 'enforced by', 'expected', 'observed', 'as expected'],
    rows: edges.map((e) => [
      e.from,
      e.to,
      e.port || '—',
      e.verdict,
      e.layer,
      e.expected,
      e.observed,
      e.ok ? 'yes' : 'NO',
    ]),
  })
  const changed = results.filter((r) => r.changes?.length)
  return {
    title: `${KIND_TITLE[input.kind]} — context ${input.context}`,
    intro: `${KIND_TITLE[input.kind]} of the Gthulhu hardening runbook: ${outcome}.`,
    tables: [
      {
        heading: 'Run',
        table: {
          head: ['what', 'value'],
          rows: [
            ['kind', input.kind],
            ['kube context', input.context],
            ['namespace', String(input.state.config.namespace ?? '')],
            ['started', input.startedAt.toISOString()],
            ['finished', input.finishedAt.toISOString()],
            ['outcome', outcome],
            ['flags', redactCredentials(input.argv.join(' '))],
          ],
        },
      },
      {
        heading: 'Steps',
        table: {
          head: ['step', 'status', 'duration', 'checks passed', 'note'],
          rows: results.map((r) => [
            r.id,
            r.status,
            seconds(r.durationMs),
            `${r.checks.filter((c) => c.ok).length}/${r.checks.length}`,
            r.note ?? '',
          ]),
        },
      },
      {
        heading: 'What changed',
        table: {
          head: ['step', 'change'],
          rows: input.kind === 'verify' ? [] : changed.map((r) => [r.id, r.changes!.join('\n')]),
        },
        note:
          input.kind === 'verify'
            ? 'An audit changes nothing (probe pods aside, which are deleted).'
            : changed.length
              ? 'As each step reported it while applying or undoing.'
              : 'Nothing: every step found the cluster as planned.',
      },
      {
        heading: 'Reachability after',
        table: edgeTable(after),
        note: after.length ? undefined : 'No path was probed (--no-probes, or no step with probes ran).',
      },
      {
        heading: 'Reachability before',
        table: edgeTable(before),
        note: before.length
          ? 'As the state file recorded it before this run.'
          : 'No earlier picture in the state file.',
      },
      ...(input.audit ? auditTables(input.audit) : []),
      ...results.map((r) => ({ heading: `Checks of ${r.id}`, table: checkTable(r.checks) })),
    ],
    before,
    after,
  }
}

/** An audit's drifts (with what differs) and the attack paths as the audit leaves them. */
function auditTables(audit: AuditOutcome): { heading: string; table: Table; note?: string }[] {
  return [
    {
      heading: 'Drifts',
      table: {
        head: ['step', 'check', 'expected', 'observed', 'diff (- the cluster, + the plan)'],
        rows: audit.drifts.map((d) => [d.step, d.check, d.expected, d.observed, (d.diff ?? []).join('\n')]),
      },
      note: audit.drifts.length
        ? undefined
        : `None: every object the runbook owns is as planned and no foreign object widens access${audit.probed ? '' : ' (reachability was not tried: --no-probes)'}.`,
    },
    {
      heading: 'Attack paths',
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
      },
      note: `${audit.pathsOpen} of ${audit.paths.length} open.${audit.probed ? '' : ' Reachability was not tried (--no-probes): the statuses follow from the objects checked, no probe confirmed them.'}`,
    },
  ]
}

function checkTable(checks: Check[]): Table {
  return {
    head: ['check', 'expected', 'observed', 'result'],
    rows: checks.map((c) => [
      c.name,
      c.expected,
      c.observed + (c.diff?.length && !c.ok ? `\n${c.diff.join('\n')}` : ''),
      c.ok ? 'pass' : c.advisory ? 'warning' : 'FAIL',
    ]),
  }
}

// ---- Markdown ----

/** Cluster strings (policy principals, names) are data, never markup: HTML in them is shown, not rendered. */
const mdText = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const mdCell = (text: string) =>
  mdText(text).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>') || ' '

export function markdownTable(table: Table): string {
  const line = (cells: string[]) => `| ${cells.map(mdCell).join(' | ')} |`
  return [line(table.head), `|${table.head.map(() => ' --- ').join('|')}|`, ...table.rows.map(line)].join('\n')
}

export function renderMarkdown(input: ReportInput): string {
  const s = sections(input)
  const parts = [`# ${mdText(s.title)}`, mdText(s.intro)]
  for (const { heading, table, note } of s.tables) {
    parts.push(`## ${mdText(heading)}`)
    if (note) parts.push(mdText(note))
    if (table.rows.length) parts.push(markdownTable(table))
  }
  parts.push(
    'Layers: CNI NetworkPolicy (Kubernetes L4), ztunnel identity policy (Istio L4 by workload identity), admission (the API server ValidatingAdmissionPolicy: who may wear an identity), waypoint L7 (Istio HTTP policy on the Service), gateway L7 (Istio HTTP policy on the ingress gateway).',
  )
  return parts.join('\n\n') + '\n'
}

// ---- HTML ----

const esc = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

function htmlTable(table: Table): string {
  const row = (cells: string[], tag: 'th' | 'td') =>
    `<tr>${cells.map((c) => `<${tag}>${esc(c)}</${tag}>`).join('')}</tr>`
  return `<table><thead>${row(table.head, 'th')}</thead><tbody>${table.rows.map((r) => row(r, 'td')).join('')}</tbody></table>`
}

const COLOR: Record<Edge['verdict'], string> = {
  allowed: '#1a7f37',
  refused: '#cf222e',
  'not probed': '#8c959f',
  inconclusive: '#9a6700',
}

/** Sources on the left, destinations on the right; one curve per path, labelled with port, verdict and layer. */
export function reachabilitySvg(edges: Edge[]): string {
  const destinations = [...new Set(edges.map((e) => e.to))]
  const sources = [...new Set(edges.map((e) => e.from))].filter((n) => !destinations.includes(n))
  const rowHeight = 90
  const width = 980
  const box = { w: 250, h: 44 }
  const height = Math.max(sources.length, destinations.length, 1) * rowHeight + 40
  const place = (names: string[], x: number) =>
    new Map(names.map((n, i) => [n, { x, y: 30 + i * rowHeight + (height - 40 - names.length * rowHeight) / 2 }]))
  const left = place(sources, 10)
  const right = place(destinations, width - box.w - 10)
  const at = (name: string) => left.get(name) ?? right.get(name)!
  const node = (name: string) => {
    const p = at(name)
    return `<g class="node" data-node="${esc(name)}"><rect x="${p.x}" y="${p.y}" width="${box.w}" height="${box.h}" rx="8" fill="#f6f8fa" stroke="#57606a"/><text x="${p.x + box.w / 2}" y="${p.y + box.h / 2 + 5}" text-anchor="middle">${esc(name)}</text></g>`
  }
  const pairCount = new Map<string, number>()
  const intoCount = new Map<string, number>()
  const into = (name: string) => edges.filter((e) => e.to === name).length
  const lines = edges.map((e) => {
    const pair = `${e.from}→${e.to}`
    const index = pairCount.get(pair) ?? 0
    pairCount.set(pair, index + 1)
    const arriving = intoCount.get(e.to) ?? 0
    intoCount.set(e.to, arriving + 1)
    const a = at(e.from)
    const b = at(e.to)
    const x1 = a.x + box.w
    const y1 = a.y + box.h / 2
    const x2 = b.x === a.x ? b.x + box.w : b.x
    const y2 = b.y + box.h / 2
    const cx = (x1 + x2) / 2
    const cy = (y1 + y2) / 2 + (index - 0.5) * 26
    // Labels of paths into one node sit at different points along their curves, so they do not overprint.
    const t = into(e.to) > 1 ? 0.3 + (0.45 * arriving) / (into(e.to) - 1) : 0.5
    const lx = (1 - t) ** 2 * x1 + 2 * (1 - t) * t * cx + t ** 2 * x2
    const ly = (1 - t) ** 2 * y1 + 2 * (1 - t) * t * cy + t ** 2 * y2
    const label = `:${e.port || '?'} ${e.verdict} — ${e.layer}`
    return (
      `<g class="edge" data-from="${esc(e.from)}" data-to="${esc(e.to)}" data-port="${esc(e.port)}" data-verdict="${e.verdict}" data-layer="${esc(e.layer)}">` +
      `<path d="M${x1},${y1} Q${cx},${cy} ${x2},${y2}" fill="none" stroke="${COLOR[e.verdict]}" stroke-width="2"${e.verdict === 'refused' ? ' stroke-dasharray="6 4"' : ''} marker-end="url(#arrow-${e.verdict.replace(' ', '-')})"/>` +
      `<text x="${lx.toFixed(1)}" y="${(ly - 5).toFixed(1)}" text-anchor="middle" fill="${COLOR[e.verdict]}" font-size="12" stroke="#fff" stroke-width="4" paint-order="stroke">${esc(label)}</text></g>`
    )
  })
  const markers = Object.entries(COLOR)
    .map(
      ([verdict, color]) =>
        `<marker id="arrow-${verdict.replace(' ', '-')}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${color}"/></marker>`,
    )
    .join('')
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" id="reachability" role="img" aria-label="reachability graph" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="sans-serif" font-size="14">` +
    `<defs>${markers}</defs>${lines.join('')}${[...sources, ...destinations].map(node).join('')}</svg>`
  )
}

/** One self-contained page: no scripts, and a Content-Security-Policy that forbids every fetch. */
function htmlPage(title: string, inner: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top;font-size:13px;white-space:pre-line}th{background:#f6f8fa}figure{margin:0 0 1em}</style>
</head><body>
<h1>${esc(title)}</h1>${inner}
</body></html>
`
}

export function renderHtml(input: ReportInput): string {
  const s = sections(input)
  const body = s.tables
    .map(({ heading, table, note }) => {
      const graph =
        heading === 'Reachability after' && s.after.length
          ? `<figure>${reachabilitySvg(s.after)}<figcaption>Green: allowed; red, dashed: refused; each path is labelled with its port and the layer that decides it.</figcaption></figure>`
          : ''
      return `<section><h2>${esc(heading)}</h2>${note ? `<p>${esc(note)}</p>` : ''}${graph}${table.rows.length ? htmlTable(table) : ''}</section>`
    })
    .join('\n')
  return htmlPage(s.title, `<p>${esc(s.intro)}</p>\n${body}`)
}

/** Checked before anything runs, so an unwritable --report directory is a usage error, not a lost report. */
export function ensureReportDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true })
    accessSync(dir, constants.W_OK)
  } catch (error) {
    throw new UsageError(
      `--report ${dir}: cannot write there (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); name a writable directory`,
    )
  }
}

/**
 * Writes report.md and report.html into `dir` (one section per context for a fleet audit) and says where they are:
 * each through a new file renamed into place (a link planted at either name is replaced, its target never written),
 * with URL credentials removed.
 */
export function writeReportFiles(dir: string, input: ReportInput | ReportInput[], reporter: Reporter): void {
  const markdown = Array.isArray(input) ? renderFleetMarkdown(input) : renderMarkdown(input)
  const html = Array.isArray(input) ? renderFleetHtml(input) : renderHtml(input)
  writeFileSafely(join(dir, 'report.md'), redactCredentials(markdown), 0o644)
  writeFileSafely(join(dir, 'report.html'), redactCredentials(html), 0o644)
  reporter.say(`Report: ${join(dir, 'report.md')} and ${join(dir, 'report.html')}`)
}

// ---- a fleet audit: one table, then each context's sections ----

function fleetSummary(inputs: ReportInput[]): Table {
  return {
    head: ['context', 'steps holding', 'drifts', 'paths open', 'verdict'],
    rows: inputs.map(({ context, audit }) => [
      context,
      audit ? `${audit.holding}/${audit.audited.length}` : '—',
      audit ? (audit.error ? 'failed' : String(audit.drifts.length)) : '—',
      audit ? String(audit.pathsOpen) : '—',
      !audit ? '—' : audit.error ? `not finished: ${audit.error}` : audit.drifts.length ? 'drifted' : 'holds',
    ]),
  }
}

const fleetTitle = (inputs: ReportInput[]) => `Fleet audit (--verify) — ${inputs.length} contexts`

export function renderFleetMarkdown(inputs: ReportInput[]): string {
  const parts = [`# ${fleetTitle(inputs)}`, markdownTable(fleetSummary(inputs))]
  for (const input of inputs) {
    const s = sections(input)
    parts.push(`## Context ${input.context}`, s.intro)
    for (const { heading, table, note } of s.tables) {
      parts.push(`### ${input.context}: ${heading}`)
      if (note) parts.push(note)
      if (table.rows.length) parts.push(markdownTable(table))
    }
  }
  return parts.join('\n\n') + '\n'
}

export function renderFleetHtml(inputs: ReportInput[]): string {
  const title = fleetTitle(inputs)
  const body = inputs
    .map((input) => {
      const s = sections(input)
      const tables = s.tables
        .map(
          ({ heading, table, note }) =>
            `<section><h3>${esc(`${input.context}: ${heading}`)}</h3>${note ? `<p>${esc(note)}</p>` : ''}${table.rows.length ? htmlTable(table) : ''}</section>`,
        )
        .join('\n')
      return `<section><h2>${esc(`Context ${input.context}`)}</h2><p>${esc(s.intro)}</p>\n${tables}</section>`
    })
    .join('\n')
  return htmlPage(title, `${htmlTable(fleetSummary(inputs))}\n${body}`)
}
