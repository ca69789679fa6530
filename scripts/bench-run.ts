// How long the runbook waits, and how many processes it spawns, on the simulated cluster: a full `--yes` run
// with no controller delay and with one (default 2 s), per step the controller rounds it waited beside the
// rounds the cluster forces (with the reason), the kubectl/istioctl processes per run and per audit, and
// `--verify` with and without probes. Runs the published command (dist/; `npm run bench` builds it first).
// Run: npx tsx scripts/bench-run.ts [--delay-ms 2000] [--rounds 3] [--repeat 1]
// Every figure is printed beside the machine's load (uptime), because the machine may be shared.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCommand, type ProcessResult } from '../test/kit.ts'
import { runbookFlags, startSimulator, type Simulator } from '../test/sim/index.ts'
import { STEP_IDS, type StepId } from '../lib/config/step-ids.ts'
import { FORCED_ROUNDS } from './forced-rounds.ts'

const root = join(import.meta.dirname, '..')
const bin = join(root, 'bin', 'gthulhu-runbook.mjs')
const args = process.argv.slice(2)
const flag = (name: string, fallback: number) => {
  const at = args.indexOf(name)
  return at >= 0 ? Number(args[at + 1]) : fallback
}
const DELAY_MS = flag('--delay-ms', 2000)
const ROUNDS = flag('--rounds', 3)
const REPEAT = flag('--repeat', 1)
/** Budgets from issue 20 (quiet 2-core machine). */
const BUDGET = { fullRunNoDelayMs: 12_000, roundsFactor: 1.2, verifyMs: 4_000, verifyNoProbesMs: 1_500 }

