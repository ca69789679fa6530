// --lang zh-TW: the runbook shows its steps' titles and explanations in Traditional Chinese, from the same
// translation tables as docs/zh-TW; everything else (ids, commands, flags) stays as it is.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { ROOT, show, startWorld, TSX_LOADER, type RunbookWorld } from './harness.ts'
import { TerminalSession } from './tty.ts'
import { STEPS_ZH_TW } from '../lib/cli/zh-TW.ts'

let world: RunbookWorld
test.before(async () => {
  world = await startWorld()
})
test.after(async () => {
  await world?.stop()
})

test('--lang zh-TW gives the dry run the Traditional Chinese titles; the commands stay as they are', async () => {
  const r = await world.run([...world.flags, '--dry-run', '--only', 'preflight,istioctl', '--lang', 'zh-TW'])
  assert.is(r.code, 0, show(r))
  assert.ok(r.stdout.includes(`# preflight: ${STEPS_ZH_TW.preflight.title}`), show(r))
  assert.ok(r.stdout.includes(`# istioctl: ${STEPS_ZH_TW.istioctl.title}`), show(r))
  assert.match(r.stdout, /\$ kubectl --kubeconfig \S+ --context gthulhu-sim version --client -o json/)
  const english = await world.run([...world.flags, '--dry-run', '--only', 'preflight'])
  assert.match(english.stdout, /# preflight: Preflight checks/, 'English stays the default')
})

test('GTHULHU_RUNBOOK_LANG=zh-TW sets it too (--help lists the translated titles); an unknown language is a usage error', async () => {
  const help = await world.run(['--help'], { env: { GTHULHU_RUNBOOK_LANG: 'zh-TW' } })
  assert.is(help.code, 0, show(help))
  for (const [id, text] of Object.entries(STEPS_ZH_TW))
    assert.ok(help.stdout.includes(`${id.padEnd(17)} ${text.title}`), `--help lacks the zh-TW title of ${id}`)
  const bad = await world.run([...world.flags, '--lang', 'fr', '--dry-run'])
  assert.is(bad.code, 2, show(bad))
  assert.match(bad.stderr, /--lang: unknown value "fr"; valid: en, zh-TW/)
})

test('guided mode, in a terminal, explains a step in the chosen language before asking', async () => {
  const session = await TerminalSession.start(
    [
      process.execPath,
      '--import',
      TSX_LOADER,
      join(ROOT, 'runbook.ts'),
      ...world.flags,
      '--only',
      'preflight',
      '--lang',
      'zh-TW',
    ],
    {
      env: { ...process.env, ...world.sim.env },
      cwd: world.dir,
    },
  )
  try {
    const screen = await session.waitFor(/Run preflight\?/)
    assert.ok(screen.includes(`━━ ${STEPS_ZH_TW.preflight.title} (preflight) ━━`), screen)
    // The explanation is wrapped: compare its opening words, and its width in terminal columns (a CJK character takes two).
    assert.ok(screen.includes(STEPS_ZH_TW.preflight.why.slice(0, 12)), screen)
    const explanation = screen.slice(screen.indexOf('(preflight) ━━'), screen.indexOf('It will:')).split('\n').slice(1)
    const columns = (line: string) =>
      [...line].reduce((n, c) => n + (/[\u3000-\u9fff\uff00-\uffef]/.test(c) ? 2 : 1), 0)
    assert.ok(explanation.length > 2, screen)
    for (const line of explanation)
      assert.ok(columns(line) <= 102, `an explanation line is ${columns(line)} columns wide:\n${line}`)
    await session.keys('Enter')
    await session.waitFor(/Summary:[\s\S]*done\s+preflight/)
    assert.is(await session.exitCode(), 0)
  } finally {
    await session.close()
  }
})

test.run()
