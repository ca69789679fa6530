// Where the runbook's words go: human text (stdout, or stderr under --output json) and, under --output json,
// one JSON event per line on stdout for pipelines to follow and archive.
import type { Config } from '../config/options.ts'
import { shellLine, toYamlStream } from '../kube/cluster.ts'
import type { Check, PlanItem, StepId } from '../types.ts'
import { text } from '../config/text.ts'
import { expectedNow, ledger, TARGET_TITLES } from '../verify/threat-model.ts'

export type RunEvent =
  | {
      event: 'run-start'
      context?: string
      contexts?: string[]
      stateFile?: string
      record?: string
      steps: string[]
      dryRun: boolean
    }
  | { event: 'step-start'; step: string; title: string }
  | { event: 'step-log'; step: string; level: 'info' | 'warn'; message: string }
  | { event: 'check'; step: string; name: string; expected: string; observed: string; ok: boolean; advisory: boolean }
  | { event: 'step-end'; step: string; status: string; durationMs: number; error?: string }
  | { event: 'step'; step: string; title: string; status: string; finishedAt?: string }
  | { event: 'command'; argv: string[]; exitCode: number | null; durationMs: number }
  | {
      event: 'server-dry-run'
      step: string
      object: string
      result: 'accepted' | 'rejected' | 'unchecked'
      message?: string
    }
  | { event: 'drift'; step: string; check: string; expected: string; observed: string; diff?: string[] }
  | { event: 'path'; path: string; status: string; holding: string[]; voided: string[] }
  | {
      event: 'audit-end'
      steps: number
      holding: number
      drifts: number
      pathsOpen: number
      probed: boolean
      exitCode: number
      message?: string
    }
  | {
      event: 'run-end'
      status: 'done' | 'failed' | 'interrupted' | 'usage-error'
      exitCode: number
      resumeCommand?: string
      webUiUrl?: string
      message?: string
      /** A fleet audit: one row per context. */
      contexts?: {
        context: string
        holding: number
        steps: number
        drifts: number
        pathsOpen: number
        exitCode: number
      }[]
    }

export class Reporter {
  constructor(
    readonly json: boolean,
    readonly human: NodeJS.WriteStream = json ? process.stderr : process.stdout,
    private readonly events: NodeJS.WritableStream = process.stdout,
    /** Set in a fleet audit: every event names the context it is about. */
    readonly context?: string,
  ) {}

  say(text = ''): void {
    this.human.write(text + '\n')
  }

  event(event: RunEvent): void {
    if (this.json)
      this.events.write(
        JSON.stringify({
          time: new Date().toISOString(),
          ...(this.context ? { context: this.context } : {}),
          ...event,
        }) + '\n',
      )
  }
}

const mark = (check: Check) => (check.ok ? '✔' : check.skipped ? '–' : check.advisory ? '⚠' : '✖')

export function formatChecks(checks: Check[]): string {
  return checks
    .map((c) => {
      if (c.skipped) return `  ${mark(c)} ${c.name}: ${c.skipped}`
      const line = `  ${mark(c)} ${c.name}\n      ${text.checks.expectedLine(c.expected)}\n      ${text.checks.observedLine(c.observed)}`
      const diff = !c.ok && c.diff?.length ? `\n      ${text.checks.diffLine}\n${indent(c.diff.join('\n'), 8)}` : ''
      return !c.ok && c.hint ? `${line}${diff}\n      → ${c.hint}` : `${line}${diff}`
    })
    .join('\n')
}

/** Puts the run's --kubeconfig/--context into kubectl and istioctl command lines, so a plan shows exactly what runs. */
export function withConnection(argv: string[], connection: string[]): string[] {
  const [program, ...rest] = argv
  const connects = program === 'kubectl' || program.endsWith('istioctl')
  return connects && connection.length && !rest.includes('--context') ? [program, ...connection, ...rest] : argv
}

/**
 * A plan as the operator reads it: every command, download and manifest with its YAML. `brief` (the preview before a
 * step) gives each item one line: the manifests by kind and name, the download without its checksum URL.
 */
export function formatPlan(items: PlanItem[], connection: string[] = [], options: { brief?: boolean } = {}): string {
  return items
    .map((item) => {
      const why = 'why' in item && item.why ? `   # ${item.why}` : ''
      switch (item.kind) {
        case 'command':
          return `  $ ${shellLine(withConnection(item.argv, connection))}${why}`
        case 'download':
          return options.brief
            ? `  ↓ ${item.url} → ${item.destination}${why}`
            : `  ↓ ${item.url}${item.checksumUrl ? `\n    ${text.plan.verifyAgainst(item.checksumUrl)}` : ''}\n    → ${item.destination}${why}`
        case 'manifest': {
          const name = `${item.object.kind} ${item.object.metadata.namespace ? item.object.metadata.namespace + '/' : ''}${item.object.metadata.name}`
          return options.brief
            ? `  apply (${item.apply}) ${name}${why}`
            : `  apply (${item.apply}) ${name}:${why}\n${indent(toYamlStream([item.object]), 6)}`
        }
        case 'note':
          return `  • ${item.text}`
      }
    })
    .join('\n')
}

export const indent = (text: string, spaces: number) =>
  text
    .trimEnd()
    .split('\n')
    .map((line) => ' '.repeat(spaces) + line)
    .join('\n')

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`

/**
 * The threat model's ledger for the steps in effect: every open path with why and what would close it, then the
 * closed ones by id. Printed at the end of a run, so no run ends on a claim wider than what was closed.
 */
export function formatLedger(config: Config, inEffect: (step: StepId) => boolean): string {
  const rows = ledger(config, inEffect)
  const open = rows.filter((row) => row.status === 'open' || row.why)
  const closed = rows.filter((row) => row.status === 'closed')
  const lines = open.map((row) => {
    // Open because the step that closes it has not run: said in the run's words; the model's own reasons as they are.
    const expected = expectedNow(row.path, config, inEffect)
    const until = expected.verdict === 'open' ? expected.until : undefined
    const why = until ? text.ledger.notApplied(until.step) : (row.why ?? '')
    const wouldClose =
      until && !row.path.staysOpen ? text.ledger.stepCloses(until.step, until.layer) : (row.wouldClose ?? '')
    return (
      `  ${row.status === 'open' ? text.ledger.open : text.ledger.partly} ${text.ledger.path(row.path.id, row.path.from, TARGET_TITLES[row.path.target])}\n` +
      `      ${text.ledger.why(why, row.path.id)}\n      ${text.ledger.wouldClose(wouldClose, row.path.id)}`
    )
  })
  return [
    text.ledger.title,
    ...(lines.length ? lines : [text.ledger.nothing]),
    text.ledger.closed(closed.map((row) => row.path.id).join(', ')),
  ].join('\n')
}
