// The operator guide's CI example, run as written against the simulated cluster: its events file holds only JSON
// (every line parses, and jq reads it), it exits with the runbook's code, and the same script without npm's
// --silent fails on jq's error instead of hiding it.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { stringify } from 'yaml'
import { ROOT, startWorld, type RunbookWorld } from './harness.ts'
import { runCommand } from './kit.ts'
import { tempDir } from './temp-dir.ts'
import { ensurePackage, runs } from './debian-package.ts'

let world: RunbookWorld
test.before(async () => {
  ensurePackage('jq', runs('jq', '--version'), 'the CI example test')
  world = await startWorld()
})
test.after(async () => {
  await world?.stop()
})

/** The shell block of the guide that starts with the pipeline comment. */
function pipelineExample(): string {
  const guide = readFileSync(join(ROOT, 'docs', 'operator-guide.md'), 'utf8')
  const block = [...guide.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes('a pipeline step'))
  assert.ok(block, 'the operator guide has the pipeline example')
  return block!
}

/** Runs the example in the checkout, with its files in `dir` and `hardening.yaml` pointing at the simulator. */
async function runExample(script: string, dir: string) {
  writeFileSync(
    join(dir, 'hardening.yaml'),
    stringify({
      context: world.sim.context,
      kubeconfig: world.sim.kubeconfig,
      'istio-mirror': world.sim.istioMirror,
      'gateway-api-mirror': world.sim.gatewayApiMirror,
      'install-dir': world.installDir,
      only: ['preflight'],
    }),
  )
  const local = script
    .replace(/^npm ci$/m, ': npm ci # the test runs in a checkout where it has run')
    .replaceAll('hardening.yaml', join(dir, 'hardening.yaml'))
    .replaceAll('events.jsonl', join(dir, 'events.jsonl'))
    .replaceAll('runbook.log', join(dir, 'runbook.log'))
  // npm as a pipeline starts it: no npm_* variables from the test runner's own npm.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('npm_')))
  return runCommand('bash', ['-c', local], {
    cwd: ROOT,
    env: { ...env, CI_PROJECT_DIR: dir, CI: 'true' },
    timeoutMs: 300_000,
  })
}

test("the guide's CI example writes only JSON events, one per line, and exits with the runbook's code", async () => {
  const script = pipelineExample()
  assert.match(script, /npm start --silent -- --config hardening\.yaml --yes --output json/)
  const dir = tempDir('ci-example-')
  const r = await runExample(script, dir)
  assert.is(r.code, 0, `${r.stdout}\n${r.stderr}\n${readFileSync(join(dir, 'runbook.log'), 'utf8')}`)
  const lines = readFileSync(join(dir, 'events.jsonl'), 'utf8').trimEnd().split('\n')
  const events = lines.map((line, i) => {
    try {
      return JSON.parse(line)
    } catch {
      throw new Error(`line ${i + 1} of events.jsonl is not JSON: ${line}`)
    }
  })
  assert.is(events[0].event, 'run-start')
  assert.equal(events.at(-1), { ...events.at(-1), event: 'run-end', status: 'done', exitCode: 0 })
  assert.ok(events.filter((e) => e.event === 'check').length >= 7, 'every check is an event')
  assert.is(r.stdout.trim(), '', 'jq found no failed check')
  assert.match(readFileSync(join(dir, 'runbook.log'), 'utf8'), /Summary:/, 'the human text went to stderr')
})

test("without npm's --silent the banner lands in the events file, and the example fails on jq's error", async () => {
  const dir = tempDir('ci-example-')
  const r = await runExample(pipelineExample().replace('npm start --silent --', 'npm start --'), dir)
  assert.is.not(r.code, 0, 'set -e stops at jq')
  assert.match(readFileSync(join(dir, 'events.jsonl'), 'utf8'), /^\n?> gthulhu-ambient-runbook@/)
  assert.match(r.stderr, /jq: error|parse error/)
})

test.run()
