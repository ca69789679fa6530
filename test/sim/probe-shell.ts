// Runs a probe pod's command against the network model: a tiny `sh -c` (`;`, `&&`, `||`, quotes, `$?`)
// with the commands connectivity checks use — busybox `nc`, `curl`, `wget`, `echo`, `sleep`, `true`,
// `false`, `exit`. Simulated waits are short so tests stay fast; the result says how long the run "took".
import type { KubeObject } from './store.ts'
import type { HttpRequest, NetworkModel, Outcome } from './network.ts'
import { managerCallsTo, requestText } from './gthulhu-manager.ts'
import { httpServerBanner, httpServerPort } from './http-server.ts'

export interface ProbeRun {
  exitCode: number
  output: string // stdout and stderr interleaved, as `kubectl logs` shows them
  elapsedMs: number
  /** The command is a server that keeps running (python's http.server): the pod does not end. */
  serving?: boolean
}

/** Longest real wait one simulated timeout may take. */
const MAX_WAIT_MS = 400
/** The status of a command that is still waiting (a listener nobody called): `timeout` turns it into 143. */
const LISTENING = -1
const SHELLS = new Set(['sh', '/bin/sh', 'bash', '/bin/bash', 'ash', '/bin/ash'])

/** The command line a pod's first container runs: a shell script, or a direct argv. */
export function commandOf(pod: KubeObject): { script?: string; argv?: string[] } | undefined {
  const container = pod.spec?.containers?.[0]
  const argv: string[] = [...(container?.command ?? []), ...(container?.args ?? [])].map(String)
  if (argv.length === 0) return undefined
  if (SHELLS.has(argv[0])) {
    const c = argv.indexOf('-c')
    if (c > 0 && argv[c + 1] !== undefined) return { script: argv[c + 1] }
  }
  return { argv }
}

interface Word {
  text: string
}
type Token = Word | { op: ';' | '&&' | '||' }

/** Splits a script into words and operators, expanding `$?` and `$NAME` outside single quotes. */
export function tokenize(script: string, lastExit: () => number, env: Record<string, string>): Token[] {
  // Expansion happens per command at run time, so words keep a marker and are expanded lazily.
  const tokens: Token[] = []
  let word = ''
  let inWord = false
  const flush = () => {
    if (inWord) tokens.push({ text: word })
    word = ''
    inWord = false
  }
  const expand = (s: string, i: number): [string, number] => {
    if (s[i + 1] === '?') return [String(lastExit()), i + 2]
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i + 1))
    if (m) return [env[m[0]] ?? '', i + 1 + m[0].length]
    const b = /^\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(s.slice(i + 1))
    if (b) return [env[b[1]] ?? '', i + 1 + b[0].length]
    return ['$', i + 1]
  }
  for (let i = 0; i < script.length; ) {
    const ch = script[i]
    if (ch === "'") {
      const end = script.indexOf("'", i + 1)
      word += script.slice(i + 1, end < 0 ? script.length : end)
      inWord = true
      i = end < 0 ? script.length : end + 1
    } else if (ch === '"') {
      inWord = true
      i++
      while (i < script.length && script[i] !== '"') {
        if (script[i] === '\\' && i + 1 < script.length && '"\\$`'.includes(script[i + 1])) {
          word += script[i + 1]
          i += 2
        } else if (script[i] === '$') {
          const [text, next] = expand(script, i)
          word += text
          i = next
        } else word += script[i++]
      }
      i++
    } else if (ch === '\\' && i + 1 < script.length) {
      word += script[i + 1]
      inWord = true
      i += 2
    } else if (ch === '$') {
      const [text, next] = expand(script, i)
      word += text
      inWord = true
      i = next
    } else if (ch === ';' || ch === '\n') {
      flush()
      tokens.push({ op: ';' })
      i++
    } else if (script.startsWith('&&', i) || script.startsWith('||', i)) {
      flush()
      tokens.push({ op: script.slice(i, i + 2) as '&&' | '||' })
      i += 2
    } else if (ch === ' ' || ch === '\t') {
      flush()
      i++
    } else {
      word += ch
      inWord = true
      i++
    }
  }
  flush()
  return tokens
}

interface CommandResult {
  exitCode: number
  output: string
  waitedMs: number
}

export class ProbeShell {
  constructor(
    private readonly model: NetworkModel,
    private readonly pod: KubeObject,
    private readonly options: { dnsTimesOut?: boolean } = {},
  ) {}

