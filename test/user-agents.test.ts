import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { UsageError } from '../lib/config/errors.ts'
import { GUIDE_USER_AGENT, loadConfig } from '../lib/config/options.ts'
import { validateManifest } from '../lib/kube/schema.ts'
import {
  admitsUserAgent,
  assertValidUserAgents,
  classifyUserAgent,
  curlDefaultUserAgent,
  describeUserAgent,
  sampleUserAgent,
  userAgentMatches,
  userAgentProblem,
  userAgentProblems,
} from '../lib/config/user-agents.ts'
import { gatewayPrincipal } from '../lib/domain/istio.ts'
import { allowedPrincipals, desiredAuthorizationPolicies, l7PoliciesStep } from '../steps/11-l7-policies.ts'

const CHROME_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
const CHROME_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
const SAFARI_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15'

test('the four forms Istio supports are classified', () => {
  assert.equal(classifyUserAgent('*'), { kind: 'presence' })
  assert.equal(classifyUserAgent('curl/8.11.1'), { kind: 'exact', value: 'curl/8.11.1' })
  assert.equal(classifyUserAgent('Mozilla/5.0 (X11*'), { kind: 'prefix', value: 'Mozilla/5.0 (X11' })
  assert.equal(classifyUserAgent('*Firefox/128.0'), { kind: 'suffix', value: 'Firefox/128.0' })
})

test('a "*" anywhere but the first or last character is rejected, naming the value and the allowed forms', () => {
  for (const bad of ['Mozilla/5.0 * Chrome/*', 'Mozilla*Chrome', '*Chrome*', '**']) {
    const problem = userAgentProblem(bad)
    assert.ok(problem, `${bad} should be rejected`)
    assert.match(problem!, JSON.stringify(bad))
    assert.match(problem!, /literal character/)
    assert.match(problem!, /exact value, a prefix "abc\*", a suffix "\*abc", or "\*"/)
  }
  assert.is(userAgentProblem(GUIDE_USER_AGENT), undefined)
  assert.equal(userAgentProblems([]), ['no User-Agent value given: the gateway policy would admit nobody'])
  assert.match(userAgentProblem(' padded')!, /white space/)
  assert.match(userAgentProblem('a\nb')!, /control character/)
})

test('assertValidUserAgents throws a UsageError listing every bad value', () => {
  try {
    assertValidUserAgents(['ok/1.0', 'a*b', 'c*d*'])
    assert.unreachable('expected a UsageError')
  } catch (error) {
    assert.instance(error, UsageError)
    assert.match((error as Error).message, /^--allowed-user-agents: "a\*b": /)
    assert.match((error as Error).message, /"c\*d\*": /)
    assert.not.match((error as Error).message, /ok\/1\.0/)
  }
})

test("the guide's default admits Chrome on macOS only, not curl, Safari or Chrome on Windows", () => {
  assert.ok(userAgentMatches(GUIDE_USER_AGENT, CHROME_MAC))
  assert.not.ok(userAgentMatches(GUIDE_USER_AGENT, CHROME_WINDOWS))
  assert.not.ok(userAgentMatches(GUIDE_USER_AGENT, SAFARI_MAC))
  assert.not.ok(admitsUserAgent([GUIDE_USER_AGENT], 'curl/8.11.1'))
  assert.ok(admitsUserAgent([GUIDE_USER_AGENT, '*Safari/605.1.15'], SAFARI_MAC))
  assert.not.ok(userAgentMatches('a*b', 'a*b'), 'an unusable pattern matches nothing')
})

test('sample values match their own pattern, and curl default comes from the image tag', () => {
  for (const pattern of [GUIDE_USER_AGENT, '*', 'exact/1.0', '*Firefox/128.0', 'Mozilla/5.0 (X11*']) {
    assert.ok(userAgentMatches(pattern, sampleUserAgent(pattern)), pattern)
  }
  assert.match(sampleUserAgent(GUIDE_USER_AGENT), /Chrome\/131\.0\.0\.0 Safari\/537\.36$/)
  assert.is(curlDefaultUserAgent('curlimages/curl:8.11.1'), 'curl/8.11.1')
  assert.is(curlDefaultUserAgent('registry.local/tools/curl:8.4.0'), 'curl/8.4.0')
  assert.is(describeUserAgent('*Firefox/128.0'), 'User-Agents ending "Firefox/128.0"')
})

test('the gateway policy carries the configured values; an inner "*" fails the plan with a UsageError before anything is applied', () => {
  const config = loadConfig(['--allowed-user-agents', `${GUIDE_USER_AGENT}|*Firefox/128.0`], {})
  const [, gateway] = desiredAuthorizationPolicies(config, {})
  assert.equal(gateway.spec.rules[0].when, [
    { key: 'request.headers[User-Agent]', values: [GUIDE_USER_AGENT, '*Firefox/128.0'] },
  ])
  assert.equal(gateway.spec.selector, { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'gthulhu-gw' } })
  assert.equal(validateManifest(gateway), [])
  const innerStar = (e: Error) => e instanceof UsageError && /Mozilla\/5\.0 \* Chrome\/\*/.test(e.message)
  // Refused when the flag is parsed; the plan refuses it too when it arrives another way (a kept answer).
  assert.throws(() => loadConfig(['--allowed-user-agents', 'Mozilla/5.0 * Chrome/*'], {}), innerStar)
  const bad = { ...config, allowedUserAgents: ['Mozilla/5.0 * Chrome/*'] }
  assert.throws(() => l7PoliciesStep.plan({ config: bad, facts: {} }), innerStar)
})

test("the manager policy: the guide's principal by default, a configured list, and the gateway's identity with --ingress-via-waypoint", () => {
  const byDefault = loadConfig(['--namespace', 'gthulhu'], {})
  const [manager] = desiredAuthorizationPolicies(byDefault, {})
  assert.equal(manager.spec.targetRefs, [{ group: '', kind: 'Service', name: 'gthulhu-manager' }])
  assert.equal(manager.spec.rules[0].from, [{ source: { principals: ['cluster.local/ns/gthulhu/sa/gthulhu'] } }])
  assert.equal(manager.spec.rules[0].to, [{ operation: { ports: ['8080'] } }])
  assert.is(manager.spec.action, 'ALLOW')
  assert.equal(validateManifest(manager), [])
  const listed = loadConfig(
    ['--manager-principals', 'cluster.local/ns/a/sa/x,cluster.local/ns/b/sa/y', '--ingress-via-waypoint'],
    {},
  )
  assert.equal(allowedPrincipals(listed, {}), [
    'cluster.local/ns/a/sa/x',
    'cluster.local/ns/b/sa/y',
    'cluster.local/ns/default/sa/gthulhu-gw-istio',
  ])
  assert.is(gatewayPrincipal(listed, {}), 'cluster.local/ns/default/sa/gthulhu-gw-istio')
  const plan = l7PoliciesStep.plan({ config: listed, facts: {} })
  assert.ok(
    plan.some(
      (i) =>
        i.kind === 'command' &&
        i.argv.join(' ') ===
          'kubectl label service gthulhu-manager -n default istio.io/ingress-use-waypoint=true --overwrite',
    ),
  )
})

test.run()
