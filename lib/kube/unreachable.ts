// kubectl's words when it could not reach the API server at all, as opposed to the API server answering with an
// error. An answer ("Error from server (…)") may itself quote a dial error (a webhook the server could not call):
// that is the server's verdict, not an unreachable server.
export const UNREACHABLE =
  /Unable to connect|connection refused|was refused|no such host|i\/o timeout|dial tcp|TLS handshake/i

/** Whether kubectl's output says the API server could not be reached. */
export const apiServerUnreachable = (output: string): boolean =>
  !/Error from server/.test(output) && UNREACHABLE.test(output)
