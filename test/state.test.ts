import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { UsageError } from '../lib/config/errors.ts'
import { loadConfig } from '../lib/config/options.ts'
import {
  applyRecordedSettings,
  configDrift,
  defaultStatePath,
  outcomeConfig,
  STATE_FORMAT,
  StateStore,
} from '../lib/run/state.ts'
import { tempDir } from './temp-dir.ts'

const dir = () => tempDir('runbook-state-')

test('the default path is per context, under .gthulhu-runbook in the working directory', () => {
  assert.is(defaultStatePath('kind-prod/eu', '/work'), '/work/.gthulhu-runbook/kind-prod_eu.json')
})

test('updates are written atomically and read back', async () => {
  const path = join(dir(), 'nested', 'state.json')
  const store = new StateStore(path, 'ctx')
  await store.update('preflight', { status: 'done', checks: [{ name: 'x', expected: 'a', observed: 'a', ok: true }] })
  store.state.facts.serverVersion = 'v1.33.1'
  await store.save()
  const again = new StateStore(path, 'ctx')
  assert.is(again.state.format, STATE_FORMAT)
  assert.is(again.step('preflight').status, 'done')
  assert.is(again.state.facts.serverVersion, 'v1.33.1')
  assert.not.ok(
    readdirSync(join(path, '..')).some((f) => f.endsWith('.tmp')),
    'no temp file is left behind',
  )
})

test('a corrupt state file is reported with its path and left untouched', () => {
  const path = join(dir(), 'state.json')
  writeFileSync(path, '{"format": "gthulhu-runbook/state/v1", "steps": {')
  assert.throws(
    () => new StateStore(path, 'ctx'),
    (e: Error) => e instanceof UsageError && e.message.includes(path) && /not valid JSON/.test(e.message),
  )
  assert.is(readFileSync(path, 'utf8'), '{"format": "gthulhu-runbook/state/v1", "steps": {')
})

test("a foreign file, or another context's state, is refused and left untouched", async () => {
  const path = join(dir(), 'state.json')
  writeFileSync(path, JSON.stringify({ hello: 'world' }))
  assert.throws(
    () => new StateStore(path, 'ctx'),
    (e: Error) => /was not written by this runbook/.test(e.message),
  )
  const other = new StateStore(join(dir(), 'other.json'), 'ctx-a')
  await other.save()
  assert.throws(
    () => new StateStore(other.path, 'ctx-b'),
    (e: Error) => /belongs to kube context "ctx-a", not "ctx-b"/.test(e.message),
  )
  assert.equal(JSON.parse(readFileSync(path, 'utf8')), { hello: 'world' })
})

test('config drift names the settings that changed since a step ran', () => {
  const before = outcomeConfig(loadConfig(['--namespace', 'a'], {}))
  const now = loadConfig(['--namespace', 'b', '--output', 'json'], {})
  assert.equal(configDrift(before, now), ['namespace: "a" → "b"'])
  assert.equal(configDrift(before, loadConfig(['--namespace', 'a', '--dry-run'], {})), [])
})

test('a resume, audit or undo takes the recorded settings not given this time; flags and the environment win', () => {
  const recorded = outcomeConfig(
    loadConfig(
      ['--gateway-name', 'edge', '--namespace', 'apps', '--install-dir', '/opt/bin', '--no-identity-policies'],
      {},
    ),
  )
  const config = loadConfig(['--identity-policies'], { GTHULHU_RUNBOOK_INSTALL_DIR: '/sim/bin' })
  const taken = applyRecordedSettings(config, recorded)
  assert.is(config.gatewayName, 'edge')
  assert.is(config.identityPolicies, true, 'a flag given now wins')
  assert.is(config.installDir, '/sim/bin', 'the environment given now wins')
  assert.is(config.namespace, 'default', 'the namespace found the record and stays')
  assert.equal(taken, ['gatewayName=edge'])
})

test.run()
