// --report on the simulated cluster, for a full run: report.md's tables parse (same number of cells in every row)
// and say what the operator attaches to a change ticket — the steps on the wall clock, the versions, the
// reachability grid (sources × targets, every path of the threat model, each with when it was seen) and what stays
// open; report.html lays out in headless Chromium at screen and A4 widths (test/report-layout.ts). The audit and
// rollback reports are in report-audit.test.ts, each file within the runner's time per file on a busy machine.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { asRecords, markdownTables, table } from './markdown.ts'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { STEP_IDS } from '../lib/types.ts'
import { THREAT_MODEL } from '../lib/verify/threat-model.ts'
import {
  assertLaysOut as laysOut,
  COPIED_LABELS,
  grid,
  markdownOf as markdownIn,
  OTHER_POD,
  reportDir as reportIn,
  SOURCES,
  TARGETS,
} from './report-layout.ts'

let world: RunbookWorld

test.before(async () => {
  world = await startWorld({ cni: 'calico' })
})
test.after(async () => {
  await world?.stop()
})

const reportDir = (name: string) => reportIn(world.dir, name)
const markdownOf = (name: string) => markdownIn(world.dir, name)
const assertLaysOut = (name: string) => laysOut(world.dir, name)

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
  // The v1.3.0 chart's images (Gthulhu/Gthulhu chart/gthulhu/values.yaml; MongoDB's container is named mongo).
  assert.match(
    versions['Gthulhu manager (gthulhu-manager), container manager'] ?? '',
    /^ghcr\.io\/gthulhu\/gthulhu-api:/,
  )
  assert.match(versions['Gthulhu mongodb (gthulhu-mongodb), container mongo'] ?? '', /^mongo:/)

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
  // An insider's own pod naming the manager's ServiceAccount: refused at admission (a server dry run as another user).
  assert.match(
    after["someone who may create pods in the namespace, naming the manager's ServiceAccount"].MongoDB,
    /^✖ refused — admission; via a pod of its own: [^;]*; this run, /,
  )
  // No layer of this runbook closes hostNetwork on the manager's node: its probe got through, and the cell says why.
  assert.match(
    after["a hostNetwork pod (or a node process) on the manager's node"].manager,
    /^○ open — open: istio-cni's in-pod rule accepts the node's probe source/,
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

test.run()
