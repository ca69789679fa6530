#!/usr/bin/env -S npx tsx
// Entry point: parse flags, settle the kube context and the state file, select steps, run them, and map
// every expected error to its exit code (0 done, 1 failed, 2 usage, 130 interrupted). Heavy modules (listr2,
// inquirer, tar, yaml) load only when a run needs them, so --help, --version and --list start fast.
import { setMaxListeners } from 'node:events'
import { readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import type { Cluster, CommandRun } from './lib/kube/cluster.ts'
import { completionScript } from './lib/cli/completion.ts'
import { EXIT, Interrupted, UsageError, exitCodeOf, isExpected } from './lib/config/errors.ts'
import { helpText } from './lib/cli/help.ts'
import { requireContext, type KubeContext } from './lib/kube/kubeconfig.ts'
import { installDirProblem, loadConfig, OPTIONS, type Config } from './lib/config/options.ts'
import { PACKAGE_ROOT } from './lib/config/package-root.ts'
import { Reporter } from './lib/run/reporter.ts'
import type { StateStore } from './lib/run/state.ts'
import type { RunLease } from './lib/run/lease.ts'
import { clusterAccessError } from './lib/run/cluster-access.ts'
import type { Facts, KubeObject, PlanItem, Step, StepId } from './lib/types.ts'
import { useLanguage } from './lib/cli/zh-TW.ts'
import { text } from './lib/config/text.ts'
import { writeBesidePrompts } from './lib/config/prompting.ts'

const VERSION: string = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version

/** How the operator started the runbook, so the resume command can be pasted as is. */
function invocation(): string {
  // The demo passes every flag that points at its cluster, which stays up: resuming is a plain run against it.
  if (process.env.npm_lifecycle_event === 'start' || process.env.npm_lifecycle_event === 'demo') return 'npm start --'
  const entry = process.argv[1] ?? 'runbook.ts'
  // The published bin, run as bin/gthulhu-runbook.mjs or through npm's gthulhu-runbook link.
  if (/(^|[/\\])gthulhu-runbook(\.mjs)?$/.test(entry)) return 'npx gthulhu-runbook'
  const relativeEntry = relative(process.cwd(), entry)
  return `npx tsx ${relativeEntry.startsWith('..') ? entry : relativeEntry}`
}

/**
 * The command that picks up where this run stopped: the same flags, and the rest of the same selection. --only keeps
 * the steps still to run; --from starts again at the step that stopped, so the done steps after it still run again
 * (--resume would skip them); any other run resumes.
 */
export function resumeCommand(argv: string[], config: Config, remaining: string[], context: string): string {
  const dropWithValue = new Set(['--from', '--only'])
  const kept: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].split('=')[0]
    if (dropWithValue.has(name)) {
      if (!argv[i].includes('=')) i++
      continue
    }
    if (name === '--resume' || name === '--dry-run') continue
    kept.push(argv[i])
  }
  if (!config.explicit.includes('context')) kept.push('--context', context)
  const selection = config.only.length
    ? ['--only', remaining.join(',')]
    : config.from && remaining.length
      ? ['--from', remaining[0]]
      : ['--resume']
  const quoted = [...kept, ...selection].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
  return `${invocation()} ${quoted.join(' ')}`
}

/** The kube context to act on: the one named, or (guided only) the operator's choice. Never guessed in automation. */
async function resolveContext(
  config: Config,
  cluster: Cluster,
  readOnly: boolean,
  signal: AbortSignal,
): Promise<KubeContext | undefined> {
  const { readContexts, requireKubeconfigFiles } = await import('./lib/kube/kubeconfig.ts')
  if (readOnly && !config.context) {
    // Dry runs, renders and lists change nothing: the current context names the state file (and the namespace).
    requireKubeconfigFiles(config.kubeconfig)
    return (await readContexts(cluster, config.kubeconfig).catch(() => [])).find((c) => c.current)
  }
  const contexts = await readContexts(cluster, config.kubeconfig)
  if (config.context) return requireContext(contexts, config.context)
  if (config.yes) {
    throw new UsageError(text.errors.yesNeedsContext(contexts.map((c) => c.name).join(', ')))
  }
  if (contexts.length === 0) throw new UsageError(text.errors.noContexts)
  const { askContext } = await import('./lib/cli/prompts.ts')
  return requireContext(contexts, await askContext(contexts, signal))
}

/** The namespace: the flag or config file, else the kube context's own, else `default` (as kubectl does). */
function settleNamespace(config: Config, context: KubeContext | undefined): string {
  if (config.explicit.includes('namespace')) return text.cli.namespaceGiven
  if (!context?.namespace) return text.cli.namespaceDefault
  const { validate } = OPTIONS.find((o) => o.key === 'namespace')!
  const problem = validate?.(context.namespace)
  if (problem) throw new UsageError(text.errors.contextNamespace(context.name, problem))
  config.namespace = context.namespace
  return text.cli.namespaceFromContext(context.name)
}

