// --report for an audit after a drift and for a rollback, on a cluster the runbook has hardened (a saved full run,
// test/fixtures.ts): an audit's "before" is the record's last observation and "after" is now, with the differences
// marked; after a rollback no verdict survives for the layer it removed. report.html lays out at screen and A4
// widths (test/report-layout.ts).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { asRecords, markdownTables, table } from './markdown.ts'
import { show, type RunbookWorld } from './harness.ts'
import { preparedWorld } from './fixtures.ts'
import { kubectl } from './kit.ts'
import {
  assertLaysOut as laysOut,
  COPIED_LABELS,
  grid,
  markdownOf as markdownIn,
  OTHER_POD,
  reportDir as reportIn,
} from './report-layout.ts'

let world: RunbookWorld

test.before(async () => {
  world = await preparedWorld({ cni: 'calico' })
})
test.after(async () => {
  await world?.stop()
})

const reportDir = (name: string) => reportIn(world.dir, name)
const markdownOf = (name: string) => markdownIn(world.dir, name)
const assertLaysOut = (name: string) => laysOut(world.dir, name)

test('--verify --report after a drift: "before" is the run\'s observation, "after" is now, and the difference is marked', async () => {
  const deleted = await kubectl(world.sim.env, [
    'delete',
    'authorizationpolicies.security.istio.io',
    'gthulhu-mongodb-allow-manager',
    '-n',
    'default',
  ])
  assert.is(deleted.code, 0, deleted.stderr)
  const r = await world.run([...world.flags, '--verify', '--report', reportDir('audit')], { timeoutMs: 480_000 })
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
    timeoutMs: 480_000,
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
