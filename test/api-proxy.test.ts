// The commands the runbook sends through its kubectl proxy answer exactly as kubectl itself answers them: the same
// stdout (parsed), the same exit code, the same error words the runbook's callers read (NotFound, Conflict,
// Forbidden, an unknown resource type). Each command runs both ways against the simulated cluster, through the real
// kubectl binary (as a process, and as `kubectl proxy`). Also: the proxy's socket is private, the proxy dies with
// the process that started it, and a proxy that cannot start leaves every command to kubectl.
import { spawn } from 'node:child_process'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Cluster, toYamlStream, type CommandOptions, type CommandResult, type CommandRun } from '../lib/kube/cluster.ts'
import type { KubeObject } from '../lib/kube/object.ts'
import { startSimulator, type Simulator } from './sim/index.ts'
import { tempDir } from './temp-dir.ts'

let sim: Simulator
let direct: Cluster
let proxied: Cluster
const ran: CommandRun[] = []
test.before(async () => {
  sim = await startSimulator({})
  const connection = { kubeconfig: sim.kubeconfig, context: sim.context, timeoutMs: 120_000 }
  direct = new Cluster(connection)
  proxied = new Cluster({ ...connection, apiProxy: true, onCommand: (r) => ran.push(r) })
})
test.after(async () => {
  proxied?.close()
  await sim?.stop()
})

const parsed = (stdout: string) => (stdout.trim() ? JSON.parse(stdout) : '')

/** Runs `args` as kubectl and through the proxy; both answers, the proxied one checked to have gone through it. */
async function bothWays(args: string[], given?: string | CommandOptions): Promise<[CommandResult, CommandResult]> {
  const options = typeof given === 'string' ? { input: given } : given
  const before = ran.length
  const answers = await Promise.all([direct, proxied].map((c) => c.exec(c.kubectlArgv(args), options)))
  const mine = ran.slice(before).filter((r) => !r.serving)
  assert.ok(
    mine.length === 1 && mine[0].via === 'kubectl proxy',
    `${args.join(' ')} went through the proxy: ${JSON.stringify(mine)}`,
  )
  return answers as [CommandResult, CommandResult]
}

async function sameAnswer(args: string[], options: CommandOptions & { json?: boolean } = {}) {
  const [kubectl, proxy] = await bothWays(args, options)
  const what = `${args.join(' ')}\nkubectl: ${kubectl.exitCode} ${kubectl.stdout} ${kubectl.stderr}\nproxy: ${proxy.exitCode} ${proxy.stdout} ${proxy.stderr}`
  assert.is(proxy.exitCode, kubectl.exitCode, what)
  if (options.json === false) assert.is(proxy.stdout.trim(), kubectl.stdout.trim(), what)
  else assert.equal(parsed(proxy.stdout), parsed(kubectl.stdout), what)
  assert.is(proxy.stderr.trim(), kubectl.stderr.trim(), what)
}

const namespace = () => ['-n', 'default']

test('reads: one object, several, lists of several kinds, selected, missing, and of a kind the server lacks', async () => {
  await sameAnswer(['get', 'deployment', 'gthulhu-manager', ...namespace(), '-o', 'json'])
  const started = ran.filter((r) => r.serving)
  assert.is(started.length, 1, 'one proxy, reported once as serving')
  assert.match(started[0].argv.join(' '), / proxy --unix-socket=\S+\/api\.sock$/)
  await sameAnswer(['get', 'deployment/gthulhu-manager', ...namespace(), '-o', 'json'])
  await sameAnswer(['get', 'deployment/gthulhu-manager', 'service/gthulhu-manager', ...namespace(), '-o', 'json'])
  await sameAnswer(['get', 'services,deployments,daemonsets', ...namespace(), '-o', 'json'])
  await sameAnswer(['get', 'pods', ...namespace(), '-l', 'app.kubernetes.io/component=manager', '-o', 'json'])
  await sameAnswer(['get', 'namespaces', '-o', 'json'])
  await sameAnswer(['get', 'pods', '--all-namespaces', '-o', 'json'])
  await sameAnswer(['get', 'secret', 'no-such-secret', ...namespace(), '-o', 'json', '--ignore-not-found'])
  await sameAnswer([
    'get',
    'secret/no-such',
    'deployment/gthulhu-manager',
    ...namespace(),
    '-o',
    'json',
    '--ignore-not-found',
  ])
  // kubectl's NotFound line is what the record and undo read.
  await sameAnswer(['get', 'secret', 'no-such-secret', ...namespace(), '-o', 'json'])
  // Before the Gateway API's CRDs: kubectl and the proxy both say the server lacks the type (undo.ts reads this).
  const [kubectl, proxy] = await bothWays(['get', 'gateways.gateway.networking.k8s.io', ...namespace(), '-o', 'json'])
  assert.is(proxy.exitCode, kubectl.exitCode)
  for (const r of [kubectl, proxy]) assert.match(r.stderr, /doesn't have a resource type "gateways/)
})

const configMap = (name: string, data: Record<string, string> = { a: 'b' }): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data,
})

