import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { UsageError } from '../lib/config/errors.ts'
import { GUIDE_USER_AGENT, loadConfig, parseFlags } from '../lib/config/options.ts'
import { validatePrincipalList } from '../lib/run/questions.ts'
import { tempDir } from './temp-dir.ts'

const dir = tempDir('runbook-options-')
const configFile = (text: string) => {
  const path = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(path, text)
  return path
}
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

test('defaults follow the guide', () => {
  const config = loadConfig([], {})
  assert.is(config.namespace, 'default')
  assert.is(config.release, 'gthulhu')
  assert.is(config.istioVersion, '1.29.1')
  assert.is(config.gatewayApiVersion, 'v1.4.0')
  assert.is(config.gatewayApiChannel, 'experimental')
  assert.is(config.istioMirror, 'https://github.com/istio/istio/releases/download')
  assert.equal(config.allowedUserAgents, [GUIDE_USER_AGENT])
  assert.is(config.allowKubeletProbes, true)
  assert.is(config.yes, false)
})

test('flags take values inline or as the next argument; booleans negate with --no-', () => {
  const config = loadConfig(
    [
      '--namespace=gthulhu-system',
      '--release',
      'prod',
      '--no-allow-kubelet-probes',
      '--only',
      'preflight,istioctl',
      '--yes',
    ],
    {},
  )
  assert.is(config.namespace, 'gthulhu-system')
  assert.is(config.release, 'prod')
  assert.is(config.allowKubeletProbes, false)
  assert.equal(config.only, ['preflight', 'istioctl'])
  assert.is(config.yes, true)
})

