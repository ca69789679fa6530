// The audit's pure parts: comparing an object with its plan field by field, reading a foreign NetworkPolicy against
// the plan, label selectors, and what the threat model says once a layer is out of force.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../lib/config/options.ts'
import { comparedView, comparisonCheck, diffFields, diffLines, fieldPath, fieldsBeyond } from '../lib/domain/drift.ts'
import { admitsBeyondPlan } from '../lib/domain/network-policies.ts'
import { selectorMatches } from '../lib/kube/object.ts'
import type { KubeObject } from '../lib/types.ts'
import { auditPaths, isOpen } from '../lib/verify/threat-model.ts'
import { describeAudited, fleetTable, verdictText, type AuditOutcome } from '../lib/run/audit.ts'

const object = (metadata: Partial<KubeObject['metadata']>, spec: any): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Thing',
  metadata: { name: 't', namespace: 'default', ...metadata },
  spec,
})

test('a field changed, removed or added is a difference; each label and annotation counts on its own', () => {
  const plan = object({ labels: { a: '1' } }, { selector: { matchLabels: { app: 'db' } }, ports: [1, 2] })
  const live = object(
    { labels: { a: '1' }, annotations: { 'istio.io/dry-run': 'true', note: 'x' }, resourceVersion: '9' },
    { selector: { matchLabels: { app: 'db', tier: 'x' } }, ports: [1, 3] },
  )
  const changed = diffFields(comparedView(live), comparedView(plan))
  assert.equal(
    changed.map((c) => fieldPath(c.at)),
    [
      'metadata.annotations["istio.io/dry-run"]',
      'metadata.annotations.note',
      'spec.ports[1]',
      'spec.selector.matchLabels.tier',
    ],
  )
  const beyond = fieldsBeyond(comparedView(live), comparedView(plan))
  assert.equal(
    beyond.map((c) => fieldPath(c.at)),
    ['metadata.annotations["istio.io/dry-run"]', 'metadata.annotations.note', 'spec.selector.matchLabels.tier'],
  )
  assert.equal(diffLines([{ at: ['spec', 'ports', 1], live: 3, planned: 2 }]), [
    '- spec.ports[1]: 3',
    '+ spec.ports[1]: 2',
  ])
  assert.equal(
    diffFields(comparedView(plan), comparedView({ ...plan, status: { x: 1 } })),
    [],
    'status is not compared',
  )
})

test('the check names an annotation that turns a policy off, and carries the diff', () => {
  const plan = object({}, { action: 'ALLOW' })
  const live = object({ annotations: { 'istio.io/dry-run': 'true' } }, { action: 'ALLOW' })
  const foreign = fieldsBeyond(comparedView(live), comparedView(plan))
  const check = comparisonCheck({ desired: plan, live, changes: [], foreign }, 'ALLOW only x', 'run it again')
  assert.is(check.ok, false)
  assert.match(check.observed, /not enforced: istio\.io\/dry-run is "true"/)
  assert.equal(check.diff, ['- metadata.annotations["istio.io/dry-run"]: "true"'])
  assert.is(comparisonCheck({ desired: plan, changes: [], foreign: [] }, 'x', 'y').observed, 'not found')
  assert.is(comparisonCheck({ desired: plan, live: plan, changes: [], foreign: [] }, 'x', 'y').ok, true)
})

test('label selectors: matchLabels and every matchExpressions operator', () => {
  const labels = { app: 'db', tier: 'a' }
  assert.ok(selectorMatches({}, labels), '{} selects everything')
  assert.not.ok(selectorMatches(undefined, labels), 'no selector selects nothing')
  assert.ok(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'In', values: ['db', 'x'] }] }, labels))
  assert.not.ok(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['db'] }] }, labels))
  assert.ok(selectorMatches({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, labels))
  assert.ok(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, labels))
  assert.ok(selectorMatches({ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, labels))
  assert.not.ok(
    selectorMatches(
      { matchLabels: { app: 'db' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['b'] }] },
      labels,
    ),
    'matchLabels AND matchExpressions',
  )
})

