// Pure parts of undo, audit and report, without a cluster: which objects undo deletes or leaves, the undo plan,
// which steps --rollback / --uninstall / --verify pick, flag conflicts, and the reachability edges.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Cluster } from '../lib/kube/cluster.ts'
import { CommandError, UsageError } from '../lib/config/errors.ts'
import { loadConfig } from '../lib/config/options.ts'
import type { ProbeResult } from '../lib/verify/probes.ts'
import { edgeFromProbe, edgesFromChecks, mergeEdges } from '../lib/verify/reachability.ts'
import { markdownTable } from '../lib/report/files.ts'
import { selectAudit, selectUndo } from '../lib/run/selection.ts'
import type { StepRecord } from '../lib/run/state.ts'
import type { BeforeRecord, StepId } from '../lib/types.ts'
import { managedByRunbook, partitionObjects, recordBefore, undoPlan } from '../lib/run/undo.ts'
import { STEPS } from '../steps/index.ts'

const ref = (name: string) => ({ resource: 'networkpolicies', namespace: 'default', name })

test('undo deletes what the runbook made or found its own, and leaves what someone else had before', () => {
  const before = {
    objects: {
      'networkpolicies/default/new': { existed: false, managed: false },
      'networkpolicies/default/theirs': { existed: true, managed: false },
      'networkpolicies/default/ours-earlier': { existed: true, managed: true },
    },
  }
  const { remove, keep } = partitionObjects([ref('new'), ref('theirs'), ref('ours-earlier'), ref('unrecorded')], before)
  assert.equal(
    remove.map((r) => r.name),
    ['new', 'ours-earlier', 'unrecorded'],
  )
  assert.equal(
    keep.map((r) => r.name),
    ['theirs'],
  )
})

test("an object is the runbook's by its managed-by label or its server-side apply field manager", () => {
  const object = (metadata: object) => ({ apiVersion: 'v1', kind: 'X', metadata: { name: 'x', ...metadata } })
  assert.ok(managedByRunbook(object({ labels: { 'app.kubernetes.io/managed-by': 'gthulhu-runbook' } })))
  assert.ok(managedByRunbook(object({ managedFields: [{ manager: 'kubectl' }, { manager: 'gthulhu-runbook' }] })))
  assert.not.ok(managedByRunbook(object({ labels: { 'app.kubernetes.io/managed-by': 'Helm' } })))
  assert.not.ok(managedByRunbook(undefined))
})

test('the undo plan puts labels back to their recorded values and names what it leaves', () => {
  const step = STEPS.find((s) => s.id === 'waypoint')!
  const config = loadConfig([])
  const plan = undoPlan(step, {
    config,
    facts: {},
    before: {
      labels: { 'namespace//default': { 'istio.io/dataplane-mode': null, 'istio.io/use-waypoint': 'team-waypoint' } },
      objects: { 'gateways.gateway.networking.k8s.io/default/waypoint': { existed: true, managed: false } },
    },
  })
  const commands = plan.flatMap((i) => (i.kind === 'command' ? [i.argv.join(' ')] : []))
  assert.equal(commands, [
    'kubectl label namespace default istio.io/dataplane-mode-',
    'kubectl label namespace default istio.io/use-waypoint=team-waypoint --overwrite',
    // A label with no record was not there before the step: undo removes it (the manager Service's binding).
    'kubectl label service gthulhu-manager -n default istio.io/use-waypoint-',
  ])
  assert.ok(
    plan.some(
      (i) => i.kind === 'note' && /leave gateways default\/waypoint: it existed before the runbook/.test(i.text),
    ),
  )
  assert.equal(undoPlan(STEPS[0], { config, facts: {} }), [
    { kind: 'note', text: 'nothing to undo: this step only reads the cluster' },
  ])
})

test('before a step runs, an object whose resource type is not installed yet is recorded as absent; other errors stop it', async () => {
  const failing = (stderr: string) =>
    Object.assign(new Cluster({}), {
      findJson: async (args: string[]) => {
        throw new CommandError(['kubectl', ...args], 1, stderr, '')
      },
    })
  const step = STEPS.find((s) => s.id === 'gateway')!
  const config = loadConfig([])
  const ctx = (cluster: Cluster) => ({
    config,
    facts: {},
    cluster,
    signal: new AbortController().signal,
    settleMs: 0,
    before: {} as BeforeRecord,
  })
  const absentType = ctx(failing('error: the server doesn\'t have a resource type "gateways"'))
  await recordBefore(step, absentType)
  assert.equal(absentType.before.objects!['gateways.gateway.networking.k8s.io/default/gthulhu-gw'], {
    existed: false,
    managed: false,
  })
  try {
    await recordBefore(step, ctx(failing('error: You must be logged in to the server (Unauthorized)')))
    assert.unreachable('an unreadable cluster is an error')
  } catch (error) {
    assert.instance(error, CommandError)
  }
})

const records = (statuses: Partial<Record<StepId, StepRecord['status']>>) =>
  Object.fromEntries(Object.entries(statuses).map(([id, status]) => [id, { status }])) as Partial<
    Record<StepId, StepRecord>
  >

