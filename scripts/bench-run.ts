// How long the runbook waits, and how many processes it spawns, on the simulated cluster: a full `--yes` run
// with no controller delay and with one (default 2 s), per step the controller rounds it waited beside the
// rounds the cluster forces (with the reason), the kubectl/istioctl processes per run and per audit, and
// `--verify` with and without probes. Runs the published command (dist/; `npm run bench` builds it first).
// Run: npx tsx scripts/bench-run.ts [--delay-ms 2000] [--rounds 3] [--repeat 1]
// Every figure is printed beside the machine's load (uptime), because the machine may be shared.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
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

interface StepFigures {
  durationMs: number
  kubectl: number
  istioctl: number
  /** Commands sent as API requests through the run's kubectl proxy (no process of their own). */
  proxied: number
  /** Controller passes that fell due while the step ran, and how long work waited for them in all. */
  passes: number
  pendingMs: number
}

interface RunFigures {
  totalMs: number
  steps: Map<StepId, StepFigures>
  kubectl: number
  istioctl: number
  proxied: number
  load: string
}

interface World {
  sim: Simulator
  flags: string[]
  dir: string
  run(extra: string[], onLine?: (line: string) => void): Promise<ProcessResult & { ms: number }>
  /** Stops the simulator and removes the world's files (the state, the installed istioctl). */
  stop(): Promise<void>
}

async function startWorld(): Promise<World> {
  const sim = await startSimulator({ cni: 'calico' })
  const dir = mkdtempSync(join(tmpdir(), 'runbook-bench-'))
  const flags = runbookFlags(sim, join(dir, 'bin'), join(dir, 'state.json'))
  return {
    sim,
    flags,
    dir,
    async stop() {
      await sim.stop()
      rmSync(dir, { recursive: true, force: true })
    },
    async run(extra, onLine) {
      const started = performance.now()
      let seen = 0
      const result = await runCommand(process.execPath, [bin, ...flags, ...extra], {
        cwd: dir,
        env: { ...process.env, ...sim.env, CI: 'true', NO_COLOR: '1' },
        timeoutMs: 600_000,
        // Each event as it arrives, so the simulator's counters can be read at the step's start and end.
        onStdout: (sofar) => {
          const end = sofar.lastIndexOf('\n') + 1
          if (end <= seen) return
          for (const line of sofar.slice(seen, end).split('\n')) if (line) onLine?.(line)
          seen = end
        },
      })
      return { ...result, ms: performance.now() - started }
    },
  }
}

/** What a command event counts as: a process of kubectl or istioctl, or API requests through the kubectl proxy. */
const commandOf = (event: { argv: string[]; via?: string }) =>
  event.via ? 'proxied' : event.argv[0].endsWith('istioctl') ? 'istioctl' : 'kubectl'

/** Follows the JSON events of a run (-o json -v): step durations, commands spawned and controller passes per step. */
function follower(sim: Simulator) {
  const steps: RunFigures['steps'] = new Map()
  let current: StepId | undefined
  let atStart = sim.controllerStats()
  const counts = { kubectl: 0, istioctl: 0, proxied: 0 }
  const onLine = (line: string) => {
    if (!line.startsWith('{')) return
    const event = JSON.parse(line)
    if (event.event === 'step-start') {
      current = event.step
      atStart = sim.controllerStats()
      steps.set(event.step, { durationMs: 0, kubectl: 0, istioctl: 0, proxied: 0, passes: 0, pendingMs: 0 })
    } else if (event.event === 'step-end') {
      const now = sim.controllerStats()
      const step = steps.get(event.step)!
      step.durationMs = event.durationMs
      step.passes = now.passes - atStart.passes
      step.pendingMs = now.pendingMs - atStart.pendingMs
    } else if (event.event === 'command') {
      const which = commandOf(event)
      counts[which]++
      const step = current && steps.get(current)
      if (step) step[which]++
    }
  }
  return {
    onLine,
    figures: (ms: number, loadAtStart: string): RunFigures => ({ totalMs: ms, steps, ...counts, load: loadAtStart }),
  }
}

