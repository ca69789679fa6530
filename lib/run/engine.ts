// Runs the selected steps in order: explain and confirm (guided mode), run, verify, record in state. listr2
// shows progress while a step runs; prompts and check tables are printed between steps, so neither corrupts
// the other. One engine serves guided runs, automation, dry runs and resumes.
import { confirm } from '@inquirer/prompts'
import { ListrInquirerPromptAdapter } from '@listr2/prompt-adapter-inquirer'
import { Listr, ListrLogger, ProcessOutput, type ListrTaskWrapper } from 'listr2'
import { Interrupted, StepFailure, UsageError, isExpected } from '../config/errors.ts'
import { asked } from '../config/prompting.ts'
import type { Cluster } from '../kube/cluster.ts'
import type { Config } from '../config/options.ts'
import { formatChecks, formatPlan, indent, seconds, type Reporter } from './reporter.ts'
import { describeAnswer, MID_STEP_CONFIRMATIONS, openQuestions, STEP_QUESTIONS } from './questions.ts'
import { outcomeConfig, type StateStore, type StepRecord, type StepStatus } from './state.ts'
import { padColumns, terminalColumns, text } from '../config/text.ts'
import type { Check, RunOutcome, Step, StepContext, StepIO, StepId } from '../types.ts'
import { recordBefore, undoChecks, undoPlan, undoStep } from './undo.ts'
import type { ProbeResult } from '../verify/probes.ts'

/** The questions asked in guided mode; tests replace them. */
export interface Prompter {
  beforeStep(step: Step, showPlan: () => void): Promise<'run' | 'skip' | 'all' | 'quit'>
  afterFailure(step: Step, canRollback: boolean): Promise<'retry-verify' | 'rerun' | 'rollback' | 'accept' | 'quit'>
  /** Guided undo: whether to undo this step (the plan was shown). */
  confirmUndo?(step: Step): Promise<boolean>
}

export interface EngineOptions {
  config: Config
  steps: Step[]
  selected: StepId[]
  state: StateStore
  cluster: Cluster
  reporter: Reporter
  signal: AbortSignal
  /** Guided mode when set; automation mode never prompts. */
  prompter?: Prompter
  /** Whether listr2 may draw its interactive renderer (a terminal, not JSON output). */
  fancy: boolean
  /** False under --no-probes. */
  probes?: boolean
  /** Receives each step's probe results (for --report). */
  onProbeResults?: (step: StepId, results: ProbeResult[]) => void
}

/** The two verbs one attempt runs: change (optional) and verify. */
interface Verbs {
  apply?: (ctx: StepContext, io: StepIO) => Promise<RunOutcome | void>
  applyTitle: string
  verify: (ctx: StepContext, io: StepIO) => Promise<Check[]>
}

export interface StepResult {
  id: StepId
  status: StepStatus
  durationMs: number
  /** When it ended (epoch ms): with durationMs, its place on the run's wall clock (an audit's steps overlap). */
  finishedAt: number
  checks: Check[]
  note?: string
  /** What the step said while it applied or undid something: the changes it made, for --report. */
  changes?: string[]
}

class StepRunFailed extends StepFailure {
  constructor(
    message: string,
    readonly checks: Check[] = [],
  ) {
    super(message)
  }
}

export class Engine {
  readonly results: StepResult[] = []
  /** The step being offered or run; where a resumed run must start after a failure or interruption. */
  current?: StepId
  private runAll = false

  constructor(private readonly options: EngineOptions) {}

  private get ctx(): StepContext {
    const { config, cluster, signal, state, probes } = this.options
    // A step's protection counts as in effect once its verification passed (recorded done).
    const inEffect = (step: StepId) => state.state.steps[step]?.status === 'done'
    return {
      config,
      cluster,
      signal,
      settleMs: config.timeout * 1000,
      facts: state.state.facts,
      probes: probes ?? true,
      inEffect,
    }
  }

  /** The context of one step: where its probe results go and (to run or undo it) its record of what was there before. */
  private ctxFor(step: Step, withBefore = true): StepContext {
    const onProbeResults = (results: ProbeResult[]) => this.options.onProbeResults?.(step.id, results)
    return {
      ...this.ctx,
      onProbeResults,
      ...(withBefore ? { before: (this.options.state.step(step.id).before ??= {}) } : {}),
    }
  }

