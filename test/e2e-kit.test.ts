// The real-cluster kit (e2e/kit.sh) as CI can run it, part one: shellcheck, how it reads probe and listener logs,
// its usage and missing-tool errors, kind and byo dry runs (with a release name without "gthulhu"), a Gthulhu it
// cannot find, and its attack pass against a simulated cluster the runbook has not hardened: probes that never run,
// a DNS that never answers, the manager scaled to zero while the decision maker is Running but not Ready, SIGTERM
// and Ctrl-C, the impostor decision maker heard or not, and paths the operator chose to leave open.
// test/e2e-kit-attack.test.ts attacks a cluster the runbook hardened.
import { spawnSync } from 'node:child_process'
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl, runCommand } from './kit.ts'
import {
  attackObjectsLeft,
  KIT,
  managerRound,
  resultTable,
  rowOf,
  runKit,
  startKit,
  waitFor,
} from './e2e-kit-support.ts'
import { listOf } from './sim/cluster-view.ts'
import { tempDir } from './temp-dir.ts'
import { ensurePackage, runs } from './debian-package.ts'

let world: RunbookWorld

/** A PATH holding only the commands the kit itself uses, so docker, kind and helm are surely absent. */
function pathWithout(absent: string[]): string {
  const dir = tempDir('kit-path-')
  const needed = [
    ...['bash', 'dirname', 'mktemp', 'date', 'rm', 'sed', 'grep', 'tr', 'awk', 'head', 'tail', 'cut', 'wc'],
    ...['sort', 'paste', 'cat', 'sleep', 'ps', 'kubectl', 'node', 'timeout', 'git'],
  ]
  for (const name of needed.filter((n) => !absent.includes(n))) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim()
    if (found) symlinkSync(found, join(dir, name))
  }
  return dir
}

/**
 * Calls functions of the kit in one bash that sources it once (so main does not run), each call in its own
 * subshell, and returns what each printed. One process per test instead of one per call: on a busy machine every
 * process start is slow, and the timeout only guards against a hang.
 */