function listSteps(reporter: Reporter, steps: Step[], state: StateStore | undefined): void {
  reporter.say(`Steps${state ? ` (state for context ${state.state.context}: ${state.describe()})` : ''}:`)
  for (const step of steps) {
    const record = state?.state.steps[step.id]
    const status = record?.status ?? 'pending'
    reporter.say(
      `  ${step.id.padEnd(17)} ${status.padEnd(11)} ${step.title}${record?.finishedAt ? `  (${record.finishedAt})` : ''}`,
    )
    reporter.event({
      event: 'step',
      step: step.id,
      title: step.title,
      status,
      ...(record?.finishedAt ? { finishedAt: record.finishedAt } : {}),
    })
  }
}

/** -v/--verbose: each command as it finished, on stderr like kubectl's own -v logs (JSON: a "command" event). */
function commandLogger(reporter: Reporter, shellLine: (argv: string[]) => string) {
  return ({ argv, exitCode, durationMs, via, serving }: CommandRun) => {
    if (reporter.json)
      reporter.event({
        event: 'command',
        argv,
        exitCode,
        durationMs,
        ...(via ? { via } : {}),
        ...(serving ? { serving } : {}),
      })
    else {
      const ended = serving
        ? 'serving until the run ends'
        : exitCode === null
          ? 'stopped by a signal'
          : `exit ${exitCode}`
      writeBesidePrompts(
        `+ ${shellLine(argv)}  (${via ? `through ${via}, ` : ''}${(durationMs / 1000).toFixed(2)}s, ${ended})\n`,
      )
    }
  }
}

/**
 * The Web UI's address as the cluster has it now: the gateway's Service may have been made again (another NodePort)
 * since the gateway step recorded its URL. None when the gateway has no address now; the recorded one when the
 * cluster cannot be asked.
 */
async function webUiUrl(cluster: Cluster, config: Config, facts: Facts): Promise<string | undefined> {
  const { liveGateway } = await import('./lib/verify/gateway-requests.ts')
  const live = await liveGateway(cluster, config, facts).catch(() => undefined)
  if (!live) return facts.gateway?.url
  return 'url' in live ? live.url : undefined
}

/** Set when the terminal hung up (SIGHUP, or EIO from it): the process then leaves the way a hung-up one does. */
let terminalGone = false

/** The locks a fleet audit holds, one per context: a second Ctrl-C gives them back before leaving at once. */
const fleetLeases = new Set<RunLease>()

/** What a closed output does to the run in progress (set while one is): it stops as on Ctrl-C. */
let stopOnClosedOutput: (() => void) | undefined
let outputClosed = false
// The output's reader went away (`--list | head`): not the runbook's error. What is left to show is dropped, and a
// run stops as on Ctrl-C (its record saved, its lock released) instead of dying on the failed write.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (outputClosed) return
    if (error.code !== 'EPIPE') throw error
    outputClosed = true
    stopOnClosedOutput?.()
  })
}

