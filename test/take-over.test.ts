// A NetworkPolicy with the runbook's name that another team made is not taken over without --take-over (the
// step stops and names it, changing nothing, however often it is asked; undoing the refused step leaves it); with
// --take-over it is replaced, and --rollback puts it back exactly as it was (spec, labels, annotations).
// Simulated cluster, real CLI and kubectl.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'

let world: RunbookWorld
test.before(async () => {
  world = await startWorld({ cni: 'calico' })
  const setup = await world.run([...world.flags, '--yes', '--only', 'preflight'])
  if (setup.code !== 0) throw new Error(`setup failed: ${show(setup)}`)
})
test.after(async () => {
  await world?.stop()
})

// Another team's rules under the name the runbook uses: their own pods may reach MongoDB.
const theirs = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: {
    name: 'allow-only-manager-to-mongodb',
    namespace: 'default',
    labels: { team: 'data' },
    annotations: { 'data.example.com/ticket': 'DATA-42' },
  },
  spec: {
    podSelector: { matchLabels: { 'app.kubernetes.io/name': 'mongodb' } },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { team: 'data' } } }], ports: [{ port: 27017 }] }],
  },
}
const written = (o: any) => ({ labels: o.metadata.labels, annotations: o.metadata.annotations, spec: o.spec })
const live = () => world.kubectlJson('get', 'networkpolicy', 'allow-only-manager-to-mongodb', '-n', 'default')

test("a policy with the runbook's name made by someone else stops the step, naming it and --take-over; nothing changes", async () => {
  const created = await kubectl(world.sim.env, ['create', '-f', '-'], { input: JSON.stringify(theirs) })
  assert.is(created.code, 0, created.stderr)
  const before = written(await live())
  const r = await world.run([...world.flags, '--yes', '--only', 'l4-policies'])
  assert.is(r.code, 1, show(r))
  assert.match(
    r.stdout + r.stderr,
    /networkpolicies default\/allow-only-manager-to-mongodb already exists and is not the runbook's .* nothing was changed\. .* run again with --take-over/,
  )
  assert.equal(written(await live()), before, 'their policy is untouched')
  const others = (await world.kubectlJson('get', 'networkpolicies', '-n', 'default')).items.map(
    (p: any) => p.metadata.name,
  )
  assert.equal(others, ['allow-only-manager-to-mongodb'], 'the step applied nothing')
})

test('asked again without --take-over it still refuses, and undoing the refused step leaves their policy as it is', async () => {
  const before = written(await live())
  // The first attempt recorded their policy (whole) before it stopped: that record must not pass for consent.
  const again = await world.run([...world.flags, '--yes', '--only', 'l4-policies'])
  assert.is(again.code, 1, show(again))
  assert.match(again.stdout + again.stderr, /allow-only-manager-to-mongodb already exists and is not the runbook's/)
  assert.equal(written(await live()), before, 'their policy is untouched')
  const undo = await world.run([...world.flags, '--yes', '-v', '--rollback', 'l4-policies'])
  assert.is(undo.code, 0, show(undo))
  assert.match(
    undo.stdout,
    /left networkpolicies default\/allow-only-manager-to-mongodb: it is as it was before the runbook/,
  )
  assert.equal(written(await live()), before, 'undo did not delete or change their policy')
  assert.equal(
    (await world.kubectlJson('get', 'networkpolicies', '-n', 'default')).items.map((p: any) => p.metadata.name),
    ['allow-only-manager-to-mongodb'],
  )
})

test('with --take-over the runbook replaces it, and --rollback puts it back exactly as it was', async () => {
  const original = written(await live())
  const r = await world.run([...world.flags, '--yes', '--only', 'l4-policies', '--take-over'])
  assert.is(r.code, 0, show(r))
  const replaced = await live()
  assert.is(replaced.metadata.labels['app.kubernetes.io/managed-by'], 'gthulhu-runbook')
  assert.not.equal(replaced.spec, original.spec)
  const recorded =
    world.state().steps['l4-policies']!.before!.objects!['networkpolicies/default/allow-only-manager-to-mongodb']
  assert.equal([recorded.existed, recorded.managed], [true, false])
  assert.equal(written(recorded.object), original, 'the record holds their policy whole')

  const undo = await world.run([...world.flags, '--yes', '-v', '--rollback', 'l4-policies'])
  assert.is(undo.code, 0, show(undo))
  assert.match(
    undo.stdout,
    /put networkpolicies default\/allow-only-manager-to-mongodb back as it was before the runbook took it over/,
  )
  assert.match(
    undo.stdout,
    /✔ networkpolicies default\/allow-only-manager-to-mongodb back as it was before the runbook/,
  )
  assert.equal(written(await live()), original, 'spec, labels and annotations as they were')
  const names = (await world.kubectlJson('get', 'networkpolicies', '-n', 'default')).items.map(
    (p: any) => p.metadata.name,
  )
  assert.equal(names, ['allow-only-manager-to-mongodb'], "the runbook's own policy is gone, theirs stays")
})

test.run()
