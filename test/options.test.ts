import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { UsageError } from '../lib/errors.ts'
import { GUIDE_USER_AGENT, loadConfig, parseFlags } from '../lib/options.ts'

const dir = mkdtempSync(join(tmpdir(), 'runbook-options-'))
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
  const config = loadConfig(['--namespace=gthulhu-system', '--release', 'prod', '--no-allow-kubelet-probes', '--only', 'preflight,istioctl', '--yes'], {})
  assert.is(config.namespace, 'gthulhu-system')
  assert.is(config.release, 'prod')
  assert.is(config.allowKubeletProbes, false)
  assert.equal(config.only, ['preflight', 'istioctl'])
  assert.is(config.yes, true)
})

test('repeated list flags add up; user agents split on "|" because they contain commas', () => {
  const config = loadConfig(['--skip', 'restart', '--skip', 'waypoint', '--allowed-user-agents', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit*|*Firefox/128.0'], {})
  assert.equal(config.skip, ['restart', 'waypoint'])
  assert.equal(config.allowedUserAgents, ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit*', '*Firefox/128.0'])
})

test('unknown flags are named, with the closest valid one', () => {
  usageError(() => parseFlags(['--namespcae', 'x']), /unknown flag --namespcae; did you mean --namespace\?/)
  usageError(() => parseFlags(['preflight']), /unexpected argument "preflight"/)
})

test('unknown step ids list the valid ones', () => {
  usageError(() => loadConfig(['--from', 'gateway-crds'], {}), /--from: unknown value "gateway-crds"; valid: preflight, istioctl, gateway-api-crds/)
  usageError(() => loadConfig(['--only', 'preflight,bogus'], {}), /--only: unknown value "bogus"/)
})

test('invalid values are rejected with what would be valid', () => {
  usageError(() => loadConfig(['--namespace', 'Bad_NS'], {}), /--namespace: "Bad_NS" is not a valid Kubernetes name/)
  usageError(() => loadConfig(['--istio-version', '1.29'], {}), /--istio-version: "1.29" is not a release version/)
  usageError(() => loadConfig(['--gateway-api-channel', 'beta'], {}), /valid: experimental, standard/)
  usageError(() => loadConfig(['--istio-mirror', 'ftp://x'], {}), /not an http\(s\) URL/)
  usageError(() => loadConfig(['--timeout', 'soon'], {}), /--timeout: expects a number, got "soon"/)
  usageError(() => loadConfig(['--manager-principals', 'gthulhu'], {}), /not an Istio principal/)
  usageError(() => loadConfig(['--namespace'], {}), /--namespace needs a value/)
  usageError(() => loadConfig(['--from', 'ambient', '--only', 'gateway'], {}), /cannot be combined/)
})

test('a config file sets values; flags win over it; environment supplies the mirrors', () => {
  const path = configFile('namespace: gthulhu-system\nistio-version: 1.28.3\nskip: [restart]\nyes: true\n')
  const config = loadConfig(['--config', path, '--istio-version', '1.29.1'], { GTHULHU_RUNBOOK_ISTIO_MIRROR: 'http://127.0.0.1:9/istio' })
  assert.is(config.namespace, 'gthulhu-system')
  assert.is(config.istioVersion, '1.29.1')
  assert.equal(config.skip, ['restart'])
  assert.is(config.yes, true)
  assert.is(config.istioMirror, 'http://127.0.0.1:9/istio')
})

test('malformed config files are clear errors naming the file', () => {
  usageError(() => loadConfig(['--config', configFile('namespace: [unclosed\n')], {}), /is not valid YAML/)
  usageError(() => loadConfig(['--config', configFile('- a\n- b\n')], {}), /must be a YAML map/)
  usageError(() => loadConfig(['--config', configFile('namespase: x\n')], {}), /unknown key "namespase"; did you mean "namespace"\?/)
  usageError(() => loadConfig(['--config', configFile('yes: maybe\n')], {}), /yes: expects true or false, got "maybe"/)
  usageError(() => loadConfig(['--config', configFile('namespace: Bad_NS\n')], {}), /--config .*: namespace: "Bad_NS"/)
  usageError(() => loadConfig(['--config', join(dir, 'missing.yaml')], {}), /cannot read --config .*missing.yaml: ENOENT/)
})

test.run()
