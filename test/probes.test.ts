import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chartDefaults } from '../lib/domain/gthulhu.ts'
import { loadConfig } from '../lib/config/options.ts'
import {
  classifyHttp,
  classifyMongo,
  formatMatrix,
  impersonationLabels,
  meetsExpectation,
  PROBE_RUN_LABEL,
  probePod,
  type ProbeResult,
  type ProbeSpec,
} from '../lib/verify/probes.ts'
import { validateManifest } from '../lib/kube/schema.ts'
import type { Facts } from '../lib/types.ts'
import { containsFields } from '../lib/domain/apply.ts'
import { desiredNetworkPolicies, portsAdmitted, portsAdmittedFromBlock } from '../lib/domain/network-policies.ts'
import { pathsTriedAt, probeFor, THREAT_MODEL } from '../lib/verify/threat-model.ts'
import { ENGLISH, terminalColumns, text, useText } from '../lib/config/text.ts'
import { TEXT_ZH_TW } from '../lib/cli/zh-TW.ts'
import type { Observation } from '../lib/types.ts'
import { l4PoliciesStep } from '../steps/06-l4-policies.ts'

const mongoSpec: ProbeSpec = {
  role: 'manager-mongodb',
  source: {
    name: 'manager',
    labels: { 'app.kubernetes.io/component': 'manager', 'app.kubernetes.io/name': 'gthulhu' },
    serviceAccount: 'gthulhu-manager',
  },
  destination: 'MongoDB :27017',
  request: { kind: 'mongo', host: 'gthulhu-mongodb.default.svc', port: 27017 },
  expect: { kind: 'answered' },
}
const options = {
  namespace: 'apps',
  runId: 'abcde',
  mongoImage: 'docker.io/library/mongo:8.0',
  httpImage: 'curlimages/curl:8.11.1',
}

test('probe pods get unique names, the impersonated labels and ServiceAccount, and pass the schema', () => {
  const a = probePod(mongoSpec, options)
  const b = probePod(mongoSpec, options)
  assert.match(a.metadata.name, /^gthulhu-probe-manager-mongodb-[a-z0-9]{5}$/)
  assert.is.not(a.metadata.name, b.metadata.name)
  assert.is(a.metadata.namespace, 'apps')
  assert.is(a.metadata.labels!['app.kubernetes.io/managed-by'], 'gthulhu-runbook')
  assert.is(a.metadata.labels![PROBE_RUN_LABEL], 'abcde')
  assert.is(
    a.metadata.labels!['app.kubernetes.io/component'],
    'manager',
    "the workload's labels win over the template's",
  )
  assert.is(a.spec.serviceAccountName, 'gthulhu-manager')
  assert.is(a.spec.restartPolicy, 'Never')
  assert.equal(a.spec.containers[0].command, [
    'sh',
    '-c',
    `mongosh --quiet --norc --eval 'db.runCommand({hello:1}).ok' 'mongodb://gthulhu-mongodb.default.svc:27017/?directConnection=true&serverSelectionTimeoutMS=5000'`,
  ])
  assert.is(a.spec.containers[0].image, 'docker.io/library/mongo:8.0')
  assert.equal(validateManifest(a), [])
  const http = probePod(
    { ...mongoSpec, request: { kind: 'http', url: 'http://m:8080/health', userAgent: "it's me" } },
    options,
  )
  assert.is(http.spec.containers[0].image, 'curlimages/curl:8.11.1')
  assert.is(
    http.spec.containers[0].command[2],
    `curl -sS -o /dev/null -w '%{http_code}' -H 'User-Agent: it'\\''s me' --max-time 5 'http://m:8080/health'`,
  )
})

test('labels a controller owns are not copied, so no ReplicaSet or DaemonSet adopts a probe', () => {
  assert.equal(
    impersonationLabels({
      app: 'x',
      'pod-template-hash': '123',
      'controller-revision-hash': 'abc',
      'statefulset.kubernetes.io/pod-name': 'm-0',
    }),
    { app: 'x' },
  )
})

