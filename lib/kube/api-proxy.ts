// One `kubectl proxy` for a run: kubectl authenticates (kubeconfig, exec plugins, client certificates) and the
// runbook sends its reads and writes as HTTP requests through it, instead of starting a kubectl process for each
// (about 0.1 CPU-second apiece). The proxy listens on a Unix socket in a directory only this user can open, so no
// other local user borrows the operator's credentials through it, and it dies with the runbook: a small shell
// waits on a pipe from the runbook and stops kubectl when that pipe closes, however the runbook ended.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { Agent, request, type IncomingMessage } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface ApiAnswer {
  status: number
  body: string
}

export interface ApiRequest {
  method?: string
  body?: string
  contentType?: string
  headers?: Record<string, string | string[]>
  timeoutMs: number
  signal?: AbortSignal
}

// $1 is the socket's directory, the rest kubectl's command line. kubectl stops when the runbook's end of stdin
// closes (the reader gets end of file); when kubectl ends first, the reader is stopped instead, so it never signals
// a process id that may have been reused. Either way the directory goes with kubectl. The shell's own stderr is
// /dev/null (kubectl keeps the pipe): its "Terminated" into the pipe of a killed runbook would stop it before rm.
const GUARD = [
  'd=$1; shift; exec 3<&0 4>&2 2>/dev/null',
  '"$@" </dev/null 2>&4 & k=$!',
  '{ read -r _ <&3; kill "$k"; } >/dev/null 2>&1 & r=$!',
  'wait "$k"; s=$?; kill "$r" 2>/dev/null; rm -rf "$d"; exit $s',
].join('\n')

/** The proxies still running: their sockets' directories are removed however the process exits. */
const running = new Set<ApiProxy>()
let removeAtExit = false

export class ApiProxy {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 32 })
  /** False once kubectl proxy has exited (killed from outside, say): commands then run as kubectl processes. */
  alive = true

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly socket: string,
  ) {}

  /**
   * Starts `kubectl proxy` with the given kubectl command line (kubectl and its connection flags) and waits until
   * it serves; rejects with kubectl's own words when it does not start within `timeoutMs`.
   */
  static start(kubectl: string[], options: { timeoutMs: number; ownProcessGroup?: boolean }): Promise<ApiProxy> {
    const dir = mkdtempSync(join(tmpdir(), 'gthulhu-runbook-api-'))
    const socket = join(dir, 'api.sock')
    const child = spawn('sh', ['-c', GUARD, 'sh', dir, ...kubectl, 'proxy', `--unix-socket=${socket}`], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: options.ownProcessGroup ?? false,
    })
    const proxy = new ApiProxy(child, dir, socket)
    running.add(proxy)
    if (!removeAtExit) {
      removeAtExit = true
      process.once('exit', () => {
        for (const p of running) p.stop()
      })
    }
    return new Promise((resolve, reject) => {
      let said = ''
      const fail = (why: string) => {
        clearTimeout(timer)
        proxy.stop()
        reject(new Error(`kubectl proxy did not start: ${why}`))
      }
      const timer = setTimeout(() => fail(`no answer within ${options.timeoutMs / 1000}s`), options.timeoutMs)
      child.stdout!.setEncoding('utf8')
      child.stderr!.setEncoding('utf8')
      child.stdout!.on('data', (chunk: string) => {
        said += chunk
        if (!said.includes('Starting to serve on')) return
        clearTimeout(timer)
        // The proxy lives as long as the run needs it, without keeping the runbook from exiting.
        for (const handle of [child, child.stdin, child.stdout, child.stderr]) (handle as { unref?(): void })?.unref?.()
        resolve(proxy)
      })
      child.stderr!.on('data', (chunk) => (said += chunk))
      child.on('error', (error) => fail(error.message))
      child.on('exit', (code) => {
        proxy.alive = false
        fail(said.trim() || `it exited ${code}`)
      })
    })
  }

  /** One request; the answer whatever its status. Rejects when no answer came (proxy gone, timeout, abort). */
  request(path: string, options: ApiRequest): Promise<ApiAnswer> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socket,
          path,
          method: options.method ?? 'GET',
          agent: this.agent,
          headers: {
            ...options.headers,
            accept: 'application/json',
            // Node sends no length with a DELETE's body: the proxy would read the body as the next request.
            ...(options.body !== undefined
              ? {
                  'content-type': options.contentType ?? 'application/json',
                  'content-length': Buffer.byteLength(options.body),
                }
              : {}),
          },
          signal: options.signal,
        },
        (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (chunk) => (body += chunk))
          res.on('end', () => {
            clearTimeout(deadline)
            resolve({ status: res.statusCode ?? 0, body })
          })
          res.on('error', (error) => {
            clearTimeout(deadline)
            reject(error)
          })
        },
      )
      // A deadline for the whole exchange, as a kubectl process has: an answer that trickles in is cut off too.
      const deadline = setTimeout(
        () => req.destroy(new Error(`timed out after ${Math.round(options.timeoutMs / 1000)}s`)),
        options.timeoutMs,
      )
      req.on('error', (error) => {
        clearTimeout(deadline)
        reject(error)
      })
      req.end(options.body)
    })
  }

  /** A streaming GET (a watch): each chunk as it arrives; settles when the stream ends, fails or is aborted. */
  stream(
    path: string,
    onChunk: (chunk: string) => void,
    signal: AbortSignal,
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve) => {
      const req = request({ socketPath: this.socket, path, agent: this.agent, signal }, (res: IncomingMessage) => {
        res.setEncoding('utf8')
        let body = ''
        res.on('data', (chunk: string) => (res.statusCode === 200 ? onChunk(chunk) : (body += chunk)))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
        res.on('error', () => resolve({ status: res.statusCode ?? 0, body }))
        res.on('close', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      req.on('error', (error) => resolve({ status: 0, body: error.message }))
      req.end()
    })
  }

  /** Stops the proxy (through its guard) and removes its socket's directory. */
  stop(): void {
    this.alive = false
    running.delete(this)
    this.agent.destroy()
    this.child.stdin?.destroy()
    rmSync(this.dir, { recursive: true, force: true })
  }
}
