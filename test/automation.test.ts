// Automation mode: --output json gives a pipeline one parseable event per line, in order, with human text
// kept on stderr; failures and usage errors are events too.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'

let world: RunbookWorld
test.before(async () => {
  world = await startWorld()
})
test.after(async () => {
  await world?.stop()
})

const events = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((line, index) => {
      try {
        return JSON.parse(line)
      } catch {
        throw new Error(`stdout line ${index + 1} is not JSON: ${line}`)
      }
    })

test('--output json: every stdout line is a JSON event, in order, and human text goes to stderr', async () => {
  const r = await world.run([...world.flags, '--yes', '--output', 'json', '--only', 'preflight,istioctl'])
  assert.is(r.code, 0, show(r))
  const stream = events(r.stdout)
  const kinds = stream.map((e) => `${e.event}${e.step ? `:${e.step}` : ''}`)
  assert.is(kinds[0], 'run-start')
  assert.is(kinds.at(-1), 'run-end')
  const order = ['step-start:preflight', 'step-end:preflight', 'step-start:istioctl', 'step-end:istioctl']
  assert.equal(
    kinds.filter((k) => order.includes(k)),
    order,
  )
  const preflightChecks = stream.filter((e) => e.event === 'check' && e.step === 'preflight')
  assert.ok(preflightChecks.length >= 6)
  assert.ok(
    preflightChecks.every(
      (c) => typeof c.expected === 'string' && typeof c.observed === 'string' && typeof c.ok === 'boolean',
    ),
  )
  assert.ok(
    kinds.indexOf('step-end:preflight') > kinds.lastIndexOf('check:preflight'),
    'checks come before their step ends',
  )
  for (const end of stream.filter((e) => e.event === 'step-end')) assert.is(end.status, 'done')
  assert.equal(stream.at(-1), { ...stream.at(-1), event: 'run-end', status: 'done', exitCode: 0 })
  assert.ok(
    stream.every((e) => !Number.isNaN(Date.parse(e.time))),
    'every event carries its time',
  )
  assert.match(r.stderr, /Summary:/)
  assert.not.match(r.stdout, /Summary:/)
})

test('--output json: a failed step ends with a run-end event carrying the resume command (--only: the rest; --from: again from there)', async () => {
  world.sim.faults.wrongChecksum = true
  const r = await world.run([
    ...world.flags,
    '--yes',
    '--output',
    'json',
    '--only',
    'istioctl',
    '--install-dir',
    `${world.dir}/other-bin`,
  ])
  const from = await world.run([
    ...world.flags,
    '--yes',
    '--output',
    'json',
    '--from',
    'istioctl',
    '--install-dir',
    `${world.dir}/other-bin`,
  ])
  world.sim.faults.wrongChecksum = false
  assert.is(r.code, 1, show(r))
  const stream = events(r.stdout)
  const end = stream.at(-1)
  assert.is(end.event, 'run-end')
  assert.is(end.status, 'failed')
  assert.is(end.exitCode, 1)
  assert.match(end.resumeCommand, /--only istioctl$/)
  assert.is(from.code, 1, show(from))
  // --resume would skip the later steps that are done; the run it resumes was to run them again.
  assert.match(events(from.stdout).at(-1).resumeCommand, /--from istioctl$/)
  assert.ok(
    stream.some(
      (e) =>
        e.event === 'step-end' && e.step === 'istioctl' && e.status === 'failed' && /checksum mismatch/.test(e.error),
    ),
  )
})

test('--output json: a usage error is reported as a run-end event with exit code 2', async () => {
  const r = await world.run([...world.flags, '--yes', '--output', 'json', '--only', 'nonsense'])
  assert.is(r.code, 2, show(r))
  const [end] = events(r.stdout)
  assert.is(end.event, 'run-end')
  assert.is(end.status, 'usage-error')
  assert.match(end.message, /unknown value "nonsense"/)
})

test('--output json without --yes is refused: JSON output is for unattended runs', async () => {
  const r = await world.run([...world.flags, '--output', 'json', '--only', 'preflight'])
  assert.is(r.code, 2, show(r))
})

test.run()