  async run(): Promise<void> {
    const { steps, selected, reporter, config, state } = this.options
    state.state.config = outcomeConfig(config)
    for (const [index, id] of selected.entries()) {
      this.current = id
      const step = steps.find((s) => s.id === id)!
      const { prompter } = this.options
      if (prompter && !this.runAll) {
        const connection = this.options.cluster.connectionArgs()
        this.introduce(step)
        const plan = step.plan(this.ctx)
        reporter.say(`\n${text.run.itWill}\n${formatPlan(plan, connection, { brief: true })}`)
        const choice = await prompter.beforeStep(step, () =>
          reporter.say(
            plan.some((item) => item.kind === 'manifest' || item.kind === 'download')
              ? `\n${text.run.fullPlan(step.id)}\n${formatPlan(plan, connection)}\n`
              : `\n${text.run.nothingMore(step.id)}\n`,
          ),
        )
        if (choice === 'quit') throw new Interrupted(text.run.stoppedBefore(step.id))
        if (choice === 'skip') {
          this.warnDependents(step, selected.slice(index + 1))
          await this.record(step, 'skipped', 0, [], text.run.skippedByOperator)
          continue
        }
        if (choice === 'all') {
          this.runAll = true
          this.sayUnaskedAnswers(selected.slice(index))
        }
      }
      // After "without asking", the remaining questions take the answers listed when the operator chose it.
      if (prompter && !this.runAll) await this.answerQuestions(step)
      await this.runWithRecovery(step)
    }
  }

  /** Skipping a step: names the later steps that need it (directly or through another), whose checks will say so. */
  private warnDependents(skipped: Step, later: StepId[]): void {
    const needing = new Set<StepId>([skipped.id])
    const dependents: StepId[] = []
    for (const id of later) {
      const step = this.options.steps.find((s) => s.id === id)!
      if (step.requires?.some((r) => needing.has(r))) {
        needing.add(id)
        dependents.push(id)
      }
    }
    if (dependents.length) this.options.reporter.say(text.run.skipWarning(skipped.id, dependents))
  }

  /** "Run all remaining without asking": says once what the questions of the remaining steps will take. */
  private sayUnaskedAnswers(remaining: StepId[]): void {
    const { config, state, reporter } = this.options
    const answers = remaining.flatMap((id) =>
      (STEP_QUESTIONS[id] ?? []).map((q) => {
        const source = config.explicit.includes(q.key)
          ? text.run.fromFlag
          : q.key in state.state.answers
            ? text.run.fromRecord
            : text.run.byDefault
        return `  ${q.flag} ${describeAnswer(q.key, config, state.state.facts)}  ${text.summary.note(source)}`
      }),
    )
    const confirmations = remaining.flatMap((id) =>
      (MID_STEP_CONFIRMATIONS[id] ?? []).filter((c) => !config[c.key]).map((c) => `  ${c.flag}: ${c.when()}`),
    )
    reporter.say(
      [
        `\n${text.run.runAll}`,
        ...(answers.length ? [text.run.runAllAnswers, ...answers] : []),
        ...(confirmations.length ? [text.run.runAllConfirms, ...confirmations] : []),
      ].join('\n'),
    )
  }

  private introduce(step: Step): void {
    this.options.reporter.say(`\n━━ ${step.title} (${step.id}) ━━\n${wrap(step.why)}`)
  }

  /** Asks what only the operator can answer for this step, once; the answers are kept in state. */
  private async answerQuestions(step: Step): Promise<void> {
    const { config, state } = this.options
    const questions = openQuestions(step.id, config, state.state.answers)
    for (const question of questions) {
      const answer = await question.ask(config, state.state.facts, this.options.signal)
      ;(config as any)[question.key] = answer
      ;(state.state.answers as any)[question.key] = answer
      await state.save()
      this.options.reporter.say(
        text.questions.kept(question.flag, describeAnswer(question.key, config, state.state.facts)),
      )
    }
  }

