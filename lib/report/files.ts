// --report <dir>: report.md for a change ticket or pull request, and report.html, the same content in one
// self-contained page. What they say is built once as data (lib/report/model.ts) and rendered twice.
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { UsageError } from '../config/errors.ts'
import { text } from '../config/text.ts'
import type { Reporter } from '../run/reporter.ts'
import { renderHtml } from './html.ts'
import { renderMarkdown } from './markdown.ts'
import { buildReport, type ReportInput, type ReportModel } from './model.ts'

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

/** Writes report.md and report.html for a model (one section per context) into `dir` and says where they are. */
export function writeReport(dir: string, model: ReportModel, reporter: Reporter): void {
  writeFileSync(join(dir, 'report.md'), renderMarkdown(model))
  writeFileSync(join(dir, 'report.html'), renderHtml(model))
  reporter.say(text.cli.report(join(dir, 'report.md'), join(dir, 'report.html')))
}

/** Writes the report of one invocation against one context. */
export function writeReportFiles(dir: string, input: ReportInput, reporter: Reporter): void {
  writeReport(dir, buildReport(input), reporter)
}
