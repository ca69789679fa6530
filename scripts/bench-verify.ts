// Measures --verify on the simulated cluster with no controller delay: one full run to set things up, then
// the audit with and without probe pods, a few times each. Prints the times; the budget is 10 s.
// Run: npx tsx scripts/bench-verify.ts [rounds]
import { show, startWorld } from '../test/harness.ts'

const BUDGET_MS = 10_000
const rounds = Number(process.argv[2] ?? 3)
const world = await startWorld({ cni: 'calico', timing: { podStartMs: 0, probeRunMs: 0, rolloutStepMs: 0 } })
try {
  const setup = await world.run([...world.flags, '--yes'], { timeoutMs: 300_000 })
  if (setup.code !== 0) throw new Error(`the full run failed:\n${show(setup)}`)
  for (const variant of [[], ['--no-probes']]) {
    const times: number[] = []
    for (let i = 0; i < rounds; i++) {
      const started = performance.now()
      const r = await world.run([...world.flags, '--verify', ...variant], { timeoutMs: 120_000 })
      times.push(performance.now() - started)
      if (r.code !== 0) throw new Error(`--verify ${variant.join(' ')} exited ${r.code}:\n${show(r)}`)
    }
    const worst = Math.max(...times)
    const label = `--verify ${variant.join(' ')}`.trim().padEnd(22)
    console.log(
      `${label} ${times.map((t) => `${(t / 1000).toFixed(2)}s`).join('  ')}  (worst ${(worst / 1000).toFixed(2)}s, budget ${BUDGET_MS / 1000}s: ${worst <= BUDGET_MS ? 'within' : 'OVER'})`,
    )
  }
} finally {
  await world.stop()
}
