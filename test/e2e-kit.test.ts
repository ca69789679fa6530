// The real-cluster kit (e2e/kit.sh) as CI can run it: bring-your-own mode end to end against the simulated
// cluster through the real kubectl (runbook, attack pass, result table, cleanup, an armed fault), kind mode
// through shellcheck and --dry-run, and its usage and missing-tool errors.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ROOT, show, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl, runCommand, type ProcessResult } from './kit.ts'
import { STEP_IDS } from '../lib/types.ts'

const KIT = join(ROOT, 'e2e', 'kit.sh')
const RUN_LABEL = 'e2e.gthulhu-runbook/run-id'
// The identity policies (issue 9) close the pod-IP and wrong-identity bypasses; until the runbook has that
// step, the kit must find those bypasses open.
const hasIdentityPolicies = (STEP_IDS as readonly string[]).includes('identity-policies')
const BYPASSES = [
  'outsider-to-manager',
  'other-identity-to-manager-pod',
  'manager-labels-to-mongodb',
  'manager-labels-to-decision-maker',
]
const CONTROLS = ['manager-to-mongodb', 'manager-to-decision-maker']
// Tried at admission as another user (server dry run): closed by the admission-policy step.
const ATTEMPTS = [
  'borrowed-identity-by-pod',
  'borrowed-identity-by-deployment',
  'borrowed-identity-by-cronjob',
  'copied-labels-by-pod',
  'service-selecting-manager',
]

let world: RunbookWorld

function runKit(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ProcessResult> {
  return runCommand('bash', [KIT, ...args], {
    cwd: tmpdir(), // the kit must not depend on being started from the clone
    env: { ...process.env, ...world.sim.env, NO_COLOR: '1', ...options.env },
    timeoutMs: options.timeoutMs ?? 60_000,
  })
}

interface Row {
  role: string
  verdict: string
  line: string
}
/** The result table's rows by probe id; the table is what an operator reads, so it is what the test reads. */
function resultTable(stdout: string): Map<string, Row> {
  const rows = new Map<string, Row>()
  const table = stdout.slice(stdout.indexOf('==> Results'))
  for (const line of table.split('\n')) {
    const m = /^(\S+)\s+(bypass|control)\s+.*?\s(CLOSED|OPEN|REACHED|BLOCKED|NO RESULT)$/.exec(line)
    if (m) rows.set(m[1], { role: m[2], verdict: m[3], line })
  }
  return rows
}

async function attackPodsLeft(): Promise<string[]> {
  for (let i = 0; ; i++) {
    const pods = (await world.kubectlJson('get', 'pods', '--all-namespaces', '-l', RUN_LABEL)).items
    if (pods.length === 0 || i >= 20) return pods.map((p: any) => p.metadata.name)
    await new Promise((r) => setTimeout(r, 250))
  }
}

/** A PATH holding only the commands the kit itself uses, so docker, kind and helm are surely absent. */
function pathWithout(absent: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'kit-path-'))
  const needed = [
    'bash',
    'dirname',
    'mktemp',
    'date',
    'rm',
    'sed',
    'grep',
    'tr',
    'awk',
    'tail',
    'cat',
    'sleep',
    'kubectl',
    'node',
    'timeout',
    'git',
  ]
  for (const name of needed.filter((n) => !absent.includes(n))) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim()
    if (found) symlinkSync(found, join(dir, name))
  }
  return dir
}

/** shellcheck comes from Debian's package; installed with apt-get when missing (root on Debian/Ubuntu). */
function ensureShellcheck(): void {
  if (spawnSync('shellcheck', ['--version']).status === 0) return
  if (process.getuid?.() !== 0 || spawnSync('apt-get', ['--version']).status !== 0) {
    throw new Error(
      'the kit test needs shellcheck: install it (e.g. apt-get install shellcheck) and run the tests again',
    )
  }
  execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck'], {
    stdio: 'inherit',
    timeout: 300_000,
  })
}

/** Deletes the ztunnel-enforced (selector) AuthorizationPolicies that select a Gthulhu component; returns their names. */
async function deleteIdentityPolicies(component: string): Promise<string[]> {
  const policies = (await world.kubectlJson('get', 'authorizationpolicies.security.istio.io', '-n', 'default')).items
  const names = policies
    .filter(
      (p: any) => !p.spec?.targetRefs && p.spec?.selector?.matchLabels?.['app.kubernetes.io/component'] === component,
    )
    .map((p: any) => p.metadata.name)
  for (const name of names) {
    const r = await kubectl(world.sim.env, [
      '--context',
      world.sim.context,
      '-n',
      'default',
      'delete',
      'authorizationpolicy',
      name,
    ])
    assert.is(r.code, 0, r.stderr)
  }
  return names
}

