// Undo on the simulated cluster through the real CLI and real kubectl: --rollback of one step restores what
// it changed and --resume applies it again; shared things are not undone while in use. --uninstall is in
// lifecycle-uninstall.test.ts (each file within the runner's time per file on a busy machine).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, type RunbookWorld } from './harness.ts'
import { preparedWorld } from './fixtures.ts'
import { runProbe } from './sim-probes.ts'

let world: RunbookWorld

/** An out-of-mesh pod without the manager's labels opens a TCP connection to MongoDB (busybox nc). */
async function outsiderReachesMongo(): Promise<boolean> {
  const log = await runProbe(world.sim.env, {
    script: 'nc -z -v -w 3 gthulhu-mongodb.default.svc 27017; echo "exit=$?"',
    labels: { 'app.kubernetes.io/component': 'probe', 'istio.io/dataplane-mode': 'none' },
  })
  return /exit=0/.test(log)
}

test.before(async () => {
  // The cluster after a full --yes run (saved once, started again here).
  world = await preparedWorld({ cni: 'calico' })
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

test.run()
