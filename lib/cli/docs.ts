// docs/reference.md and docs/zh-TW/reference.md are generated from the same data as --help (the option table,
// the steps, the exit codes) and, for zh-TW, the translation tables in lib/cli/zh-TW.ts; docs/threat-model.md and
// its twin from the threat model (lib/cli/threat-model-docs.ts); the README's flag table and the operator guide's
// CronJob audit roles (--print-rbac) in both languages. `npm run docs` rewrites them, and a test fails when one is out
// of date.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { EXIT_CODES } from './help.ts'
import { THREAT_MODEL_PATHS, threatModelMarkdown } from './threat-model-docs.ts'
import { loadConfig, OPTIONS, type Config, type OptionSpec } from '../config/options.ts'
import { rbacYaml, rolesFor } from '../run/rbac.ts'
import type { Step } from '../types.ts'
import {
  DEFAULT_TEXTS_ZH_TW,
  EXIT_CODES_ZH_TW,
  OPTION_GROUPS_ZH_TW,
  OPTIONS_ZH_TW,
  STEPS_ZH_TW,
  type OptionKey,
} from './zh-TW.ts'

export type Language = Config['lang']
export const LANGUAGES: Language[] = ['en', 'zh-TW']

/** Everything in the reference that depends on the language. */
interface ReferenceText {
  title: string
  /** Link to the same page in the other language (relative to this page). */
  twinLink: string
  stepsHeading: string
  stepColumns: string
  step(step: Step): { title: string; why: string }
  flagsHeading: string
  configNote: string
  flagColumns: string
  describe(option: OptionSpec): string
  /** An option's default when it is a sentence, not a value. */
  defaultText(option: OptionSpec): string
  group(option: OptionSpec): string
  env(name: string): string
  flagOnly: string
  turnsOff(flag: string): string
  /** Wraps the env / flag-only / --no- notes after a description. */
  extras(notes: string[]): string
  exitHeading: string
  exitColumns: string
  exitMeaning(code: number, english: string): string
}

const REFERENCE_TEXT: Record<Language, ReferenceText> = {
  en: {
    title: 'Reference',
    twinLink: '[繁體中文](zh-TW/reference.md)',
    stepsHeading: 'Steps',
    stepColumns: '| # | id | title | why |',
    step: (step) => step,
    flagsHeading: 'Flags',
    configNote:
      'Every flag can also be set in the `--config` YAML file under the same name without `--` (except those marked flag-only). Flags win over the file, the file over environment variables, those over defaults.',
    flagColumns: '| flag | group | default | description |',
    describe: (option) => option.describe,
    defaultText: (option) => option.defaultText!,
    group: (option) => option.group,
    env: (name) => `env \`${name}\``,
    flagOnly: 'flag-only',
    turnsOff: (flag) => `\`--no-${flag}\` turns it off`,
    extras: (notes) => ` (${notes.join('; ')})`,
    exitHeading: 'Exit codes',
    exitColumns: '| code | meaning |',
    exitMeaning: (_code, english) => english,
  },
  'zh-TW': {
    title: '參考',
    twinLink: '[English](../reference.md)',
    stepsHeading: '步驟',
    stepColumns: '| # | id | 名稱 | 為什麼 |',
    step: (step) => STEPS_ZH_TW[step.id],
    flagsHeading: '旗標',
    configNote:
      '每個旗標也都可以寫在 `--config` 指定的 YAML 檔裡，鍵名是去掉 `--` 的旗標名稱（標示「僅限旗標」的除外）。優先順序：旗標 > 設定檔 > 環境變數 > 預設值。',
    flagColumns: '| 旗標 | 分類 | 預設值 | 說明 |',
    describe: (option) => OPTIONS_ZH_TW[option.key as OptionKey],
    defaultText: (option) => DEFAULT_TEXTS_ZH_TW[option.key as OptionKey] ?? option.defaultText!,
    group: (option) => OPTION_GROUPS_ZH_TW[option.group],
    env: (name) => `環境變數 \`${name}\``,
    flagOnly: '僅限旗標',
    turnsOff: (flag) => `\`--no-${flag}\` 可關閉`,
    extras: (notes) => `（${notes.join('；')}）`,
    exitHeading: '結束碼',
    exitColumns: '| 結束碼 | 意義 |',
    exitMeaning: (code) => EXIT_CODES_ZH_TW[code],
  },
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ')

/** One flag as the docs show it: its name with value placeholder, its default, and its description with notes. */
function flagRow(o: OptionSpec, language: Language): { flag: string; default: string; describe: string } {
  const text = REFERENCE_TEXT[language]
  const placeholder = o.value ?? o.choices?.join('\\|') ?? 'value'
  const value = o.kind === 'boolean' ? '' : o.bareValue ? `[=${placeholder}]` : ` <${placeholder}>`
  const notes = [
    o.env ? text.env(o.env) : '',
    o.flagOnly ? text.flagOnly : '',
    o.kind === 'boolean' ? text.turnsOff(o.flag) : '',
  ].filter(Boolean)
  return {
    flag: `${o.short ? `\`-${o.short}\`, ` : ''}\`--${o.flag}${value}\``,
    default: o.defaultText
      ? cell(text.defaultText(o))
      : o.default === undefined || o.default === false
        ? ''
        : Array.isArray(o.default)
          ? o.default.map((d) => `\`${d}\``).join('<br>')
          : o.key === 'installDir'
            ? '`~/.local/bin`'
            : `\`${o.default}\``,
    describe: `${cell(text.describe(o))}${notes.length ? text.extras(notes) : ''}`,
  }
}

