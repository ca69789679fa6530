// The simulated API server, driven through the real kubectl over HTTP (and through fetch for the
// requests kubectl would never send). One server for the whole file; every test uses its own names.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { kubectl } from './kit.ts'
import { startApiServer, type ApiServer } from './sim/apiserver.ts'
import { registerBuiltinTypes, watchCrdTypes } from './sim/builtin-types.ts'
import { noFaults, type Faults } from './sim/faults.ts'
import { Store, type KubeObject, type ResourceType } from './sim/store.ts'

const store = new Store()
registerBuiltinTypes(store)
const stopCrdController = watchCrdTypes(store)
const faults: Faults = noFaults()
const type = (group: string, plural: string) =>
  store.allTypes().find((rt) => rt.group === group && rt.plural === plural)!
const NS = type('', 'namespaces')
store.create(NS, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } })

let server: ApiServer
const dir = mkdtempSync(join(tmpdir(), 'sim-apiserver-'))
const env: Record<string, string> = { KUBECONFIG: join(dir, 'kubeconfig'), KUBECACHEDIR: join(dir, 'cache') }
const timers: NodeJS.Timeout[] = []

const k = (args: string[], input?: string) => kubectl(env, args, { input, timeoutMs: 90_000 })
/** Runs kubectl and insists on success; returns stdout. */
async function ok(args: string[], input?: string): Promise<string> {
  const r = await k(args, input)
  assert.is(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}`)
  return r.stdout
}
/** Runs kubectl and insists on failure; returns stderr. */
async function fails(args: string[], input?: string): Promise<string> {
  const r = await k(args, input)
  assert.is.not(r.code, 0, `kubectl ${args.join(' ')} should have failed:\n${r.stdout}`)
  return r.stderr
}
const api = (path: string, init?: RequestInit) => fetch(server.url + path, init)
/** Simulates a controller: edits an object in the store after a short delay. */
function later(
  ms: number,
  rt: ResourceType,
  namespace: string | undefined,
  name: string,
  edit: (o: KubeObject) => void,
) {
  timers.push(setTimeout(() => store.mutate(rt, namespace, name, edit), ms))
}

/**
 * Simulates a controller that acts while kubectl waits: `edit` runs once the next watch has subscribed to the
 * store (kubectl wait's, after it found the condition unmet), so the change reaches kubectl through its watch
 * whatever the machine's load. A timer could fire before kubectl even started: then `wait --for=delete` finds
 * nothing to wait for and prints nothing.
 */
function whenWatched(edit: () => void): void {
  const subscribe = store.subscribe.bind(store)
  store.subscribe = (listener) => {
    store.subscribe = subscribe
    const unsubscribe = subscribe(listener)
    setImmediate(edit)
    return unsubscribe
  }
}

test.before(async () => {
  server = await startApiServer({ store, faults, kubernetesVersion: '1.32.4' })
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sim', cluster: { server: server.url } }],
    users: [{ name: 'tester', user: { token: 'sim-token' } }],
    contexts: [{ name: 'sim', context: { cluster: 'sim', user: 'tester', namespace: 'default' } }],
    'current-context': 'sim',
  }
  writeFileSync(env.KUBECONFIG, JSON.stringify(kubeconfig))
})

test.after(async () => {
  for (const t of timers) clearTimeout(t)
  stopCrdController()
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

test('version, health and discovery are what kubectl expects', async () => {
  const version = JSON.parse(await ok(['version', '-o', 'json']))
  assert.is(version.serverVersion.gitVersion, 'v1.32.4')
  assert.is(version.serverVersion.minor, '32')
  const resources = await ok(['api-resources'])
  assert.match(resources, /deployments\s+deploy\s+apps\/v1\s+true\s+Deployment/)
  assert.match(resources, /customresourcedefinitions\s+crd,crds\s+apiextensions\.k8s\.io\/v1\s+false/)
  assert.match(resources, /networkpolicies\s+netpol\s+networking\.k8s\.io\/v1/)
  const groups = JSON.parse(await ok(['get', '--raw', '/apis']))
  assert.is(groups.kind, 'APIGroupList')
  const core = JSON.parse(await ok(['get', '--raw', '/api/v1']))
  assert.ok(core.resources.some((r: any) => r.name === 'pods/log' && r.verbs.includes('get')))
  assert.is((await api('/readyz')).status, 200)
  const index = JSON.parse(await ok(['get', '--raw', '/openapi/v3']))
  assert.match(index.paths['apis/apps/v1'].serverRelativeURL, /^\/openapi\/v3\/apis\/apps\/v1\?hash=/)
})

test('create, get and list with label and field selectors and every output format', async () => {
  const pod = (name: string, labels: Record<string, string>) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels },
      spec: { containers: [{ name: 'c', image: 'busybox' }], nodeName: 'node-a' },
    })
  await ok(['create', '-f', '-'], pod('sel-a', { app: 'sel', tier: 'web' }))
  await ok(['create', '-f', '-'], pod('sel-b', { app: 'sel', tier: 'db' }))
  await ok(['create', '-f', '-'], pod('sel-c', { app: 'other' }))
  const names = async (...args: string[]) =>
    (await ok(['get', 'pods', '-o', 'name', ...args])).trim().split('\n').filter(Boolean).sort()
  const queries: [string[], string[]][] = [
    [
      ['-l', 'app=sel'],
      ['pod/sel-a', 'pod/sel-b'],
    ],
    [['-l', 'app==sel,tier!=db'], ['pod/sel-a']],
    [['-l', 'tier in (db,cache)'], ['pod/sel-b']],
    [
      ['-l', 'app,tier notin (web)'],
      ['pod/sel-b', 'pod/sel-c'],
    ], // notin also matches a missing key
    [['-l', 'app=other,!tier'], ['pod/sel-c']],
    [['--field-selector', 'metadata.name=sel-c'], ['pod/sel-c']],
    [
      ['-l', 'app=sel', '--field-selector', 'metadata.name!=sel-a,status.phase=Pending,spec.nodeName=node-a'],
      ['pod/sel-b'],
    ],
  ]
  const results = await Promise.all(queries.map(([args]) => names(...args)))
  queries.forEach(([args, expected], i) => assert.equal(results[i], expected, args.join(' ')))
  const list = JSON.parse(await ok(['get', 'pods', '-l', 'app=sel', '-o', 'json']))
  assert.is(list.items.length, 2)
  assert.is(list.items[0].status.phase, 'Pending', 'pods start Pending')
  assert.match(await ok(['get', 'pod', 'sel-a', '-o', 'yaml']), /name: sel-a/)
  assert.is(await ok(['get', 'pod', 'sel-a', '-o', 'jsonpath={.metadata.labels.tier}']), 'web')
  const table = await ok(['get', 'pods', '-A', '--show-labels'])
  assert.match(table, /NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+LABELS/)
  assert.match(table, /default\s+sel-a\s+0\/1\s+Pending\s+0\s+\S+\s+app=sel,tier=web/)
  assert.match(await ok(['get', 'pods', '-L', 'tier']), /sel-b\s+0\/1\s+Pending\s+0\s+\S+\s+db/)
  assert.match(await ok(['get', 'pods', '-o', 'wide']), /NODE[\s\S]*sel-a\s.*node-a/)
  const generated = JSON.parse(
    await ok(
      ['create', '-o', 'json', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'gen-' } }),
    ),
  )
  assert.match(generated.metadata.name, /^gen-[a-z0-9]{5}$/)
  assert.match(
    await ok(['create', '--dry-run=server', '-f', '-'], pod('dry-pod', {})),
    /pod\/dry-pod created \(server dry run\)/,
  )
  assert.ok((await fails(['get', 'pod', 'dry-pod'])).includes('pods "dry-pod" not found'))
})

const deploymentYaml = (image: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: csa
  labels: {app: csa}
spec:
  replicas: 2
  selector: {matchLabels: {app: csa}}
  template:
    metadata: {labels: {app: csa}}
    spec:
      containers:
      - name: main
        image: ${image}
        env: [{name: MODE, value: fast}]
`

test('client-side apply creates, is unchanged on repeat, then patches', async () => {
  assert.match(await ok(['apply', '-f', '-'], deploymentYaml('app:1')), /deployment.apps\/csa created/)
  const second = await k(['apply', '-f', '-'], deploymentYaml('app:1'))
  assert.is(second.code, 0)
  assert.match(second.stdout, /deployment.apps\/csa unchanged/)
  assert.is(second.stderr, '', 'no warnings from apply')
  assert.match(await ok(['apply', '-f', '-'], deploymentYaml('app:2')), /deployment.apps\/csa configured/)
  const deployment = JSON.parse(await ok(['get', 'deploy', 'csa', '-o', 'json']))
  assert.is(deployment.spec.template.spec.containers[0].image, 'app:2')
  assert.is(deployment.metadata.generation, 2)
  assert.match(deployment.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'], /app:2/)
})

test('server-side apply of a Namespace, Service, Deployment, CRD and custom resource', async () => {
  const manifests = `apiVersion: v1
kind: Namespace
metadata: {name: ssa}
---
apiVersion: v1
kind: Service
metadata: {name: ssa-svc, namespace: ssa}
spec:
  selector: {app: ssa}
  ports: [{name: http, port: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ssa-deploy, namespace: ssa}
spec:
  selector: {matchLabels: {app: ssa}}
  template:
    metadata: {labels: {app: ssa}}
    spec: {containers: [{name: main, image: 'ssa:1'}]}
`
  const applied = await ok(['apply', '--server-side', '-f', '-'], manifests)
  assert.match(applied, /namespace\/ssa serverside-applied/)
  assert.match(applied, /service\/ssa-svc serverside-applied/)
  assert.match(applied, /deployment.apps\/ssa-deploy serverside-applied/)
  assert.match(
    await ok(['get', 'svc', 'ssa-svc', '-n', 'ssa', '-o', 'jsonpath={.spec.clusterIP}']),
    /^10\.96\.\d+\.\d+$/,
  )
  assert.is(await ok(['get', 'ns', 'ssa', '-o', 'jsonpath={.status.phase}']), 'Active')
  // A second apply that changes one field merges into the object and keeps server-assigned fields.
  const clusterIp = await ok(['get', 'svc', 'ssa-svc', '-n', 'ssa', '-o', 'jsonpath={.spec.clusterIP}'])
  await ok(['apply', '--server-side', '-f', '-'], manifests.replace("'ssa:1'", "'ssa:2'"))
  assert.is(
    await ok(['get', 'deploy', 'ssa-deploy', '-n', 'ssa', '-o', 'jsonpath={.spec.template.spec.containers[0].image}']),
    'ssa:2',
  )
  assert.is(await ok(['get', 'svc', 'ssa-svc', '-n', 'ssa', '-o', 'jsonpath={.spec.clusterIP}']), clusterIp)

  const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Gadget, plural: gadgets, singular: gadget, shortNames: [gd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
    additionalPrinterColumns: [{name: Size, type: integer, jsonPath: .spec.size}]
`
  await ok(['apply', '--server-side', '-f', '-'], crd)
  assert.match(
    await ok(['wait', '--for=condition=Established', 'crd/gadgets.example.com', '--timeout=10s']),
    /condition met/,
  )
  const gadget = (size: number) =>
    `apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g1, namespace: ssa}\nspec: {size: ${size}}\n`
  assert.match(await ok(['apply', '--server-side', '-f', '-'], gadget(3)), /gadget.example.com\/g1 serverside-applied/)
  assert.match(await ok(['get', 'gd', '-n', 'ssa']), /NAME\s+SIZE\s+AGE\s+g1\s+3\s/)
  // Client-side apply of a custom resource uses a JSON merge patch.
  await ok(['apply', '-f', '-'], gadget(5))
  assert.is(await ok(['get', 'gadget', 'g1', '-n', 'ssa', '-o', 'jsonpath={.spec.size}']), '5')
  // The main resource keeps .status; the status subresource changes only .status.
  await ok([
    'patch',
    'gadget',
    'g1',
    '-n',
    'ssa',
    '--subresource=status',
    '--type=merge',
    '-p',
    '{"status":{"ok":true},"spec":{"size":99}}',
  ])
  await ok(['patch', 'gadget', 'g1', '-n', 'ssa', '--type=merge', '-p', '{"status":{"ok":false},"spec":{"size":6}}'])
  const stored = JSON.parse(await ok(['get', 'gadget', 'g1', '-n', 'ssa', '-o', 'json']))
  assert.equal([stored.spec.size, stored.status.ok], [6, true])
  assert.match(
    await fails(['patch', 'gadget', 'g1', '-n', 'ssa', '-p', '{"spec":{"size":1}}']),
    /UnsupportedMediaType|unknown format|not supported/i,
  )
  // Deleting the CRD stops serving its kind.
  await ok(['delete', 'crd', 'gadgets.example.com'])
  assert.match(await fails(['get', 'gadgets.example.com']), /doesn't have a resource type|the server could not find/)
})

test('dry runs: server-side apply answers the merged object and stores nothing; a dry-run create of a name in use fails', async () => {
  const policy = (labels: string) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dry, namespace: default}
spec:
  podSelector: {matchLabels: {${labels}}}
  ingress: [{ports: [{port: 80, protocol: TCP}]}]
`
  await ok(['apply', '--server-side', '--field-manager=owner', '-f', '-'], policy('app: db'))
  // Someone else adds a selector label; the owner's dry run takes the atomic LabelSelector back whole.
  await ok([
    'patch',
    'networkpolicy',
    'dry',
    '--type=merge',
    '-p',
    '{"spec":{"podSelector":{"matchLabels":{"tier":"x"}}}}',
  ])
  const merged = JSON.parse(
    await ok(
      [
        'apply',
        '--server-side',
        '--field-manager=owner',
        '--force-conflicts',
        '--dry-run=server',
        '-o',
        'json',
        '-f',
        '-',
      ],
      policy('app: db, team: a'),
    ),
  )
  assert.equal(merged.spec.podSelector, { matchLabels: { app: 'db', team: 'a' } })
  const stored = JSON.parse(await ok(['get', 'networkpolicy', 'dry', '-o', 'json']))
  assert.equal(stored.spec.podSelector, { matchLabels: { app: 'db', tier: 'x' } }, 'a dry run stores nothing')
  // A dry-run create answers what would be created, unless the name is taken.
  assert.match(
    await fails(['create', '--dry-run=server', '-f', '-'], policy('app: db')),
    /AlreadyExists|already exists/,
  )
  const created = JSON.parse(
    await ok(
      ['create', '--dry-run=server', '-o', 'json', '-f', '-'],
      policy('app: db').replace('name: dry', 'name: dry2'),
    ),
  )
  assert.is(created.metadata.name, 'dry2')
  assert.match(await fails(['get', 'networkpolicy', 'dry2']), /NotFound|not found/)
  await ok(['delete', 'networkpolicy', 'dry'])
})

test('label, annotate, and the three kubectl patch types', async () => {
  await ok(['create', 'configmap', 'tags', '--from-literal=a=1', '--dry-run=client', '-o', 'json']).then((json) =>
    ok(['create', '-f', '-'], json),
  )
  await ok(['label', 'cm', 'tags', 'team=blue'])
  assert.match(await fails(['label', 'cm', 'tags', 'team=red']), /already has a value \(blue\)/)
  await ok(['label', 'cm', 'tags', 'team=red', '--overwrite'])
  await ok(['annotate', 'cm', 'tags', 'note=hello'])
  const cm = JSON.parse(await ok(['get', 'cm', 'tags', '-o', 'json']))
  assert.is(cm.metadata.labels.team, 'red')
  assert.is(cm.metadata.annotations.note, 'hello')
  await ok(['label', 'cm', 'tags', 'team-'])
  assert.is(await ok(['get', 'cm', 'tags', '-o', 'jsonpath={.metadata.labels}']), '')

  await ok(['patch', 'deploy', 'csa', '--type', 'merge', '-p', '{"spec":{"replicas":3}}'])
  // Strategic merge: containers merge by name, so env survives an image change.
  await ok([
    'patch',
    'deploy',
    'csa',
    '-p',
    '{"spec":{"template":{"spec":{"containers":[{"name":"main","image":"app:3"},{"name":"side","image":"side:1"}]}}}}',
  ])
  await ok([
    'patch',
    'deploy',
    'csa',
    '--type',
    'json',
    '-p',
    '[{"op":"test","path":"/spec/replicas","value":3},{"op":"replace","path":"/spec/replicas","value":4},{"op":"add","path":"/metadata/labels/extra","value":"yes"}]',
  ])
  const d = JSON.parse(await ok(['get', 'deploy', 'csa', '-o', 'json']))
  assert.is(d.spec.replicas, 4)
  assert.is(d.metadata.labels.extra, 'yes')
  assert.equal(
    d.spec.template.spec.containers.map((c: any) => c.name),
    ['main', 'side'],
  )
  assert.is(d.spec.template.spec.containers[0].image, 'app:3')
  assert.equal(d.spec.template.spec.containers[0].env, [{ name: 'MODE', value: 'fast' }])
  // $patch: delete removes one element of a merged list.
  await ok([
    'patch',
    'deploy',
    'csa',
    '-p',
    '{"spec":{"template":{"spec":{"containers":[{"name":"side","$patch":"delete"}]}}}}',
  ])
  assert.is(await ok(['get', 'deploy', 'csa', '-o', 'jsonpath={.spec.template.spec.containers[*].name}']), 'main')
  assert.match(
    await fails([
      'patch',
      'deploy',
      'csa',
      '--type',
      'json',
      '-p',
      '[{"op":"test","path":"/spec/replicas","value":7}]',
    ]),
    /test.*failed|failed.*test/i,
  )
})

test('rollout restart bumps the template annotation and generation; rollout status converges', async () => {
  const before = JSON.parse(await ok(['get', 'deploy', 'csa', '-o', 'json'])).metadata.generation
  await ok(['rollout', 'restart', 'deploy/csa'])
  const after = JSON.parse(await ok(['get', 'deploy', 'csa', '-o', 'json']))
  assert.is(after.metadata.generation, before + 1)
  assert.ok(after.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt'])

  const DEPLOY = type('apps', 'deployments')
  later(300, DEPLOY, 'default', 'csa', (o) => {
    const n = o.spec.replicas
    o.status = {
      observedGeneration: o.metadata.generation,
      replicas: n,
      updatedReplicas: n,
      readyReplicas: n,
      availableReplicas: n,
    }
  })
  assert.match(await ok(['rollout', 'status', 'deploy/csa', '--timeout=10s']), /successfully rolled out/)

  await ok(
    ['apply', '-f', '-'],
    `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: a, image: 'agent:1'}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: d, image: 'db:1'}]}
`,
  )
  later(300, type('apps', 'daemonsets'), 'default', 'agent', (o) => {
    o.status = {
      observedGeneration: o.metadata.generation,
      desiredNumberScheduled: 2,
      currentNumberScheduled: 2,
      updatedNumberScheduled: 2,
      numberAvailable: 2,
      numberReady: 2,
    }
  })
  later(300, type('apps', 'statefulsets'), 'default', 'db', (o) => {
    o.status = {
      observedGeneration: o.metadata.generation,
      replicas: 1,
      readyReplicas: 1,
      currentReplicas: 1,
      updatedReplicas: 1,
      availableReplicas: 1,
      currentRevision: 'r1',
      updateRevision: 'r1',
    }
  })
  const [ds, sts] = await Promise.all([
    ok(['rollout', 'status', 'ds/agent', '--timeout=10s']),
    ok(['rollout', 'status', 'sts/db', '--timeout=10s']),
  ])
  assert.match(ds, /successfully rolled out/)
  assert.match(sts, /roll out complete|rolling update complete/)
})

test('kubectl wait converges on conditions, jsonpath and deletion', async () => {
  await ok(['run', 'waiter', '--image=busybox'])
  const POD = type('', 'pods')
  whenWatched(() =>
    store.mutate(POD, 'default', 'waiter', (o) => {
      o.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] }
    }),
  )
  assert.match(await ok(['wait', '--for=condition=Ready', 'pod/waiter', '--timeout=60s']), /condition met/)
  whenWatched(() =>
    store.mutate(POD, 'default', 'waiter', (o) => {
      o.status.phase = 'Succeeded'
    }),
  )
  assert.match(
    await ok(['wait', '--for=jsonpath={.status.phase}=Succeeded', 'pod/waiter', '--timeout=60s']),
    /condition met/,
  )
  whenWatched(() => store.delete(POD, 'default', 'waiter'))
  assert.match(await ok(['wait', '--for=delete', 'pod/waiter', '--timeout=60s']), /condition met/)
  assert.match(await fails(['wait', '--for=condition=Ready', 'pod/sel-a', '--timeout=1s']), /timed out/)
})

test('logs come from the store; missing pods are NotFound', async () => {
  await ok(['run', 'talker', '--image=busybox'])
  store.podLogs.set('default/talker', 'one\ntwo\nthree\n')
  assert.is(await ok(['logs', 'talker']), 'one\ntwo\nthree\n')
  assert.is(await ok(['logs', 'talker', '--tail=1']), 'three\n')
  assert.match(await fails(['logs', 'ghost']), /pods "ghost" not found/)
})

test('delete cascades to namespaced contents and owned objects', async () => {
  await ok(['create', 'namespace', 'doomed', '--dry-run=client', '-o', 'yaml']).then((yaml) =>
    ok(['apply', '-f', '-'], yaml),
  )
  await ok(['create', 'configmap', 'inside', '-n', 'doomed', '--dry-run=client', '-o', 'yaml']).then((yaml) =>
    ok(['apply', '-f', '-'], yaml),
  )
  const owner = store.get(type('apps', 'deployments'), 'default', 'csa')!
  store.create(type('apps', 'replicasets'), {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: 'csa-1',
      namespace: 'default',
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'Deployment', name: 'csa', uid: owner.metadata.uid!, controller: true },
      ],
    },
    spec: {},
  })
  assert.match(await ok(['delete', 'ns', 'doomed']), /namespace "doomed" deleted/)
  assert.is(store.get(type('', 'configmaps'), 'doomed', 'inside'), undefined)
  assert.match(await ok(['delete', 'deploy', 'csa']), /deployment.apps "csa" deleted/)
  assert.is(store.get(type('apps', 'replicasets'), 'default', 'csa-1'), undefined)
  assert.match(await fails(['delete', 'deploy', 'csa']), /deployments.apps "csa" not found/)
})