  /**
   * Whether looking `host` up times out (faults.dnsTimesOut): a name, never an IP address. A resolver that gets no
   * answer gives up only after its own timeout and attempts (resolv.conf's defaults: 5 s, twice), so each tool's
   * own, shorter limit ends the command first: curl's --max-time, mongosh's serverSelectionTimeoutMS.
   */
  private lookupTimesOut(host: string): boolean {
    return Boolean(this.options.dnsTimesOut) && !/^\d+\.\d+\.\d+\.\d+$/.test(host) && !host.includes(':')
  }

  private get hasCurl(): boolean {
    // busybox images have nc and wget but no curl.
    const image = String(this.pod.spec?.containers?.[0]?.image ?? '')
    return !/(^|\/)busybox(:|@|$)/.test(image)
  }

  run(): ProbeRun {
    const command = commandOf(this.pod)
    if (!command) return { exitCode: 0, output: '', elapsedMs: 0 }
    const served = httpServerPort(this.pod)
    if (served !== undefined) return { exitCode: 0, output: httpServerBanner(served), elapsedMs: 0, serving: true }
    if (command.argv) {
      const r = this.exec(command.argv)
      return { exitCode: r.exitCode, output: r.output, elapsedMs: r.waitedMs }
    }
    return this.runScript(command.script!)
  }

  runScript(script: string): ProbeRun {
    let last = 0
    let output = ''
    let elapsed = 0
    const env: Record<string, string> = {}
    for (const e of this.pod.spec?.containers?.[0]?.env ?? []) if (e?.name) env[e.name] = String(e.value ?? '')
    // Re-tokenize lazily so `$?` sees the exit code of the command before it.
    const raw = splitCommands(script)
    let skip = false
    for (const { text, op } of raw) {
      if (!skip) {
        const words = tokenize(text, () => last, env)
          .filter((t): t is Word => 'text' in t)
          .map((t) => t.text)
        if (words.length) {
          if (words[0] === 'exit') return { exitCode: Number(words[1] ?? last) || 0, output, elapsedMs: elapsed }
          const r = this.exec(words)
          last = r.exitCode
          output += r.output
          elapsed += r.waitedMs
        }
      }
      skip = (op === '&&' && last !== 0) || (op === '||' && last === 0)
    }
    return { exitCode: last, output, elapsedMs: Math.min(elapsed, 3 * MAX_WAIT_MS) }
  }

  exec(argv: string[]): CommandResult {
    const [name, ...args] = argv
    const base = name.split('/').pop()!
    switch (base) {
      case 'echo': {
        const noNewline = args[0] === '-n'
        return {
          exitCode: 0,
          output: (noNewline ? args.slice(1) : args).join(' ') + (noNewline ? '' : '\n'),
          waitedMs: 0,
        }
      }
      case 'true':
        return { exitCode: 0, output: '', waitedMs: 0 }
      case 'false':
        return { exitCode: 1, output: '', waitedMs: 0 }
      case 'sleep':
        return { exitCode: 0, output: '', waitedMs: Math.min(Number(args[0]) * 1000 || 0, MAX_WAIT_MS) }
      case 'timeout':
        return this.timeout(args)
      case 'nc':
        return this.nc(args)
      case 'curl':
        if (!this.hasCurl) return notFound(name)
        return this.curl(args)
      case 'wget':
        return this.wget(args)
      case 'mongosh':
        // Only MongoDB's own images ship the shell.
        if (!/mongo/.test(String(this.pod.spec?.containers?.[0]?.image ?? ''))) return notFound(name)
        return this.mongosh(args)
      default:
        return notFound(name)
    }
  }

  private connect(host: string, port: number, req?: HttpRequest): Outcome {
    const ns = this.pod.metadata.namespace ?? 'default'
    return this.model.connect(this.model.sourceOfPod(this.pod), ns, host, port, req)
  }

  /**
   * busybox `timeout SECS PROG ARGS`: runs PROG; a PROG still waiting after SECS is killed with TERM and the
   * exit status is 143. Here only a listener waits that long (it received nothing).
   */
  timeout(args: string[]): CommandResult {
    const [secs, ...command] = args
    if (!/^\d+$/.test(secs ?? '') || command.length === 0)
      return { exitCode: 1, output: 'Usage: timeout [-s SIG] SECS PROG ARGS\n', waitedMs: 0 }
    const r = this.exec(command)
    if (r.exitCode !== LISTENING) return r
    return { exitCode: 143, output: r.output, waitedMs: Math.min(Number(secs) * 1000, MAX_WAIT_MS) }
  }