export function referenceMarkdown(steps: Step[], language: Language = 'en'): string {
  const text = REFERENCE_TEXT[language]
  return [
    '<!-- Generated by `npm run docs` from lib/config/options.ts, lib/cli/help.ts, lib/cli/zh-TW.ts and steps/. Do not edit by hand. -->',
    `# ${text.title}`,
    '',
    text.twinLink,
    '',
    `## ${text.stepsHeading}`,
    '',
    text.stepColumns,
    '|---|----|-------|-----|',
    ...steps.map((s, i) => {
      const { title, why } = text.step(s)
      return `| ${i + 1} | \`${s.id}\` | ${cell(title)} | ${cell(why)} |`
    }),
    '',
    `## ${text.flagsHeading}`,
    '',
    text.configNote,
    '',
    text.flagColumns,
    '|------|-------|---------|-------------|',
    ...OPTIONS.map((o) => {
      const row = flagRow(o, language)
      return `| ${row.flag} | ${text.group(o)} | ${row.default} | ${row.describe} |`
    }),
    '',
    `## ${text.exitHeading}`,
    '',
    text.exitColumns,
    '|------|---------|',
    ...EXIT_CODES.map(([code, meaning]) => `| ${code} | ${cell(text.exitMeaning(code, meaning))} |`),
    '',
  ].join('\n')
}

/** The README's flag table: every flag of the option table, in its order, with its default and description. */
export function readmeFlagTable(language: Language): string {
  const head = language === 'en' ? '| flag | default | what it does |' : '| 旗標 | 預設值 | 作用 |'
  return [
    README_MARK.start,
    head,
    '|------|---------|--------------|',
    ...OPTIONS.map((o) => {
      const row = flagRow(o, language)
      return `| ${row.flag} | ${row.default} | ${row.describe} |`
    }),
    README_MARK.end,
  ].join('\n')
}

/** The lines between which the README's flag table is generated (`npm run docs` rewrites what is between them). */
export const README_MARK = {
  start: '<!-- flags: generated by `npm run docs` from lib/config/options.ts; do not edit by hand -->',
  end: '<!-- end of generated flags -->',
}

/** A README with its flag table regenerated; throws when the markers are missing. */
export function withReadmeFlags(readme: string, language: Language): string {
  const start = readme.indexOf(README_MARK.start)
  const end = readme.indexOf(README_MARK.end)
  if (start < 0 || end < start) throw new Error(`the README (${language}) lacks the generated flag table's markers`)
  return readme.slice(0, start) + readmeFlagTable(language) + readme.slice(end + README_MARK.end.length)
}

/** The lines between which the operator guide's CronJob audit roles are generated (`npm run docs`). */
export const AUDIT_RBAC_MARK = {
  start:
    '<!-- audit-rbac: generated by `npm run docs` (--print-rbac serviceaccount:gthulhu-audit:gthulhu-audit --verify -n default); do not edit by hand -->',
  end: '<!-- end of generated audit-rbac -->',
}

/** The CronJob audit's roles, as `--print-rbac serviceaccount:gthulhu-audit:gthulhu-audit --verify -n default` prints them. */
export function auditRbacBlock(steps: Step[]): string {
  const config = loadConfig(['-n', 'default'], {})
  const set = rolesFor(
    steps,
    steps.map((s) => s.id),
    config,
    'verify',
  )
  const yaml = rbacYaml(set, { kind: 'ServiceAccount', namespace: 'gthulhu-audit', name: 'gthulhu-audit' }, config)
  return [AUDIT_RBAC_MARK.start, '```yaml', yaml.trimEnd(), '```', AUDIT_RBAC_MARK.end].join('\n')
}

/** An operator guide with its CronJob audit roles regenerated; throws when the markers are missing. */
export function withAuditRbac(guide: string, steps: Step[], language: Language): string {
  const start = guide.indexOf(AUDIT_RBAC_MARK.start)
  const end = guide.indexOf(AUDIT_RBAC_MARK.end)
  if (start < 0 || end < start) throw new Error(`the operator guide (${language}) lacks the audit roles' markers`)
  return guide.slice(0, start) + auditRbacBlock(steps) + guide.slice(end + AUDIT_RBAC_MARK.end.length)
}

export const OPERATOR_GUIDE_PATHS: Record<Language, string> = {
  en: fileURLToPath(new URL('../../docs/operator-guide.md', import.meta.url)),
  'zh-TW': fileURLToPath(new URL('../../docs/zh-TW/operator-guide.md', import.meta.url)),
}

export const README_PATHS: Record<Language, string> = {
  en: fileURLToPath(new URL('../../README.md', import.meta.url)),
  'zh-TW': fileURLToPath(new URL('../../README.zh-TW.md', import.meta.url)),
}

export const REFERENCE_PATHS: Record<Language, string> = {
  en: fileURLToPath(new URL('../../docs/reference.md', import.meta.url)),
  'zh-TW': fileURLToPath(new URL('../../docs/zh-TW/reference.md', import.meta.url)),
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { STEPS } = await import('../../steps/index.ts')
  for (const language of LANGUAGES) {
    for (const [path, text] of [
      [REFERENCE_PATHS[language], referenceMarkdown(STEPS, language)],
      [THREAT_MODEL_PATHS[language], threatModelMarkdown(language)],
    ]) {
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, text)
      console.log(`wrote ${path}`)
    }
    writeFileSync(README_PATHS[language], withReadmeFlags(readFileSync(README_PATHS[language], 'utf8'), language))
    console.log(`wrote the flag table of ${README_PATHS[language]}`)
    const guide = OPERATOR_GUIDE_PATHS[language]
    writeFileSync(guide, withAuditRbac(readFileSync(guide, 'utf8'), STEPS, language))
    console.log(`wrote the audit roles of ${guide}`)
  }
}
