// A CNI that stores NetworkPolicies without enforcing them (flannel): the deny probes connect, and the
// l4-policies step fails saying so. A policy applied but not enforced is not hardening.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'

let world: RunbookWorld

test.before(async () => {
  world = await startWorld({ cni: 'flannel' })
})
test.after(async () => {
  await world?.stop()
})

test('deny probes that connect fail l4-policies, naming the non-enforcing CNI as the likely cause', async () => {
  const r = await world.run([...world.flags, '--yes', '--only', 'preflight,l4-policies'])
  assert.is(r.code, 1, show(r))
  assert.is(world.state().steps['l4-policies']?.status, 'failed')
  assert.match(r.stdout, /other pod \(component=probe\) +│ ✖ refused \/ answers +│ ✖ refused \/ HTTP 200/)
  assert.match(r.stdout, /manager \(gthulhu-manager's labels\) +│ ✔ answers \/ answers/)
  assert.match(
    r.stdout,
    /✖ other pod \(component=probe\) → MongoDB :27017: refused\s+expected: refused\s+observed: answers/,
  )
  assert.match(
    r.stdout,
    /→ a pod without the manager's labels connected: most likely the cluster's CNI does not enforce NetworkPolicy \(preflight found: flannel/,
  )
  assert.match(r.stdout, /step l4-policies failed: 2 check\(s\) failed/)
  // The policies were applied (and stay: the operator decides), the probe pods are gone.
  const policies = await kubectl(world.sim.env, ['get', 'networkpolicies', '-n', 'default', '-o', 'name'])
  assert.match(policies.stdout, 'networkpolicy.networking.k8s.io/allow-only-manager-to-mongodb')
  for (let i = 0; i < 20; i++) {
    const pods = await kubectl(world.sim.env, [
      'get',
      'pods',
      '-A',
      '-l',
      'app.kubernetes.io/managed-by=gthulhu-runbook',
      '-o',
      'name',
    ])
    if (pods.stdout.trim() === '') return
    await new Promise((r) => setTimeout(r, 250))
  }
  assert.unreachable('probe pods were left behind after the failed step')
})

test('--dry-run shows the policies with the kubelet-probe rule and the probes, changing nothing', async () => {
  const r = await world.run([...world.flags, '--dry-run'])
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /apply \(server-side\) NetworkPolicy default\/allow-only-manager-to-scheduler/)
  assert.match(r.stdout, /cidr: 169\.254\.7\.127\/32/)
  const connection = `--kubeconfig ${world.sim.kubeconfig} --context ${world.sim.context}`
  assert.match(r.stdout, `$ kubectl ${connection} label namespace default istio.io/dataplane-mode=ambient --overwrite`)
  assert.match(r.stdout, `istioctl ${connection} waypoint apply -n default --wait`)
  assert.match(
    r.stdout,
    `$ kubectl ${connection} label service gthulhu-manager -n default istio.io/use-waypoint=waypoint --overwrite`,
  )
  assert.match(r.stdout, `$ kubectl ${connection} rollout restart statefulset/gthulhu-mongodb -n default`)
  assert.match(r.stdout, /apply \(server-side\) AuthorizationPolicy default\/gthulhu-gateway-allow-chrome-only/)
  const ns = await kubectl(world.sim.env, ['get', 'namespace', 'default', '-o', 'json'])
  assert.is(JSON.parse(ns.stdout).metadata.labels?.['istio.io/dataplane-mode'], undefined)
})

test.run()