test('writes: create and replace answer -o json and -o name alike, and refuse with the same words', async () => {
  const created = await proxied.kubectl(['create', '-f', '-', '-o', 'json'], {
    input: JSON.stringify(configMap('proxy-written')),
  })
  const object = JSON.parse(created.stdout)
  assert.is(object.metadata.name, 'proxy-written')
  assert.is(ran.at(-1)?.via, 'kubectl proxy')
  // AlreadyExists and a stale write's Conflict: the words the record and the lease recognise.
  await sameAnswer(['create', '-f', '-', '-o', 'name'], {
    input: JSON.stringify(configMap('proxy-written')),
    json: false,
  })
  const stale = { ...object, metadata: { ...object.metadata, resourceVersion: '1' }, data: { a: 'c' } }
  await sameAnswer(['replace', '-f', '-', '-o', 'name'], { input: JSON.stringify(stale), json: false })
  const [kubectl, proxy] = await bothWays(['replace', '-f', '-', '-o', 'name'], JSON.stringify(stale))
  for (const r of [kubectl, proxy]) assert.match(r.stderr, /\(Conflict\)/)
  // A current one is replaced, and says so by name as kubectl does.
  const current = JSON.parse(
    (await direct.kubectl(['get', 'configmap', 'proxy-written', ...namespace(), '-o', 'json'])).stdout,
  )
  const replaced = await proxied.kubectl(['replace', '-f', '-', '-o', 'name'], {
    input: JSON.stringify({ ...current, data: { a: 'replaced' } }),
  })
  assert.is(replaced.stdout.trim(), 'configmap/proxy-written')
  const read = await direct.kubectl(['get', 'configmap', 'proxy-written', ...namespace(), '-o', 'json'])
  assert.equal(JSON.parse(read.stdout).data, { a: 'replaced' })
})

test('server-side apply: the dry run answers the merged objects as kubectl does; a real apply stores them', async () => {
  const objects = [configMap('proxy-applied-1'), configMap('proxy-applied-2')]
  const flags = ['apply', '--server-side', '--field-manager=gthulhu-runbook', '--force-conflicts']
  const dry = await bothWays([flags[0], '--dry-run=server', '-o', 'json', ...flags.slice(1), '-f', '-'], { objects })
  const names = (r: CommandResult) => JSON.parse(r.stdout).items.map((o: KubeObject) => `${o.kind}/${o.metadata.name}`)
  assert.equal(names(dry[1]), names(dry[0]))
  assert.equal(names(dry[1]), ['ConfigMap/proxy-applied-1', 'ConfigMap/proxy-applied-2'])
  assert.is(
    (await direct.exec(direct.kubectlArgv(['get', 'configmap', 'proxy-applied-1', ...namespace()]))).exitCode,
    1,
    'a dry run stores nothing',
  )
  await proxied.kubectl([...flags, '-f', '-'], { objects })
  const stored = await direct.kubectl(['get', 'configmap', 'proxy-applied-2', ...namespace(), '-o', 'json'])
  assert.equal(JSON.parse(stored.stdout).data, { a: 'b' })
  // A kind the server does not serve: kubectl's own words, which the server dry run reads as "unchecked".
  const gateway = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'g', namespace: 'default' },
    spec: { gatewayClassName: 'istio', listeners: [] },
  }
  const unknown = await proxied.exec(proxied.kubectlArgv([...flags, '-f', '-']), { input: JSON.stringify(gateway) })
  assert.is(unknown.exitCode, 1)
  assert.match(unknown.stderr, /no matches for kind "Gateway" in version "gateway.networking.k8s.io\/v1"/)
})

