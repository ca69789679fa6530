// Waiting on the cluster: poll a condition at a short interval until it holds or a deadline passes, so the
// runbook moves on the moment the cluster is ready instead of sleeping a fixed time.
import { Interrupted } from '../config/errors.ts'

export interface WaitOptions {
  timeoutMs: number
  intervalMs?: number
  signal?: AbortSignal
}

/**
 * Calls `probe` until it returns a value other than undefined; returns that value, or undefined when the
 * deadline passes. Errors from `probe` propagate.
 */
export async function pollUntil<T>(probe: () => Promise<T | undefined>, options: WaitOptions): Promise<T | undefined> {
  const deadline = Date.now() + options.timeoutMs
  let interval = options.intervalMs ?? 250
  for (;;) {
    if (options.signal?.aborted) throw new Interrupted()
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() + interval > deadline) return undefined
    await sleep(interval, options.signal)
    interval = Math.min(interval * 1.5, 2000) // back off gently on long waits
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Interrupted())
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(new Interrupted())
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** Runs async work over items with at most `limit` in flight (independent cluster checks run together). */
export async function mapConcurrent<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++
        results[index] = await work(items[index])
      }
    }),
  )
  return results
}
