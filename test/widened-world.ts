// The world both widening audits start from: a full --yes run on the simulated cluster, then every widening the
// attack review tried: an allow-all NetworkPolicy beside the runbook's on MongoDB, an extra label in the scheduler
// NetworkPolicy's selector, istio.io/dry-run on the scheduler's identity policy, an allow-all AuthorizationPolicy on
// the manager Service and one in istio-system on the manager's pods.
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'

export const events = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))

export async function kubectlOk(world: RunbookWorld, args: string[], input?: string): Promise<void> {
  const r = await kubectl(world.sim.env, args, { input })
  assert.is(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`)
}

const ALLOW_ALL_NETWORK_POLICY = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: team-allow-all-mongodb, namespace: default}
spec:
  podSelector:
    matchExpressions: [{key: app.kubernetes.io/name, operator: In, values: [mongodb]}]
  ingress: [{}]
`
const ALLOW_ALL_POLICIES = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-all-manager, namespace: default}
spec:
  targetRefs: [{group: "", kind: Service, name: gthulhu-manager}]
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-all-to-manager-pods, namespace: istio-system}
spec:
  selector: {matchLabels: {app.kubernetes.io/component: manager}}
  rules: [{}]
`

/** A hardened simulated cluster with every widening applied. */
export async function widenedWorld(): Promise<RunbookWorld> {
  const world = await startWorld({ cni: 'calico' })
  // The hardening itself is proven elsewhere (verify.test.ts); here only the audit's findings matter. No step needs
  // restart's facts, and ambient captures running pods, so it is left out to keep the file short on a busy machine.
  const run = await world.run([...world.flags, '--yes', '--no-probes', '--skip', 'restart'], { timeoutMs: 300_000 })
  assert.is(run.code, 0, show(run))
  await kubectlOk(world, ['apply', '-f', '-'], ALLOW_ALL_NETWORK_POLICY)
  await kubectlOk(world, [
    'patch',
    'networkpolicy',
    'allow-only-manager-to-scheduler',
    '--type',
    'merge',
    '-p',
    '{"spec":{"podSelector":{"matchLabels":{"tier":"frontend"}}}}',
  ])
  await kubectlOk(world, [
    'annotate',
    'authorizationpolicies.security.istio.io',
    'gthulhu-scheduler-allow-manager',
    'istio.io/dry-run=true',
  ])
  await kubectlOk(world, ['apply', '-f', '-'], ALLOW_ALL_POLICIES)
  return world
}
