// report.html: the report model as one self-contained page (no scripts, nothing fetched: a Content-Security-Policy
// forbids it). Tables are laid out at a fixed width and wrap their text, so nothing runs off the page on a screen
// or on A4 paper; the reachability grid marks each verdict with a symbol, a word and a border pattern, so it reads
// the same in grayscale.
import type { GridCell } from './grid.ts'
import { LEGEND, seenText, VERDICT_MARK } from './markdown.ts'
import type { Block, ReportModel, Table } from './model.ts'

const esc = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

const colgroup = (widths?: number[]) =>
  widths ? `<colgroup>${widths.map((w) => `<col style="width:${w}%">`).join('')}</colgroup>` : ''

function htmlTable(table: Table): string {
  const row = (cells: string[], tag: 'th' | 'td') =>
    `<tr>${cells.map((c) => `<${tag}>${esc(c)}</${tag}>`).join('')}</tr>`
  return `<table>${colgroup(table.widths)}<thead>${row(table.head, 'th')}</thead><tbody>${table.rows.map((r) => row(r, 'td')).join('')}</tbody></table>`
}

const verdictClass = (cell: GridCell) => `v-${cell.verdict.replace(/ /g, '-')}`

function pathBox(cell: GridCell, day: string): string {
  const lines = [
    `<div class="verdict"><span class="mark" aria-hidden="true">${VERDICT_MARK[cell.verdict]}</span> ${esc(cell.verdict)}${cell.ok === false ? ' (not as expected)' : ''}</div>`,
    `<div class="layer">${esc(cell.layer)}</div>`,
    `<div class="meta">${esc([cell.port ? `:${cell.port}` : '', `via ${cell.via}`].filter(Boolean).join(' · '))}</div>`,
    `<div class="seen">${esc(seenText(cell, day))}</div>`,
    cell.was ? `<div class="was">changed — was ${esc(cell.was)}</div>` : '',
  ]
  return `<div class="path ${verdictClass(cell)}" data-path="${esc(cell.path)}" data-verdict="${esc(cell.verdict)}">${lines.join('')}</div>`
}

function gridHtml(block: Block, day: string): string {
  const grid = block.grid!
  const targetWidth = (100 - 19) / grid.targets.length
  const head = `<tr><th scope="col">from</th>${grid.targets.map((t) => `<th scope="col">${esc(t)}</th>`).join('')}</tr>`
  const rows = grid.sources.map(
    (source) =>
      `<tr><th scope="row">${esc(source)}</th>${grid.targets
        .map((target) => {
          const cells = grid.cells[source][target]
          return `<td class="grid-cell">${cells.length ? cells.map((c) => pathBox(c, day)).join('') : '<div class="none">—</div>'}</td>`
        })
        .join('')}</tr>`,
  )
  return `<table class="grid">${colgroup([19, ...grid.targets.map(() => targetWidth)])}<thead>${head}</thead><tbody>${rows.join('')}</tbody></table><p class="legend">${esc(LEGEND)}</p>`
}

const STYLE = `
:root{color-scheme:light}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;margin:24px auto;max-width:1320px;padding:0 16px;line-height:1.35}
h1{font-size:22px;margin:0 0 .4em}
h2{font-size:17px;margin:1.6em 0 .4em;border-bottom:1px solid #999;padding-bottom:2px}
h3{font-size:15px;margin:1.4em 0 .4em}
p{margin:.3em 0 .6em;font-size:13px;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;table-layout:fixed;margin:.4em 0 1.2em}
th,td{border:1px solid #888;padding:4px 6px;text-align:left;vertical-align:top;font-size:12.5px;white-space:pre-line;overflow-wrap:anywhere}
th{background:#eee}
.grid th[scope=row]{font-weight:600}
.grid td{padding:3px}
.path{border:1px solid #555;border-radius:3px;padding:3px 5px;margin:0 0 3px;white-space:normal}
.path:last-child{margin-bottom:0}
.path .verdict{font-weight:700}
.path .meta,.path .seen{font-size:11.5px}
.path .was{font-weight:700;font-style:italic}
.v-allowed{background:#fff;border:1px solid #444}
.v-refused{background:#dcdcdc;border:2px solid #000}
.v-open{background:repeating-linear-gradient(135deg,#fff 0 7px,#d6d6d6 7px 9px);border:2px dashed #000}
.v-stays-open{background:repeating-linear-gradient(45deg,#fff 0 7px,#e4e4e4 7px 9px);border:2px dotted #000}
.v-unknown{background:#fff;border:1px dotted #222}
.v-not-observed{background:#fff;border:1px dotted #999;color:#444}
.none{color:#666;text-align:center}
.legend{font-size:12px}
@page{size:A4;margin:12mm}
@media print{
  body{margin:0;max-width:none;padding:0}
  *{print-color-adjust:exact;-webkit-print-color-adjust:exact}
  h2,h3{break-after:avoid}
  tr,.path{break-inside:avoid}
  th,td{font-size:10.5px;padding:3px 4px}
  .path .meta,.path .seen{font-size:10px}
}`

export function renderHtml(model: ReportModel): string {
  const { day } = model
  const several = model.sections.length > 1
  const body = model.sections
    .map((section) => {
      // One title for the document; in a fleet report each context is a part of it (h2), its blocks parts of that (h3).
      const heading = several ? 'h3' : 'h2'
      const blocks = section.blocks.map(
        (b) =>
          `<section><${heading}>${esc(several ? `${section.context}: ${b.heading}` : b.heading)}</${heading}>${b.note ? `<p>${esc(b.note)}</p>` : ''}${b.grid ? gridHtml(b, day) : ''}${b.table?.rows.length ? htmlTable(b.table) : ''}</section>`,
      )
      return several
        ? `<article data-context="${esc(section.context)}"><h2>Context ${esc(section.context)}</h2>${blocks.join('\n')}</article>`
        : blocks.join('\n')
    })
    .join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${esc(model.title)}</title>
<style>${STYLE}</style>
</head><body>
<h1>${esc(model.title)}</h1><p>${esc(model.intro)}</p>
${body}
</body></html>
`
}
