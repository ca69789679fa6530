// --report <dir>: report.md for a change ticket or pull request, and report.html, the same content in one
// self-contained page. What they say is built once as data (lib/report/model.ts) and rendered twice.
import { accessSync, constants, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { UsageError } from '../config/errors.ts'
import { redactCredentials, writeFileSafely } from '../config/safe-output.ts'
import { text } from '../config/text.ts'
import type { Reporter } from '../run/reporter.ts'
import { renderHtml } from './html.ts'
import { renderMarkdown } from './markdown.ts'
import { buildFleetReport, buildReport, type ReportInput, type ReportModel } from './model.ts'

export { markdownTable } from './markdown.ts'
export type { ReportInput, ReportModel } from './model.ts'

/** Checked before anything runs, so an unwritable --report directory is a usage error, not a lost report. */
export function ensureReportDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true })
    accessSync(dir, constants.W_OK)
  } catch (error) {
    throw new UsageError(
      `--report ${dir}: cannot write there (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); name a writable directory`,
    )
  }
}

/**
 * Writes report.md and report.html for a model (one section per context) into `dir` and says where they are: each
 * through a new file renamed into place (a link planted at either name is replaced, its target never written), with
 * URL credentials removed.
 */
export function writeReport(dir: string, model: ReportModel, reporter: Reporter): void {
  writeFileSafely(join(dir, 'report.md'), redactCredentials(renderMarkdown(model)), 0o644)
  writeFileSafely(join(dir, 'report.html'), redactCredentials(renderHtml(model)), 0o644)
  reporter.say(text.cli.report(join(dir, 'report.md'), join(dir, 'report.html')))
}

/** Writes the report of one invocation against one context, or of a fleet audit (one section per context). */
export function writeReportFiles(dir: string, input: ReportInput | ReportInput[], reporter: Reporter): void {
  writeReport(dir, Array.isArray(input) ? buildFleetReport(input) : buildReport(input), reporter)
}
