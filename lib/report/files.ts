// --report <dir>: report.md for a change ticket or pull request, and report.html, the same content in one
// self-contained page. What they say is built once as data (lib/report/model.ts) and rendered twice.
import { lstatSync } from 'node:fs'
import { join } from 'node:path'
import { StepFailure, UsageError } from '../config/errors.ts'
import { makeWritableDir, problemAt } from '../config/local-dir.ts'
import { redactCredentials, writeFileSafely } from '../config/safe-output.ts'
import { text } from '../config/text.ts'
import type { Reporter } from '../run/reporter.ts'
import { renderHtml } from './html.ts'
import { renderMarkdown } from './markdown.ts'
import { buildFleetReport, buildReport, type ReportInput, type ReportModel } from './model.ts'

export { markdownTable } from './markdown.ts'
export type { ReportInput, ReportModel } from './model.ts'

/** The files of a report, in the --report directory. */
const REPORT_FILES = ['report.md', 'report.html'] as const

/**
 * Checked before anything runs, so an unwritable --report directory, or a directory where a report file goes, is a
 * usage error, not a report lost after the run.
 */
export function ensureReportDir(dir: string): void {
  const problem =
    makeWritableDir(dir) ??
    REPORT_FILES.map((name) => join(dir, name))
      .filter((path) => lstatSync(path, { throwIfNoEntry: false })?.isDirectory())
      .map((at) => problemAt(at, { code: 'EISDIR' }))[0]
  if (problem) throw new UsageError(text.errors.reportDir(dir, text.errors.localPath(problem)))
}

/**
 * Writes report.md and report.html for a model (one section per context) into `dir` and says where they are: each
 * through a new file renamed into place (a link planted at either name is replaced, its target never written), with
 * URL credentials removed. A file that still cannot be written (the directory changed during the run) is a failure
 * said in one line.
 */
export function writeReport(dir: string, model: ReportModel, reporter: Reporter): void {
  const [md, html] = REPORT_FILES.map((name) => join(dir, name))
  writeReportFile(md, renderMarkdown(model))
  writeReportFile(html, renderHtml(model))
  reporter.say(text.cli.report(md, html))
}

function writeReportFile(path: string, content: string): void {
  try {
    writeFileSafely(path, redactCredentials(content), 0o644)
  } catch (error) {
    throw new StepFailure(text.cli.reportNotWritten(text.errors.localPath(problemAt(path, error))))
  }
}

/** Writes the report of one invocation against one context, or of a fleet audit (one section per context). */
export function writeReportFiles(dir: string, input: ReportInput | ReportInput[], reporter: Reporter): void {
  writeReport(dir, Array.isArray(input) ? buildFleetReport(input) : buildReport(input), reporter)
}
