// The English and Traditional Chinese docs stay twins: every page exists in both languages and links to its
// twin, every step has a page in both, a page and its twin have the same sections and name the same flags and
// step ids, every relative link (anchors included) in docs/ and both READMEs resolves, and the translation
// tables cover every step, flag and exit code.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EXIT_CODES } from '../lib/cli/help.ts'
import { OPTIONS } from '../lib/config/options.ts'
import { STEP_IDS } from '../lib/types.ts'
import {
  DEFAULT_TEXTS_ZH_TW,
  englishFingerprint,
  EXIT_CODES_ZH_TW,
  type OptionKey,
  OPTIONS_ZH_TW,
  OPTION_GROUPS_ZH_TW,
  STEPS_ZH_TW,
  CHOICES_ZH_TW,
  TRANSLATED_FROM,
  THREAT_PATHS_ZH_TW,
} from '../lib/cli/zh-TW.ts'
import { pathEnglish } from '../lib/cli/threat-model-docs.ts'
import { THREAT_MODEL } from '../lib/verify/threat-model.ts'
import { STEPS } from '../steps/index.ts'
import { ROOT } from './harness.ts'

const DOCS = join(ROOT, 'docs')
const ZH_DOCS = join(DOCS, 'zh-TW')

function markdownUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return path === ZH_DOCS ? [] : markdownUnder(path)
    return entry.name.endsWith('.md') ? [path] : []
  })
}

const englishPages = [join(ROOT, 'README.md'), ...markdownUnder(DOCS)]
const chinesePages = [join(ROOT, 'README.zh-TW.md'), ...(existsSync(ZH_DOCS) ? markdownUnder(ZH_DOCS) : [])].filter(
  (page) => existsSync(page),
)
const twinOf = (englishPage: string) =>
  englishPage === join(ROOT, 'README.md') ? join(ROOT, 'README.zh-TW.md') : join(ZH_DOCS, relative(DOCS, englishPage))
const show = (path: string) => relative(ROOT, path)
const read = (path: string) => readFileSync(path, 'utf8')

/** The page without fenced code blocks (their contents are commands, not links or prose). */
const withoutCodeBlocks = (text: string) => text.replace(/^\s*```[\s\S]*?^\s*```/gm, '')
const withoutInlineCode = (text: string) => text.replace(/`[^`\n]*`/g, '')

/** Relative link targets of a page: `[text](target)`, outside code. */
function relativeLinks(text: string): string[] {
  const prose = withoutInlineCode(withoutCodeBlocks(text))
  return [...prose.matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((target) => !/^[a-z]+:/i.test(target))
}

/** GitHub's heading anchors: lower case, punctuation dropped (CJK kept), spaces to '-', repeats numbered. */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>()
  const anchors = new Set<string>()
  for (const [, heading] of withoutCodeBlocks(text).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const plain = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, '')
    const slug = plain
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    anchors.add(count ? `${slug}-${count}` : slug)
  }
  return anchors
}

/** Flags (`--name`) a page names, in prose, tables and commands. */
const flagsIn = (text: string) => new Set([...text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1]))
/** Step ids a page names: as `id` in code or as a link to its step page. */
const stepIdsIn = (text: string) =>
  new Set(STEP_IDS.filter((id) => text.includes(`\`${id}\``) || new RegExp(`\\(([^)]*/)?${id}\\.md[)#]`).test(text)))

test('every English page has a zh-TW twin and every zh-TW page an English one', () => {
  const missing = englishPages.filter((page) => !existsSync(twinOf(page))).map(show)
  assert.equal(missing, [], `pages without a zh-TW twin: ${missing.join(', ')}`)
  const twins = new Set(englishPages.map(twinOf))
  const orphans = chinesePages.filter((page) => !twins.has(page)).map(show)
  assert.equal(orphans, [], `zh-TW pages without an English original: ${orphans.join(', ')}`)
})