test.before(async () => {
  world = await startWorld()
})
test.after(async () => {
  await world.stop()
})

test('shellcheck finds nothing in the kit', () => {
  ensureShellcheck()
  const r = spawnSync('shellcheck', [KIT], { encoding: 'utf8', timeout: 60_000 })
  assert.is(r.status, 0, r.stdout + r.stderr)
})

test('probe logs are read as a real curl and mongosh write them; anything unreadable is no result', () => {
  const cases: [check: string, exit: number, log: string, result: string][] = [
    ['http', 0, '200', 'reached\tHTTP 200'],
    ['http', 0, '403', 'refused\tHTTP 403 (denied by a proxy)'],
    ['http', 0, '404', 'unknown\tHTTP 404'],
    // curl writes -w's 000 without a newline, so its error line may follow on the same line.
    ['http', 56, '000curl: (56) Recv failure: Connection reset by peer', 'refused\tcurl exit 56, no HTTP response'],
    ['http', 52, 'curl: (52) Empty reply from server\n000', 'refused\tcurl exit 52, no HTTP response'],
    [
      'http',
      28,
      'curl: (28) Connection timed out after 5002 milliseconds\n000',
      'refused\tcurl exit 28, no HTTP response',
    ],
    ['http', 6, 'curl: (6) Could not resolve host: gthulhu-manager\n000', 'unknown\tcurl exit 6: 000'],
    ['mongo', 0, '1', 'reached\tMongoDB answered hello'],
    ['mongo', 0, '0', 'unknown\tmongosh exit 0: 0'],
    [
      'mongo',
      1,
      'MongoServerSelectionError: connection <monitor> to 10.244.0.9:27017 closed',
      'refused\tmongosh exit 1: MongoServerSelectionError: connection <monitor> to 10.244.0.9:27017 closed',
    ],
    ['mongo', 1, 'MongoNetworkError: read ECONNRESET', 'refused\tmongosh exit 1: MongoNetworkError: read ECONNRESET'],
    [
      'mongo',
      1,
      'MongoServerSelectionError: Server selection timed out after 5000 ms',
      'refused\tmongosh exit 1: MongoServerSelectionError: Server selection timed out after 5000 ms',
    ],
    [
      'mongo',
      1,
      'MongoServerSelectionError: getaddrinfo ENOTFOUND gthulhu-mongodb-0',
      'unknown\tmongosh exit 1: MongoServerSelectionError: getaddrinfo ENOTFOUND gthulhu-mongodb-0',
    ],
    ['mongo', 127, 'sh: mongosh: not found', 'unknown\tmongosh exit 127: sh: mongosh: not found'],
  ]
  for (const [check, exit, log, result] of cases) {
    const r = spawnSync(
      'bash',
      ['-c', 'source "$1"; classify "$2" "$3" "$4"', 'classify-test', KIT, check, String(exit), log],
      { encoding: 'utf8', timeout: 10_000 },
    )
    assert.is(r.status, 0, r.stderr)
    assert.is(r.stdout, result, `${check} exit ${exit}: ${JSON.stringify(log)}`)
  }
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
    [['byo', '--context', 'prod', '--namespace', 'Bad_NS'], /--namespace 'Bad_NS' is not a valid Kubernetes name/],
    [['kind', '--context', 'prod'], /kind mode makes its own context \(kind-gthulhu-e2e\); --context is for byo/],
    [['kind', '--attack-only'], /--attack-only needs an existing cluster/],
    [
      ['byo', '--context', 'no-such-context'],
      new RegExp(`context 'no-such-context' is not in the kubeconfig; contexts there: ${'gthulhu-sim'}`),
    ],
  ]
  for (const [args, message] of cases) {
    const r = await runKit(args)
    assert.is(r.code, 2, `${args.join(' ')}: ${show(r)}`)
    assert.match(r.stderr, message, `${args.join(' ')}: ${show(r)}`)
    assert.not.match(r.stderr + r.stdout, /^\s+at /m, 'no stack trace')
  }
})

