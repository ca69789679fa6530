// The report's reachability grid, from observations alone: what this run saw, what an earlier run saw (with its
// time), unknown when a step that decides the path changed the cluster since, a refusal that survives a closing
// layer being added, what stays open by design, and the differences between "before" and "after".
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../lib/config/options.ts'
import { buildGrid, type GridCell, type GridInput, markDifferences } from '../lib/report/grid.ts'
import { renderMarkdown } from '../lib/report/markdown.ts'
import { type Edge, edgesFromChecks } from '../lib/verify/reachability.ts'
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
  const path = pathById(id)
  assert.ok(path, `the threat model has no path ${id}`)
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
  // What no layer of this runbook closes stays open by design, said so before any probe has tried it.
  const unclosable = THREAT_MODEL.filter((p) => p.kind === 'attack' && !p.closedBy.length)
  assert.ok(unclosable.length > 0, 'the threat model names a path that stays open')
  for (const path of unclosable) {
    const cell = cellOf(grid, path.id)
    assert.equal([cell.verdict, cell.seen.when], ['stays open', 'never'], path.id)
    assert.match(cell.layer, new RegExp(`^no layer of this runbook closes it \\(see What stays open: ${path.id}\\)$`))
  }
  // Once a probe gets through, it reads open, with why nothing closes it.
  const seen = cellOf(
    buildGrid(input({ now: [edge('host-network-same-node', 'allowed', NOW)] })),
    'host-network-same-node',
  )
  assert.equal([seen.verdict, seen.seen.when], ['open', 'this run'])
  assert.is(seen.layer, `open: ${pathById('host-network-same-node')!.staysOpen!.why}`)
  // A path some layer closes, never tried here, is only not observed.
  assert.is(cellOf(grid, 'pod-ip-to-manager').verdict, 'not observed')
})

test('an attempt at admission reads refused at admission, open when it was admitted, unknown when it was not made', () => {
  const denial =
    "ValidatingAdmissionPolicy 'gthulhu-identities.default' with binding 'gthulhu-identities.default' denied request: a pod wearing the manager's identity"
  const edges = edgesFromChecks(
    'admission-policy',
    [
      { name: 'pod', expected: 'refused at admission', observed: denial, ok: true, path: 'borrowed-identity-by-pod' },
      {
        name: 'impostor',
        expected: 'admitted (the path is open)',
        observed: 'admitted: admitted (pod/x, server dry run); this path is open: …',
        ok: true,
        path: 'impostor-decision-maker-by-pod',
      },
      {
        name: 'cronjob',
        expected: 'refused at admission',
        observed: "the runbook's identity may not impersonate gthulhu-runbook-attacker (kubectl --as)",
        ok: false,
        path: 'borrowed-identity-by-cronjob',
      },
    ],
    NOW,
  )
  const grid = buildGrid(input({ now: edges }))
  const pod = cellOf(grid, 'borrowed-identity-by-pod')
  assert.equal([pod.verdict, pod.layer, pod.seen.when], ['refused', 'admission', 'this run'])
  const impostor = cellOf(grid, 'impostor-decision-maker-by-pod')
  assert.equal(
    [impostor.verdict, impostor.layer],
    ['open', 'open: the cluster-wide decision-maker guard is off (it is opt-in: --decision-maker-guard)'],
  )
  assert.is(cellOf(grid, 'borrowed-identity-by-cronjob').verdict, 'unknown', 'an attempt not made proves nothing')
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

test('a probe that only admission stands in front of is open behind admission, not a layer that failed', () => {
  // Identity policies left out: admission refuses an insider's own unbound Service, but the runbook's probe is exempt.
  const grid = buildGrid(
    input({
      config: loadConfig(['--no-identity-policies'], {}),
      now: [edge('unbound-service-to-manager', 'allowed', NOW)],
    }),
  )
  const unbound = cellOf(grid, 'unbound-service-to-manager')
  assert.is(unbound.verdict, 'open')
  assert.match(unbound.layer, /^open behind admission \(with --no-identity-policies nothing refuses it/)
  assert.match(unbound.layer, /the runbook's probe is exempt there$/)
  // With the identity policies in effect, the same answer is a layer that failed.
  const failed = cellOf(
    buildGrid(input({ now: [edge('unbound-service-to-manager', 'allowed', NOW)] })),
    'unbound-service-to-manager',
  )
  assert.is(failed.layer, 'got through though ztunnel identity policy and admission should refuse it')
})

test.run()