test('mongosh and curl outcomes are told apart: answered, blocked, nothing listening, unresolved', () => {
  assert.equal(classifyMongo(0, '1\n'), { kind: 'answered' })
  // ztunnel accepted the connection and closed it: no hello came back.
  assert.is(classifyMongo(1, 'MongoServerSelectionError: connection 1 to 10.0.0.1:27017 closed\n').kind, 'blocked')
  assert.is(classifyMongo(1, 'MongoServerSelectionError: read ECONNRESET\n').kind, 'blocked')
  assert.is(classifyMongo(1, 'MongoServerSelectionError: Server selection timed out after 5000 ms\n').kind, 'blocked')
  assert.is(classifyMongo(1, 'MongoServerSelectionError: connect ECONNREFUSED 10.0.0.1:27017\n').kind, 'refused')
  assert.is(classifyMongo(1, 'MongoServerSelectionError: getaddrinfo ENOTFOUND x\n').kind, 'unresolved')
  assert.is(classifyMongo(127, 'sh: mongosh: not found\n').kind, 'error')
  // A bare exit 0 without the hello's answer is not an answer.
  assert.is(classifyMongo(0, '').kind, 'error')
  assert.equal(classifyHttp(0, '200'), { kind: 'status', status: 200 })
  assert.equal(classifyHttp(0, '403'), { kind: 'status', status: 403 })
  assert.is(classifyHttp(56, '000curl: (56) Recv failure: Connection reset by peer\n').kind, 'blocked')
  assert.is(classifyHttp(6, '000curl: (6) Could not resolve host: x\n').kind, 'unresolved')
  // A deny probe only counts when the connection was refused by policy, not when nothing answered.
  assert.ok(meetsExpectation({ kind: 'blocked' }, { kind: 'blocked', detail: '' }))
  assert.not.ok(meetsExpectation({ kind: 'blocked' }, { kind: 'unresolved', detail: '' }))
  assert.not.ok(meetsExpectation({ kind: 'blocked' }, { kind: 'answered' }))
  assert.not.ok(meetsExpectation({ kind: 'status', status: 200 }, { kind: 'status', status: 403 }))
})

test('the reachability matrix shows source × destination with expected and observed', () => {
  const result = (source: string, destination: string, ok: boolean): ProbeResult => ({
    spec: {
      ...mongoSpec,
      source: { ...mongoSpec.source, name: source },
      destination,
      expect: { kind: source === 'manager' ? 'answered' : 'blocked' },
    },
    pod: 'p',
    exitCode: 0,
    log: '',
    observed:
      ok === (source === 'manager') ? { kind: 'answered' } : { kind: 'blocked', detail: 'connection timed out' },
    ok,
  })
  const text = formatMatrix([
    result('manager', 'MongoDB :27017', true),
    result('other', 'MongoDB :27017', false),
    result('manager', 'scheduler :8080', true),
    result('other', 'scheduler :8080', true),
  ])
  const lines = text.split('\n')
  assert.match(lines[0], /source ↓ {2}destination → │ MongoDB :27017 +│ scheduler :8080/)
  assert.match(lines[2], /^manager +│ ✔ answers \/ answers +│ ✔ answers \/ answers$/)
  assert.match(lines[3], /^other +│ ✖ refused \/ answers +│ ✔ refused \/ refused$/)
})

const facts: Facts = { workloads: chartDefaults({ release: 'prod' }) }

