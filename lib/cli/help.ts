// --help text, generated from the option table and the step list so it never drifts from the code.
import { OPTIONS, type OptionGroup } from '../config/options.ts'
import type { Step } from '../types.ts'

export const EXIT_CODES: [number, string][] = [
  [0, 'every selected step is done and verified (or the dry run / render / list finished)'],
  [1, 'a step or one of its checks failed; the resume command is printed'],
  [
    2,
    'usage or configuration error (unknown flag, bad value, bad config file, no context with --yes, another run holds the lock, a foreign or malformed record); nothing was changed',
  ],
  [130, 'interrupted (Ctrl-C or "quit"); state is saved and the resume command is printed'],
]

/** `-n, --namespace <ns>`; a flag whose value is optional shows it as `[=client|server]`. */
export function flagLabel(o: (typeof OPTIONS)[number]): string {
  const placeholder = o.value ?? (o.choices ? o.choices.join('|') : 'value')
  const value = o.kind === 'boolean' ? '' : o.bareValue ? `[=${placeholder}]` : ` <${placeholder}>`
  return `${o.short ? `-${o.short}, ` : ''}--${o.flag}${value}`
}

export function defaultLabel(o: (typeof OPTIONS)[number]): string {
  if (o.defaultText) return ` (default: ${o.defaultText})`
  if (o.default === undefined || o.default === false || (Array.isArray(o.default) && o.default.length === 0)) return ''
  if (o.kind === 'boolean') return ' (default: on)'
  return ` (default: ${Array.isArray(o.default) ? o.default.join(' | ') : o.default})`
}

export function helpText(steps: Step[], version: string): string {
  const groups: OptionGroup[] = ['Run', 'Cluster', 'Versions and downloads', 'Hardening choices', 'Output']
  const sections = groups.map((group) => {
    const lines = OPTIONS.filter((o) => o.group === group).map((o) => {
      const label = `${o.short ? '' : '    '}${flagLabel(o)}`
      const env = o.env ? ` [env ${o.env}]` : ''
      return `  ${label.padEnd(34)} ${o.describe}${defaultLabel(o)}${env}`
    })
    return `${group}:\n${lines.join('\n')}`
  })
  return [
    `gthulhu-runbook ${version} — harden a Gthulhu installation with Istio ambient mode, verifying every step.`,
    '',
    'Usage: npm start -- [flags]      (or: npx gthulhu-runbook [flags])',
    '       gthulhu-runbook completion bash|zsh|fish   (print a shell completion script)',
    '',
    'Steps, in order:',
    ...steps.map((s, i) => `  ${String(i + 1).padStart(2)}. ${s.id.padEnd(17)} ${s.title}`),
    '',
    ...sections.flatMap((s) => [s, '']),
    'Boolean flags take --no-<flag> to turn them off; one-letter flags combine (-yv, -n gthulhu, -ojson).',
    'A --config file holds the same names as YAML keys.',
    'Without --yes the runbook needs a terminal; with --yes it never prompts and needs --context.',
    '',
    'Exit codes:',
    ...EXIT_CODES.map(([code, meaning]) => `  ${String(code).padEnd(4)} ${meaning}`),
  ].join('\n')
}
