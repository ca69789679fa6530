// Python's http.server as a listening pod runs it: `python3 [-u] -m http.server [PORT] [--bind ADDR]
// [--directory DIR]`, the e2e kit's impostor and decoy decision makers. The pod keeps running; every request
// the network model delivers to its port is answered and logged as the module does.
// Imitates python/cpython v3.13.0 Lib/http/server.py:
// - `test()` prints `Serving HTTP on HOST port PORT (http://HOST:PORT/) ...` when it starts (default port 8000);
// - `BaseHTTPRequestHandler.handle_one_request`: a method without a `do_` handler → `send_error(501,
//   "Unsupported method (%r)")`; `SimpleHTTPRequestHandler` has only `do_GET` and `do_HEAD`;
// - `SimpleHTTPRequestHandler.send_head`: a path that is not a file or directory → `send_error(404, "File not
//   found")`; `/` of a directory → a listing (200);
// - `send_error` logs `code N, message M` (`log_error`), and `log_request` logs `"REQUESTLINE" CODE -`; each log
//   line is `CLIENT_IP - - [DD/Mon/YYYY HH:MM:SS] MESSAGE` on stderr (`log_message`, `log_date_time_string`).
// Simplifications: the served directory is empty (the kit passes --directory /tmp); HTTP/1.1 request lines.
import type { KubeObject } from './store.ts'

interface Request {
  method: string
  path: string
}
interface Response {
  status: number
  body: string
  contentType: string
}

/** The port a pod's first container serves with python's http.server, or undefined when it runs something else. */
export function httpServerPort(pod: KubeObject): number | undefined {
  const container = pod.spec?.containers?.[0]
  const argv: string[] = [...(container?.command ?? []), ...(container?.args ?? [])].map(String)
  if (!/(^|\/)python3?$/.test(argv[0] ?? '') || !/python/.test(String(container?.image ?? ''))) return undefined
  const module = argv.indexOf('-m')
  if (module < 0 || argv[module + 1] !== 'http.server') return undefined
  const rest = argv.slice(module + 2)
  for (let i = 0; i < rest.length; i++) {
    if (/^(-b|--bind|-d|--directory|-p|--protocol)$/.test(rest[i])) i++
    else if (/^\d+$/.test(rest[i])) return Number(rest[i])
  }
  return 8000
}

/** What the module prints on stdout when it starts listening. */
export const httpServerBanner = (port: number) => `Serving HTTP on 0.0.0.0 port ${port} (http://0.0.0.0:${port}/) ...\n`

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
function logDate(now: Date): string {
  const two = (n: number) => String(n).padStart(2, '0')
  return `${two(now.getDate())}/${MONTHS[now.getMonth()]}/${now.getFullYear()} ${two(now.getHours())}:${two(now.getMinutes())}:${two(now.getSeconds())}`
}

/** Answers one request from `clientIp`; returns the response and the lines the module logs for it. */
export function serveHttp(req: Request, clientIp: string, now = new Date()): { response: Response; log: string } {
  const line = (message: string) => `${clientIp} - - [${logDate(now)}] ${message}\n`
  const requestLine = `${req.method} ${req.path} HTTP/1.1`
  const error = (status: number, message: string) => ({
    response: {
      status,
      body: `Error response\nError code: ${status}\nMessage: ${message}.\n`,
      contentType: 'text/html',
    },
    log: line(`code ${status}, message ${message}`) + line(`"${requestLine}" ${status} -`),
  })
  if (req.method !== 'GET' && req.method !== 'HEAD') return error(501, `Unsupported method ('${req.method}')`)
  if (req.path.split('?')[0] !== '/') return error(404, 'File not found')
  return {
    response: { status: 200, body: '<!DOCTYPE HTML>\n<html><body><ul></ul></body></html>\n', contentType: 'text/html' },
    log: line(`"${requestLine}" 200 -`),
  }
}
