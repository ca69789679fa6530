// The simulated API server's RBAC, through the real kubectl over TLS, against kubernetes/kubernetes v1.32.0's rules
// (test/sim/README.md cites them): what a rule's verbs, groups, resources, subresources, resourceNames and
// nonResourceURLs allow, a RoleBinding's namespace, the 403 kubectl shows, `kubectl auth can-i`, impersonation and
// the escalation check on writing roles and bindings.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startSimulator, type Simulator } from './sim/index.ts'
import { kubectl } from './kit.ts'

let sim: Simulator
let carol: Record<string, string>
const admin = (args: string[], input?: string) => kubectl(sim.env, args, { input, timeoutMs: 30_000 })
const asCarol = (args: string[], input?: string) =>
  kubectl({ ...sim.env, ...carol }, args, { input, timeoutMs: 30_000 })
async function ok(args: string[], input?: string): Promise<string> {
  const r = await admin(args, input)
  assert.is(r.code, 0, `kubectl ${args.join(' ')}:\n${r.stderr}`)
  return r.stdout
}
const yaml = (...objects: object[]) => objects.map((o) => JSON.stringify(o)).join('\n---\n')
const role = (kind: 'Role' | 'ClusterRole', name: string, rules: object[], namespace?: string) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}) },
  rules,
})
const binding = (
  kind: 'RoleBinding' | 'ClusterRoleBinding',
  name: string,
  roleRef: { kind: string; name: string },
  namespace?: string,
  user = 'carol',
) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}) },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...roleRef },
  subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
})

test.before(async () => {
  sim = await startSimulator()
  carol = { KUBECONFIG: sim.addUser({ token: 'carol-token', username: 'carol' }) }
  await ok(['create', 'namespace', 'team'])
})
test.after(async () => {
  await sim?.stop()
})

test('a user without bindings may only discover the API; a refusal reads as kube-apiserver writes it', async () => {
  // system:discovery and system:basic-user are bound to every authenticated user.
  assert.is((await asCarol(['api-resources', '-o', 'name'])).code, 0)
  assert.match((await asCarol(['auth', 'whoami'])).stdout, /carol/)
  const list = await asCarol(['get', 'pods', '-n', 'default'])
  assert.is(list.code, 1)
  assert.match(
    list.stderr,
    'Error from server (Forbidden): pods is forbidden: User "carol" cannot list resource "pods" in API group "" in the namespace "default"',
  )
  const crds = await asCarol(['get', 'customresourcedefinitions'])
  assert.match(
    crds.stderr,
    'customresourcedefinitions.apiextensions.k8s.io is forbidden: User "carol" cannot list resource "customresourcedefinitions" in API group "apiextensions.k8s.io" at the cluster scope',
  )
  const named = await asCarol(['get', 'secret', 'nope', '-n', 'default'])
  assert.match(named.stderr, 'secrets "nope" is forbidden: User "carol" cannot get resource "secrets"')
})

test('resourceNames allow only those objects; a list or a create by POST has no name to match', async () => {
  await ok(['create', 'configmap', 'one', '-n', 'team', '--from-literal=k=v'])
  await ok(['create', 'configmap', 'two', '-n', 'team', '--from-literal=k=v'])
  await ok(
    ['apply', '-f', '-'],
    yaml(
      role(
        'Role',
        'one-only',
        [
          {
            apiGroups: [''],
            resources: ['configmaps'],
            resourceNames: ['one'],
            verbs: ['get', 'create', 'watch', 'list'],
          },
        ],
        'team',
      ),
      binding('RoleBinding', 'one-only', { kind: 'Role', name: 'one-only' }, 'team'),
    ),
  )
  assert.is((await asCarol(['get', 'configmap', 'one', '-n', 'team'])).code, 0)
  assert.match((await asCarol(['get', 'configmap', 'two', '-n', 'team'])).stderr, 'configmaps "two" is forbidden')
  assert.match((await asCarol(['get', 'configmaps', '-n', 'team'])).stderr, 'cannot list resource "configmaps"')
  // A create by POST is authorized before the object's name is known (requestinfo.go): resourceNames cannot match it.
  const create = await asCarol(['create', 'configmap', 'one-more', '-n', 'team', '--from-literal=k=v'])
  assert.match(create.stderr, 'cannot create resource "configmaps" in API group "" in the namespace "team"')
  // A watch of one object (fieldSelector metadata.name=one) is authorized for that name.
  const watch = await asCarol(['get', 'configmap', 'one', '-n', 'team', '--watch', '--request-timeout=2s'])
  assert.not.match(watch.stderr, 'forbidden')
})