function kitFunctions(calls: string[][]): string[] {
  const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`
  const script = ['source "$1"', ...calls.map((call) => `(${call.map(quote).join(' ')}); printf '\\0'`)].join('\n')
  const r = spawnSync('bash', ['-c', script, 'kit-functions', KIT], { encoding: 'utf8', timeout: 180_000 })
  const outputs = r.stdout.split('\0').slice(0, -1)
  const failed = calls[outputs.length]?.join(' ') ?? 'after the last call'
  assert.is(r.status, 0, `${failed}: ${r.stderr}${r.error ? ` (${r.error.message})` : ''}`)
  assert.is(outputs.length, calls.length, r.stdout)
  return outputs
}

/** The pinned value of a readonly in kit.sh. */
function pin(name: string): string {
  const value = new RegExp(`^readonly ${name}=(\\S+)$`, 'm').exec(readFileSync(KIT, 'utf8'))?.[1]
  assert.ok(value, `kit.sh pins ${name}`)
  return value!
}

/** Asserts that `patterns` occur in `text` in this order. */
function inOrder(text: string, patterns: RegExp[]): void {
  let at = 0
  for (const pattern of patterns) {
    const m = pattern.exec(text.slice(at))
    assert.ok(m, `after offset ${at}, expected ${pattern}\n${text}`)
    at += m!.index + m![0].length
  }
}

async function kubectlOk(...args: string[]): Promise<string> {
  const r = await kubectl(world.sim.env, ['--context', world.sim.context, ...args])
  assert.is(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

/** Gthulhu's own pods of one component (made by its controller, not on their way out). */
const podsOf = (component: string) =>
  listOf(world.sim.store, 'pod').filter(
    (p) =>
      p.metadata.labels?.['app.kubernetes.io/component'] === component &&
      (p.metadata.ownerReferences ?? []).length > 0 &&
      !p.metadata.deletionTimestamp,
  )
const ready = (pod: any) => (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True')

const regexpText = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

test.before(async () => {
  world = await startWorld()
})
test.after(async () => {
  await world?.stop()
})

test('shellcheck finds nothing in the kit', () => {
  ensurePackage('shellcheck', runs('shellcheck', '--version'), 'the kit test')
  const r = spawnSync('shellcheck', [KIT], { encoding: 'utf8', timeout: 60_000 })
  assert.is(r.status, 0, r.stdout + r.stderr)
})

test('probe logs are read as a real curl and mongosh write them; a DNS failure of any kind is no result', () => {
  const cases: [check: string, exit: number, log: string, host: string, result: string][] = [
    ['http', 0, '200', 'gthulhu-manager.default.svc', 'reached\tHTTP 200'],
    ['http', 0, '403', 'gthulhu-manager.default.svc', 'refused\tHTTP 403 (denied by a proxy)'],
    ['http', 0, '404', '10.244.0.9', 'unknown\tHTTP 404'],
    // curl writes -w's 000 without a newline, so its error line may follow on the same line.
    [
      'http',
      56,
      '000curl: (56) Recv failure: Connection reset by peer',
      '10.244.0.9',
      'refused\tcurl exit 56, no HTTP response',
    ],
    ['http', 52, 'curl: (52) Empty reply from server\n000', '10.244.0.9', 'refused\tcurl exit 52, no HTTP response'],
    [
      'http',
      7,
      "000curl: (7) Failed to connect to x port 8080 after 0 ms: Couldn't connect to server",
      '10.244.0.9',
      'refused\tcurl exit 7, no HTTP response',
    ],
    [
      'http',
      28,
      'curl: (28) Connection timed out after 5002 milliseconds\n000',
      '10.244.0.9',
      'refused\tcurl exit 28, no HTTP response (curl: (28) Connection timed out after 5002 milliseconds)',
    ],
    [
      'http',
      28,
      '000curl: (28) Operation timed out after 5001 milliseconds with 0 bytes received',
      '10.244.0.9',
      'refused\tcurl exit 28, no HTTP response (curl: (28) Operation timed out after 5001 milliseconds with 0 bytes received)',
    ],
    // DNS: a name that does not resolve, or a lookup that times out, says nothing about the path.
    [
      'http',
      6,
      '000curl: (6) Could not resolve host: gthulhu-manager.default.svc',
      'gthulhu-manager.default.svc',
      'unknown\tDNS: curl: (6) Could not resolve host: gthulhu-manager.default.svc (a name that does not resolve proves nothing)',
    ],
    [
      'http',
      28,
      '000curl: (28) Resolving timed out after 5000 milliseconds',
      'gthulhu-manager.default.svc',
      'unknown\tDNS: curl: (28) Resolving timed out after 5000 milliseconds (a lookup that times out proves nothing)',
    ],
    ['mongo', 0, '1', '10.244.0.9', 'reached\tMongoDB answered hello'],
    ['mongo', 0, '0', '10.244.0.9', 'unknown\tmongosh exit 0: 0'],
    [
      'mongo',
      1,
      'MongoServerSelectionError: connection 1 to 10.244.0.9:27017 closed',
      '10.244.0.9',
      'refused\tmongosh exit 1: MongoServerSelectionError: connection 1 to 10.244.0.9:27017 closed',
    ],
    [
      'mongo',
      1,
      'MongoNetworkError: read ECONNRESET',
      '10.244.0.9',
      'refused\tmongosh exit 1: MongoNetworkError: read ECONNRESET',
    ],
    // A selection timeout against an IP is a dropped connection; against a name it may be a lookup that never answered.
    [
      'mongo',
      1,
      'MongoServerSelectionError: Server selection timed out after 5000 ms',
      '10.244.0.9',
      'refused\tmongosh exit 1: MongoServerSelectionError: Server selection timed out after 5000 ms',
    ],
    [
      'mongo',
      1,
      'MongoServerSelectionError: Server selection timed out after 5000 ms',
      'gthulhu-mongodb-0.gthulhu-mongodb.default.svc',
      'unknown\tmongosh exit 1: MongoServerSelectionError: Server selection timed out after 5000 ms (gthulhu-mongodb-0.gthulhu-mongodb.default.svc is a name: a DNS failure ends the same way)',
    ],
    [
      'mongo',
      1,
      'MongoServerSelectionError: getaddrinfo ENOTFOUND gthulhu-mongodb-0',
      'gthulhu-mongodb-0',
      'unknown\tDNS: mongosh exit 1: MongoServerSelectionError: getaddrinfo ENOTFOUND gthulhu-mongodb-0 (a name that does not resolve proves nothing)',
    ],
    [
      'mongo',
      1,
      'MongoServerSelectionError: getaddrinfo EAI_AGAIN gthulhu-mongodb-0',
      'gthulhu-mongodb-0',
      'unknown\tDNS: mongosh exit 1: MongoServerSelectionError: getaddrinfo EAI_AGAIN gthulhu-mongodb-0 (a name that does not resolve proves nothing)',
    ],
    ['mongo', 127, 'sh: mongosh: not found', '10.244.0.9', 'unknown\tmongosh exit 127: sh: mongosh: not found'],
  ]
  const outputs = kitFunctions(cases.map(([check, exit, log, host]) => ['classify', check, String(exit), log, host]))
  cases.forEach(([check, exit, log, , result], i) =>
    assert.is(outputs[i], result, `${check} exit ${exit}: ${JSON.stringify(log)}`),
  )
})

test("listener logs: only the manager's requests count, and two of its rounds are told apart by the log's clock", () => {
  const log = [
    'Serving HTTP on 0.0.0.0 port 8080 (http://0.0.0.0:8080/) ...',
    "10.244.0.3 - - [12/Mar/2026 10:00:00] code 501, message Unsupported method ('POST')",
    '10.244.0.3 - - [12/Mar/2026 10:00:00] "POST /api/v1/auth/token HTTP/1.1" 501 -',
    '10.244.0.9 - - [12/Mar/2026 10:00:02] "GET /api/v1/intents/merkle HTTP/1.1" 404 -',
    '10.244.0.3 - - [12/Mar/2026 10:00:01] "GET /api/v1/intents/merkle HTTP/1.1" 404 -',
  ].join('\n')
  const nextRound = `${log}\n10.244.0.3 - - [12/Mar/2026 10:00:31] "POST /api/v1/auth/token HTTP/1.1" 501 -`
  const [oneRound, twoRounds, others, none] = kitFunctions([
    ['requests_from', log, '10.244.0.3 10.244.0.7'],
    ['requests_from', nextRound, '10.244.0.3'],
    ['requests_from', log, '10.244.0.42'],
    ['rounds_heard', ''],
  ])
  assert.is(
    oneRound,
    '1072800 POST /api/v1/auth/token from 10.244.0.3\n1072801 GET /api/v1/intents/merkle from 10.244.0.3\n',
  )
  assert.is(others, '', 'requests from other addresses are not the manager')
  assert.is(none, '0')
  assert.equal(
    kitFunctions([
      ['rounds_heard', oneRound.trimEnd()],
      ['rounds_heard', twoRounds.trimEnd()],
    ]),
    ['1', '2'],
  )
})

test("the chart's fullname rule names what a dry run prints", () => {
  const names: [release: string, chart: string, fullname: string][] = [
    ['gthulhu', 'gthulhu', 'gthulhu'],
    ['prod', 'gthulhu', 'prod-gthulhu'],
    ['my-gthulhu-2', 'gthulhu', 'my-gthulhu-2'],
    ['prod', 'mongodb', 'prod-mongodb'],
  ]
  assert.equal(
    kitFunctions(names.map(([release, chart]) => ['chart_fullname', release, chart])),
    names.map(([, , fullname]) => fullname),
  )
})

test('usage errors exit 2 and name the bad value and what is valid', async () => {
  const cases: [string[], RegExp][] = [
    [[], /name a mode: kind or byo/],
    [['cluster'], /unknown mode 'cluster': use kind .* or byo/],
    [['byo'], /byo needs --context: name the cluster/],
    [['byo', '--context', 'prod', '--flavour', 'x'], /unknown option '--flavour'/],
    [
      ['byo', '--context', 'prod', '--probe-timeout', 'soon'],
      /--probe-timeout 'soon' is not a number of seconds between 5 and 3600/,
    ],
    [
      ['byo', '--context', 'prod', '--listen-timeout', '2'],
      /--listen-timeout '2' is not a number of seconds between 5 and 3600/,
    ],
    [
      ['byo', '--context', 'prod', '--manager-caller', 'Sched_SA'],
      /--manager-caller 'Sched_SA' is not a valid ServiceAccount name/,
    ],
    [['byo', '--context', 'prod', '--namespace', 'Bad_NS'], /--namespace 'Bad_NS' is not a valid Kubernetes name/],
    [['kind', '--context', 'prod'], /kind mode makes its own context \(kind-gthulhu-e2e\); --context is for byo/],
    [['kind', '--attack-only'], /--attack-only needs an existing cluster/],
    [
      ['byo', '--context', 'no-such-context'],
      /context 'no-such-context' is not in the kubeconfig; contexts there: gthulhu-sim/,
    ],
  ]
  for (const [args, message] of cases) {
    const r = await runKit(world, args)
    assert.is(r.code, 2, `${args.join(' ')}: ${show(r)}`)
    assert.match(r.stderr, message, `${args.join(' ')}: ${show(r)}`)
    assert.not.match(r.stderr + r.stdout, /^\s+at /m, 'no stack trace')
  }
})

test('kind --dry-run prints the whole command sequence with every pinned version, and changes nothing', async () => {
  const r = await runKit(world, ['kind', '--dry-run', '--name', 'kit-dry'])
  assert.is(r.code, 0, show(r))
  const out = r.stdout
  // In order: tools, cluster, CNI, chart, wait, runbook, attack, delete.
  inOrder(out, [
    /\+ check tools: docker kind helm git kubectl node timeout/,
    /disableDefaultCNI: true/,
    new RegExp(`\\+ kind create cluster --name kit-dry --image ${regexpText(pin('KIND_NODE_IMAGE'))} --config \\S+`),
    new RegExp(
      `\\+ kubectl --context kind-kit-dry .* apply --server-side -f https://raw\\.githubusercontent\\.com/projectcalico/calico/${pin('CALICO_VERSION')}/manifests/calico\\.yaml`,
    ),
    /rollout status daemonset\/calico-node/,
    new RegExp(`\\+ git clone --quiet --depth 1 --branch ${pin('CHART_TAG')} ${pin('CHART_REPO')} \\S+`),
    new RegExp(
      `\\+ helm install gthulhu \\S+/${pin('CHART_PATH')} --kube-context kind-kit-dry .* -f \\S+/e2e/gthulhu-values-kind\\.yaml .*manager\\.image\\.tag=${pin('GTHULHU_IMAGE_TAG')}`,
    ),
    /rollout status deployment\/gthulhu-manager/,
    new RegExp(
      `\\+ node \\S+/bin/gthulhu-runbook\\.mjs --context kind-kit-dry .*--istio-version ${pin('ISTIO_VERSION')} --gateway-api-version ${pin('GATEWAY_API_VERSION')} .*--yes`,
    ),
    /kind: Role\n/,
    /kind: Service\n(.*\n){3} {6}selector:\n {8}app\.kubernetes\.io\/name: "gthulhu"/,
    /\+ kubectl --context kind-kit-dry .* create -f \S+\/attack-objects\.yaml/,
    // Every probe pod carries the readiness gate that keeps it out of every Service's endpoints.
    /"labels":\{"e2e\.gthulhu-runbook\/run-id":"\d+","gthulhu-runbook\/probe-run":"kit-\d+","istio\.io\/dataplane-mode":"none"\}.*"readinessGates":\[\{"conditionType":"e2e\.gthulhu-runbook\/probe-never-serves"\}\].*"command":\["curl","-sS","-o","\/dev\/null","-w","%\{http_code\}","--max-time","5","http:\/\/gthulhu-manager\.default\.svc:8080\/health"\]/,
    /"serviceAccountName":"gthulhu",.*"http:\/\/gthulhu-manager\.default\.svc:8080\/health"/,
    /"command":\["mongosh","--quiet","--norc","--eval","db\.runCommand\(\{hello:1\}\)\.ok","mongodb:\/\/<MongoDB pod IP>:27017\/\?directConnection=true&serverSelectionTimeoutMS=5000"\]/,
    /\+ kubectl --context kind-kit-dry .* create -f \S+\/probe-pods-kit\.yaml/,
    // The attacker's borrowed identity carries the label the runbook's admission exemption looks for: it must not help.
    /"labels":\{"e2e\.gthulhu-runbook\/run-id":"\d+","gthulhu-runbook\/probe-run":"kit-\d+","app\.kubernetes\.io\/name":"gthulhu".*"serviceAccountName":"gthulhu-manager"/,
    /"hostNetwork":true,"dnsPolicy":"ClusterFirstWithHostNet","nodeName":"<manager node>"/,
    /\+ kubectl --context kind-kit-dry .* --as system:serviceaccount:default:kit-\d+-attacker create -f \S+\/probe-pods-attacker\.yaml/,
    /kind: CronJob/,
    /\+ kubectl .* --as system:serviceaccount:default:kit-\d+-attacker create --dry-run=server -f \S+\/admission-probes\.yaml/,
    /RESULT: DRY RUN/,
    /\+ kind delete cluster --name kit-dry/,
  ])
  for (const name of ['KIND_VERSION', 'ISTIO_VERSION', 'GATEWAY_API_VERSION', 'CHART_COMMIT', 'CHART_VERSION']) {
    assert.ok(out.includes(pin(name)), `the pinned ${name} is printed`)
  }
  // --keep keeps the kit's work directory too: it is made under a temp dir of this test's, removed at its exit.
  const kept = await runKit(world, ['kind', '--dry-run', '--name', 'kit-dry', '--keep'], {
    env: { TMPDIR: tempDir('kit-keep-') },
  })
  assert.is(kept.code, 0, show(kept))
  assert.not.match(kept.stdout, /\+ kind delete cluster/)
  assert.match(kept.stdout, /kept: kind cluster kit-dry/)
})

