// Runs the selected steps in order: explain and confirm (guided mode), run, verify, record in state. listr2
// shows progress while a step runs; prompts and check tables are printed between steps, so neither corrupts
// the other. One engine serves guided runs, automation, dry runs and resumes.
import { confirm } from '@inquirer/prompts'
import { ListrInquirerPromptAdapter } from '@listr2/prompt-adapter-inquirer'
import { Listr, ListrLogger, ProcessOutput, type ListrTaskWrapper } from 'listr2'
import { Interrupted, StepFailure, UsageError, isExpected } from '../config/errors.ts'
import type { Cluster } from '../kube/cluster.ts'
import type { Config } from '../config/options.ts'
import { formatChecks, formatPlan, indent, seconds, type Reporter } from './reporter.ts'
import { openQuestions } from './questions.ts'
import { outcomeConfig, type StateStore, type StepStatus } from './state.ts'
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
    return { config, cluster, signal, facts: state.state.facts, probes: probes ?? true, inEffect }
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
    for (const id of selected) {
      this.current = id
      const step = steps.find((s) => s.id === id)!
      const { prompter } = this.options
      const introduced = !!prompter && !this.runAll
      if (prompter && !this.runAll) {
        const connection = this.options.cluster.connectionArgs()
        this.introduce(step)
        reporter.say(`\nIt will:\n${formatPlan(step.plan(this.ctx).slice(0, 6), connection)}`)
        const choice = await prompter.beforeStep(step, () =>
          reporter.say(`\nFull plan of ${step.id}:\n${formatPlan(step.plan(this.ctx), connection)}\n`),
        )
        if (choice === 'quit') throw new Interrupted(`stopped before ${step.id} at the operator's request`)
        if (choice === 'skip') {
          await this.record(step, 'skipped', 0, [], 'skipped by the operator')
          continue
        }
        if (choice === 'all') this.runAll = true
      }
      if (prompter) await this.answerQuestions(step, introduced)
      await this.runWithRecovery(step)
    }
  }

  private introduce(step: Step): void {
    this.options.reporter.say(`\n━━ ${step.title} (${step.id}) ━━\n${wrap(step.why)}`)
  }

  /** Asks what only the operator can answer for this step, once; the answers are kept in state. */
  private async answerQuestions(step: Step, introduced: boolean): Promise<void> {
    const { config, state } = this.options
    const questions = openQuestions(step.id, config, state.state.answers)
    // After "run all remaining", the operator has not seen this step yet: say which step asks.
    if (questions.length && !introduced) this.introduce(step)
    for (const question of questions) {
      const answer = await question.ask(config, state.state.facts, this.options.signal)
      ;(config as any)[question.key] = answer
      ;(state.state.answers as any)[question.key] = answer
      await state.save()
      this.options.reporter.say(
        `  ${question.flag} ${Array.isArray(answer) ? answer.join(question.key === 'allowedUserAgents' ? '|' : ',') : answer} (kept for resumed runs)`,
      )
    }
  }

  private async runWithRecovery(step: Step): Promise<void> {
    let mode: 'run' | 'verify' = 'run'
    for (;;) {
      const started = Date.now()
      // Not awaited: the write before the step's first change (below) carries it, and a failed write fails that one.
      void this.options.state.update(step.id, {
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
          await this.record(step, 'interrupted', Date.now() - started, checks, 'interrupted by Ctrl-C')
          throw new Interrupted(`interrupted during ${step.id}`)
        }
        const message = isExpected(error) ? (error as Error).message : String((error as Error).stack ?? error)
        await this.record(step, 'failed', Date.now() - started, checks, undefined, message)
        if (error instanceof UsageError) throw error // bad operator input: exit 2, and retrying cannot help
        this.options.reporter.say(`✖ ${step.id} failed: ${message}`)
        if (!this.options.prompter) throw new StepFailure(`step ${step.id} failed: ${message}`)
        const choice = await this.options.prompter.afterFailure(step, !!(step.undo || step.rollback))
        if (choice === 'quit') throw new StepFailure(`step ${step.id} failed: ${message}`)
        if (choice === 'accept') {
          await this.record(
            step,
            'accepted',
            Date.now() - started,
            checks,
            `accepted by the operator despite: ${message}`,
          )
          return
        }
        if (choice === 'rollback') {
          await this.undoOne(step)
          throw new StepFailure(`step ${step.id} was rolled back after: ${message}`)
        }
        mode = choice === 'retry-verify' ? 'verify' : 'run'
      }
    }
  }

  /** A step's run, after recording what its undo will need to put back. */
  private runVerbs(step: Step): Verbs {
    return {
      applyTitle: 'apply',
      apply: async (ctx, io) => {
        // What undo must restore is read alongside what the step looks at before changing anything (one read of
        // each object, in one kubectl call); the step's first change waits until the record is saved.
        const stopSharing = ctx.cluster.shareReadsUntilChange()
        try {
          const recorded = recordBefore(step, ctx).then(() => this.options.state.save())
          ctx.cluster.holdChangesUntil(recorded)
          const [, outcome] = await Promise.all([recorded, step.run(ctx, io)])
          return outcome
        } finally {
          stopSharing() // verification reads the cluster afresh
        }
      },
      verify: step.verify,
    }
  }

  private undoVerbs(step: Step): Verbs {
    return {
      applyTitle: 'undo',
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
          `\nUndo will:\n${formatPlan(undoPlan(step, this.ctxFor(step)), this.options.cluster.connectionArgs())}`,
        )
        const yes = (await prompter.confirmUndo?.(step)) ?? false
        if (!yes) throw new Interrupted(`stopped before undoing ${step.id} at the operator's request`)
      }
      await this.undoOne(step)
    }
  }

  /**
   * --verify: every selected step's verify at once against the live cluster, nothing applied, nothing recorded.
   * Returns one line per drift (a failed check that is not advisory), naming the step and what changed.
   */
  async audit(): Promise<string[]> {
    const { steps, selected, reporter } = this.options
    const probeMemo = new Map<string, Promise<ProbeResult>>()
    const reads = new Map<string, Promise<unknown>>()
    const audited = await Promise.all(
      selected.map(async (id) => {
        const step = steps.find((s) => s.id === id)!
        const cleanups: (() => Promise<void>)[] = []
        const lines: string[] = []
        const started = Date.now()
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
          checks = await step.verify({ ...this.ctxFor(step, false), probeMemo, reads }, io)
        } catch (error) {
          if (this.options.signal.aborted) throw new Interrupted(`interrupted while verifying ${id}`)
          const message = isExpected(error) ? (error as Error).message : String((error as Error).stack ?? error)
          checks = [
            { name: `${id}: verification completes`, expected: 'every check evaluated', observed: message, ok: false },
          ]
        } finally {
          await this.cleanup(cleanups)
        }
        return { step, checks, lines, durationMs: Date.now() - started }
      }),
    )
    const drifts: string[] = []
    for (const { step, checks, lines, durationMs } of audited) {
      const failed = checks.filter((c) => !c.ok && !c.advisory)
      reporter.event({ event: 'step-start', step: step.id, title: step.title })
      reporter.say(
        `\n━━ ${step.title} (${step.id}) ━━${lines.length ? `\n${indent(lines.join('\n'), 2)}` : ''}\n${formatChecks(checks)}`,
      )
      for (const check of checks)
        reporter.event({ event: 'check', step: step.id, ...check, advisory: !!check.advisory })
      for (const check of failed) {
        const drift = `${step.id}: ${check.name} — expected ${check.expected}, observed ${check.observed}`
        drifts.push(drift)
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
        checks,
        note: failed.length ? `${failed.length} drift(s)` : 'holds',
      })
      reporter.event({ event: 'step-end', step: step.id, status: failed.length ? 'drifted' : 'holds', durationMs })
    }
    return drifts
  }

  private async undoOne(step: Step): Promise<void> {
    const started = Date.now()
    this.options.reporter.say(`↩ undoing ${step.id}`)
    try {
      const { checks, changes } = await this.attempt(step, this.undoVerbs(step))
      await this.record(step, 'undone', Date.now() - started, checks, 'undone')
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
        checks,
        note: `undo ${interrupted ? 'interrupted' : 'failed'}`,
      })
      await this.options.state.update(step.id, { error: `undo: ${message}` })
      this.options.reporter.event({
        event: 'step-end',
        step: step.id,
        status: interrupted ? 'interrupted' : 'failed',
        durationMs: Date.now() - started,
        error: message,
      })
      if (interrupted) throw new Interrupted(`interrupted while undoing ${step.id}`)
      throw new StepFailure(`undoing ${step.id} failed: ${message}`)
    }
  }

  /** One attempt at a step under listr2: change (unless only re-verifying), then verify. Cleanups always run. */
  private async attempt(step: Step, verbs: Verbs): Promise<{ checks: Check[]; note?: string; changes: string[] }> {
    const ctx = this.ctxFor(step)
    const { reporter } = this.options
    const cleanups: (() => Promise<void>)[] = []
    let note: string | undefined
    const changes: string[] = []
    let checks: Check[] = []
    reporter.event({ event: 'step-start', step: step.id, title: step.title })
    const io = (output: (line: string) => void, task?: ListrTaskWrapper<any, any, any>): StepIO => ({
      confirm: async (message) => {
        if (!this.options.prompter || !task) return false
        // listr2 pauses its display while inquirer asks, so the question and the task list never overlap.
        try {
          return await task.prompt(ListrInquirerPromptAdapter).run(confirm, { message, default: false })
        } catch (error) {
          if ((error as Error).name === 'ExitPromptError') throw new Interrupted('quit at a prompt')
          throw error
        }
      },
      log: (message) => {
        output(message)
        reporter.event({ event: 'step-log', step: step.id, level: 'info', message })
      },
      warn: (message) => {
        output(`⚠ ${message}`)
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
                      sub.title = `nothing to change: ${outcome.unchanged}`
                    }
                  },
                },
                {
                  title: 'verify against the cluster',
                  task: async (_, sub) => {
                    checks = await verbs.verify(
                      ctx,
                      io((line) => (sub.output = line)),
                    )
                    const failed = checks.filter((c) => !c.ok && !c.advisory)
                    sub.title = `verified: ${checks.filter((c) => c.ok).length}/${checks.length} checks passed`
                    if (failed.length)
                      throw new StepRunFailed(
                        `${failed.length} check(s) failed: ${failed.map((c) => c.name).join('; ')}`,
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
        renderer: this.options.fancy ? 'default' : 'simple',
        fallbackRenderer: 'simple',
        registerSignalListeners: false, // the runbook handles Ctrl-C itself: cleanup, state, resume command
        exitOnError: true,
        rendererOptions: {
          ...(this.options.fancy ? { collapseSubtasks: false } : {}),
          logger: new ListrLogger({ processOutput: new ProcessOutput(reporter.human, reporter.human) }),
        } as any,
      },
    )
    try {
      await list.run()
    } catch (error) {
      throw error instanceof StepFailure || error instanceof Interrupted
        ? error
        : error instanceof Error
          ? error
          : new StepFailure(String(error))
    } finally {
      if (checks.length) reporter.say(formatChecks(checks))
      for (const check of checks)
        reporter.event({ event: 'check', step: step.id, ...check, advisory: !!check.advisory })
      await this.cleanup(cleanups)
    }
    return { checks, note, changes }
  }

  private async cleanup(cleanups: (() => Promise<void>)[]): Promise<void> {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup()
      } catch (error) {
        this.options.reporter.say(`⚠ cleanup failed: ${(error as Error).message}`)
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
    this.results.push({ id: step.id, status: finalStatus, durationMs, checks, note })
    reporter.event({ event: 'step-end', step: step.id, status: finalStatus, durationMs, ...(error ? { error } : {}) })
  }
}

