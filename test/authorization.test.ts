// The audit's reading of Istio policies (lib/domain/authorization.ts): which enforcer applies a policy to what, what an
// ALLOW policy admits beyond the plan, and the mTLS mode ztunnel enforces — cases taken from the sources it cites.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  admitsBeyond,
  appliesTo,
  coveredBy,
  effectiveMtls,
  istioMatches,
  type PolicyTarget,
} from '../lib/domain/authorization.ts'
import type { KubeObject } from '../lib/types.ts'

const policy = (namespace: string, spec: any, annotations?: Record<string, string>): KubeObject => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'p', namespace, ...(annotations ? { annotations } : {}) },
  spec,
})

const MONGO = { 'app.kubernetes.io/name': 'mongodb', 'app.kubernetes.io/component': 'mongodb' }
const mongoPods: PolicyTarget = { enforcer: 'ztunnel', namespace: 'default', podLabels: [MONGO] }
const managerService: PolicyTarget = {
  enforcer: 'waypoint',
  namespace: 'default',
  service: 'gthulhu-manager',
  waypoint: 'waypoint',
}
const gateway: PolicyTarget = {
  enforcer: 'gateway',
  namespace: 'default',
  gateway: 'gthulhu-gw',
  podLabels: [{ 'gateway.networking.k8s.io/gateway-name': 'gthulhu-gw' }],
}
const MANAGER = 'cluster.local/ns/default/sa/gthulhu-manager'

test('ztunnel applies selector and namespace-wide policies of the namespace and the root namespace, never targetRefs', () => {
  assert.ok(
    appliesTo(policy('default', { selector: { matchLabels: { 'app.kubernetes.io/name': 'mongodb' } } }), mongoPods),
  )
  assert.not.ok(
    appliesTo(policy('default', { selector: { matchLabels: { 'app.kubernetes.io/name': 'other' } } }), mongoPods),
  )
  assert.ok(appliesTo(policy('default', {}), mongoPods), 'no selector: the whole namespace')
  assert.ok(appliesTo(policy('istio-system', {}), mongoPods), 'no selector in the root namespace: every workload')
  assert.ok(
    appliesTo(
      policy('istio-system', { selector: { matchLabels: { 'app.kubernetes.io/name': 'mongodb' } } }),
      mongoPods,
    ),
    'a root-namespace selector policy selects workloads of every namespace (workloads.go buildWorkloadPolicies)',
  )
  assert.not.ok(appliesTo(policy('other', {}), mongoPods))
  assert.not.ok(appliesTo(policy('default', { targetRefs: [{ kind: 'Service', group: '', name: 'x' }] }), mongoPods))
})

test('a waypoint applies targetRefs to the Service, to its own Gateway, and from the root namespace to the waypoint class', () => {
  const ref = (r: object, ns = 'default') => appliesTo(policy(ns, { targetRefs: [r] }), managerService)
  assert.ok(ref({ group: '', kind: 'Service', name: 'gthulhu-manager' }))
  assert.not.ok(
    ref({ group: '', kind: 'Service', name: 'gthulhu-manager' }, 'istio-system'),
    'Service refs are namespace-local',
  )
  assert.ok(ref({ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'waypoint' }))
  assert.ok(ref({ group: 'gateway.networking.k8s.io', kind: 'GatewayClass', name: 'istio-waypoint' }, 'istio-system'))
  assert.not.ok(ref({ group: 'gateway.networking.k8s.io', kind: 'GatewayClass', name: 'istio-waypoint' }))
  assert.not.ok(appliesTo(policy('default', {}), managerService), 'waypoints never use selectors')
})

