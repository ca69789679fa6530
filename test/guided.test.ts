import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startWorld, type RunbookWorld, startGuided } from './harness.ts'
import type { TerminalSession } from './tty.ts'
import { kubectl } from './kit.ts'

let world: RunbookWorld
let broken: RunbookWorld
const sessions: TerminalSession[] = []
test.before(async () => {
  ;[world, broken] = await Promise.all([startWorld(), startWorld({ missing: ['mongodb'] })])
})
// A test that fails mid-session leaves no runbook holding the cluster's lock for the next one.
test.after.each(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()))
})
test.after(async () => {
  await Promise.all(sessions.map((s) => s.close()))
  await Promise.all([world?.stop(), broken?.stop()])
})

async function guided(target: RunbookWorld, args: string[]): Promise<TerminalSession> {
  const session = await startGuided(target, args)
  sessions.push(session)
  return session
}

// Positions in the menu shown before each step.
const BEFORE = { run: 0, plan: 1, skip: 2, all: 3, quit: 4 }
const choose = async (session: TerminalSession, index: number) => session.keys(...Array(index).fill('Down'), 'Enter')

test('asks which context, listing the current one first with its cluster, then explains the step and runs it once confirmed', async () => {
  const withoutContext = world.flags.filter((f, i, all) => f !== '--context' && all[i - 1] !== '--context')
  const session = await guided(world, [...withoutContext, '-v', '--only', 'preflight'])
  const asked = await session.waitFor(/Which kube context should the runbook harden\?/)
  assert.match(
    asked,
    new RegExp(`${world.sim.context} \\(current\\) → cluster \\S+ at ${world.sim.apiUrl.replace(/[./]/g, '\\$&')}`),
  )
  await session.keys('Enter')
  const explained = await session.waitFor(/Run preflight\?/)
  assert.match(explained, /Before changing anything/)
  assert.match(
    explained,
    new RegExp(`It will:\\n\\s+\\$ kubectl --kubeconfig \\S+ --context ${world.sim.context} version --client -o json`),
  )
  await choose(session, BEFORE.run)
  const done = await session.waitFor(/Summary:[\s\S]*done\s+preflight/)
  assert.match(done, /✔ Gthulhu manager \(Deployment\)/)
  assert.is(await session.exitCode(), 0)
  assert.is(world.state().steps.preflight?.status, 'done')
})

test('shows the full plan on request, skips a step when told to, and records it as skipped', async () => {
  const session = await guided(world, [...world.flags, '--only', 'preflight,istioctl'])
  await session.waitFor(/Run preflight\?/)
  await choose(session, BEFORE.skip)
  await session.waitFor(/Run istioctl\?/)
  await choose(session, BEFORE.plan)
  const plan = await session.waitFor(/Full plan of istioctl:[\s\S]*verify against \S+\.sha256[\s\S]*Run istioctl\?/)
  assert.match(
    plan,
    new RegExp(
      `↓ ${world.sim.istioMirror.replace(/[./]/g, '\\$&')}/1\\.29\\.1/istioctl-1\\.29\\.1-linux-\\w+\\.tar\\.gz`,
    ),
  )
  await choose(session, BEFORE.skip)
  const summary = await session.waitFor(/Summary:[\s\S]*skipped\s+istioctl/)
  assert.match(summary, /done\s+preflight/, 'skipping a done step keeps it done')
  assert.is(await session.exitCode(), 0)
  assert.is(world.state().steps.istioctl?.status, 'skipped')
})

