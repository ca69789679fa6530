// --report on the simulated cluster, for a full run, an audit after a drift and a rollback: report.md's tables
// parse (same number of cells in every row) and say what the operator attaches to a change ticket — the steps on
// the wall clock, the versions, the reachability grid (sources × targets, every path of the threat model, each
// with when it was seen), what stays open, and for the audit the differences from the record's last observation.
// report.html is laid out in headless Chromium at 1,400 px on screen and at A4 print width: no two labels overlap,
// no text leaves its box, no table runs off the page, and the page fetches nothing.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { renderInChromiumAt, type Viewport } from './chromium.ts'
import { asRecords, markdownTables, table } from './markdown.ts'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'
import { STEP_IDS } from '../lib/types.ts'
import { TARGET_TITLES, THREAT_MODEL } from '../lib/verify/threat-model.ts'

let world: RunbookWorld

test.before(async () => {
  world = await startWorld({ cni: 'calico' })
})
test.after(async () => {
  await world?.stop()
})

const reportDir = (name: string) => join(world.dir, `${name}-report`)
const markdownOf = (name: string) => readFileSync(join(reportDir(name), 'report.md'), 'utf8')

/** The grid of a report as { source: { target: cell text } }. */
function grid(markdown: string, heading: string): Record<string, Record<string, string>> {
  const rows = asRecords(table(markdownTables(markdown), heading))
  return Object.fromEntries(rows.map(({ from: source, ...cells }) => [source, cells]))
}

const SOURCES = [...new Set(THREAT_MODEL.map((p) => p.from))]
const TARGETS = Object.values(TARGET_TITLES)
const OTHER_POD = 'a pod without the manager labels, outside the mesh'
const COPIED_LABELS = "a pod wearing the manager's labels with another identity"

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

interface Layout {
  problems: string[]
  labels: number
  paths: [string, string][][]
  rows: number[]
  columns: string[][]
  external: number
}

/** Lays report.html out at both widths (one Chromium); fails on any overlap, overflow or request. */
async function assertLaysOut(name: string): Promise<Layout> {
  const viewports = [SCREEN, A4]
  const rendered = await renderInChromiumAt(join(reportDir(name), 'report.html'), LAYOUT_PROBE, viewports)
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

test('a run with --report: steps on the wall clock, versions, a grid of every path of the threat model, what stays open', async () => {
  const r = await world.run([...world.flags, '--yes', '--report', reportDir('run')], { timeoutMs: 600_000 })
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /Report: .*run-report\/report\.md and .*report\.html/)
  const markdown = markdownOf('run')
  const tables = markdownTables(markdown)
  const steps = asRecords(table(tables, 'Steps'))
  assert.equal(
    steps.map((s) => s.step),
    [...STEP_IDS],
  )
  assert.ok(steps.every((s) => s.status === 'done'))
  // Wall clock: each step starts where the one before it ended, and none ends after the run.
  const took = Number(/The run took ([\d.]+)s in all/.exec(markdown)?.[1])
  for (let i = 1; i < steps.length; i++)
    assert.ok(Number(steps[i].from.slice(1, -1)) >= Number(steps[i - 1].to.slice(1, -1)) - 0.1, steps[i].step)
  assert.ok(Number(steps.at(-1)!.to.slice(1, -1)) <= took, `the steps end within the run's ${took}s`)

  const versions = Object.fromEntries(asRecords(table(tables, 'Versions')).map((v) => [v.component, v.version]))
  assert.is(versions['gthulhu-runbook'], '0.1.0')
  assert.is(versions['Kubernetes (API server)'], 'v1.33.1')
  assert.is(versions.Istio, '1.29.1 (istiod, as verified)')
  assert.is(versions['Gateway API'], 'v1.4.0 experimental (installed by the runbook)')
  assert.match(versions['Gthulhu manager (gthulhu-manager), container manager'] ?? '', /^ghcr\.io\/gthulhu\/api:/)
  assert.match(versions['Gthulhu mongodb (gthulhu-mongodb), container mongodb'] ?? '', /mongo/)

  const changed = asRecords(table(tables, 'What changed'))
  assert.match(
    changed.find((c) => c.step === 'l4-policies')?.change ?? '',
    /applied NetworkPolicy allow-only-manager-to-mongodb, NetworkPolicy allow-only-manager-to-scheduler/,
  )

  const after = grid(markdown, 'Reachability after')
  assert.equal(Object.keys(after), SOURCES, 'one row per source of the threat model, no row twice')
  assert.equal(Object.keys(after[SOURCES[0]]), TARGETS, 'one column per target')
  assert.match(
    after[OTHER_POD].MongoDB,
    /^✖ refused — CNI NetworkPolicy; :27017; via MongoDB's pod DNS name; this run, /,
  )
  assert.match(after['the manager'].MongoDB, /^✔ allowed — answered through every layer; :27017; .*this run, /)
  assert.match(after[COPIED_LABELS].MongoDB, /^✖ refused — ztunnel identity policy; :27017/)
  assert.match(after['a pod outside the mesh'].manager, /^✖ refused — ztunnel identity policy; :8080/)
  assert.match(after['an enrolled pod with another identity, through the waypoint'].manager, /^✖ refused — waypoint L7/)
  assert.match(after["client with curl's default User-Agent"]['ingress gateway'], /^✖ refused — gateway L7/)
  assert.match(
    after["a pod that names the manager's ServiceAccount"].MongoDB,
    /^◌ stays open — no layer of this runbook closes it/,
  )
  assert.is(after['the manager'].manager, '—', 'no such path')

  const ledger = asRecords(table(tables, 'What stays open'))
  assert.equal(
    ledger.map((row) => row.path),
    THREAT_MODEL.filter((p) => p.kind === 'attack').map((p) => p.id),
  )
  assert.match(
    ledger.find((row) => row.path === 'other-pod-to-mongodb')!.status,
    /^closed by CNI NetworkPolicy \(l4-policies\)/,
  )
  assert.is(ledger.find((row) => row.path === 'host-network-same-node')!.status, 'open')

  const checks = asRecords(table(tables, 'Checks of l4-policies'))
  assert.ok(checks.length >= 8 && checks.every((c) => c.result === 'pass'), JSON.stringify(checks))

  const layout = await assertLaysOut('run')
  assert.equal(layout.rows, [SOURCES.length, SOURCES.length], 'two grids (after, before), a row per source')
  assert.equal(layout.columns[0], TARGETS)
  assert.equal(
    layout.paths[0].map(([path]) => path).sort(),
    THREAT_MODEL.map((p) => p.id).sort(),
    'every path of the threat model in its cell, once',
  )
  assert.ok(layout.paths[0].some(([path, verdict]) => path === 'other-pod-to-mongodb' && verdict === 'refused'))
})