test('under --lang zh-TW the matrix of every probe the threat model builds, and its heading, carry no fixed English word', () => {
  const config = loadConfig(['--namespace', 'apps', '--release', 'prod'], {})
  // Every probe path builds: a manager pod with an IP, an admitted caller, and a node without a manager pod.
  const env = {
    config,
    facts,
    managerPodIp: '10.0.0.7',
    allowedCaller: { sa: 'gthulhu-scheduler', principal: 'cluster.local/ns/apps/sa/gthulhu-scheduler' },
    managerNodes: ['node-a'],
    nodes: ['node-a', 'node-b'],
  }
  const specs = THREAT_MODEL.map((path) => probeFor(path, env)).filter(
    (spec): spec is ProbeSpec => !!spec && !('notTried' in spec),
  )
  assert.ok(specs.length >= 10, `the threat model builds its probes: ${specs.length}`)
  const seen: Observation[] = [
    { kind: 'answered' },
    { kind: 'status', status: 200 },
    { kind: 'blocked', detail: 'connection reset (ztunnel)' },
    { kind: 'refused', detail: 'connection refused' },
    { kind: 'unresolved', detail: 'getaddrinfo ENOTFOUND' },
    { kind: 'error', detail: 'exit 3' },
    { kind: 'skipped', detail: 'interrupted' },
  ]
  const results: ProbeResult[] = specs.map((spec, i) => ({
    spec,
    pod: 'p',
    exitCode: 0,
    log: '',
    observed: seen[i % seen.length],
    ok: i % 2 === 0,
  }))
  const render = () =>
    [text.matrix.heading(true), text.matrix.heading(false), formatMatrix(results, (r) => r === results[0])].join('\n')
  const english = render()
  useText(TEXT_ZH_TW)
  let chinese: string
  try {
    chinese = render()
  } finally {
    useText(ENGLISH)
  }
  assert.is(render(), english, 'English is back for the tests after this one')
  // What the zh-TW text keeps as it is: Kubernetes, Istio and Gthulhu names, and the values inside the names.
  const kept = new Set(
    (
      'runbook manager MongoDB Pod IP Service ServiceAccount HTTP waypoint hostNetwork ambient decision maker scheduler ' +
      'sidecar prod-gthulhu-manager gthulhu-scheduler default component probe app decisionmaker'
    ).split(' '),
  )
  const words = (value: string) => value.match(/[A-Za-z][A-Za-z-]*[A-Za-z]/g) ?? []
  assert.equal(
    words(chinese).filter((w) => !kept.has(w)),
    [],
    chinese,
  )
  // The English render had words to translate; the zh-TW grid is the English one, aligned in terminal columns.
  assert.ok(words(english).filter((w) => !kept.has(w)).length > 20, english)
  const grid = (value: string) => value.split('\n').filter((line) => line.includes('│'))
  const bars = (line: string) =>
    line
      .split('│')
      .slice(0, -1)
      .map((_, i, cells) => terminalColumns(cells.slice(0, i + 1).join('│')) + i)
  assert.is(grid(chinese).length, grid(english).length)
  for (const line of grid(chinese)) assert.equal(bars(line), bars(grid(chinese)[0]), chinese)
  assert.match(chinese, /來源 ↓ {2}目的地 →/)
  assert.match(chinese, /^已納入服務網格的 Pod，ServiceAccount default +│/m)
})

test("the NetworkPolicies use preflight's labels, the app port plus 15008, and the kubelet source unless turned off", () => {
  const config = loadConfig(['--namespace', 'apps', '--release', 'prod'], {})
  const [mongodb, scheduler] = desiredNetworkPolicies(config, facts)
  assert.is(mongodb.metadata.name, 'allow-only-manager-to-mongodb')
  assert.is(mongodb.metadata.namespace, 'apps')
  assert.equal(mongodb.spec.podSelector.matchLabels, {
    'app.kubernetes.io/name': 'mongodb',
    'app.kubernetes.io/instance': 'prod',
    'app.kubernetes.io/component': 'mongodb',
  })
  assert.equal(mongodb.spec.ingress[0].from, [
    {
      podSelector: {
        matchLabels: {
          'app.kubernetes.io/name': 'gthulhu',
          'app.kubernetes.io/instance': 'prod',
          'app.kubernetes.io/component': 'manager',
        },
      },
    },
  ])
  assert.equal(mongodb.spec.ingress[0].ports, [
    { protocol: 'TCP', port: 27017 },
    { protocol: 'TCP', port: 15008 },
  ])
  assert.equal(mongodb.spec.ingress[1], {
    from: [
      { ipBlock: { cidr: '169.254.7.127/32' } },
      { ipBlock: { cidr: 'fd16:9254:7127:1337:ffff:ffff:ffff:ffff/128' } },
    ],
    ports: [{ protocol: 'TCP', port: 27017 }],
  })
  assert.equal(scheduler.spec.ingress[0].ports, [
    { protocol: 'TCP', port: 8080 },
    { protocol: 'TCP', port: 15008 },
  ])
  assert.equal(validateManifest(mongodb), [])
  assert.equal(validateManifest(scheduler), [])
  const managerLabels = facts.workloads!.manager.podLabels
  assert.equal(portsAdmitted(mongodb, managerLabels), [15008, 27017])
  assert.equal(portsAdmitted(mongodb, { 'app.kubernetes.io/component': 'other' }), [])
  assert.equal(portsAdmittedFromBlock(scheduler, '169.254.7.127/32'), [8080])
  const without = desiredNetworkPolicies(loadConfig(['--no-allow-kubelet-probes'], {}), facts)
  assert.is(without[0].spec.ingress.length, 1)
  assert.match(
    JSON.stringify(l4PoliciesStep.plan({ config: loadConfig(['--no-allow-kubelet-probes'], {}), facts })),
    /NOT admitted \(--no-allow-kubelet-probes\)/,
  )
})

