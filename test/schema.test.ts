import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { UsageError } from '../lib/config/errors.ts'
import { loadManifests } from '../lib/kube/manifests.ts'
import { assertValidManifests, checkFormat, validateManifest } from '../lib/kube/schema.ts'
import type { KubeObject } from '../lib/types.ts'

const clone = <T>(value: T): T => structuredClone(value)
const gateway = () => clone(loadManifests('gateway.yaml').find((o) => o.kind === 'Gateway')!)
const route = () => clone(loadManifests('gateway.yaml').find((o) => o.kind === 'HTTPRoute')!)

/** Asserts that exactly one problem is reported and that it matches. */
const oneProblem = (object: KubeObject, pattern: RegExp) => {
  const problems = validateManifest(object)
  assert.is(problems.length, 1, `expected one problem, got ${JSON.stringify(problems)}`)
  assert.match(problems[0], pattern)
}

const networkPolicy = (): KubeObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'allow-only-manager-to-mongodb', namespace: 'default' },
  spec: {
    podSelector: { matchLabels: { 'app.kubernetes.io/name': 'mongodb', 'app.kubernetes.io/instance': 'gthulhu' } },
    policyTypes: ['Ingress'],
    ingress: [
      {
        from: [
          { podSelector: { matchLabels: { 'app.kubernetes.io/component': 'manager' } } },
          { ipBlock: { cidr: '169.254.7.127/32' } },
        ],
        ports: [
          { protocol: 'TCP', port: 27017 },
          { protocol: 'TCP', port: 15008 },
        ],
      },
    ],
  },
})

const authorizationPolicy = (): KubeObject => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'manager-allow-scheduler', namespace: 'default' },
  spec: {
    targetRefs: [{ kind: 'Service', group: '', name: 'gthulhu-manager' }],
    action: 'ALLOW',
    rules: [
      {
        from: [{ source: { principals: ['cluster.local/ns/default/sa/gthulhu'] } }],
        to: [{ operation: { ports: ['8080'], methods: ['GET'] } }],
      },
    ],
  },
})

const pod = (): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'runbook-probe-abc12',
    namespace: 'default',
    labels: { 'app.kubernetes.io/managed-by': 'gthulhu-runbook' },
  },
  spec: {
    restartPolicy: 'Never',
    containers: [{ name: 'probe', image: 'busybox:1.36', command: ['nc', '-z', '-w', '3', '10.0.0.1', '27017'] }],
  },
})

test("the guide's Gateway and HTTPRoute, and sample policies and pods, pass", () => {
  for (const object of [gateway(), route(), networkPolicy(), authorizationPolicy(), pod()]) {
    assert.equal(validateManifest(object), [], `${object.kind} should be valid`)
  }
})

test('a listener port outside 1–65535 is reported with its path', () => {
  const g = gateway()
  g.spec.listeners[0].port = 70000
  oneProblem(g, /^spec\.listeners\[0\]\.port: 70000 is outside 1–65535$/)
})

test('bad label keys and values are reported', () => {
  const g = gateway()
  g.metadata.labels = { 'bad key!': 'x', 'example.com/ok': 'not ok value' }
  const problems = validateManifest(g)
  assert.is(problems.length, 2, JSON.stringify(problems))
  assert.match(problems[0], /^metadata\.labels: key "bad key!" is not a valid key/)
  assert.match(problems[1], /^metadata\.labels\.example\.com\/ok: "not ok value" is not a valid label value/)
  const prefixed = gateway()
  prefixed.metadata.labels = { 'Example.COM/x': 'y' }
  oneProblem(prefixed, /prefix that is not a DNS-1123 subdomain/)
})

test('names and namespaces follow DNS-1123 rules, and a namespace is required', () => {
  const g = gateway()
  g.metadata.name = 'Gthulhu_GW'
  const problems = validateManifest(g)
  assert.ok(
    problems.some((p) => /^metadata\.name: "Gthulhu_GW" is not a DNS-1123 subdomain/.test(p)),
    JSON.stringify(problems),
  )
  const r = route()
  r.metadata.namespace = 'a.b'
  oneProblem(r, /^metadata\.namespace: "a\.b" is not a DNS-1123 label/)
  const n = networkPolicy()
  delete n.metadata.namespace
  oneProblem(n, /^metadata\.namespace: required/)
  assert.is(checkFormat('dns1123-label', 'a'.repeat(64))?.includes('63'), true)
})

test("an Istio Gateway whose '<name>-istio' Service name would be invalid is rejected", () => {
  const g = gateway()
  g.metadata.name = '1gw' // a valid subdomain, but Service "1gw-istio" must start with a letter
  oneProblem(g, /Istio creates a Service named "1gw-istio"/)
})

test('unknown spec fields, missing required fields and wrong types are reported', () => {
  const g = gateway()
  g.spec.listner = []
  delete g.spec.gatewayClassName
  g.spec.listeners[0].protocol = 'HTTP2'
  const problems = validateManifest(g)
  assert.ok(problems.includes('spec.listner: unknown field'), JSON.stringify(problems))
  assert.ok(problems.includes('spec.gatewayClassName: required'), JSON.stringify(problems))
  assert.ok(
    problems.some((p) => /^spec\.listeners\[0\]\.protocol: "HTTP2" is not one of/.test(p)),
    JSON.stringify(problems),
  )
  const r = route()
  r.spec.rules[0].backendRefs[0].port = '8080'
  oneProblem(r, /^spec\.rules\[0\]\.backendRefs\[0\]\.port: expected an integer, got a string/)
  const top = route()
  ;(top as any).spce = {}
  oneProblem(top, /^spce: unknown top-level field/)
})