test('--verify --report after a drift: "before" is the run\'s observation, "after" is now, and the difference is marked', async () => {
  const deleted = await kubectl(world.sim.env, [
    'delete',
    'authorizationpolicies.security.istio.io',
    'gthulhu-mongodb-allow-manager',
    '-n',
    'default',
  ])
  assert.is(deleted.code, 0, deleted.stderr)
  const r = await world.run([...world.flags, '--verify', '--report', reportDir('audit')], { timeoutMs: 240_000 })
  assert.is(r.code, 1, show(r))
  // The terminal shows the summary and the drifts, not every check.
  assert.match(
    r.stdout,
    /Summary:[\s\S]*drift\(s\):\n\s+identity-policies: AuthorizationPolicy default\/gthulhu-mongodb-allow-manager applied as planned/,
  )
  assert.not.match(r.stdout, /expected: /)
  const markdown = markdownOf('audit')
  assert.match(markdown, /^# Audit \(--verify\) — context gthulhu-sim/)
  assert.match(markdown, /An audit verifies every step at the same time/)
  const before = grid(markdown, 'Reachability before')
  const after = grid(markdown, 'Reachability after')
  assert.match(before[COPIED_LABELS].MongoDB, /^✖ refused — ztunnel identity policy; .*earlier run, /)
  assert.match(after[COPIED_LABELS].MongoDB, /^○ open — .*this run, .*; CHANGED, was refused — ztunnel identity policy/)
  assert.match(after[OTHER_POD].MongoDB, /this run/)
  assert.not.match(after[OTHER_POD].MongoDB, /CHANGED/, 'what still holds is not marked')
  const differences = asRecords(table(markdownTables(markdown), 'Differences'))
  assert.equal(
    differences.map((d) => d.path),
    ['copied-labels-to-mongodb'],
  )
  await assertLaysOut('audit')
})

test('--rollback l4-policies --report: no CNI verdict survives for the policies it removed; those paths read unknown', async () => {
  const r = await world.run([...world.flags, '--yes', '--rollback', 'l4-policies', '--report', reportDir('rollback')], {
    timeoutMs: 240_000,
  })
  assert.is(r.code, 0, show(r))
  const markdown = markdownOf('rollback')
  const after = grid(markdown, 'Reachability after')
  // What a cell says now comes before "CHANGED, was …" (the earlier verdict, marked as such).
  for (const [source, cells] of Object.entries(after))
    for (const [target, cell] of Object.entries(cells))
      assert.not.match(
        cell.split('; CHANGED, was ')[0],
        /CNI NetworkPolicy/,
        `${source} → ${target} claims a NetworkPolicy that was deleted`,
      )
  for (const target of ['MongoDB', 'decision maker'])
    assert.match(
      after[OTHER_POD][target],
      /^\? unknown — l4-policies undone at \d\d:\d\d:\d\d UTC, after it was last seen; not re-observed; .*; CHANGED, was refused — CNI NetworkPolicy$/,
    )
  const before = grid(markdown, 'Reachability before')
  assert.match(before[OTHER_POD].MongoDB, /^✖ refused — CNI NetworkPolicy; .*earlier run/)
  await assertLaysOut('rollback')
})

test.run()
