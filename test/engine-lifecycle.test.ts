import { join } from 'node:path'
import { Writable } from 'node:stream'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Cluster } from '../lib/kube/cluster.ts'
import { Engine, type Prompter } from '../lib/run/engine.ts'
import { Interrupted, StepFailure } from '../lib/config/errors.ts'
import { loadConfig } from '../lib/config/options.ts'
import { probeCheck, runProbes, type ProbeSpec } from '../lib/verify/probes.ts'
import { Reporter } from '../lib/run/reporter.ts'
import { StateStore } from '../lib/run/state.ts'
import type { Check, Step, StepId } from '../lib/types.ts'
import { tempDir } from './temp-dir.ts'

function capture() {
  let text = ''
  const stream = new Writable({
    write: (chunk, _enc, done) => ((text += chunk), done()),
  }) as unknown as NodeJS.WriteStream
  return { stream, text: () => text }
}

function undoableStep(
  id: StepId,
  log: string[],
  undoChecks: Check[] = [{ name: `${id} gone`, expected: 'absent', observed: 'absent', ok: true }],
): Step {
  return {
    id,
    title: `Step ${id}`,
    why: 'made for the test',
    settings: [],
    access: () => ({ run: [], verify: [] }),
    plan: () => [],
    run: async () => undefined,
    verify: async () => [
      { name: `${id} holds`, expected: 'yes', observed: id === 'gateway' ? 'no' : 'yes', ok: id !== 'gateway' },
    ],
    rollback: async () => void log.push(`undo ${id}`),
    verifyRollback: async () => undoChecks,
  }
}

function engineFor(steps: Step[], selected: StepId[], prompter?: Prompter) {
  const human = capture()
  const events = capture()
  const state = new StateStore(join(tempDir('engine-lifecycle-'), 'state.json'), 'ctx')
  // A local-only store writes its file synchronously; the cluster record is not involved here.
  for (const step of steps)
    void state.update(step.id, {
      status: 'done',
      ...(step.id === 'gateway' ? {} : { before: { found: { something: true } } }),
    })
  const engine = new Engine({
    config: loadConfig(['--yes'], {}),
    steps,
    selected,
    state,
    cluster: new Cluster({}),
    reporter: new Reporter(true, human.stream, events.stream),
    signal: new AbortController().signal,
    prompter,
    fancy: false,
  })
  const eventList = () =>
    events
      .text()
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
  return { engine, state, human, eventList }
}

const guided = (answers: boolean[]): Prompter => ({
  beforeStep: async () => 'run',
  afterFailure: async () => 'quit',
  confirmUndo: async () => answers.shift() ?? false,
})

test('guided undo asks per step: a yes is undone (state undone, before-record cleared), a no stops before changing anything', async () => {
  const log: string[] = []
  const steps = [undoableStep('l4-policies', log), undoableStep('waypoint', log)]
  const { engine, state } = engineFor(steps, ['waypoint', 'l4-policies'], guided([true, false]))
  try {
    await engine.undo()
    assert.unreachable('the second answer was no')
  } catch (error) {
    assert.instance(error, Interrupted)
    assert.match((error as Error).message, /stopped before undoing l4-policies/)
  }
  assert.equal(log, ['undo waypoint'])
  assert.is(state.step('waypoint').status, 'undone')
  assert.is(state.step('waypoint').before, undefined)
  assert.is(state.step('l4-policies').status, 'done')
  assert.ok(state.step('l4-policies').before, 'not undone: still remembers what was there before')
})

test('an undo whose verification fails keeps the step as it was and says so', async () => {
  const log: string[] = []
  const steps = [
    undoableStep('gateway', log, [{ name: 'Gateway deleted', expected: 'absent', observed: 'present', ok: false }]),
  ]
  const { engine, state, eventList } = engineFor(steps, ['gateway'])
  try {
    await engine.undo()
    assert.unreachable('the undo did not verify')
  } catch (error) {
    assert.instance(error, StepFailure)
    assert.match((error as Error).message, /undoing gateway failed: 1 check\(s\) failed: Gateway deleted/)
  }
  assert.is(state.step('gateway').status, 'done')
  assert.match(state.step('gateway').error ?? '', /^undo: /)
  assert.ok(eventList().some((e) => e.event === 'step-end' && e.step === 'gateway' && e.status === 'failed'))
})

test('an audit runs every verify, names each failed check as a drift, and records nothing', async () => {
  const steps = [undoableStep('ambient', []), undoableStep('gateway', [])]
  const { engine, state, eventList } = engineFor(steps, ['ambient', 'gateway'])
  const before = JSON.stringify(state.state.steps)
  const drifts = await engine.audit()
  assert.equal(drifts, ['gateway: gateway holds — expected yes, observed no'])
  assert.equal(
    eventList()
      .filter((e) => e.event === 'drift')
      .map((e) => [e.step, e.check]),
    [['gateway', 'gateway holds']],
  )
  assert.equal(
    engine.results.map((r) => [r.id, r.status]),
    [
      ['ambient', 'done'],
      ['gateway', 'failed'],
    ],
  )
  assert.is(JSON.stringify(state.state.steps), before, 'state untouched')
})

test('with probes off, runProbes creates nothing and probeCheck reports an advisory skip', async () => {
  const spec: ProbeSpec = {
    role: 'x',
    source: { name: 'manager', labels: {}, serviceAccount: 'sa' },
    destination: 'MongoDB :27017',
    request: { kind: 'mongo', host: 'h', port: 27017 },
    expect: { kind: 'answered' },
  }
  // A cluster whose kubectl would fail: proves no command runs.
  const cluster = new Cluster({ kubeconfig: '/nonexistent/kubeconfig' })
  const io = { log: () => undefined, warn: () => undefined, onCleanup: () => undefined, confirm: async () => false }
  const [result] = await runProbes(
    {
      config: loadConfig([], {}),
      facts: {},
      cluster,
      signal: new AbortController().signal,
      settleMs: 0,
      probes: false,
    },
    io,
    [spec],
  )
  assert.equal(probeCheck(result), {
    name: 'manager → MongoDB :27017: answers',
    expected: 'answers',
    observed: 'not probed (--no-probes)',
    ok: false,
    advisory: true,
  })
})

test.run()
