// Downloads: the digest is computed while streaming, and a write error (a full disk, a missing directory)
// is a failed step that names the file, never an uncaught exception that kills the run.
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { downloadFile } from '../lib/domain/download.ts'
import { StepFailure } from '../lib/config/errors.ts'
import { tempDir } from './temp-dir.ts'

const body = randomBytes(512 * 1024) // larger than one stream chunk, so writes happen while the body streams
const dir = tempDir('runbook-download-')
let server: Server
let url = ''
test.before(async () => {
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': body.length })
    res.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/istioctl.tar.gz`
})
test.after(() => new Promise<void>((resolve) => server.close(() => resolve())))

async function failure(destination: string): Promise<StepFailure> {
  try {
    await downloadFile(url, destination)
  } catch (error) {
    assert.instance(error, StepFailure)
    return error as StepFailure
  }
  throw new Error(`downloading to ${destination} should have failed`)
}

test('a download is written whole and its SHA-256 is the one of the bytes served', async () => {
  const destination = join(dir, 'whole.tar.gz')
  const result = await downloadFile(url, destination)
  assert.is(result.bytes, body.length)
  assert.is(result.sha256, createHash('sha256').update(body).digest('hex'))
  assert.ok(readFileSync(destination).equals(body))
})

test('a full disk (ENOSPC from /dev/full) is a failed step naming the file and the error', async () => {
  const error = await failure('/dev/full')
  assert.match(
    error.message,
    /cannot write the download of http:\/\/127\.0\.0\.1:\d+\/istioctl\.tar\.gz to \/dev\/full: ENOSPC/,
  )
})

test('a destination that cannot be opened is a failed step naming it', async () => {
  const destination = join(dir, 'no-such-dir', 'istioctl.tar.gz')
  const error = await failure(destination)
  assert.ok(error.message.includes(`to ${destination}: ENOENT`), error.message)
  assert.not.ok(existsSync(destination))
})

test.run()