if (!existsSync(join(root, 'dist', 'runbook.js'))) {
  console.error('dist/ is missing: run `npm run build` first (npm run bench does)')
  process.exit(2)
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')

interface RunFigures {
  totalMs: number
  steps: Map<StepId, { durationMs: number; kubectl: number; istioctl: number }>
  kubectl: number
  istioctl: number
  load: string
}

interface World {
  sim: Simulator
  flags: string[]
  dir: string
  run(extra: string[]): Promise<ProcessResult & { ms: number }>
}

async function startWorld(): Promise<World> {
  const sim = await startSimulator({ cni: 'calico' })
  const dir = mkdtempSync(join(tmpdir(), 'runbook-bench-'))
  const flags = runbookFlags(sim, join(dir, 'bin'), join(dir, 'state.json'))
  return {
    sim,
    flags,
    dir,
    async run(extra) {
      const started = performance.now()
      const result = await runCommand(process.execPath, [bin, ...flags, ...extra], {
        cwd: dir,
        env: { ...process.env, ...sim.env, CI: 'true', NO_COLOR: '1' },
        timeoutMs: 600_000,
      })
      return { ...result, ms: performance.now() - started }
    },
  }
}

const commandOf = (argv: string[]) => (argv[0].endsWith('istioctl') ? 'istioctl' : 'kubectl')

/** Reads the JSON events of a run (-o json -v): step durations and the commands spawned within each step. */
function figures(result: ProcessResult & { ms: number }, loadAtStart: string): RunFigures {
  const steps: RunFigures['steps'] = new Map()
  let current: StepId | undefined
  let kubectl = 0
  let istioctl = 0
  for (const line of result.stdout.split('\n')) {
    if (!line.startsWith('{')) continue
    const event = JSON.parse(line)
    if (event.event === 'step-start') {
      current = event.step
      steps.set(event.step, { durationMs: 0, kubectl: 0, istioctl: 0 })
    } else if (event.event === 'step-end') {
      steps.get(event.step)!.durationMs = event.durationMs
    } else if (event.event === 'command') {
      const which = commandOf(event.argv)
      if (which === 'kubectl') kubectl++
      else istioctl++
      const step = current && steps.get(current)
      if (step) step[which]++
    }
  }
  return { totalMs: result.ms, steps, kubectl, istioctl, load: loadAtStart }
}

async function fullRun(delayMs: number): Promise<RunFigures & { world: World }> {
  const world = await startWorld()
  world.sim.faults.controllerDelayMs = delayMs
  const loadAtStart = load()
  const result = await world.run(['--yes', '-o', 'json', '-v'])
  if (result.code !== 0) {
    await world.sim.stop()
    throw new Error(`the full run at ${delayMs} ms controller delay exited ${result.code}:\n${result.stderr}`)
  }
  return { ...figures(result, loadAtStart), world }
}

/** The faster of several runs, step by step (load only ever adds time). */
function fastest(runs: RunFigures[]): RunFigures {
  const best = runs.reduce((a, b) => (a.totalMs <= b.totalMs ? a : b))
  const steps: RunFigures['steps'] = new Map()
  for (const id of best.steps.keys())
    steps.set(id, {
      ...best.steps.get(id)!,
      durationMs: Math.min(...runs.map((r) => r.steps.get(id)?.durationMs ?? Infinity)),
    })
  return { ...best, steps }
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)}s`

async function main() {
  console.log(`node ${process.version}; load average at start: ${load()}`)
  const quiet: RunFigures[] = []
  const delayed: RunFigures[] = []
  let audited: World | undefined
  for (let i = 0; i < REPEAT; i++) {
    const run = await fullRun(0)
    quiet.push(run)
    if (audited) await run.world.sim.stop()
    else audited = run.world
    const slow = await fullRun(DELAY_MS)
    delayed.push(slow)
    await slow.world.sim.stop()
  }
  const base = fastest(quiet)
  const late = fastest(delayed)

  console.log(
    `\nPer step: controller rounds waited at ${DELAY_MS / 1000}s controller delay ((time at delay − time without) / delay), beside what the cluster forces`,
  )
  console.log(
    `${'step'.padEnd(18)} ${'no delay'.padStart(9)} ${`${DELAY_MS / 1000}s delay`.padStart(9)} ${'waited'.padStart(7)} ${'forced'.padStart(7)}  ${'kubectl'.padStart(7)} ${'istioctl'.padStart(8)}  why the cluster forces it`,
  )
  let waitedTotal = 0
  let forcedTotal = 0
  for (const id of STEP_IDS) {
    const a = base.steps.get(id)
    const b = late.steps.get(id)
    if (!a || !b) continue
    const waited = (b.durationMs - a.durationMs) / DELAY_MS
    const forced = FORCED_ROUNDS[id]
    waitedTotal += waited
    forcedTotal += forced.rounds
    console.log(
      `${id.padEnd(18)} ${s(a.durationMs).padStart(9)} ${s(b.durationMs).padStart(9)} ${waited.toFixed(1).padStart(7)} ${String(forced.rounds).padStart(7)}  ${String(a.kubectl).padStart(7)} ${String(a.istioctl).padStart(8)}  ${forced.why}`,
    )
  }
  const roundsOk = waitedTotal <= BUDGET.roundsFactor * forcedTotal
  console.log(
    `${'all steps'.padEnd(18)} ${s(base.totalMs).padStart(9)} ${s(late.totalMs).padStart(9)} ${waitedTotal.toFixed(1).padStart(7)} ${String(forcedTotal).padStart(7)}  ${String(base.kubectl).padStart(7)} ${String(base.istioctl).padStart(8)}  (whole command, start-up included)`,
  )
  console.log(
    `  loads at the start of each run: no delay ${quiet.map((r) => r.load).join(' | ')}; ${DELAY_MS / 1000}s delay ${delayed.map((r) => r.load).join(' | ')}`,
  )
  console.log(
    `${roundsOk ? '✔' : '✖'} rounds waited ${waitedTotal.toFixed(1)} ≤ ${BUDGET.roundsFactor} × ${forcedTotal} forced = ${(BUDGET.roundsFactor * forcedTotal).toFixed(1)}`,
  )
  const fullOk = base.totalMs <= BUDGET.fullRunNoDelayMs
  console.log(
    `${fullOk ? '✔' : '✖'} full run without controller delay ${s(base.totalMs)} ≤ ${s(BUDGET.fullRunNoDelayMs)}`,
  )

  console.log(`\n--verify on the hardened cluster (no controller delay), ${ROUNDS} time(s) each:`)
  let verifyOk = true
  try {
    for (const variant of [[], ['--no-probes']]) {
      const times: number[] = []
      const loads: string[] = []
      let counts = { kubectl: 0, istioctl: 0 }
      for (let i = 0; i < ROUNDS; i++) {
        loads.push(load())
        const r = await audited!.run(['--verify', ...variant, '-o', 'json', '-v'])
        if (r.code !== 0) throw new Error(`--verify ${variant.join(' ')} exited ${r.code}:\n${r.stderr}`)
        times.push(r.ms)
        const f = figures(r, '')
        counts = { kubectl: f.kubectl, istioctl: f.istioctl }
      }
      const best = Math.min(...times)
      const budget = variant.length ? BUDGET.verifyNoProbesMs : BUDGET.verifyMs
      if (best > budget) verifyOk = false
      const label = `--verify ${variant.join(' ')}`.trim().padEnd(22)
      console.log(
        `${best <= budget ? '✔' : '✖'} ${label} best ${s(best)} (budget ${s(budget)}); all: ${times.map(s).join(' ')}; ${counts.kubectl} kubectl + ${counts.istioctl} istioctl processes; loads ${loads.join(' | ')}`,
      )
    }
  } finally {
    await audited?.sim.stop()
  }
  const state = JSON.parse(readFileSync(join(audited!.dir, 'state.json'), 'utf8'))
  void state
  process.exitCode = roundsOk && fullOk && verifyOk ? 0 : 1
}

await main()
