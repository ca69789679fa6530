// The istioctl step against the loopback mirror: a verified install, a no-op re-run, and refusals that
// leave nothing installed; then a failed run's printed resume command picks up at the failed step.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { istioctlArchiveUrl, istioPlatform } from '../steps/02-istioctl.ts'
import { StepFailure } from '../lib/config/errors.ts'
import { runCommand } from './kit.ts'
import { show, startWorld, type RunbookWorld } from './harness.ts'

let world: RunbookWorld
test.before(async () => {
  world = await startWorld()
})
test.after(async () => {
  await world?.stop()
})

let resumeCommand = ''
/** Splits a POSIX shell line as printed by the runbook (single-quoted words, plain words). */
const shellWords = (line: string) =>
  [...line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]))
const installed = () => join(world.installDir, 'istioctl')
const leftovers = () => (existsSync(world.installDir) ? readdirSync(world.installDir) : [])

test('Istio platform names: linux/osx × amd64/arm64 (+ linux armv7); others are refused clearly', () => {
  assert.equal(istioPlatform('linux', 'x64'), { os: 'linux', arch: 'amd64' })
  assert.equal(istioPlatform('darwin', 'arm64'), { os: 'osx', arch: 'arm64' })
  assert.equal(istioPlatform('linux', 'arm'), { os: 'linux', arch: 'armv7' })
  assert.is(istioPlatform('darwin', 'arm'), undefined)
  assert.is(istioPlatform('win32', 'x64'), undefined)
  assert.throws(
    () => istioctlArchiveUrl({ istioMirror: 'http://m', istioVersion: '1.29.1' }, 'win32', 'x64'),
    (e: Error) => e instanceof StepFailure && /supported: linux/.test(e.message),
  )
  assert.is(
    istioctlArchiveUrl({ istioMirror: 'http://m/', istioVersion: '1.29.1' }, 'darwin', 'arm64'),
    'http://m/1.29.1/istioctl-1.29.1-osx-arm64.tar.gz',
  )
})

test('a wrong checksum is refused before extracting: nothing is installed, and the resume command is printed', async () => {
  world.sim.faults.wrongChecksum = true
  const r = await world.run([...world.flags, '--yes', '--only', 'preflight,istioctl'])
  world.sim.faults.wrongChecksum = false
  assert.is(r.code, 1, show(r))
  assert.match(
    r.stdout + r.stderr,
    /checksum mismatch for .*istioctl-1\.29\.1-linux-\w+\.tar\.gz.*nothing was installed/,
  )
  assert.not.ok(existsSync(installed()))
  assert.equal(leftovers(), [], 'no temp files are left in the install dir')
  resumeCommand = /Resume with:\n\s+(.+)\n?/.exec(r.stdout)?.[1] ?? ''
  assert.match(resumeCommand, /--yes .*--only istioctl$/)
  const state = world.state()
  assert.is(state.steps.preflight?.status, 'done')
  assert.is(state.steps.istioctl?.status, 'failed')
})

test('a truncated download is refused: nothing is installed', async () => {
  world.sim.faults.truncateDownloadsAt = 1000
  const r = await world.run([...world.flags, '--yes', '--only', 'istioctl'])
  world.sim.faults.truncateDownloadsAt = undefined
  assert.is(r.code, 1, show(r))
  assert.match(r.stdout + r.stderr, /cut short/)
  assert.not.ok(existsSync(installed()))
  assert.equal(leftovers(), [])
})

test('the printed resume command installs istioctl (checksum verified, 0755, its version) without repeating preflight', async () => {
  const preflightFinished = world.state().steps.preflight?.finishedAt
  const words = shellWords(resumeCommand)
  assert.equal(words.slice(0, 2), ['npx', 'tsx'])
  assert.match(words[2], /runbook\.ts$/)
  const r = await world.run([...words.slice(3), '-v'])
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /checksum verified/)
  assert.is(world.state().steps.preflight?.finishedAt, preflightFinished, 'preflight must not run again')
  assert.is(world.state().steps.istioctl?.status, 'done')
  assert.is(statSync(installed()).mode & 0o777, 0o755)
  const version = await runCommand(installed(), ['version', '--remote=false'])
  assert.match(version.stdout, /1\.29\.1/)
  assert.is(world.state().facts.istioctlPath, installed())
})

test('a second run is a no-op that still verifies', async () => {
  const before = statSync(installed()).mtimeMs
  const r = await world.run([...world.flags, '--yes', '--only', 'istioctl'])
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /already installed/)
  assert.match(r.stdout, /2\/2 checks/)
  assert.is(statSync(installed()).mtimeMs, before)
})

test.run()