test('Leases: created, renewed only with the resourceVersion read, a stale or missing one refused as the real server does', async () => {
  const micro = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '000Z')
  const lease = (holder: string, resourceVersion?: string) =>
    JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'runbook-lock', namespace: 'default', ...(resourceVersion ? { resourceVersion } : {}) },
      spec: { holderIdentity: holder, leaseDurationSeconds: 30, renewTime: micro(Date.now()), leaseTransitions: 0 },
    })
  const created = JSON.parse(await ok(['create', '-f', '-', '-o', 'json'], lease('first')))
  assert.is(created.spec.holderIdentity, 'first')
  assert.match(await ok(['get', 'leases']), /NAME\s+HOLDER\s+AGE\nrunbook-lock\s+first\s/)
  assert.match(
    await fails(['create', '-f', '-'], lease('second')),
    /\(AlreadyExists\).*leases.coordination.k8s.io "runbook-lock" already exists/,
  )
  // Two writers read the same version: the first replace wins, the second gets 409.
  const read = created.metadata.resourceVersion
  const renewed = JSON.parse(await ok(['replace', '-f', '-', '-o', 'json'], lease('first', read)))
  assert.ok(Number(renewed.metadata.resourceVersion) > Number(read))
  assert.match(
    await fails(['replace', '-f', '-'], lease('second', read)),
    /\(Conflict\).*Operation cannot be fulfilled on leases.coordination.k8s.io "runbook-lock": the object has been modified/,
  )
  // A Lease cannot be updated unconditionally (AllowUnconditionalUpdate is false for Leases): a PUT that names no
  // resourceVersion is refused. `kubectl replace --raw` sends the body as it is.
  const path = '/apis/coordination.k8s.io/v1/namespaces/default/leases/runbook-lock'
  assert.match(
    await fails(['replace', '--raw', path, '-f', '-'], lease('second')),
    /The leases "runbook-lock" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update/,
  )
  const unversioned = await api(path, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: lease('second'),
  })
  assert.is(unversioned.status, 422)
  assert.match(
    (await unversioned.json()).message,
    /^leases.coordination.k8s.io "runbook-lock" is invalid: metadata.resourceVersion: Invalid value: 0x0/,
  )
  assert.is(JSON.parse(await ok(['get', 'lease', 'runbook-lock', '-o', 'json'])).spec.holderIdentity, 'first')
  // Plain `kubectl replace` never sends such a PUT: it reads the server's resourceVersion and sends that (cli-runtime
  // pkg/resource/helper.go Replace), so it overwrites whoever holds the Lease. The runbook's lock always sends the
  // version it read.
  const overwritten = JSON.parse(await ok(['replace', '-f', '-', '-o', 'json'], lease('second')))
  assert.is(overwritten.spec.holderIdentity, 'second')
  assert.ok(Number(overwritten.metadata.resourceVersion) > Number(renewed.metadata.resourceVersion))
  const bad = JSON.parse(lease('x'))
  bad.metadata.name = 'bad-lease'
  bad.spec.leaseDurationSeconds = 0
  bad.spec.renewTime = new Date().toISOString()
  const problems = await fails(['create', '-f', '-'], JSON.stringify(bad))
  assert.match(problems, /spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0/)
  assert.match(problems, /spec.renewTime: Invalid value/)
  await ok(['delete', 'lease', 'runbook-lock'])
})

