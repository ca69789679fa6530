// Which kubectl commands the runbook may send as API requests through its proxy, and how (lib/kube/rest.ts): a
// command is translated only when every part of it is understood; anything else is left to kubectl.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  apiResource,
  listItems,
  listQuery,
  namesAnObject,
  restCommandOf,
  restPath,
  serverError,
} from '../lib/kube/rest.ts'

/** A command whose stdin is the given objects (none unless given). */
const of = (args: string[], ...objects: object[]) => restCommandOf(args, () => objects)

test('reads: named objects, lists of several kinds, selectors, and what is left to kubectl', () => {
  const one = of(['get', 'deployment', 'gthulhu-manager', '-n', 'gthulhu', '-o', 'json'])
  assert.equal(one, {
    verb: 'get',
    reads: [{ resource: apiResource('deployments'), namespace: 'gthulhu', name: 'gthulhu-manager' }],
    oneObject: true,
    ignoreNotFound: false,
  })
  const lists = of(['get', 'services,networkpolicies', '-n', 'x', '-l', 'a=b', '-o', 'json'])
  assert.is(lists?.verb, 'get')
  assert.equal(lists?.verb === 'get' && lists.reads.map((r) => [r.resource.plural, r.namespace, r.labelSelector]), [
    ['services', 'x', 'a=b'],
    ['networkpolicies', 'x', 'a=b'],
  ])
  const refs = of(['get', 'secret/a', 'namespace/b', '-n', 'x', '-o', 'json', '--ignore-not-found'])
  assert.equal(refs?.verb === 'get' && refs.reads.map((r) => [r.resource.kind, r.namespace, r.name]), [
    ['Secret', 'x', 'a'],
    ['Namespace', undefined, 'b'],
  ])
  assert.ok(refs?.verb === 'get' && !refs.oneObject && refs.ignoreNotFound)
  // Left to kubectl: no -o json, a namespaced read without -n (the kubeconfig's namespace), an unknown or
  // ambiguous resource name, a flag this does not model.
  for (const args of [
    ['get', 'pods', '-n', 'x'],
    ['get', 'pods', '-o', 'json'],
    ['get', 'gateways', '-n', 'x', '-o', 'json'],
    ['get', 'widgets', '-n', 'x', '-o', 'json'],
    ['get', 'pods', '-n', 'x', '-o', 'json', '--sort-by=.metadata.name'],
    ['get', 'pods', '-n', 'x', '-o', 'jsonpath={.items}'],
  ])
    assert.is(of(args), undefined, args.join(' '))
  assert.ok(of(['get', 'gateways.gateway.networking.k8s.io', '-n', 'x', '-o', 'json']))
})

test('writes: objects created or replaced, server-side apply with its manager, impersonation', () => {
  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'x' } }
  const replace = of(['replace', '-f', '-', '-o', 'json'], secret)
  assert.equal(replace?.verb === 'replace' && [replace.output, replace.objects[0].resource.plural], ['json', 'secrets'])
  const configMap = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'x' } })
  const apply = of(
    [
      'apply',
      '--dry-run=server',
      '-o',
      'json',
      '--server-side',
      '--field-manager=gthulhu-runbook',
      '--force-conflicts',
      '-f',
      '-',
    ],
    configMap('a'),
    configMap('b'),
  )
  assert.ok(apply?.verb === 'apply' && apply.dryRun && apply.force && apply.fieldManager === 'gthulhu-runbook')
  assert.equal(apply?.verb === 'apply' && apply.objects.map((o) => o.object.metadata.name), ['a', 'b'])
  const asUser = of(
    ['create', '--dry-run=server', '-o', 'name', '--as=u', '--as-group=g1', '--as-group=g2', '-f', '-'],
    secret,
  )
  assert.equal(asUser?.verb === 'create' && asUser.impersonate, { user: 'u', groups: ['g1', 'g2'] })
  // Left to kubectl: client-side apply, a client dry run, an object without a namespace or of an unknown kind,
  // several objects created under -o json (kubectl prints them one after another, not as a List).
  assert.is(of(['apply', '-f', '-'], secret), undefined)
  assert.is(of(['create', '--dry-run=client', '-f', '-'], secret), undefined)
  assert.is(of(['create', '-f', '-'], { ...secret, metadata: { name: 's' } }), undefined)
  assert.is(of(['create', '-f', '-'], { ...secret, kind: 'Widget' }), undefined)
  assert.is(of(['create', '-f', '-', '-o', 'yaml'], secret), undefined)
})

