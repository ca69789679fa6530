// Questions only the operator can answer, asked in guided mode at the step that needs them. Each answers
// one flag; an answer given by flag or --config is never asked, and a given answer is kept in state so a
// resumed run does not ask again. Automation never asks: it uses the flag or the guide's default.
import { checkbox, confirm, input, select } from '@inquirer/prompts'
import { Interrupted } from '../config/errors.ts'
import { workloads } from '../domain/gthulhu.ts'
import { trustDomainOf } from '../domain/istio.ts'
import { GUIDE_USER_AGENT, managerPrincipals, validateOptionValue, type Config } from '../config/options.ts'
import { ANSWERABLE } from './record-schema.ts'
import type { Facts, StepId } from '../types.ts'
import { userAgentProblem } from '../config/user-agents.ts'

export interface Question {
  key: keyof Config
  flag: string
  /** `signal` closes the prompt at once when the run is interrupted (Ctrl-C, SIGTERM). */
  ask(config: Config, facts: Facts, signal?: AbortSignal): Promise<Config[keyof Config]>
}

/** Browser choices whose User-Agent patterns Istio can match (a prefix ending in "*"). */
export const BROWSER_CHOICES = [
  { name: "Chrome on macOS (the guide's choice)", value: GUIDE_USER_AGENT },
  {
    name: 'Chrome on Windows',
    value: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/*',
  },
  { name: 'Chrome on Linux', value: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/*' },
] as const

/** The same rule as --manager-principals (lib/config/options.ts), for what is typed at the prompt. */
export function validatePrincipalList(text: string): true | string {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (items.length === 0) return 'name at least one identity, or the manager would refuse everyone'
  return validateOptionValue('managerPrincipals', items) ?? true
}

export function validateUserAgentList(text: string): true | string {
  const items = text
    .split('|')
    .map((s) => s.trim())
    .filter(Boolean)
  if (items.length === 0) return 'give at least one User-Agent pattern'
  for (const item of items) {
    const problem = userAgentProblem(item)
    if (problem) return problem
  }
  return true
}

async function asked<T>(question: Promise<T>): Promise<T> {
  try {
    return await question
  } catch (error) {
    if (['ExitPromptError', 'AbortPromptError'].includes((error as Error).name))
      throw new Interrupted('quit at a prompt')
    throw error
  }
}

/** Prompt definitions as data, so their wording and validation are tested with @inquirer/testing. */
export const browsersPrompt = {
  message:
    'Which browsers may open the Web UI through the gateway? (a User-Agent is chosen by the client: this filters, it does not authenticate)',
  choices: [
    ...BROWSER_CHOICES.map((c) => ({ ...c, checked: c.value === GUIDE_USER_AGENT })),
    { name: 'Another pattern (typed next)', value: 'custom' },
  ],
  validate: (items: readonly unknown[]) => (items.length ? true : 'pick at least one'),
}

export const customUserAgentsPrompt = {
  message: 'User-Agent patterns, separated by "|" (exact, prefix "x*", suffix "*x" or "*"):',
  validate: validateUserAgentList,
}

export const anyUserAgentPrompt = {
  message:
    '"*" lets any client that sends a User-Agent header through the gateway (curl and scripts included): the gateway then filters nothing. Is that what you mean?',
  default: false,
}

export const principalsPrompt = (suggested: string[]) => ({
  message: "Which identities may call the manager on 8080? (comma-separated; the scheduler's is the guide's choice)",
  default: suggested.join(','),
  validate: validatePrincipalList,
})

export const ingressPrompt = (gatewayName: string) => ({
  message: "Should browser traffic from the gateway pass through the manager's waypoint?",
  choices: [
    {
      name: 'No (the guide): the gateway policy filters browsers; the manager policy applies to in-mesh callers only',
      value: false,
    },
    {
      name: `Yes: label the Service istio.io/ingress-use-waypoint=true and allow the gateway identity (…/sa/${gatewayName}-istio) in the manager policy`,
      value: true,
    },
  ],
})

const userAgentsQuestion: Question = {
  key: 'allowedUserAgents',
  flag: '--allowed-user-agents',
  async ask(_config, _facts, signal) {
    const picked: string[] = await asked(checkbox(browsersPrompt, { signal }))
    const patterns = picked.filter((p) => p !== 'custom')
    if (picked.includes('custom')) {
      const typed = await asked(input(customUserAgentsPrompt, { signal }))
      patterns.push(
        ...typed
          .split('|')
          .map((s) => s.trim())
          .filter(Boolean),
      )
    }
    // "*" alone admits any client that sends a User-Agent: only when the operator says that is what is meant.
    if (patterns.includes('*') && !(await asked(confirm(anyUserAgentPrompt, { signal }))))
      return userAgentsQuestion.ask(_config, _facts, signal) as Promise<string[]>
    return patterns
  },
}

const principalsQuestion: Question = {
  key: 'managerPrincipals',
  flag: '--manager-principals',
  async ask(config, facts, signal) {
    const suggested = managerPrincipals(
      { ...config, managerPrincipals: [] },
      workloads(config, facts).scheduler.serviceAccount,
      trustDomainOf(facts),
    )
    const typed = await asked(input(principalsPrompt(suggested), { signal }))
    return typed
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
  },
}

const ingressQuestion: Question = {
  key: 'ingressViaWaypoint',
  flag: '--ingress-via-waypoint',
  ask: (config, _facts, signal) => asked(select(ingressPrompt(config.gatewayName), { signal })),
}

export const STEP_QUESTIONS: Partial<Record<StepId, Question[]>> = {
  'l7-policies': [userAgentsQuestion, principalsQuestion, ingressQuestion],
}

/**
 * Puts answers kept in the record into the config, unless a flag or --config gave that value this time. Only the
 * runbook's questions are answered this way (the record was checked by the flags' own rules when it was read); an
 * answer can never choose what kind of run this is.
 */
export function applySavedAnswers(config: Config, answers: Partial<Config>): void {
  for (const [key, value] of Object.entries(answers) as [keyof Config, never][]) {
    if (ANSWERABLE.includes(key) && !config.explicit.includes(key)) (config as any)[key] = value
  }
}

/** The questions of a step that still need an answer: not given by flag/config, not answered before. */
export function openQuestions(stepId: StepId, config: Config, answers: Partial<Config>): Question[] {
  return (STEP_QUESTIONS[stepId] ?? []).filter((q) => !config.explicit.includes(q.key) && !(q.key in answers))
}
