#!/usr/bin/env -S npx tsx
// Entry point: parse flags, settle the kube context and the state file, select steps, run them, and map
// every expected error to its exit code (0 done, 1 failed, 2 usage, 130 interrupted).
import { setMaxListeners } from 'node:events'
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { Cluster } from './lib/cluster.ts'
import { Engine, summary } from './lib/engine.ts'
import { EXIT, Interrupted, UsageError, exitCodeOf, isExpected } from './lib/errors.ts'
import { helpText } from './lib/help.ts'
import { askContext, guidedPrompter } from './lib/prompts.ts'
import { applySavedAnswers } from './lib/questions.ts'
import { readContexts, requireContext } from './lib/kubeconfig.ts'
import { loadConfig, type Config } from './lib/options.ts'
import { useLanguage } from './lib/zh-TW.ts'
import { formatPlan, Reporter } from './lib/report.ts'
import { renderManifests } from './lib/render.ts'
import { selectSteps } from './lib/selection.ts'
import { defaultStatePath, driftWarnings, StateStore } from './lib/state.ts'
import { STEPS } from './steps/index.ts'

const VERSION: string = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')).version

/** How the operator started the runbook, so the resume command can be pasted as is. */
function invocation(): string {
  if (process.env.npm_lifecycle_event === 'start') return 'npm start --'
  if (process.env.npm_lifecycle_event === 'demo') return 'npm run demo --'
  const entry = process.argv[1] ?? 'runbook.ts'
  if (entry.endsWith('gthulhu-runbook.mjs')) return 'npx gthulhu-runbook'
  const relativeEntry = relative(process.cwd(), entry)
  return `npx tsx ${relativeEntry.startsWith('..') ? entry : relativeEntry}`
}

/** The command that picks up where this run stopped: the same flags, with --resume instead of a selection. */
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
  if (!config.context) kept.push('--context', context)
  const selection = config.only.length ? ['--only', remaining.join(',')] : ['--resume']
  const quoted = [...kept, ...selection].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
  return `${invocation()} ${quoted.join(' ')}`
}

/** The kube context to act on: the one named, or (guided only) the operator's choice. Never guessed in automation. */
async function resolveContext(config: Config, cluster: Cluster, readOnly: boolean): Promise<string | undefined> {
  if (readOnly && !config.context) {
    // Dry runs, renders and lists read no cluster: the current context only names the state file.
    return (await readContexts(cluster, config.kubeconfig).catch(() => [])).find((c) => c.current)?.name
  }
  const contexts = await readContexts(cluster, config.kubeconfig)
  if (config.context) return requireContext(contexts, config.context).name
  if (config.yes) {
    throw new UsageError(`--yes needs --context: name the cluster to change; contexts in the kubeconfig: ${contexts.map((c) => c.name).join(', ') || 'none'}`)
  }
  if (contexts.length === 0) throw new UsageError('the kubeconfig has no contexts; pass --kubeconfig')
  return askContext(contexts)
}

function listSteps(reporter: Reporter, state: StateStore | undefined): void {
  reporter.say(`Steps${state ? ` (state for context ${state.state.context}: ${state.path})` : ''}:`)
  for (const step of STEPS) {
    const record = state?.state.steps[step.id]
    reporter.say(`  ${step.id.padEnd(17)} ${(record?.status ?? 'pending').padEnd(11)} ${step.title}${record?.finishedAt ? `  (${record.finishedAt})` : ''}`)
  }
}