test('every step has a page in both languages, its id in the title, and no page describes a step that does not exist', () => {
  for (const id of STEP_IDS) {
    for (const page of [join(DOCS, 'steps', `${id}.md`), join(ZH_DOCS, 'steps', `${id}.md`)]) {
      assert.ok(existsSync(page), `step ${id} has no page ${show(page)}`)
      assert.match(
        read(page).split('\n')[0],
        new RegExp(`^# .*\`${id}\``),
        `${show(page)} does not start with a title naming \`${id}\``,
      )
    }
  }
  for (const dir of [join(DOCS, 'steps'), join(ZH_DOCS, 'steps')]) {
    const unknown = readdirSync(dir).filter((f) => !(STEP_IDS as readonly string[]).includes(f.replace(/\.md$/, '')))
    assert.equal(unknown, [], `${show(dir)} has pages for unknown steps`)
  }
})

test('each page links to its twin in the other language, near the top', () => {
  for (const page of englishPages) {
    const twin = twinOf(page)
    if (!existsSync(twin)) continue // reported by the first test
    for (const [from, to] of [
      [page, twin],
      [twin, page],
    ]) {
      const top = read(from).split('\n').slice(0, 6).join('\n')
      const linked = relativeLinks(top).some((target) => resolve(dirname(from), target.split('#')[0]) === to)
      assert.ok(linked, `${show(from)} does not link to ${show(to)} in its first lines`)
    }
  }
})

test('a flag or step id named in a page is named in its twin too', () => {
  const problems: string[] = []
  for (const page of englishPages) {
    const twin = twinOf(page)
    if (!existsSync(twin)) continue
    const [english, chinese] = [read(page), read(twin)]
    const [en, zh] = [flagsIn(english), flagsIn(chinese)]
    const flags = [
      ...[...en].filter((f) => !zh.has(f)).map((f) => `--${f} only in ${show(page)}`),
      ...[...zh].filter((f) => !en.has(f)).map((f) => `--${f} only in ${show(twin)}`),
    ]
    const [enIds, zhIds] = [stepIdsIn(english), stepIdsIn(chinese)]
    const ids = [
      ...[...enIds].filter((i) => !zhIds.has(i)).map((i) => `step ${i} only in ${show(page)}`),
      ...[...zhIds].filter((i) => !enIds.has(i)).map((i) => `step ${i} only in ${show(twin)}`),
    ]
    problems.push(...flags, ...ids)
  }
  assert.equal(problems, [], problems.join('\n'))
})

