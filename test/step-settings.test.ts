// Each step declares the settings that shape what it does; only a change to those warns that a done step ran with
// other settings. The declaration is checked against what the step's plan actually reads.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig, OUTCOME_KEYS, type Config } from '../lib/config/options.ts'
import { applyRecordedSettings, driftWarnings, StateStore } from '../lib/run/state.ts'
import { STEPS } from '../steps/index.ts'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './temp-dir.ts'

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

test("every outcome setting a step's own code reads (run and verify too) is among the settings it declares", () => {
  const stepsDir = join(import.meta.dirname, '..', 'steps')
  const files = readdirSync(stepsDir).filter((f) => /^\d\d-.+\.ts$/.test(f))
  assert.is(files.length, STEPS.length)
  for (const step of STEPS) {
    const source = readFileSync(join(stepsDir, files.find((f) => f.slice(3) === `${step.id}.ts`)!), 'utf8')
    const read = new Set([...source.matchAll(/\bconfig\??\.(\w+)/g)].map((m) => m[1] as keyof Config))
    const undeclared = [...read].filter(
      (key) => OUTCOME_KEYS.includes(key) && key !== 'context' && !step.settings.includes(key),
    )
    assert.equal(undeclared, [], `${step.id} reads ${undeclared.join(', ')} without declaring it`)
  }
})

test('a record hands on the settings not given again, but never the context it was found in', () => {
  const recorded = { ...loadConfig(['--context', 'laptop-name', '--gateway-name', 'edge'], {}) }
  const config = loadConfig(['--waypoint-name', 'wp'], {})
  config.context = 'ci-name' // picked at the prompt, as another machine names the same cluster
  const taken = applyRecordedSettings(config, recorded)
  assert.equal(taken, ['gatewayName=edge'])
  assert.is(config.gatewayName, 'edge')
  assert.is(config.context, 'ci-name')
  assert.is(config.waypointName, 'wp', 'a setting given now wins')
})

test('only a change to a setting a done step declares warns about it', () => {
  const store = new StateStore(join(tempDir('settings-'), 'state.json'), 'ctx')
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
