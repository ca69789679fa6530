// Fault injection for the simulated cluster: tests (in-process, or over HTTP at POST /sim/faults) arm
// these to exercise the runbook's retries, timeouts and resume paths.

/** Make matching API requests fail (or wait) `times` times, then behave normally. */
export interface ApiFault {
  method?: string // e.g. 'PATCH'; any method when absent
  pathIncludes: string // substring of the request path, e.g. '/networkpolicies'
  failWith?: 500 | 503 | 'reset' // HTTP status (a Status body), or a connection reset without a response
  /** In-process only: a slow API server — the request is held (arrived() is called) until `released`, then served. */
  hold?: { arrived: () => void; released: Promise<unknown> }
  times: number
}

export interface Faults {
  api: ApiFault[]
  /** Workloads (by name) whose rollouts never converge after a restart. */
  rolloutNeverConverges: string[]
  /** Probe pods stay Pending forever (no node can run them). */
  probePodsPending: boolean
  /** Pods whose name starts with one of these fail their readiness probes (Running, not Ready: the app stopped answering). */
  readinessFails: string[]
  /** CoreDNS answers nothing: every lookup of a name from a probe pod times out (IP addresses need no lookup). */
  dnsTimesOut: boolean
  /** The mirror serves a .sha256 that does not match its archive. */
  wrongChecksum: boolean
  /** The mirror cuts downloads short after this many bytes (connection closed mid-body). */
  truncateDownloadsAt?: number
  /** Extra delay, in ms, before controllers react (latency profile). */
  controllerDelayMs: number
}

export const noFaults = (): Faults => ({
  api: [],
  rolloutNeverConverges: [],
  probePodsPending: false,
  dnsTimesOut: false,
  readinessFails: [],
  wrongChecksum: false,
  controllerDelayMs: 0,
})

/** Returns the first armed API fault matching a request and consumes one of its `times`. */
export function takeApiFault(faults: Faults, method: string, path: string): ApiFault | undefined {
  const fault = faults.api.find(
    (f) => f.times > 0 && (!f.method || f.method === method) && path.includes(f.pathIncludes),
  )
  if (fault) fault.times--
  return fault
}
