// Edge cases of option parsing that once slipped through: empty lists, install dirs that cannot be one, --list
// with an action, values on negated flags, empty environment variables and YAML that reads names as numbers.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { UsageError } from '../lib/config/errors.ts'
import { loadConfig, parseFlags } from '../lib/config/options.ts'
import { tempDir } from './temp-dir.ts'

const dir = tempDir('runbook-options-edge-')
const configFile = (text: string) => {
  const path = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(path, text)
  return path
}
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const usageError = (fn: () => unknown, pattern: RegExp) => {
  try {
    fn()
  } catch (error) {
    assert.instance(error, UsageError)
    assert.match((error as Error).message, pattern)
    return
  }
  assert.unreachable(`expected a UsageError matching ${pattern}`)
}

test('an empty --only names no step and is refused, on the command line and in a config file', () => {
  const noStep = /^--only: no step named; valid: preflight, istioctl, gateway-api-crds/
  usageError(() => loadConfig(['--dry-run', '--only='], {}), noStep)
  usageError(() => loadConfig(['--only', ','], {}), noStep)
  usageError(() => loadConfig(['--only', ' , '], {}), noStep)
  usageError(() => loadConfig(['--config', configFile('only: ""\n')], {}), /^--config .*: only: no step named; valid:/)
  usageError(() => loadConfig(['--config', configFile('only: []\n')], {}), /only: no step named/)
  // A stray comma next to a step is still fine.
  assert.equal(loadConfig(['--only', 'preflight,'], {}).only, ['preflight'])
})

test('every other list refuses an explicitly empty value the same way', () => {
  usageError(() => loadConfig(['--skip='], {}), /^--skip: no step named; valid: preflight/)
  usageError(() => loadConfig(['--config', configFile('skip: []\n')], {}), /skip: no step named/)
  usageError(() => loadConfig(['--manager-principals='], {}), /^--manager-principals: names nothing; give at least one/)
  usageError(() => loadConfig(['--probe-users', ','], {}), /^--probe-users: names nothing/)
  usageError(() => loadConfig(['--allowed-user-agents', '|'], {}), /^--allowed-user-agents: names nothing.*"\|"/)
})

test('--install-dir must be a directory, or a path mkdir -p can create; empty is refused', () => {
  const file = join(dir, 'a-file')
  writeFileSync(file, '')
  usageError(
    () => loadConfig(['--install-dir', file], {}),
    new RegExp(`^--install-dir: "${literal(file)}" exists and is not a directory; name a directory`),
  )
  usageError(
    () => loadConfig(['--install-dir', join(file, 'bin')], {}),
    new RegExp(
      `^--install-dir: "${literal(join(file, 'bin'))}" cannot be created: ${literal(file)} exists and is not a directory`,
    ),
  )
  usageError(
    () => loadConfig([], { GTHULHU_RUNBOOK_INSTALL_DIR: file }),
    /^GTHULHU_RUNBOOK_INSTALL_DIR: ".*a-file" exists and is not a directory/,
  )
  usageError(() => loadConfig(['--install-dir', ' '], {}), /^--install-dir: " " names no directory/)
  usageError(() => loadConfig(['--install-dir='], {}), /^--install-dir: expects a value/)
  const existing = join(dir, 'bin')
  mkdirSync(existing)
  assert.is(loadConfig(['--install-dir', existing], {}).installDir, existing)
  assert.is(
    loadConfig(['--install-dir', join(existing, 'new', 'deeper')], {}).installDir,
    join(existing, 'new', 'deeper'),
  )
})

test('an empty GTHULHU_RUNBOOK_INSTALL_DIR is unset: the default stands, not the working directory', () => {
  const config = loadConfig([], { GTHULHU_RUNBOOK_INSTALL_DIR: '' })
  assert.is(config.installDir, loadConfig([], {}).installDir)
  assert.is.not(config.installDir, process.cwd())
  assert.not.ok(config.explicit.includes('installDir'))
})

test('--list refuses the actions it would drop', () => {
  usageError(
    () => loadConfig(['--list', '--uninstall', '--context', 'x'], {}),
    /^--list cannot be combined with --uninstall/,
  )
  usageError(() => loadConfig(['--list', '--rollback', 'gateway'], {}), /^--list cannot be combined with --rollback/)
  usageError(() => loadConfig(['--list', '--render', dir], {}), /^--list cannot be combined with --render/)
  usageError(() => loadConfig(['--list', '--verify'], {}), /^--list cannot be combined with --verify/)
  usageError(() => loadConfig(['--list', '--dry-run'], {}), /^--list cannot be combined with --dry-run/)
  assert.is(loadConfig(['--list', '--context', 'x', '-o', 'json'], {}).list, true)
})

test('a negated flag takes no value', () => {
  usageError(() => parseFlags(['--no-probes=banana']), /^--no-probes takes no value; write --no-probes, or --probes=/)
  usageError(() => parseFlags(['--no-probes=false']), /^--no-probes takes no value/)
  usageError(() => parseFlags(['--no-probes=']), /^--no-probes takes no value/)
  assert.is(loadConfig(['--no-probes'], {}).probes, false)
  assert.is(loadConfig(['--probes=false'], {}).probes, false)
})

test('an empty environment variable counts as unset, and a bad one is named, not a flag', () => {
  assert.is(loadConfig([], { GTHULHU_RUNBOOK_LANG: '' }).lang, 'en')
  assert.is(
    loadConfig([], { GTHULHU_RUNBOOK_ISTIO_MIRROR: '' }).istioMirror,
    'https://github.com/istio/istio/releases/download',
  )
  assert.not.ok(loadConfig([], { GTHULHU_RUNBOOK_LANG: '' }).explicit.includes('lang'))
  usageError(() => loadConfig([], { GTHULHU_RUNBOOK_LANG: 'fr' }), /^GTHULHU_RUNBOOK_LANG: unknown value "fr"/)
  usageError(() => loadConfig([], { GTHULHU_RUNBOOK_ISTIO_MIRROR: 'ftp://x' }), /^GTHULHU_RUNBOOK_ISTIO_MIRROR: /)
})

test('a config value YAML reads as a number or boolean is refused for a text setting, with the quoted form', () => {
  const path = configFile('namespace: 007\n')
  usageError(
    () => loadConfig(['--config', path], {}),
    new RegExp(
      `^--config ${literal(path)}: namespace: YAML reads 007 as the number 7, not as text; quote it: namespace: "007"$`,
    ),
  )
  usageError(
    () => loadConfig(['--config', configFile('release: 1e3\n')], {}),
    /release: YAML reads 1e3 as the number 1000, .*quote it: release: "1e3"/,
  )
  usageError(
    () => loadConfig(['--config', configFile('gateway-name: true\n')], {}),
    /gateway-name: YAML reads true as the boolean true, .*quote it: gateway-name: "true"/,
  )
  usageError(
    () => loadConfig(['--config', configFile('probe-users: [alice, 0x10]\n')], {}),
    /probe-users: YAML reads 0x10 as the number 16, .*quote it: "0x10"/,
  )
  assert.is(loadConfig(['--config', configFile('namespace: "007"\n')], {}).namespace, '007')
  // Numbers and the bare form of --dry-run stay what they are.
  assert.is(loadConfig(['--config', configFile('timeout: 75\ndry-run: true\n')], {}).timeout, 75)
  assert.is(loadConfig(['--config', configFile('dry-run: true\n')], {}).dryRun, 'client')
})

test.run()