test('a Secret over 1 MiB of data is refused; a stale resourceVersion on replace is a 409', async () => {
  const secret = (data: string, resourceVersion?: string) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'record', ...(resourceVersion ? { resourceVersion } : {}) },
      data: { record: Buffer.from(data).toString('base64') },
    })
  assert.match(
    await fails(['create', '-f', '-'], secret('x'.repeat(1024 * 1024 + 1))),
    /data: Too long: may not be more than 1048576 bytes/,
  )
  const first = JSON.parse(await ok(['create', '-f', '-', '-o', 'json'], secret('one')))
  assert.is(first.type, 'Opaque')
  await ok(['replace', '-f', '-'], secret('two', first.metadata.resourceVersion))
  assert.match(await fails(['replace', '-f', '-'], secret('three', first.metadata.resourceVersion)), /\(Conflict\)/)
  await ok(['delete', 'secret', 'record'])
})

test('errors are Status objects kubectl prints', async () => {
  const cm = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dup' } })
  await ok(['create', '-f', '-'], cm)
  assert.match(
    await fails(['create', '-f', '-'], cm),
    /Error from server \(AlreadyExists\).*configmaps "dup" already exists/,
  )
  assert.match(
    await fails(['get', 'svc', 'nothing-here']),
    /Error from server \(NotFound\): services "nothing-here" not found/,
  )
  const bad = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Not_Valid' } })
  assert.match(
    await fails(['create', '-f', '-'], bad),
    /ConfigMap "Not_Valid" is invalid: metadata.name: Invalid value/,
  )
  const badNs = JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a.b' } })
  assert.match(await fails(['create', '-f', '-'], badNs), /Namespace "a.b" is invalid.*RFC 1123 label/)
  const elsewhere = JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'x', namespace: 'nowhere' },
  })
  assert.match(await fails(['create', '-f', '-'], elsewhere), /namespaces "nowhere" not found/)
  // Optimistic concurrency: a PUT with a stale resourceVersion is a Conflict.
  const current = JSON.parse(await ok(['get', 'cm', 'dup', '-o', 'json']))
  await ok(['label', 'cm', 'dup', 'bump=1'])
  assert.match(await fails(['replace', '-f', '-'], JSON.stringify(current)), /Conflict|the object has been modified/)
  const status = await (await api('/api/v1/namespaces/default/configmaps/nope')).json()
  assert.equal([status.kind, status.status, status.code, status.reason], ['Status', 'Failure', 404, 'NotFound'])
})

