// The world both widening audits start from: a full --yes run on the simulated cluster (the saved one), then every widening the
// attack review tried: an allow-all NetworkPolicy beside the runbook's on MongoDB, an extra label in the scheduler
// NetworkPolicy's selector, istio.io/dry-run on the scheduler's identity policy, an allow-all AuthorizationPolicy on
// the manager Service and one in istio-system on the manager's pods, and the admission policy's binding deleted (so
// the policy refuses no one who borrows Gthulhu's identities).
import * as assert from 'uvu/assert'
import type { RunbookWorld } from './harness.ts'
import { preparedWorld } from './fixtures.ts'
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

/** The binding the admission-policy step creates (lib/domain/admission.ts policyName: release-identities.namespace). */
export const ADMISSION_BINDING = 'gthulhu-identities.default'

/** The paths the admission policy closes by refusing an insider's objects (lib/verify/threat-model.ts). */
export const BORROWED_IDENTITY_PATHS = [
  'borrowed-identity-by-pod',
  'borrowed-identity-by-deployment',
  'borrowed-identity-by-cronjob',
  'borrowed-scheduler-identity-by-pod',
  'borrowed-waypoint-identity-by-pod',
  'copied-labels-by-pod',
  'service-selecting-manager',
]

/** A hardened simulated cluster with every widening applied. */
export async function widenedWorld(): Promise<RunbookWorld> {
  // The hardening itself is proven elsewhere (verify.test.ts); here only the audit's findings matter, so the world
  // starts from the saved full run the other audit tests share instead of running every step again.
  const world = await preparedWorld({ cni: 'calico' })
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
  await kubectlOk(world, [
    'delete',
    'validatingadmissionpolicybindings.admissionregistration.k8s.io',
    ADMISSION_BINDING,
  ])
  return world
}
