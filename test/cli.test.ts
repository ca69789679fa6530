// The CLI as an operator and a pipeline meet it: flags, refusals, preflight, dry run, list, state safety.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { parse as parseYaml } from 'yaml'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'

let world: RunbookWorld
let missing: RunbookWorld
test.before(async () => {
  ;[world, missing] = await Promise.all([startWorld(), startWorld({ missing: ['mongodb'] })])
})
test.after(async () => {
  await Promise.all([world?.stop(), missing?.stop()])
})

const noStack = (text: string) => assert.not.match(text, /\n\s+at .+:\d+:\d+/, 'an expected error must not print a stack trace')

test('--help lists every step and exits 0', async () => {
  const r = await world.run(['--help'])
  assert.is(r.code, 0, show(r))
  for (const id of ['preflight', 'istioctl', '--resume', 'Exit codes']) assert.ok(r.stdout.includes(id), `help lacks ${id}`)
})

test('an unknown flag exits 2 naming it and the closest valid flag', async () => {
  const r = await world.run([...world.flags, '--yes', '--namespce', 'x'])
  assert.is(r.code, 2, show(r))
  assert.match(r.stderr, /unknown flag --namespce; did you mean --namespace\?/)
  noStack(r.stderr)
})

test('an unknown step id exits 2 listing the valid ids', async () => {
  const r = await world.run([...world.flags, '--yes', '--only', 'preflight,meshify'])
  assert.is(r.code, 2, show(r))
  assert.match(r.stderr, /unknown value "meshify"; valid: preflight, istioctl/)
})

test('without a terminal and without --yes it exits 2 at once instead of waiting on a prompt', async () => {
  const started = Date.now()
  const r = await world.run(world.flags.filter((f) => f !== '--yes'), { timeoutMs: 15_000 })
  assert.is(r.code, 2, show(r))
  assert.match(r.stderr, /no terminal .*pass --yes and --context/)
  assert.ok(Date.now() - started < 10_000)
})

test('automation refuses to act on a context the operator did not name', async () => {
  const withoutContext = world.flags.filter((f, i, all) => f !== '--context' && all[i - 1] !== '--context')
  const r = await world.run([...withoutContext, '--yes'])
  assert.is(r.code, 2, show(r))
  assert.match(r.stderr, new RegExp(`--yes needs --context.*${world.sim.context}`))
  assert.not.ok(existsSync(world.stateFile), 'nothing may be written')
})

test('a context missing from the kubeconfig exits 2 listing the valid ones', async () => {
  const r = await world.run([...world.flags, '--yes', '--context', 'prod-eu'])
  assert.is(r.code, 2, show(r))
  assert.match(r.stderr, new RegExp(`no context "prod-eu" in the kubeconfig; valid: ${world.sim.context}`))
})

test('--dry-run prints the plan and changes nothing', async () => {
  const r = await world.run([...world.flags, '--dry-run', '--only', 'preflight,istioctl'])
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /# istioctl: Install istioctl/)
  assert.match(r.stdout, new RegExp(`${world.sim.istioMirror}/1\\.29\\.1/istioctl-1\\.29\\.1-linux-(amd64|arm64)\\.tar\\.gz`))
  assert.match(r.stdout, /Dry run: nothing was changed/)
  assert.not.ok(existsSync(join(world.installDir, 'istioctl')))
  assert.not.ok(existsSync(world.stateFile))
})

test('preflight passes on the default install and records what it found', async () => {
  const r = await world.run([...world.flags, '--yes', '--only', 'preflight'])
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /Gthulhu manager \(Deployment\)/)
  assert.match(r.stdout, /calico/)
  const state = world.state()
  assert.is(state.steps.preflight?.status, 'done')
  assert.is(state.facts.workloads?.manager.name, 'gthulhu-manager')
  assert.is(state.facts.workloads?.scheduler.serviceAccount, 'gthulhu')
  assert.is(state.facts.workloads?.mongodb.name, 'gthulhu-mongodb')
  assert.equal(state.facts.workloads?.mongodb.selectorLabels, {
    'app.kubernetes.io/name': 'mongodb',
    'app.kubernetes.io/instance': 'gthulhu',
    'app.kubernetes.io/component': 'mongodb',
  })
  assert.ok(state.steps.preflight?.checks?.every((c) => c.ok))
})

test('a resumed run warns when settings differ from those a done step ran with', async () => {
  const r = await world.run([...world.flags, '--dry-run', '--resume', '--gateway-name', 'other-gw'])
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /⚠ preflight was done with other settings \(gatewayName: "gthulhu-gw" → "other-gw"\); run it again with --from preflight/)
  assert.not.match(r.stdout, /# preflight:/, 'the done step is not planned again')
})

test('--list shows each step with its state in this context', async () => {
  const r = await world.run([...world.flags, '--list'])
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /preflight\s+done/)
  assert.match(r.stdout, /istioctl\s+pending/)
})

test('preflight fails clearly when a workload is missing, naming the selector, and prints the resume command', async () => {
  const r = await missing.run([...missing.flags, '--yes', '--only', 'preflight'])
  assert.is(r.code, 1, show(r))
  assert.match(r.stdout, /Gthulhu mongodb \(StatefulSet\)[\s\S]*app\.kubernetes\.io\/instance=gthulhu,app\.kubernetes\.io\/component=mongodb[\s\S]*none found/)
  assert.match(r.stdout, /Resume with:\n\s+npx tsx \S*runbook\.ts .*--only preflight/)
  assert.is(missing.state().steps.preflight?.status, 'failed')
  noStack(r.stdout + r.stderr)
})

test('an unreachable cluster fails preflight with a clear message', async () => {
  const kubeconfig = join(world.dir, 'unreachable.kubeconfig')
  const original = parseYaml(readFileSync(world.sim.kubeconfig, 'utf8'))
  original.clusters[0].cluster.server = 'http://127.0.0.1:9'
  writeFileSync(kubeconfig, JSON.stringify(original))
  const flags = world.flags.map((f) => (f === world.sim.kubeconfig ? kubeconfig : f === world.stateFile ? join(world.dir, 'unreachable.json') : f))
  const r = await world.run([...flags, '--yes', '--only', 'preflight'])
  assert.is(r.code, 1, show(r))
  assert.match(r.stdout, /unreachable: .*(refused|connect)/i)
  noStack(r.stdout + r.stderr)
})

test('a corrupt state file exits 2, names the file and is left untouched', async () => {
  const stateFile = join(world.dir, 'corrupt.json')
  writeFileSync(stateFile, '{ not json')
  const flags = world.flags.map((f) => (f === world.stateFile ? stateFile : f))
  const r = await world.run([...flags, '--yes', '--only', 'preflight'])
  assert.is(r.code, 2, show(r))
  assert.ok(r.stderr.includes(stateFile))
  assert.is(readFileSync(stateFile, 'utf8'), '{ not json')
})

test('a second run on a locked state exits 2 and names the holder', async () => {
  writeFileSync(`${world.stateFile}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), since: 'now' }))
  try {
    const r = await world.run([...world.flags, '--yes', '--only', 'preflight'])
    assert.is(r.code, 2, show(r))
    assert.match(r.stderr, new RegExp(`another run holds the lock .*pid ${process.pid}`))
  } finally {
    rmSync(`${world.stateFile}.lock`, { force: true })
  }
})

test.run()
