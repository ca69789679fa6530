import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { UsageError } from '../lib/config/errors.ts'
import type { Config } from '../lib/config/options.ts'
import { selectSteps } from '../lib/run/selection.ts'
import type { StepRecord } from '../lib/run/state.ts'
import { STEP_IDS, type StepId } from '../lib/types.ts'

const steps = STEP_IDS.map((id) => ({ id, requires: id === 'preflight' ? [] : (['preflight'] as StepId[]) }))
const none = {
  only: [] as StepId[],
  skip: [] as StepId[],
  resume: false,
  from: undefined as StepId | undefined,
  explicit: [] as (keyof Config)[],
}
const done = (...ids: StepId[]): Partial<Record<StepId, StepRecord>> =>
  Object.fromEntries(ids.map((id) => [id, { status: 'done' }]))

test('a plain run selects every step in order', () => {
  assert.equal(selectSteps(steps, none, {}).run, [...STEP_IDS])
})

test('--from starts at the named step, even when earlier ones are not done (if their facts exist)', () => {
  const { run, left } = selectSteps(steps, { ...none, from: 'l4-policies' }, done('preflight'))
  assert.equal(run, ['l4-policies', 'waypoint', 'restart', 'identity-policies', 'admission-policy', 'l7-policies'])
  assert.equal(left.find((l) => l.id === 'gateway')?.reason, 'before --from l4-policies')
})

test('--only keeps runbook order whatever order the ids were given in', () => {
  assert.equal(selectSteps(steps, { ...none, only: ['istioctl', 'preflight'] }, {}).run, ['preflight', 'istioctl'])
})

test('--skip leaves steps out', () => {
  const { run } = selectSteps(steps, { ...none, skip: ['restart', 'waypoint'] }, {})
  assert.not.ok(run.includes('restart'))
  assert.not.ok(run.includes('waypoint'))
  assert.is(run.length, STEP_IDS.length - 2)
})

test('--resume continues at the first step not done and never repeats done ones', () => {
  const records = { ...done('preflight', 'istioctl'), 'gateway-api-crds': { status: 'failed' as const } }
  const { run, left } = selectSteps(steps, { ...none, resume: true }, records)
  assert.is(run[0], 'gateway-api-crds')
  assert.not.ok(run.includes('preflight'))
  assert.match(left.find((l) => l.id === 'istioctl')!.reason, /done in an earlier run/)
})

test('--resume repeats a done step only when --from names it', () => {
  const { run } = selectSteps(
    steps,
    { ...none, resume: true, from: 'istioctl' },
    done('preflight', 'istioctl', 'gateway-api-crds'),
  )
  assert.equal(run.slice(0, 2), ['istioctl', 'ambient'])
})

test('accepted steps count as finished for --resume', () => {
  const { run } = selectSteps(
    steps,
    { ...none, resume: true },
    { ...done('preflight'), istioctl: { status: 'accepted' } },
  )
  assert.is(run[0], 'gateway-api-crds')
})

test('nothing left to resume is a usage error', () => {
  assert.throws(
    () => selectSteps(steps, { ...none, resume: true }, done(...STEP_IDS)),
    (e: Error) => e instanceof UsageError && /nothing to resume/.test(e.message),
  )
})

test('an --only given but empty names no step: it is refused, not read as every step', () => {
  assert.throws(
    () => selectSteps(steps, { ...none, only: [], explicit: ['only'] }, {}),
    (e: Error) => e instanceof UsageError && /^--only: no step named; valid: preflight, istioctl, /.test(e.message),
  )
})

test('a step whose facts come from an earlier step refuses to run without it', () => {
  assert.throws(
    () => selectSteps(steps, { ...none, only: ['gateway'] }, {}),
    (e: Error) => e instanceof UsageError && /step gateway needs step preflight/.test(e.message),
  )
  assert.equal(selectSteps(steps, { ...none, only: ['preflight', 'gateway'] }, {}).run, ['preflight', 'gateway'])
})

test.run()
