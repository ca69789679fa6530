import { readFileSync } from 'node:fs'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  LANGUAGES,
  OPERATOR_GUIDE_PATHS,
  README_PATHS,
  referenceMarkdown,
  REFERENCE_PATHS,
  withAuditRbac,
  withReadmeFlags,
} from '../lib/cli/docs.ts'
import { THREAT_MODEL_PATHS, threatModelMarkdown } from '../lib/cli/threat-model-docs.ts'
import { helpText } from '../lib/cli/help.ts'
import { loadConfig, OPTIONS } from '../lib/config/options.ts'
import { STEPS } from '../steps/index.ts'

for (const language of LANGUAGES) {
  test(`the ${language} reference is generated from the current flags and steps (run \`npm run docs\` after changing them)`, () => {
    assert.fixture(readFileSync(REFERENCE_PATHS[language], 'utf8'), referenceMarkdown(STEPS, language))
  })
  test(`the ${language} threat model page is generated from lib/verify/threat-model.ts (run \`npm run docs\` after changing it)`, () => {
    assert.fixture(readFileSync(THREAT_MODEL_PATHS[language], 'utf8'), threatModelMarkdown(language))
  })
}

for (const language of LANGUAGES) {
  test(`the ${language} README's flag table is generated from the option table, every flag once (run \`npm run docs\`)`, () => {
    const readme = readFileSync(README_PATHS[language], 'utf8')
    assert.fixture(readme, withReadmeFlags(readme, language))
    for (const option of OPTIONS)
      assert.is(
        readme.split('\n').filter((line) => line.includes(`\`--${option.flag}`) && line.startsWith('| ')).length,
        1,
        `--${option.flag} has one row`,
      )
  })
}

for (const language of LANGUAGES) {
  test(`the ${language} operator guide's CronJob audit roles are what --print-rbac --verify prints (run \`npm run docs\`)`, () => {
    const guide = readFileSync(OPERATOR_GUIDE_PATHS[language], 'utf8')
    assert.fixture(guide, withAuditRbac(guide, STEPS, language))
  })
}

test('--help names every flag, every step and every exit code', () => {
  const help = helpText(STEPS, '0.0.0')
  for (const option of OPTIONS) assert.ok(help.includes(`--${option.flag}`), `--help lacks --${option.flag}`)
  for (const step of STEPS) assert.ok(help.includes(step.id), `--help lacks step ${step.id}`)
  for (const code of ['0', '1', '2', '130']) assert.match(help, new RegExp(`^  ${code}\\s`, 'm'))
})

test('every step explains itself and plans without a cluster (dry runs before preflight use the chart defaults)', () => {
  const config = loadConfig([], {})
  for (const step of STEPS) {
    assert.ok(step.why.length > 80, `${step.id} needs a real explanation`)
    const plan = step.plan({ config, facts: {} })
    assert.ok(
      plan.some((item) => item.kind !== 'note'),
      `${step.id} plans no command, download or manifest`,
    )
  }
})

test.run()
