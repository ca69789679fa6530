// --lang zh-TW: the runbook shows its steps' titles and explanations in Traditional Chinese, from the same
// translation tables as docs/zh-TW; everything else (ids, commands, flags) stays as it is.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { ROOT, show, startGuided, startWorld, TSX_LOADER, type RunbookWorld } from './harness.ts'
import { TerminalSession } from './tty.ts'
import { STEPS_ZH_TW, TEXT_ZH_TW } from '../lib/cli/zh-TW.ts'
import { ENGLISH } from '../lib/config/text.ts'

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
    const screen = await session.waitFor(/要執行 preflight 嗎？/)
    assert.ok(screen.includes(`━━ ${STEPS_ZH_TW.preflight.title} (preflight) ━━`), screen)
    // The explanation is wrapped: compare its opening words, and its width in terminal columns (a CJK character takes two).
    assert.ok(screen.includes(STEPS_ZH_TW.preflight.why.slice(0, 12)), screen)
    const explanation = screen.slice(screen.indexOf('(preflight) ━━'), screen.indexOf('它會：')).split('\n').slice(1)
    const columns = (line: string) =>
      [...line].reduce((n, c) => n + (/[\u3000-\u9fff\uff00-\uffef]/.test(c) ? 2 : 1), 0)
    assert.ok(explanation.length > 2, screen)
    for (const line of explanation)
      assert.ok(columns(line) <= 102, `an explanation line is ${columns(line)} columns wide:\n${line}`)
    await session.keys('Enter')
    await session.waitFor(/摘要：[\s\S]*完成\s+preflight/)
    assert.is(await session.exitCode(), 0)
  } finally {
    await session.close()
  }
})

// What a Taiwanese operator reads in guided mode: every prompt, menu, check line and summary line in Chinese.
const CJK = /[\u3400-\u9fff]/
const englishPhrases = (table: object): string[] =>
  Object.values(table).flatMap((value) =>
    typeof value === 'string' ? [value] : value && typeof value === 'object' ? englishPhrases(value) : [],
  )

test('guided mode under --lang zh-TW shows no English prompt, menu, check name or summary line', async () => {
  const session = await startGuided(world, [...world.flags, '-v', '--only', 'preflight,istioctl', '--lang', 'zh-TW'])
  try {
    const asked = await session.waitFor(/要執行 preflight 嗎？/)
    for (const choice of ['run', 'plan', 'skip', 'all', 'quit'] as const)
      assert.ok(asked.includes(TEXT_ZH_TW.menu[choice]), `the menu offers ${TEXT_ZH_TW.menu[choice]}:\n${asked}`)
    await session.keys('Enter')
    await session.waitFor(/要執行 istioctl 嗎？/, 120_000)
    await session.keys('Down', 'Down', 'Down', 'Enter') // run this and all remaining steps without asking
    const code = await session.exitCode(180_000)
    const screen = await session.screen()
    assert.is(code, 0, screen)
    // No fixed English the runbook could have said in Chinese (menus, questions, run words, check names, summary).
    // (Commands and flags stay as they are: a phrase with "--" in it is a command line, shown in the plan too.)
    const fixedEnglish = englishPhrases(ENGLISH).filter(
      (phrase) => phrase.length > 6 && /[a-z] [a-z]/.test(phrase) && !phrase.includes('--'),
    )
    const shown = fixedEnglish.filter((phrase) => screen.includes(phrase))
    assert.equal(shown, [], screen)
    // Every check line, prompt and summary row carries Chinese words, not only ids and values.
    const lines = screen.split('\n')
    const checkLines = lines.filter((line) => /^\s*[✔✖⚠–] /.test(line))
    assert.ok(checkLines.length >= 9, `every check is listed with -v:\n${screen}`)
    for (const line of [...checkLines, ...lines.filter((line) => /^\s*\? /.test(line))])
      assert.match(line, CJK, `an English line under --lang zh-TW: ${line}`)
    // Every check of both steps passed, said in Chinese (preflight's count grows with what it looks at).
    assert.ok(/摘要：\n\s+完成\s+preflight[^\n]* (\d+) 項檢查通過 \1 項[^\n]*\n\s+完成\s+istioctl/.test(screen), screen)
    assert.match(screen, /預期：[\s\S]*實際：/)
    for (const check of world.state().steps.preflight?.checks ?? [])
      assert.match(check.name, CJK, `check name in the record: ${check.name}`)
  } finally {
    await session.close()
  }
})

test.run()
