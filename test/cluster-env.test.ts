// Spawned commands never run the operator's shell start-up files: zx runs them through `bash -c` with stdin on a
// socket pair, which bash takes for a remote shell and, with SHLVL unset (cron, CI, systemd), would source ~/.bashrc.
import { spawnSync } from 'node:child_process'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ROOT } from './harness.ts'
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

test.run()
