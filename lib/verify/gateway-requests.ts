// Requests from this machine through the gateway's address: the browser's path into the manager.
import { getUntil } from '../domain/gateway-api.ts'
import { SETTLE_RETRY_MS } from '../domain/istio.ts'
import type { Check, Facts, StepContext } from '../types.ts'
import { text } from '../config/text.ts'

/**
 * GET through the gateway's address until the expected status comes back. A request without an answer is tried
 * again with a longer wait, within --timeout, before anything is reported: a scheduled audit on a busy machine must
 * not report a drift because its own requests were slow. Another answer is asked again for a short while
 * (policies take a moment to reach Envoy).
 */
export async function gatewayRequestCheck(
  ctx: StepContext,
  url: string,
  userAgent: string,
  who: string,
  expected: number,
  hint: string,
  path?: string,
): Promise<Check> {
  const last = await getUntil(url, userAgent, (answer) => answer.status === expected, {
    slowMs: ctx.config.timeout * 1000,
    settleMs: Math.min(SETTLE_RETRY_MS, ctx.config.timeout * 1000),
    signal: ctx.signal,
  })
  return {
    name: text.checks.gatewayRequest(url, who, userAgent, expected, path),
    expected: `HTTP ${expected}`,
    observed: last.status
      ? `HTTP ${last.status}`
      : `no answer: ${last.error}${last.attempts > 1 ? ` (${last.attempts} attempts)` : ''}`,
    ok: last.status === expected,
    hint,
  }
}

/** The gateway URL of the manager's health endpoint, from the gateway step's facts. */
export const gatewayHealthUrl = (facts: Facts) =>
  facts.gateway?.url ? new URL('/health', facts.gateway.url).toString() : undefined