test('byo --dry-run with a release whose name lacks "gthulhu" names everything as the chart does', async () => {
  const r = await runKit(world, [
    'byo',
    '--context',
    world.sim.context,
    '--dry-run',
    '--release',
    'prod',
    '--namespace',
    'apps',
  ])
  assert.is(r.code, 0, show(r))
  inOrder(r.stdout, [
    /\+ helm install prod \S+ --kube-context gthulhu-sim --namespace apps /,
    /rollout status deployment\/prod-gthulhu-manager/,
    /rollout status daemonset\/prod-gthulhu-scheduler/,
    /rollout status statefulset\/prod-mongodb/,
    /--release prod .*--yes/,
    /"serviceAccountName":"prod-gthulhu",.*"http:\/\/prod-gthulhu-manager\.apps\.svc:8080\/health"/,
    /"app\.kubernetes\.io\/instance":"prod".*"serviceAccountName":"prod-gthulhu-manager",/,
    /serviceAccountName: prod-gthulhu-manager/,
  ])
  assert.not.match(r.stdout, /\bprod-manager\b/, 'never the old <release>-manager name')
})

test('kind mode checks docker, kind and helm first and names each missing tool (exit 2, nothing changed)', async () => {
  const r = await runKit(world, ['kind', '--name', 'kit-tools'], {
    env: { PATH: pathWithout(['docker', 'kind', 'helm']) },
  })
  assert.is(r.code, 2, show(r))
  for (const tool of ['docker', 'kind', 'helm'])
    assert.match(r.stderr, new RegExp(`${tool} not found on PATH: it \\S+`))
  assert.match(r.stderr, /install docker kind helm and run the kit again \(nothing was changed\)/)
  assert.not.match(r.stdout, /\+ kind create/)
})

