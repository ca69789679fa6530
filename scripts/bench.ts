// `npm run bench`: the start-up benchmark (scripts/bench-startup.ts), then the waits, processes and audit times on
// the simulated cluster (scripts/bench-run.ts; its flags pass through: --delay-ms, --rounds, --repeat). Exits 1 when
// either is over its budget. Both run the kubectl the test suite runs (test/kubectl-path.ts): the real binary, not
// the gcloud SDK's version dispatcher, which would measure the dispatcher (it doubles each call's cost, and asks
// the API server for its version even for `kubectl config view`).
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { pathWithDirectKubectl } from '../test/kubectl-path.ts'

const direct = pathWithDirectKubectl()
const env = direct ? { ...process.env, PATH: direct.PATH } : process.env
if (direct) console.log(direct.said)
const run = (script: string, args: string[] = []) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, script), ...args], {
    stdio: 'inherit',
    env,
  }).status ?? 1
const startup = run('bench-startup.ts')
console.log()
const waits = run('bench-run.ts', process.argv.slice(2))
process.exitCode = startup || waits ? 1 : 0