/** The output the loaded settings ask for (flag, config file or environment); unset until they load. */
let outputAsked: Config['output'] | undefined

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'completion') {
    process.stdout.write(completionScript(argv[1], argv.length > 2 ? argv.slice(2) : undefined))
    return EXIT.ok
  }
  const config = loadConfig(argv)
  outputAsked = config.output
  if (config.version) {
    console.log(config.output === 'json' ? JSON.stringify({ version: VERSION }) : VERSION)
    return EXIT.ok
  }
  const { STEPS } = await import('./steps/index.ts')
  useLanguage(STEPS, config.lang)
  if (config.help) {
    console.log(helpText(STEPS, VERSION))
    return EXIT.ok
  }
  const reporter = new Reporter(config.output === 'json')
  if (config.printRbac) return printRbac(config, STEPS)
  if (config.report) (await import('./lib/report/files.ts')).ensureReportDir(config.report)
  const terminal = !!process.stdin.isTTY && !!process.stdout.isTTY && !process.env.CI
  const readOnly = config.list || !!config.dryRun || !!config.render
  // An audit asks nothing and changes nothing: a schedule runs it without --yes, but never on a guessed context.
  if (config.verify && !config.context && !config.allContexts && !terminal)
    throw new UsageError(text.errors.verifyNeedsContext)
  if (!readOnly && !config.yes && !config.verify && !terminal) {
    throw new UsageError(text.errors.noTerminal)
  }
  if (!readOnly && !config.yes && !config.verify && config.output === 'json')
    throw new UsageError(text.errors.jsonNeedsYes)

  const abort = new AbortController()
  setMaxListeners(100, abort.signal) // every concurrent command listens for Ctrl-C
  let state: StateStore | undefined
  let lease: RunLease | undefined
  let interrupts = 0
  const onSignal = () => {
    // The first Ctrl-C/SIGTERM stops the running command (or prompt) and lets cleanup run; a second one leaves at
    // once, still saving the record and releasing the lock so the next run is not refused.
    if (++interrupts > 1) {
      if (lease?.held) {
        state?.saveSync('interrupted')
        lease.releaseSync()
      }
      for (const held of fleetLeases) if (held.held) held.releaseSync()
      process.exit(EXIT.interrupted)
    }
    reporter.say(`\n${text.cli.interrupted}`)
    abort.abort()
  }
  const onHangup = () => {
    // The terminal closed: nothing more can be shown there (writes fail with EIO), but the run stops the same way,
    // saving the record and releasing the lock, instead of dying and leaving the Lease held until it expires.
    if (terminalGone) return
    terminalGone = true
    for (const stream of [process.stdin, process.stdout, process.stderr]) stream.on('error', () => undefined)
    onSignal()
  }
  const onUncaught = (error: unknown) => {
    // A prompt's readline re-emits the terminal's EIO (setRawMode, read) where nobody listens: that is the hang-up
    // (it may come before SIGHUP does), not a defect. Anything else still ends the run as an unexpected error.
    if ((error as NodeJS.ErrnoException)?.code === 'EIO') return onHangup()
    process.stderr.write(`${text.cli.errorPrefix}${text.cli.unexpected}\n${(error as Error)?.stack ?? error}\n`)
    process.exit(EXIT.failed)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('SIGHUP', onHangup)
  process.on('uncaughtException', onUncaught)
  stopOnClosedOutput = onSignal
  try {
    const { Cluster, shellLine } = await import('./lib/kube/cluster.ts')
    const cluster = new Cluster({
      kubeconfig: config.kubeconfig,
      signal: abort.signal,
      timeoutMs: config.timeout * 1000,
      apiProxy: true,
      ...(config.verbose ? { onCommand: commandLogger(reporter, shellLine) } : {}),
    })
    if (config.verify && (config.contexts.length > 1 || config.allContexts))
      return await fleetAudit(config, argv, STEPS, { reporter, cluster, signal: abort.signal })
    if (config.context && !config.list) {
      // A named context is the run's: its kubectl proxy starts, and the modules of a run or an audit load, while
      // the kubeconfig is read (a list reads only the record, without them).
      new Cluster({ ...cluster.options, context: config.context }).prepare()
      void (config.verify ? import('./lib/run/audit.ts') : import('./lib/run/engine.ts')).catch(() => undefined)
    }
    const contextNamed = !!config.context
    const kubeContext = await resolveContext(config, cluster, readOnly, abort.signal)
    const context = kubeContext?.name
    // A context picked in guided mode (or the current one of a dry run) is the run's context from here on.
    config.context ??= context
    // Like kubectl, a server dry run may use the current context: it changes nothing.
    if (config.dryRun === 'server' && !context) {
      throw new UsageError(text.errors.serverDryRunNeedsContext)
    }
    cluster.options.context = context
    const namespaceSource = settleNamespace(config, kubeContext)

    const { applyRecordedSettings, defaultStatePath, driftWarnings, StateStore } = await import('./lib/run/state.ts')
    const statePath = config.stateFile ?? (context ? defaultStatePath(context) : undefined)
    // Runs, --rollback and --uninstall write the record; an audit, a dry run, a render and a list only read it.
    const operation = config.verify ? 'verify' : config.uninstall ? 'uninstall' : config.rollback ? 'rollback' : 'run'
    const writes = !readOnly && !config.verify
    if (statePath && context) {
      // --list without --context stays off the network (it is the fast one); with --context it reads the cluster.
      state =
        config.list && !contextNamed
          ? new StateStore(statePath, context)
          : await StateStore.open({
              path: statePath,
              context,
              // The record is saved after Ctrl-C too: not through the run's abort signal. A dry run, a render or a
              // list only reads it, and shows the local copy when the cluster does not answer within seconds.
              cluster: readOnly
                ? new Cluster({ ...cluster.options, signal: undefined, timeoutMs: 10_000, apiProxy: false })
                : cluster.forCleanup(),
              namespace: config.namespace,
              release: config.release,
              write: writes,
              offlineFallback: readOnly,
            }).catch((error) => {
              throw clusterAccessError(error, config.namespace, context, "read the runbook's record")
            })
      if (state.offline) reporter.say(text.record.offline(state.offline, state.path))
      if (state.notice) reporter.say(state.notice)
    }
    if (config.list) {
      listSteps(reporter, STEPS, state)
      return EXIT.ok
    }
    const { applySavedAnswers } = await import('./lib/run/questions.ts') // loads inquirer: not needed by --list
    if (state) {
      // Continuing or checking what was done (--resume, --verify, --rollback, --uninstall) uses the settings it was
      // done with, unless given again; a new run (--from, --only, or all steps) uses what it is given.
      const continuing = config.resume || config.verify || !!config.rollback || config.uninstall
      const taken = continuing ? applyRecordedSettings(config, state.state.config) : []
      if (taken.length) reporter.say(text.cli.settingsFromRecord(taken.join(', ')))
      // A recorded install dir may be a file on this machine: refuse it before any step runs, as a flag's would be.
      const dirProblem = taken.some((t) => t.startsWith('installDir=')) && installDirProblem(config.installDir)
      if (dirProblem) throw new UsageError(text.errors.installDirFromRecord(dirProblem))
      applySavedAnswers(config, state.state.answers)
    }
    /** Takes the cluster's lock, clears what an interrupted run left, and (for a run that changes things) starts a record revision. */
    const takeLock = async () => {
      const { RunLease } = await import('./lib/run/lease.ts')
      // Renewed and released after Ctrl-C too: not through the run's abort signal.
      lease = new RunLease(cluster.forCleanup(), config.namespace, {
        operation,
        context,
        onLost: (message) => {
          reporter.say(`\n${text.record.lockLost(message)}`)
          abort.abort()
        },
      })
      const taken = await lease.acquire()
      if (taken.tookOverFrom) reporter.say(text.cli.tookOverLock(taken.tookOverFrom))
      await removeLeftoverProbes(cluster, config.namespace, reporter)
      if (writes) {
        state!.state.runbookVersion = VERSION
        await state!.begin({ operation, holder: lease.identity })
      }
    }
    if (config.rollback || config.uninstall || config.verify) {
      return await lifecycle(config, argv, STEPS, {
        reporter,
        cluster,
        signal: abort.signal,
        context: context!,
        state: state!,
        terminal,
        takeLock,
      })
    }

    const { selectSteps } = await import('./lib/run/selection.ts')
    const selection = selectSteps(STEPS, config, state?.state.steps ?? {})
    // A step this run repeats takes the settings given now: only the done steps it leaves out can be out of date.
    const leftOut = STEPS.filter((step) => !selection.run.includes(step.id))
    for (const warning of state ? driftWarnings(state.state, config, leftOut) : []) reporter.say(`⚠ ${warning}`)
    const selected = selection.run.map((id) => STEPS.find((s) => s.id === id)!)
    const facts = state?.state.facts ?? {}
    // Plans are pure and validate every manifest: bad operator input fails here, before any step changes anything.
    const plans = selected.map((step) => step.plan({ config, facts }))

    if (config.render) {
      const { renderManifests } = await import('./lib/run/render.ts')
      const files = renderManifests(config.render, selected, config, facts)
      reporter.say(text.render.written(files.length, config.render, files))
      reporter.say(text.render.commandsToo)
      return EXIT.ok
    }
    if (config.dryRun) {
      const { formatPlan } = await import('./lib/run/reporter.ts')
      reporter.event({ event: 'run-start', context, stateFile: statePath, steps: selection.run, dryRun: true })
      reporter.say(`Context ${context ?? '(none)'}, namespace ${config.namespace} (${namespaceSource})`)
      selected.forEach((step, i) =>
        reporter.say(`\n# ${step.id}: ${step.title}\n${formatPlan(plans[i], cluster.connectionArgs())}`),
      )
      const exitCode =
        config.dryRun === 'server'
          ? await reportServerDryRun(
              reporter,
              cluster,
              selected.map((s, i) => ({ step: s.id, items: plans[i] })),
            )
          : EXIT.ok
      reporter.say(`\n${text.cli.dryRunDone}`)
      reporter.event({ event: 'run-end', status: exitCode === EXIT.ok ? 'done' : 'usage-error', exitCode })
      return exitCode
    }

    await takeLock()
    const [{ Engine, summary }, { guidedPrompter }, { ReachabilityCollector }, { formatLedger }] = await Promise.all([
      import('./lib/run/engine.ts'),
      import('./lib/cli/prompts.ts'),
      import('./lib/verify/reachability.ts'),
      import('./lib/run/reporter.ts'),
    ])
    const collector = new ReachabilityCollector(state!.state)
    const engine = new Engine({
      config,
      steps: STEPS,
      selected: selection.run,
      state: state!,
      cluster,
      reporter,
      signal: abort.signal,
      prompter: config.yes ? undefined : guidedPrompter(abort.signal),
      fancy: terminal && config.output === 'text',
      probes: config.probes,
      onProbeResults: collector.add,
    })
    const startedAt = new Date()
    reporter.event({
      event: 'run-start',
      context,
      stateFile: statePath,
      record: state!.describe(),
      steps: selection.run,
      dryRun: false,
    })
    reporter.say(text.cli.contextLine(context!, config.namespace, namespaceSource, state!.describe()))
    let outcome: 'done' | 'failed' | 'interrupted' = 'failed'
    try {
      await engine.run()
      reporter.say(`\n${summary(engine.results, selection.left)}`)
      reporter.say(`\n${formatLedger(config, (step) => state!.state.steps[step]?.status === 'done')}`)
      const url = await webUiUrl(cluster, config, state!.state.facts)
      if (url) reporter.say(`\n${text.cli.webUi(url)}`)
      reporter.event({ event: 'run-end', status: 'done', exitCode: EXIT.ok, ...(url ? { webUiUrl: url } : {}) })
      outcome = 'done'
      return EXIT.ok
    } catch (error) {
      const remaining = selection.run.slice(Math.max(0, selection.run.indexOf(engine.current!)))
      const resume = resumeCommand(argv, config, remaining, context!)
      const interrupted = error instanceof Interrupted
      if (interrupted) outcome = 'interrupted'
      reporter.say(`\n${summary(engine.results, selection.left)}`)
      reporter.say(`\n${interrupted ? '⏸' : '✖'} ${(error as Error).message}`)
      reporter.say(`${text.cli.resumeWith}\n  ${resume}`)
      const exitCode = exitCodeOf(error)
      reporter.event({
        event: 'run-end',
        status: interrupted ? 'interrupted' : 'failed',
        exitCode,
        resumeCommand: resume,
        message: (error as Error).message,
      })
      if (!isExpected(error)) throw error
      return exitCode
    } finally {
      for (const result of engine.results) collector.addChecks(result.id, result.checks)
      collector.keep()
      await state!.finish(outcome)
      if (config.report) {
        const { writeReportFiles } = await import('./lib/report/files.ts')
        writeReportFiles(
          config.report,
          {
            kind: 'run',
            context: context!,
            config,
            version: VERSION,
            startedAt,
            finishedAt: new Date(),
            results: engine.results,
            state: state!.state,
            reachability: collector,
            argv,
          },
          reporter,
        )
      }
    }
  } finally {
    await lease?.release()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('SIGHUP', onHangup)
    process.off('uncaughtException', onUncaught)
    stopOnClosedOutput = undefined
  }
}

