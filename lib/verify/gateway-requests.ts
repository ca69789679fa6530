// Requests from this machine through the gateway's address: the browser's path into the manager.
import { httpGet } from '../domain/gateway-api.ts'
import { SETTLE_RETRY_MS } from '../domain/istio.ts'
import { pollUntil } from '../kube/wait.ts'
import type { Check, Facts, StepContext } from '../types.ts'
import { text } from '../config/text.ts'

/** GET through the gateway's address until the expected status comes back (policies take a moment to reach Envoy). */
export async function gatewayRequestCheck(
  ctx: StepContext,
  url: string,
  userAgent: string,
  who: string,
  expected: number,
  hint: string,
  path?: string,
): Promise<Check> {
  let last: { status?: number; error?: string } = {}
  await pollUntil(
    async () => {
      last = await httpGet(url, userAgent, 3_000, ctx.signal)
      return last.status === expected ? last : undefined
    },
    { timeoutMs: Math.min(SETTLE_RETRY_MS, ctx.config.timeout * 1000), intervalMs: 250, signal: ctx.signal },
  )
  return {
    name: text.checks.gatewayRequest(url, who, userAgent, expected, path),
    expected: `HTTP ${expected}`,
    observed: last.status ? `HTTP ${last.status}` : `no answer: ${last.error}`,
    ok: last.status === expected,
    hint,
  }
}

/** The gateway URL of the manager's health endpoint, from the gateway step's facts. */
export const gatewayHealthUrl = (facts: Facts) =>
  facts.gateway?.url ? new URL('/health', facts.gateway.url).toString() : undefined
