// docs/threat-model.md and docs/zh-TW/threat-model.md, generated from the threat model itself: the paths, the
// layer and step that close each, how each is tried, what stays open after a full run and what a choice leaves
// open. `npm run docs` writes them; a test fails when either is out of date or a path has no translation.
import { fileURLToPath } from 'node:url'
import { type Config, loadConfig } from '../config/options.ts'
import type { Layer } from '../types.ts'
import { type Closure, ledger, TARGET_TITLES, THREAT_MODEL, type ThreatPath } from '../verify/threat-model.ts'
import { CHOICES_ZH_TW, LAYERS_ZH_TW, TARGETS_ZH_TW, THREAT_PATHS_ZH_TW } from './zh-TW.ts'

/** The English of a path that its translation was made from (fingerprinted in lib/cli/zh-TW.ts). */
export const pathEnglish = (path: ThreatPath) =>
  [path.from, path.via, path.staysOpen?.why, path.staysOpen?.wouldClose, notTriedWhy(path)].filter(Boolean).join('\n')

const notTriedWhy = (path: ThreatPath) => (path.trial.by === 'not tried' ? path.trial.why : undefined)

interface Texts {
  header: string
  twin: string
  intro: string[]
  attacksHeading: string
  attackColumns: string
  controlsHeading: string
  controlColumns: string
  openHeading: string
  openIntro: string
  openColumns: string
  choicesHeading: string
  choicesIntro: string
  choiceColumns: string
  path(path: ThreatPath): { from: string; via: string; why?: string; wouldClose?: string; notTried?: string }
  target(path: ThreatPath): string
  layer(layer: Layer): string
  choice(english: string): string
  closure(c: Closure): string
  tried(path: ThreatPath): string
  nothing: string
}

const EN: Texts = {
  header: 'Threat model',
  twin: '[繁體中文](zh-TW/threat-model.md)',
  intro: [
    "Who the hardening defends against: anyone who can run a pod in the cluster — a compromised workload, a careless or hostile user with rights in some namespace, or in Gthulhu's own namespace. Each row below is one way such a person could reach the manager, MongoDB, a decision maker or the ingress gateway, or a caller that must keep working.",
    "This page is generated from `lib/verify/threat-model.ts`, the same list the steps' probes, `--verify` and `--report` use: a path the runbook says is closed has been tried by the step that closes it and seen refused, and what stays open is said here with what would close it.",
  ],
  attacksHeading: 'Paths an attacker can take',
  attackColumns: '| id | from | to | via | closed by (layer, after step) | how the runbook tries it |',
  controlsHeading: 'What must keep working',
  controlColumns: '| id | from | to | via | tried at |',
  openHeading: 'What stays open after a full run',
  openIntro: 'With every step applied and the default settings:',
  openColumns: '| id | from → to | why it stays open | what would close it |',
  choicesHeading: 'What a choice leaves open',
  choicesIntro: 'Some flags turn a layer off or configure it open; these paths then stay open:',
  choiceColumns: '| choice | paths it leaves open |',
  path: (path) => ({
    from: path.from,
    via: path.via,
    why: path.staysOpen?.why,
    wouldClose: path.staysOpen?.wouldClose,
    notTried: notTriedWhy(path),
  }),
  target: (path) => TARGET_TITLES[path.target],
  layer: (layer) => layer,
  choice: (english) => english,
  closure: (c) => `${c.layer} (\`${c.step}\`)`,
  tried: (path) =>
    path.trial.by === 'probe'
      ? `probe pod at ${path.triedAt.map((s) => `\`${s}\``).join(', ')}`
      : path.trial.by === 'gateway request'
        ? `request through the gateway at ${path.triedAt.map((s) => `\`${s}\``).join(', ')}`
        : path.trial.by === 'admission attempt'
          ? `\`kubectl create --dry-run=server\` as another user at ${path.triedAt.map((s) => `\`${s}\``).join(', ')}`
          : `not tried: ${notTriedWhy(path)}`,
  nothing: '—',
}

const ZH: Texts = {
  header: '威脅模型',
  twin: '[English](../threat-model.md)',
  intro: [
    '這份強化要防的是：任何能在叢集裡執行 Pod 的人——被入侵的工作負載、在某個命名空間（或 Gthulhu 自己的命名空間）有權限的粗心或惡意使用者。下表每一列是這種人碰到 manager、MongoDB、decision maker 或入口閘道的一條路，或是一個必須繼續能用的呼叫者。',
    '本頁由 `lib/verify/threat-model.ts` 產生，這也是各步驟的探測、`--verify` 與 `--report` 所用的同一份清單：runbook 說已關閉的路，都由關閉它的步驟實際試過並看到被拒絕；仍然開著的路，本頁直接說明，並寫出要怎麼關。',
  ],
  attacksHeading: '攻擊者可走的路',
  attackColumns: '| id | 來源 | 目標 | 經由 | 由哪一層關閉（在哪個步驟之後） | runbook 怎麼試 |',
  controlsHeading: '必須繼續能用的',
  controlColumns: '| id | 來源 | 目標 | 經由 | 在哪些步驟試 |',
  openHeading: '完整執行後仍然開著的路',
  openIntro: '所有步驟都套用、使用預設設定時：',
  openColumns: '| id | 來源 → 目標 | 為什麼仍然開著 | 怎麼關 |',
  choicesHeading: '哪些選擇會留下開著的路',
  choicesIntro: '有些旗標會關掉某一層，或把它設成開放；這時以下的路會開著：',
  choiceColumns: '| 選擇 | 因此開著的路 |',
  path: (path) => THREAT_PATHS_ZH_TW[path.id],
  target: (path) => TARGETS_ZH_TW[path.target],
  layer: (layer) => LAYERS_ZH_TW[layer],
  choice: (english) => CHOICES_ZH_TW[english],
  closure: (c) => `${LAYERS_ZH_TW[c.layer]}（\`${c.step}\`）`,
  tried: (path) =>
    path.trial.by === 'probe'
      ? `在 ${path.triedAt.map((s) => `\`${s}\``).join('、')} 以探測 Pod 試`
      : path.trial.by === 'gateway request'
        ? `在 ${path.triedAt.map((s) => `\`${s}\``).join('、')} 經由閘道送出請求試`
        : path.trial.by === 'admission attempt'
          ? `在 ${path.triedAt.map((s) => `\`${s}\``).join('、')} 以另一個使用者執行 \`kubectl create --dry-run=server\` 試`
          : `未試：${THREAT_PATHS_ZH_TW[path.id].notTried}`,
  nothing: '—',
}

