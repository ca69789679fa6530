// The whole test suite: a strict type check, Biome's format check and linter, then every test/**/*.test.ts
// file in its own process (each integration file starts its own simulated cluster), two per core, the longest
// first (by the times of the last run, kept in node_modules/.cache; a file never timed is estimated from what it
// does), so no long file starts last while the other worker idles. Ends with the one line CI reads:
// `N passed, M failed`. A file that crashes before uvu's summary counts as one failure.
import { spawn } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { availableParallelism } from 'node:os'
import { pathToFileURL } from 'node:url'
import { pathWithDirectKubectl } from './kubectl-path.ts'
import { processAlive } from './process-alive.ts'

const root = join(import.meta.dirname, '..')
// Long enough for a file that first builds the prepared world (a full run) on a loaded 2-core machine.
const FILE_TIMEOUT_MS = 15 * 60_000
const TIMES_FILE = join(root, 'node_modules', '.cache', 'gthulhu-runbook', 'test-times.json')
const BUNDLES = join(root, 'node_modules', '.cache', 'gthulhu-runbook', 'test-bundles')
// This run's bundles, apart from those of another run in the same clone (a subset while the whole suite runs).
const BUNDLE_DIR = join(BUNDLES, `run-${process.pid}`)

interface Outcome {
  name: string
  passed: number
  failed: number
  output: string
  ms: number
}

function findTestFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : findTestFiles(path)
    return entry.name.endsWith('.test.ts') ? [path] : []
  })
}

/**
 * The environment every check and test file runs in. GOGC: kubectl is a Go program, and in the few dozen
 * milliseconds one call lasts its garbage collector takes a sixth of its CPU (measured: 60 calls, 2.7 CPU-s by
 * default, 2.2 with GOGC=400); the suite starts about 1,700 of them. It changes when kubectl collects, nothing else.
 */
const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', GOGC: '400' }

function runProcess(
  name: string,
  command: string,
  args: string[],
): Promise<{ code: number | null; output: string; ms: number }> {
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: root,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout stops the file and everything it started
    })
    let output = ''
    child.stdout.setEncoding('utf8') // a character split between two reads stays whole
    child.stderr.setEncoding('utf8')
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    const timer = setTimeout(() => {
      output += `\n${name}: timed out after ${FILE_TIMEOUT_MS / 1000}s, stopping its process group\n`
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {}
    }, FILE_TIMEOUT_MS)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output, ms: Date.now() - started })
    })
  })
}

async function typecheck(): Promise<Outcome> {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const { code, output, ms } = await runProcess('typecheck', process.execPath, [tsc, '--noEmit', '-p', root])
  return {
    name: 'typecheck (tsc --noEmit, strict)',
    passed: code === 0 ? 1 : 0,
    failed: code === 0 ? 0 : 1,
    output,
    ms,
  }
}

/** Biome's format check and linter, each one counted check: CI fails on an unformatted file or a lint error. */
function biomeCheck(command: 'format' | 'lint'): () => Promise<Outcome> {
  const biome = join(root, 'node_modules', '@biomejs', 'biome', 'bin', 'biome')
  return async () => {
    const { code, output, ms } = await runProcess(command, process.execPath, [
      biome,
      command,
      '--colors=off',
      ...(command === 'lint' ? ['--error-on-warnings'] : []),
      root,
    ])
    const name = command === 'format' ? 'format (biome format; fix with npm run format)' : 'lint (biome lint)'
    return { name, passed: code === 0 ? 1 : 0, failed: code === 0 ? 0 : 1, output, ms }
  }
}

/**
 * Each test file bundled with the project code it imports into one JavaScript file (by esbuild, which tsx itself
 * runs on), so its process starts without tsx's loader: that loader costs each process about 0.4 CPU-s to start
 * and more for every module, a tenth of the suite's CPU. Packages stay external. Each source file keeps its own
 * import.meta.url, dirname and filename (written in before bundling), so what a file reads beside itself is found
 * as before; source maps put the .ts lines in stack traces.
 */
/** Whether a directory in the bundle cache is a running suite's (run-<pid>, that process still alive). */
function isLiveRun(name: string): boolean {
  const pid = Number(/^run-(\d+)$/.exec(name)?.[1])
  return !!pid && processAlive(pid)
}

async function bundleTestFiles(files: string[]): Promise<Map<string, string>> {
  const { build } = await import('esbuild')
  mkdirSync(BUNDLES, { recursive: true })
  // What runs that have ended left (killed before their exit handler ran), and an older layout's files.
  for (const entry of readdirSync(BUNDLES, { withFileTypes: true }).filter((e) => !isLiveRun(e.name))) {
    rmSync(join(BUNDLES, entry.name), { recursive: true, force: true })
  }
  process.on('exit', () => rmSync(BUNDLE_DIR, { recursive: true, force: true }))
  const own = (key: string, path: string) =>
    JSON.stringify(key === 'url' ? pathToFileURL(path).href : key === 'dirname' ? dirname(path) : path)
  await build({
    entryPoints: files,
    outdir: BUNDLE_DIR,
    outbase: root,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'silent',
    plugins: [
      {
        name: 'own-import-meta',
        setup: (bundler) =>
          bundler.onLoad({ filter: /\.ts$/ }, async ({ path }) => ({
            loader: 'ts',
            contents: (await readFile(path, 'utf8')).replace(/\bimport\.meta\.(url|dirname|filename)\b/g, (_, key) =>
              own(key, path),
            ),
          })),
      },
    ],
  })
  return new Map(files.map((f) => [f, join(BUNDLE_DIR, relative(root, f)).replace(/\.ts$/, '.mjs')]))
}