test('kind --dry-run prints the whole command sequence with every pinned version, and changes nothing', async () => {
  const script = readFileSync(KIT, 'utf8')
  const pin = (name: string) => {
    const value = new RegExp(`^readonly ${name}=(\\S+)$`, 'm').exec(script)?.[1]
    assert.ok(value, `kit.sh pins ${name}`)
    return value!
  }
  const r = await runKit(['kind', '--dry-run', '--name', 'kit-dry'])
  assert.is(r.code, 0, show(r))
  const out = r.stdout
  const node = pin('KIND_NODE_IMAGE')
  const calico = pin('CALICO_VERSION')
  // In order: tools, cluster, CNI, chart, wait, runbook, attack, delete.
  const sequence = [
    /\+ check tools: docker kind helm git kubectl node timeout/,
    /disableDefaultCNI: true/,
    new RegExp(
      `\\+ kind create cluster --name kit-dry --image ${node.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --config \\S+`,
    ),
    new RegExp(
      `\\+ kubectl --context kind-kit-dry .* apply --server-side -f https://raw\\.githubusercontent\\.com/projectcalico/calico/${calico}/manifests/calico\\.yaml`,
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
    /\+ kubectl .* run kit-\d+-0 --restart=Never --image=curlimages\/curl:\S+ --labels=e2e\.gthulhu-runbook\/run-id=\d+,istio\.io\/dataplane-mode=none,gthulhu-runbook\/probe-run=kit-\d+ .* --command -- curl -sS -o \/dev\/null -w '%\{http_code\}' --max-time 5 http:\/\/gthulhu-manager:8080\/health/,
    /\+ kubectl .* run kit-\d+-2 .*serviceAccountName":"default".* --command -- mongosh --quiet --norc --eval 'db\.runCommand\(\{hello:1\}\)\.ok' 'mongodb:\/\/gthulhu-mongodb-0\.gthulhu-mongodb\.default\.svc:27017\/\?directConnection=true&serverSelectionTimeoutMS=5000'/,
    /RESULT: DRY RUN/,
    /\+ kind delete cluster --name kit-dry/,
  ]
  let at = 0
  for (const pattern of sequence) {
    const m = pattern.exec(out.slice(at))
    assert.ok(m, `after offset ${at}, expected ${pattern}\n${out}`)
    at += m!.index + m![0].length
  }
  for (const name of ['KIND_VERSION', 'ISTIO_VERSION', 'GATEWAY_API_VERSION', 'CHART_COMMIT', 'CHART_VERSION']) {
    assert.ok(out.includes(pin(name)), `the pinned ${name} is printed`)
  }
  const kept = await runKit(['kind', '--dry-run', '--name', 'kit-dry', '--keep'])
  assert.is(kept.code, 0, show(kept))
  assert.not.match(kept.stdout, /\+ kind delete cluster/)
  assert.match(kept.stdout, /kept: kind cluster kit-dry/)
})

test('kind mode checks docker, kind and helm first and names each missing tool (exit 2, nothing changed)', async () => {
  const r = await runKit(['kind', '--name', 'kit-tools'], { env: { PATH: pathWithout(['docker', 'kind', 'helm']) } })
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
      timeoutMs: 60_000,
    })
    assert.is(r.code, 2, show(r))
    assert.match(r.stdout, /==> Installing Gthulhu: chart chart\/gthulhu/)
    assert.match(r.stderr, /helm not found on PATH: it installs the Gthulhu chart/)
    assert.not.match(r.stdout, /gthulhu-runbook\.mjs/, 'the runbook never ran')
  } finally {
    await bare.stop()
  }
})

test('attack pods that never run: every probe reported without a result, exit 1, pods deleted', async () => {
  world.sim.faults.probePodsPending = true
  try {
    const r = await runKit(['byo', '--context', world.sim.context, '--attack-only', '--probe-timeout', '5'])
    assert.is(r.code, 1, show(r))
    const rows = resultTable(r.stdout)
    assert.equal([...rows.keys()].sort(), [...BYPASSES, ...CONTROLS, ...ATTEMPTS].sort(), r.stdout)
    for (const id of [...BYPASSES, ...CONTROLS])
      assert.is(rows.get(id)!.verdict, 'NO RESULT', `${id}: ${rows.get(id)!.line}`)
    assert.match(r.stdout, /no result: pod Pending after 5s/)
    assert.match(r.stdout, /RESULT: FAIL - .*6 probe\(s\) blocked or without a result/)
    assert.equal(await attackPodsLeft(), [])
  } finally {
    world.sim.faults.probePodsPending = false
  }
})

