// The fake istioctl's behaviours that the runbook depends on, each as istioctl 1.29.1 has it
// (istioctl/pkg/waypoint/waypoint.go, operator/cmd/mesh/install.go): waypoint apply leaves a namespace that
// already names a waypoint alone, --waypoint-timeout and --readiness-timeout bound its own waits, and an
// install below istioctl's Kubernetes floor warns and goes on.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startSimulator, type Simulator } from './sim/index.ts'
import { kubectl } from './kit.ts'
import { installedIstioctl } from './sim-probes.ts'

let sim: Simulator
const istioctl = installedIstioctl('1.29.1')
const run = (args: string[], on = sim) => istioctl.run(on.env, args)

test.before(async () => {
  sim = await startSimulator({ timing: { podStartMs: 30, probeRunMs: 30, rolloutStepMs: 30 } })
  const install = await run(['install', '--set', 'profile=ambient', '-y'])
  assert.is(install.code, 0, install.stderr)
  await kubectl(sim.env, ['apply', '--server-side', '-f', `${sim.gatewayApiMirror}/v1.4.0/standard-install.yaml`])
})
test.after(async () => {
  await sim?.stop()
})

test('waypoint apply --enroll-namespace on a namespace that already names a waypoint: a warning, exit 0, nothing created', async () => {
  const label = await kubectl(sim.env, ['label', 'namespace', 'default', 'istio.io/use-waypoint=waypoint'])
  assert.is(label.code, 0, label.stderr)
  const skipped = await run(['waypoint', 'apply', '-n', 'default', '--enroll-namespace', '--wait'])
  assert.is(skipped.code, 0, skipped.stderr)
  assert.is(
    skipped.stdout,
    '⚠️ Warning: namespace (default) already has an enrolled Waypoint. Consider adding the `--overwrite` flag to your apply command.\n',
  )
  const none = await kubectl(sim.env, [
    'get',
    'gateways.gateway.networking.k8s.io',
    'waypoint',
    '-n',
    'default',
    '--ignore-not-found',
    '-o',
    'name',
  ])
  assert.is(none.stdout, '', 'no waypoint was created')
  const repaired = await run(['waypoint', 'apply', '-n', 'default', '--enroll-namespace', '--overwrite', '--wait'])
  assert.is(repaired.code, 0, repaired.stderr)
  assert.match(
    repaired.stdout,
    /✅ waypoint default\/waypoint applied\n✅ waypoint default\/waypoint is ready!\n✅ namespace default labeled with "istio.io\/use-waypoint: waypoint"\n$/,
  )
  // Not enrolled in ambient: istioctl says so and goes on.
  assert.match(repaired.stdout, /^⚠️ Warning: namespace is not enrolled in ambient/)
})

test("istioctl's own waits end at --waypoint-timeout and --readiness-timeout", async () => {
  const slow = await startSimulator({ faults: { controllerDelayMs: 3000 } })
  try {
    const started = Date.now()
    const install = await run(['install', '--set', 'profile=ambient', '-y', '--readiness-timeout=1s'], slow)
    assert.is(install.code, 1)
    assert.match(install.stderr, /Installation incomplete/)
    assert.ok(Date.now() - started < 2900, `install gave up after ${Date.now() - started} ms`)
    const bad = await run(['install', '--set', 'profile=ambient', '-y', '--readiness-timeout=soon'], slow)
    assert.match(bad.stderr, /invalid argument "soon" for "--readiness-timeout" flag/)
  } finally {
    await slow.stop()
  }
  const gw = await kubectl(sim.env, [
    'get',
    'gateways.gateway.networking.k8s.io',
    'waypoint',
    '-n',
    'default',
    '-o',
    'jsonpath={.status.conditions[?(@.type=="Programmed")].status}',
  ])
  assert.is(gw.stdout, 'True')
  const status = await run(['waypoint', 'status', '-n', 'default', '--waypoint-timeout=1s'])
  assert.is(status.code, 0, status.stderr)
  assert.match(status.stdout, /^NAME\s+STATUS\s+TYPE\s+REASON\s+MESSAGE\nwaypoint\s+True\s+Programmed/)
})

test('install below the floor warns and proceeds, as istioctl does; precheck is what refuses it', async () => {
  const old = await startSimulator({
    kubernetesVersion: '1.29.4',
    timing: { podStartMs: 30, probeRunMs: 30, rolloutStepMs: 30 },
  })
  try {
    const install = await run(['install', '--set', 'profile=ambient', '-y'], old)
    assert.is(install.code, 0, install.stderr)
    assert.match(
      install.stdout,
      /The Kubernetes version v1\.29\.4 is not supported by Istio 1\.29\.1\. The minimum supported Kubernetes version is 1\.30\.\nProceeding with the installation/,
    )
  } finally {
    await old.stop()
  }
})

test.run()