async function runTestFile(file: string, bundle: string): Promise<Outcome> {
  const name = relative(root, file)
  const { code, output, ms } = await runProcess(name, process.execPath, ['--enable-source-maps', bundle])
  const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? NaN)
  const passed = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? NaN)
  const skipped = Number(/Skipped:\s+(\d+)/.exec(output)?.[1] ?? 0)
  if (Number.isNaN(total) || Number.isNaN(passed)) {
    return { name, passed: 0, failed: 1, output: output + `\n${name}: exited ${code} without a test summary\n`, ms }
  }
  const failed = total - passed - skipped
  // A non-zero exit with every test passing (e.g. an unhandled rejection after the run) is still a failure.
  return { name, passed, failed: failed > 0 ? failed : code === 0 ? 0 : 1, output, ms }
}

/** How long each check and file took last time (ms), by name. */
function recordedTimes(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(TIMES_FILE, 'utf8'))
  } catch {
    return {}
  }
}

/**
 * A file never timed here: what it does is what costs — each runbook run, terminal session or kubectl call
 * against a simulated cluster is a few seconds; a plain unit test file a few seconds in all.
 */
function estimate(file: string): number {
  const text = readFileSync(file, 'utf8')
  const runs = text.match(/\.run\(\[|startGuided\(|TerminalSession\.start|demoInTerminal\(|runCommand\(/g)?.length ?? 0
  const clusters = text.match(/startWorld\(|startSimulator\(|preparedWorld\(/g)?.length ?? 0
  const kubectls = text.match(/kubectl\(/g)?.length ?? 0
  return 3_000 + 8_000 * runs + 2_000 * clusters + 500 * kubectls
}

interface Job {
  name: string
  cost: number
  run: () => Promise<Outcome>
}

async function main() {
  const filter = process.argv.slice(2)
  const files = findTestFiles(join(root, 'test'))
    // Matched against the path inside the project: a checkout whose own path holds the word selects nothing more.
    .filter((f) => filter.length === 0 || filter.some((word) => relative(root, f).includes(word)))
    .sort()
  const times = recordedTimes()
  const direct = pathWithDirectKubectl()
  if (direct) {
    childEnv.PATH = direct.PATH
    process.stdout.write(direct.said)
  }
  let bundles: Map<string, string>
  try {
    bundles = await bundleTestFiles(files)
  } catch (error) {
    // A file that does not compile fails here, with esbuild's message naming the file and line.
    process.stdout.write(`----- bundling the test files -----\n${(error as Error).message}\n\n0 passed, 1 failed\n`)
    process.exitCode = 1
    return
  }
  const checks: Job[] = [
    { name: 'typecheck (tsc --noEmit, strict)', cost: 0, run: typecheck },
    { name: 'format (biome format; fix with npm run format)', cost: 0, run: biomeCheck('format') },
    { name: 'lint (biome lint)', cost: 0, run: biomeCheck('lint') },
  ]
  const jobs: Job[] = [
    ...(filter.length === 0 ? checks : []),
    ...files.map((f) => ({ name: relative(root, f), cost: 0, run: () => runTestFile(f, bundles.get(f)!) })),
  ].map((job) => ({
    ...job,
    cost: times[job.name] ?? (job.name.endsWith('.ts') ? estimate(join(root, job.name)) : 20_000),
  }))
  // Longest first: the workers then finish close together.
  const queue = jobs.sort((a, b) => b.cost - a.cost).map((job) => job.run)
  const outcomes: Outcome[] = []
  // Two files per core: a file waits on its cluster a third of the time (a watch, a probe's listener, a terminal), so
  // one per core left a third of the CPU idle. On 2 cores: 2 files at a time took 222 s with 150 CPU-s idle, 3 took
  // 179 s, 4 took 165 s with 14 CPU-s idle. At most 16: each file may hold a cluster, a terminal and a browser.
  const workers = Array.from({ length: Math.min(16, 2 * availableParallelism()) }, async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const outcome = await job()
      outcomes.push(outcome)
      const verdict = outcome.failed ? 'FAIL' : 'ok  '
      // Show the output of failing files in full; passing files only get their line.
      if (outcome.failed) process.stdout.write(`\n----- ${outcome.name} -----\n${outcome.output.trimEnd()}\n`)
      process.stdout.write(
        `${verdict} ${outcome.name}: ${outcome.passed} passed, ${outcome.failed} failed (${(outcome.ms / 1000).toFixed(1)}s)\n`,
      )
    }
  })
  await Promise.all(workers)
  try {
    mkdirSync(join(TIMES_FILE, '..'), { recursive: true })
    writeFileSync(TIMES_FILE, JSON.stringify({ ...times, ...Object.fromEntries(outcomes.map((o) => [o.name, o.ms])) }))
  } catch {} // timings only order the next run
  const total = outcomes.reduce((n, o) => n + o.ms, 0)
  process.stdout.write(`\nfiles' times sum to ${(total / 1000).toFixed(0)}s\n`)
  const passed = outcomes.reduce((n, o) => n + o.passed, 0)
  const failed = outcomes.reduce((n, o) => n + o.failed, 0)
  process.stdout.write(`\n${passed} passed, ${failed} failed\n`)
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0
}

await main()
