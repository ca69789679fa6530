// The admission-policy step on a simulated cluster hardened by every other step: each borrowed-identity path an
// insider has (a Pod, a Deployment, a CronJob naming the manager's ServiceAccount, a Pod naming the scheduler's or the
// waypoint's, copied labels, a Service selecting the manager's pods) is open before the step and refused at admission
// after it, with the API server's message; the chart's own workloads still restart to Ready, a helm-upgrade-style
// change still rolls out, istiod still re-creates its gateways, the runbook's own impostor probes still run, and undo
// and --no-admission-policy leave the paths open. The opt-in cluster-wide decision-maker guard: without it a pod
// labelled app=decisionmaker in another namespace is admitted and the ledger says that path is open; with it, refused.
// (One world for all of it: a full run, saved once and shared with other files, with the admission layer taken back.)
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { preparedWorld } from './fixtures.ts'
import { checkOf, show, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'

let world: RunbookWorld
const POLICY = 'gthulhu-identities.default'
const DENIED = `ValidatingAdmissionPolicy '${POLICY}' with binding '${POLICY}' denied request:`
const INSIDER = 'mallory'
/** Another tenant's namespace, where the insider may create pods and Deployments. */
const TENANT = 'tenant-a'
const GUARD = 'gthulhu-decision-makers.default'
const GUARD_DENIED = `ValidatingAdmissionPolicy '${GUARD}' with binding '${GUARD}' denied request: the label app=decisionmaker belongs to Gthulhu's decision makers in namespace default (its manager sends them intents and tokens); refused for`
const IMPOSTOR_CHECK =
  /^ {2}[✔⚠✖] someone who may create pods in another namespace, labelled app=decisionmaker → decision maker via /
const IMPOSTOR_LEDGER =
  /○ open {3}impostor-decision-maker-by-pod: someone who may create pods in another namespace, labelled app=decisionmaker → decision maker\n {6}why: the cluster-wide decision-maker guard is off \(it is opt-in: --decision-maker-guard\)/

const k = (args: string[], input?: string) => kubectl(world.sim.env, args, { input, timeoutMs: 60_000 })
async function ok(args: string[], input?: string): Promise<string> {
  const r = await k(args, input)
  assert.is(r.code, 0, `kubectl ${args.join(' ')}:\n${r.stderr}`)
  return r.stdout
}

const container = { name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'] }
const template = (serviceAccountName: string) => ({
  metadata: { labels: { app: 'insider' } },
  spec: { serviceAccountName, containers: [container] },
})
const podWearing = (name: string, serviceAccountName: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: { serviceAccountName, containers: [container] },
})
/** What an insider would create to wear the manager's, the scheduler's or the waypoint's identity (or front its pods). */
const ATTEMPTS: Record<string, object> = {
  'a Pod naming the manager ServiceAccount': podWearing('insider-pod', 'gthulhu-manager'),
  'a Deployment naming it': {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'insider-deploy' },
    spec: { selector: { matchLabels: { app: 'insider' } }, template: template('gthulhu-manager') },
  },
  'a CronJob naming it': {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'insider-cron' },
    spec: {
      schedule: '* * * * *',
      jobTemplate: {
        spec: {
          template: {
            metadata: { labels: { app: 'insider' } },
            spec: { serviceAccountName: 'gthulhu-manager', restartPolicy: 'Never', containers: [container] },
          },
        },
      },
    },
  },
  // The scheduler's identity passes the manager's L7 policy; the waypoint's passes the manager's identity policy.
  "a Pod naming the scheduler's ServiceAccount": podWearing('insider-scheduler', 'gthulhu'),
  "a Pod naming the waypoint's ServiceAccount": podWearing('insider-waypoint', 'waypoint'),
  "a Pod with the manager's labels": {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'insider-labels',
      labels: {
        'app.kubernetes.io/name': 'gthulhu',
        'app.kubernetes.io/instance': 'gthulhu',
        'app.kubernetes.io/component': 'manager',
      },
    },
    spec: { containers: [container] },
  },
  "a Service selecting the manager's pods": {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'insider-svc' },
    spec: { selector: { 'app.kubernetes.io/component': 'manager' }, ports: [{ port: 8080 }] },
  },
}

const attempt = (object: object) =>
  k(['create', '--dry-run=server', `--as=${INSIDER}`, '-n', 'default', '-f', '-'], JSON.stringify(object))