/**
 * --print-rbac: the roles a run of the selected steps (or, with --verify, an audit of every step) needs, bound to the
 * subject named. Touches no cluster; the namespace comes from -n, else the kube context's, else default.
 */
async function printRbac(config: Config, STEPS: Step[]): Promise<number> {
  if (!config.explicit.includes('namespace')) {
    const { Cluster } = await import('./lib/kube/cluster.ts')
    const { readContexts, requireKubeconfigFiles } = await import('./lib/kube/kubeconfig.ts')
    // A context or kubeconfig named must exist: the roles would silently be for namespace default. Without either,
    // the current context's namespace, if there is one.
    const named = !!config.context || !!config.kubeconfig
    if (named) requireKubeconfigFiles(config.kubeconfig)
    const contexts = await readContexts(new Cluster({ timeoutMs: 15_000 }), config.kubeconfig).catch((error) => {
      if (named) throw error
      return []
    })
    const context = config.context ? requireContext(contexts, config.context) : contexts.find((c) => c.current)
    if (context) settleNamespace(config, context)
  }
  const ids = STEPS.map((s) => s.id).filter(
    (id, index, all) =>
      config.verify ||
      ((!config.only.length || config.only.includes(id)) &&
        (!config.from || index >= all.indexOf(config.from)) &&
        !config.skip.includes(id)),
  )
  const [{ rbacObjects, rbacYaml, rolesFor }, { parseRbacSubject }] = await Promise.all([
    import('./lib/run/rbac.ts'),
    import('./lib/config/options.ts'),
  ])
  const set = rolesFor(STEPS, ids, config, config.verify ? 'verify' : 'run')
  const subject = parseRbacSubject(config.printRbac!)!
  process.stdout.write(
    config.output === 'json'
      ? `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbacObjects(set, subject, config) })}\n`
      : rbacYaml(set, subject, config),
  )
  return EXIT.ok
}