test('watches resume from a resourceVersion, honour selectors and expire with 410', async () => {
  const CM = type('', 'configmaps')
  const from = store.resourceVersion
  store.create(CM, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'w1', namespace: 'default', labels: { watch: 'yes' } },
  })
  store.mutate(CM, 'default', 'w1', (o) => void (o.data = { k: 'v' }))
  store.mutate(CM, 'default', 'w1', (o) => void (o.metadata.labels = { watch: 'no' }))
  store.delete(CM, 'default', 'w1')
  const events = async (query: string) =>
    (await (await api(`/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&${query}`)).text())
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
  const [all, selected, fromKubectl] = await Promise.all([
    events(`resourceVersion=${from}`),
    events(`resourceVersion=${from}&labelSelector=watch%3Dyes`),
    // kubectl's own watch, resumed from the same point.
    ok([
      'get',
      '--raw',
      `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${from}&timeoutSeconds=1&fieldSelector=metadata.name%3Dw1`,
    ]),
  ])
  assert.equal(
    all.map((e) => e.type),
    ['ADDED', 'MODIFIED', 'MODIFIED', 'DELETED'],
  )
  assert.equal(
    selected.map((e) => e.type),
    ['ADDED', 'MODIFIED', 'DELETED'],
    'leaving the selector reads as DELETED',
  )
  assert.is(fromKubectl.trim().split('\n').length, 4)
  // Push the start point out of the history window.
  store.create(CM, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'churn', namespace: 'default' } })
  for (let i = 0; i < 5001; i++) store.mutate(CM, 'default', 'churn', (o) => void (o.data = { i: String(i) }))
  const expired = await events(`resourceVersion=${from}`)
  assert.is(expired.length, 1)
  assert.is(expired[0].type, 'ERROR')
  assert.equal([expired[0].object.code, expired[0].object.reason], [410, 'Expired'])
})

