// Two SIGTERMs within 50 ms make the runbook leave at once, before its probe pods are deleted: the next run
// (holding the lock, so no other run's probes can be live) removes them, and the namespaces some probes make for
// themselves, and says so. Simulated cluster, real CLI.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { pollUntil } from '../lib/kube/wait.ts'
import { text } from '../lib/config/text.ts'
import { ROOT, runbookEntry, show, startWorld, TSX_LOADER, type RunbookWorld } from './harness.ts'

let world: RunbookWorld
test.before(async () => {
  world = await startWorld()
  const setup = await world.run([...world.flags, '--yes', '--only', 'preflight'])
  if (setup.code !== 0) throw new Error(`setup failed: ${show(setup)}`)
})
test.after(async () => {
  await world?.stop()
})

const probePods = async (): Promise<string[]> =>
  (await world.kubectlJson('get', 'pods', '-n', 'default', '-l', 'gthulhu-runbook/probe-run')).items.map(
    (p: any) => p.metadata.name,
  )

const probeNamespaces = async (): Promise<string[]> =>
  (await world.kubectlJson('get', 'namespaces', '-l', 'gthulhu-runbook/probe-run')).items.map(
    (n: any) => n.metadata.name,
  )

test('probe pods of a run stopped by two SIGTERMs within 50 ms are removed by the next run', async () => {
  // Probe pods stay Pending, so the run is waiting on them when it is stopped.
  world.sim.faults.probePodsPending = true
  const child = spawn(
    process.execPath,
    ['--import', TSX_LOADER, join(ROOT, 'runbook.ts'), ...world.flags, '--yes', '--only', 'l4-policies'],
    { cwd: world.dir, env: { ...process.env, ...world.sim.env, CI: 'true', NO_COLOR: '1' }, stdio: 'ignore' },
  )
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  try {
    // Both kinds of leftovers exist before the stop: probe pods, and the namespace the impostor listens in.
    const started = await pollUntil(
      async () => ((await probePods()).length && (await probeNamespaces()).length ? true : undefined),
      { timeoutMs: 300_000, intervalMs: 250 },
    )
    assert.ok(started, 'the run started its probe pods and made its probe namespace')
    // Whatever deletion the first signal starts (probe pods, the impostor's namespace) must not get through before
    // the process is gone: every DELETE under /namespaces/ fails until the test clears the fault.
    world.sim.faults.api.push({ method: 'DELETE', pathIncludes: '/namespaces/', failWith: 503, times: 1000 })
    child.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 10))
    child.kill('SIGTERM')
    assert.is(await exited, 130)
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL')
  }
  world.sim.faults.api = []
  world.sim.faults.probePodsPending = false
  const left = await probePods()
  assert.ok(left.length > 0, 'the interrupted run left its probe pods behind')
  // The impostor decision maker listens in a namespace of its own, which the interrupted run left too.
  const leftNamespaces = await probeNamespaces()
  assert.ok(leftNamespaces.length > 0, 'and the namespace of its impostor decision maker')

  // The forced exit still saved the record and gave the lock back: the interrupted run's revision says so.
  const { items } = await world.kubectlJson('get', 'secrets', '-n', 'default', '-l', 'owner=gthulhu-runbook')
  const latest = items.sort(
    (a: any, b: any) => Number(b.metadata.labels.version) - Number(a.metadata.labels.version),
  )[0]
  assert.is(latest.metadata.labels.status, 'interrupted')
  assert.is(
    (await world.kubectlJson('get', 'lease', 'gthulhu-runbook', '-n', 'default')).spec.holderIdentity,
    undefined,
  )

  const next = await world.run([...world.flags, '--yes', '--only', 'preflight'])
  assert.is(next.code, 0, show(next))
  assert.match(
    next.stdout,
    new RegExp(`⚠ removed ${left.length} probe pod\\(s\\) an interrupted run left behind: ${left.sort().join(', ')}`),
  )
  assert.match(
    next.stdout,
    new RegExp(
      `⚠ removed ${leftNamespaces.length} probe namespace\\(s\\) an interrupted run left behind, with what they held: ${leftNamespaces.sort().join(', ')}`,
    ),
  )
  assert.equal(await world.probePodsLeft(), [])
  assert.equal(await probeNamespaces(), [])
})

test('SIGTERM while a probe pod create is in flight: the run still exits 130 and its own clean-up removes the pod', async () => {
  // The API server holds the run's first pod create (a probe pod's) until the run has taken the signal, so the
  // pod is stored after the stop; the run's clean-up must still find and delete it, leaving nothing for the next.
  let arrived!: () => void
  const held = new Promise<void>((resolve) => (arrived = resolve))
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  world.sim.faults.api.push({ method: 'POST', pathIncludes: '/pods', times: 1, hold: { arrived, released } })
  const child = spawn(process.execPath, [...runbookEntry(), ...world.flags, '--yes', '--only', 'l4-policies'], {
    cwd: world.dir,
    env: { ...process.env, ...world.sim.env, CI: 'true', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  const said = (wanted: string) =>
    new Promise<void>((resolve) => {
      const look = () => output.includes(wanted) && resolve()
      child.stdout.on('data', (chunk) => ((output += chunk), look()))
      child.stderr.on('data', (chunk) => (output += chunk))
      look()
    })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  try {
    await held
    child.kill('SIGTERM')
    await said(text.cli.interrupted)
    release()
    assert.is(await exited, 130, output)
  } finally {
    release()
    if (child.exitCode === null) child.kill('SIGKILL')
  }
  world.sim.faults.api = []
  assert.equal(await world.probePodsLeft(), [], output)
  const next = await world.run([...world.flags, '--yes', '--only', 'preflight'])
  assert.is(next.code, 0, show(next))
  assert.not.match(next.stdout, /an interrupted run left behind/)
})

test.run()
