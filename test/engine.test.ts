import { join } from 'node:path'
import { Writable } from 'node:stream'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Cluster } from '../lib/kube/cluster.ts'
import { Engine } from '../lib/run/engine.ts'
import { Interrupted, StepFailure, UsageError } from '../lib/config/errors.ts'
import { loadConfig } from '../lib/config/options.ts'
import { Reporter } from '../lib/run/reporter.ts'
import { StateStore } from '../lib/run/state.ts'
import { STEP_IDS, type Check, type Step, type StepId } from '../lib/types.ts'
import { tempDir } from './temp-dir.ts'

async function rejects(fn: () => Promise<unknown>, expected: (e: Error) => boolean): Promise<void> {
  try {
    await fn()
  } catch (error) {
    assert.ok(expected(error as Error), `unexpected error: ${(error as Error).message}`)
    return
  }
  assert.unreachable('expected a rejection')
}

function capture() {
  let text = ''
  const stream = new Writable({
    write: (chunk, _enc, done) => ((text += chunk), done()),
  }) as unknown as NodeJS.WriteStream
  return { stream, text: () => text }
}

function fakeStep(id: StepId, behaviour: Partial<Pick<Step, 'run' | 'verify'>> & { checks?: Check[] } = {}): Step {
  return {
    id,
    title: `Step ${id}`,
    why: 'made for the engine test',
    settings: [],
    access: () => ({ run: [], verify: [] }),
    plan: () => [{ kind: 'note', text: 'nothing' }],
    run: behaviour.run ?? (async () => undefined),
    verify:
      behaviour.verify ??
      (async () => behaviour.checks ?? [{ name: `${id} holds`, expected: 'yes', observed: 'yes', ok: true }]),
  }
}

function engineFor(steps: Step[], options: { signal?: AbortSignal; json?: boolean; verbose?: boolean } = {}) {
  const human = capture()
  const events = capture()
  const state = new StateStore(join(tempDir('engine-'), 'state.json'), 'ctx')
  const engine = new Engine({
    config: loadConfig(['--yes', ...(options.verbose ? ['-v'] : [])], {}),
    steps,
    selected: steps.map((s) => s.id),
    state,
    cluster: new Cluster({}),
    reporter: new Reporter(options.json ?? false, human.stream, events.stream),
    signal: options.signal ?? new AbortController().signal,
    fancy: false,
  })
  return { engine, state, human, events }
}

test('runs the steps in order, records each as done with its checks, and reports a no-op run', async () => {
  const order: string[] = []
  const steps = [
    fakeStep('preflight', { run: async () => void order.push('preflight') }),
    fakeStep('istioctl', { run: async () => (order.push('istioctl'), { unchanged: 'already there' }) }),
  ]
  const { engine, state, human } = engineFor(steps)
  await engine.run()
  assert.equal(order, ['preflight', 'istioctl'])
  assert.is(state.step('preflight').status, 'done')
  assert.is(state.step('istioctl').note, 'already there')
  assert.equal(state.step('preflight').checks, [
    { name: 'preflight holds', expected: 'yes', observed: 'yes', ok: true },
  ])
  // An all-green step is one line; its checks are in the record (and the report), and on screen with -v.
  assert.equal(
    human
      .text()
      .trim()
      .split('\n')
      .map((line) => line.replace(/\(\d+\.\ds\)/, '(…)')),
    ['✔ Step preflight: 1/1 checks passed (…)', '✔ Step istioctl: 1/1 checks passed (…)'],
  )
  const verbose = engineFor([fakeStep('preflight')], { verbose: true })
  await verbose.engine.run()
  assert.match(verbose.human.text(), /✔ preflight holds\n\s+expected: yes\n\s+observed: yes/)
})