/** The insider's impostor decision maker, in its own namespace: the manager sends intents and tokens to any such pod. */
const IMPOSTORS: Record<string, object> = {
  'a Pod labelled app=decisionmaker': {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'impostor-dm', labels: { app: 'decisionmaker' } },
    spec: { containers: [container] },
  },
  'a Deployment whose pods are labelled app=decisionmaker': {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'impostor-dm-deploy' },
    spec: {
      selector: { matchLabels: { app: 'decisionmaker' } },
      template: { metadata: { labels: { app: 'decisionmaker' } }, spec: { containers: [container] } },
    },
  },
}
/** As the insider, or (`as` null) as the user this test's kubectl is, who ran the runbook. */
const impostorAttempt = (object: object, as: string | null = INSIDER) =>
  k(['create', '--dry-run=server', ...(as ? [`--as=${as}`] : []), '-n', TENANT, '-f', '-'], JSON.stringify(object))

/**
 * RBAC for the test's own users: the insider may create (and relabel) in default and create pods and Deployments in
 * another tenant's namespace, helm-ci may change the chart's workloads.
 */
const GRANTS = {
  apiVersion: 'v1',
  kind: 'List',
  items: [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: TENANT } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'test-tenant', namespace: TENANT },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['create'] },
        { apiGroups: ['apps'], resources: ['deployments'], verbs: ['create'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'test-tenant', namespace: TENANT },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'test-tenant' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: INSIDER }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'test-insider', namespace: 'default' },
      rules: [
        { apiGroups: [''], resources: ['pods', 'services'], verbs: ['create', 'get', 'patch'] },
        { apiGroups: ['apps'], resources: ['deployments'], verbs: ['create', 'get', 'patch'] },
        { apiGroups: ['batch'], resources: ['cronjobs'], verbs: ['create'] },
      ],
    },
    ...[INSIDER, 'helm-ci'].map((user) => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `test-${user}`, namespace: 'default' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'test-insider' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
    })),
  ],
}

test.before(async () => {
  // Every step the admission layer builds on, from the saved full run: a full run here would take most of the
  // file's time on a busy machine. Then the admission layer alone is taken back, so each path starts open.
  world = await preparedWorld({ cni: 'calico' })
  const r = await world.run([...world.flags, '--yes', '--rollback', 'admission-policy'], { timeoutMs: 300_000 })
  // uvu drops an error thrown in a before hook without a word: say it here.
  if (r.code !== 0) console.error(`--rollback admission-policy failed:\n${show(r)}`)
  await ok(['apply', '-f', '-'], GRANTS.items.map((o) => JSON.stringify(o)).join('\n---\n'))
  assert.is(r.code, 0, show(r))
})
test.after(async () => {
  await world?.stop()
})

test('before the step, every insider attempt is admitted, and a borrowed ServiceAccount runs', async () => {
  for (const [what, object] of Object.entries(ATTEMPTS)) {
    const r = await attempt(object)
    assert.is(r.code, 0, `${what} should be admitted before the step:\n${r.stderr}`)
    assert.match(r.stdout, /created \(server dry run\)/)
  }
  // For real: the insider's Deployment gets a pod wearing the manager's ServiceAccount (made by the ReplicaSet controller).
  await ok(
    ['create', `--as=${INSIDER}`, '-n', 'default', '-f', '-'],
    JSON.stringify(ATTEMPTS['a Deployment naming it']),
  )
  await ok(['rollout', 'status', 'deploy/insider-deploy', '-n', 'default', '--timeout=60s'])
  const pods = await world.kubectlJson('get', 'pods', '-n', 'default', '-l', 'app=insider')
  assert.is(pods.items.length, 1)
  assert.is(pods.items[0].spec.serviceAccountName, 'gthulhu-manager')
})

