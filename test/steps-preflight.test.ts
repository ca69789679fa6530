// Preflight's Kubernetes version check against clusters of other versions: outside Istio's tested range but
// accepted by istioctl is the operator's call (automation: --allow-untested-kubernetes); below istioctl's floor
// it fails whatever the flags say.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld } from './harness.ts'

test('Kubernetes 1.30 with Istio 1.29: untested but accepted by istioctl; automation needs --allow-untested-kubernetes', async () => {
  const world = await startWorld({ kubernetesVersion: '1.30.2' })
  try {
    const refused = await world.run([...world.flags, '--yes', '--only', 'preflight'])
    assert.is(refused.code, 1, show(refused))
    assert.match(
      refused.stdout,
      /✖ Kubernetes version supported by Istio 1\.29\.1\s+expected: 1\.31–1\.35 \(tested\); istioctl accepts 1\.30 and later\s+observed: v1\.30\.2 is outside the versions Istio 1\.29\.1 is tested with/,
    )
    assert.match(refused.stdout, /pass --allow-untested-kubernetes/)
    const allowed = await world.run([...world.flags, '--yes', '--only', 'preflight', '--allow-untested-kubernetes'])
    assert.is(allowed.code, 0, show(allowed))
    assert.match(
      allowed.stdout,
      /⚠ Kubernetes version supported by Istio 1\.29\.1[\s\S]*going on \(--allow-untested-kubernetes\)/,
    )
  } finally {
    await world.stop()
  }
})

test("Kubernetes 1.29 with Istio 1.29: below istioctl's floor, refused even with --allow-untested-kubernetes", async () => {
  const world = await startWorld({ kubernetesVersion: '1.29.4' })
  try {
    const r = await world.run([...world.flags, '--yes', '--only', 'preflight', '--allow-untested-kubernetes'])
    assert.is(r.code, 1, show(r))
    assert.match(r.stdout, /observed: v1\.29\.4: below istioctl's floor, its precheck refuses this cluster/)
  } finally {
    await world.stop()
  }
})

test('Gthulhu with mTLS: preflight notices the decision maker serves TLS, and the probes take its 400 to plain HTTP as the answer', async () => {
  const world = await startWorld({ chart: { mtls: true } })
  try {
    const r = await world.run([...world.flags, '--yes', '-v', '--only', 'preflight,l4-policies'], {
      timeoutMs: 120_000,
    })
    assert.is(r.code, 0, show(r))
    assert.is(world.state().facts.workloads?.scheduler.servesTls, true)
    assert.match(r.stdout, /manager \(gthulhu-manager's labels\) +│ ✔ answers \/ answers +│ ✔ HTTP 400 \/ HTTP 400/)
    assert.match(r.stdout, /scheduler sidecar :8080 \(mTLS\)/)
  } finally {
    await world.stop()
  }
})

test.run()
