import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { apiServerUnreachable } from '../lib/kube/unreachable.ts'
import { show, startWorld, type RunbookWorld } from './harness.ts'

let world: RunbookWorld
test.before(async () => {
  world = await startWorld()
})
test.after(async () => {
  await world?.stop()
})

test('a server dry run against an unreachable API server exits 1 with one line saying so', async () => {
  const flags = world.flagsWithKubeconfig(
    'unreachable.kubeconfig',
    (k) => (k.clusters[0].cluster.server = 'https://127.0.0.1:1'),
  )
  const r = await world.run([...flags, '--dry-run=server', '-o', 'json'])
  assert.is(r.code, 1, show(r))
  const events = r.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
  assert.equal(
    events.filter((e) => e.event === 'server-dry-run'),
    [],
    'no object is reported rejected',
  )
  assert.equal([events.at(-1).event, events.at(-1).status, events.at(-1).exitCode], ['run-end', 'failed', 1])
  assert.match(
    r.stderr,
    /^gthulhu-runbook: cannot run the server dry run: the API server is unreachable: .*(refused|connect)/m,
  )
  assert.not.match(r.stderr, /rejected|fix the settings/, show(r))
  assert.not.match(r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace')
})

test("kubectl's connection failures are unreachable; the API server's answers, even quoting one, are not", () => {
  for (const said of [
    'Unable to connect to the server: dial tcp 127.0.0.1:1: connect: connection refused',
    'The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?',
    'Unable to connect to the server: dial tcp: lookup api.example: no such host',
    'Unable to connect to the server: dial tcp 10.0.0.1:443: i/o timeout',
  ])
    assert.ok(apiServerUnreachable(said), said)
  for (const said of [
    'Error from server (InternalError): error when creating "STDIN": Internal error occurred: failed calling webhook "validation.istio.io": failed to call webhook: Post "https://istiod.istio-system.svc:443/validate": dial tcp 10.96.0.12:443: connect: connection refused',
    'Error from server (NotFound): error when creating "STDIN": namespaces "ns-missing" not found',
  ])
    assert.not.ok(apiServerUnreachable(said), said)
})

test.run()
