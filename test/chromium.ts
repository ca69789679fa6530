// Loads an HTML file in headless Chromium (Debian's package, installed with apt-get when absent) and returns
// the rendered DOM, a value computed in the page, and every request the page made (DevTools protocol).
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { ensurePackage, runs } from './debian-package.ts'

const CANDIDATES = ['chromium', 'chromium-browser']
let binary: string | undefined

/** The Chromium binary; installs Debian's chromium with apt-get when none is found (root only). */
export function ensureChromium(): string {
  if (binary) return binary
  const found = () => CANDIDATES.find((name) => runs(name, '--version')())
  ensurePackage('chromium', () => !!found(), 'the report tests')
  return (binary = found()!)
}

export interface Rendered {
  /** The DOM after load, serialized. */
  dom: string
  /** Whatever `probe` (a JavaScript expression) returned in the page. */
  probed: unknown
  /** Every URL the page asked for besides the file itself (Network.requestWillBeSent). */
  requests: string[]
}

/**
 * Renders `file` headless (no sandbox, no GPU, no background traffic, a throwaway profile) and drives it over
 * the DevTools protocol on a pipe (fd 3 to Chromium, fd 4 back; messages end with NUL): the page's own network
 * requests are recorded, `probe` is evaluated after load, and Chromium is closed.
 */
export interface Viewport {
  /** CSS pixels wide (A4 printed at 96 dpi with 12 mm margins is 703). */
  width: number
  height?: number
  /** 'print' applies the page's print styles, as when it is printed. */
  media?: 'screen' | 'print'
}

export async function renderInChromium(file: string, probe = 'null', viewport?: Viewport): Promise<Rendered> {
  return (await renderInChromiumAt(file, probe, [viewport]))[0]
}

/** Renders `file` once per viewport in one Chromium (a viewport of undefined keeps Chromium's own window). */
export async function renderInChromiumAt(
  file: string,
  probe: string,
  viewports: (Viewport | undefined)[],
): Promise<Rendered[]> {
  const chromium = ensureChromium()
  const profile = mkdtempSync(join(tmpdir(), 'report-chromium-'))
  const child = spawn(
    chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      `--user-data-dir=${profile}`,
      '--remote-debugging-pipe',
      'about:blank',
    ],
    // TMPDIR: Chromium's singleton socket directory goes in the profile, removed below, not in /tmp for good.
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true, env: { ...process.env, TMPDIR: profile } },
  )
  let stderr = ''
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  const toChromium = child.stdio[3] as Writable
  const fromChromium = child.stdio[4] as Readable
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>()
  let requests: string[] = []
  let loaded: () => void = () => undefined
  let buffer = ''
  fromChromium.setEncoding('utf8') // page text in Chinese may be split between two reads
  fromChromium.on('data', (chunk) => {
    buffer += chunk
    let end: number
    while ((end = buffer.indexOf('\0')) >= 0) {
      const message = JSON.parse(buffer.slice(0, end))
      buffer = buffer.slice(end + 1)
      if (message.id && pending.has(message.id)) {
        const { resolve, reject } = pending.get(message.id)!
        pending.delete(message.id)
        if (message.error) reject(new Error(`${message.error.message}`))
        else resolve(message.result)
      } else if (message.method === 'Network.requestWillBeSent') requests.push(message.params.request.url)
      else if (message.method === 'Page.loadEventFired') loaded()
    }
  })
  let nextId = 0
  const send = (method: string, params: object = {}, sessionId?: string) =>
    new Promise<any>((resolve, reject) => {
      const id = ++nextId
      pending.set(id, { resolve, reject })
      toChromium.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0')
    })
  // A safety net for a Chromium that hangs (generous: a loaded machine starts it slowly), not a wait for anything.
  const timer = setTimeout(() => kill(), 120_000 + 60_000 * viewports.length)
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {}
  }
  try {
    const { targetId } = await send('Target.createTarget', { url: 'about:blank' })
    const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true })
    await send('Network.enable', {}, sessionId)
    await send('Page.enable', {}, sessionId)
    const rendered: Rendered[] = []
    for (const viewport of viewports) {
      if (viewport) {
        await send(
          'Emulation.setDeviceMetricsOverride',
          { width: viewport.width, height: viewport.height ?? 1000, deviceScaleFactor: 1, mobile: false },
          sessionId,
        )
        await send('Emulation.setEmulatedMedia', { media: viewport.media ?? 'screen' }, sessionId)
      }
      requests = []
      const load = new Promise<void>((resolve) => (loaded = resolve))
      await send('Page.navigate', { url: `file://${file}` }, sessionId)
      await load
      const dom = await send(
        'Runtime.evaluate',
        { expression: 'document.documentElement.outerHTML', returnByValue: true },
        sessionId,
      )
      const probed = await send('Runtime.evaluate', { expression: probe, returnByValue: true }, sessionId)
      rendered.push({
        dom: dom.result.value,
        probed: probed.result.value,
        requests: requests.filter((url) => url !== `file://${file}`),
      })
    }
    await send('Browser.close').catch(() => undefined)
    return rendered
  } catch (error) {
    throw new Error(`chromium: ${(error as Error).message}\n${stderr.slice(-2000)}`)
  } finally {
    clearTimeout(timer)
    kill()
    rmSync(profile, { recursive: true, force: true })
  }
}
