// The simulated API server's authentication, impersonation and ValidatingAdmissionPolicy admission, through the
// real kubectl over TLS: who a request comes from, what kubectl --as makes of it, and how a policy's CEL, its
// binding and its failure policy decide, with the messages the real API server sends.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { readFileSync } from 'node:fs'
import { startSimulator, type Simulator } from './sim/index.ts'
import { kubectl } from './kit.ts'

let sim: Simulator
const k = (args: string[], input?: string, env = sim.env) => kubectl(env, args, { input, timeoutMs: 30_000 })
async function ok(args: string[], input?: string): Promise<string> {
  const r = await k(args, input)
  assert.is(r.code, 0, `kubectl ${args.join(' ')}:\n${r.stderr}`)
  return r.stdout
}

const policy = (name: string, spec: object) =>
  JSON.stringify({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name },
    spec,
  })
const binding = (name: string, policyName: string, actions: string[], namespace = 'default') =>
  JSON.stringify({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name },
    spec: {
      policyName,
      validationActions: actions,
      matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } },
    },
  })
const configMapRule = {
  resourceRules: [
    { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['configmaps'] },
  ],
}

test.before(async () => {
  sim = await startSimulator({ users: [{ token: 'bob-token', username: 'bob', groups: ['devs'] }] })
})
test.after(async () => {
  await sim?.stop()
})

test('kubectl speaks TLS to the API server and authenticates as the kubeconfig user; --as impersonates', async () => {
  assert.match(sim.apiUrl, /^https:\/\/127\.0\.0\.1:\d+$/)
  const admin = JSON.parse(await ok(['auth', 'whoami', '-o', 'json']))
  assert.equal(admin.status.userInfo, {
    username: 'kubernetes-admin',
    groups: ['kubeadm:cluster-admins', 'system:authenticated'],
  })
  const user = JSON.parse(await ok(['auth', 'whoami', '-o', 'json', '--as=mallory']))
  assert.equal(user.status.userInfo, { username: 'mallory', groups: ['system:authenticated'] })
  const grouped = JSON.parse(await ok(['auth', 'whoami', '-o', 'json', '--as=mallory', '--as-group=devs']))
  assert.equal(grouped.status.userInfo.groups, ['devs', 'system:authenticated'])
  const sa = JSON.parse(
    await ok(['auth', 'whoami', '-o', 'json', '--as=system:serviceaccount:kube-system:replicaset-controller']),
  )
  assert.equal(sa.status.userInfo, {
    username: 'system:serviceaccount:kube-system:replicaset-controller',
    groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
  })
})

test('a second token is a second user; an unknown token gets 401; plain HTTP gets what a TLS server says', async () => {
  const config = parse(readFileSync(sim.kubeconfig, 'utf8'))
  const write = (token: string) => {
    const path = join(sim.dir, `kubeconfig-${token}`)
    writeFileSync(path, stringify({ ...config, users: [{ ...config.users[0], user: { token } }] }))
    return { ...sim.env, KUBECONFIG: path }
  }
  const bob = await k(['auth', 'whoami', '-o', 'json'], undefined, write('bob-token'))
  assert.is(bob.code, 0, bob.stderr)
  assert.equal(JSON.parse(bob.stdout).status.userInfo, { username: 'bob', groups: ['devs', 'system:authenticated'] })
  const stranger = await k(['get', 'pods'], undefined, write('nobody'))
  assert.is.not(stranger.code, 0)
  assert.match(stranger.stderr, /You must be logged in to the server/)
  const plain = await fetch(`${sim.controlUrl}/api/v1/namespaces`, {
    headers: { authorization: 'Bearer gthulhu-sim-token' },
  })
  assert.is(plain.status, 400)
  assert.is(await plain.text(), 'Client sent an HTTP request to an HTTPS server.\n')
})

test('a policy with a CEL syntax error, or a binding that both denies and warns, is refused on write', async () => {
  const bad = await k(
    ['apply', '-f', '-'],
    policy('bad', { matchConstraints: configMapRule, validations: [{ expression: 'object.data.(' }] }),
  )
  assert.is.not(bad.code, 0)
  assert.match(bad.stderr, /spec\.validations\[0\]\.expression: Invalid value: .*compilation failed/)
  const both = await k(['apply', '-f', '-'], binding('both', 'x', ['Deny', 'Warn']))
  assert.is.not(both.code, 0)
  assert.match(both.stderr, /must not contain both Deny and Warn/)
})