test('byo installs the chart only when Gthulhu is missing, and needs helm for it', async () => {
  const bare = await startWorld({ missing: ['manager'], contextName: 'bare' })
  try {
    const r = await runCommand('bash', [KIT, 'byo', '--context', 'bare'], {
      cwd: tmpdir(),
      env: { ...process.env, ...bare.sim.env, PATH: pathWithout(['helm']) },
      timeoutMs: 120_000,
    })
    assert.is(r.code, 2, show(r))
    assert.match(r.stdout, /==> Installing Gthulhu: chart chart\/gthulhu/)
    assert.match(r.stderr, /helm not found on PATH: it installs the Gthulhu chart/)
    assert.not.match(r.stdout, /gthulhu-runbook\.mjs/, 'the runbook never ran')
  } finally {
    await bare.stop()
  }
})

test('no Gthulhu under the release named: the kit says so in its own words and names the releases it found (exit 2)', async () => {
  const r = await runKit(world, ['byo', '--context', world.sim.context, '--attack-only', '--release', 'nosuch'])
  assert.is(r.code, 2, show(r))
  assert.match(
    r.stderr,
    /no manager Deployment \(app\.kubernetes\.io\/component=manager\) labelled app\.kubernetes\.io\/instance=nosuch in namespace default, so there is nothing to attack; Gthulhu releases found there: gthulhu \(check --release and --namespace\)/,
  )
  assert.not.match(r.stderr + r.stdout, /error: |array index|jsonpath/i, 'no raw kubectl error')
  assert.not.match(r.stdout, /probe-pods-kit\.yaml/, 'no probe was started')
  assert.equal(await attackObjectsLeft(world), [])
})

