// The whole runbook against Gthulhu installed with the chart's mtls.enabled and monitoring.enabled: the decision
// maker serves mutual TLS on 8080 (so plain-HTTP probes get Go's 400, which counts as its answer), and the scheduler
// pods also serve monitor-metrics 9090 behind the monitor Service. The real CLI with --yes through real kubectl.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { STEP_IDS } from '../lib/config/step-ids.ts'

let world: RunbookWorld | undefined
test.after(async () => {
  await world?.stop()
})

test('the chart with mtls.enabled and monitoring.enabled: a full --yes run passes; probes take the TLS 400 as the answer', async () => {
  world = await startWorld({ cni: 'calico', chart: { mtls: true, monitoring: true } })
  // -v: the test reads check names and the reachability grid, which an all-green step otherwise keeps to one line.
  const r = await world.run([...world.flags, '--yes', '-v'], { timeoutMs: 360_000 })
  assert.is(r.code, 0, show(r))
  for (const id of STEP_IDS) assert.is(world.state().steps[id]?.status, 'done', `${id}\n${show(r)}`)
  assert.is(world.state().facts.workloads?.scheduler.servesTls, true)
  assert.match(r.stdout, /scheduler sidecar :8080 \(mTLS\)/, show(r))
  assert.match(
    r.stdout,
    /manager \(gthulhu-manager's labels\) +│ ✔ answers \/ answers +│ ✔ HTTP 400 \/ HTTP 400/,
    show(r),
  )
  // monitoring.enabled: the scheduler pods also serve monitor-metrics 9090, behind the same identity policy.
  const svc = await world.kubectlJson('get', 'service', 'gthulhu-scheduler-monitor', '-n', 'default')
  assert.equal(
    svc.spec.ports.map((p: any) => `${p.name}:${p.port}`),
    ['monitor-metrics:9090'],
  )
  assert.equal(await world.probePodsLeft(), [], 'every probe pod was deleted')
})

test.run()
