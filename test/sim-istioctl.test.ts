// The fake istioctl's behaviours that the runbook depends on, each as istioctl 1.29.1 has it
// (istioctl/pkg/waypoint/waypoint.go, operator/cmd/mesh/install.go): waypoint apply leaves a namespace that
// already names a waypoint alone, labels the traffic type only with --for and checks no GatewayClass, waypoint
// list prints NAME REVISION TRAFFIC TYPE PROGRAMMED, --waypoint-timeout and --readiness-timeout bound its own
// waits, and an install below istioctl's Kubernetes floor warns and goes on.
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

test('waypoint apply labels istio.io/waypoint-for only with --for; waypoint list shows REVISION and TRAFFIC TYPE', async () => {
  const gateway = (name: string) =>
    kubectl(sim.env, ['get', 'gateways.gateway.networking.k8s.io', name, '-n', 'default', '-o', 'json']).then((r) =>
      JSON.parse(r.stdout),
    )
  // The waypoint from the test above was applied without --for: no label, istiod's default (service) applies.
  assert.equal((await gateway('waypoint')).metadata.labels ?? {}, {})
  const workload = await run([
    'waypoint',
    'apply',
    '-n',
    'default',
    '--name',
    'wl-waypoint',
    '--for',
    'workload',
    '--wait',
  ])
  assert.is(workload.code, 0, workload.stderr)
  assert.is((await gateway('wl-waypoint')).metadata.labels['istio.io/waypoint-for'], 'workload')
  const list = await run(['waypoint', 'list', '-n', 'default'])
  assert.is(list.code, 0, list.stderr)
  assert.is(
    list.stdout,
    'NAME            REVISION     TRAFFIC TYPE     PROGRAMMED\n' +
      'waypoint        default      none             True\n' +
      'wl-waypoint     default      workload         True\n',
  )
  const everywhere = await run(['waypoint', 'list', '-A'])
  assert.match(
    everywhere.stdout,
    /^NAMESPACE\s+NAME\s+REVISION\s+TRAFFIC TYPE\s+PROGRAMMED\ndefault\s+waypoint\s+default\s+none\s+True\n/,
  )
  const empty = await run(['waypoint', 'list', '-n', 'kube-public'])
  assert.is(empty.stdout, 'No waypoints found.\n')
  const bad = await run(['waypoint', 'apply', '-n', 'default', '--for', 'pods'])
  assert.is(bad.code, 1)
  assert.match(
    bad.stderr,
    /^Error: failed to create gateway: invalid traffic type: pods\. Valid options are: \[all none service workload\]/,
  )
  const gone = await run(['waypoint', 'delete', 'wl-waypoint', 'no-such-waypoint', '-n', 'default'])
  assert.is(gone.code, 0, gone.stderr)
  assert.is(gone.stdout, 'waypoint default/wl-waypoint deleted\nwaypoint default/no-such-waypoint not found\n')
})

test('waypoint apply checks no GatewayClass (only --wait notices), and fails on a namespace or CRDs that do not exist', async () => {
  const bare = await startSimulator({ timing: { podStartMs: 30, probeRunMs: 30, rolloutStepMs: 30 } })
  try {
    const noCrds = await run(['waypoint', 'apply', '-n', 'default'], bare)
    assert.is(noCrds.code, 1)
    assert.match(
      noCrds.stderr,
      /^Error: missing Kubernetes Gateway CRDs need to be installed before applying a waypoint: the server could not find the requested resource \(patch gateways\.gateway\.networking\.k8s\.io waypoint\)/,
    )
    const crds = await kubectl(bare.env, [
      'apply',
      '--server-side',
      '-f',
      `${bare.gatewayApiMirror}/v1.4.0/standard-install.yaml`,
    ])
    assert.is(crds.code, 0, crds.stderr)
    const noNamespace = await run(['waypoint', 'apply', '-n', 'nope'], bare)
    assert.is(noNamespace.code, 1)
    assert.match(noNamespace.stderr, /^Error: namespace: nope not found/)
    // No Istio, so no istio-waypoint GatewayClass: the Gateway is applied anyway and never programmed.
    const applied = await run(['waypoint', 'apply', '-n', 'default'], bare)
    assert.is(applied.code, 0, applied.stderr)
    assert.is(applied.stdout, '✅ waypoint default/waypoint applied\n')
    const waited = await run(['waypoint', 'apply', '-n', 'default', '--wait', '--waypoint-timeout=1s'], bare)
    assert.is(waited.code, 1)
    assert.match(waited.stderr, /^Error: timed out while waiting for waypoint\tdefault\/waypoint/)
  } finally {
    await bare.stop()
  }
})

test("istioctl's own waits end at --waypoint-timeout and --readiness-timeout", async () => {
  // istiod's readiness probe fails here, so the install never becomes ready: only --readiness-timeout can end its
  // wait. Left to the default (300 s) the run would be killed at its own 60 s limit, with no exit 1 and no message.
  const stuck = await startSimulator({
    faults: { readinessFails: ['istiod'] },
    timing: { podStartMs: 30, probeRunMs: 30, rolloutStepMs: 30 },
  })
  try {
    const started = Date.now()
    const install = await run(['install', '--set', 'profile=ambient', '-y', '--readiness-timeout=1s'], stuck)
    const tookMs = Date.now() - started
    assert.is(install.code, 1, install.stderr)
    assert.match(install.stderr, /Installation incomplete: components in istio-system did not become ready in time/)
    assert.ok(tookMs >= 1000, `install gave up after ${tookMs} ms, before its readiness timeout`)
    const istiod = await kubectl(stuck.env, ['get', 'deployment', 'istiod', '-n', 'istio-system', '-o', 'json'])
    assert.is(istiod.code, 0, istiod.stderr)
    assert.is(JSON.parse(istiod.stdout).status?.readyReplicas ?? 0, 0, 'istiod is still not ready')
    const bad = await run(['install', '--set', 'profile=ambient', '-y', '--readiness-timeout=soon'], stuck)
    assert.match(bad.stderr, /invalid argument "soon" for "--readiness-timeout" flag/)
  } finally {
    await stuck.stop()
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