test('attack pods that never run: every probe reported without a result, exit 1, everything deleted', async () => {
  world.sim.faults.probePodsPending = true
  try {
    const r = await runKit(world, [
      ...['byo', '--context', world.sim.context, '--attack-only'],
      ...['--probe-timeout', '5', '--listen-timeout', '5'],
    ])
    assert.is(r.code, 1, show(r))
    const rows = resultTable(r.stdout)
    // The admission probes are answered by the API server alone; every pod probe stays Pending.
    const podRows = [...rows].filter(([id]) => !/-(deployment|cronjob)$|^service-selecting-manager$/.test(id))
    assert.ok(podRows.length >= 13, r.stdout)
    for (const [id, row] of podRows) {
      if (id === 'manager-to-decoy-decision-maker') continue // owned by the kit's ConfigMap, so not a probe pod: it runs
      assert.is(row.verdict, 'NO RESULT', `${id}: ${row.text}`)
    }
    assert.match(rowOf(rows, 'outsider-to-manager', r.stdout).observed, /no result: pod Pending after 5s/)
    assert.match(rowOf(rows, 'impostor-decision-maker', r.stdout).observed, /not running \(phase Pending\)/)
    assert.match(r.stdout, /RESULT: FAIL - .*probe\(s\) without a result: outsider-to-manager, /)
    assert.equal(await attackObjectsLeft(world), [])
  } finally {
    world.sim.faults.probePodsPending = false
  }
})