/** The outline of a page: the level of each heading, in order (code blocks left out). */
const outlineOf = (text: string) =>
  [...withoutCodeBlocks(text).matchAll(/^(#{1,6})\s/gm)].map((m) => m[1].length).join(' ')

test('a page and its twin have the same sections (a section added to one language is missing in the other)', () => {
  const problems = englishPages
    .filter((page) => existsSync(twinOf(page)) && outlineOf(read(twinOf(page))) !== outlineOf(read(page)))
    .map((page) => `the headings of ${show(twinOf(page))} do not follow those of ${show(page)}`)
  assert.equal(problems, [], problems.join('\n'))
})

test('every relative link in docs/ and both READMEs resolves, anchors included', () => {
  const broken: string[] = []
  for (const page of [...englishPages, ...chinesePages]) {
    for (const target of relativeLinks(read(page))) {
      const [path, anchor] = target.split('#')
      const file = path ? resolve(dirname(page), decodeURI(path)) : page
      if (!existsSync(file)) broken.push(`${show(page)} → ${target} (no such file)`)
      else if (
        anchor !== undefined &&
        (statSync(file).isDirectory() || !anchorsOf(read(file)).has(decodeURIComponent(anchor)))
      )
        broken.push(`${show(page)} → ${target} (no heading with that anchor)`)
    }
  }
  assert.equal(broken, [], `broken links:\n${broken.join('\n')}`)
})

// Half-width , ; : ( ) touching Chinese characters: the zh-TW text uses full-width punctuation in prose.
const HALF_WIDTH_IN_CHINESE = /[\u3400-\u9fff][,;:()]|[,;:()][\u3400-\u9fff]/

test('the zh-TW pages and translations use full-width punctuation in Chinese prose', () => {
  for (const page of chinesePages) {
    const prose = withoutInlineCode(withoutCodeBlocks(read(page))).replace(/\]\([^)]*\)/g, ']')
    const bad = prose.split('\n').filter((line) => HALF_WIDTH_IN_CHINESE.test(line))
    assert.equal(bad, [], `${show(page)} has half-width punctuation in Chinese text`)
  }
  const texts = [
    ...Object.values(STEPS_ZH_TW).flatMap((s) => [s.title, s.why]),
    ...Object.values(OPTIONS_ZH_TW),
    ...Object.values(EXIT_CODES_ZH_TW),
  ]
  assert.equal(
    texts.filter((t) => HALF_WIDTH_IN_CHINESE.test(t)),
    [],
  )
})

test('the zh-TW tables translate every step, flag, option group and exit code, and nothing else', () => {
  const chinese = /[\u3400-\u9fff]/
  assert.equal(Object.keys(STEPS_ZH_TW).sort(), [...STEP_IDS].sort())
  for (const [id, text] of Object.entries(STEPS_ZH_TW))
    assert.ok(chinese.test(text.title) && chinese.test(text.why), `step ${id} is not translated`)
  assert.equal(Object.keys(OPTIONS_ZH_TW).sort(), OPTIONS.map((o) => o.key).sort())
  for (const [key, text] of Object.entries(OPTIONS_ZH_TW))
    assert.ok(chinese.test(text), `flag ${key} is not translated`)
  assert.equal(Object.keys(OPTION_GROUPS_ZH_TW).sort(), [...new Set(OPTIONS.map((o) => o.group))].sort())
  assert.equal(Object.keys(EXIT_CODES_ZH_TW).map(Number).sort(), EXIT_CODES.map(([code]) => code).sort())
  // A default that is a sentence is shown in the reference, so it needs a translation too.
  const sentences = OPTIONS.filter((o) => o.defaultText?.includes(' ')).map((o) => o.key)
  assert.equal(
    sentences.filter((key) => !DEFAULT_TEXTS_ZH_TW[key as OptionKey]),
    [],
    'defaults without a zh-TW text',
  )
})

test('the zh-TW tables translate every path of the threat model, every layer it names and every choice that opens one', () => {
  assert.equal(Object.keys(THREAT_PATHS_ZH_TW).sort(), THREAT_MODEL.map((p) => p.id).sort())
  for (const path of THREAT_MODEL) {
    const zh = THREAT_PATHS_ZH_TW[path.id]
    // Each English part has its Chinese counterpart, and nothing more.
    assert.equal(
      [!!zh.why, !!zh.wouldClose, !!zh.notTried],
      [!!path.staysOpen?.why, !!path.staysOpen?.wouldClose, path.trial.by === 'not tried'],
      path.id,
    )
  }
  const choices = THREAT_MODEL.flatMap((p) => p.closedBy.flatMap((c) => (c.disabledBecause ? [c.disabledBecause] : [])))
  // (the docs list a choice only where it leaves a path open; the table still translates each one)
  assert.equal(Object.keys(CHOICES_ZH_TW).sort(), [...new Set(choices)].sort())
})

test('every zh-TW translation was made from the current English text (a changed English text needs its translation updated)', () => {
  const sources: [string, string][] = [
    ...STEPS.map((step): [string, string] => [`step:${step.id}`, `${step.title}\n${step.why}`]),
    ...THREAT_MODEL.map((path): [string, string] => [`path:${path.id}`, pathEnglish(path)]),
    ...OPTIONS.map((option): [string, string] => [`flag:${option.key}`, option.describe]),
    ...EXIT_CODES.map(([code, meaning]): [string, string] => [`exit:${code}`, meaning]),
    ...OPTIONS.filter((option) => DEFAULT_TEXTS_ZH_TW[option.key as OptionKey]).map((option): [string, string] => [
      `default:${option.key}`,
      option.defaultText!,
    ]),
  ]
  const stale = sources
    .filter(([key, english]) => TRANSLATED_FROM[key] !== englishFingerprint(english))
    .map(
      ([key, english]) =>
        `${key}: translate the current English again in lib/cli/zh-TW.ts, then record TRANSLATED_FROM['${key}'] = '${englishFingerprint(english)}'`,
    )
  assert.equal(stale, [], `translations made from older English:\n${stale.join('\n')}`)
  const unknown = Object.keys(TRANSLATED_FROM).filter((key) => !sources.some(([k]) => k === key))
  assert.equal(unknown, [], 'fingerprints of texts that no longer exist')
})

test.run()
