// --lang zh-TW: the runbook shows its steps' titles and explanations in Traditional Chinese, from the same
// translation tables as docs/zh-TW; everything else (ids, commands, flags) stays as it is.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, show, startGuided, startWorld, TSX_LOADER, type RunbookWorld } from './harness.ts'
import { TerminalSession } from './tty.ts'
import { STEPS_ZH_TW, TEXT_ZH_TW } from '../lib/cli/zh-TW.ts'
import { ENGLISH } from '../lib/config/text.ts'
import { STEP_IDS } from '../lib/config/step-ids.ts'

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

// What a Taiwanese operator reads in guided mode: every prompt, choice, check line, step warning and summary line
// in Chinese. Values stay as they are (names, flags, paths, versions, commands, what a tool printed), and so do
// the words the zh-TW tables keep in English on purpose; what is left must hold no English prose.

/** Words the zh-TW tables keep in English: kinds, products, protocols, conditions, commands and the glossary. */
const KEPT = new Set([
  ...STEP_IDS,
  // Kubernetes, Istio and Gateway API kinds and conditions
  ...['Pod', 'Pods', 'Service', 'Services', 'Deployment', 'DaemonSet', 'StatefulSet', 'ReplicaSet', 'CronJob', 'Job'],
  ...['NetworkPolicy', 'AuthorizationPolicy', 'PeerAuthentication', 'Gateway', 'GatewayClass', 'HTTPRoute', 'CRD'],
  ...['ServiceAccount', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'Role', 'RoleBinding'],
  ...['ClusterRole', 'Secret', 'Lease', 'ConfigMap', 'Endpoints', 'NodePort', 'LoadBalancer', 'ALLOW', 'DENY'],
  ...['Accepted', 'Programmed', 'Established', 'ResolvedRefs', 'ZtunnelAccepted', 'WaypointAccepted', 'Ready'],
  ...['Running', 'True', 'False', 'Envoy', 'User', 'Agent', 'Web', 'UI', 'API', 'GET', 'HTTP', 'HBONE', 'TLS'],
  ...['mTLS', 'DNS', 'IP', 'CNI', 'RBAC', 'YAML', 'JSON', 'PATH', 'TTY', 'SHA', 'sha', 'Gthulhu', 'Istio'],
  ...['Kubernetes', 'MongoDB', 'Calico', 'Cilium', 'Chrome', 'Chromium', 'Safari', 'Firefox', 'Windows', 'Linux'],
  ...['macOS', 'OIDC', 'Prometheus', 'Helm', 'REST', 'ConfigMap', 'Endpoints', 'SelfSubjectReview'],
  // the glossary: components, roles and settings named as the project and Istio name them
  ...['kubectl', 'istioctl', 'istiod', 'ztunnel', 'waypoint', 'manager', 'scheduler', 'sidecar', 'mongodb'],
  ...['runbook', 'context', 'kube', 'ambient', 'ingress', 'egress', 'kubelet', 'rollout', 'binding', 'principal'],
  ...['principals', 'experimental', 'standard', 'listener', 'chart', 'release', 'decisionmaker', 'proxy'],
  ...['hostNetwork', 'headless', 'selector', 'spec', 'istio', 'apply', 'memory', 'patch'],
  // the simulated cluster's names that carry no sign (namespace and ServiceAccount default, ServiceAccount gthulhu)
  ...['default', 'gthulhu'],
])
/** Phrases kept whole (two English words the tables keep together). */
const KEPT_PHRASES = [/\bdecision makers?\b/g, /\bAPI server\b/g, /\bdry run\b/gi, /\bPod Security Admission\b/g]

/**
 * The English prose in a line, or undefined: values are dropped first (quoted text, command lines, and any token
 * with a digit or a sign inside — paths, flags, URLs, names like gthulhu-manager), then a run of two or more
 * ASCII words between Chinese text or punctuation is prose when one of them is not a kept word.
 */