  private async runWithRecovery(step: Step): Promise<void> {
    let mode: 'run' | 'verify' = 'run'
    for (;;) {
      const started = Date.now()
      // The cluster record gets this with the write before the step's first change (runVerbs): a step that
      // changes nothing needs no write of its start.
      this.options.state.updateLocally(step.id, {
        status: 'running',
        startedAt: new Date().toISOString(),
        error: undefined,
      })
      try {
        const { checks, note, changes } = await this.attempt(
          step,
          mode === 'run' ? this.runVerbs(step) : { applyTitle: '', verify: step.verify },
        )
        await this.record(step, 'done', Date.now() - started, checks, note)
        this.results.at(-1)!.changes = changes
        return
      } catch (error) {
        const checks = error instanceof StepRunFailed ? error.checks : []
        if (this.options.signal.aborted || error instanceof Interrupted) {
          // No checks: what a stopped command "observed" (no output, no answer) says nothing of the cluster.
          await this.record(step, 'interrupted', Date.now() - started, [], text.run.interruptedNote)
          throw new Interrupted(text.run.interruptedDuring(step.id))
        }
        const message = isExpected(error) ? (error as Error).message : String((error as Error).stack ?? error)
        await this.record(step, 'failed', Date.now() - started, checks, undefined, message)
        if (error instanceof UsageError) throw error // bad operator input: exit 2, and retrying cannot help
        this.options.reporter.say(text.run.failed(step.id, message))
        if (!this.options.prompter) throw new StepFailure(text.run.stepFailed(step.id, message))
        const choice = await this.options.prompter.afterFailure(step, !!(step.undo || step.rollback))
        if (choice === 'quit') throw new StepFailure(text.run.stepFailed(step.id, message))
        if (choice === 'accept') {
          await this.record(step, 'accepted', Date.now() - started, checks, text.run.acceptedDespite(message))
          return
        }
        if (choice === 'rollback') {
          await this.undoOne(step)
          throw new StepFailure(text.run.rolledBackAfter(step.id, message))
        }
        mode = choice === 'retry-verify' ? 'verify' : 'run'
      }
    }
  }

  /** A step's run, after recording what its undo will need to put back. */
  private runVerbs(step: Step): Verbs {
    return {
      applyTitle: text.run.applyTask,
      apply: async (ctx, io) => {
        // What undo must restore is read alongside what the step looks at before changing anything (one read of
        // each object, in one kubectl call); the step's first change waits until the record is saved.
        const stopSharing = ctx.cluster.shareReadsUntilChange()
        const recorded = recordBefore(step, ctx).then(() => this.options.state.save())
        const release = ctx.cluster.holdChangesUntil(recorded)
        const running = step.run(ctx, io)
        try {
          const [, outcome] = await Promise.all([recorded, running])
          return outcome
        } catch (error) {
          // Whichever failed first, the step is reported only once its run has stopped: a run left going in the
          // background would change the cluster after the failure (while the record failed, its changes are refused).
          await Promise.allSettled([recorded, running])
          throw error
        } finally {
          release()
          stopSharing() // verification reads the cluster afresh
        }
      },
      verify: step.verify,
    }
  }

  private undoVerbs(step: Step): Verbs {
    return {
      applyTitle: text.run.undoTask,
      apply: (ctx, io) => undoStep(step, ctx, io),
      verify: async (ctx, io) => [...(await undoChecks(step, ctx)), ...((await step.verifyRollback?.(ctx, io)) ?? [])],
    }
  }

  /**
   * Undoes the selected steps (the caller orders them), each confirmed in guided mode and verified like a
   * step; a step is recorded 'undone' and forgets what it found before, so a later run records afresh.
   */
  async undo(): Promise<void> {
    const { steps, selected, reporter, prompter } = this.options
    for (const id of selected) {
      this.current = id
      const step = steps.find((s) => s.id === id)!
      if (prompter) {
        this.introduce(step)
        reporter.say(
          `\n${text.run.undoWill}\n${formatPlan(undoPlan(step, this.ctxFor(step)), this.options.cluster.connectionArgs())}`,
        )
        const yes = (await prompter.confirmUndo?.(step)) ?? false
        if (!yes) throw new Interrupted(text.run.stoppedBeforeUndo(step.id))
      }
      await this.undoOne(step)
    }
  }