test('a check that needs a step that is not done reads "skipped: needs <step>": neither a pass nor a failure', async () => {
  const needsGateway = {
    name: 'gateway checks',
    expected: 'the gateway URL',
    observed: 'no gateway facts',
    ok: false,
    needs: 'gateway' as const,
  }
  const { engine, state, human } = engineFor([
    fakeStep('l7-policies', {
      checks: [{ name: 'policy applied', expected: 'yes', observed: 'yes', ok: true }, needsGateway],
    }),
  ])
  await engine.run()
  assert.is(state.step('l7-policies').status, 'done')
  assert.match(state.step('l7-policies').note ?? '', /1 check\(s\) skipped: needs gateway/)
  assert.match(human.text(), /– gateway checks: skipped: needs gateway/)
  assert.equal(
    state.step('l7-policies').checks?.find((c) => c.name === 'gateway checks')?.observed,
    'skipped: needs gateway',
  )
  // Once the step it needs is done, the same failure is a failure.
  await state.update('gateway', { status: 'done' })
  const again = engineFor([fakeStep('l7-policies', { checks: [needsGateway] })])
  await again.state.update('gateway', { status: 'done' })
  await rejects(
    () => again.engine.run(),
    (e: Error) => e instanceof StepFailure && /gateway checks/.test(e.message),
  )
})

test('a failed check fails the step (state says failed, with the check); an advisory one only warns', async () => {
  const advisory = { name: 'a CNI', expected: 'calico', observed: 'none', ok: false, advisory: true }
  const failing = {
    name: 'the policy',
    expected: 'refused',
    observed: 'connects',
    ok: false,
    hint: 'is the CNI enforcing?',
  }
  const { engine, state, human } = engineFor([
    fakeStep('preflight', { checks: [advisory] }),
    fakeStep('istioctl', { checks: [failing] }),
    fakeStep('gateway'),
  ])
  await rejects(
    () => engine.run(),
    (e: Error) => e instanceof StepFailure && /step istioctl failed: 1 check\(s\) failed: the policy/.test(e.message),
  )
  assert.is(state.step('preflight').status, 'done')
  assert.is(state.step('istioctl').status, 'failed')
  assert.equal(state.step('istioctl').checks, [failing])
  assert.is(state.step('gateway').status, 'pending', 'nothing runs after a failure in automation')
  assert.match(human.text(), /⚠ a CNI[\s\S]*✖ the policy[\s\S]*→ is the CNI enforcing\?/)
})

test('cleanups run when a step fails, and a UsageError keeps its meaning (exit 2)', async () => {
  const cleaned: string[] = []
  const step = fakeStep('l4-policies', {
    run: async (_ctx, io) => {
      io.onCleanup(async () => void cleaned.push('probe pods'))
      throw new UsageError('--allowed-user-agents: bad')
    },
  })
  const { engine, state } = engineFor([step])
  await rejects(
    () => engine.run(),
    (e: Error) => e instanceof UsageError,
  )
  assert.equal(cleaned, ['probe pods'])
  assert.is(state.step('l4-policies').status, 'failed')
})

test('an abort during a step marks it interrupted and still runs its cleanup', async () => {
  const abort = new AbortController()
  const cleaned: string[] = []
  const step = fakeStep('restart', {
    run: async (ctx, io) => {
      io.onCleanup(async () => void cleaned.push('done'))
      setTimeout(() => abort.abort(), 20)
      await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Interrupted())))
    },
  })
  const { engine, state } = engineFor([step], { signal: abort.signal })
  await rejects(
    () => engine.run(),
    (e: Error) => e instanceof Interrupted && /interrupted during restart/.test(e.message),
  )
  assert.is(state.step('restart').status, 'interrupted')
  assert.equal(cleaned, ['done'])
})

test('JSON events follow the run: step-start, checks, step-end', async () => {
  const { engine, events } = engineFor([fakeStep('preflight')], { json: true })
  await engine.run()
  const kinds = events
    .text()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).event)
  assert.equal(kinds, ['step-start', 'check', 'step-end'])
})

test('the engine adds little to each step: nine trivial steps take well under a second each', async () => {
  const { engine } = engineFor(STEP_IDS.map((id) => fakeStep(id)))
  const started = performance.now()
  await engine.run()
  const perStep = (performance.now() - started) / STEP_IDS.length
  assert.ok(perStep < 150, `the engine took ${perStep.toFixed(0)}ms per step`)
})

test.run()