test("the L4 probes: the manager stand-in gets MongoDB's hello answered and HTTP 200 from the scheduler; an outsider expects refusal", () => {
  const config = loadConfig(['--namespace', 'apps', '--release', 'prod'], {})
  const built = pathsTriedAt('l4-policies').map((path) => probeFor(path, { config, facts }) as ProbeSpec)
  assert.equal(
    built.map((s) => [s.role, s.expect]),
    [
      ['manager-to-mongodb', { kind: 'answered' }],
      ['manager-to-decision-maker', { kind: 'status', status: 200 }],
      ['other-pod-to-mongodb', { kind: 'blocked' }],
      ['other-pod-to-decision-maker', { kind: 'blocked' }],
      // The impostor decision maker listens: nothing the manager sends may reach it.
      ['impostor-decision-maker', { kind: 'blocked' }],
    ],
  )
  // By destination: the manager and the outsider to MongoDB, then to the decision maker.
  const specs = [built[0], built[2], built[1], built[3]]
  // Every probe exchanges data: ztunnel accepts a connection before it decides, so a connect alone proves nothing.
  assert.equal(specs[0].request, { kind: 'mongo', host: 'prod-mongodb.apps.svc', port: 27017 })
  assert.equal(specs[1].request, { kind: 'mongo', host: 'prod-mongodb.apps.svc', port: 27017 })
  // HTTP, so a reset after the manager's own ztunnel accepted the connect counts as a failure.
  assert.equal(specs[2].request, { kind: 'http', url: 'http://prod-gthulhu-scheduler-sidecar.apps.svc:8080/health' })
  assert.equal(specs[3].request, specs[2].request)
  // Both probes to one destination share its matrix column.
  assert.is(specs[2].destination, specs[3].destination)
  assert.is(specs[2].destination, 'scheduler sidecar :8080')
  assert.is(specs[0].source.serviceAccount, 'prod-gthulhu-manager')
  assert.is(specs[1].source.labels['app.kubernetes.io/component'], 'probe')
  assert.is(specs[1].source.labels['app.kubernetes.io/instance'], 'prod')
  // The outsider stays outside the mesh, so the CNI alone decides its verdict.
  assert.is(specs[1].source.labels['istio.io/dataplane-mode'], 'none')
  assert.is(specs[3].source.labels['istio.io/dataplane-mode'], 'none')
  const pod = probePod(specs[2], {
    namespace: 'apps',
    runId: 'r1',
    mongoImage: 'mongo:8.0',
    httpImage: config.httpProbeImage,
  })
  assert.is(pod.spec.containers[0].image, config.httpProbeImage)
  assert.match(
    pod.spec.containers[0].command[2],
    /^curl -sS -o \/dev\/null -w '%\{http_code\}' --max-time \d+ 'http:\/\/prod-gthulhu-scheduler-sidecar\.apps\.svc:8080\/health'$/,
  )
  // After enrolment curl's reset (56) reads as blocked: the HTTP 200 expectation is not met.
  const reset = classifyHttp(56, '000curl: (56) Recv failure: Connection reset by peer\n')
  assert.is(reset.kind, 'blocked')
  assert.not.ok(meetsExpectation(specs[2].expect, reset))
  assert.ok(meetsExpectation(specs[2].expect, classifyHttp(0, '200')))
})

test('comparing applied objects: server defaults are fine, a missing list item is a difference', () => {
  const want = { ports: [{ port: 27017 }, { port: 15008 }] }
  assert.ok(
    containsFields(want, {
      ports: [
        { port: 27017, protocol: 'TCP' },
        { port: 15008, protocol: 'TCP' },
      ],
      extra: 1,
    }),
  )
  assert.not.ok(containsFields(want, { ports: [{ port: 27017 }] }))
  assert.not.ok(containsFields({ a: '1' }, { a: 1 }))
})

test.run()
