// Spawned commands never run the operator's shell start-up files: zx runs them through `bash -c` with stdin on a
// socket pair, which bash takes for a remote shell and, with SHLVL unset (cron, CI, systemd), would source ~/.bashrc.
// And what they print reads back whole, however the pipe splits it.
import { spawnSync } from 'node:child_process'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ROOT } from './harness.ts'
import { Cluster } from '../lib/kube/cluster.ts'
import { tempDir } from './temp-dir.ts'

test('a command spawned with SHLVL unset does not source ~/.bashrc', () => {
  const home = tempDir('runbook-home-')
  const marker = join(home, 'bashrc-ran')
  try {
    writeFileSync(join(home, '.bashrc'), `touch ${marker}\n`)
    const script = `
      const { Cluster } = await import(${JSON.stringify(join(ROOT, 'lib/kube/cluster.ts'))})
      const result = await new Cluster({ timeoutMs: 60_000 }).exec(['bash', '-c', 'echo "$SHLVL"'])
      process.stdout.write(JSON.stringify(result))`
    const { SHLVL: _, ...env } = process.env
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { ...env, HOME: home },
      encoding: 'utf8',
      timeout: 120_000,
    })
    assert.is(child.status, 0, child.stderr)
    const result = JSON.parse(child.stdout)
    assert.is(result.exitCode, 0, result.stderr)
    assert.not.ok(existsSync(marker), 'bash sourced the ~/.bashrc of the HOME it was given')
    // The control: the same bash with SHLVL 0 and stdin on a socket does source it, so the test can fail.
    const control = spawnSync(
      process.execPath,
      [
        '-e',
        `require('node:child_process').spawn('bash', ['-c', 'true'], { stdio: ['pipe', 'inherit', 'inherit'], env: { ...process.env, SHLVL: '0' } }).stdin.end()`,
      ],
      { env: { ...env, HOME: home }, encoding: 'utf8', timeout: 60_000 },
    )
    assert.is(control.status, 0, control.stderr)
    assert.ok(existsSync(marker), 'the control bash (SHLVL 0, stdin on a socket) should have sourced ~/.bashrc')
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
})

test('output of several pipe reads keeps every multi-byte character whole, on stdout and on stderr', async () => {
  // 1.5 MB of lines of three 3-byte characters: the pipe hands it over in dozens of reads, and a line of 10 bytes
  // puts most boundaries inside a character (a read of 64 KiB ends 6 bytes into a line), so a chunk-by-chunk
  // decoding cannot pass.
  const lines = 150_000
  const result = await new Cluster({ timeoutMs: 120_000 }).exec([
    'sh',
    '-c',
    `yes 預預預 | head -n ${lines}; yes 期期期 | head -n ${lines} >&2`,
  ])
  assert.is(result.exitCode, 0, result.stderr.slice(0, 200))
  assert.ok(result.stdout === '預預預\n'.repeat(lines), `stdout came back altered (${result.stdout.length} characters)`)
  assert.ok(result.stderr === '期期期\n'.repeat(lines), `stderr came back altered (${result.stderr.length} characters)`)
})

test.run()
