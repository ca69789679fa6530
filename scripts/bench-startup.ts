// Start-up benchmark of the published command: --help, --version and --list against bare `node -e 0`, each the
// median of several runs, interleaved so machine load affects all alike. Prints the ratios; exits 1 when one
// exceeds the budget (3×). --list reads only the kubeconfig and the local copy. --list --context is shown too, not
// judged: it reads the record from the cluster, so it loads the command runner (zx) and waits on one kubectl process;
// that read is timed on its own and taken out of what is shown. Run with `npm run bench` (it builds dist/ first).
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCommand } from '../test/kit.ts'
import { startSimulator } from '../test/sim/index.ts'

const root = join(import.meta.dirname, '..')
const bin = join(root, 'bin', 'gthulhu-runbook.mjs')
const RUNS = Number(process.env.BENCH_RUNS ?? 15)
const BUDGET = 3

if (!existsSync(join(root, 'dist', 'runbook.js'))) {
  console.error('dist/ is missing: run `npm run build` first (npm run bench does)')
  process.exit(2)
}

// --list reads the kubeconfig, and with --context the record kept in the cluster: give it the simulated cluster, so
// it measures that read and not a wait on an unreachable server.
const sim = await startSimulator({})
const dir = mkdtempSync(join(tmpdir(), 'runbook-bench-'))

const RECORD_READ = 'kubectl get (the record)'
const LIST_CONTEXT = '--list --context'
const connection = ['--kubeconfig', sim.kubeconfig, '--context', sim.context]
// [name, command, args]: the record's read is the one --list --context sends (lib/run/record.ts), as a command of
// its own.
const cases: [string, string, string[]][] = [
  ['node -e 0', process.execPath, ['-e', '0']],
  ['--help', process.execPath, [bin, '--help']],
  ['--version', process.execPath, [bin, '--version']],
  ['--list', process.execPath, [bin, '--list', '--kubeconfig', sim.kubeconfig]],
  [LIST_CONTEXT, process.execPath, [bin, '--list', ...connection]],
  [
    RECORD_READ,
    'kubectl',
    [...connection, 'get', 'secrets', '-n', 'default', '-l', 'owner=gthulhu-runbook', '-o', 'json'],
  ],
]
const samples = new Map<string, number[]>(cases.map(([name]) => [name, []]))
try {
  for (let run = 0; run < RUNS; run++) {
    for (const [name, command, args] of cases) {
      const started = process.hrtime.bigint()
      // Not spawnSync: the simulator answers from this process's event loop.
      const result = await runCommand(command, args, { cwd: dir, timeoutMs: 30_000 })
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      if (result.code !== 0) {
        console.error(`${name} exited ${result.code}:\n${result.stderr}`)
        process.exit(1)
      }
      samples.get(name)!.push(ms)
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
  await sim.stop()
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const baseline = median(samples.get('node -e 0')!)
let over = false
console.log(`node ${process.version}, median of ${RUNS} runs`)
const recordRead = median(samples.get(RECORD_READ)!)
for (const [name] of cases) {
  if (name === RECORD_READ) continue
  const ms = median(samples.get(name)!)
  const own = name === LIST_CONTEXT ? ms - recordRead : ms
  const ratio = own / baseline
  const judged = name !== 'node -e 0' && name !== LIST_CONTEXT
  if (judged && ratio > BUDGET) over = true
  const note =
    name === LIST_CONTEXT
      ? `  (not judged: ${ms.toFixed(0)} ms less its record read, ${recordRead.toFixed(0)} ms; it loads zx to run it)`
      : ''
  console.log(`${name.padEnd(16)} ${own.toFixed(0).padStart(5)} ms  ${ratio.toFixed(2)}×${note}`)
}
console.log(over ? `✖ over the ${BUDGET}× budget` : `✔ within the ${BUDGET}× budget`)
process.exitCode = over ? 1 : 0