test('a foreign NetworkPolicy admits more than the plan unless every peer and port is inside it', () => {
  const plan = {
    namespace: 'default',
    fromPods: { app: 'manager' },
    podPorts: [27017, 15008],
    blocks: ['169.254.7.127/32'],
    blockPorts: [27017],
  }
  const np = (spec: any): KubeObject => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'n' },
    spec,
  })
  assert.equal(admitsBeyondPlan(np({ ingress: [{}] }), plan), ['every source on every port'])
  assert.equal(admitsBeyondPlan(np({ ingress: [] }), plan), [], 'no rule admits nothing')
  assert.equal(admitsBeyondPlan(np({ policyTypes: ['Egress'], ingress: [{}] }), plan), [], 'egress only')
  const manager = { podSelector: { matchLabels: { app: 'manager', extra: 'y' } } }
  assert.equal(admitsBeyondPlan(np({ ingress: [{ from: [manager], ports: [{ port: 27017 }] }] }), plan), [])
  assert.equal(admitsBeyondPlan(np({ ingress: [{ from: [manager] }] }), plan), [
    'pods app=manager,extra=y of its namespace on every port',
  ])
  assert.equal(
    admitsBeyondPlan(np({ ingress: [{ from: [manager], ports: [{ port: 27017, endPort: 27020 }] }] }), plan),
    ['pods app=manager,extra=y of its namespace on 27017-27020/TCP'],
  )
  const byExpression = { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['manager'] }] } }
  assert.equal(admitsBeyondPlan(np({ ingress: [{ from: [byExpression], ports: [{ port: 15008 }] }] }), plan), [])
  assert.equal(
    admitsBeyondPlan(
      np({ ingress: [{ from: [{ podSelector: { matchLabels: { app: 'other' } } }], ports: [{ port: 27017 }] }] }),
      plan,
    ),
    ['pods app=other of its namespace on 27017/TCP'],
  )
  // Another namespace's pods are beyond the plan, unless the namespaceSelector pins this namespace by its name label.
  const anyNamespace = { namespaceSelector: {}, podSelector: { matchLabels: { app: 'manager' } } }
  assert.equal(admitsBeyondPlan(np({ ingress: [{ from: [anyNamespace], ports: [{ port: 27017 }] }] }), plan).length, 1)
  const pinned = {
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'default' } },
    podSelector: manager.podSelector,
  }
  assert.equal(admitsBeyondPlan(np({ ingress: [{ from: [pinned], ports: [{ port: 27017 }] }] }), plan), [])
  assert.equal(
    admitsBeyondPlan(
      np({ ingress: [{ from: [{ ipBlock: { cidr: '169.254.7.127/32' } }], ports: [{ port: 27017 }] }] }),
      plan,
    ),
    [],
  )
  assert.equal(
    admitsBeyondPlan(
      np({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' } }], ports: [{ port: 27017 }] }] }),
      plan,
    ),
    ['addresses 10.0.0.0/8 on 27017/TCP'],
  )
})

const config = loadConfig(['--context', 'c'])
const allDone = () => true

test('the threat model after an audit: a voided layer weakens a path, the last one reopens it, a probe that got through opens it', () => {
  const clean = auditPaths(config, allDone, [])
  const open = clean.filter(isOpen).map((r) => r.path.id)
  assert.ok(open.length > 0 && clean.every((r) => r.status === 'closed' || r.status === 'open'))
  const byCni = auditPaths(config, allDone, [{ layer: 'CNI NetworkPolicy', target: 'mongodb' }])
  const row = byCni.find((r) => r.path.id === 'other-pod-to-mongodb')!
  assert.is(row.status, 'weakened')
  assert.match(describeAudited(row), /now refused only by ztunnel identity policy, not by CNI NetworkPolicy/)
  assert.is(byCni.filter(isOpen).length, open.length, 'weakened is not open')
  const both = auditPaths(config, allDone, [
    { layer: 'CNI NetworkPolicy', target: 'mongodb' },
    { layer: 'ztunnel identity policy', target: 'mongodb' },
  ])
  assert.is(both.find((r) => r.path.id === 'other-pod-to-mongodb')!.status, 'reopened')
  assert.is(both.find((r) => r.path.id === 'copied-labels-to-mongodb')!.status, 'reopened')
  assert.is(
    both.find((r) => r.path.id === 'copied-labels-to-decision-maker')!.status,
    'closed',
    'other targets keep theirs',
  )
  const seen = auditPaths(config, allDone, [], new Set(['pod-ip-to-manager', 'host-network-same-node']))
  assert.is(seen.find((r) => r.path.id === 'pod-ip-to-manager')!.status, 'seen open')
  // No layer closes it: seen open, it is open as the model says (disclosed), not a weakening.
  const sameNode = seen.find((r) => r.path.id === 'host-network-same-node')!
  assert.equal([sameNode.status, isOpen(sameNode)], ['open', true])
  assert.match(sameNode.why!, /169\.254\.7\.127/)
  assert.not.match(verdictText({ ...outcome('c', 0, true), paths: seen }), /host-network-same-node/)
})

const outcome = (context: string, drifts: number, probed: boolean): AuditOutcome => ({
  context,
  audited: ['preflight', 'l4-policies'],
  holding: drifts ? 1 : 2,
  drifts: Array.from({ length: drifts }, () => ({
    step: 'l4-policies' as const,
    check: 'c',
    expected: 'e',
    observed: 'o',
    diff: ['- a: 1'],
  })),
  paths: auditPaths(config, allDone, []),
  pathsOpen: auditPaths(config, allDone, []).filter(isOpen).length,
  probed,
  results: [],
  exitCode: drifts ? 1 : 0,
})

test('the verdict says whether reachability was tried; the fleet table has one row per context', () => {
  assert.match(verdictText(outcome('a', 0, true)), /✔ everything the runbook set up still holds/)
  const unprobed = verdictText(outcome('a', 0, false))
  assert.match(unprobed, /reachability was NOT tried \(--no-probes\)/)
  assert.not.match(unprobed, /still holds/)
  const drifted = verdictText(outcome('b', 1, false))
  assert.match(drifted, /✖ 1 drift\(s\):\n {2}l4-policies: c — expected e, observed o\n {6}- a: 1/)
  const table = fleetTable([outcome('alpha', 0, true), outcome('beta', 2, true)]).split('\n')
  assert.match(table[0], /context\s+steps holding\s+drifts\s+paths open\s+verdict/)
  assert.match(table[2], /alpha\s+2\/2\s+0\s+\d+\s+✔ holds/)
  assert.match(table[3], /beta\s+1\/2\s+2\s+\d+\s+✖ drifted/)
})

test.run()
