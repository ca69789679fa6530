// --report on the simulated cluster: after a full run and after an audit, report.md's tables parse (same
// number of cells in every row) and carry the steps, the checks and the reachability matrix by layer;
// report.html renders in headless Chromium with one SVG node per workload and one edge per path, and the
// page requests nothing from the network.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { renderInChromium } from './chromium.ts'
import { asRecords, markdownTables, table } from './markdown.ts'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { STEP_IDS } from '../lib/types.ts'

let world: RunbookWorld

test.before(async () => {
  world = await startWorld({ cni: 'calico' })
})
test.after(async () => {
  await world?.stop()
})

const runDir = () => join(world.dir, 'run-report')
const auditDir = () => join(world.dir, 'audit-report')

test('a run with --report writes report.md whose tables parse and hold steps, checks and reachability by layer', async () => {
  const r = await world.run([...world.flags, '--yes', '--report', runDir()], { timeoutMs: 360_000 })
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /Report: .*run-report\/report\.md and .*report\.html/)
  const tables = markdownTables(readFileSync(join(runDir(), 'report.md'), 'utf8'))
  const steps = asRecords(table(tables, 'Steps'))
  assert.equal(
    steps.map((s) => s.step),
    [...STEP_IDS],
  )
  assert.ok(steps.every((s) => s.status === 'done'))
  const changed = asRecords(table(tables, 'What changed'))
  assert.match(
    changed.find((c) => c.step === 'l4-policies')?.change ?? '',
    /applied NetworkPolicy allow-only-manager-to-mongodb, NetworkPolicy allow-only-manager-to-scheduler/,
  )
  assert.match(
    changed.find((c) => c.step === 'waypoint')?.change ?? '',
    /labelled namespace default istio\.io\/dataplane-mode=ambient/,
  )
  const checks = asRecords(table(tables, 'Checks of l4-policies'))
  assert.ok(
    checks.some(
      (c) =>
        c.check === 'other pod (component=probe) → MongoDB :27017: refused' &&
        c.expected === 'refused' &&
        c.result === 'pass',
    ),
  )
  const after = asRecords(table(tables, 'Reachability after'))
  const edge = (from: string, to: string) => after.find((e) => e.from === from && e.to === to)
  assert.equal(pick(edge('other pod (component=probe)', 'MongoDB')), {
    port: '27017',
    verdict: 'refused',
    'enforced by': 'CNI NetworkPolicy',
    'as expected': 'yes',
  })
  assert.equal(pick(edge("manager (gthulhu-manager's labels)", 'scheduler sidecar')), {
    port: '8080',
    verdict: 'allowed',
    'enforced by': 'CNI NetworkPolicy',
    'as expected': 'yes',
  })
  assert.equal(pick(edge('ServiceAccount default', 'manager Service')), {
    port: '8080',
    verdict: 'refused',
    'enforced by': 'waypoint L7',
    'as expected': 'yes',
  })
  // The paths the waypoint never sees are refused by the identity policies, whichever step tried them last.
  for (const [from, to] of [
    ['pod outside the mesh', 'manager Service'],
    ['enrolled pod, ServiceAccount default', 'manager pod IP'],
    ["manager's labels, ServiceAccount default", 'MongoDB'],
  ]) {
    assert.equal(pick(edge(from, to)), {
      port: to === 'MongoDB' ? '27017' : '8080',
      verdict: 'refused',
      'enforced by': 'ztunnel identity policy',
      'as expected': 'yes',
    })
  }
  assert.equal(pick(edge("client with curl's default User-Agent", 'ingress gateway')).verdict, 'refused')
  assert.equal(pick(edge("client with curl's default User-Agent", 'ingress gateway'))['enforced by'], 'gateway L7')
})

const pick = (e: Record<string, string> | undefined) => {
  assert.ok(e, 'edge present')
  return { port: e!.port, verdict: e!.verdict, 'enforced by': e!['enforced by'], 'as expected': e!['as expected'] }
}

// Reads the graph the browser rendered: every node's name and box, every edge's attributes and drawn length.
const GRAPH_PROBE = `(() => {
  const svg = document.querySelector('svg#reachability')
  if (!svg) return null
  return {
    width: svg.getBoundingClientRect().width,
    nodes: [...svg.querySelectorAll('g.node')].map((g) => ({ name: g.dataset.node, width: g.getBBox().width })),
    edges: [...svg.querySelectorAll('g.edge')].map((g) => ({ from: g.dataset.from, to: g.dataset.to, port: g.dataset.port, verdict: g.dataset.verdict, layer: g.dataset.layer, length: g.querySelector('path').getTotalLength(), label: g.querySelector('text').textContent })),
    external: [...document.querySelectorAll('[src],[href],link,script')].length,
  }
})()`

test('report.html renders in headless Chromium: a node per workload, an edge per path, labelled by layer; nothing loaded', async () => {
  const tables = markdownTables(readFileSync(join(runDir(), 'report.md'), 'utf8'))
  const after = asRecords(table(tables, 'Reachability after'))
  const { probed, requests, dom } = await renderInChromium(join(runDir(), 'report.html'), GRAPH_PROBE)
  const graph = probed as { width: number; nodes: { name: string; width: number }[]; edges: any[]; external: number }
  assert.ok(graph, 'the SVG graph is in the page')
  assert.ok(graph.width > 500, `the graph is drawn (${graph.width}px wide)`)
  const names = new Set(after.flatMap((e) => [e.from, e.to]))
  assert.equal(graph.nodes.map((n) => n.name).sort(), [...names].sort(), 'one node per workload')
  assert.ok(
    graph.nodes.every((n) => n.width > 0),
    'every node has a box',
  )
  assert.is(graph.edges.length, after.length, 'one edge per path')
  for (const row of after) {
    const drawn = graph.edges.find(
      (e) => e.from === row.from && e.to === row.to && e.port === (row.port === '—' ? '' : row.port),
    )
    assert.ok(drawn, `edge ${row.from} → ${row.to}:${row.port}`)
    assert.equal([drawn.verdict, drawn.layer], [row.verdict, row['enforced by']])
    assert.ok(
      drawn.length > 50 && drawn.label.includes(row['enforced by']),
      `edge ${row.from} → ${row.to} drawn and labelled`,
    )
  }
  assert.is(graph.external, 0, 'no external resource referenced')
  assert.equal(requests, [], 'the page requested nothing')
  assert.match(dom, /<h2>Reachability after<\/h2>/)
})

test('--verify --report shows the run\'s picture as "before" and the audit\'s as "after", and changes nothing', async () => {
  const r = await world.run([...world.flags, '--verify', '--report', auditDir()], { timeoutMs: 120_000 })
  assert.is(r.code, 0, show(r))
  const markdown = readFileSync(join(auditDir(), 'report.md'), 'utf8')
  assert.match(markdown, /^# Audit \(--verify\) — context gthulhu-sim/)
  const tables = markdownTables(markdown)
  const before = asRecords(table(tables, 'Reachability before'))
  const after = asRecords(table(tables, 'Reachability after'))
  assert.ok(
    before.length >= 6 && after.length === before.length,
    `${before.length} paths before, ${after.length} after`,
  )
  assert.match(markdown, /An audit changes nothing/)
})

test.run()
