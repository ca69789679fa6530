// `completion bash|zsh|fish`: each script is generated from the option table, loads in its shell without an
// error, and (bash, fish: whose completion engines can be driven from a script) completes flags, step ids and
// choices. The shells come from Debian packages, installed here when missing.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { completionScript, SHELLS } from '../lib/cli/completion.ts'
import { UsageError } from '../lib/config/errors.ts'
import { OPTIONS } from '../lib/config/options.ts'
import { STEP_IDS } from '../lib/types.ts'
import { ROOT, TSX_LOADER } from './harness.ts'
import { runCommand } from './kit.ts'
import { tempDir } from './temp-dir.ts'
import { ensurePackage, runs } from './debian-package.ts'

/** A shell the completion tests load their script in (installed when missing). */
const ensureShell = (shell: string) => ensurePackage(shell, runs(shell, '-c', 'exit 0'), 'the completion tests')

const dir = tempDir('runbook-completion-')
// --context completes from the kubeconfig kubectl would use.
const kubeconfig = join(dir, 'kubeconfig')
writeFileSync(
  kubeconfig,
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:9' } }],
    users: [{ name: 'u', user: {} }],
    contexts: ['prod-eu', 'prod-us', 'staging'].map((name) => ({ name, context: { cluster: 'c', user: 'u' } })),
  }),
)
const scriptFile = (shell: string) => {
  const path = join(dir, `completion.${shell}`)
  writeFileSync(path, completionScript(shell))
  return path
}
const shellRun = async (shell: string, args: string[]) => {
  const r = await runCommand(shell, args, {
    timeoutMs: 30_000,
    env: { ...process.env, HOME: dir, KUBECONFIG: kubeconfig },
  })
  assert.is(r.code, 0, `${shell} exited ${r.code}: ${r.stderr}`)
  assert.is(r.stderr, '', `${shell} wrote to stderr: ${r.stderr}`)
  return r.stdout
}

test('every script names every flag, its one-letter alias and every step id, from the option table', () => {
  for (const shell of SHELLS) {
    const script = completionScript(shell)
    for (const o of OPTIONS) {
      assert.ok(script.includes(shell === 'fish' ? `-l ${o.flag}` : `--${o.flag}`), `${shell} lacks --${o.flag}`)
      if (o.short)
        assert.ok(script.includes(shell === 'fish' ? `-s ${o.short}` : `-${o.short}`), `${shell} lacks -${o.short}`)
    }
    for (const id of STEP_IDS) assert.ok(script.includes(id), `${shell} lacks step ${id}`)
  }
})

test('an unknown or missing shell is a usage error naming the valid ones', () => {
  assert.throws(
    () => completionScript('powershell'),
    (e: Error) => e instanceof UsageError && /"powershell"; valid: bash, zsh, fish/.test(e.message),
  )
  assert.throws(
    () => completionScript(undefined),
    (e: Error) => e instanceof UsageError && /needs a shell/.test(e.message),
  )
})

test('the CLI prints the script, and exits 2 for an unknown shell', async () => {
  const cli = (args: string[]) =>
    runCommand(process.execPath, ['--import', TSX_LOADER, join(ROOT, 'runbook.ts'), ...args], { timeoutMs: 60_000 })
  const [bash, bad] = await Promise.all([cli(['completion', 'bash']), cli(['completion', 'tcsh'])])
  assert.is(bash.code, 0, bash.stderr)
  assert.is(bash.stdout, completionScript('bash'))
  assert.is(bad.code, 2)
  assert.match(bad.stderr, /does not know the shell "tcsh"; valid: bash, zsh, fish/)
})

/** What bash's completion function offers for a command line whose last word is being completed. */
async function bashComplete(words: string[]): Promise<string[]> {
  const quoted = words.map((w) => `'${w}'`).join(' ')
  const out = await shellRun('bash', [
    '--norc',
    '-c',
    `source ${scriptFile('bash')} && COMP_WORDS=(${quoted}) && COMP_CWORD=${words.length - 1} && _gthulhu_runbook && printf '%s\\n' "\${COMPREPLY[@]}"`,
  ])
  return out.split('\n').filter(Boolean).sort()
}

test('bash: the script loads and completes flags, step ids (lists too), choices and the completion command', async () => {
  ensureShell('bash')
  await shellRun('bash', ['--norc', '-c', `source ${scriptFile('bash')} && complete -p gthulhu-runbook`])
  assert.equal(await bashComplete(['gthulhu-runbook', '--dry']), ['--dry-run'])
  assert.equal(await bashComplete(['gthulhu-runbook', '-n', '']), [], 'a namespace is free text')
  assert.equal(await bashComplete(['gthulhu-runbook', '--from', 'l']), ['l4-policies', 'l7-policies'])
  assert.equal(await bashComplete(['gthulhu-runbook', '--only', 'preflight,ist']), ['preflight,istioctl'])
  assert.equal(await bashComplete(['gthulhu-runbook', '--skip', 're']), ['restart'])
  assert.equal(await bashComplete(['gthulhu-runbook', '-o', '']), ['json', 'text'])
  assert.equal(
    await bashComplete(['gthulhu-runbook', '--only', '=', 'way']),
    ['waypoint'],
    'bash splits --only=way at "="',
  )
  assert.equal(await bashComplete(['gthulhu-runbook', '--context', 'prod']), ['prod-eu', 'prod-us'])
  assert.equal(await bashComplete(['gthulhu-runbook', 'comp']), ['completion'])
  assert.equal(await bashComplete(['gthulhu-runbook', 'completion', 'z']), ['zsh'])
})

test('zsh: the script loads after compinit and registers its completion function', async () => {
  ensureShell('zsh')
  const out = await shellRun('zsh', [
    '-f',
    '-c',
    `autoload -Uz compinit && compinit -u -d ${join(dir, 'zcompdump')} && source ${scriptFile('zsh')} && print -r -- $_comps[gthulhu-runbook]`,
  ])
  assert.is(out.trim(), '_gthulhu_runbook')
})

test('fish: the script loads and completes flags, step ids (lists too) and choices', async () => {
  ensureShell('fish')
  const complete = async (line: string) =>
    (await shellRun('fish', ['--no-config', '-c', `source ${scriptFile('fish')}; complete -C '${line}'`]))
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t')[0])
      .sort()
  assert.equal(await complete('gthulhu-runbook --dry'), ['--dry-run'])
  assert.equal(await complete('gthulhu-runbook --from l'), ['l4-policies', 'l7-policies'])
  assert.equal(await complete('gthulhu-runbook --only preflight,ist'), ['preflight,istioctl'])
  assert.equal(await complete('gthulhu-runbook -o '), ['json', 'text'])
  assert.equal(await complete('gthulhu-runbook --context st'), ['staging'])
  assert.ok((await complete('gthulhu-runbook -')).includes('-n'))
})

test.run()