async function fullRun(delayMs: number): Promise<RunFigures & { world: World }> {
  const world = await startWorld()
  world.sim.faults.controllerDelayMs = delayMs
  const loadAtStart = load()
  const follow = follower(world.sim)
  const result = await world.run(['--yes', '-o', 'json', '-v'], follow.onLine)
  if (result.code !== 0) {
    await world.stop()
    throw new Error(`the full run at ${delayMs} ms controller delay exited ${result.code}:\n${result.stderr}`)
  }
  return { ...follow.figures(result.ms, loadAtStart), world }
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

const pad = (text: string | number, width: number) => String(text).padStart(width)

async function main() {
  console.log(`node ${process.version}; load average at start: ${load()}`)
  const quiet: RunFigures[] = []
  const delayed: RunFigures[] = []
  let audited: World | undefined
  for (let i = 0; i < REPEAT; i++) {
    const run = await fullRun(0)
    quiet.push(run)
    if (audited) await run.world.stop()
    else audited = run.world
    const slow = await fullRun(DELAY_MS)
    delayed.push(slow)
    await slow.world.stop()
  }
  const base = fastest(quiet)
  const late = fastest(delayed)
  const D = DELAY_MS / 1000

  console.log(`
Full --yes run, per step, without and with a ${D}s controller delay (the simulator's faults.controllerDelayMs):
  waited  = (time at ${D}s delay − time without) / ${D}s: the controller rounds the step waited for (wall clock:
            load adds noise of (its slowdown) / ${D}s; on a busy machine use a longer --delay-ms, e.g. 10000)
  passes  = controller passes that ran while the step ran at ${D}s delay (counted by the simulator; a pass that
            changes something is followed by another, so this is at least the rounds waited)
  forced  = the rounds the cluster forces on this step, and why (scripts/forced-rounds.ts)
  kubectl, istioctl = processes the step spawned (no delay; the run's kubectl proxy counts once, where it starts)
  proxied = commands the step sent as API requests through that proxy instead of a process each`)
  console.log(
    `${'step'.padEnd(18)} ${pad('no delay', 9)} ${pad(`${D}s delay`, 9)} ${pad('waited', 6)} ${pad('passes', 6)} ${pad('forced', 6)} ${pad('kubectl', 7)} ${pad('istioctl', 8)} ${pad('proxied', 7)}  why the cluster forces it`,
  )
  const total = { waited: 0, passes: 0, forced: 0 }
  for (const id of STEP_IDS) {
    const a = base.steps.get(id)
    const b = late.steps.get(id)
    if (!a || !b) continue
    const waited = (b.durationMs - a.durationMs) / DELAY_MS
    const forced = FORCED_ROUNDS[id]
    total.waited += waited
    total.passes += b.passes
    total.forced += forced.rounds
    console.log(
      `${id.padEnd(18)} ${pad(s(a.durationMs), 9)} ${pad(s(b.durationMs), 9)} ${pad(waited.toFixed(1), 6)} ${pad(b.passes, 6)} ${pad(forced.rounds, 6)} ${pad(a.kubectl, 7)} ${pad(a.istioctl, 8)} ${pad(a.proxied, 7)}  ${forced.why}`,
    )
  }
  console.log(
    `${'whole run'.padEnd(18)} ${pad(s(base.totalMs), 9)} ${pad(s(late.totalMs), 9)} ${pad(total.waited.toFixed(1), 6)} ${pad(total.passes, 6)} ${pad(total.forced, 6)} ${pad(base.kubectl, 7)} ${pad(base.istioctl, 8)} ${pad(base.proxied, 7)}  (the command from start to exit)`,
  )
  console.log(
    `load average (1, 5, 15 min) at the start of each run: no delay ${quiet.map((r) => r.load).join(' | ')}; ${D}s delay ${delayed.map((r) => r.load).join(' | ')}`,
  )
  const limit = BUDGET.roundsFactor * total.forced
  const roundsOk = total.waited <= limit
  console.log(
    `${roundsOk ? '✔' : '✖'} rounds waited at ${D}s delay: ${total.waited.toFixed(1)} (budget ${BUDGET.roundsFactor} × ${total.forced} forced = ${limit.toFixed(1)})`,
  )
  const fullOk = base.totalMs <= BUDGET.fullRunNoDelayMs
  console.log(
    `${fullOk ? '✔' : '✖'} full run without controller delay ${s(base.totalMs)} (budget ${s(BUDGET.fullRunNoDelayMs)})`,
  )

  console.log(`\n--verify of the hardened cluster (no controller delay), best of ${ROUNDS}:`)
  let verifyOk = true
  try {
    for (const variant of [[], ['--no-probes']]) {
      const times: number[] = []
      const loads: string[] = []
      let counts = { kubectl: 0, istioctl: 0, proxied: 0 }
      for (let i = 0; i < ROUNDS; i++) {
        loads.push(load())
        const follow = follower(audited!.sim)
        const r = await audited!.run(['--verify', ...variant, '-o', 'json', '-v'], follow.onLine)
        if (r.code !== 0) throw new Error(`--verify ${variant.join(' ')} exited ${r.code}:\n${r.stderr}`)
        times.push(r.ms)
        const f = follow.figures(r.ms, '')
        counts = { kubectl: f.kubectl, istioctl: f.istioctl, proxied: f.proxied }
      }
      const best = Math.min(...times)
      const budget = variant.length ? BUDGET.verifyNoProbesMs : BUDGET.verifyMs
      if (best > budget) verifyOk = false
      const label = `--verify ${variant.join(' ')}`.trim().padEnd(22)
      console.log(
        `${best <= budget ? '✔' : '✖'} ${label} ${s(best)} (budget ${s(budget)}; each: ${times.map(s).join(' ')}); ${counts.kubectl} kubectl + ${counts.istioctl} istioctl processes, ${counts.proxied} commands through kubectl proxy; load ${loads.join(' | ')}`,
      )
    }
  } finally {
    await audited?.stop()
  }
  process.exitCode = roundsOk && fullOk && verifyOk ? 0 : 1
}

await main()