test("impersonated server dry runs: admitted by name, refused with RBAC's words, as kubectl --as does", async () => {
  const flags = [
    'create',
    '--dry-run=server',
    '-o',
    'name',
    '--as=nobody',
    '--as-group=system:authenticated',
    '-f',
    '-',
  ]
  await sameAnswer(flags, { objects: [configMap('as-nobody')], json: false })
  const admin = ['create', '--dry-run=server', '-o', 'name', '-f', '-']
  await sameAnswer(admin, { objects: [configMap('dry-1'), configMap('dry-2')], json: false })
  // YAML text (the Gateway API bundle) stays with kubectl, which reads it as YAML 1.1.
  const before = ran.length
  await proxied.exec(proxied.kubectlArgv(admin), { input: toYamlStream([configMap('dry-3')]) })
  assert.equal(
    ran.slice(before).map((r) => r.via),
    [undefined],
  )
})

test('probe clean-up and logs: delete by selector without waiting, and prefixed logs of every selected pod', async () => {
  const labelled = (name: string) => ({
    ...configMap(name),
    metadata: { ...configMap(name).metadata, labels: { probe: 'x' } },
  })
  await direct.kubectl(['create', '-f', '-'], { input: toYamlStream([labelled('probe-a'), labelled('probe-b')]) })
  const deleted = await proxied.kubectl([
    'delete',
    'configmaps',
    ...namespace(),
    '-l',
    'probe=x',
    '--ignore-not-found',
    '--wait=false',
  ])
  assert.is(ran.at(-1)?.via, 'kubectl proxy')
  assert.equal(deleted.stdout.trim().split('\n').sort(), ['configmap "probe-a" deleted', 'configmap "probe-b" deleted'])
  const left = await direct.kubectl(['get', 'configmaps', ...namespace(), '-l', 'probe=x', '-o', 'json'])
  assert.equal(JSON.parse(left.stdout).items, [])
  const logs = ['logs', ...namespace(), '-l', 'app.kubernetes.io/component=manager', '--prefix', '--tail=-1']
  const [kubectl, proxy] = await bothWays(logs)
  assert.is(proxy.exitCode, kubectl.exitCode, proxy.stderr)
  const lines = (r: CommandResult) => r.stdout.split('\n').sort()
  assert.equal(lines(proxy), lines(kubectl))
})

test('labels: set and removed as kubectl does, with its words for a missing object', async () => {
  // Each way labels its own twin object, so neither finds the other's change made already ("not labeled").
  const twins = { kubectl: 'label-by-kubectl', proxy: 'label-by-proxy' }
  for (const name of Object.values(twins))
    await direct.kubectl(['create', '-f', '-'], { input: JSON.stringify(configMap(name)) })
  const labelBothWays = async (change: string[]) => {
    const before = ran.length
    const answers = await Promise.all(
      (
        [
          [direct, twins.kubectl],
          [proxied, twins.proxy],
        ] as const
      ).map(([cluster, name]) => cluster.kubectl(['label', 'configmap', name, ...namespace(), ...change])),
    )
    assert.equal(
      ran.slice(before).map((r) => r.via),
      ['kubectl proxy'],
      'the label went through the proxy',
    )
    const [kubectl, proxy] = answers.map((a, i) => ({
      ...a,
      stdout: a.stdout.replace(Object.values(twins)[i], 'NAME'),
      stderr: a.stderr.replace(Object.values(twins)[i], 'NAME'),
    }))
    assert.equal([proxy.exitCode, proxy.stdout, proxy.stderr], [kubectl.exitCode, kubectl.stdout, kubectl.stderr])
    const objects = await Promise.all(
      Object.values(twins).map(
        async (name) =>
          JSON.parse((await direct.kubectl(['get', 'configmap', name, ...namespace(), '-o', 'json'])).stdout).metadata,
      ),
    )
    assert.equal(objects[1].labels, objects[0].labels)
    return objects[1]
  }
  const labelled = await labelBothWays(['status=superseded', '--overwrite'])
  assert.is(labelled.labels.status, 'superseded')
  await labelBothWays(['status-'])
  // A missing object: kubectl's NotFound line.
  await sameAnswer(['label', 'configmap', 'proxy-missing', ...namespace(), 'a=b', '--overwrite'], { json: false })
})

