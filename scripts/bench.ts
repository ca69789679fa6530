// `npm run bench`: the start-up benchmark (scripts/bench-startup.ts), then the waits, processes and audit times on
// the simulated cluster (scripts/bench-run.ts; its flags pass through: --delay-ms, --rounds, --repeat). Exits 1 when
// either is over its budget.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

const run = (script: string, args: string[] = []) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, script), ...args], { stdio: 'inherit' })
    .status ?? 1
const startup = run('bench-startup.ts')
console.log()
const waits = run('bench-run.ts', process.argv.slice(2))
process.exitCode = startup || waits ? 1 : 0
