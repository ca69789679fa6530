// The report's reachability grid, from observations alone: what this run saw, what an earlier run saw (with its
// time), unknown when a step that decides the path changed the cluster since, a refusal that survives a closing
// layer being added, what stays open by design, and the differences between "before" and "after".
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../lib/config/options.ts'
import { buildGrid, type GridCell, type GridInput, markDifferences } from '../lib/report/grid.ts'
import { renderMarkdown } from '../lib/report/markdown.ts'
import type { Edge } from '../lib/verify/reachability.ts'
import { pathById, TARGET_TITLES, THREAT_MODEL } from '../lib/verify/threat-model.ts'

const config = loadConfig([], {})
const EARLIER = '2026-01-01T10:00:00.000Z'
const NOW = '2026-01-01T11:00:00.000Z'

function edge(path: string, verdict: Edge['verdict'], at: string, layer: Edge['layer'] = 'CNI NetworkPolicy'): Edge {
  const p = pathById(path)!
  return {
    path,
    from: p.from,
    to: TARGET_TITLES[p.target],
    port: '27017',
    verdict,
    layer,
    expected: verdict,
    observed: verdict,
    ok: true,
    step: p.triedAt[0] ?? 'l4-policies',
    at,
  }
}

const input = (over: Partial<GridInput>): GridInput => ({
  config,
  now: [],
  earlier: [],
  changedAt: {},
  inEffect: () => true,
  day: '2026-01-01',
  ...over,
})

const cellOf = (grid: ReturnType<typeof buildGrid>, id: string): GridCell => {
  const path = pathById(id)!
  return grid.cells[path.from][TARGET_TITLES[path.target]].find((c) => c.path === id)!
}

test('every path of the threat model has one cell, under its source and target; no source row twice', () => {
  const grid = buildGrid(input({}))
  assert.equal(grid.sources, [...new Set(THREAT_MODEL.map((p) => p.from))])
  const cells = grid.sources.flatMap((s) => grid.targets.flatMap((t) => grid.cells[s][t]))
  assert.equal(cells.map((c) => c.path).sort(), THREAT_MODEL.map((p) => p.id).sort())
})

test('this run wins over an earlier run; an earlier observation keeps its time', () => {
  const grid = buildGrid(
    input({
      now: [edge('manager-to-mongodb', 'allowed', NOW)],
      earlier: [
        edge('manager-to-mongodb', 'refused', EARLIER),
        edge('copied-labels-to-mongodb', 'refused', EARLIER, 'ztunnel identity policy'),
      ],
    }),
  )
  assert.equal(
    [cellOf(grid, 'manager-to-mongodb').verdict, cellOf(grid, 'manager-to-mongodb').seen],
    ['allowed', { when: 'this run', at: NOW }],
  )
  const copied = cellOf(grid, 'copied-labels-to-mongodb')
  assert.equal(
    [copied.verdict, copied.layer, copied.seen],
    ['refused', 'ztunnel identity policy', { when: 'earlier run', at: EARLIER }],
  )
})

test('an earlier verdict whose deciding step was undone since is unknown, never the old verdict', () => {
  const grid = buildGrid(
    input({
      earlier: [edge('other-pod-to-mongodb', 'refused', EARLIER)],
      changedAt: { 'l4-policies': { at: NOW, status: 'undone' } },
      inEffect: (step) => step !== 'l4-policies',
    }),
  )
  const cell = cellOf(grid, 'other-pod-to-mongodb')
  assert.is(cell.verdict, 'unknown')
  assert.match(cell.layer, /^l4-policies undone at 11:00:00 UTC, after it was last seen; not re-observed$/)
  assert.not.match(
    renderMarkdown({
      kind: 'rollback',
      day: '2026-01-01',
      title: 't',
      intro: 'i',
      sections: [{ context: 'c', blocks: [{ heading: 'Reachability after', grid }] }],
    }),
    /✖ refused — CNI NetworkPolicy; :27017; via MongoDB/,
  )
})

test('a refusal survives a later step that adds one of the layers that close the path; an allowed control does not', () => {
  const grid = buildGrid(
    input({
      earlier: [edge('other-pod-to-mongodb', 'refused', EARLIER), edge('manager-to-mongodb', 'allowed', EARLIER)],
      changedAt: { 'identity-policies': { at: NOW, status: 'done' } },
    }),
  )
  assert.is(cellOf(grid, 'other-pod-to-mongodb').verdict, 'refused', 'identity-policies only adds a refusal')
  assert.is(cellOf(grid, 'manager-to-mongodb').verdict, 'unknown', 'the control is tried again at identity-policies')
})

test('an attack that got through reads open, with what would close it; a path no layer closes stays open', () => {
  const grid = buildGrid(
    input({
      now: [edge('copied-labels-to-mongodb', 'allowed', NOW)],
      inEffect: (step) => step !== 'identity-policies',
    }),
  )
  const copied = cellOf(grid, 'copied-labels-to-mongodb')
  assert.equal([copied.verdict, copied.layer], ['open', 'open until identity-policies (ztunnel identity policy)'])
  const borrowed = cellOf(grid, 'borrowed-identity-to-mongodb')
  assert.equal([borrowed.verdict, borrowed.seen.when], ['stays open', 'never'])
  assert.is(cellOf(grid, 'pod-ip-to-manager').verdict, 'not observed')
})

test('differences between before and after are marked on the after cell and listed once', () => {
  const before = buildGrid(
    input({
      earlier: [
        edge('copied-labels-to-mongodb', 'refused', EARLIER, 'ztunnel identity policy'),
        edge('other-pod-to-mongodb', 'refused', EARLIER),
      ],
    }),
  )
  const after = buildGrid(
    input({
      now: [edge('copied-labels-to-mongodb', 'allowed', NOW), edge('other-pod-to-mongodb', 'refused', NOW)],
      earlier: [edge('copied-labels-to-mongodb', 'refused', EARLIER, 'ztunnel identity policy')],
    }),
  )
  const differences = markDifferences(before, after)
  assert.equal(
    differences.map((d) => d.after.path),
    ['copied-labels-to-mongodb'],
  )
  assert.is(cellOf(after, 'copied-labels-to-mongodb').was, 'refused — ztunnel identity policy')
  assert.is(cellOf(after, 'other-pod-to-mongodb').was, undefined, 'the same verdict seen again is no difference')
})

test.run()
