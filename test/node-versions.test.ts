// The package as operators get it, on every Node line the runbook supports (20, 22, 24): `npm pack`, installed
// into an empty prefix without dev dependencies (so no tsx, no TypeScript), runs --help and a dry run against
// the simulated cluster; the unit tests pass on Node 22 and 24 too. Node 22 and 24 come from the npm registry's
// `node` package through npx, cached under node_modules/.cache so later runs reuse them.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { builtIsCurrent, ROOT, show, startWorld, type RunbookWorld } from './harness.ts'
import { runCommand } from './kit.ts'
import { tempDir } from './temp-dir.ts'

const OTHER_NODE_LINES = ['22', '24']
const NPM_CACHE = join(ROOT, 'node_modules', '.cache', 'node-versions')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx'
const npmEnv = {
  ...process.env,
  npm_config_cache: NPM_CACHE,
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
}

/** Test files that need no simulated cluster: they are the unit tests. */
const UNIT_TESTS = readdirSync(join(ROOT, 'test'))
  .filter((f) => f.endsWith('.test.ts') && !['node-versions.test.ts', 'completion.test.ts'].includes(f))
  .filter((f) => !/from '\.\/(harness|sim\/)/.test(readFileSync(join(ROOT, 'test', f), 'utf8')))
  .sort()

let world: RunbookWorld
const nodes = new Map<string, string>([[process.versions.node.split('.')[0], process.execPath]])
let bin = ''
const work = tempDir('runbook-pack-')

test.before(async () => {
  mkdirSync(NPM_CACHE, { recursive: true })
  const [started] = await Promise.all([
    startWorld(),
    ...OTHER_NODE_LINES.map(async (line) => {
      const r = await runCommand(npx, ['-y', '-p', `node@${line}`, 'node', '-p', 'process.execPath'], {
        env: npmEnv,
        timeoutMs: 300_000,
      })
      if (r.code !== 0) throw new Error(`npx -p node@${line} failed:\n${show(r)}`)
      nodes.set(line, r.stdout.trim())
    }),
  ])
  world = started
})
test.after(async () => {
  await world?.stop()
})

test(`unit tests pass on Node ${OTHER_NODE_LINES.join(' and ')}`, async () => {
  assert.ok(UNIT_TESTS.length >= 8, `found only ${UNIT_TESTS.join(', ')}`)
  // All of them in one process per Node line, as uvu's own CLI runs files (each file's tests under its name): tsx
  // starts once instead of once per file, which was most of this test's time.
  const suites = UNIT_TESTS.map((file) => ({ name: file, file: join(ROOT, 'test', file) }))
  for (const line of OTHER_NODE_LINES) {
    const node = nodes.get(line)!
    const version = await runCommand(node, ['--version'])
    assert.match(version.stdout, new RegExp(`^v${line}\\.`))
    const r = await runCommand(
      node,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        "import { run } from 'uvu/run'; await run(JSON.parse(process.env.UNIT_SUITES))",
      ],
      {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: '1', UNIT_SUITES: JSON.stringify(suites) },
        timeoutMs: 300_000,
      },
    )
    const total = /Total:\s+(\d+)/.exec(r.stdout)?.[1]
    assert.ok(
      r.code === 0 && total !== undefined && /Passed:\s+(\d+)/.exec(r.stdout)?.[1] === total,
      `unit tests on Node ${line}:\n${show(r)}`,
    )
    for (const file of UNIT_TESTS)
      assert.ok(r.stdout.includes(file), `${file} did not run on Node ${line}:\n${show(r)}`)
  }
})

test('npm pack ships only what runs: compiled JavaScript, manifests, README; no tests, no TypeScript', async () => {
  // With dist/ current (a fresh clone after npm ci), pack it as built: `prepare` would delete and rebuild the
  // dist/ that test files running beside this one start the runbook from.
  const pack = ['pack', '--json', '--pack-destination', work, ...(builtIsCurrent() ? ['--ignore-scripts'] : [])]
  const r = await runCommand(npm, pack, {
    cwd: ROOT,
    env: npmEnv,
    timeoutMs: 300_000,
  })
  assert.is(r.code, 0, show(r))
  const [packed] = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')))
  const files: string[] = packed.files.map((f: { path: string }) => f.path)
  assert.ok(files.includes('dist/runbook.js') && files.includes('bin/gthulhu-runbook.mjs'), files.join(', '))
  assert.ok(files.includes('manifests/network-policies.yaml'))
  assert.equal(
    files.filter((f) => f.startsWith('test/') || (f.endsWith('.ts') && !f.endsWith('.d.ts'))),
    [],
  )
  const prefix = join(work, 'prefix')
  mkdirSync(prefix)
  const install = await runCommand(
    npm,
    ['install', '--omit=dev', '--no-save', '--prefix', prefix, join(work, packed.filename)],
    { env: npmEnv, timeoutMs: 300_000 },
  )
  assert.is(install.code, 0, show(install))
  for (const dev of ['tsx', 'typescript', 'esbuild'])
    assert.not.ok(existsSync(join(prefix, 'node_modules', dev)), `${dev} must not be installed`)
  bin = join(prefix, 'node_modules', 'gthulhu-ambient-runbook', 'bin', 'gthulhu-runbook.mjs')
  assert.ok(existsSync(bin))
})

test(`the packed CLI runs --help and a dry run against the simulated cluster on Node ${process.versions.node.split('.')[0]}, ${OTHER_NODE_LINES.join(' and ')}`, async () => {
  assert.ok(bin, 'the pack test must run first')
  for (const line of OTHER_NODE_LINES) assert.ok(nodes.has(line), `no Node ${line}`)
  for (const [line, node] of nodes) {
    const env = { ...process.env, ...world.sim.env, CI: 'true', NO_COLOR: '1' }
    const help = await runCommand(node, [bin, '--help'], { env, cwd: world.dir, timeoutMs: 60_000 })
    assert.is(help.code, 0, `Node ${line}: ${show(help)}`)
    assert.match(help.stdout, /l4-policies/)
    const dryRun = await runCommand(node, [bin, ...world.flags, '--dry-run'], {
      env,
      cwd: world.dir,
      timeoutMs: 120_000,
    })
    assert.is(dryRun.code, 0, `Node ${line}: ${show(dryRun)}`)
    // The manifests are read from the installed package: the plan shows the guide's NetworkPolicy.
    assert.match(dryRun.stdout, /apply \(server-side\) NetworkPolicy default\/allow-only-manager-to-mongodb/)
    assert.match(dryRun.stdout, /Dry run: nothing was changed/)
  }
})

test.run()