  /**
   * --verify: every selected step's verify at once against the live cluster, nothing applied, nothing recorded.
   * Prints each step's checks only under -v; returns one entry per drift (a failed check that is not advisory),
   * naming the step and what changed, for the caller to print after the summary.
   */
  async audit(): Promise<string[]> {
    const { steps, selected, reporter, config } = this.options
    const probeMemo = new Map<string, Promise<ProbeResult>>()
    const reads = new Map<string, Promise<unknown>>()
    const started = Date.now()
    // The steps read many of the same objects (the API server's endpoints, the mesh config): once each, until
    // the probes start or a check waits for a change (cluster.ts ends the sharing there).
    const stopSharing = this.options.cluster.shareReadsUntilChange()
    const audited = await Promise.all(
      selected.map(async (id) => {
        const step = steps.find((s) => s.id === id)!
        const cleanups: (() => Promise<void>)[] = []
        const lines: string[] = []
        const io: StepIO = {
          log: (message) => {
            lines.push(message)
            reporter.event({ event: 'step-log', step: id, level: 'info', message })
          },
          warn: (message) => {
            lines.push(`⚠ ${message}`)
            reporter.event({ event: 'step-log', step: id, level: 'warn', message })
          },
          onCleanup: (cleanup) => void cleanups.push(cleanup),
          confirm: async () => false,
        }
        let checks: Check[]
        try {
          checks = this.settle(await step.verify({ ...this.ctxFor(step, false), settleMs: 0, probeMemo, reads }, io))
        } catch (error) {
          if (this.options.signal.aborted) throw new Interrupted(text.run.interruptedVerifying(id))
          const message = isExpected(error) ? (error as Error).message : String((error as Error).stack ?? error)
          checks = [
            {
              name: text.run.verificationCompletes(id),
              expected: text.run.everyCheckEvaluated,
              observed: message,
              ok: false,
            },
          ]
        } finally {
          await this.cleanup(cleanups)
        }
        return { step, checks, lines, durationMs: Date.now() - started }
      }),
    ).finally(stopSharing)
    const drifts: string[] = []
    for (const { step, checks, lines, durationMs } of audited) {
      const failed = checks.filter(isFailure)
      reporter.event({ event: 'step-start', step: step.id, title: step.title })
      if (config.verbose)
        reporter.say(
          `\n━━ ${step.title} (${step.id}) ━━${lines.length ? `\n${indent(lines.join('\n'), 2)}` : ''}\n${formatChecks(checks)}`,
        )
      for (const check of checks)
        reporter.event({ event: 'check', step: step.id, ...check, advisory: !!check.advisory })
      for (const check of failed) {
        drifts.push(
          `${text.checks.drift(step.id, check.name, check.expected, check.observed)}${check.hint ? `\n    → ${check.hint}` : ''}`,
        )
        reporter.event({
          event: 'drift',
          step: step.id,
          check: check.name,
          expected: check.expected,
          observed: check.observed,
          ...(check.diff ? { diff: check.diff } : {}),
        })
      }
      const status: StepStatus = failed.length ? 'failed' : 'done'
      this.results.push({
        id: step.id,
        status,
        durationMs,
        finishedAt: started + durationMs,
        checks,
        note: failed.length ? text.run.drifts(failed.length) : (skippedNote(checks) ?? text.run.holds),
      })
      reporter.event({ event: 'step-end', step: step.id, status: failed.length ? 'drifted' : 'holds', durationMs })
    }
    return drifts
  }

  /**
   * A failed check that looks at the work of a step that is not done (skipped by the operator, never run, undone)
   * was not really evaluated: it reads "skipped: needs <step>" and counts as neither pass nor failure.
   */
  private settle(checks: Check[]): Check[] {
    const records = this.options.state.state.steps
    const finished = (record?: StepRecord) => record?.status === 'done' || record?.status === 'accepted'
    return checks.map((check) =>
      !check.ok && check.needs && !finished(records[check.needs])
        ? {
            ...check,
            advisory: true,
            skipped: text.run.skippedNeeds(check.needs),
            observed: text.run.skippedNeeds(check.needs),
            hint: undefined,
          }
        : check,
    )
  }

  private async undoOne(step: Step): Promise<void> {
    const started = Date.now()
    this.options.reporter.say(text.run.undoing(step.id))
    // When the step's change to the cluster began: observations older than this no longer describe it.
    await this.options.state.update(step.id, { startedAt: new Date(started).toISOString() })
    try {
      const { checks, changes } = await this.attempt(step, this.undoVerbs(step))
      await this.record(step, 'undone', Date.now() - started, checks, text.run.undone)
      this.results.at(-1)!.changes = changes
      await this.options.state.update(step.id, { before: undefined })
    } catch (error) {
      const checks = error instanceof StepRunFailed ? error.checks : []
      const interrupted = this.options.signal.aborted || error instanceof Interrupted
      const message = isExpected(error) ? (error as Error).message : String((error as Error).stack ?? error)
      // The step's changes may still be (partly) in place: keep its status, say what went wrong.
      this.results.push({
        id: step.id,
        status: interrupted ? 'interrupted' : 'failed',
        durationMs: Date.now() - started,
        finishedAt: Date.now(),
        checks,
        note: text.run.undoFailedNote(interrupted),
      })
      await this.options.state.update(step.id, { error: `undo: ${message}` })
      this.options.reporter.event({
        event: 'step-end',
        step: step.id,
        status: interrupted ? 'interrupted' : 'failed',
        durationMs: Date.now() - started,
        error: message,
      })
      if (interrupted) throw new Interrupted(text.run.interruptedUndoing(step.id))
      throw new StepFailure(text.run.undoFailed(step.id, message))
    }
  }