test('a denial carries the API server message; server dry runs and other namespaces behave as upstream', async () => {
  await ok(['create', 'namespace', 'elsewhere'])
  // RBAC first: mallory may write ConfigMaps everywhere, so what refuses her below is admission.
  await ok(
    ['apply', '-f', '-'],
    [
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'configmap-writer' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'create', 'update', 'patch'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'mallory-writes-configmaps' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'configmap-writer' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'mallory' }],
      },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n---\n'),
  )
  await ok(
    ['apply', '-f', '-'],
    policy('no-secrets', {
      failurePolicy: 'Fail',
      matchConstraints: configMapRule,
      variables: [{ name: 'keys', expression: 'has(object.data) ? object.data : {}' }],
      validations: [
        {
          expression: "!('password' in variables.keys) || request.userInfo.username == 'kubernetes-admin'",
          messageExpression: "'no passwords from ' + request.userInfo.username",
          reason: 'Forbidden',
        },
        { expression: "object.metadata.name != 'forbidden-name'" },
      ],
    }),
  )
  await ok(['apply', '-f', '-'], binding('no-secrets', 'no-secrets', ['Deny']))
  const refused = await k([
    'create',
    'configmap',
    'c1',
    '--from-literal=password=x',
    '--dry-run=server',
    '--as=mallory',
  ])
  assert.is.not(refused.code, 0)
  assert.match(
    refused.stderr,
    /error: failed to create configmap: configmaps "c1" is forbidden: ValidatingAdmissionPolicy 'no-secrets' with binding 'no-secrets' denied request: no passwords from mallory/,
  )
  // Without a message the expression is the message, and the reason defaults to Invalid (422): kubectl apply says so.
  const unnamed = await k(
    ['apply', '-f', '-', '--as=mallory'],
    JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'forbidden-name', namespace: 'default' } }),
  )
  assert.match(
    unnamed.stderr,
    /The configmaps "forbidden-name" is invalid: : ValidatingAdmissionPolicy 'no-secrets' with binding 'no-secrets' denied request: failed expression: object\.metadata\.name != 'forbidden-name'/,
  )
  assert.match(
    await ok(['create', 'configmap', 'c2', '--from-literal=password=x', '--dry-run=server']),
    /server dry run/,
  )
  assert.match(
    await ok(['create', 'configmap', 'c3', '-n', 'elsewhere', '--from-literal=password=x', '--as=mallory']),
    /created/,
  )
  // An update is judged too.
  await ok(['create', 'configmap', 'c4', '--from-literal=a=b', '--as=mallory'])
  const patched = await k(['patch', 'configmap', 'c4', '--as=mallory', '-p', '{"data":{"password":"x"}}'])
  assert.match(patched.stderr, /denied request: no passwords from mallory/)
})

test('Warn only warns; an expression error denies under Fail and admits under Ignore', async () => {
  await ok(
    ['apply', '-f', '-'],
    policy('warn-only', {
      matchConstraints: configMapRule,
      validations: [{ expression: "object.metadata.name != 'warned'", message: 'please not' }],
    }),
  )
  await ok(['apply', '-f', '-'], binding('warn-only', 'warn-only', ['Warn']))
  const warned = await k(['create', 'configmap', 'warned'])
  assert.is(warned.code, 0, warned.stderr)
  assert.match(
    warned.stderr,
    /Warning: Validation failed for ValidatingAdmissionPolicy 'warn-only' with binding 'warn-only': please not/,
  )
  // object.data.missing errors (no such key) on a ConfigMap without that key.
  const broken = (failurePolicy: string) =>
    policy(`broken-${failurePolicy.toLowerCase()}`, {
      failurePolicy,
      matchConstraints: configMapRule,
      matchConditions: [{ name: 'only-probe', expression: "object.metadata.name.startsWith('err-')" }],
      validations: [{ expression: "object.data.missing == 'x'" }],
    })
  await ok(['apply', '-f', '-'], broken('Ignore'))
  await ok(['apply', '-f', '-'], binding('broken-ignore', 'broken-ignore', ['Deny']))
  assert.match(await ok(['create', 'configmap', 'err-1', '--from-literal=a=b']), /created/)
  await ok(['apply', '-f', '-'], broken('Fail'))
  await ok(['apply', '-f', '-'], binding('broken-fail', 'broken-fail', ['Deny']))
  const failed = await k(['create', 'configmap', 'err-2', '--from-literal=a=b'])
  assert.match(failed.stderr, /denied request: expression 'object\.data\.missing == 'x'' resulted in error: /)
  // The matchCondition keeps the broken policy away from everything else.
  assert.match(await ok(['create', 'configmap', 'fine', '--from-literal=a=b']), /created/)
})

test('a controller creates as its own identity: a policy refusing the ReplicaSet controller leaves a FailedCreate event', async () => {
  await ok(
    ['apply', '-f', '-'],
    policy('no-rs-pods', {
      matchConstraints: {
        resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
      },
      validations: [
        {
          expression:
            "request.userInfo.username != 'system:serviceaccount:kube-system:replicaset-controller' || !has(object.metadata.labels) || !('blocked' in object.metadata.labels)",
          message: 'blocked pods are not made',
        },
      ],
    }),
  )
  await ok(['apply', '-f', '-'], binding('no-rs-pods', 'no-rs-pods', ['Deny']))
  const deployment = (labels: Record<string, string>) =>
    JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'blocked', namespace: 'default' },
      spec: {
        selector: { matchLabels: { app: 'blocked' } },
        template: {
          metadata: { labels: { app: 'blocked', ...labels } },
          spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
        },
      },
    })
  await ok(['apply', '-f', '-'], deployment({}))
  await ok(['apply', '-f', '-'], deployment({ blocked: 'yes' }))
  let event: any
  for (let i = 0; i < 80 && !event; i++) {
    const events = JSON.parse(
      await ok(['get', 'events', '--field-selector', 'reason=FailedCreate', '-o', 'json']),
    ).items
    event = events.find(
      (e: any) => e.involvedObject.kind === 'ReplicaSet' && e.involvedObject.name.startsWith('blocked-'),
    )
    if (!event) await new Promise((r) => setTimeout(r, 250))
  }
  assert.ok(event, 'FailedCreate event on the ReplicaSet')
  assert.match(
    event.message,
    /^Error creating: pods "blocked-\S+" is forbidden: ValidatingAdmissionPolicy 'no-rs-pods' with binding 'no-rs-pods' denied request: blocked pods are not made$/,
  )
  // The ReplicaSet of the earlier template, made before the label, still has its pod; its owner is the Deployment.
  const sets = JSON.parse(await ok(['get', 'rs', '-o', 'json'])).items.filter((rs: any) =>
    rs.metadata.name.startsWith('blocked-'),
  )
  assert.is(sets.length, 2)
  for (const rs of sets) assert.is(rs.metadata.ownerReferences[0].kind, 'Deployment')
})

test.run()
