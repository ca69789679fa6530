// What the report tests share: report.md's grid as data, and report.html laid out in headless Chromium at 1,400 px
// on screen and at A4 print width (no two labels overlap, no text leaves its box, no table runs off the page, and
// the page fetches nothing).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as assert from 'uvu/assert'
import { renderInChromiumAt, type Viewport } from './chromium.ts'
import { asRecords, markdownTables, table } from './markdown.ts'
import { TARGET_TITLES, THREAT_MODEL } from '../lib/verify/threat-model.ts'

export const reportDir = (dir: string, name: string) => join(dir, `${name}-report`)
export const markdownOf = (dir: string, name: string) => readFileSync(join(reportDir(dir, name), 'report.md'), 'utf8')

/** The grid of a report as { source: { target: cell text } }. */
export function grid(markdown: string, heading: string): Record<string, Record<string, string>> {
  const rows = asRecords(table(markdownTables(markdown), heading))
  return Object.fromEntries(rows.map(({ from: source, ...cells }) => [source, cells]))
}

export const SOURCES = [...new Set(THREAT_MODEL.map((p) => p.from))]
export const TARGETS = Object.values(TARGET_TITLES)
export const OTHER_POD = 'a pod without the manager labels, outside the mesh'
export const COPIED_LABELS = "a pod wearing the manager's labels with another identity"

const A4: Viewport = { width: 703, media: 'print' } // 210 mm less 2 × 12 mm margins, at 96 dpi
const SCREEN: Viewport = { width: 1400, media: 'screen' }

// Measures the laid-out page: tables inside the page, text inside its box, no two labels on top of each other.
const LAYOUT_PROBE = `(() => {
  const problems = []
  const page = document.documentElement
  if (page.scrollWidth > innerWidth + 1) problems.push('the page is ' + page.scrollWidth + 'px wide in a ' + innerWidth + 'px window')
  const name = (el) => el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') + ' "' + el.textContent.trim().slice(0, 60) + '"'
  for (const t of document.querySelectorAll('table')) {
    const box = t.getBoundingClientRect(), parent = t.parentElement.getBoundingClientRect()
    if (box.right > parent.right + 1 || box.left < parent.left - 1) problems.push('table overflows: ' + name(t.querySelector('th')))
  }
  const labels = [...document.querySelectorAll('h1,h2,p,th,td,.path > div,.none')].filter((el) => !el.querySelector('div,table') && el.textContent.trim())
  const textBoxes = []
  for (const el of labels) {
    if (el.scrollWidth > el.clientWidth + 1) problems.push('text wider than its box: ' + name(el))
    const box = el.getBoundingClientRect()
    const range = document.createRange()
    range.selectNodeContents(el)
    const text = range.getBoundingClientRect()
    if (text.left < box.left - 1 || text.right > box.right + 1 || text.top < box.top - 1 || text.bottom > box.bottom + 1)
      problems.push('text leaves its box: ' + name(el))
    textBoxes.push({ el, r: text })
  }
  textBoxes.sort((a, b) => a.r.top - b.r.top)
  for (let i = 0; i < textBoxes.length; i++)
    for (let j = i + 1; j < textBoxes.length && textBoxes[j].r.top < textBoxes[i].r.bottom; j++) {
      const a = textBoxes[i], b = textBoxes[j]
      if (a.el.contains(b.el) || b.el.contains(a.el)) continue
      const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left)
      const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top)
      if (w > 1 && h > 1) problems.push('labels overlap: ' + name(a.el) + ' and ' + name(b.el))
    }
  return {
    problems,
    labels: labels.length,
    paths: [...document.querySelectorAll('table.grid')].map((g) => [...g.querySelectorAll('.path')].map((p) => [p.dataset.path, p.dataset.verdict])),
    rows: [...document.querySelectorAll('table.grid')].map((g) => g.querySelectorAll('tbody tr').length),
    columns: [...document.querySelectorAll('table.grid')].map((g) => [...g.querySelectorAll('thead th')].slice(1).map((th) => th.textContent)),
    external: document.querySelectorAll('[src],[href],link,script').length,
  }
})()`

export interface Layout {
  problems: string[]
  labels: number
  paths: [string, string][][]
  rows: number[]
  columns: string[][]
  external: number
}

/** Lays report.html out at both widths (one Chromium); fails on any overlap, overflow or request. */
export async function assertLaysOut(dir: string, name: string): Promise<Layout> {
  const viewports = [SCREEN, A4]
  const rendered = await renderInChromiumAt(join(reportDir(dir, name), 'report.html'), LAYOUT_PROBE, viewports)
  rendered.forEach(({ probed, requests }, i) => {
    const layout = probed as Layout
    const where = `${name} report at ${viewports[i].width}px (${viewports[i].media})`
    assert.ok(layout.labels > 100, `${where}: the page has its text (${layout.labels} labels)`)
    assert.equal(layout.problems, [], where)
    assert.is(layout.external, 0, `${where}: no external resource referenced`)
    assert.equal(requests, [], `${where}: the page requested nothing`)
  })
  return rendered[0].probed as Layout
}
