// Waiting on the cluster: poll a condition at a short interval until it holds or a deadline passes, so the
// runbook moves on the moment the cluster is ready instead of sleeping a fixed time.
import { Interrupted } from '../config/errors.ts'
import type { Watch, WatchEvent, WatchTarget } from './cluster.ts'

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

/** What a change-driven wait needs from the cluster: a watch (lib/kube/cluster.ts). */
export interface Watcher {
  watch(target: WatchTarget, onEvent: (event: WatchEvent) => void, options?: { timeoutMs?: number }): Watch
}

/** When the watches cannot run (kubectl refused them), the wait reads again at this interval instead. */
const WATCHLESS_INTERVAL_MS = 1000
/** A burst of changes (one controller pass writes several objects) is read once, after this quiet time. */
const SETTLE_BURST_MS = 20

/**
 * Calls `probe` until it returns a value other than undefined, like pollUntil, but between calls it waits for
 * the watched objects to change rather than for a fixed time: the wait ends one read after the cluster reached
 * the state, however long its controllers take. Returns undefined when the deadline passes (after the first call
 * when the timeout is 0).
 */
export async function untilChanged<T>(
  cluster: Watcher,
  targets: WatchTarget[],
  probe: () => Promise<T | undefined>,
  options: WaitOptions,
): Promise<T | undefined> {
  const first = await probe()
  if (first !== undefined || targets.length === 0 || options.timeoutMs <= 0) return first
  const deadline = Date.now() + options.timeoutMs
  let changed = false
  let wake: (() => void) | undefined
  const notice = () => {
    changed = true
    wake?.()
  }
  // The watches list what is there now (ADDED) before they follow changes, so nothing between the first read
  // and the watch's start is missed: that listing counts as a change and is read again.
  const watches = targets.map((target) => cluster.watch(target, notice, { timeoutMs: options.timeoutMs + 5_000 }))
  let live = watches.length
  for (const watch of watches)
    void watch.ended.then(() => {
      live--
      notice()
    })
  try {
    for (;;) {
      if (options.signal?.aborted) throw new Interrupted()
      const left = deadline - Date.now()
      if (left <= 0) return undefined
      if (!changed) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, live > 0 ? left : Math.min(left, WATCHLESS_INTERVAL_MS))
          function done() {
            clearTimeout(timer)
            wake = undefined
            options.signal?.removeEventListener('abort', done)
            resolve()
          }
          wake = done
          options.signal?.addEventListener('abort', done, { once: true })
        })
        if (options.signal?.aborted) throw new Interrupted()
      }
      if (changed) await sleep(SETTLE_BURST_MS, options.signal)
      changed = false
      const value = await probe()
      if (value !== undefined) return value
    }
  } finally {
    for (const watch of watches) watch.stop()
  }
}