test("a request that gets no answer stops at the command's timeout, as a kubectl process would", async () => {
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  // The API server keeps the request until released: however loaded the machine, no answer comes in time.
  const hold = { arrived: () => {}, released }
  sim.faults.api.push({ method: 'GET', pathIncludes: '/configmaps/held', times: 1, hold })
  const args = ['get', 'configmap', 'held', ...namespace(), '-o', 'json']
  const before = ran.length
  const result = await proxied.exec(proxied.kubectlArgv(args), { timeoutMs: 1_000 })
  release()
  assert.is(result.exitCode, null, result.stderr)
  assert.match(result.stderr, /timed out after 1s/)
  assert.is(ran.slice(before).at(-1)?.via, 'kubectl proxy')
  // The proxy serves the next request as usual.
  const next = await proxied.exec(proxied.kubectlArgv(['get', 'namespace', 'default', '-o', 'json']))
  assert.is(next.exitCode, 0, next.stderr)
})

test("the proxy's socket is in a directory only its user can open, and the proxy stops when its process dies", async () => {
  const script = join(tempDir('api-proxy-owner-'), 'owner.mts')
  writeFileSync(
    script,
    `import { ApiProxy } from ${JSON.stringify(join(import.meta.dirname, '..', 'lib', 'kube', 'api-proxy.ts'))}
const proxy = await ApiProxy.start(['kubectl', '--kubeconfig', ${JSON.stringify(sim.kubeconfig)}, '--context', ${JSON.stringify(sim.context)}], { timeoutMs: 120000 })
console.log(proxy.socket)
setInterval(() => {}, 1000)
`,
  )
  const owner = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  const socket = await new Promise<string>((resolve, reject) => {
    let out = ''
    owner.stdout.on('data', (chunk) => {
      out += chunk
      if (out.includes('\n')) resolve(out.trim())
    })
    owner.on('exit', (code) => reject(new Error(`the owner exited ${code} before its proxy served`)))
  })
  assert.is(statSync(dirname(socket)).mode & 0o777, 0o700)
  assert.ok(await answers(socket), 'the proxy serves while its owner lives')
  owner.kill('SIGKILL') // no exit handler runs: only the guard's pipe notices
  // The event waited for: the socket stops answering (kubectl proxy stopped), however long that takes here.
  for (let i = 0; ; i++) {
    if (!(await answers(socket))) break
    assert.ok(i < 600, 'kubectl proxy still answers a minute after its owner was killed')
    await new Promise((r) => setTimeout(r, 100))
  }
  // The guard removes the socket's directory once kubectl has gone.
  for (let i = 0; existsSync(dirname(socket)); i++) {
    assert.ok(i < 600, "the socket's directory is still there a minute after the proxy stopped")
    await new Promise((r) => setTimeout(r, 100))
  }
})

/** Whether anything accepts a connection on the socket. */
const answers = (socket: string) =>
  new Promise<boolean>((resolve) => {
    const c = connect(socket)
    c.on('connect', () => {
      c.destroy()
      resolve(true)
    })
    c.on('error', () => resolve(false))
  })

test('a proxy that cannot start leaves the command to kubectl, which says what is wrong', async () => {
  const missing = join(tmpdir(), 'no-such-dir-for-proxy', 'kubeconfig')
  const commands: CommandRun[] = []
  const cluster = new Cluster({ kubeconfig: missing, context: 'x', apiProxy: true, onCommand: (r) => commands.push(r) })
  const result = await cluster.exec(cluster.kubectlArgv(['get', 'namespaces', '-o', 'json']))
  assert.is(result.exitCode, 1)
  assert.match(result.stderr, /no-such-dir-for-proxy/)
  assert.ok(
    commands.some((c) => c.argv.includes('get') && c.via === undefined),
    'the read ran as a kubectl process after the proxy failed to start',
  )
})

test.run()
