// Shared test helpers: run the real kubectl (and other CLIs) against a simulated cluster with a timeout.
import { spawn } from 'node:child_process'

export interface ProcessResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command with a hard timeout (its whole process group is killed on expiry). */
export function runCommand(
  command: string,
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv
    input?: string
    timeoutMs?: number
    cwd?: string
    onStdout?: (stdoutSoFar: string) => void
    /** Nobody reads stdout: its reader is gone before the command writes (as in `command | head` once head left). */
    closedStdout?: boolean
  } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    })
    if (options.closedStdout) child.stdout.destroy()
    let stdout = ''
    let stderr = ''
    // Decoded as streams: a character split between two reads stays whole.
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      options.onStdout?.(stdout)
    })
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {}
      reject(
        new Error(
          `${command} ${args.join(' ')} timed out after ${options.timeoutMs ?? 30_000}ms\n${stdout}\n${stderr}`,
        ),
      )
    }, options.timeoutMs ?? 30_000)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.on('error', () => undefined) // a child that exits without reading its input is not an error
    child.stdin.end(options.input ?? '')
  })
}

/** Runs the real kubectl against a kubeconfig (and its discovery cache dir) from the simulator's env. */
export function kubectl(
  env: Record<string, string>,
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
) {
  return runCommand('kubectl', args, { ...options, env: { ...process.env, ...env } })
}