test('faults: a 500 is printed by kubectl, a reset is retried or reported', async () => {
  faults.api.push({ method: 'GET', pathIncludes: '/configmaps/dup', failWith: 500, times: 1 })
  assert.match(await fails(['get', 'cm', 'dup']), /InternalError|simulated fault/)
  assert.is(faults.api[0].times, 0, 'the fault was consumed')
  await ok(['get', 'cm', 'dup'])
  faults.api.push({ method: 'GET', pathIncludes: '/configmaps/dup', failWith: 'reset', times: 1 })
  const reset = await k(['get', 'cm', 'dup', '-o', 'name'])
  // client-go retries a GET whose connection dropped; record what kubectl really does.
  assert.is(reset.code, 0, reset.stderr)
  assert.is(reset.stdout.trim(), 'configmap/dup')
  assert.is(faults.api[1].times, 0)
  faults.api.push({ method: 'POST', pathIncludes: '/configmaps', failWith: 'reset', times: 1 })
  const lost = await k(['create', 'configmap', 'after-reset', '--dry-run=client', '-o', 'json'])
  const created = await k(['create', '-f', '-'], lost.stdout)
  assert.is.not(created.code, 0, 'a POST whose connection dropped is not retried')
  assert.match(created.stderr, /EOF|connection reset|broken pipe/)
  faults.api.length = 0
})