test('deletes only by selector and without waiting, logs only of a selection with prefixes', () => {
  assert.is(of(['delete', 'pods,services', '-n', 'x', '-l', 'a=b', '--ignore-not-found']), undefined)
  // kubectl deletes named objects without reading them first: left to it (RBAC `delete` only).
  assert.is(of(['delete', 'secret', 'a', '-n', 'x', '--ignore-not-found', '--wait=false']), undefined)
  const del = of(['delete', 'pods,services', '-n', 'x', '-l', 'a=b', '--ignore-not-found', '--wait=false'])
  assert.equal(del?.verb === 'delete' && del.reads.map((r) => r.resource.plural), ['pods', 'services'])
  assert.ok(of(['logs', '-n', 'x', '-l', 'a=b', '--prefix', '--tail=-1', '--max-log-requests=9']))
  assert.is(of(['logs', '-n', 'x', '-l', 'a=b', '--tail=-1']), undefined, 'without --prefix the output differs')
  assert.is(of(['logs', 'pod-a', '-n', 'x', '--prefix', '--tail=-1']), undefined)
})

test('labels: one named object, set with --overwrite or removed, in one merge patch; the rest left to kubectl', () => {
  const set = of(['label', 'secret', 'rec-1', '-n', 'x', 'status=superseded', 'owner=me', '--overwrite'])
  assert.equal(set?.verb === 'label' && [set.target.resource.plural, set.target.namespace, set.target.name], [
    'secrets',
    'x',
    'rec-1',
  ])
  assert.equal(set?.verb === 'label' && set.labels, { status: 'superseded', owner: 'me' })
  const removed = of(['label', 'namespace/default', 'istio.io/use-waypoint-'])
  assert.equal(removed?.verb === 'label' && removed.labels, { 'istio.io/use-waypoint': null })
  assert.is(of(['label', 'secret', 'a', '-n', 'x', 'k=v']), undefined, 'without --overwrite kubectl reads first')
  assert.is(of(['label', 'secret', 'a', 'k=v', '--overwrite']), undefined, "the kubeconfig's namespace")
  assert.is(of(['label', 'secrets', '-n', 'x', '-l', 'a=b', 'k=v', '--overwrite']), undefined, 'by selector')
  assert.is(of(['label', 'secret', 'a', '-n', 'x', 'k=v', 'k-', '--overwrite']), undefined, 'a key named twice')
  assert.is(of(['label', 'secret', 'a', '-n', 'x', 'k=bad value', '--overwrite']), undefined, "kubectl's own error")
  assert.is(of(['label', 'secret', 'a', '-n', 'x', '-bad=v', '--overwrite']), undefined)
})

test("paths, queries, list items as kubectl prints them, and errors in kubectl's words", () => {
  assert.is(restPath(apiResource('deployments')!, 'v1', 'x', 'd'), '/apis/apps/v1/namespaces/x/deployments/d')
  assert.is(restPath(apiResource('namespaces')!, 'v1', 'ignored', 'n'), '/api/v1/namespaces/n')
  assert.is(listQuery({ labelSelector: 'a=b,c in (d)' }, true), '?labelSelector=a%3Db%2Cc+in+%28d%29&watch=1')
  // kube-apiserver's items of built-in kinds carry neither; kubectl fills both in.
  assert.equal(
    listItems({ apiVersion: 'apps/v1', kind: 'DeploymentList', items: [{ metadata: { name: 'd' } } as never] }),
    [{ metadata: { name: 'd' }, apiVersion: 'apps/v1', kind: 'Deployment' }],
  )
  const conflict = JSON.stringify({ kind: 'Status', reason: 'Conflict', message: 'the object has been modified' })
  assert.is(
    serverError(409, conflict, 'error when replacing "STDIN"'),
    'Error from server (Conflict): error when replacing "STDIN": the object has been modified',
  )
  assert.is(serverError(403, 'forbidden'), 'Error from server (Forbidden): forbidden')
  // A 404 names an object, or a path the server does not serve (kube-apiserver's plain text, or a bare Status).
  const missing = { kind: 'Status', reason: 'NotFound', details: { name: 'x', kind: 'configmaps' }, code: 404 }
  assert.ok(namesAnObject(JSON.stringify(missing)))
  assert.not.ok(namesAnObject('404 page not found\n'))
  assert.not.ok(namesAnObject(JSON.stringify({ kind: 'Status', reason: 'NotFound', details: {}, code: 404 })))
})

test.run()