test('a gateway applies targetRefs to its Gateway, or a selector (or none) matching its pods', () => {
  assert.ok(appliesTo(policy('default', {}), gateway))
  assert.ok(
    appliesTo(
      policy('default', { selector: { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'gthulhu-gw' } } }),
      gateway,
    ),
  )
  assert.ok(
    appliesTo(
      policy('default', { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gthulhu-gw' }] }),
      gateway,
    ),
  )
  assert.not.ok(
    appliesTo(policy('default', { targetRefs: [{ group: '', kind: 'Service', name: 'gthulhu-manager' }] }), gateway),
  )
})

test('Istio strings match exactly, by leading or trailing * only; coverage follows', () => {
  assert.ok(istioMatches('cluster.local/ns/default/*', MANAGER))
  assert.ok(istioMatches('*/sa/gthulhu-manager', MANAGER))
  assert.not.ok(istioMatches('cluster.local/ns/*/sa/gthulhu-manager', MANAGER), 'a middle * is literal')
  assert.ok(istioMatches('*', MANAGER))
  assert.not.ok(istioMatches('*', ''), '* means present')
  assert.ok(coveredBy(MANAGER, [MANAGER]))
  assert.ok(coveredBy('cluster.local/ns/default/sa/x*', ['cluster.local/ns/default/*']))
  assert.not.ok(coveredBy('cluster.local/ns/*', ['cluster.local/ns/default/*']))
  assert.not.ok(coveredBy('*', [MANAGER]))
})

test('what a foreign ALLOW policy admits beyond the plan', () => {
  const plan = { principals: [MANAGER] }
  const beyond = (spec: any, enforcer: 'ztunnel' | 'waypoint' = 'ztunnel', annotations?: Record<string, string>) =>
    admitsBeyond(policy('default', spec, annotations), enforcer, plan)
  assert.equal(beyond({ rules: [{}] }), ['rule 1: every caller (plaintext included)'])
  assert.equal(beyond({}), [], 'an ALLOW policy without rules matches nothing (rbac.rs)')
  assert.equal(beyond({ rules: [{ from: [{ source: { principals: [MANAGER] } }] }] }), [])
  assert.equal(beyond({ rules: [{ from: [{ source: { principals: ['cluster.local/ns/x/sa/y'] } }] }] }), [
    'rule 1: principals cluster.local/ns/x/sa/y',
  ])
  assert.equal(beyond({ rules: [{ from: [{ source: { principals: ['*'] } }] }] }), ['rule 1: principals *'])
  assert.equal(beyond({ rules: [{ from: [{ source: { serviceAccounts: ['gthulhu-manager'] } }] }] }), [])
  assert.equal(beyond({ rules: [{ from: [{ source: { namespaces: ['default'] } }] }] }), [
    'rule 1: any identity in namespace(s) default',
  ])
  assert.equal(beyond({ rules: [{ from: [{ source: { notPrincipals: ['cluster.local/ns/x/sa/y'] } }] }] }), [
    'rule 1: every caller but cluster.local/ns/x/sa/y (plaintext included)',
  ])
  // ztunnel drops an ALLOW rule with an HTTP attribute (authorization.go handleRule); a waypoint enforces it.
  const byPath = { rules: [{ to: [{ operation: { paths: ['/health'] } }] }] }
  assert.equal(beyond(byPath), [])
  assert.equal(beyond(byPath, 'waypoint'), ['rule 1: every caller'])
  // A `when` on source.principal within the plan bounds the rule whatever its from says.
  assert.equal(beyond({ rules: [{ when: [{ key: 'source.principal', values: [MANAGER] }] }] }), [])
  // An empty source matches nothing at ztunnel (rbac.rs skips an empty match) but anyone at an Envoy (model.go).
  assert.equal(beyond({ rules: [{ from: [{ source: {} }] }] }), [])
  assert.equal(beyond({ rules: [{ from: [{ source: {} }] }] }, 'waypoint'), ['rule 1: every caller'])
  assert.equal(beyond({ action: 'DENY', rules: [{}] }), [], 'DENY refuses, it admits no one')
  assert.equal(beyond({ rules: [{}] }, 'ztunnel', { 'istio.io/dry-run': 'true' }), [], 'a dry run is not enforced')
  assert.equal(admitsBeyond(policy('default', { rules: [{}] }), 'gateway', { userAgents: ['Mozilla/5.0 *'] }), [
    'rule 1: requests with any User-Agent',
  ])
  assert.equal(
    admitsBeyond(
      policy('default', { rules: [{ when: [{ key: 'request.headers[User-Agent]', values: ['Mozilla/5.0 x*'] }] }] }),
      'gateway',
      { userAgents: ['Mozilla/5.0 *'] },
    ),
    [],
  )
})

test('the mTLS mode ztunnel enforces: mesh, namespace, workload, and port exceptions', () => {
  let created = 0
  const pa = (namespace: string, spec: any): KubeObject => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: `pa${++created}`, namespace, creationTimestamp: `2026-01-01T00:00:0${created}Z` },
    spec,
  })
  const mesh = pa('istio-system', { mtls: { mode: 'STRICT' } })
  assert.equal(effectiveMtls([], 'default', MONGO).strict, false, 'no policy: PERMISSIVE')
  assert.equal(effectiveMtls([mesh], 'default', MONGO), { strict: true, exemptPorts: [], decidedBy: mesh })
  const permissive = pa('default', { mtls: { mode: 'PERMISSIVE' } })
  const e = effectiveMtls([mesh, permissive], 'default', MONGO)
  assert.equal([e.strict, e.overrides?.by.metadata.name], [false, permissive.metadata.name])
  // DISABLE lets plaintext in just as PERMISSIVE does; UNSET inherits.
  const disable = pa('default', { selector: { matchLabels: MONGO }, mtls: { mode: 'DISABLE' } })
  assert.is(effectiveMtls([mesh, disable], 'default', MONGO).overrides?.by, disable)
  assert.is(effectiveMtls([mesh, pa('default', { mtls: { mode: 'UNSET' } })], 'default', MONGO).strict, true)
  const ports = pa('default', {
    selector: { matchLabels: MONGO },
    mtls: { mode: 'STRICT' },
    portLevelMtls: { 27017: { mode: 'PERMISSIVE' } },
  })
  assert.equal(effectiveMtls([ports], 'default', MONGO).exemptPorts, ['27017'])
  // Of two namespace-wide policies the oldest counts.
  const older = pa('default', { mtls: { mode: 'STRICT' } })
  const newer = pa('default', { mtls: { mode: 'PERMISSIVE' } })
  assert.is(effectiveMtls([newer, older], 'default', MONGO).strict, true)
})

test.run()
