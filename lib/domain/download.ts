// Downloads with a timeout, a size check and a SHA-256 computed while streaming, so nothing is extracted or
// installed before the archive is proven to be the one the release published.
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { StepFailure } from '../config/errors.ts'
import { text } from '../config/text.ts'

const DOWNLOAD_TIMEOUT_MS = 5 * 60_000
const TEXT_TIMEOUT_MS = 30_000

function describeFetchError(url: string, error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  if ((error as Error).name === 'TimeoutError') return text.failures.downloadTimedOut(url)
  return text.failures.cannotDownload(url, cause?.code ?? cause?.message ?? (error as Error).message)
}

export async function fetchText(url: string, signal?: AbortSignal): Promise<string> {
  let response: Response
  try {
    response = await fetch(url, { signal: anySignal(signal, TEXT_TIMEOUT_MS), redirect: 'follow' })
  } catch (error) {
    throw new StepFailure(describeFetchError(url, error))
  }
  if (!response.ok)
    throw new StepFailure(text.failures.cannotDownload(url, `HTTP ${response.status} ${response.statusText}`))
  try {
    return await response.text()
  } catch (error) {
    throw new StepFailure(text.failures.downloadCutShort(url, (error as Error).message))
  }
}

/** Streams `url` into `destination`; returns its SHA-256. Fails on HTTP errors, timeouts, short bodies and write errors. */
export async function downloadFile(
  url: string,
  destination: string,
  signal?: AbortSignal,
): Promise<{ sha256: string; bytes: number }> {
  let response: Response
  try {
    response = await fetch(url, { signal: anySignal(signal, DOWNLOAD_TIMEOUT_MS), redirect: 'follow' })
  } catch (error) {
    throw new StepFailure(describeFetchError(url, error))
  }
  if (!response.ok || !response.body)
    throw new StepFailure(text.failures.cannotDownload(url, `HTTP ${response.status} ${response.statusText}`))
  const expected = Number(response.headers.get('content-length') ?? NaN)
  const hash = createHash('sha256')
  let bytes = 0
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk)
      bytes += chunk.length
      done(null, chunk)
    },
  })
  try {
    // pipeline settles on an error from either end: a full disk is a failed step, never an uncaught exception.
    await pipeline(
      Readable.fromWeb(response.body as WebReadableStream),
      measure,
      createWriteStream(destination, { mode: 0o600 }),
    )
  } catch (error) {
    const { code, syscall } = error as NodeJS.ErrnoException
    if (syscall)
      throw new StepFailure(
        text.failures.cannotWriteDownload(url, destination, code ?? (error as Error).message, (error as Error).message),
      )
    throw new StepFailure(
      text.failures.cutShortAfter(
        url,
        bytes,
        Number.isFinite(expected) ? expected : undefined,
        (error as Error).message,
      ),
    )
  }
  if (Number.isFinite(expected) && bytes !== expected) {
    throw new StepFailure(text.failures.downloadCutShort(url, text.failures.receivedOf(bytes, expected)))
  }
  return { sha256: hash.digest('hex'), bytes }
}

/** Reads the hex digest from a `.sha256` file (`<hex>  <name>` or the bare hex). */
export function parseChecksumFile(body: string, url: string): string {
  const hex = body.trim().split(/\s+/)[0]?.toLowerCase()
  if (!hex || !/^[0-9a-f]{64}$/.test(hex))
    throw new StepFailure(text.failures.noDigest(url, JSON.stringify(body.slice(0, 80))))
  return hex
}

function anySignal(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs)
  return signal ? AbortSignal.any([signal, timeout]) : timeout
}