test('a DNS that never answers: every path tried by name has no result, those tried by IP still answer', async () => {
  world.sim.faults.dnsTimesOut = true
  try {
    const r = await runKit(world, [
      ...['byo', '--context', world.sim.context, '--attack-only'],
      '--listen-timeout',
      '5',
    ])
    assert.is(r.code, 1, show(r))
    const rows = resultTable(r.stdout)
    for (const id of ['outsider-to-manager', 'allowed-identity-to-manager', 'deputy-service-to-manager']) {
      const row = rowOf(rows, id, r.stdout)
      assert.is(row.verdict, 'NO RESULT', row.text)
      assert.match(row.observed, /^DNS: curl: \(28\) Resolving timed out after 5000 milliseconds/)
    }
    // MongoDB and the decision maker are tried by pod IP: no lookup, so the answers stand.
    assert.is(rowOf(rows, 'manager-to-mongodb', r.stdout).verdict, 'REACHED')
    assert.is(rowOf(rows, 'manager-to-decision-maker', r.stdout).verdict, 'REACHED')
    assert.match(
      r.stdout,
      /probe\(s\) without a result: outsider-to-manager, allowed-identity-to-manager, deputy-service-to-manager/,
    )
    assert.equal(await attackObjectsLeft(world), [])
  } finally {
    world.sim.faults.dnsTimesOut = false
  }
})