/**
 * Probes an interrupted run could not delete (a second Ctrl-C leaves at once), removed once the lock is held: pods
 * and Services in Gthulhu's namespace, and the namespaces some probes make for themselves (an impostor decision
 * maker's), which take what they hold with them.
 */
async function removeLeftoverProbes(cluster: Cluster, namespace: string, reporter: Reporter): Promise<void> {
  const { PROBE_RUN_LABEL } = await import('./lib/verify/probes.ts')
  const selector = `${PROBE_RUN_LABEL},app.kubernetes.io/managed-by=gthulhu-runbook`
  const [pods, services, namespaces] = await Promise.all([
    cluster.list('pods', { namespace, selector }),
    cluster.list('services', { namespace, selector }),
    cluster.list('namespaces', { selector }),
  ])
  const names = (objects: KubeObject[]) => objects.map((o) => o.metadata.name)
  const inNamespace = [...names(pods).map((name) => `pod/${name}`), ...names(services).map((name) => `service/${name}`)]
  await Promise.all([
    inNamespace.length &&
      cluster.kubectl(['delete', '-n', namespace, ...inNamespace, '--ignore-not-found', '--wait=false']),
    namespaces.length &&
      cluster.kubectl(['delete', 'namespaces', ...names(namespaces), '--ignore-not-found', '--wait=false']),
  ])
  if (pods.length) reporter.say(text.record.leftoverProbes(pods.length, names(pods).join(', ')))
  if (services.length) reporter.say(text.record.leftoverProbeServices(services.length, names(services).join(', ')))
  if (namespaces.length)
    reporter.say(text.record.leftoverProbeNamespaces(namespaces.length, names(namespaces).join(', ')))
}

interface LifecycleRun {
  reporter: Reporter
  cluster: Cluster
  signal: AbortSignal
  context: string
  state: StateStore
  terminal: boolean
  takeLock(): Promise<void>
}