function englishProse(line: string): string | undefined {
  let rest = line
    // a value echoed after its flag (an answer kept for resumed runs: a User-Agent has spaces)
    .replace(/^\s*--[a-z-]+ .*(?=（已記下)/, ' ')
    .replace(/"[^"]*"|`[^`]*`|'[^'\s][^']*'/g, ' ')
    .replace(/\S+:\/\/\S+/g, ' ') // a URL
    // a command line (a tool and its subcommand), up to the next Chinese
    .replace(
      /\b(?:kubectl|istioctl|helm) (?:get|label|describe|create|apply|delete|rollout|auth|logs|version|x|install|uninstall|waypoint|ztunnel-config|upgrade|edit|replace)\b[\x20-\x7e]*/g,
      ' ',
    )
  for (const phrase of KEPT_PHRASES) rest = rest.replace(phrase, ' ')
  // Non-ASCII (Chinese, full-width punctuation, arrows, marks) and ASCII punctuation between words break a run.
  for (const segment of rest.split(/[^\x20-\x7e]+|[,;:()[\]{}|]+/)) {
    const words = segment.split(/\s+/).filter(Boolean)
    let run: string[] = []
    for (const word of [...words, '']) {
      const bare = word.replace(/^[.!?]+|[.!?…]+$/g, '')
      if (/^[A-Za-z]+$/.test(bare)) {
        run.push(bare)
        continue
      }
      if (run.length >= 2 && run.some((w) => !KEPT.has(w))) return run.join(' ')
      run = []
    }
  }
  return undefined
}

test('the English-prose detector flags an untranslated sentence and passes the Chinese ones with their values', () => {
  for (const english of [
    '› applied Gateway gthulhu-gw, HTTPRoute gthulhu-manager-route',
    '  ✔ the context gthulhu-sim answers',
    '  ✔ kubectl on PATH',
    '? Which browsers may open the Web UI through the gateway?',
    '      實際：refused (nothing reached the listener) [pod gthulhu-probe-x]',
  ])
    assert.ok(englishProse(english), `not flagged: ${english}`)
  for (const chinese of [
    '› 已套用 Gateway gthulhu-gw、HTTPRoute gthulhu-manager-route',
    '  ✔ istioctl waypoint status -n default 回報 waypoint 正常',
    '  ✔ 沒有 manager 標籤、在服務網格外的 Pod → decision maker（經由decision maker 的 Pod（headless Service）） :8080：被拒絕',
    '  完成        preflight            1.2s, 8 項檢查通過 8 項',
    `› 經由 NodePort 以 User-Agent "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)" GET http://127.0.0.1:31126/health`,
  ])
    assert.is(englishProse(chinese), undefined, chinese)
})