  /**
   * One attempt at a step under listr2: change (unless only re-verifying), then verify. Cleanups always run. A step
   * whose checks all pass ends as one line; its checks and what it said are printed under -v, on a failure, and
   * for the checks that warn.
   */
  private async attempt(step: Step, verbs: Verbs): Promise<{ checks: Check[]; note?: string; changes: string[] }> {
    const ctx = this.ctxFor(step)
    const { reporter, fancy, config } = this.options
    const verbose = config.verbose
    const cleanups: (() => Promise<void>)[] = []
    let note: string | undefined
    const changes: string[] = []
    const said: string[] = []
    // What the step warned about while it ran: shown even when every check passes.
    const warned: string[] = []
    let checks: Check[] = []
    const started = Date.now()
    reporter.event({ event: 'step-start', step: step.id, title: step.title })
    const io = (output: (line: string) => void, task?: ListrTaskWrapper<any, any, any>): StepIO => ({
      confirm: async (message) => {
        // Automation never asks, and "run all remaining without asking" keeps its word: the default is no.
        if (!this.options.prompter || !task || this.runAll) return false
        // listr2 pauses its display while inquirer asks, so the question and the task list never overlap.
        return asked(task.prompt(ListrInquirerPromptAdapter).run(confirm, { message, default: false }))
      },
      log: (message) => {
        output(message)
        said.push(message)
        reporter.event({ event: 'step-log', step: step.id, level: 'info', message })
      },
      warn: (message) => {
        output(`⚠ ${message}`)
        said.push(`⚠ ${message}`)
        warned.push(`⚠ ${message}`)
        reporter.event({ event: 'step-log', step: step.id, level: 'warn', message })
      },
      onCleanup: (cleanup) => void cleanups.push(cleanup),
    })
    const list = new Listr(
      [
        {
          title: step.title,
          task: (_, task) =>
            task.newListr(
              [
                {
                  title: verbs.applyTitle,
                  enabled: !!verbs.apply,
                  task: async (_, sub) => {
                    const outcome = await verbs.apply!(
                      ctx,
                      io((line) => ((sub.output = line), changes.push(line)), sub),
                    )
                    if (outcome?.unchanged) {
                      note = outcome.unchanged
                      sub.title = text.run.nothingToChange(outcome.unchanged)
                    }
                  },
                },
                {
                  title: text.run.verifyTask,
                  task: async (_, sub) => {
                    checks = this.settle(
                      await verbs.verify(
                        ctx,
                        io((line) => (sub.output = line)),
                      ),
                    )
                    const failed = checks.filter(isFailure)
                    sub.title = text.run.verified(checks.filter((c) => c.ok).length, checks.length)
                    if (failed.length)
                      throw new StepRunFailed(
                        text.run.checksFailed(failed.length, failed.map((c) => c.name).join('; ')),
                        checks,
                      )
                  },
                },
              ],
              { concurrent: false, exitOnError: true },
            ),
        },
      ],
      {
        // Without -v a run shows progress in a terminal and nothing elsewhere; the step's line follows either way.
        renderer: fancy ? 'default' : verbose ? 'simple' : 'silent',
        fallbackRenderer: verbose ? 'simple' : 'silent',
        registerSignalListeners: false, // the runbook handles Ctrl-C itself: cleanup, state, resume command
        exitOnError: true,
        rendererOptions: {
          ...(fancy ? { collapseSubtasks: !verbose, clearOutput: !verbose } : {}),
          logger: new ListrLogger({ processOutput: new ProcessOutput(reporter.human, reporter.human) }),
        } as any,
      },
    )
    let succeeded = false
    try {
      await list.run()
      succeeded = true
    } catch (error) {
      throw error instanceof StepFailure || error instanceof Interrupted
        ? error
        : error instanceof Error
          ? error
          : new StepFailure(String(error))
    } finally {
      if (succeeded && !verbose) {
        const warnings = checks.filter((c) => !c.ok && !c.skipped)
        const skipped = checks.filter((c) => c.skipped)
        reporter.say(
          `${warnings.length || warned.length ? '⚠' : '✔'} ${text.run.stepLine(step.title, checks.filter((c) => c.ok).length, checks.length, seconds(Date.now() - started), skipped.length)}`,
        )
        if (warned.length) reporter.say(indent(warned.join('\n'), 2))
        if (warnings.length || skipped.length) reporter.say(formatChecks([...warnings, ...skipped]))
      } else {
        // A failure explains itself: what the step said (listr kept only the last line) and every check.
        if (!succeeded && !verbose && said.length) reporter.say(indent(said.join('\n'), 2))
        if (checks.length) reporter.say(formatChecks(checks))
      }
      for (const check of checks)
        reporter.event({ event: 'check', step: step.id, ...check, advisory: !!check.advisory })
      await this.cleanup(cleanups)
    }
    return { checks, note: note ?? skippedNote(checks), changes }
  }