test('after the step, each attempt is refused at admission with the API server message', async () => {
  // -v: a step whose checks all pass is one line otherwise; this test reads what it said and each check.
  const r = await world.run([...world.flags, '--yes', '-v', '--only', 'admission-policy'], { timeoutMs: 300_000 })
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /exempt for its own probes: kubernetes-admin/, show(r))
  // The runbook's own impostor probes (the manager's labels, another ServiceAccount) were still created, as the
  // exempt user, and ztunnel still refused them; each workload's controller is still admitted.
  assert.match(r.stdout, /✔ manager's labels, ServiceAccount default → MongoDB :27017: refused/)
  for (const owner of ['Deployment gthulhu-manager', 'DaemonSet gthulhu-scheduler', 'StatefulSet gthulhu-mongodb'])
    assert.match(r.stdout, new RegExp(`✔ ${owner} \\(the chart's\\) can still make its pods`))
  assert.match(r.stdout, /✔ Deployment waypoint \(istiod's\) can still make its pods/)
  // The runbook's own verification tried the borrowed scheduler and waypoint identities too, and saw them refused.
  for (const from of [
    "someone who may create pods in the namespace, naming the scheduler's ServiceAccount → manager via",
    "someone who may create pods in the namespace, naming the waypoint's ServiceAccount → manager via",
  ]) {
    const check = checkOf(r.stdout, new RegExp(`^ {2}[✔⚠✖] ${from.replace(/[.'()]/g, '\\$&')}`))
    assert.match(
      check,
      /^ {2}✔ [^\n]*\n\s+expected: refused at admission \(kubectl create Pod --dry-run=server --as=[^)]+\)\n\s+observed: ValidatingAdmissionPolicy /,
      check,
    )
  }
  // Without --decision-maker-guard nothing refuses an impostor decision maker in another namespace: the runbook's own
  // attempt is admitted and said to be open, with why, and so does the ledger the run ends with.
  const impostor = checkOf(r.stdout, IMPOSTOR_CHECK)
  assert.match(impostor, /^ {2}⚠ [^\n]*\n\s+expected: admitted \(the path is open\)\n\s+observed: admitted: /, impostor)
  assert.match(
    impostor,
    /→ this path is open: the cluster-wide decision-maker guard is off \(it is opt-in: --decision-maker-guard\); what would close it: admission-policy \(admission\)$/,
  )
  assert.match(r.stdout, IMPOSTOR_LEDGER)
  for (const [what, object] of Object.entries(IMPOSTORS)) {
    const admitted = await impostorAttempt(object)
    assert.is(admitted.code, 0, `${what} in ${TENANT} is admitted without the guard:\n${admitted.stderr}`)
  }
  assert.equal(await world.probePodsLeft(), [])
  for (const [what, object] of Object.entries(ATTEMPTS)) {
    const refused = await attempt(object)
    assert.is.not(refused.code, 0, `${what} should be refused`)
    // The policy's validations give reason Forbidden: kubectl prints the API server's 403 Status message.
    const resource = { Pod: 'pods', Service: 'services', Deployment: 'deployments.apps', CronJob: 'cronjobs.batch' }[
      (object as any).kind as string
    ]
    assert.ok(
      refused.stderr.includes(
        `Error from server (Forbidden): error when creating "STDIN": ${resource} "${(object as any).metadata.name}" is forbidden: ${DENIED}`,
      ),
      `${what}: ${refused.stderr}`,
    )
  }
  // Relabelling an existing pod into the manager's labels is refused too (a pod that wore nothing protected).
  await ok(
    ['create', `--as=${INSIDER}`, '-n', 'default', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'insider-plain' },
      spec: { containers: [container] },
    }),
  )
  const relabel = await k([
    'label',
    'pod',
    '-n',
    'default',
    'insider-plain',
    `--as=${INSIDER}`,
    'app.kubernetes.io/component=manager',
    'app.kubernetes.io/name=gthulhu',
    'app.kubernetes.io/instance=gthulhu',
  ])
  assert.is.not(relabel.code, 0)
  assert.match(relabel.stderr, new RegExp(DENIED.replace(/[.'()]/g, '\\$&')))
})

test("the insider's older Deployment gets no new pod: its controller's creation is refused", async () => {
  await ok(['delete', 'pod', '-n', 'default', '-l', 'app=insider', '--wait=false'])
  let events: any[] = []
  for (let i = 0; i < 60 && !events.length; i++) {
    events = (await world.kubectlJson('get', 'events', '-n', 'default', '--field-selector', 'reason=FailedCreate'))
      .items
    if (!events.length) await new Promise((r) => setTimeout(r, 250))
  }
  assert.ok(events.length, 'a FailedCreate event')
  assert.match(events[0].message, /^Error creating: pods "insider-deploy-\S+" is forbidden: ValidatingAdmissionPolicy/)
  assert.match(events[0].message, /not by system:serviceaccount:kube-system:replicaset-controller/)
  const pods = await world.kubectlJson('get', 'pods', '-n', 'default', '-l', 'app=insider')
  assert.equal(
    pods.items.filter((p: any) => !p.metadata.deletionTimestamp).map((p: any) => p.metadata.name),
    [],
  )
  await ok(['delete', 'deploy', 'insider-deploy', '-n', 'default'])
})

test("the chart's workloads still restart to Ready, a helm-upgrade-style change rolls out, istiod re-creates its gateways", async () => {
  await ok([
    'rollout',
    'restart',
    '-n',
    'default',
    'deploy/gthulhu-manager',
    'ds/gthulhu-scheduler',
    'sts/gthulhu-mongodb',
  ])
  for (const w of ['deploy/gthulhu-manager', 'ds/gthulhu-scheduler', 'sts/gthulhu-mongodb'])
    await ok(['rollout', 'status', w, '-n', 'default', '--timeout=90s'])
  // A change of the chart's workload by whoever runs helm (another user than the runbook's).
  await ok([
    'patch',
    'deploy',
    'gthulhu-manager',
    '-n',
    'default',
    '--as=helm-ci',
    '-p',
    JSON.stringify({ spec: { template: { metadata: { labels: { 'helm.sh/chart': 'gthulhu-0.1.1' } } } } }),
  ])
  await ok(['rollout', 'status', 'deploy/gthulhu-manager', '-n', 'default', '--timeout=90s'])
  await ok(['delete', 'deploy', '-n', 'default', 'waypoint', 'gthulhu-gw-istio'])
  for (const d of ['waypoint', 'gthulhu-gw-istio']) {
    let found = false
    for (let i = 0; i < 80 && !found; i++) {
      found = (await k(['get', 'deploy', d, '-n', 'default'])).code === 0
      if (!found) await new Promise((r) => setTimeout(r, 250))
    }
    assert.ok(found, `istiod re-created ${d}`)
    await ok(['rollout', 'status', `deploy/${d}`, '-n', 'default', '--timeout=90s'])
  }
  const pods = (await world.kubectlJson('get', 'pods', '-n', 'default')).items
  for (const prefix of [
    'gthulhu-manager-',
    'gthulhu-scheduler-',
    'gthulhu-mongodb-0',
    'waypoint-',
    'gthulhu-gw-istio-',
  ])
    assert.ok(
      pods.some(
        (p: any) =>
          p.metadata.name.startsWith(prefix) &&
          (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'),
      ),
      `${prefix}… Ready`,
    )
})

test('--decision-maker-guard refuses a pod labelled app=decisionmaker in any other namespace, and the ledger says closed', async () => {
  const r = await world.run([...world.flags, '--yes', '-v', '--only', 'admission-policy', '--decision-maker-guard'], {
    timeoutMs: 300_000,
  })
  assert.is(r.code, 0, show(r))
  assert.match(
    r.stdout,
    new RegExp(`applied ValidatingAdmissionPolicy ${GUARD}, ValidatingAdmissionPolicyBinding ${GUARD};`),
    show(r),
  )
  for (const kind of ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'])
    assert.match(
      checkOf(r.stdout, new RegExp(`${kind} ${GUARD.replace('.', '\\.')} applied as planned`)),
      kind === 'ValidatingAdmissionPolicy'
        ? /^ {2}✔ [^\n]*\n\s+expected: failurePolicy Fail/
        : /^ {2}✔ [^\n]*\n\s+expected: Deny in every namespace but default\n\s+observed: as planned/,
    )
  // The runbook's own attempt (as its insider, in kube-public) is refused with the guard's message.
  const impostor = checkOf(r.stdout, IMPOSTOR_CHECK)
  assert.match(
    impostor,
    /^ {2}✔ [^\n]*\n\s+expected: refused at admission \(kubectl create Pod --dry-run=server --as=gthulhu-runbook-attacker\)\n\s+observed: ValidatingAdmissionPolicy 'gthulhu-decision-makers\.default' with binding 'gthulhu-decision-makers\.default' denied request: /,
    impostor,
  )
  assert.not.match(r.stdout, /○ open {3}impostor-decision-maker-by-pod/)
  assert.match(r.stdout, /Closed and tried: [^\n]*impostor-decision-maker-by-pod/)
  // And the insider's own, in another tenant's namespace: a Pod and a Deployment, each refused by the API server.
  for (const [what, object] of Object.entries(IMPOSTORS)) {
    const refused = await impostorAttempt(object)
    assert.is.not(refused.code, 0, `${what} should be refused`)
    const { kind, metadata } = object as any
    const resource = kind === 'Pod' ? 'pods' : 'deployments.apps'
    assert.ok(
      refused.stderr.includes(
        `Error from server (Forbidden): error when creating "STDIN": ${resource} "${metadata.name}" is forbidden: ${GUARD_DENIED} ${kind} ${metadata.name} from ${INSIDER}`,
      ),
      `${what}: ${refused.stderr}`,
    )
  }
  // The guard refuses the label, nothing else: the tenant's other pods are admitted.
  const plain = await impostorAttempt({ ...IMPOSTORS['a Pod labelled app=decisionmaker'], metadata: { name: 'plain' } })
  assert.is(plain.code, 0, plain.stderr)
  // The runbook's own user (this test's kubectl, not impersonated) is exempt only for its probes, which carry the
  // probe label, not for a pod of its own.
  const own = IMPOSTORS['a Pod labelled app=decisionmaker'] as any
  const probe = {
    ...own,
    metadata: { ...own.metadata, labels: { ...own.metadata.labels, 'gthulhu-runbook/probe-run': 'x' } },
  }
  const probeAttempt = await impostorAttempt(probe, null)
  assert.is(probeAttempt.code, 0, `a probe of the runbook user is admitted: ${probeAttempt.stderr}`)
  const unlabelled = await impostorAttempt(own, null)
  assert.ok(unlabelled.stderr.includes(GUARD_DENIED), unlabelled.stderr)
})

test('--rollback admission-policy removes the policy, the guard and their bindings: the paths are open again', async () => {
  const r = await world.run([...world.flags, '--yes', '--rollback', 'admission-policy'], { timeoutMs: 300_000 })
  assert.is(r.code, 0, show(r))
  const policies = await world.kubectlJson('get', 'validatingadmissionpolicies,validatingadmissionpolicybindings')
  assert.equal(policies.items, [])
  const again = await attempt(ATTEMPTS['a Pod naming the manager ServiceAccount'])
  assert.is(again.code, 0, again.stderr)
  const impostor = await impostorAttempt(IMPOSTORS['a Pod labelled app=decisionmaker'])
  assert.is(impostor.code, 0, impostor.stderr)
})

test('--no-admission-policy leaves it out and verification reports the borrowed-identity paths open', async () => {
  const r = await world.run([...world.flags, '--yes', '--only', 'admission-policy', '--no-admission-policy'], {
    // Eight admission attempts and two probe pods, then the record: minutes on a busy machine.
    timeoutMs: 300_000,
  })
  assert.is(r.code, 0, show(r))
  // Each insider's attempt is admitted and said to be open: a warning (printed without -v), never a passing check.
  assert.match(r.stdout, /^⚠ Admission: /m, show(r))
  for (const from of [
    "someone who may create pods in the namespace, naming the manager's ServiceAccount → MongoDB via",
    "someone who may create Deployments in the namespace, naming the manager's ServiceAccount → decision maker via",
    "someone who may create CronJobs in the namespace, naming the manager's ServiceAccount → MongoDB via",
    "someone who may create pods in the namespace, naming the scheduler's ServiceAccount → manager via",
    "someone who may create pods in the namespace, naming the waypoint's ServiceAccount → manager via",
    "someone who may create pods in the namespace, with the manager's labels → manager via",
    "someone who may create Services in the namespace, selecting the manager's pods → manager via",
  ]) {
    const check = checkOf(r.stdout, new RegExp(`^ {2}[✔⚠✖] ${from.replace(/[.'()]/g, '\\$&')}`))
    assert.match(check, /^ {2}⚠ /, check)
    assert.match(check, /\n\s+expected: admitted \(the path is open\)\n\s+observed: admitted: /, check)
    assert.match(
      check,
      /\n\s+→ this path is open: left out with --no-admission-policy; what would close it: admission-policy \(admission\)$/,
      check,
    )
  }
  const policies = await world.kubectlJson('get', 'validatingadmissionpolicies')
  assert.equal(policies.items, [])
})

test.run()