test('NodePorts are allocated once and stay stable across re-applies', async () => {
  const svc = (extra = '') => `apiVersion: v1
kind: Service
metadata: {name: exposed}
spec:
  type: NodePort
  selector: {app: exposed}
  ports: [{name: http, port: 80, targetPort: 8080}${extra}]
`
  await ok(['apply', '-f', '-'], svc())
  const port = Number(await ok(['get', 'svc', 'exposed', '-o', 'jsonpath={.spec.ports[0].nodePort}']))
  assert.ok(port >= 30000 && port <= 32767, `nodePort ${port} in range`)
  await ok(['apply', '-f', '-'], svc(', {name: admin, port: 81}'))
  await ok(['apply', '--server-side', '--force-conflicts', '-f', '-'], svc(', {name: admin, port: 81}'))
  const ports = JSON.parse(await ok(['get', 'svc', 'exposed', '-o', 'jsonpath={.spec.ports}']))
  assert.is(ports[0].nodePort, port, 'existing NodePort kept')
  assert.ok(ports[1].nodePort >= 30000 && ports[1].nodePort !== port)
  const headless = JSON.stringify({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'headless' },
    spec: { clusterIP: 'None', ports: [{ port: 27017 }] },
  })
  await ok(['create', '-f', '-'], headless)
  assert.is(await ok(['get', 'svc', 'headless', '-o', 'jsonpath={.spec.clusterIP}']), 'None')
  assert.match(
    await ok(['get', 'svc', 'exposed']),
    /exposed\s+NodePort\s+10\.96\.\d+\.\d+\s+<none>\s+80:\d+\/TCP,81:\d+\/TCP/,
  )
})