  /**
   * busybox `nc -l -p PORT`: accepts one connection on the pod's port and prints what the peer sent. The only
   * peer modelled is Gthulhu's manager calling a decision maker (../gthulhu-manager.ts): a pod labelled
   * app=decisionmaker whose first container port this is receives the manager's first request if the network
   * lets it through; otherwise it keeps listening (exit status LISTENING, which `timeout` ends).
   */
  private listen(args: string[]): CommandResult {
    const p = args.indexOf('-p')
    const port = Number(p >= 0 ? args[p + 1] : args.find((a) => /^\d+$/.test(a)))
    if (!Number.isInteger(port)) return { exitCode: 1, output: 'nc: bad port\n', waitedMs: 0 }
    const call = managerCallsTo(this.model, this.pod).find((c) => c.delivered && c.port === port)
    if (call) return { exitCode: 0, output: requestText(call), waitedMs: 0 }
    return { exitCode: LISTENING, output: '', waitedMs: MAX_WAIT_MS }
  }

  /** busybox `nc [-z] [-v] [-w SECS] HOST PORT`, or `nc -l -p PORT` (listen). */
  nc(args: string[]): CommandResult {
    if (args.includes('-l') || args.some((a) => /^-l[p]?$/.test(a))) return this.listen(args)
    let verbose = false
    let waitSecs = 0
    const positional: string[] = []
    for (let i = 0; i < args.length; i++) {
      const a = args[i]
      if (/^-[zvnw]+\d*$/.test(a)) {
        if (a.includes('v')) verbose = true
        const inline = /w(\d+)$/.exec(a)
        if (inline) waitSecs = Number(inline[1])
        else if (a.endsWith('w')) waitSecs = Number(args[++i])
      } else if (a.startsWith('-')) {
        return {
          exitCode: 1,
          output: `nc: unrecognized option '${a}'\nBusyBox v1.36.1 multi-call binary.\n`,
          waitedMs: 0,
        }
      } else positional.push(a)
    }
    const [host, portText] = positional
    const port = Number(portText)
    if (!host || !Number.isInteger(port))
      return { exitCode: 1, output: 'Usage: nc [OPTIONS] HOST [PORT]\n', waitedMs: 0 }
    const wait = Math.min((waitSecs || 3) * 1000, MAX_WAIT_MS)
    if (this.lookupTimesOut(host)) return { exitCode: 1, output: `nc: bad address '${host}'\n`, waitedMs: MAX_WAIT_MS }
    const outcome = this.connect(host, port)
    switch (outcome.kind) {
      case 'unresolved':
        return { exitCode: 1, output: `nc: bad address '${host}'\n`, waitedMs: 0 }
      case 'open':
      case 'http':
        return { exitCode: 0, output: verbose ? `${host} (${outcome.ip}:${port}) open\n` : '', waitedMs: 0 }
      case 'closed':
        // The client's own ztunnel accepted the connection; -z closes it before the failure behind it shows.
        return { exitCode: 0, output: verbose ? `${host} (${outcome.ip ?? host}:${port}) open\n` : '', waitedMs: 0 }
      case 'refused':
        return {
          exitCode: 1,
          output: verbose ? `nc: ${host} (${outcome.ip}:${port}): Connection refused\n` : '',
          waitedMs: 0,
        }
      case 'reset':
        return {
          exitCode: 1,
          output: verbose ? `nc: ${host} (${outcome.ip}:${port}): Connection reset by peer\n` : '',
          waitedMs: 0,
        }
      case 'dropped':
        return {
          exitCode: 1,
          output: verbose ? `nc: ${host} (${outcome.ip}:${port}): Connection timed out\n` : '',
          waitedMs: wait,
        }
    }
  }

