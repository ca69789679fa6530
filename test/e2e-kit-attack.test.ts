// The real-cluster kit (e2e/kit.sh) as CI can run it, part two: bring-your-own mode end to end against the
// simulated cluster through the real kubectl (the runbook hardens it, the attack pass prints its table), then the
// attack pass alone against that hardened cluster with the identity policies deleted.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'
import { attackObjectsLeft, resultTable, rowOf, runKit } from './e2e-kit-support.ts'
import { STEP_IDS } from '../lib/config/step-ids.ts'

let world: RunbookWorld

// The simulator does not model the manager's calls to the decision makers yet, so no decoy can hear them: a short
// listening window keeps these runs quick, and the decoy's silence is reported as a blocked control.
const ATTACK_ONLY = () => ['byo', '--context', world.sim.context, '--attack-only', '--listen-timeout', '5']

/** The paths the runbook closes today (identity policies), each refused in a hardened cluster. */
const CLOSED_BY_IDENTITY = [
  'outsider-to-manager',
  'other-identity-to-manager-pod',
  'manager-labels-to-mongodb',
  'manager-labels-to-decision-maker',
]
const CONTROLS = ['allowed-identity-to-manager', 'manager-to-mongodb', 'manager-to-decision-maker']
// The admission step closes the borrowed identities and a foreign Service; until the runbook has it, the kit must
// find them open.
const hasAdmissionPolicy = (STEP_IDS as readonly string[]).includes('admission-policy')
const CLOSED_BY_ADMISSION = [
  'borrowed-identity-by-pod',
  'borrowed-identity-by-deployment',
  'borrowed-identity-by-cronjob',
  'service-selecting-manager',
]
/** The waypoint as a deputy: bound to the whole namespace, it forwards a foreign Service with its own identity. */
const DEPUTY = 'deputy-service-to-manager'

async function kubectlOk(...args: string[]): Promise<string> {
  const r = await kubectl(world.sim.env, ['--context', world.sim.context, ...args])
  assert.is(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

/** Deletes the ztunnel-enforced (selector) AuthorizationPolicies that select a Gthulhu component; returns their names. */
async function deleteIdentityPolicies(component: string): Promise<string[]> {
  const policies = (await world.kubectlJson('get', 'authorizationpolicies.security.istio.io', '-n', 'default')).items
  const names = policies
    .filter(
      (p: any) => !p.spec?.targetRefs && p.spec?.selector?.matchLabels?.['app.kubernetes.io/component'] === component,
    )
    .map((p: any) => p.metadata.name)
  for (const name of names) await kubectlOk('-n', 'default', 'delete', 'authorizationpolicy', name)
  return names
}

test.before(async () => {
  world = await startWorld()
})
test.after(async () => {
  await world.stop()
})

test('byo end to end: the runbook hardens, and the attack pass finds closed what it closes and open what it does not yet', async () => {
  const r = await runKit(
    world,
    ['byo', '--context', world.sim.context, '--kubeconfig', world.sim.kubeconfig, '--listen-timeout', '5'],
    { timeoutMs: 540_000 },
  )
  assert.match(r.stdout, /Gthulhu found \(release gthulhu in namespace default\): the kit installs nothing/)
  assert.match(r.stdout, /runbook --yes: +passed/, show(r))
  assert.match(r.stdout, /targets: manager gthulhu-manager \(ServiceAccount gthulhu-manager, pod 10\.244\.\d+\.\d+\)/)
  const rows = resultTable(r.stdout)
  for (const id of CLOSED_BY_IDENTITY)
    assert.is(rowOf(rows, id, r.stdout).verdict, 'CLOSED', rowOf(rows, id, r.stdout).text)
  for (const id of CONTROLS) assert.is(rowOf(rows, id, r.stdout).verdict, 'REACHED', rowOf(rows, id, r.stdout).text)
  // The manager control calls as the scheduler's ServiceAccount, which the manager's policy admits through the waypoint.
  assert.match(rowOf(rows, 'allowed-identity-to-manager', r.stdout).path, /^ServiceAccount gthulhu /)
  // The attacker's copied labels meet the identity policy even where no admission step refuses the pod.
  assert.is(rowOf(rows, 'copied-labels-by-pod', r.stdout).verdict, 'CLOSED')
  for (const id of CLOSED_BY_ADMISSION) {
    const row = rowOf(rows, id, r.stdout)
    assert.is(row.verdict, hasAdmissionPolicy ? 'CLOSED' : 'OPEN', row.text)
    assert.match(
      row.observed,
      hasAdmissionPolicy
        ? /^refused at admission: ValidatingAdmissionPolicy '[^']+' with binding '[^']+' denied request: .*system:serviceaccount:default:kit-\d+-attacker/
        : /^(admitted by the API server \(server-side dry run; nothing was created\)|MongoDB answered hello)$/,
    )
  }
  assert.match(rowOf(rows, DEPUTY, r.stdout).path, /bound to waypoint waypoint/)
  assert.is(rowOf(rows, DEPUTY, r.stdout).verdict, 'OPEN')
  assert.is(rowOf(rows, DEPUTY, r.stdout).observed, 'HTTP 200')
  // The simulator refuses a hostNetwork pod's plaintext at ztunnel (it does not model the same-node bypass yet).
  for (const id of ['host-network-to-manager', 'host-network-to-mongodb', 'host-network-to-decision-maker'])
    assert.is(rowOf(rows, id, r.stdout).verdict, 'CLOSED', rowOf(rows, id, r.stdout).text)
  assert.is(rowOf(rows, 'manager-to-decoy-decision-maker', r.stdout).verdict, 'BLOCKED')
  assert.is(rowOf(rows, 'impostor-decision-maker', r.stdout).verdict, 'NO RESULT')
  const open = hasAdmissionPolicy ? [DEPUTY] : [...CLOSED_BY_ADMISSION, DEPUTY]
  assert.match(
    r.stdout,
    new RegExp(
      `RESULT: FAIL - ${open.length} bypass\\(es\\) open: ${open.join(', ')}; 1 control\\(s\\) blocked, so the refusals prove nothing: manager-to-decoy-decision-maker; 1 probe\\(s\\) without a result: impostor-decision-maker`,
    ),
  )
  assert.is(r.code, 1, show(r))
  assert.equal(await attackObjectsLeft(world), [])
})

test('armed fault: the identity policies of the manager and MongoDB deleted, the kit reports those bypasses open', async () => {
  const deleted = [...(await deleteIdentityPolicies('manager')), ...(await deleteIdentityPolicies('mongodb'))]
  assert.is(deleted.length, 2, `the runbook applied one identity policy for each: ${deleted}`)
  const r = await runKit(world, ATTACK_ONLY())
  assert.is(r.code, 1, show(r))
  const rows = resultTable(r.stdout)
  for (const id of ['other-identity-to-manager-pod', 'manager-labels-to-mongodb']) {
    const row = rowOf(rows, id, r.stdout)
    assert.is(row.verdict, 'OPEN', row.text)
  }
  assert.is(rowOf(rows, 'manager-labels-to-decision-maker', r.stdout).verdict, 'CLOSED', 'its own policy still holds')
  assert.is(rowOf(rows, 'manager-to-mongodb', r.stdout).verdict, 'REACHED')
  assert.match(
    r.stdout,
    /RESULT: FAIL - \d+ bypass\(es\) open: [^;]*other-identity-to-manager-pod, manager-labels-to-mongodb/,
  )
  assert.not.match(r.stdout, /gthulhu-runbook\.mjs/, '--attack-only runs no runbook')
  assert.equal(await attackObjectsLeft(world), [])
})

test.run()