test('--uninstall picks the steps that may have changed something, latest first; --rollback needs one of them', () => {
  const done = records({
    preflight: 'done',
    istioctl: 'done',
    'gateway-api-crds': 'accepted',
    ambient: 'failed',
    gateway: 'undone',
    'l4-policies': 'skipped',
  })
  assert.equal(selectUndo(STEPS, { uninstall: true }, done, 'prod'), [
    'ambient',
    'gateway-api-crds',
    'istioctl',
    'preflight',
  ])
  assert.equal(selectUndo(STEPS, { rollback: 'ambient', uninstall: false }, done, 'prod'), ['ambient'])
  assert.throws(
    () => selectUndo(STEPS, { rollback: 'gateway', uninstall: false }, done, 'prod'),
    (e: Error) =>
      e instanceof UsageError &&
      /--rollback gateway: that step is undone in context prod.*rolled back here: preflight, istioctl, gateway-api-crds, ambient/.test(
        e.message,
      ),
  )
  assert.throws(() => selectUndo(STEPS, { uninstall: true }, {}, 'prod'), /nothing to undo/)
})

test('--verify audits the done and accepted steps, and refuses when there are none', () => {
  assert.equal(
    selectAudit(
      STEPS,
      records({ preflight: 'done', ambient: 'accepted', gateway: 'failed', waypoint: 'undone' }),
      'prod',
    ),
    ['preflight', 'ambient'],
  )
  assert.throws(
    () => selectAudit(STEPS, records({ gateway: 'undone' }), 'prod'),
    (e: Error) => e instanceof UsageError && /no step is done in context prod/.test(e.message),
  )
})

test('undo, audit and render are separate kinds of run and pick their own steps', () => {
  assert.throws(
    () => loadConfig(['--uninstall', '--verify']),
    (e: Error) => e instanceof UsageError && /--uninstall and --verify cannot be combined/.test(e.message),
  )
  assert.throws(
    () => loadConfig(['--rollback', 'gateway', '--only', 'gateway']),
    /--rollback picks its own steps from the state file; drop --only/,
  )
  assert.throws(() => loadConfig(['--rollback', 'gatway']), /unknown value "gatway"; valid: preflight/)
  assert.throws(
    () => loadConfig(['--dry-run', '--report', '/tmp/x']),
    /--report goes with a run, --verify, --rollback or --uninstall, not with --dry-run/,
  )
  assert.is(loadConfig(['--verify', '--no-probes']).probes, false)
})

const result = (
  source: string,
  destination: string,
  observed: ProbeResult['observed'],
  expect: ProbeResult['spec']['expect'],
): ProbeResult => ({
  spec: {
    role: 'x',
    source: { name: source, labels: {}, serviceAccount: 'default' },
    destination,
    request: { kind: 'mongo', host: 'h', port: 1 },
    expect,
  },
  pod: 'p',
  exitCode: 0,
  log: '',
  observed,
  ok: true,
})

test('probe results become edges labelled with the layer that decides them; later observations win', () => {
  const refused = edgeFromProbe(
    'l4-policies',
    result('other pod', 'MongoDB :27017', { kind: 'blocked', detail: 'timed out' }, { kind: 'blocked' }),
    't1',
  )
  assert.equal(
    [refused.from, refused.to, refused.port, refused.verdict, refused.layer],
    ['other pod', 'MongoDB', '27017', 'refused', 'CNI NetworkPolicy'],
  )
  const forbidden = edgeFromProbe(
    'l7-policies',
    result('ServiceAccount default', 'manager :8080', { kind: 'status', status: 403 }, { kind: 'status', status: 403 }),
    't1',
  )
  assert.equal([forbidden.verdict, forbidden.layer], ['refused', 'waypoint L7'])
  const opened = { ...refused, verdict: 'allowed' as const, at: 't2' }
  assert.equal(mergeEdges([refused, forbidden], [opened]), [opened, forbidden])
  const gateway = edgesFromChecks('l7-policies', [
    {
      name: "gateway http://127.0.0.1:31000/health with curl's default User-Agent (curl/8.11.1): HTTP 403",
      expected: 'HTTP 403',
      observed: 'HTTP 403',
      ok: true,
      path: 'curl-user-agent-to-gateway',
    },
    // A check that names no gateway path of the threat model draws no edge.
    {
      name: 'gateway http://127.0.0.1:31000/health with someone: HTTP 200',
      expected: '',
      observed: 'HTTP 200',
      ok: true,
    },
  ])
  assert.equal(
    gateway.map((e) => [e.from, e.to, e.port, e.verdict, e.layer]),
    [["client with curl's default User-Agent", 'ingress gateway', '31000', 'refused', 'gateway L7']],
  )
})

test('Markdown table cells escape pipes and line breaks', () => {
  assert.is(
    markdownTable({ head: ['a', 'b'], rows: [['x|y', 'one\ntwo']] }),
    '| a | b |\n| --- | --- |\n| x\\|y | one<br>two |',
  )
})

test.run()