test('a Service backend without a port, and a wrong apiVersion, are reported', () => {
  const r = route()
  delete r.spec.rules[0].backendRefs[0].port
  oneProblem(r, /^spec\.rules\[0\]\.backendRefs\[0\]\.port: a Service backend needs a port/)
  const g = gateway()
  g.apiVersion = 'gateway.networking.k8s.io/v1beta1'
  oneProblem(g, /^apiVersion: .* is not gateway\.networking\.k8s\.io\/v1/)
})

test('NetworkPolicy: protocol, policyTypes, port, ipBlock and selector rules', () => {
  const n = networkPolicy()
  n.spec.policyTypes = ['Ingres']
  n.spec.ingress[0].ports[0].protocol = 'tcp'
  n.spec.ingress[0].ports[1].port = 0
  n.spec.ingress[0].from[1].ipBlock.cidr = '169.254.7.127/33'
  n.spec.ingress[0].from[0].namespaceSelector = {
    matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In' }],
  }
  const problems = validateManifest(n)
  assert.equal(problems.sort(), [
    'spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].values: operator In needs at least one value',
    'spec.ingress[0].from[1].ipBlock.cidr: "169.254.7.127/33" is not a CIDR like 10.0.0.0/8 or fd00::/64',
    'spec.ingress[0].ports[0].protocol: "tcp" is not one of TCP, UDP, SCTP',
    'spec.ingress[0].ports[1].port: 0 is outside 1–65535',
    'spec.policyTypes[0]: "Ingres" is not one of Ingress, Egress',
  ])
  const named = networkPolicy()
  named.spec.ingress[0].ports[0].port = 'mongodb'
  named.spec.ingress[0].from[1] = { ipBlock: { cidr: 'fd16:9254:7127:1337:ffff:ffff:ffff:ffff/128' }, podSelector: {} }
  oneProblem(named, /^spec\.ingress\[0\]\.from\[1\]\.ipBlock: ipBlock cannot be combined/)
})

test('AuthorizationPolicy: action, targetRefs kind/group, ports and selector exclusivity', () => {
  const a = authorizationPolicy()
  a.spec.action = 'allow'
  a.spec.targetRefs[0].kind = 'Deployment'
  a.spec.rules[0].to[0].operation.ports = ['80a']
  const problems = validateManifest(a)
  assert.ok(
    problems.includes('spec.action: "allow" is not one of ALLOW, DENY, AUDIT, CUSTOM'),
    JSON.stringify(problems),
  )
  assert.ok(
    problems.some((p) => /^spec\.targetRefs\[0\]\.kind: "Deployment" is not one of Service, Gateway/.test(p)),
    JSON.stringify(problems),
  )
  assert.ok(
    problems.includes('spec.rules[0].to[0].operation.ports[0]: "80a" is not a port number 1–65535'),
    JSON.stringify(problems),
  )
  const wrongGroup = authorizationPolicy()
  wrongGroup.spec.targetRefs[0] = { kind: 'Gateway', group: '', name: 'gthulhu-gw' }
  oneProblem(wrongGroup, /^spec\.targetRefs\[0\]\.group: kind Gateway is in group "gateway\.networking\.k8s\.io"/)
  const both = authorizationPolicy()
  both.spec.selector = { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'gthulhu-gw' } }
  oneProblem(both, /^spec\.selector: selector cannot be combined with targetRef/)
  const condition = authorizationPolicy()
  condition.spec.rules[0].when = [{ key: 'request.headers[User-Agent]' }]
  oneProblem(
    condition,
    /^spec\.rules\[0\]\.when\[0\]: condition "request\.headers\[User-Agent\]" needs values or notValues/,
  )
})

test('Pod: container name, image, restartPolicy and containerPort', () => {
  const p = pod()
  p.spec.restartPolicy = 'Sometimes'
  p.spec.containers[0].name = 'Probe'
  p.spec.containers[0].ports = [{ containerPort: 65536 }]
  p.spec.containers.push({ name: 'second' })
  assert.equal(validateManifest(p).sort(), [
    'spec.containers[0].name: "Probe" is not a DNS-1123 label (at most 63 lower-case letters, digits and \'-\', starting and ending with a letter or digit)',
    'spec.containers[0].ports[0].containerPort: 65536 is outside 1–65535',
    'spec.containers[1].image: required',
    'spec.restartPolicy: "Sometimes" is not one of Always, OnFailure, Never',
  ])
})

test('an unknown kind is reported rather than passed', () => {
  oneProblem(
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'default' } },
    /^kind: no schema for kind "ConfigMap"/,
  )
})

test('assertValidManifests throws a UsageError naming every object, field and problem', () => {
  const g = gateway()
  g.spec.listeners[0].port = 70000
  const r = route()
  r.metadata.labels = { 'bad key!': 'x' }
  assert.not.throws(() => assertValidManifests([gateway(), route()]))
  try {
    assertValidManifests([g, r])
    assert.unreachable('should have thrown')
  } catch (error) {
    assert.instance(error, UsageError)
    assert.is((error as UsageError).exitCode, 2)
    const message = (error as Error).message
    assert.match(message, /^2 problems in the rendered manifests; nothing was applied/)
    assert.match(message, /Gateway default\/gthulhu-gw: spec\.listeners\[0\]\.port: 70000 is outside 1–65535/)
    assert.match(message, /HTTPRoute default\/gthulhu-manager-route: metadata\.labels: key "bad key!"/)
  }
})

test.run()