test('manager scaled to 0, decision maker Running but not Ready: no probe serves the manager Service, the blocked control is named, exit 1', async () => {
  const [decider] = podsOf('scheduler')
  world.sim.faults.readinessFails = [decider.metadata.name!]
  await kubectlOk(
    '-n',
    'default',
    'patch',
    'deployment',
    'gthulhu-manager',
    '--type=merge',
    '-p',
    '{"spec":{"replicas":0}}',
  )
  // Every address the manager Service gets while the kit runs: none may be a probe wearing the manager's labels.
  // Seen on every change the store makes (not sampled), so a short-lived probe pod is never missed under load.
  const served = new Set<string>()
  let managerLabelledProbes = 0
  const unsubscribe = world.sim.store.subscribe(({ object }) => {
    if (object.kind === 'Endpoints' && object.metadata.name === 'gthulhu-manager')
      for (const subset of object.subsets ?? [])
        for (const address of subset.addresses ?? []) served.add(address.targetRef?.name ?? address.ip)
    if (
      object.kind === 'Pod' &&
      object.metadata.labels?.['e2e.gthulhu-runbook/run-id'] &&
      object.metadata.labels?.['app.kubernetes.io/component'] === 'manager' &&
      object.status?.phase === 'Running'
    )
      managerLabelledProbes++
  })
  try {
    await waitFor(
      'the manager pods to go and the decision maker to turn NotReady',
      () =>
        podsOf('manager').length === 0 && podsOf('scheduler').every((p) => p.status?.phase === 'Running' && !ready(p)),
    )
    const r = await runKit(world, [
      ...['byo', '--context', world.sim.context, '--attack-only'],
      '--listen-timeout',
      '5',
    ])
    assert.is(r.code, 1, show(r))
    const rows = resultTable(r.stdout)
    assert.equal(
      [...served].filter((name) => /^kit-/.test(name)),
      [],
      'a probe pod served the manager Service',
    )
    assert.ok(managerLabelledProbes > 0, 'probes wearing the manager labels did run meanwhile')
    // The control through an identity the manager admits finds nobody there: the refusals prove nothing.
    const control = rowOf(rows, 'allowed-identity-to-manager', r.stdout)
    assert.is(control.verdict, 'BLOCKED', control.text)
    assert.match(
      r.stdout,
      /RESULT: FAIL - .*control\(s\) blocked, so the refusals prove nothing: allowed-identity-to-manager/,
    )
    // Targets are Ready pods only: no manager pod, and a Running decision maker that is not Ready, are not aimed at.
    for (const [id, why] of [
      ['other-identity-to-manager-pod', 'no Ready manager pod'],
      ['host-network-to-manager', 'no Ready manager pod'],
      ['manager-labels-to-decision-maker', 'no Ready decision maker pod'],
      ['manager-to-decision-maker', 'no Ready decision maker pod'],
    ]) {
      const row = rowOf(rows, id, r.stdout)
      assert.is(row.verdict, 'NO RESULT', row.text)
      assert.is(row.observed, `not tried: ${why} to aim at`)
    }
    assert.match(r.stdout, /targets: manager gthulhu-manager \(ServiceAccount gthulhu-manager, pod none Ready\)/)
    assert.equal(await attackObjectsLeft(world), [])
  } finally {
    unsubscribe()
    world.sim.faults.readinessFails = []
    await kubectlOk(
      '-n',
      'default',
      'patch',
      'deployment',
      'gthulhu-manager',
      '--type=merge',
      '-p',
      '{"spec":{"replicas":1}}',
    )
    await waitFor(
      'the manager and the decision maker to be Ready again',
      () => podsOf('manager').some(ready) && podsOf('scheduler').every(ready),
    )
  }
})

test('stopped while it listens: SIGTERM ends the kit at once and its impostor namespace goes too', async () => {
  const kit = startKit(world, ['byo', '--context', world.sim.context, '--attack-only', '--listen-timeout', '600'])
  await waitFor('the kit to listen for the manager', () =>
    /admission-probes\.yaml[\s\S]*created \(server dry run\)/.test(kit.output()),
  )
  await waitFor('the listeners to run', () =>
    listOf(world.sim.store, 'pod').some(
      (p) => p.metadata.namespace?.endsWith('-impostor') && p.status?.phase === 'Running',
    ),
  )
  process.kill(kit.pid, 'SIGTERM')
  assert.is(await kit.exited, 143, kit.output())
  assert.equal(await attackObjectsLeft(world), [], kit.output())
})

