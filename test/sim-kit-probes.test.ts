// The simulated cluster's behaviours the e2e kit's tests rely on, through the real kubectl: a DNS that never
// answers (names time out, IP addresses do not need it), python's http.server as a listening pod that logs each
// caller, and pods whose readiness probes fail (Running, not Ready, out of their Service's endpoints).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { kubectl } from './kit.ts'
import { runProbe } from './sim-probes.ts'
import { startSimulator, type Simulator } from './sim/index.ts'
import { listOf } from './sim/cluster-view.ts'

let sim: Simulator

const podsOf = (component: string) =>
  listOf(sim.store, 'pod').filter((p) => p.metadata.labels?.['app.kubernetes.io/component'] === component)
const readyOf = (pod: any) => (pod.status?.conditions ?? []).find((c: any) => c.type === 'Ready')

async function waitFor<T>(what: string, check: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const value = check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

test.before(async () => {
  sim = await startSimulator()
})
test.after(async () => {
  await sim.stop()
})

test('a DNS that never answers: a name times out in each tool as its own limit ends the lookup; IP addresses need no DNS', async () => {
  const managerIp = podsOf('manager')[0].status.podIP
  sim.faults.dnsTimesOut = true
  try {
    const curl = await runProbe(sim.env, {
      image: 'curlimages/curl:8.11.1',
      script: `curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://gthulhu-manager.default.svc:8080/health; echo " exit=$?"; curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://${managerIp}:8080/health; echo " exit=$?"`,
    })
    assert.match(curl, /^000curl: \(28\) Resolving timed out after 5000 milliseconds\n exit=28\n200 exit=0\n$/)
    const mongo = await runProbe(sim.env, {
      image: 'mongo:8.2.2',
      script:
        "mongosh --quiet --norc --eval 'db.runCommand({hello:1}).ok' 'mongodb://gthulhu-mongodb-0.gthulhu-mongodb.default.svc:27017/?directConnection=true&serverSelectionTimeoutMS=5000'",
      expectPhase: 'Failed',
    })
    assert.is(mongo, 'MongoServerSelectionError: Server selection timed out after 5000 ms\n')
    const nc = await runProbe(sim.env, { script: 'nc -z -w 3 gthulhu-manager 8080; echo "exit=$?"' })
    assert.is(nc, "nc: bad address 'gthulhu-manager'\nexit=1\n")
  } finally {
    sim.faults.dnsTimesOut = false
  }
  // With DNS answering again, the same name resolves.
  const again = await runProbe(sim.env, {
    image: 'curlimages/curl:8.11.1',
    script: "curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://gthulhu-manager.default.svc:8080/health",
  })
  assert.is(again, '200')
})

test("python's http.server keeps running, answers 501 and 404, and logs each request with the caller's address", async () => {
  const created = await kubectl(sim.env, [
    ...['run', 'listener', '--restart=Never', '--image=python:3.13-alpine', '--port=8080'],
    ...['--command', '--', 'python3', '-u', '-m', 'http.server', '8080', '--bind', '0.0.0.0', '--directory', '/tmp'],
  ])
  assert.is(created.code, 0, created.stderr)
  const listener = await waitFor('the listener to run', () =>
    listOf(sim.store, 'pod').find((p) => p.metadata.name === 'listener' && p.status?.phase === 'Running'),
  )
  const ip = listener.status.podIP
  const caller = await runProbe(sim.env, {
    image: 'curlimages/curl:8.11.1',
    script: `curl -s -o /dev/null -w '%{http_code} ' -X POST http://${ip}:8080/api/v1/auth/token; curl -s -o /dev/null -w '%{http_code} ' http://${ip}:8080/api/v1/intents/merkle; curl -s -o /dev/null -w '%{http_code}' http://${ip}:8080/`,
    labels: { run: 'caller' },
  })
  assert.is(caller, '501 404 200')
  const callerIp = listOf(sim.store, 'pod').find((p) => p.metadata.labels?.run === 'caller')!.status.podIP
  const logs = await kubectl(sim.env, ['logs', 'listener'])
  const stamp = '\\[\\d{2}/[A-Z][a-z]{2}/\\d{4} \\d{2}:\\d{2}:\\d{2}\\]'
  const at = callerIp.replace(/\./g, '\\.')
  assert.match(
    logs.stdout,
    new RegExp(
      [
        '^Serving HTTP on 0\\.0\\.0\\.0 port 8080 \\(http://0\\.0\\.0\\.0:8080/\\) \\.\\.\\.',
        `${at} - - ${stamp} code 501, message Unsupported method \\('POST'\\)`,
        `${at} - - ${stamp} "POST /api/v1/auth/token HTTP/1\\.1" 501 -`,
        `${at} - - ${stamp} code 404, message File not found`,
        `${at} - - ${stamp} "GET /api/v1/intents/merkle HTTP/1\\.1" 404 -`,
        `${at} - - ${stamp} "GET / HTTP/1\\.1" 200 -\\n$`,
      ].join('\\n'),
    ),
    logs.stdout,
  )
  const still = listOf(sim.store, 'pod').find((p) => p.metadata.name === 'listener')
  assert.is(still?.status?.phase, 'Running', 'a server never ends by itself')
  await kubectl(sim.env, ['delete', 'pod', 'listener', '--wait=false'])
})

test('pods whose readiness probes fail are Running and not Ready, and leave their Service until they pass again', async () => {
  const [manager] = podsOf('manager')
  const endpoints = () =>
    listOf(sim.store, 'endpoints').find((e) => e.metadata.name === 'gthulhu-manager')?.subsets?.[0]?.addresses ?? []
  assert.is(endpoints().length, 1)
  // The simulated kubelet looks at readiness again on its next pass (a real one probes every periodSeconds): a
  // harmless annotation gives it one.
  const nudge = async (value: string) => {
    const r = await kubectl(sim.env, ['annotate', 'pod', manager.metadata.name!, `test/nudge=${value}`, '--overwrite'])
    assert.is(r.code, 0, r.stderr)
  }
  sim.faults.readinessFails = [manager.metadata.name!]
  await nudge('1')
  try {
    await waitFor('the manager to turn NotReady', () => {
      const pod = podsOf('manager')[0]
      return pod.status?.phase === 'Running' && readyOf(pod)?.status === 'False' && endpoints().length === 0
    })
    assert.is(readyOf(podsOf('manager')[0]).reason, 'ContainersNotReady')
  } finally {
    sim.faults.readinessFails = []
  }
  await nudge('2')
  await waitFor(
    'the manager to be Ready again',
    () => readyOf(podsOf('manager')[0])?.status === 'True' && endpoints().length === 1,
  )
})

test.run()
