// Drives the real CLI in a real pseudo-terminal: a tmux server on a private socket per session (in a directory of
// its own, removed with it: tmux leaves its socket behind when killed), keys sent with send-keys, the screen read
// with capture-pane. Each session's server is stopped by its own socket.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCommand } from './kit.ts'
import { ensurePackage, runs } from './debian-package.ts'

let tmuxChecked = false
/** The directories of sessions still open: on exit, each one's server is stopped and the directory removed. */
const openSessions = new Set<string>()
process.on('exit', () => {
  for (const dir of openSessions) {
    spawnSync('tmux', ['-S', socketIn(dir), 'kill-server'], { timeout: 5_000 })
    rmSync(dir, { recursive: true, force: true })
  }
})
/** A session's tmux socket, in its own directory. */
const socketIn = (dir: string) => join(dir, 'tmux.sock')

/** tmux is needed for terminal tests (installed when missing). */
export function ensureTmux(): void {
  if (tmuxChecked) return
  ensurePackage('tmux', runs('tmux', '-V'), 'the terminal tests')
  tmuxChecked = true
}

const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)

export class TerminalSession {
  /** Where the program's exit status is written, beside the socket. */
  private readonly statusFile: string

  private constructor(private readonly dir: string) {
    this.statusFile = join(dir, 'status')
  }

  /** Starts `argv` in a 160×50 terminal with `env` (CI removed: this is a person at a terminal). */
  static async start(argv: string[], options: { env: NodeJS.ProcessEnv; cwd: string }): Promise<TerminalSession> {
    ensureTmux()
    const session = new TerminalSession(mkdtempSync(join(tmpdir(), 'gthulhu-runbook-tty-')))
    openSessions.add(session.dir)
    const env: NodeJS.ProcessEnv = { ...options.env, TERM: 'xterm-256color' }
    delete env.CI
    delete env.TMUX
    // The pane first runs a placeholder, so remain-on-exit is set before the program can exit and its last
    // screen stays readable; a wrapper shell writes the program's exit status to a file.
    await session.tmux(
      ['-f', '/dev/null', 'new-session', '-d', '-s', 'main', '-x', '160', '-y', '50', '-c', options.cwd, 'sleep 600'],
      env,
    )
    await session.tmux(['set-option', '-t', 'main', 'remain-on-exit', 'on'], env)
    // The wrapper traps SIGINT so that Ctrl-C reaches only the program, and the exit status is still written.
    const wrapped = `trap true INT; ${argv.map(quote).join(' ')}; echo $? > ${quote(session.statusFile)}`
    await session.tmux(['respawn-pane', '-k', '-t', 'main', '-c', options.cwd, wrapped], env)
    return session
  }

  private async tmux(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
    const result = await runCommand('tmux', ['-S', socketIn(this.dir), ...args], { env, timeoutMs: 10_000 })
    if (result.code !== 0) throw new Error(`tmux ${args[0]} failed: ${result.stderr}`)
    return result.stdout
  }

  /** The whole scrollback and screen, wrapped lines joined. */
  screen(): Promise<string> {
    return this.tmux(['capture-pane', '-p', '-J', '-t', 'main', '-S', '-3000'])
  }

  /** Sends tmux key names (Enter, Down, C-c) or literal text. */
  async keys(...keys: string[]): Promise<void> {
    for (const key of keys) await this.tmux(['send-keys', '-t', 'main', key])
  }

  /**
   * Waits until the screen matches; returns it. Fails with the screen when it doesn't in time. The default allows
   * for a loaded machine: a run's first prompt comes after a dozen kubectl calls, each seconds long there.
   */
  async waitFor(pattern: RegExp, timeoutMs = 120_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    let screen = ''
    while (Date.now() < deadline) {
      screen = await this.screen()
      if (pattern.test(screen)) return screen
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`the terminal never showed ${pattern} within ${timeoutMs}ms; it shows:\n${screen}`)
  }

  /** Waits for the program to exit and returns its exit status. */
  async exitCode(timeoutMs = 120_000): Promise<number> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const status = existsSync(this.statusFile) ? readFileSync(this.statusFile, 'utf8').trim() : ''
      if (status !== '') return Number(status)
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`the program did not exit within ${timeoutMs}ms; screen:\n${await this.screen()}`)
  }

  /** The pid of the program in the pane (to check what it left running). */
  async pid(): Promise<number> {
    return Number((await this.tmux(['display-message', '-p', '-t', 'main', '#{pane_pid}'])).trim())
  }

  /** Stops this session's tmux server (and so the program), by its private socket. */
  async close(): Promise<void> {
    await runCommand('tmux', ['-S', socketIn(this.dir), 'kill-server'], { timeoutMs: 10_000 }).catch(() => undefined)
    openSessions.delete(this.dir)
    rmSync(this.dir, { recursive: true, force: true })
  }
}
