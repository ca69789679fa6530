// Undo leaves what was there before the runbook: a Gateway API bundle and an Istio installed by someone else,
// and labels that already had values (put back to those values, not removed). Simulated cluster, real CLI
// and kubectl; the "seeded" picture is taken after the pre-existing things were added.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'
import { snapshot } from './snapshot.ts'
import { installedIstioctl } from './sim-probes.ts'

let world: RunbookWorld

async function kubectlOk(args: string[], input?: string): Promise<void> {
  const r = await kubectl(world.sim.env, args, { input, timeoutMs: 60_000 })
  assert.is(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`)
}

test.before(async () => {
  world = await startWorld({ cni: 'calico' })
})
test.after(async () => {
  await world?.stop()
})

test('a full run and --uninstall leave a pre-installed bundle, a pre-installed Istio and earlier label values as they were', async () => {
  // Someone else installed the Gateway API bundle and Istio ambient, and labelled things, before the runbook.
  const bundle = await (await fetch(`${world.sim.gatewayApiMirror}/v1.4.0/experimental-install.yaml`)).text()
  await kubectlOk(['apply', '--server-side', '-f', '-'], bundle)
  const istioctl = installedIstioctl('1.29.1')
  const install = await istioctl.run(world.sim.env, ['install', '--set', 'profile=ambient', '-y'])
  assert.is(install.code, 0, install.stderr)
  await kubectlOk(['label', 'namespace', 'default', 'istio.io/use-waypoint=team-waypoint'])
  await kubectlOk(['label', 'service', 'gthulhu-manager', '-n', 'default', 'istio.io/ingress-use-waypoint=true'])
  const seeded = await snapshot(world)

  const run = await world.run([...world.flags, '--yes'], { timeoutMs: 360_000 })
  assert.is(run.code, 0, show(run))
  const steps = world.state().steps
  assert.equal(steps['ambient']!.before!.found, { istioInstalled: true, istioNamespaceExisted: true })
  assert.is((steps['gateway-api-crds']!.before!.found!.crds as string[]).length, 12)
  assert.equal(steps['waypoint']!.before!.labels!['namespace//default'], {
    'istio.io/dataplane-mode': null,
    'istio.io/use-waypoint': 'team-waypoint',
  })
  assert.equal(steps['waypoint']!.before!.labels!['service/default/gthulhu-manager'], { 'istio.io/use-waypoint': null })
  // The manager Service gets its own binding; the namespace's binding of the other Services to another waypoint stays.
  const ns = await world.kubectlJson('get', 'namespace', 'default')
  assert.is(ns.metadata.labels['istio.io/use-waypoint'], 'team-waypoint', 'left as it was')
  assert.match(run.stdout, /namespace default binds its other Services to waypoint team-waypoint; left as it is/)
  const svc = await world.kubectlJson('get', 'service', 'gthulhu-manager', '-n', 'default')
  assert.is(svc.metadata.labels['istio.io/use-waypoint'], 'waypoint', 'the run set its own value')

  const r = await world.run([...world.flags, '--yes', '-v', '--uninstall'], { timeoutMs: 360_000 })
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /left Istio in istio-system: it was installed before the runbook/)
  assert.match(r.stdout, /left 12 Gateway API CRD\(s\) that were there before the runbook \(bundle v1\.4\.0\)/)
  assert.match(r.stdout, /removed label istio\.io\/use-waypoint from service default\/gthulhu-manager/)
  assert.match(r.stdout, /put label istio\.io\/ingress-use-waypoint=true back on service default\/gthulhu-manager/)
  const after = await snapshot(world)
  assert.equal(Object.keys(after).sort(), Object.keys(seeded).sort(), 'the same objects as before the run')
  for (const key of Object.keys(seeded)) assert.equal(after[key], seeded[key], `labels of ${key}`)
  assert.ok(
    (await world.kubectlJson('get', 'deployment', 'istiod', '-n', 'istio-system')).metadata.name,
    'Istio is still there',
  )
})

test.run()