  private async cleanup(cleanups: (() => Promise<void>)[]): Promise<void> {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup()
      } catch (error) {
        this.options.reporter.say(text.run.cleanupFailed((error as Error).message))
      }
    }
  }

  private async record(
    step: Step,
    status: StepStatus,
    durationMs: number,
    checks: Check[],
    note?: string,
    error?: string,
  ): Promise<void> {
    const { state, reporter, config } = this.options
    const previous = state.step(step.id)
    // Skipping a step that is already done keeps it done.
    const finalStatus = status === 'skipped' && previous.status === 'done' ? 'done' : status
    await state.update(step.id, {
      status: finalStatus,
      finishedAt: new Date().toISOString(),
      durationMs,
      ...(status === 'skipped' ? {} : { checks, config: outcomeConfig(config) }),
      note,
      error,
    })
    this.results.push({ id: step.id, status: finalStatus, durationMs, finishedAt: Date.now(), checks, note })
    reporter.event({ event: 'step-end', step: step.id, status: finalStatus, durationMs, ...(error ? { error } : {}) })
  }
}

/** A check that fails the step: not passed, not advisory (skipped checks are advisory). */
const isFailure = (check: Check) => !check.ok && !check.advisory

/** "2 check(s) skipped: needs gateway", when some checks could not be evaluated. */
function skippedNote(checks: Check[]): string | undefined {
  const skipped = checks.filter((c) => c.skipped)
  return skipped.length
    ? text.run.checksSkipped(skipped.length, [...new Set(skipped.map((c) => c.needs!))].join(', '))
    : undefined
}

export function summary(results: StepResult[], left: { id: StepId; reason: string }[]): string {
  const status = (s: StepStatus | 'not run') => (s === 'not run' ? text.summary.notRun : text.summary.status[s])
  const lines = results.map((r) => {
    const passed = r.checks.filter((c) => c.ok).length
    const checks = r.checks.length ? `, ${text.summary.checks(passed, r.checks.length)}` : ''
    return `  ${padColumns(status(r.status), 11)} ${r.id.padEnd(17)} ${seconds(r.durationMs).padStart(7)}${checks}${r.note ? `  ${text.summary.note(r.note)}` : ''}`
  })
  const others = left.map(
    (l) =>
      `  ${padColumns(status('not run'), 11)} ${l.id.padEnd(17)} ${''.padStart(7)}  ${text.summary.note(l.reason)}`,
  )
  return `${text.summary.title}\n${[...lines, ...others].join('\n')}`
}

function wrap(text: string, width = 100): string {
  // Words break at spaces; Chinese (--lang zh-TW) has none, so it breaks after any character, keeping punctuation with it.
  const tokens = text.match(/[\u3400-\u9fff][\u3000-\u303f\uff00-\uffef]*|[^\s\u3400-\u9fff]+|\s+/gu) ?? []
  const lines: string[] = ['']
  for (const token of tokens) {
    const line = lines[lines.length - 1]
    if (/^\s/.test(token)) lines[lines.length - 1] = line ? `${line} ` : line
    else if (line.trim() && terminalColumns(line + token) > width) lines.push(token)
    else lines[lines.length - 1] = line + token
  }
  return indent(lines.map((l) => l.trimEnd()).join('\n'), 2)
}
