// Each step declares the settings that shape what it does; only a change to those warns that a done step ran with
// other settings. The declaration is checked against what the step's plan actually reads.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig, OUTCOME_KEYS, type Config } from '../lib/config/options.ts'
import { driftWarnings, StateStore } from '../lib/run/state.ts'
import { STEPS } from '../steps/index.ts'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The config, recording every key read through it. */
function recording(config: Config): { config: Config; read: Set<keyof Config> } {
  const read = new Set<keyof Config>()
  const proxy = new Proxy(config, {
    get(target, key, receiver) {
      if (typeof key === 'string') read.add(key as keyof Config)
      return Reflect.get(target, key, receiver)
    },
  })
  return { config: proxy, read }
}

test("every outcome setting a step's plan reads is among the settings it declares", () => {
  for (const step of STEPS) {
    const { config, read } = recording(loadConfig([], {}))
    // After the istioctl step: the binary comes from facts, so --install-dir is only the istioctl step's concern.
    step.plan({ config, facts: { istioctlPath: '/opt/bin/istioctl' } })
    // The record belongs to one context, so the context is never a step's setting.
    const undeclared = [...read].filter(
      (key) => OUTCOME_KEYS.includes(key) && key !== 'context' && !step.settings.includes(key),
    )
    assert.equal(undeclared, [], `${step.id} reads ${undeclared.join(', ')} without declaring it`)
    for (const key of step.settings) assert.ok(OUTCOME_KEYS.includes(key), `${step.id}: ${key} is not a setting`)
  }
})

test('only a change to a setting a done step declares warns about it', () => {
  const store = new StateStore(join(mkdtempSync(join(tmpdir(), 'settings-')), 'state.json'), 'ctx')
  const before = loadConfig(['--context', 'ctx'], {})
  for (const id of ['preflight', 'l7-policies'] as const)
    void store.update(id, { status: 'done', config: { ...before, context: 'ctx' } })
  const changed = loadConfig(['--allowed-user-agents', 'curl/*'], {})
  const warnings = driftWarnings(store.state, changed, STEPS)
  assert.is(warnings.length, 1, warnings.join('\n'))
  assert.match(warnings[0], /^l7-policies was done with other settings \(allowedUserAgents: /)
  // A context picked at the prompt (config.context unset before) is no setting of any step.
  assert.equal(driftWarnings(store.state, loadConfig([], {}), STEPS), [])
})

test.run()
