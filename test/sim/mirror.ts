// A local stand-in for the two release download hosts the runbook uses, with the same URL layout:
//   /istio/<V>/istioctl-<V>-<os>-<arch>.tar.gz (+ .sha256)      like github.com/istio/istio/releases/download
//   /gateway-api/<version>/{standard,experimental}-install.yaml like github.com/kubernetes-sigs/gateway-api/releases/download
// As on GitHub, asset URLs answer 302 to a storage URL that serves the bytes.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createHash } from 'node:crypto'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create as createTar } from 'tar'
import type { Faults } from './faults.ts'
import { gatewayApiBundleYaml, GATEWAY_API_VERSIONS } from './crd-bundles.ts'
import { istioctlScript } from './istioctl-bin.ts'

export interface Mirror {
  url: string // base URL, e.g. http://127.0.0.1:PORT
  istioBase: string // `${url}/istio`
  gatewayApiBase: string // `${url}/gateway-api`
  close(): Promise<void>
}

const PLATFORMS: Record<string, string[]> = { linux: ['amd64', 'arm64', 'armv7'], osx: ['amd64', 'arm64'] }

/** Builds the release archive for a version: a gzip'd tar holding only `istioctl`, mode 0755. */
export async function buildIstioctlArchive(version: string): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'sim-istioctl-'))
  try {
    writeFileSync(join(dir, 'istioctl'), istioctlScript(version))
    chmodSync(join(dir, 'istioctl'), 0o755)
    const archive = join(dir, 'out.tar.gz')
    await createTar({ gzip: true, cwd: dir, file: archive, portable: true }, ['istioctl'])
    return readFileSync(archive)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function startMirror(options: {
  faults: Faults
  istioVersions: string[]
  gatewayApiVersions?: string[]
}): Promise<Mirror> {
  const archives = new Map<string, Promise<Buffer>>()
  const archiveOf = (version: string) => {
    if (!archives.has(version)) archives.set(version, buildIstioctlArchive(version))
    return archives.get(version)!
  }
  const gatewayVersions = options.gatewayApiVersions ?? GATEWAY_API_VERSIONS

  const send = (
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body: Buffer | string,
    type: string,
    truncatable = false,
  ) => {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body)
    res.writeHead(status, { 'content-type': type, 'content-length': bytes.length })
    if (req.method === 'HEAD') return res.end()
    const cut = options.faults.truncateDownloadsAt
    if (truncatable && cut !== undefined && cut < bytes.length) {
      // A full Content-Length, then the connection dies mid-body: the client must notice the short read.
      res.write(bytes.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 20))
      return
    }
    res.end(bytes)
  }
  const notFound = (req: IncomingMessage, res: ServerResponse) => send(req, res, 404, 'Not Found', 'text/plain')

  type Asset =
    | { kind: 'archive' | 'checksum'; version: string; basename: string }
    | { kind: 'bundle'; version: string; channel: 'standard' | 'experimental' }
  const assetAt = (path: string): Asset | undefined => {
    const istio = /^\/istio\/([^/]+)\/(istioctl-([^/]+)-(linux|osx)-([a-z0-9]+)\.tar\.gz)(\.sha256)?$/.exec(path)
    if (istio) {
      const [, version, basename, named, os, arch, checksum] = istio
      if (version !== named || !options.istioVersions.includes(version) || !PLATFORMS[os].includes(arch))
        return undefined
      return { kind: checksum ? 'checksum' : 'archive', version, basename }
    }
    const gw = /^\/gateway-api\/([^/]+)\/(standard|experimental)-install\.yaml$/.exec(path)
    if (gw && gatewayVersions.includes(gw[1]))
      return { kind: 'bundle', version: gw[1], channel: gw[2] as 'standard' | 'experimental' }
    return undefined
  }

  const serveAsset = async (req: IncomingMessage, res: ServerResponse, asset: Asset) => {
    if (asset.kind === 'bundle') {
      return send(req, res, 200, gatewayApiBundleYaml(asset.version, asset.channel), 'application/octet-stream', true)
    }
    const archive = await archiveOf(asset.version)
    if (asset.kind === 'archive') return send(req, res, 200, archive, 'application/octet-stream', true)
    const hash = createHash('sha256').update(archive)
    if (options.faults.wrongChecksum) hash.update('tampered')
    return send(req, res, 200, `${hash.digest('hex')}  ${asset.basename}\n`, 'text/plain')
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://mirror').pathname
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(req, res, 405, 'Method Not Allowed', 'text/plain')
    const storage = '/release-assets'
    const stored = path.startsWith(storage + '/')
    const asset = assetAt(stored ? path.slice(storage.length) : path)
    if (!asset) return notFound(req, res)
    if (!stored) {
      res.writeHead(302, { location: storage + path, 'content-length': 0 })
      return res.end()
    }
    serveAsset(req, res, asset).catch((error) => {
      console.error('sim mirror:', error)
      if (!res.headersSent) send(req, res, 500, String(error), 'text/plain')
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as { port: number }
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    istioBase: `${url}/istio`,
    gatewayApiBase: `${url}/gateway-api`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
