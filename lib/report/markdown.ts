// report.md: the report model as GitHub-flavoured Markdown, for a change ticket or a pull request.
import { clock, type Grid, type GridCell } from './grid.ts'
import type { Block, ReportModel, Table } from './model.ts'

/** Cluster strings (names, principals, what a probe printed) are data, never markup: HTML in them is shown, not rendered. */
const mdText = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const mdCell = (text: string) =>
  mdText(text).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>') || ' '

export function markdownTable(table: Pick<Table, 'head' | 'rows'>): string {
  const line = (cells: string[]) => `| ${cells.map(mdCell).join(' | ')} |`
  return [line(table.head), `|${table.head.map(() => ' --- ').join('|')}|`, ...table.rows.map(line)].join('\n')
}

/** The mark of each verdict: the grid reads the same in grayscale, on paper and in plain text. */
export const VERDICT_MARK: Record<GridCell['verdict'], string> = {
  allowed: '✔',
  refused: '✖',
  open: '○',
  'stays open': '◌',
  unknown: '?',
  'not observed': '–',
}

export const seenText = (cell: GridCell, day?: string) =>
  cell.seen.when === 'never'
    ? 'never observed'
    : `${cell.seen.when === 'this run' ? 'this run' : 'earlier run'}, ${clock(cell.seen.at!, day)}`

/** One path of a grid cell as one line: mark, verdict, the layer that decides, port, when it was seen, what changed. */
export function cellLine(cell: GridCell, day?: string): string {
  return [
    `${VERDICT_MARK[cell.verdict]} ${cell.verdict} — ${cell.layer}`,
    cell.port ? `:${cell.port}` : '',
    `via ${cell.via}`,
    seenText(cell, day),
    cell.was ? `CHANGED, was ${cell.was}` : '',
  ]
    .filter(Boolean)
    .join('; ')
}

export function gridTable(grid: Grid, day?: string): Table {
  return {
    head: ['from', ...grid.targets],
    rows: grid.sources.map((source) => [
      source,
      ...grid.targets.map((target) => grid.cells[source][target].map((c) => cellLine(c, day)).join('\n') || '—'),
    ]),
  }
}

export const LEGEND =
  '✔ allowed (a caller that must get through did) · ✖ refused, by the layer named · ○ open: an attack got through · ◌ stays open: no layer of this runbook closes it · ? unknown: changed since last seen · – not observed · — no such path'

/** A block under the report's title (`##`), or under a context's heading in a fleet report (`###`). */
function block(b: Block, day: string, level = 2): string[] {
  const parts = [`${'#'.repeat(level)} ${mdText(b.heading)}`]
  if (b.note) parts.push(mdText(b.note))
  if (b.grid) parts.push(markdownTable(gridTable(b.grid, day)), mdText(LEGEND))
  if (b.table?.rows.length) parts.push(markdownTable(b.table))
  return parts
}

export function renderMarkdown(model: ReportModel): string {
  const { day } = model
  const several = model.sections.length > 1
  const parts = [`# ${mdText(model.title)}`, mdText(model.intro)]
  for (const section of model.sections) {
    // One title for the document; each context is a part of it, and its blocks parts of that.
    if (several) parts.push(`## Context ${mdText(section.context)}`)
    for (const b of section.blocks)
      parts.push(...(several ? block({ ...b, heading: `${section.context}: ${b.heading}` }, day, 3) : block(b, day)))
  }
  parts.push(
    'Layers: CNI NetworkPolicy (Kubernetes L4), ztunnel identity policy (Istio L4 by workload identity), waypoint L7 (Istio HTTP policy on the Service), gateway L7 (Istio HTTP policy on the ingress gateway).',
  )
  return parts.join('\n\n') + '\n'
}
