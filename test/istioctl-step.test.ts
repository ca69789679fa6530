// The istioctl step against the loopback mirror: a verified install, a no-op re-run, and refusals that
// leave nothing installed; then a failed run's printed resume command picks up at the failed step.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { istioctlArchiveUrl, istioPlatform } from '../steps/02-istioctl.ts'
import { StepFailure } from '../lib/config/errors.ts'
import { runCommand } from './kit.ts'
import { ROOT, show, startWorld, TSX_LOADER, type RunbookWorld } from './harness.ts'
import { tempDir } from './temp-dir.ts'

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

test('a fake istioctl that prints the right version is refused: never run, never replaced', async () => {
  mkdirSync(world.installDir, { recursive: true })
  const marker = join(world.dir, 'fake-istioctl-ran')
  const fake = `#!/bin/sh\ntouch ${marker}\necho "client version: 1.29.1"\n`
  writeFileSync(installed(), fake, { mode: 0o755 })
  const r = await world.run([...world.flags, '--yes', '--only', 'preflight,istioctl'])
  assert.is(r.code, 1, show(r))
  assert.match(
    r.stdout + r.stderr,
    /\/istioctl is not the istioctl of the 1\.29\.1 release \(it hashes to [0-9a-f]{64}, the release's binary to [0-9a-f]{64}\): the runbook neither runs nor replaces a binary it cannot vouch for/,
  )
  assert.not.ok(existsSync(marker), 'the fake was never executed')
  assert.is(readFileSync(installed(), 'utf8'), fake, 'and not replaced')
  assert.equal(
    leftovers().filter((f) => f !== 'istioctl'),
    [],
    'the release downloaded to compare with is gone',
  )
  rmSync(installed())
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
  // The command as the operator started it: the TypeScript through tsx, or the published command (a fresh build).
  const prefix = words[1] === 'tsx' ? 3 : 2
  assert.equal(words.slice(0, 2), prefix === 3 ? ['npx', 'tsx'] : ['npx', 'gthulhu-runbook'])
  if (prefix === 3) assert.match(words[2], /runbook\.ts$/)
  const r = await world.run([...words.slice(prefix), '-v'])
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
  assert.match(r.stdout, /3\/3 checks/)
  assert.is(statSync(installed()).mtimeMs, before)
})

test('a binary changed since it was verified is never run: --verify names it, later steps refuse it', async () => {
  const good = readFileSync(installed())
  writeFileSync(installed(), Buffer.concat([good, Buffer.from('\n# changed\n')]))
  try {
    const audit = await world.run([...world.flags, '--verify', '--no-probes'])
    assert.is(audit.code, 1, show(audit))
    // The audit lists each drift after its summary: the step, the check, the SHA-256 recorded and the one found.
    assert.match(
      audit.stdout,
      /✖ \d+ drift\(s\):[\s\S]*\n {2}istioctl: istioctl at \S+\/istioctl is the binary the runbook verified — expected sha256 ([0-9a-f]{64}), observed sha256 (?!\1)[0-9a-f]{64}/,
    )
    assert.match(audit.stdout, /istioctl: istioctl version --remote=false — expected 1\.29\.1, observed not run:/)
    const ambient = await world.run([...world.flags, '--yes', '--only', 'ambient'])
    assert.is(ambient.code, 1, show(ambient))
    assert.match(
      ambient.stdout + ambient.stderr,
      /refusing to run \S+\/istioctl: it changed since the runbook verified it/,
    )
  } finally {
    writeFileSync(installed(), good, { mode: 0o755 })
  }
})

test('an istioctl identical to the release, not installed by the runbook, is adopted after comparing it with the release, and undo leaves it', async () => {
  const other = join(world.dir, 'other-bin')
  mkdirSync(other)
  copyFileSync(installed(), join(other, 'istioctl'))
  const flags = world.flags.map((f) => (f === world.installDir ? other : f))
  const r = await world.run([...flags, '--yes', '--only', 'istioctl'])
  assert.is(r.code, 0, show(r))
  assert.match(r.stdout, /checksum verified/, 'the release was downloaded to compare with')
  assert.match(
    r.stdout,
    new RegExp(`adopted the istioctl at ${other}/istioctl: byte for byte the 1\\.29\\.1 release's`),
  )
  assert.is(world.state().facts.istioctlPath, join(other, 'istioctl'))
  assert.is(world.state().facts.istioctlAdopted, true)

  // It was there before the runbook: undo leaves it, and says so in its preview, its log and its check.
  const preview = await world.run([...flags, '--rollback', 'istioctl', '--dry-run'])
  assert.is(preview.code, 0, show(preview))
  assert.match(preview.stdout, new RegExp(`leave ${other}/istioctl: it was there before the runbook`))
  const undo = await world.run([...flags, '--yes', '-v', '--rollback', 'istioctl'])
  assert.is(undo.code, 0, show(undo))
  assert.match(undo.stdout, new RegExp(`left ${other}/istioctl: it was there before the runbook`))
  assert.match(undo.stdout, new RegExp(`✔ istioctl at ${other}/istioctl left in place \\(there before the runbook\\)`))
  assert.ok(existsSync(join(other, 'istioctl')), 'the adopted binary is still there')
  assert.is(world.state().steps.istioctl?.status, 'undone')
})

test("the simulator's env file keeps istioctl in its own folder: the README's path leaves nothing in ~/.local/bin", async () => {
  // As `source DIR/env` would: every variable the simulator's env file exports, and a HOME of the test's own.
  const exported = Object.fromEntries(
    [...readFileSync(join(world.sim.dir, 'env'), 'utf8').matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [
      m[1],
      m[2].replace(/^'(.*)'$/, '$1'),
    ]),
  )
  assert.is(exported.GTHULHU_RUNBOOK_INSTALL_DIR, join(world.sim.dir, 'bin'))
  const home = tempDir('runbook-home-')
  const r = await runCommand(
    process.execPath,
    [
      '--import',
      TSX_LOADER,
      join(ROOT, 'runbook.ts'),
      '--context',
      world.sim.context,
      '--yes',
      '--only',
      'preflight,istioctl',
    ],
    { cwd: home, env: { ...process.env, ...exported, HOME: home, CI: 'true' }, timeoutMs: 300_000 },
  )
  assert.is(r.code, 0, `${r.stdout}\n${r.stderr}`)
  assert.ok(existsSync(join(world.sim.dir, 'bin', 'istioctl')), "istioctl went to the simulator's folder")
  assert.not.ok(existsSync(join(home, '.local')), 'nothing under HOME')
})

test.run()