test('stopped by SIGTERM while its probes wait: exit 143 and the attack pods are deleted', async () => {
  world.sim.faults.probePodsPending = true
  const kit = spawn('bash', [KIT, 'byo', '--context', world.sim.context, '--attack-only', '--probe-timeout', '600'], {
    cwd: tmpdir(),
    env: { ...process.env, ...world.sim.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let output = ''
  kit.stdout.on('data', (c) => (output += c))
  kit.stderr.on('data', (c) => (output += c))
  const exited = new Promise<number | null>((resolve) => kit.on('close', (code) => resolve(code)))
  const guard = setTimeout(() => process.kill(-kit.pid!, 'SIGKILL'), 60_000)
  try {
    for (let i = 0; i < 200 && !/pod\/kit-\d+-5 created/.test(output); i++) await new Promise((r) => setTimeout(r, 100))
    assert.match(output, /pod\/kit-\d+-5 created/, output)
    process.kill(kit.pid!, 'SIGTERM')
    assert.is(await exited, 143, output)
    assert.equal(await attackPodsLeft(), [], output)
  } finally {
    clearTimeout(guard)
    world.sim.faults.probePodsPending = false
  }
})

test('byo end to end: the runbook passes, the attack pass prints its table, and every bypass is closed', async () => {
  const r = await runKit(['byo', '--context', world.sim.context, '--kubeconfig', world.sim.kubeconfig], {
    timeoutMs: 300_000,
  })
  assert.match(r.stdout, /Gthulhu found \(release gthulhu in namespace default\): the kit installs nothing/)
  assert.match(r.stdout, /runbook --yes: +passed/, show(r))
  assert.match(r.stdout, /runbook --verify: +(passed|not available in this runbook)/, show(r))
  const rows = resultTable(r.stdout)
  assert.equal([...rows.keys()].sort(), [...BYPASSES, ...CONTROLS, ...ATTEMPTS].sort(), r.stdout)
  assert.is(rows.get('manager-to-decision-maker')!.verdict, 'REACHED', r.stdout)
  assert.equal(await attackPodsLeft(), [])
  if (hasIdentityPolicies) {
    for (const id of [...BYPASSES, ...ATTEMPTS])
      assert.is(rows.get(id)!.verdict, 'CLOSED', `${id}: ${rows.get(id)!.line}`)
    for (const id of CONTROLS) assert.is(rows.get(id)!.verdict, 'REACHED', `${id}: ${rows.get(id)!.line}`)
    assert.match(r.stdout, /RESULT: PASS/)
    assert.is(r.code, 0, show(r))
  } else {
    // Without identity policies nothing stops another identity from calling the manager's pod IP directly.
    assert.is(rows.get('other-identity-to-manager-pod')!.verdict, 'OPEN', r.stdout)
    assert.match(rows.get('other-identity-to-manager-pod')!.line, /HTTP 200/)
    assert.match(r.stdout, /RESULT: FAIL - .*bypass\(es\) open/)
    assert.is(r.code, 1, show(r))
  }
})

test('armed fault: the manager identity policy deleted before the attack pass, the kit reports that bypass open', async () => {
  const deleted = await deleteIdentityPolicies('manager')
  if (hasIdentityPolicies) assert.ok(deleted.length > 0, 'the runbook applied an identity policy selecting the manager')
  const r = await runKit(['byo', '--context', world.sim.context, '--attack-only'], { timeoutMs: 120_000 })
  assert.is(r.code, 1, show(r))
  const rows = resultTable(r.stdout)
  assert.is(rows.get('other-identity-to-manager-pod')?.verdict, 'OPEN', r.stdout)
  assert.is(rows.get('manager-to-decision-maker')?.verdict, 'REACHED', r.stdout)
  assert.match(r.stdout, /RESULT: FAIL - .*bypass\(es\) open/)
  assert.not.match(r.stdout, /gthulhu-runbook\.mjs/, '--attack-only runs no runbook')
  assert.equal(await attackPodsLeft(), [])
})

if (hasIdentityPolicies) {
  test('armed fault: the MongoDB identity policy deleted, the kit reports the wrong-identity path to MongoDB open', async () => {
    const deleted = await deleteIdentityPolicies('mongodb')
    assert.ok(deleted.length > 0, 'the runbook applied an identity policy selecting MongoDB')
    const r = await runKit(['byo', '--context', world.sim.context, '--attack-only'], { timeoutMs: 120_000 })
    assert.is(r.code, 1, show(r))
    const rows = resultTable(r.stdout)
    assert.is(rows.get('manager-labels-to-mongodb')?.verdict, 'OPEN', r.stdout)
    assert.is(rows.get('manager-to-mongodb')?.verdict, 'REACHED', r.stdout)
  })
}

test.run()