/** --rollback, --uninstall and --verify: steps picked from the state file; undo in reverse, audit read-only. */
async function lifecycle(
  config: Config,
  argv: string[],
  STEPS: Step[],
  { reporter, cluster, signal, context, state, terminal, takeLock }: LifecycleRun,
): Promise<number> {
  const [
    { selectAudit, selectUndo },
    { Engine, summary },
    { guidedPrompter },
    { ReachabilityCollector },
    { formatPlan },
    { undoPlan },
  ] = await Promise.all([
    import('./lib/run/selection.ts'),
    import('./lib/run/engine.ts'),
    import('./lib/cli/prompts.ts'),
    import('./lib/verify/reachability.ts'),
    import('./lib/run/reporter.ts'),
    import('./lib/run/undo.ts'),
  ])
  const records = state.state.steps
  const auditing = config.verify
  const ids = auditing ? selectAudit(STEPS, records, context) : selectUndo(STEPS, config, records, context)
  const kind = auditing ? 'verify' : config.uninstall ? 'uninstall' : 'rollback'
  const dependents = config.rollback
    ? STEPS.filter((s) => s.requires?.includes(config.rollback!) && records[s.id]?.status === 'done').map((s) => s.id)
    : []
  if (dependents.length) reporter.say(text.cli.rollbackDependents(dependents, config.rollback!))
  if (config.dryRun) {
    reporter.event({ event: 'run-start', context, stateFile: state.path, steps: ids, dryRun: true })
    for (const id of ids) {
      const step = STEPS.find((s) => s.id === id)!
      const ctx = { config, facts: state.state.facts, before: records[id]?.before }
      reporter.say(
        auditing
          ? `\n# ${id}: verify ${step.title}`
          : `\n# undo ${id}: ${step.title}\n${formatPlan(undoPlan(step, ctx), cluster.connectionArgs())}`,
      )
    }
    reporter.say(`\n${text.cli.dryRunDone}`)
    reporter.event({ event: 'run-end', status: 'done', exitCode: EXIT.ok })
    return EXIT.ok
  }
  // An audit takes the lock too: its probe pods must not meet a run's, and it must not audit a half-done run.
  await takeLock()
  const collector = new ReachabilityCollector(state.state)
  let audit: import('./lib/run/audit.ts').AuditOutcome | undefined
  const engine = new Engine({
    config,
    steps: STEPS,
    selected: ids,
    state,
    cluster,
    reporter,
    signal,
    prompter: config.yes || auditing ? undefined : guidedPrompter(signal),
    fancy: terminal && config.output === 'text',
    probes: config.probes,
    onProbeResults: collector.add,
  })
  const startedAt = new Date()
  reporter.event({
    event: 'run-start',
    context,
    stateFile: state.path,
    record: state.describe(),
    steps: ids,
    dryRun: false,
  })
  reporter.say(
    auditing
      ? text.cli.auditing(context, state.describe(), ids.join(', '))
      : text.cli.undoingSteps(context, state.describe(), ids.join(', ')),
  )
  let outcome: 'done' | 'failed' | 'interrupted' = 'failed'
  try {
    if (auditing) {
      const { auditContext } = await import('./lib/run/audit.ts')
      const outcome = await auditContext({ config, steps: STEPS, state, cluster, reporter, signal, ids, collector })
      audit = outcome
      reporter.event({
        event: 'run-end',
        status: outcome.exitCode === EXIT.ok ? 'done' : 'failed',
        exitCode: outcome.exitCode,
        ...(outcome.exitCode ? { message: outcome.error ?? `${outcome.drifts.length} drift(s)` } : {}),
      })
      return outcome.exitCode
    }
    await engine.undo()
    reporter.say(`\n${summary(engine.results, [])}`)
    reporter.say(`\n${config.uninstall ? text.cli.uninstalled : text.cli.rolledBack(config.rollback!)}`)
    reporter.event({ event: 'run-end', status: 'done', exitCode: EXIT.ok })
    outcome = 'done'
    return EXIT.ok
  } catch (error) {
    const interrupted = error instanceof Interrupted
    if (interrupted) outcome = 'interrupted'
    reporter.say(`\n${summary(engine.results, [])}`)
    reporter.say(`\n${interrupted ? '⏸' : '✖'} ${(error as Error).message}`)
    if (!auditing) reporter.say(text.cli.runAgain)
    const exitCode = exitCodeOf(error)
    reporter.event({
      event: 'run-end',
      status: interrupted ? 'interrupted' : 'failed',
      exitCode,
      message: (error as Error).message,
    })
    if (!isExpected(error)) throw error
    return exitCode
  } finally {
    if (!auditing) {
      for (const result of engine.results) collector.addChecks(result.id, result.checks)
      collector.keep(config.uninstall)
      await state.finish(outcome)
    }
    if (config.report) {
      const { writeReportFiles } = await import('./lib/report/files.ts')
      writeReportFiles(
        config.report,
        {
          kind,
          context,
          config,
          version: VERSION,
          startedAt,
          finishedAt: new Date(),
          results: audit?.results ?? engine.results,
          state: state.state,
          reachability: collector,
          argv,
          ...(audit ? { audit } : {}),
        },
        reporter,
      )
    }
  }
}

interface FleetRun {
  reporter: Reporter
  cluster: Cluster
  signal: AbortSignal
}

/**
 * --verify with several --context flags (or --all-contexts): each context's record picks its steps, the audits run
 * concurrently, each context's text is printed as one block (its JSON events carry the context), then one table,
 * one exit code (1 if any context drifted or could not be audited) and one report.
 */