test('quit leaves with 130 and the resume command; the resumed run continues where it stopped', async () => {
  const session = await guided(world, [...world.flags, '--only', 'preflight,istioctl'])
  await session.waitFor(/Run preflight\?/)
  await choose(session, BEFORE.run)
  await session.waitFor(/Run istioctl\?/)
  await choose(session, BEFORE.quit)
  const quit = await session.waitFor(/Resume with:\n\s+(.+)/)
  assert.is(await session.exitCode(), 130)
  assert.match(quit, /stopped before istioctl at the operator's request/)
  const preflightFinished = world.state().steps.preflight?.finishedAt
  const resumeLine = /Resume with:\n\s+npx (?:tsx \S+|gthulhu-runbook) (.+)/.exec(quit)![1]
  assert.match(resumeLine, /--only istioctl/)
  const resumed = await guided(world, resumeLine.split(' '))
  await resumed.waitFor(/Run istioctl\?/)
  await choose(resumed, BEFORE.all)
  await resumed.waitFor(/Summary:[\s\S]*done\s+istioctl/)
  assert.is(await resumed.exitCode(), 0)
  assert.is(world.state().steps.preflight?.finishedAt, preflightFinished, 'preflight was not repeated')
})

test('a failed check offers recovery; retrying the verification after fixing the cluster passes', async () => {
  const session = await guided(broken, [...broken.flags, '--only', 'preflight'])
  await session.waitFor(/Run preflight\?/)
  await choose(session, BEFORE.run)
  const failed = await session.waitFor(/preflight did not verify\. What now\?/)
  assert.match(failed, /✖ Gthulhu mongodb \(StatefulSet\)[\s\S]*none found/)
  assert.match(failed, /Retry the verification[\s\S]*Run the step again[\s\S]*Accept and continue[\s\S]*Quit/)
  // The operator installs the missing StatefulSet, then retries the verification.
  const statefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'gthulhu-mongodb', namespace: 'default', labels: { 'app.kubernetes.io/instance': 'gthulhu' } },
    spec: {
      serviceName: 'gthulhu-mongodb',
      replicas: 1,
      selector: {
        matchLabels: {
          'app.kubernetes.io/name': 'mongodb',
          'app.kubernetes.io/instance': 'gthulhu',
          'app.kubernetes.io/component': 'mongodb',
        },
      },
      template: {
        metadata: {
          labels: {
            'app.kubernetes.io/name': 'mongodb',
            'app.kubernetes.io/instance': 'gthulhu',
            'app.kubernetes.io/component': 'mongodb',
          },
        },
        spec: { containers: [{ name: 'mongodb', image: 'mongo:7', ports: [{ containerPort: 27017 }] }] },
      },
    },
  }
  const applied = await kubectl(broken.sim.env, ['apply', '-f', '-'], { input: JSON.stringify(statefulSet) })
  assert.is(applied.code, 0, applied.stderr)
  await session.keys('Enter') // "Retry the verification" is the first choice
  const retried = await session.waitFor(/Summary:[\s\S]*done\s+preflight/)
  assert.match(retried, /✔ Preflight checks: (\d+)\/\1 checks passed/, 'the retried verification passes: one line')
  assert.is(await session.exitCode(), 0)
})

test('a question that arises mid-step (a newer Gateway API bundle) is asked in place; yes replaces it', async () => {
  const installed = await world.run([...world.flags, '--yes', '--only', 'gateway-api-crds'])
  assert.is(installed.code, 0, installed.stdout + installed.stderr)
  const annotated = await kubectl(world.sim.env, [
    'annotate',
    '--overwrite',
    'crd',
    'gateways.gateway.networking.k8s.io',
    'gateway.networking.k8s.io/bundle-version=v1.5.0',
  ])
  assert.is(annotated.code, 0, annotated.stderr)
  const session = await guided(world, [...world.flags, '--only', 'gateway-api-crds'])
  await session.waitFor(/Run gateway-api-crds\?/)
  await choose(session, BEFORE.run)
  await session.waitFor(/Gateway API CRDs at v1\.5\.0 are installed, newer than v1\.4\.0\. .*Replace them\? \(y\/N\)/)
  await session.keys('y', 'Enter')
  const done = await session.waitFor(/Summary:[\s\S]*done\s+gateway-api-crds/)
  assert.match(
    done,
    /replacing Gateway API CRDs at v1\.5\.0 with v1\.4\.0|CRD gateways\.gateway\.networking\.k8s\.io Established/,
  )
  assert.is(await session.exitCode(), 0)
  const crd = await kubectl(world.sim.env, [
    'get',
    'crd',
    'gateways.gateway.networking.k8s.io',
    '-o',
    'jsonpath={.metadata.annotations.gateway\\.networking\\.k8s\\.io/bundle-version}',
  ])
  assert.is(crd.stdout, 'v1.4.0')
})

test('accepting a failed check continues and records the step as accepted', async () => {
  const missing = await startWorld({ missing: ['manager'] })
  try {
    const session = await guided(missing, [...missing.flags, '--only', 'preflight'])
    await session.waitFor(/Run preflight\?/)
    await choose(session, BEFORE.run)
    await session.waitFor(/preflight did not verify\. What now\?/)
    await choose(session, 2) // Retry, Run again, Accept (preflight has no rollback)
    const summary = await session.waitFor(/Summary:[\s\S]*accepted\s+preflight/)
    assert.match(summary, /accepted by the operator/)
    assert.is(await session.exitCode(), 0)
    assert.is(missing.state().steps.preflight?.status, 'accepted')
  } finally {
    await missing.stop()
  }
})

test.run()