  /** curl with -s -S -f -o -w -H -A -X -m/--max-time --connect-timeout -I (HEAD), http:// URLs. */
  curl(args: string[]): CommandResult {
    let silent = false
    let showError = false
    let fail = false
    let discardBody = false
    let writeOut = ''
    let method = 'GET'
    let maxTime = 0
    let url = ''
    const headers: Record<string, string> = { 'user-agent': 'curl/8.11.1', accept: '*/*' }
    for (let i = 0; i < args.length; i++) {
      const a = args[i]
      const value = () => args[++i] ?? ''
      if (a === '-o' || a === '--output') {
        value() // the body goes to a file in the pod, not to the log
        discardBody = true
      } else if (a === '-w' || a === '--write-out') writeOut = value()
      else if (a === '-H' || a === '--header') {
        const h = value()
        const colon = h.indexOf(':')
        if (colon > 0) headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim()
      } else if (a === '-A' || a === '--user-agent') headers['user-agent'] = value()
      else if (a === '-X' || a === '--request') method = value()
      else if (a === '-m' || a === '--max-time' || a === '--connect-timeout') maxTime = Number(value())
      else if (a === '-I' || a === '--head') method = 'HEAD'
      else if (a === '--silent') silent = true
      else if (a === '--show-error') showError = true
      else if (a === '--fail') fail = true
      else if (/^-[sSfLkvI]+$/.test(a)) {
        if (a.includes('s')) silent = true
        if (a.includes('S')) showError = true
        if (a.includes('f')) fail = true
        if (a.includes('I')) method = 'HEAD'
      } else if (a.startsWith('-')) return { exitCode: 2, output: `curl: option ${a}: is unknown\n`, waitedMs: 0 }
      else url = a
    }
    const err = (code: number, message: string, waitedMs = 0): CommandResult => ({
      exitCode: code,
      output: formatWriteOut(writeOut, '000') + (!silent || showError ? `curl: (${code}) ${message}\n` : ''),
      waitedMs,
    })
    const parsed = /^(?:(https?):\/\/)?([^/:?#]+)(?::(\d+))?([^#]*)?$/.exec(url)
    if (!url || !parsed) return err(3, `URL rejected: Malformed input to a URL function`)
    const [, scheme = 'http', host, portText, rest] = parsed
    if (scheme === 'https') return err(35, 'OpenSSL/3.3.2: error:0A00010B:SSL routines::wrong version number')
    const port = Number(portText ?? 80)
    const path = rest && rest.length ? (rest.startsWith('/') ? rest : '/' + rest) : '/'
    const wait = Math.min((maxTime || 3) * 1000, MAX_WAIT_MS)
    // curl's own wording when its limit ends the lookup (curl curl-8_11_1 lib/multi.c, multi_handle_timeout).
    if (this.lookupTimesOut(host))
      return err(28, `Resolving timed out after ${(maxTime || 3) * 1000} milliseconds`, wait)
    const outcome = this.connect(host, port, { method, path, host, headers })
    switch (outcome.kind) {
      case 'unresolved':
        return err(6, `Could not resolve host: ${host}`)
      case 'refused':
        return err(7, `Failed to connect to ${host} port ${port} after 0 ms: Couldn't connect to server`)
      case 'dropped':
        return err(28, `Connection timed out after ${(maxTime || 3) * 1000} milliseconds`, wait)
      case 'reset':
      case 'closed': // accepted by the client's ztunnel, then closed before any response
        return err(56, 'Recv failure: Connection reset by peer')
      case 'open':
        return err(52, 'Empty reply from server')
      case 'http': {
        const { status, body } = outcome.response
        if (fail && status >= 400) return err(22, `The requested URL returned error: ${status}`)
        const shownBody = discardBody || method === 'HEAD' ? '' : body
        return { exitCode: 0, output: shownBody + formatWriteOut(writeOut, String(status)), waitedMs: 0 }
      }
    }
  }

  /** busybox `wget [-q] [-O FILE|-O-] [-T SECS|--timeout=SECS] [-S] URL`. */
  wget(args: string[]): CommandResult {
    let quiet = false
    let toStdout = false
    let url = ''
    for (let i = 0; i < args.length; i++) {
      const a = args[i]
      if (a === '-q') quiet = true
      else if (a === '-O') toStdout = args[++i] === '-'
      else if (a === '-O-' || a === '-qO-') {
        toStdout = true
        quiet ||= a === '-qO-'
      } else if (a === '-T') i++
      else if (a.startsWith('--timeout=') || a === '--spider' || a === '-S') continue
      else if (a.startsWith('-')) return { exitCode: 1, output: `wget: unrecognized option '${a}'\n`, waitedMs: 0 }
      else url = a
    }
    const parsed = /^(?:http:\/\/)?([^/:?#]+)(?::(\d+))?(\/[^#]*)?$/.exec(url)
    if (!parsed) return { exitCode: 1, output: `wget: bad address '${url}'\n`, waitedMs: 0 }
    const [, host, portText, path = '/'] = parsed
    const port = Number(portText ?? 80)
    if (this.lookupTimesOut(host))
      return { exitCode: 1, output: `wget: bad address '${host}'\n`, waitedMs: MAX_WAIT_MS }
    const outcome = this.connect(host, port, { method: 'GET', path, host, headers: { 'user-agent': 'Wget' } })
    const note = quiet ? '' : `Connecting to ${host}:${port}\n`
    switch (outcome.kind) {
      case 'unresolved':
        return { exitCode: 1, output: `wget: bad address '${host}'\n`, waitedMs: 0 }
      case 'refused':
        return {
          exitCode: 1,
          output: note + `wget: can't connect to remote host (${outcome.ip}): Connection refused\n`,
          waitedMs: 0,
        }
      case 'dropped':
        return { exitCode: 1, output: note + 'wget: download timed out\n', waitedMs: MAX_WAIT_MS }
      case 'reset':
      case 'closed':
      case 'open':
        return { exitCode: 1, output: note + 'wget: error getting response: Connection reset by peer\n', waitedMs: 0 }
      case 'http': {
        const { status, body } = outcome.response
        if (status >= 400)
          return { exitCode: 1, output: note + `wget: server returned error: HTTP/1.1 ${status}\n`, waitedMs: 0 }
        return { exitCode: 0, output: note + (toStdout ? body : ''), waitedMs: 0 }
      }
    }
  }

  /**
   * `mongosh [--quiet] [--norc] [--eval EXPR] mongodb://HOST:PORT/...`: the driver connects and sends a
   * wire-protocol hello; only a MongoDB that answers it makes the shell print the expression's value (1).
   */
  mongosh(args: string[]): CommandResult {
    const uri = args.find((a) => a.startsWith('mongodb://'))
    const parsed = uri && /^mongodb:\/\/([^/:?,]+)(?::(\d+))?/.exec(uri)
    if (!parsed)
      return {
        exitCode: 1,
        output: `MongoParseError: Invalid scheme, expected connection string to start with "mongodb://"\n`,
        waitedMs: 0,
      }
    const [, host, portText] = parsed
    const port = Number(portText ?? 27017)
    const fail = (message: string, waitedMs = 0): CommandResult => ({
      exitCode: 1,
      output: `MongoServerSelectionError: ${message}\n`,
      waitedMs,
    })
    // The driver's server selection gives up before the lookup does, with the same words as for a dropped connection.
    const selectionMs = Number(/[?&]serverSelectionTimeoutMS=(\d+)/.exec(uri!)?.[1] ?? 30000)
    if (this.lookupTimesOut(host)) return fail(`Server selection timed out after ${selectionMs} ms`, MAX_WAIT_MS)
    const outcome = this.connect(host, port)
    const address = `${'ip' in outcome && outcome.ip ? outcome.ip : host}:${port}`
    switch (outcome.kind) {
      case 'unresolved':
        return fail(`getaddrinfo ENOTFOUND ${host}`)
      case 'refused':
        return fail(`connect ECONNREFUSED ${address}`)
      case 'dropped':
        return fail('Server selection timed out after 5000 ms', MAX_WAIT_MS)
      case 'reset':
        return fail('read ECONNRESET')
      case 'closed':
        return fail(`connection 1 to ${address} closed`)
      case 'http':
        return fail(`connection 1 to ${address} closed`)
      case 'open':
        // Something answered the connect; only MongoDB itself (a TCP-only app here) answers the hello.
        return outcome.tcpOnly ? { exitCode: 0, output: '1\n', waitedMs: 0 } : fail(`connection 1 to ${address} closed`)
    }
  }
}

const notFound = (name: string): CommandResult => ({ exitCode: 127, output: `sh: ${name}: not found\n`, waitedMs: 0 })

function formatWriteOut(format: string, code: string): string {
  return format
    .replace(/%\{(http_code|response_code)\}/g, code)
    .replace(/\\n/g, '\n')
    .replace(/\\t/g, '\t')
}

/** Splits a script at top-level `;`, newlines, `&&`, `||` (not inside quotes). */
function splitCommands(script: string): { text: string; op?: ';' | '&&' | '||' }[] {
  const out: { text: string; op?: ';' | '&&' | '||' }[] = []
  let current = ''
  let quote: string | undefined
  for (let i = 0; i < script.length; i++) {
    const ch = script[i]
    if (quote) {
      if (ch === '\\' && quote === '"' && i + 1 < script.length) {
        current += ch + script[++i]
        continue
      }
      if (ch === quote) quote = undefined
      current += ch
    } else if (ch === "'" || ch === '"') {
      quote = ch
      current += ch
    } else if (ch === '\\' && i + 1 < script.length) {
      current += ch + script[++i]
    } else if (ch === ';' || ch === '\n') {
      out.push({ text: current, op: ';' })
      current = ''
    } else if (script.startsWith('&&', i) || script.startsWith('||', i)) {
      out.push({ text: current, op: script.slice(i, i + 2) as '&&' | '||' })
      current = ''
      i++
    } else current += ch
  }
  out.push({ text: current })
  return out
}
