// `npm run demo -- [runbook flags]`: the runbook against a fresh simulated cluster. Starts the simulator in
// process, runs `runbook.ts` as a child with stdio inherited and the simulator's kubeconfig, mirrors and a
// scratch install dir and state file, and exits with the runbook's exit code.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { startSimulator } from './index.ts'

const root = join(import.meta.dirname, '..', '..')
const runbook = join(root, 'runbook.ts')
const RUNBOOK_TIMEOUT_MS = 60 * 60_000

async function main(): Promise<number> {
  const sim = await startSimulator()
  try {
    if (!existsSync(runbook)) {
      console.log(`runbook.ts does not exist yet. The simulated cluster is up; to use it by hand:
  . ${sim.dir}/env
  kubectl get pods -A
Mirrors: ${sim.istioMirror}  ${sim.gatewayApiMirror}
(stopping it now; run \`npm run sim\` to keep one running)`)
      return 0
    }
    const args = [
      '--import', 'tsx', runbook,
      '--kubeconfig', sim.kubeconfig,
      '--context', sim.context,
      '--istio-mirror', sim.istioMirror,
      '--gateway-api-mirror', sim.gatewayApiMirror,
      '--install-dir', join(sim.dir, 'bin'),
      '--state-file', join(sim.dir, 'state.json'),
      ...process.argv.slice(2),
    ]
    console.error(`demo: simulated cluster at ${sim.apiUrl} (files in ${sim.dir})`)
    return await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...sim.env } })
      const timer = setTimeout(() => {
        console.error('demo: the runbook ran for an hour; stopping it')
        child.kill('SIGTERM')
      }, RUNBOOK_TIMEOUT_MS)
      // Ctrl-C reaches the child through the terminal; the demo just waits for it to finish.
      process.on('SIGINT', () => {})
      child.on('close', (code, signal) => {
        clearTimeout(timer)
        resolve(code ?? (signal ? 130 : 1))
      })
      child.on('error', (error) => {
        clearTimeout(timer)
        console.error(`demo: cannot start the runbook: ${error.message}`)
        resolve(1)
      })
    })
  } finally {
    await sim.stop()
  }
}

process.exitCode = await main()