test('imperative kubectl create sends protobuf: namespaces, configmaps, secrets and serviceaccounts decode', async () => {
  await ok(['create', 'namespace', 'pb'])
  await ok(['create', 'configmap', 'pb-cm', '-n', 'pb', '--from-literal=greeting=hi'])
  await ok(['create', 'secret', 'generic', 'pb-secret', '-n', 'pb', '--from-literal=password=s3cret'])
  await ok(['create', 'serviceaccount', 'pb-sa', '-n', 'pb'])
  const ns = JSON.parse(await ok(['get', 'ns', 'pb', '-o', 'json']))
  assert.equal(ns.metadata.labels, { 'kubernetes.io/metadata.name': 'pb' })
  assert.is(ns.metadata.generateName, undefined, 'empty protobuf strings are omitted')
  assert.is(await ok(['get', 'cm', 'pb-cm', '-n', 'pb', '-o', 'jsonpath={.data.greeting}']), 'hi')
  const secret = JSON.parse(await ok(['get', 'secret', 'pb-secret', '-n', 'pb', '-o', 'json']))
  assert.equal([secret.type, Buffer.from(secret.data.password, 'base64').toString()], ['Opaque', 's3cret'])
  assert.match(await ok(['get', 'sa', '-n', 'pb']), /pb-sa/)
  assert.match(
    await fails(['create', 'deployment', 'pb-deploy', '-n', 'pb', '--image=x']),
    /reads application\/vnd.kubernetes.protobuf only for/,
  )
})

