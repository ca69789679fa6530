// `npm run sim` as a newcomer uses it: a simulated cluster in the foreground, its kubeconfig and env file
// written, the real kubectl listing Gthulhu's pods, and a clean exit on SIGTERM; bad flags exit 2.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ROOT, TSX_LOADER } from './harness.ts'
import { kubectl, runCommand } from './kit.ts'
import { tempDir } from './temp-dir.ts'

const simMain = join(ROOT, 'test', 'sim', 'main.ts')

test('npm run sim: writes DIR/kubeconfig and DIR/env, serves kubectl, and exits 0 on SIGTERM', async () => {
  const out = join(tempDir('sim-cli-'), 'out')
  const child = spawn(
    process.execPath,
    [
      '--import',
      TSX_LOADER,
      simMain,
      '--out',
      out,
      '--release',
      'prod',
      '--set',
      'mtls.enabled=true',
      '--set=monitoring.enabled=false',
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  )
  let output = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', (c) => (output += c))
  child.stderr.on('data', (c) => (output += c))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  try {
    const deadline = Date.now() + 60_000
    while (!existsSync(join(out, 'env')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    assert.ok(existsSync(join(out, 'env')), `no env file after 60s:\n${output}`)
    const env = Object.fromEntries(
      [...readFileSync(join(out, 'env'), 'utf8').matchAll(/^export (\w+)=['"]?([^'"\n]*)['"]?$/gm)].map((m) => [
        m[1],
        m[2],
      ]),
    )
    assert.is(env.KUBECONFIG, join(out, 'kubeconfig'))
    assert.ok(env.GTHULHU_RUNBOOK_ISTIO_MIRROR?.startsWith('http://127.0.0.1:'))
    const pods = await kubectl(env, ['get', 'pods', '-A', '--show-labels'])
    assert.is(pods.code, 0, pods.stderr)
    assert.match(
      pods.stdout,
      /prod-gthulhu-manager-\S+\s.*app\.kubernetes\.io\/component=manager,app\.kubernetes\.io\/instance=prod,app\.kubernetes\.io\/name=gthulhu/,
    )
    // --set reaches the chart: the decision maker speaks mTLS, and no monitor Service exists without monitoring.
    const ds = await kubectl(env, [
      'get',
      'ds',
      'prod-gthulhu-scheduler',
      '-o',
      'jsonpath={.spec.template.spec.containers[1].env[?(@.name=="DM_MTLS_ENABLE")].value}',
    ])
    assert.is(ds.stdout, 'true', ds.stderr)
    const svcs = await kubectl(env, ['get', 'svc', '-o', 'name'])
    assert.not.match(svcs.stdout, /scheduler-monitor/)
    assert.match(pods.stdout, /prod-mongodb-0\s.*app\.kubernetes\.io\/name=mongodb/)
    assert.match(pods.stdout, /kube-system\s+calico-node-/)
  } finally {
    process.kill(child.pid!, 'SIGTERM')
  }
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 15_000)
  assert.is(await exited, 0, output)
  clearTimeout(timer)
})

test('npm run sim: --set with a chart value it does not model exits 2 naming the valid ones', async () => {
  const r = await runCommand(process.execPath, ['--import', TSX_LOADER, simMain, '--set', 'manager.replicaCount=2'], {
    cwd: ROOT,
    timeoutMs: 30_000,
  })
  assert.is(r.code, 2)
  assert.match(
    r.stderr,
    /--set: "manager\.replicaCount=2" is not one of mtls\.enabled=true\|false, monitoring\.enabled=true\|false, scheduler\.scheduling\.enabled=true\|false/,
  )
})

test('npm run sim: an unknown flag exits 2 with the usage', async () => {
  const r = await runCommand(process.execPath, ['--import', TSX_LOADER, simMain, '--cni', 'weave'], {
    cwd: ROOT,
    timeoutMs: 30_000,
  })
  assert.is(r.code, 2)
  assert.match(r.stderr + r.stdout, /--cni: unknown CNI "weave"/)
})

test.run()
