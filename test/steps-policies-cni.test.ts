// A CNI that stores NetworkPolicies without enforcing them (flannel): the deny probes connect and the impostor
// decision maker hears the manager, and the l4-policies step fails saying why. A policy applied but not enforced
// is not hardening.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { checkOf, show, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'

let world: RunbookWorld

test.before(async () => {
  world = await startWorld({ cni: 'flannel' })
})
test.after(async () => {
  await world?.stop()
})

test('deny probes that connect fail l4-policies, naming the non-enforcing CNI as the likely cause', async () => {
  // Every attempt waits for the impostor to hear nothing (or something), and a failing probe is tried three times.
  const r = await world.run([...world.flags, '--yes', '--only', 'preflight,l4-policies'], { timeoutMs: 300_000 })
  assert.is(r.code, 1, show(r))
  assert.is(world.state().steps['l4-policies']?.status, 'failed')
  assert.match(r.stdout, /other pod \(component=probe\) +│ ✖ refused \/ answers +│ ✖ refused \/ HTTP 200/)
  assert.match(r.stdout, /manager \(gthulhu-manager's labels\) +│ ✔ answers \/ answers/)
  assert.match(
    r.stdout,
    /impostor decision maker \(app=decisionmaker, another namespace\) +│ — +│ — +│ ✖ refused \/ answers/,
  )
  // The three attacks the CNI alone should refuse got through, each diagnosed as the CNI that does not enforce
  // (anchored to the check's own line: the step's failure message names them too).
  const failed = {
    MONGODB: /^ {2}✖ other pod \(component=probe\) → MongoDB :27017: refused/,
    SCHEDULER: /^ {2}✖ other pod \(component=probe\) → scheduler sidecar :8080: refused/,
    IMPOSTOR:
      /^ {2}✖ impostor decision maker \(app=decisionmaker, another namespace\) → requests from the manager :8080: refused/,
  }
  for (const name of Object.values(failed)) {
    const check = checkOf(r.stdout, name)
    assert.match(check, /^[^\n]*\n\s+expected: refused\n\s+observed: (answers|HTTP 200) /, check)
    assert.match(
      check,
      /→ [^\n]*: most likely the cluster's CNI does not enforce NetworkPolicy \(preflight found: flannel \(DaemonSet kube-system\/kube-flannel-ds\)\)/,
      check,
    )
  }
  assert.match(
    checkOf(r.stdout, failed.IMPOSTOR),
    /its egress NetworkPolicy gthulhu-manager-egress is stored but ignored/,
  )
  assert.match(
    r.stdout,
    /step l4-policies failed: 3 check\(s\) failed: other pod \(component=probe\) → MongoDB :27017: refused; other pod \(component=probe\) → scheduler sidecar :8080: refused; impostor decision maker/,
  )
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