test('Ctrl-C while kubectl waits on an API server that never answers: the kit stops within seconds (exit 130)', async () => {
  // An API server that accepts connections and never answers: every kubectl read hangs until its own timeout.
  const sockets: Socket[] = []
  const silent = createServer((socket) => void sockets.push(socket))
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  const port = (silent.address() as { port: number }).port
  const kubeconfig = join(tempDir('kit-silent-'), 'kubeconfig')
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: silent, cluster: {server: "http://127.0.0.1:${port}"}}]`,
      'users: [{name: silent, user: {token: none}}]',
      'contexts: [{name: silent, context: {cluster: silent, user: silent}}]',
      'current-context: silent',
      '',
    ].join('\n'),
  )
  const kit = startKit(world, ['byo', '--context', 'silent', '--kubeconfig', kubeconfig, '--attack-only'], {
    KUBECONFIG: kubeconfig,
  })
  try {
    await waitFor(
      'the attack pass to start reading the cluster',
      () => /==> Attack pass/.test(kit.output()) && sockets.length > 0,
    )
    const sent = Date.now()
    process.kill(-kit.pid, 'SIGINT') // what a terminal's Ctrl-C does: the whole foreground process group
    assert.is(await kit.exited, 130, kit.output())
    const tookMs = Date.now() - sent
    // kubectl's own --request-timeout is 60 s; the kit must not wait for it.
    assert.ok(tookMs < 15_000, `the kit took ${tookMs} ms to stop:\n${kit.output()}`)
  } finally {
    for (const socket of sockets) socket.destroy()
    silent.close()
  }
})

/** Waits until both listener pods of a running kit are Running in the simulator. */
async function listenersRunning(): Promise<void> {
  await waitFor('the decoy and the impostor to run', () => {
    const listeners = listOf(world.sim.store, 'pod').filter(
      (p) => p.metadata.labels?.app === 'decisionmaker' && p.metadata.labels?.['e2e.gthulhu-runbook/run-id'],
    )
    return listeners.length === 2 && listeners.every((p) => p.status?.phase === 'Running')
  })
}

test('an impostor decision maker in another namespace that hears the manager is open; paths the operator left out are disclosed', async () => {
  // The runbook has not hardened this world: the operator tells the kit which layers it left out.
  const kit = startKit(world, [
    ...['byo', '--context', world.sim.context, '--attack-only', '--listen-timeout', '120'],
    ...['--', '--no-identity-policies', '--no-admission-policy'],
  ])
  await listenersRunning()
  const called = managerRound(world)
  assert.ok(
    called.some((pod) => /^kit-\d+-impostor\//.test(pod)),
    `the round called the impostor: ${called}`,
  )
  assert.is(await kit.exited, 1, kit.output())
  const out = kit.output()
  const rows = resultTable(out)
  const impostor = rowOf(rows, 'impostor-decision-maker', out)
  assert.is(impostor.verdict, 'OPEN', impostor.text)
  assert.match(impostor.observed, /^received POST \/api\/v1\/auth\/token from 10\.244\.\d+\.\d+$/)
  assert.is(rowOf(rows, 'manager-to-decoy-decision-maker', out).verdict, 'REACHED')
  // Left out by the operator: open, and said so with the flag that left them open.
  for (const id of ['outsider-to-manager', 'other-identity-to-manager-pod', 'manager-labels-to-mongodb']) {
    const row = rowOf(rows, id, out)
    assert.is(row.verdict, 'STAYS OPEN', row.text)
    assert.match(row.text, /stays open: (the runbook ran with --no-identity-policies|as above)/)
  }
  for (const id of ['borrowed-identity-by-pod', 'borrowed-identity-by-deployment', 'borrowed-identity-by-cronjob']) {
    assert.is(rowOf(rows, id, out).verdict, 'STAYS OPEN', rowOf(rows, id, out).text)
  }
  assert.match(out, /stays open: the runbook ran with --no-admission-policy/)
  assert.match(out, /stays open: a hostNetwork pod on the target's node/)
  // Nothing the operator chose excuses the deputy Service or the impostor.
  assert.match(
    out,
    /RESULT: FAIL - 2 bypass\(es\) open: deputy-service-to-manager, impostor-decision-maker;.* staying open as disclosed above: outsider-to-manager, /,
  )
  assert.equal(await attackObjectsLeft(world), [])
})

test("an impostor that hears nothing while the decoy hears two of the manager's rounds is closed; before the runbook the insider's paths are open", async () => {
  const kit = startKit(world, ['byo', '--context', world.sim.context, '--attack-only', '--listen-timeout', '120'])
  await listenersRunning()
  // As if an egress policy kept the manager to its own namespace's decision makers: two rounds, 6 s apart by the clock.
  const inGthulhuNamespace = (pod: { metadata: { namespace?: string } }) => pod.metadata.namespace === 'default'
  managerRound(world, inGthulhuNamespace)
  await new Promise((r) => setTimeout(r, 6_000))
  managerRound(world, inGthulhuNamespace)
  await kit.exited
  const out = kit.output()
  const rows = resultTable(out)
  const impostor = rowOf(rows, 'impostor-decision-maker', out)
  assert.is(impostor.verdict, 'CLOSED', impostor.text)
  assert.match(impostor.observed, /received nothing in \d+s while the decoy heard two of the manager's rounds/)
  assert.is(rowOf(rows, 'manager-to-decoy-decision-maker', out).verdict, 'REACHED')
  // Before the runbook, anyone who may create pods, workloads and Services in the namespace gets through.
  for (const id of [
    'borrowed-identity-by-pod',
    'copied-labels-by-pod',
    'borrowed-identity-by-deployment',
    'borrowed-identity-by-cronjob',
    'service-selecting-manager',
    'deputy-service-to-manager',
  ])
    assert.is(rowOf(rows, id, out).verdict, 'OPEN', rowOf(rows, id, out).text)
  assert.equal(await attackObjectsLeft(world), [])
})

test.run()
