// Undo on the simulated cluster through the real CLI and real kubectl: --rollback of one step restores what
// it changed and --resume applies it again; --uninstall after a full run leaves the cluster as it was seeded
// (objects and labels compared before and after), and the state file shows every step as undone.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { preparedWorld } from './fixtures.ts'
import { runProbe } from './sim-probes.ts'
import { snapshot, type Snapshot } from './snapshot.ts'
import { asRecords, markdownTables, table } from './markdown.ts'
import { STEP_IDS } from '../lib/types.ts'

let world: RunbookWorld
let seeded: Snapshot

/** An out-of-mesh pod without the manager's labels opens a TCP connection to MongoDB (busybox nc). */
async function outsiderReachesMongo(): Promise<boolean> {
  const log = await runProbe(world.sim.env, {
    script: 'nc -z -v -w 3 gthulhu-mongodb.default.svc 27017; echo "exit=$?"',
    labels: { 'app.kubernetes.io/component': 'probe', 'istio.io/dataplane-mode': 'none' },
  })
  return /exit=0/.test(log)
}

test.before(async () => {
  // The cluster after a full --yes run (saved once, started again here), and the objects a fresh one is seeded with.
  const fresh = await startWorld({ cni: 'calico' })
  try {
    ;[world, seeded] = await Promise.all([preparedWorld({ cni: 'calico' }), snapshot(fresh)])
  } finally {
    await fresh.stop()
  }
})
test.after(async () => {
  await world?.stop()
})

test('after a full run, --rollback l4-policies deletes its NetworkPolicies, records the step undone and reopens MongoDB', async () => {
  assert.is(await outsiderReachesMongo(), false, 'the L4 policy refuses a pod without the manager labels')
  const before = world.state().steps['l4-policies']!.before!
  assert.equal(
    before.objects!['networkpolicies/default/allow-only-manager-to-mongodb'],
    { existed: false, managed: false },
    'recorded before the step ran',
  )

  const r = await world.run([...world.flags, '--yes', '-v', '--rollback', 'l4-policies'], { timeoutMs: 120_000 })
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /✔ networkpolicies default\/allow-only-manager-to-mongodb deleted/)
  const left = (await world.kubectlJson('get', 'networkpolicies', '-n', 'default')).items
  assert.equal(
    left.map((p: any) => p.metadata.name),
    [],
  )
  const state = world.state()
  assert.is(state.steps['l4-policies']!.status, 'undone')
  assert.is(state.steps['l4-policies']!.before, undefined, 'a later run records afresh')
  assert.is(state.steps['restart']!.status, 'done', 'other steps are untouched')
  assert.is(await outsiderReachesMongo(), true, 'reachability restored')

  const list = await world.run([...world.flags, '--list'])
  assert.match(list.stdout, /l4-policies\s+undone/)
})

test('--resume after a rollback applies just that step again', async () => {
  const r = await world.run([...world.flags, '--yes', '--resume'], { timeoutMs: 180_000 })
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /done\s+l4-policies/)
  assert.match(r.stdout, /not run\s+restart .*done in an earlier run/)
  assert.is(world.state().steps['l4-policies']!.status, 'done')
  assert.is(await outsiderReachesMongo(), false, 'the policy holds again')
})

test('shared things are not undone while in use: the CRDs while Gateway API objects exist, Istio while a namespace is enrolled', async () => {
  const crds = await world.run([...world.flags, '--yes', '--rollback', 'gateway-api-crds'])
  assert.is(crds.code, 1, show(crds))
  assert.match(
    crds.stdout,
    /gateway-api-crds was not undone: Gateway API objects still exist, .*Gateway default\/gthulhu-gw, .*Gateway default\/waypoint/,
  )
  const istio = await world.run([...world.flags, '--yes', '--rollback', 'ambient'])
  assert.is(istio.code, 1, show(istio))
  assert.match(istio.stdout, /ambient was not undone: namespaces are still enrolled in ambient, .*: default\./)
  const state = world.state()
  assert.is(state.steps['gateway-api-crds']!.status, 'done', 'a refused undo keeps the step done')
  assert.is(state.steps['ambient']!.status, 'done')
  assert.ok(
    (await world.kubectlJson('get', 'deployment', 'istiod', '-n', 'istio-system')).metadata.name,
    'Istio untouched',
  )
})