async function fleetAudit(config: Config, argv: string[], STEPS: Step[], { reporter, cluster, signal }: FleetRun) {
  const [
    { readContexts },
    { applyRecordedSettings, defaultStatePath, StateStore },
    { selectAudit },
    { applySavedAnswers },
    { auditContext, fleetTable, notAudited },
    { ReachabilityCollector },
    { Cluster },
    { RunLease },
  ] = await Promise.all([
    import('./lib/kube/kubeconfig.ts'),
    import('./lib/run/state.ts'),
    import('./lib/run/selection.ts'),
    import('./lib/run/questions.ts'),
    import('./lib/run/audit.ts'),
    import('./lib/verify/reachability.ts'),
    import('./lib/kube/cluster.ts'),
    import('./lib/run/lease.ts'),
  ])
  const known = await readContexts(cluster, config.kubeconfig)
  const named = config.allContexts ? known : config.contexts.map((name) => requireContext(known, name))
  const skipped: string[] = []
  const opened = await Promise.all(
    named.map(async (kube) => {
      const member = { ...config, context: kube.name, contexts: [kube.name], explicit: [...config.explicit] }
      settleNamespace(member, kube)
      // Each context's record as a single audit reads it. A cluster that does not answer within seconds (or Ctrl-C)
      // leaves the local copy, marked offline: that context is one not audited, below.
      const state = await StateStore.open({
        path: defaultStatePath(kube.name),
        context: kube.name,
        cluster: new Cluster({ ...cluster.options, context: kube.name, timeoutMs: 10_000, apiProxy: false }),
        namespace: member.namespace,
        release: member.release,
        write: false,
        offlineFallback: true,
      })
      return { kube, member, state }
    }),
  )
  if (signal.aborted) throw new Interrupted()
  const members = opened.flatMap(({ kube, member, state }) => {
    const unaudited = {
      kube,
      state,
      config: member,
      ids: [] as StepId[],
      taken: [] as string[],
      unreadable: state.offline,
    }
    // Not skipped when its record cannot be read: a cluster that does not answer may well be one hardened.
    if (state.offline) return [unaudited]
    const done = Object.values(state.state.steps).some((r) => r?.status === 'done' || r?.status === 'accepted')
    // --all-contexts takes the contexts this runbook hardened; a context named outright must have a record.
    if (!done && config.allContexts) return (skipped.push(kube.name), [])
    const ids = selectAudit(STEPS, state.state.steps, kube.name)
    // As a single audit does: the settings the record was made with, unless given again.
    const taken = applyRecordedSettings(member, state.state.config)
    applySavedAnswers(member, state.state.answers)
    return [{ ...unaudited, ids, taken }]
  })
  if (!members.length)
    throw new UsageError(text.errors.noFleetRecord(dirname(defaultStatePath('-')), known.map((c) => c.name).join(', ')))
  const contexts = members.map((m) => m.kube.name)
  reporter.event({ event: 'run-start', contexts, steps: [], dryRun: false })
  reporter.say(
    `${text.audit.fleetStart(contexts.length, contexts.join(', '))}${
      skipped.length ? `\n${text.audit.fleetNoRecord(skipped.join(', '))}` : ''
    }`,
  )
  /**
   * One context's audit under its lock, as a single audit takes it: its probe pods must not meet a run's, nor audit
   * a half-done run. Throws when the lock cannot be taken.
   */
  const auditMember = async (
    m: (typeof members)[number],
    memberReporter: Reporter,
    collector: InstanceType<typeof ReachabilityCollector>,
  ) => {
    const memberCluster = new Cluster({ ...cluster.options, context: m.kube.name })
    const memberAbort = new AbortController()
    const memberSignal = AbortSignal.any([signal, memberAbort.signal])
    setMaxListeners(100, memberSignal) // every concurrent command listens for it
    const lease = new RunLease(memberCluster.forCleanup(), m.config.namespace, {
      operation: 'verify',
      context: m.kube.name,
      onLost: (message) => {
        memberReporter.say(`\n${text.record.lockLost(message)}`)
        memberAbort.abort()
      },
    })
    fleetLeases.add(lease)
    try {
      const taken = await lease.acquire()
      if (taken.tookOverFrom) memberReporter.say(text.cli.tookOverLock(taken.tookOverFrom))
      await removeLeftoverProbes(memberCluster, m.config.namespace, memberReporter)
      return await auditContext({
        config: m.config,
        steps: STEPS,
        state: m.state,
        cluster: new Cluster({ ...memberCluster.options, signal: memberSignal }),
        reporter: memberReporter,
        signal: memberSignal,
        ids: m.ids,
        collector,
      })
    } finally {
      await lease.release()
      fleetLeases.delete(lease)
    }
  }
  const startedAt = new Date()
  const audits = await Promise.all(
    members.map(async (m) => {
      const said: string[] = []
      const human = { write: (chunk: string) => said.push(chunk) !== 0 } as unknown as NodeJS.WriteStream
      const memberReporter = new Reporter(reporter.json, human, process.stdout, m.kube.name)
      const collector = new ReachabilityCollector(m.state.state)
      memberReporter.event({
        event: 'run-start',
        context: m.kube.name,
        stateFile: m.state.path,
        steps: m.ids,
        dryRun: false,
      })
      memberReporter.say(text.audit.fleetMember(m.kube.name, m.state.describe(), m.ids.join(', ')))
      if (m.state.notice) memberReporter.say(m.state.notice)
      if (m.taken.length) memberReporter.say(text.cli.settingsFromRecord(m.taken.join(', ')))
      const unaudited = (why: string) =>
        notAudited({ ids: m.ids, reporter: memberReporter, config: m.config }, m.kube.name, why)
      const outcome = m.unreadable
        ? unaudited(text.audit.fleetUnreadable(m.unreadable))
        : await auditMember(m, memberReporter, collector).catch((caught) => {
            if (signal.aborted) throw new Interrupted()
            const error = clusterAccessError(caught, m.config.namespace, m.kube.name, "take the runbook's lock")
            if (!isExpected(error)) throw caught
            return unaudited(error.message)
          })
      return { member: m, outcome, said: said.join(''), collector, finishedAt: new Date() }
    }),
  )
  for (const { member, said } of audits) reporter.say(`\n══ ${member.kube.name} ══\n${said.trimEnd()}`)
  const outcomes = audits.map((a) => a.outcome)
  reporter.say(`\n${text.audit.fleetTitle}\n${fleetTable(outcomes)}`)
  const exitCode = outcomes.some((o) => o.exitCode !== EXIT.ok) ? EXIT.failed : EXIT.ok
  reporter.say(
    `\n${
      exitCode === EXIT.ok
        ? text.audit.fleetAllHold
        : text.audit.fleetSomeDrifted(
            outcomes
              .filter((o) => o.exitCode !== EXIT.ok)
              .map((o) => o.context)
              .join(', '),
          )
    }`,
  )
  reporter.event({
    event: 'run-end',
    status: exitCode === EXIT.ok ? 'done' : 'failed',
    exitCode,
    contexts: outcomes.map((o) => ({
      context: o.context,
      holding: o.holding,
      steps: o.audited.length,
      drifts: o.drifts.length,
      pathsOpen: o.pathsOpen,
      exitCode: o.exitCode,
    })),
  })
  if (config.report) {
    const { writeReportFiles } = await import('./lib/report/files.ts')
    writeReportFiles(
      config.report,
      audits.map((a) => ({
        kind: 'verify' as const,
        context: a.member.kube.name,
        config: a.member.config,
        version: VERSION,
        startedAt,
        finishedAt: a.finishedAt,
        results: a.outcome.results,
        state: a.member.state.state,
        reachability: a.collector,
        argv,
        audit: a.outcome,
      })),
      reporter,
    )
  }
  return exitCode
}