async function main(argv: string[]): Promise<number> {
  const config = loadConfig(argv)
  useLanguage(STEPS, config.lang)
  if (config.help || config.version) {
    console.log(config.help ? helpText(STEPS, VERSION) : VERSION)
    return EXIT.ok
  }
  const reporter = new Reporter(config.output === 'json')
  const terminal = !!process.stdin.isTTY && !!process.stdout.isTTY && !process.env.CI
  const readOnly = config.list || config.dryRun || !!config.render
  if (!readOnly && !config.yes && !terminal) {
    throw new UsageError('no terminal to ask questions on (stdin/stdout is not a TTY, or CI is set): pass --yes and --context to run unattended')
  }
  if (!readOnly && !config.yes && config.output === 'json') throw new UsageError('--output json is for unattended runs: add --yes and --context')

  const abort = new AbortController()
  setMaxListeners(100, abort.signal) // every concurrent command listens for Ctrl-C
  const cluster = new Cluster({ kubeconfig: config.kubeconfig, signal: abort.signal, timeoutMs: config.timeout * 1000 })
  const context = await resolveContext(config, cluster, readOnly)
  cluster.options.context = context

  const statePath = config.stateFile ?? (context ? defaultStatePath(context) : undefined)
  const state = statePath && context ? new StateStore(statePath, context) : undefined
  if (state) applySavedAnswers(config, state.state.answers)
  if (config.list) {
    listSteps(reporter, state)
    return EXIT.ok
  }

  const selection = selectSteps(STEPS, config, state?.state.steps ?? {})
  for (const warning of state ? driftWarnings(state.state, config) : []) reporter.say(`⚠ ${warning}`)
  const selected = selection.run.map((id) => STEPS.find((s) => s.id === id)!)
  const facts = state?.state.facts ?? {}
  // Plans are pure and validate every manifest: bad operator input fails here, before any step changes anything.
  const plans = selected.map((step) => step.plan({ config, facts }))

  if (config.render) {
    const files = renderManifests(config.render, selected, config, facts)
    reporter.say(`Rendered ${files.length} manifest(s) and kustomization.yaml into ${config.render}:\n${files.map((f) => `  ${f}`).join('\n')}`)
    reporter.say('Steps also run commands (istioctl install, waypoint apply, rollout restart); see --dry-run for the full plan.')
    return EXIT.ok
  }
  if (config.dryRun) {
    reporter.event({ event: 'run-start', context, stateFile: statePath, steps: selection.run, dryRun: true })
    selected.forEach((step, i) => reporter.say(`\n# ${step.id}: ${step.title}\n${formatPlan(plans[i], cluster.connectionArgs())}`))
    reporter.say(`\nDry run: nothing was changed.`)
    reporter.event({ event: 'run-end', status: 'done', exitCode: EXIT.ok })
    return EXIT.ok
  }

  const lock = state!.lock()
  if (lock.tookOverFrom) reporter.say(`⚠ took over the lock left by pid ${lock.tookOverFrom}, which is no longer running`)
  let interrupts = 0
  const onSigint = () => {
    // The first Ctrl-C stops the running command and lets cleanup run; a second one leaves at once.
    if (++interrupts > 1) process.exit(EXIT.interrupted)
    reporter.say('\n⚠ interrupted: stopping the running command and cleaning up (Ctrl-C again to leave at once)')
    abort.abort()
  }
  process.on('SIGINT', onSigint)
  process.on('SIGTERM', onSigint)
  const engine = new Engine({
    config,
    steps: STEPS,
    selected: selection.run,
    state: state!,
    cluster,
    reporter,
    signal: abort.signal,
    prompter: config.yes ? undefined : guidedPrompter,
    fancy: terminal && config.output === 'text',
  })
  reporter.event({ event: 'run-start', context, stateFile: statePath, steps: selection.run, dryRun: false })
  reporter.say(`Context ${context}; state in ${statePath}`)
  try {
    await engine.run()
    reporter.say(`\n${summary(engine.results, selection.left)}`)
    const url = state!.state.facts.gateway?.url
    if (url) reporter.say(`\nOpen the Web UI at ${url}`)
    reporter.event({ event: 'run-end', status: 'done', exitCode: EXIT.ok, ...(url ? { webUiUrl: url } : {}) })
    return EXIT.ok
  } catch (error) {
    const remaining = selection.run.slice(Math.max(0, selection.run.indexOf(engine.current!)))
    const resume = resumeCommand(argv, config, remaining, context!)
    const interrupted = error instanceof Interrupted
    reporter.say(`\n${summary(engine.results, selection.left)}`)
    reporter.say(`\n${interrupted ? '⏸' : '✖'} ${(error as Error).message}`)
    reporter.say(`Resume with:\n  ${resume}`)
    const exitCode = exitCodeOf(error)
    reporter.event({ event: 'run-end', status: interrupted ? 'interrupted' : 'failed', exitCode, resumeCommand: resume, message: (error as Error).message })
    if (!isExpected(error)) throw error
    return exitCode
  } finally {
    process.off('SIGINT', onSigint)
    process.off('SIGTERM', onSigint)
    state!.unlock()
  }
}

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (error) {
  if (isExpected(error)) {
    process.stderr.write(`gthulhu-runbook: ${(error as Error).message}\n`)
    // Errors before the run starts (bad flags, no context) still end a JSON stream with its run-end event.
    const wantsJson = process.argv.some((a, i) => a === '--output=json' || (a === '--output' && process.argv[i + 1] === 'json'))
    if (wantsJson) {
      const status = error instanceof UsageError ? 'usage-error' : error instanceof Interrupted ? 'interrupted' : 'failed'
      process.stdout.write(JSON.stringify({ time: new Date().toISOString(), event: 'run-end', status, exitCode: exitCodeOf(error), message: (error as Error).message }) + '\n')
    }
    process.exitCode = exitCodeOf(error)
  } else {
    process.stderr.write(`gthulhu-runbook: unexpected error (a bug; please report it):\n${(error as Error)?.stack ?? error}\n`)
    process.exitCode = EXIT.failed
  }
}