/** The lines an operator reads as the runbook's own words (not a plan's manifests, not a tool's output). */
const operatorLines = (screen: string) =>
  screen
    .split('\n')
    .filter((line) => line.trim() && !/^Pane is dead/.test(line)) // tmux's own line once the program has exited
    // expected / observed / hint lines under a check carry what the cluster showed; -v's command lines are commands
    // (a hint sits 6 columns in; listr's line of what a step said, "→ applied …", sits 4 in and is checked)
    .filter((line) => !/^\s+(預期|實際)：|^ {6}→ |^\+ /.test(line))
    // a plan's command line: only its reason (after "#") is the runbook's words
    .map((line) => (/^\s*\$ /.test(line) ? (/ {3}# (.*)$/.exec(line)?.[1] ?? '') : line))
    // a tool's own words (istioctl's), shown as they are
    .map((line) => line.replace(/\S+ 回報：.*$/, ''))
    // -v's command line, which a background cleanup may print beside a prompt on the same line
    .map((line) => line.replace(/\+ \S*(?:kubectl|istioctl) .*$/, ''))

test('guided mode under --lang zh-TW, through every step and its three questions, shows no English prose', async () => {
  const report = join(world.dir, 'report')
  const session = await startGuided(world, [...world.flags, '-v', '--lang', 'zh-TW', '--report', report])
  const screens: string[] = []
  try {
    for (const id of STEP_IDS) {
      // The question, every choice and the key help in Chinese, in order (it fails with the screen when not).
      const menu = [
        `要執行 ${id} 嗎？`,
        ...MENU_CHOICES.map((c) => TEXT_ZH_TW.menu[c]),
        `↑↓ ${TEXT_ZH_TW.questions.keys.navigate}`,
      ]
      const asked = await session.waitFor(new RegExp(menu.map(escapeRegExp).join('[\\s\\S]*')), 300_000)
      screens.push(asked)
      await session.keys('Enter')
      if (id !== 'l7-policies') continue
      // The three questions only the operator can answer, each shown with its choices before it is answered.
      const browsers = await session.waitFor(new RegExp(escapeRegExp(TEXT_ZH_TW.questions.browsers)))
      for (const choice of ['chromeMac', 'chromeWindows', 'chromeLinux', 'anotherPattern'] as const)
        assert.ok(browsers.includes(TEXT_ZH_TW.questions[choice]), browsers)
      // The keys' help line too (inquirer's own words unless the prompt is given a theme).
      assert.ok(browsers.includes(`space ${TEXT_ZH_TW.questions.keys.select}`), browsers)
      assert.ok(browsers.includes(`⏎ ${TEXT_ZH_TW.questions.keys.submit}`), browsers)
      screens.push(browsers)
      await session.keys('Enter') // the guide's Chrome on macOS
      screens.push(await session.waitFor(new RegExp(escapeRegExp(TEXT_ZH_TW.questions.principals))))
      await session.keys('Enter') // the scheduler's identity
      const ingress = await session.waitFor(new RegExp(escapeRegExp(TEXT_ZH_TW.questions.ingress)))
      assert.ok(ingress.includes(TEXT_ZH_TW.questions.ingressNo), ingress)
      screens.push(ingress)
      await session.keys('Enter') // no: the guide's path
    }
    const code = await session.exitCode(300_000)
    const screen = await session.screen()
    screens.push(screen)
    assert.is(code, 0, screen)
    const lines = [...new Set(screens.flatMap(operatorLines))]
    const prose = lines.flatMap((line) => {
      const found = englishProse(line)
      return found ? [`${found}  ←  ${line.trim()}`] : []
    })
    assert.equal(prose, [], `English prose under --lang zh-TW:\n${prose.join('\n')}`)
    // What each step said while it applied (the terminal keeps only the last line of each): the report's changes.
    const changes = changeLines(readFileSync(join(report, 'report.md'), 'utf8'))
    assert.ok(changes.length >= 10, `the report lists what the steps said:\n${changes.join('\n')}`)
    const saidInEnglish = changes.flatMap((line) => (englishProse(line) ? [line] : []))
    assert.equal(saidInEnglish, [], `a step said in English:\n${saidInEnglish.join('\n')}`)
    // No fixed English sentence of the tables shows (commands and flags, with "--", are shown in the plan too).
    const fixedEnglish = englishPhrases(ENGLISH).filter(
      (phrase) => phrase.length > 6 && /[a-z] [a-z]/.test(phrase) && !phrase.includes('--'),
    )
    assert.equal(
      fixedEnglish.filter((phrase) => screens.some((s) => s.includes(phrase))),
      [],
    )
    // Every check was listed (-v), and every step's summary row is in Chinese (done; an open path by design warns).
    assert.ok(lines.filter((line) => /^\s+[✔✖⚠] /.test(line)).length > 100, screen)
    for (const id of STEP_IDS)
      assert.match(screen, new RegExp(`完成\\s+${id}\\s[^\\n]* \\d+ 項檢查通過 \\d+ 項`), `summary row of ${id}`)
    assert.match(screen, /--allowed-user-agents [^\n]*（已記下，接續執行時沿用）/)
    // The record keeps the check names the operator read: none of them is English prose either.
    for (const [id, record] of Object.entries(world.state().steps))
      for (const check of record?.checks ?? [])
        assert.is(englishProse(check.name), undefined, `${id}: check name in the record: ${check.name}`)
  } finally {
    await session.close()
  }
})

/** The cells of the report's "step | change" table, one line each (a cell joins its lines with <br>). */
function changeLines(markdown: string): string[] {
  const lines = markdown.split('\n')
  const head = lines.findIndex((line) => /^\| step \| change \|$/.test(line.trim()))
  if (head < 0) return []
  const rows = lines.slice(head + 2)
  const end = rows.findIndex((line) => !line.startsWith('|'))
  return rows
    .slice(0, end < 0 ? undefined : end)
    .flatMap((row) => row.split(/(?<!\\)\|/)[2]?.split('<br>') ?? [])
    .map((line) => line.replace(/\\(.)/g, '$1').trim())
    .map((line) => line.replace(/\S+ 回報：.*$/, '')) // a tool's own words, as it printed them
    .filter(Boolean)
}

const MENU_CHOICES = ['run', 'plan', 'skip', 'all', 'quit'] as const
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const englishPhrases = (table: object): string[] =>
  Object.values(table).flatMap((value) =>
    typeof value === 'string' ? [value] : value && typeof value === 'object' ? englishPhrases(value) : [],
  )

test.run()