test('repeated list flags add up; user agents split on "|" because they contain commas', () => {
  const config = loadConfig(
    [
      '--skip',
      'restart',
      '--skip',
      'waypoint',
      '--allowed-user-agents',
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit*|*Firefox/128.0',
    ],
    {},
  )
  assert.equal(config.skip, ['restart', 'waypoint'])
  assert.equal(config.allowedUserAgents, ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit*', '*Firefox/128.0'])
})

test('unknown flags are named, with the closest valid one', () => {
  usageError(() => parseFlags(['--namespcae', 'x']), /unknown flag --namespcae; did you mean --namespace\?/)
  usageError(() => parseFlags(['preflight']), /unexpected argument "preflight"/)
})

test('unknown step ids list the valid ones', () => {
  usageError(
    () => loadConfig(['--from', 'gateway-crds'], {}),
    /--from: unknown value "gateway-crds"; valid: preflight, istioctl, gateway-api-crds/,
  )
  usageError(() => loadConfig(['--only', 'preflight,bogus'], {}), /--only: unknown value "bogus"/)
})

test('invalid values are rejected with what would be valid', () => {
  usageError(() => loadConfig(['--namespace', 'Bad_NS'], {}), /--namespace: "Bad_NS" is not a valid Kubernetes name/)
  usageError(() => loadConfig(['--istio-version', '1.29'], {}), /--istio-version: "1.29" is not a release version/)
  usageError(() => loadConfig(['--gateway-api-channel', 'beta'], {}), /valid: experimental, standard/)
  usageError(() => loadConfig(['--istio-mirror', 'ftp://x'], {}), /not an http\(s\) URL/)
  usageError(() => loadConfig(['--timeout', 'soon'], {}), /--timeout: "soon" is not a duration; use e\.g\. 90s, 5m, 1h/)
  usageError(() => loadConfig(['--timeout', '2h'], {}), /--timeout: 7200s is outside 5s\.\.1h/)
  usageError(() => loadConfig(['--manager-principals', 'gthulhu'], {}), /not an Istio principal/)
  usageError(() => loadConfig(['--namespace'], {}), /--namespace needs a value/)
  usageError(() => loadConfig(['--from', 'ambient', '--only', 'gateway'], {}), /cannot be combined/)
})

test('one-letter flags work as in kubectl: -n x, -nx, -n=x, and booleans run together', () => {
  assert.is(loadConfig(['-n', 'gthulhu'], {}).namespace, 'gthulhu')
  assert.is(loadConfig(['-ngthulhu'], {}).namespace, 'gthulhu')
  assert.is(loadConfig(['-n=gthulhu'], {}).namespace, 'gthulhu')
  const combined = loadConfig(['-yvn', 'gthulhu', '-ojson'], {})
  assert.equal([combined.yes, combined.verbose, combined.namespace, combined.output], [true, true, 'gthulhu', 'json'])
  assert.is(loadConfig(['-o', 'json'], {}).output, 'json')
  assert.is(loadConfig(['-h'], {}).help, true)
  assert.is(loadConfig(['-y=false'], {}).yes, false)
  assert.is(loadConfig(['-v=6'], {}).verbose, true, 'a kubectl log level turns verbose on')
  assert.is(loadConfig(['-v6'], {}).verbose, true)
  assert.is(loadConfig(['-v=0'], {}).verbose, false)
  assert.equal(loadConfig(['--namespace=a', '-n', 'b'], {}).namespace, 'b', 'the last one wins, as in kubectl')
  usageError(() => parseFlags(['-q']), /unknown flag -q; one-letter flags: -h, -y, -n, -o, -v/)
  usageError(() => parseFlags(['-yq']), /unknown flag -q \(in -yq\)/)
  usageError(() => parseFlags(['-n']), /-n\/--namespace needs a value \(ns\)/)
  usageError(() => parseFlags(['-n', '-y']), /-n\/--namespace needs a value/)
  usageError(() => loadConfig(['-o', 'yaml'], {}), /--output: unknown value "yaml"; valid: text, json/)
})

test('--timeout takes durations (90s, 5m, 1h, 1m30s) and plain seconds, on the command line and in a config file', () => {
  const seconds = (value: string) => loadConfig(['--timeout', value], {}).timeout
  assert.equal(['90s', '5m', '1h', '1m30s', '120', '2.5m'].map(seconds), [90, 300, 3600, 90, 120, 150])
  assert.is(loadConfig(['--timeout=45s'], {}).timeout, 45)
  assert.is(loadConfig([], {}).timeout, 300)
  assert.is(loadConfig(['--config', configFile('timeout: 10m\n')], {}).timeout, 600)
  assert.is(loadConfig(['--config', configFile('timeout: 75\n')], {}).timeout, 75)
  usageError(() => loadConfig(['--timeout', '5 minutes'], {}), /not a duration/)
  usageError(() => loadConfig(['--timeout', '1d'], {}), /"1d" is not a duration/)
})

test('--dry-run alone is a client dry run; =server asks the API server; other values are refused', () => {
  assert.is(loadConfig([], {}).dryRun, false)
  assert.is(loadConfig(['--dry-run'], {}).dryRun, 'client')
  assert.is(loadConfig(['--dry-run=client'], {}).dryRun, 'client')
  assert.is(loadConfig(['--dry-run=server'], {}).dryRun, 'server')
  assert.is(loadConfig(['--config', configFile('dry-run: true\n')], {}).dryRun, 'client')
  assert.is(loadConfig(['--config', configFile('dry-run: server\n')], {}).dryRun, 'server')
  usageError(() => loadConfig(['--dry-run=all'], {}), /--dry-run: unknown value "all"; valid: client, server/)
  // As in kubectl, the value must be attached with "=": a separate word is not taken as the value.
  usageError(() => parseFlags(['--dry-run', 'server']), /unexpected argument "server"/)
})

test('a config file sets values; flags win over it; environment supplies the mirrors', () => {
  const path = configFile('namespace: gthulhu-system\nistio-version: 1.28.3\nskip: [restart]\nyes: true\n')
  const config = loadConfig(['--config', path, '--istio-version', '1.29.1'], {
    GTHULHU_RUNBOOK_ISTIO_MIRROR: 'http://127.0.0.1:9/istio',
  })
  assert.is(config.namespace, 'gthulhu-system')
  assert.is(config.istioVersion, '1.29.1')
  assert.equal(config.skip, ['restart'])
  assert.is(config.yes, true)
  assert.is(config.istioMirror, 'http://127.0.0.1:9/istio')
})

test('malformed config files are clear errors naming the file', () => {
  usageError(() => loadConfig(['--config', configFile('namespace: [unclosed\n')], {}), /is not valid YAML/)
  usageError(() => loadConfig(['--config', configFile('- a\n- b\n')], {}), /must be a YAML map/)
  usageError(
    () => loadConfig(['--config', configFile('namespase: x\n')], {}),
    /unknown key "namespase"; did you mean "namespace"\?/,
  )
  usageError(() => loadConfig(['--config', configFile('yes: maybe\n')], {}), /yes: expects true or false, got "maybe"/)
  usageError(() => loadConfig(['--config', configFile('namespace: Bad_NS\n')], {}), /--config .*: namespace: "Bad_NS"/)
  usageError(
    () => loadConfig(['--config', join(dir, 'missing.yaml')], {}),
    /cannot read --config .*missing.yaml: ENOENT/,
  )
})

test('principals follow Istio\'s matcher: one leading or trailing "*" at most, never "*" alone', () => {
  usageError(
    () => loadConfig(['--manager-principals', 'cluster.local/ns/*/sa/gthulhu'], {}),
    /--manager-principals: "cluster\.local\/ns\/\*\/sa\/gthulhu": Istio treats a "\*" that is not the first or last character as a literal, so it would match no identity/,
  )
  usageError(
    () => loadConfig(['--manager-principals', '*'], {}),
    /--manager-principals: "\*" admits every identity in the mesh, which is no restriction at all/,
  )
  usageError(
    () => loadConfig(['--manager-principals', '*/sa/*'], {}),
    /Istio treats a "\*" that is not the first or last/,
  )
  for (const ok of ['cluster.local/ns/gthulhu/sa/gthulhu', 'cluster.local/ns/gthulhu/sa/*', '*/sa/gthulhu'])
    assert.equal(loadConfig(['--manager-principals', ok], {}).managerPrincipals, [ok])
  // The guided prompt refuses what the flag refuses, with the same words.
  assert.match(String(validatePrincipalList('cluster.local/ns/*/sa/gthulhu')), /literal/)
  assert.match(String(validatePrincipalList('*')), /admits every identity/)
})

test('probe images are image references, checked before anything is applied', () => {
  usageError(
    () => loadConfig(['--probe-image', 'curl image'], {}),
    /--probe-image: "curl image" is not a container image reference like registry\.example\.com\/team\/curl:8\.11\.1/,
  )
  usageError(
    () => loadConfig(['--http-probe-image', 'Curl:latest'], {}),
    /--http-probe-image: "Curl:latest" is not a container image/,
  )
  for (const ok of [
    'mongo:8.0',
    'docker.io/library/mongo:8.0',
    'registry.example.com:5000/team/curl:8.11.1',
    `curlimages/curl@sha256:${'a'.repeat(64)}`,
  ])
    assert.is(loadConfig(['--probe-image', ok], {}).probeImage, ok)
})

test("the environment may name the install dir (the simulator's env file does); a flag wins", () => {
  assert.is(loadConfig([], { GTHULHU_RUNBOOK_INSTALL_DIR: '/sim/bin' }).installDir, '/sim/bin')
  assert.is(loadConfig(['--install-dir', '/mine'], { GTHULHU_RUNBOOK_INSTALL_DIR: '/sim/bin' }).installDir, '/mine')
})

test('several --context flags (or --all-contexts) make a fleet audit, and go with --verify only', () => {
  const fleet = loadConfig(['--verify', '--context', 'a', '--context=b', '--context', 'a'], {})
  assert.equal([fleet.context, fleet.contexts], ['a', ['a', 'b']])
  assert.not.ok(fleet.explicit.includes('contexts' as never))
  assert.equal(loadConfig(['--context', 'a'], {}).contexts, ['a'])
  assert.is(loadConfig(['--verify', '--all-contexts'], {}).allContexts, true)
  usageError(
    () => loadConfig(['--yes', '--context', 'a', '--context', 'b'], {}),
    /--context given 2 times \(a, b\) goes with --verify only/,
  )
  usageError(() => loadConfig(['--all-contexts'], {}), /--all-contexts goes with --verify only/)
  usageError(() => loadConfig(['--verify', '--all-contexts', '--context', 'a'], {}), /cannot be combined/)
  usageError(
    () => loadConfig(['--verify', '--context', 'a', '--context', 'b', '--state-file', 's.json'], {}),
    /--state-file holds one context/,
  )
})

// Edge cases that once slipped through: empty lists, install dirs that cannot be one, --list with an action,
// values on negated flags, empty environment variables and YAML that reads names as numbers.
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

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

test('a list whose empty value would mean something else is refused empty; skip and probe users may be empty', () => {
  usageError(() => loadConfig(['--manager-principals='], {}), /^--manager-principals: names nothing; give at least one/)
  usageError(() => loadConfig(['--allowed-user-agents', '|'], {}), /^--allowed-user-agents: names nothing.*"\|"/)
  // Empty is their default: nothing skipped, no other probe user.
  const none = loadConfig(['--config', configFile('skip: []\nprobe-users: []\n')], {})
  assert.equal([none.skip, none.probeUsers], [[], []])
  assert.equal(loadConfig(['--skip='], {}).skip, [])
})

test('--install-dir must be a directory, or a path mkdir -p can create; empty is refused', () => {
  const file = join(dir, 'a-file')
  writeFileSync(file, '')
  usageError(
    () => loadConfig(['--install-dir', file], {}),
    new RegExp(`^--install-dir: "${literal(file)}" exists and is not a directory; name a directory`),
  )
  // What installs nothing does not care.
  for (const other of [['--version'], ['--list'], ['--print-rbac', 'user:a']])
    assert.is(loadConfig([...other, '--install-dir', file], {}).installDir, file)
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