/** --dry-run=server: the API server's verdict on every manifest; exit 2 when it rejects any. */
async function reportServerDryRun(
  reporter: Reporter,
  cluster: Cluster,
  plans: { step: StepId; items: PlanItem[] }[],
): Promise<number> {
  const { formatVerdicts, objectName, serverDryRun } = await import('./lib/run/server-dry-run.ts')
  const verdicts = await serverDryRun(cluster, plans)
  reporter.say(
    `\nAPI server dry run (kubectl apply --dry-run=server) of ${verdicts.length} object(s):\n${formatVerdicts(verdicts)}`,
  )
  for (const v of verdicts)
    reporter.event({
      event: 'server-dry-run',
      step: v.step,
      object: objectName(v.object),
      result: v.result,
      ...(v.message ? { message: v.message } : {}),
    })
  const rejected = verdicts.filter((v) => v.result === 'rejected').length
  if (rejected) reporter.say(`\n${text.cli.serverDryRunRejected(rejected)}`)
  return rejected ? EXIT.usage : EXIT.ok
}

/**
 * Whether JSON output was asked for: by the settings once they loaded, else (they could not) by argv, read even when
 * it is otherwise unusable, the last output given winning as it does when parsed: --output json, -o json, -ojson, -yo=json…
 */
function wantsJson(argv: string[]): boolean {
  if (outputAsked) return outputAsked === 'json'
  let asked: string | undefined
  argv.forEach((a, i) => {
    const inline = /^(?:--output=|-[a-z]*o=?)(json|text)$/.exec(a)
    if (inline) asked = inline[1]
    else if (a === '--output' || /^-[a-z]*o$/.test(a)) asked = argv[i + 1]
  })
  return asked === 'json'
}

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (error) {
  if (isExpected(error)) {
    process.stderr.write(`${text.cli.errorPrefix}${(error as Error).message}\n`)
    // Errors before the run starts (bad flags, no context) still end a JSON stream with its run-end event.
    if (wantsJson(process.argv.slice(2))) {
      const status =
        error instanceof UsageError ? 'usage-error' : error instanceof Interrupted ? 'interrupted' : 'failed'
      process.stdout.write(
        JSON.stringify({
          time: new Date().toISOString(),
          event: 'run-end',
          status,
          exitCode: exitCodeOf(error),
          message: (error as Error).message,
        }) + '\n',
      )
    }
    process.exitCode = exitCodeOf(error)
  } else {
    process.stderr.write(`${text.cli.errorPrefix}${text.cli.unexpected}\n${(error as Error)?.stack ?? error}\n`)
    process.exitCode = EXIT.failed
  }
}
// After a hang-up, end as a hung-up process (killed by SIGHUP, nothing of the run left to do): exiting normally,
// Node would restore the settings of a terminal that no longer exists, and abort on the error.
if (terminalGone) process.kill(process.pid, 'SIGHUP')