test('--uninstall --dry-run prints the undo plan in reverse order and changes nothing', async () => {
  const r = await world.run([...world.flags, '--uninstall', '--dry-run'])
  assert.is(r.code, 0, show(r))
  const order = [...r.stdout.matchAll(/^# undo (\S+):/gm)].map((m) => m[1])
  assert.equal(order, [...STEP_IDS].reverse())
  assert.match(r.stdout, /kubectl --kubeconfig \S+ --context \S+ label namespace default istio\.io\/dataplane-mode-/)
  assert.match(r.stdout, /istioctl uninstall --purge -y, then delete namespace istio-system/)
  assert.is(world.state().steps['ambient']!.status, 'done')
})

test('--uninstall undoes every step in reverse order and leaves the cluster as seeded', async () => {
  const reportDir = join(world.dir, 'uninstall-report')
  const r = await world.run([...world.flags, '--yes', '-v', '--uninstall', '--report', reportDir], {
    timeoutMs: 360_000,
  })
  assert.is(r.code, 0, show(r))
  const tables = markdownTables(readFileSync(join(reportDir, 'report.md'), 'utf8'))
  assert.equal(
    asRecords(table(tables, 'Steps')).map((s) => `${s.step} ${s.status}`),
    [...STEP_IDS].reverse().map((id) => `${id} undone`),
  )
  assert.match(
    asRecords(table(tables, 'What changed')).find((c) => c.step === 'l4-policies')?.change ?? '',
    /deleted networkpolicies default\/allow-only-manager-to-mongodb/,
  )
  assert.match(
    asRecords(table(tables, 'Reachability after')).find((row) => row.from === 'the manager')?.MongoDB ?? '',
    /^✔ allowed — answered through every layer; .*this run/,
    'the manager still reaches MongoDB',
  )
  const order = [...r.stdout.matchAll(/^↩ undoing (\S+)/gm)].map((m) => m[1])
  assert.equal(order, [...STEP_IDS].reverse())
  // Undo of the waypoint restarts the workloads out of ambient and proves the manager still reaches its backends.
  assert.match(r.stdout, /restarted .*out of ambient/)
  assert.match(r.stdout, /✔ manager \(gthulhu-manager's labels\) → MongoDB :27017: answers/)
  assert.match(r.stdout, /✔ manager \(gthulhu-manager's labels\) → scheduler sidecar :8080: HTTP 200/)
  const after = await snapshot(world)
  const added = Object.keys(after).filter((k) => !(k in seeded))
  const removed = Object.keys(seeded).filter((k) => !(k in after))
  assert.equal({ added, removed }, { added: [], removed: [] }, 'the same objects as seeded')
  for (const key of Object.keys(seeded)) assert.equal(after[key], seeded[key], `labels of ${key}`)
  const pods = (await world.kubectlJson('get', 'pods', '-n', 'default')).items
  assert.ok(
    pods.every((p: any) => p.metadata.annotations?.['ambient.istio.io/redirection'] !== 'enabled'),
    'no pod left in ambient',
  )
  const state = world.state()
  for (const id of STEP_IDS) assert.is(state.steps[id]!.status, 'undone', id)
  const again = await world.run([...world.flags, '--yes', '--uninstall'])
  assert.is(again.code, 2, show(again))
  assert.match(again.stderr, /nothing to undo/)
  // Undone steps are not finished: a resumed run would do every one of them again.
  const resume = await world.run([...world.flags, '--resume', '--dry-run'])
  assert.is(resume.code, 0, show(resume))
  assert.equal(
    [...resume.stdout.matchAll(/^# (\S+):/gm)].map((m) => m[1]),
    [...STEP_IDS],
  )
})

test.run()
