// Admission attempts sent together as one identity share one kubectl process, and each still gets the answer its
// own call would have given: admitted by name, refused with the policy's message, or (a refusal that names no
// object, such as RBAC's) asked again alone. Against the simulated cluster hardened by every step, through kubectl.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Cluster, type CommandRun } from '../lib/kube/cluster.ts'
import type { KubeObject, StepContext } from '../lib/types.ts'
import { ATTACKER_USER, tryAdmission } from '../lib/verify/admission-attempts.ts'
import { preparedWorld } from './fixtures.ts'
import type { RunbookWorld } from './harness.ts'

let world: RunbookWorld
test.before(async () => {
  world = await preparedWorld({ cni: 'calico' }) // the save other files share
})
test.after(async () => {
  await world?.stop()
})

const pod = (name: string, serviceAccountName?: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: { ...(serviceAccountName ? { serviceAccountName } : {}), containers: [{ name: 'c', image: 'busybox:1.36' }] },
})
const deployment = (name: string): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'default' },
  spec: {
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } },
  },
})

function clusterCounting(): { ctx: StepContext; commands: CommandRun[] } {
  const commands: CommandRun[] = []
  const cluster = new Cluster({
    kubeconfig: world.sim.kubeconfig,
    context: world.sim.context,
    onCommand: (ran) => commands.push(ran),
  })
  return { ctx: { cluster } as StepContext, commands }
}

test("the insider's attempts go in one call: the manager's identity refused by the policy, a plain pod admitted", async () => {
  const { ctx, commands } = clusterCounting()
  const [impostor, plain, scheduler] = await Promise.all([
    tryAdmission(ctx, pod('attempt-impostor', 'gthulhu-manager'), ATTACKER_USER),
    tryAdmission(ctx, pod('attempt-plain'), ATTACKER_USER),
    tryAdmission(ctx, pod('attempt-scheduler', 'gthulhu'), ATTACKER_USER),
  ])
  assert.is(commands.length, 1, commands.map((c) => c.argv.join(' ')).join('\n'))
  assert.is(impostor.kind, 'refused', impostor.detail)
  assert.match(
    impostor.detail,
    /^ValidatingAdmissionPolicy 'gthulhu-identities\.default' with binding '[^']+' denied request: /,
  )
  assert.equal(plain, { kind: 'admitted', detail: 'admitted (pod/attempt-plain, server dry run)' })
  assert.is(scheduler.kind, 'refused', scheduler.detail)
  assert.ok(impostor.detail !== scheduler.detail, 'each refusal is its own object’s message')
})

test('a refusal that names no object is asked again alone, so it keeps its own error', async () => {
  const { ctx, commands } = clusterCounting()
  // A user with no RBAC at all: the API server refuses the create before admission, and RBAC's message has no name.
  const [first, second] = await Promise.all([
    tryAdmission(ctx, pod('attempt-nobody-pod'), 'nobody-at-all'),
    tryAdmission(ctx, deployment('attempt-nobody-deployment'), 'nobody-at-all'),
  ])
  assert.is(commands.length, 3, 'one call for both, then one for each')
  for (const outcome of [first, second]) {
    assert.is(outcome.kind, 'error', outcome.detail)
    assert.match(outcome.detail, /^RBAC refused nobody-at-all before admission ran/)
  }
  assert.match(second.detail, /deployments/)
})

test('attempts as different identities are not merged', async () => {
  const { ctx, commands } = clusterCounting()
  await Promise.all([
    tryAdmission(ctx, pod('attempt-a'), ATTACKER_USER),
    tryAdmission(ctx, pod('attempt-b'), 'nobody-at-all'),
  ])
  assert.equal(commands.map((c) => c.argv.find((a) => a.startsWith('--as='))).sort(), [
    `--as=${ATTACKER_USER}`,
    '--as=nobody-at-all',
  ])
})

test.run()