test('the server survives garbage and answers with Status errors', async () => {
  const post = (path: string, body: string, contentType = 'application/json') =>
    api(path, { method: 'POST', body, headers: { 'Content-Type': contentType } })
  const expectStatus = async (response: Promise<Response>, code: number) => {
    const r = await response
    assert.is(r.status, code)
    const body = await r.json()
    assert.is(body.kind, 'Status')
    assert.is(body.code, code)
  }
  await expectStatus(post('/api/v1/namespaces/default/configmaps', '{not json'), 400)
  await expectStatus(post('/api/v1/namespaces/default/configmaps', '[1,2]'), 400)
  await expectStatus(post('/api/v1/namespaces/default/configmaps', ''), 400)
  await expectStatus(post('/api/v1/namespaces/default/configmaps', '{"metadata":"x"}'), 400)
  await expectStatus(post('/api/v1/namespaces/default/configmaps', '{"kind":"Pod","metadata":{"name":"x"}}'), 400)
  await expectStatus(post('/api/v1/namespaces/default/configmaps', '{"metadata":{}}'), 422)
  await expectStatus(
    post('/api/v1/namespaces/default/configmaps', '\u0000\u0001', 'application/vnd.kubernetes.protobuf'),
    415,
  )
  await expectStatus(post('/api/v1/namespaces/default/configmaps/dup', '{}'), 405)
  await expectStatus(
    api('/api/v1/namespaces/default/configmaps/dup', {
      method: 'PATCH',
      body: '{}',
      headers: { 'Content-Type': 'text/plain' },
    }),
    415,
  )
  await expectStatus(
    api('/api/v1/namespaces/default/configmaps/dup', {
      method: 'PATCH',
      body: '[{"op":"explode"}]',
      headers: { 'Content-Type': 'application/json-patch+json' },
    }),
    422,
  )
  await expectStatus(
    api('/api/v1/namespaces/default/configmaps/dup', {
      method: 'PATCH',
      body: '"text"',
      headers: { 'Content-Type': 'application/strategic-merge-patch+json' },
    }),
    422,
  )
  await expectStatus(api('/api/v1/namespaces/default/configmaps?labelSelector=%3D%3D%3D'), 400)
  await expectStatus(api('/apis/nothing.example/v1/widgets'), 404)
  await expectStatus(api('/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=abc'), 400)
  assert.is((await api('/version')).status, 200)
  assert.match(await ok(['get', 'cm', 'dup', '-o', 'name']), /configmap\/dup/)
})

test.run()