test('a RoleBinding to a ClusterRole grants its rules in the binding namespace only; subresources need their own rule', async () => {
  await ok(
    ['apply', '-f', '-'],
    yaml(
      role('ClusterRole', 'pod-reader', [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }]),
      binding('RoleBinding', 'pod-reader', { kind: 'ClusterRole', name: 'pod-reader' }, 'default'),
    ),
  )
  assert.is((await asCarol(['get', 'pods', '-n', 'default'])).code, 0)
  assert.match((await asCarol(['get', 'pods', '-n', 'team'])).stderr, 'in the namespace "team"')
  assert.match((await asCarol(['get', 'pods', '--all-namespaces'])).stderr, 'at the cluster scope')
  const pod = JSON.parse(await ok(['get', 'pods', '-n', 'default', '-o', 'json'])).items[0].metadata.name
  // pods/log is its own resource (RuleAllows combines resource and subresource).
  const logs = await asCarol(['logs', pod, '-n', 'default'])
  assert.match(logs.stderr, `pods "${pod}" is forbidden: User "carol" cannot get resource "pods/log"`)
  await ok(
    ['apply', '-f', '-'],
    yaml(
      role('ClusterRole', 'pod-reader', [{ apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list'] }]),
    ),
  )
  assert.not.match((await asCarol(['logs', pod, '-n', 'default'])).stderr, 'forbidden')
})

test('nonResourceURLs come only from a ClusterRole; * at the end matches a prefix', async () => {
  const raw = await asCarol(['get', '--raw', '/metrics'])
  assert.match(raw.stderr, 'forbidden: User "carol" cannot get path "/metrics"')
  await ok(
    ['apply', '-f', '-'],
    yaml(
      role('ClusterRole', 'metrics', [{ nonResourceURLs: ['/metric*'], verbs: ['get'] }]),
      binding('ClusterRoleBinding', 'metrics', { kind: 'ClusterRole', name: 'metrics' }),
    ),
  )
  // Authorized now: whatever the server answers, it is not a 403.
  assert.not.match((await asCarol(['get', '--raw', '/metrics'])).stderr, 'forbidden')
})

test('kubectl auth can-i asks the same rules (a SelfSubjectAccessReview)', async () => {
  assert.match((await asCarol(['auth', 'can-i', 'get', 'pods', '-n', 'default'])).stdout, /^yes/)
  const no = await asCarol(['auth', 'can-i', 'delete', 'pods', '-n', 'default'])
  assert.match(no.stdout, /^no/)
  assert.is(no.code, 1)
})

test('impersonation needs the impersonate verb on the user; the request then acts as that user', async () => {
  const refused = await asCarol(['get', 'pods', '-n', 'default', '--as=dave'])
  assert.match(
    refused.stderr,
    'users "dave" is forbidden: User "carol" cannot impersonate resource "users" in API group "" at the cluster scope',
  )
  await ok(
    ['apply', '-f', '-'],
    yaml(
      role('ClusterRole', 'be-dave', [
        { apiGroups: [''], resources: ['users'], resourceNames: ['dave'], verbs: ['impersonate'] },
      ]),
      binding('ClusterRoleBinding', 'be-dave', { kind: 'ClusterRole', name: 'be-dave' }),
    ),
  )
  // Now carol may act as dave, who may do nothing: the refusal names dave.
  assert.match(
    (await asCarol(['get', 'pods', '-n', 'default', '--as=dave'])).stderr,
    'User "dave" cannot list resource "pods"',
  )
})

test('writing a role or binding that grants more than the writer holds is refused unless it may escalate or bind', async () => {
  await ok(
    ['apply', '-f', '-'],
    yaml(
      role(
        'Role',
        'role-writer',
        [
          {
            apiGroups: ['rbac.authorization.k8s.io'],
            resources: ['roles', 'rolebindings'],
            verbs: ['get', 'create', 'patch'],
          },
        ],
        'team',
      ),
      binding('RoleBinding', 'role-writer', { kind: 'Role', name: 'role-writer' }, 'team'),
    ),
  )
  const secrets = role('Role', 'secret-reader', [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }], 'team')
  const refused = await asCarol(['create', '-f', '-'], JSON.stringify(secrets))
  assert.match(
    refused.stderr,
    'roles.rbac.authorization.k8s.io "secret-reader" is forbidden: user "carol" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}',
  )
  // Holding the permission is enough (the comparator covers it).
  const configMaps = role(
    'Role',
    'cm-one',
    [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['one'], verbs: ['get'] }],
    'team',
  )
  assert.is((await asCarol(['create', '-f', '-'], JSON.stringify(configMaps))).code, 0)
  // escalate on the role lets it be written; bind on the role lets it be bound.
  await ok(
    ['apply', '-f', '-'],
    yaml(
      role(
        'Role',
        'role-escalator',
        [
          {
            apiGroups: ['rbac.authorization.k8s.io'],
            resources: ['roles'],
            resourceNames: ['secret-reader'],
            verbs: ['escalate', 'bind'],
          },
        ],
        'team',
      ),
      binding('RoleBinding', 'role-escalator', { kind: 'Role', name: 'role-escalator' }, 'team'),
    ),
  )
  assert.is((await asCarol(['create', '-f', '-'], JSON.stringify(secrets))).code, 0)
  const bindingToSecrets = binding(
    'RoleBinding',
    'eve-reads-secrets',
    { kind: 'Role', name: 'secret-reader' },
    'team',
    'eve',
  )
  assert.is((await asCarol(['create', '-f', '-'], JSON.stringify(bindingToSecrets))).code, 0)
})

test.run()