export function summary(results: StepResult[], left: { id: StepId; reason: string }[]): string {
  const lines = results.map((r) => {
    const passed = r.checks.filter((c) => c.ok).length
    const checks = r.checks.length ? `, ${passed}/${r.checks.length} checks` : ''
    return `  ${r.status.padEnd(11)} ${r.id.padEnd(17)} ${seconds(r.durationMs).padStart(7)}${checks}${r.note ? `  (${r.note})` : ''}`
  })
  const others = left.map((l) => `  ${'not run'.padEnd(11)} ${l.id.padEnd(17)} ${''.padStart(7)}  (${l.reason})`)
  return `Summary:\n${[...lines, ...others].join('\n')}`
}

// CJK and full-width characters take two terminal columns.
const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u
const columns = (text: string) => [...text].reduce((n, c) => n + (WIDE.test(c) ? 2 : 1), 0)

function wrap(text: string, width = 100): string {
  // Words break at spaces; Chinese (--lang zh-TW) has none, so it breaks after any character, keeping punctuation with it.
  const tokens = text.match(/[\u3400-\u9fff][\u3000-\u303f\uff00-\uffef]*|[^\s\u3400-\u9fff]+|\s+/gu) ?? []
  const lines: string[] = ['']
  for (const token of tokens) {
    const line = lines[lines.length - 1]
    if (/^\s/.test(token)) lines[lines.length - 1] = line ? `${line} ` : line
    else if (line.trim() && columns(line + token) > width) lines.push(token)
    else lines[lines.length - 1] = line + token
  }
  return indent(lines.map((l) => l.trimEnd()).join('\n'), 2)
}