type Language = Config['lang']

const TEXTS: Record<Language, Texts> = { en: EN, 'zh-TW': ZH }
const cell = (text: string | undefined) => (text ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ')

export function threatModelMarkdown(language: Language): string {
  const t = TEXTS[language]
  const attacks = THREAT_MODEL.filter((p) => p.kind === 'attack')
  const controls = THREAT_MODEL.filter((p) => p.kind === 'control')
  const open = ledger(loadConfig([], {})).filter((row) => row.status === 'open' || row.why)
  const choices = new Map<string, string[]>()
  // A choice leaves a path open only when no other layer closes it.
  for (const path of attacks)
    for (const c of path.closedBy)
      if (c.disabledBecause && path.closedBy.length === 1)
        choices.set(c.disabledBecause, [...(choices.get(c.disabledBecause) ?? []), path.id])
  return [
    '<!-- Generated by `npm run docs` from lib/verify/threat-model.ts and lib/cli/zh-TW.ts. Do not edit by hand. -->',
    `# ${t.header}`,
    '',
    t.twin,
    '',
    ...t.intro.flatMap((p) => [p, '']),
    `## ${t.attacksHeading}`,
    '',
    t.attackColumns,
    '|----|------|----|-----|-----------|-----------|',
    ...attacks.map((p) => {
      const text = t.path(p)
      const closed = p.closedBy.map(t.closure).join('<br>') || t.nothing
      return `| \`${p.id}\` | ${cell(text.from)} | ${cell(t.target(p))} | ${cell(text.via)} | ${closed} | ${cell(t.tried(p))} |`
    }),
    '',
    `## ${t.controlsHeading}`,
    '',
    t.controlColumns,
    '|----|------|----|-----|----------|',
    ...controls.map((p) => {
      const text = t.path(p)
      return `| \`${p.id}\` | ${cell(text.from)} | ${cell(t.target(p))} | ${cell(text.via)} | ${cell(t.tried(p))} |`
    }),
    '',
    `## ${t.openHeading}`,
    '',
    t.openIntro,
    '',
    t.openColumns,
    '|----|-----------|-----|--------------|',
    ...open.map(({ path }) => {
      const text = t.path(path)
      // Open by a default choice (an opt-in layer): the choice is why, and turning that layer on closes it.
      const off = path.closedBy.find((c) => c.disabledBecause)
      const why = text.why ?? (off ? t.choice(off.disabledBecause!) : undefined)
      const wouldClose = text.wouldClose ?? (off ? t.closure(off) : undefined)
      return `| \`${path.id}\` | ${cell(text.from)} → ${cell(t.target(path))} | ${cell(why)} | ${cell(wouldClose)} |`
    }),
    '',
    `## ${t.choicesHeading}`,
    '',
    t.choicesIntro,
    '',
    t.choiceColumns,
    '|--------|----------------------|',
    ...[...choices].map(
      ([choice, ids]) => `| ${cell(t.choice(choice))} | ${ids.map((id) => `\`${id}\``).join(', ')} |`,
    ),
    '',
  ].join('\n')
}

export const THREAT_MODEL_PATHS: Record<Language, string> = {
  en: fileURLToPath(new URL('../../docs/threat-model.md', import.meta.url)),
  'zh-TW': fileURLToPath(new URL('../../docs/zh-TW/threat-model.md', import.meta.url)),
}
