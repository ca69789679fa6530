// Questions only the operator can answer, asked in guided mode at the step that needs them. Each answers
// one flag; an answer given by flag or --config is never asked, and a given answer is kept in state so a
// resumed run does not ask again. Automation never asks: it uses the flag or the guide's default.
import { checkbox, confirm, input, select } from '@inquirer/prompts'
import { asked } from '../config/prompting.ts'
import { workloads } from '../domain/gthulhu.ts'
import { trustDomainOf } from '../domain/istio.ts'
import { GUIDE_USER_AGENT, managerPrincipals, validateOptionValue, type Config } from '../config/options.ts'
import { ANSWERABLE } from './record-schema.ts'
import type { Facts, StepId } from '../types.ts'
import { userAgentProblem } from '../config/user-agents.ts'
import { promptTheme, text } from '../config/text.ts'

export interface Question {
  key: keyof Config
  flag: string
  /** `signal` closes the prompt at once when the run is interrupted (Ctrl-C, SIGTERM). */
  ask(config: Config, facts: Facts, signal?: AbortSignal): Promise<Config[keyof Config]>
}

/** Browser choices whose User-Agent patterns Istio can match (a prefix ending in "*"). */
export const BROWSER_CHOICES = [
  { name: () => text.questions.chromeMac, value: GUIDE_USER_AGENT },
  {
    name: () => text.questions.chromeWindows,
    value: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/*',
  },
  {
    name: () => text.questions.chromeLinux,
    value: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/*',
  },
] as const

/** The same rule as --manager-principals (lib/config/options.ts), for what is typed at the prompt. */
export function validatePrincipalList(typed: string): true | string {
  const items = typed
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (items.length === 0) return text.questions.noPrincipal
  return validateOptionValue('managerPrincipals', items) ?? true
}

export function validateUserAgentList(typed: string): true | string {
  const items = typed
    .split('|')
    .map((s) => s.trim())
    .filter(Boolean)
  if (items.length === 0) return text.questions.noUserAgent
  for (const item of items) {
    const problem = userAgentProblem(item)
    if (problem) return problem
  }
  return true
}

/** Prompt definitions as data, so their wording and validation are tested with @inquirer/testing (in the run's language). */
export const browsersPrompt = () => ({
  message: text.questions.browsers,
  theme: promptTheme(),
  choices: [
    ...BROWSER_CHOICES.map((c) => ({ name: c.name(), value: c.value, checked: c.value === GUIDE_USER_AGENT })),
    { name: text.questions.anotherPattern, value: 'custom' },
  ],
  validate: (items: readonly unknown[]) => (items.length ? true : text.questions.pickOne),
})

export const customUserAgentsPrompt = () => ({
  message: text.questions.customAgents,
  validate: validateUserAgentList,
})

export const anyUserAgentPrompt = {
  message:
    '"*" lets any client that sends a User-Agent header through the gateway (curl and scripts included): the gateway then filters nothing. Is that what you mean?',
  default: false,
}

export const principalsPrompt = (suggested: string[]) => ({
  message: text.questions.principals,
  default: suggested.join(','),
  validate: validatePrincipalList,
})

export const ingressPrompt = (gatewayName: string) => ({
  message: text.questions.ingress,
  theme: promptTheme(),
  choices: [
    { name: text.questions.ingressNo, value: false },
    { name: text.questions.ingressYes(gatewayName), value: true },
  ],
})

const userAgentsQuestion: Question = {
  key: 'allowedUserAgents',
  flag: '--allowed-user-agents',
  async ask(_config, _facts, signal) {
    const picked: string[] = await asked(checkbox(browsersPrompt(), { signal }))
    const patterns = picked.filter((p) => p !== 'custom')
    if (picked.includes('custom')) {
      const typed = await asked(input(customUserAgentsPrompt(), { signal }))
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

/** Yes/no questions a step asks only when it meets the case mid-step; each is answered by its flag (unset: no). */
export interface Confirmation {
  key: 'allowUntestedKubernetes' | 'replaceNewerGatewayApi'
  flag: string
  /** When the question comes up. */
  when(): string
}

export const MID_STEP_CONFIRMATIONS: Partial<Record<StepId, Confirmation[]>> = {
  preflight: [
    {
      key: 'allowUntestedKubernetes',
      flag: '--allow-untested-kubernetes',
      when: () => text.questions.untestedKubernetesWhen,
    },
  ],
  'gateway-api-crds': [
    {
      key: 'replaceNewerGatewayApi',
      flag: '--replace-newer-gateway-api',
      when: () => text.questions.replaceNewerCrdsWhen,
    },
  ],
}

/** A setting's value as the operator would type it after its flag. */
export function describeAnswer(key: keyof Config, config: Config, facts: Facts): string {
  const value = config[key]
  if (key === 'managerPrincipals' && Array.isArray(value) && value.length === 0)
    return managerPrincipals(config, workloads(config, facts).scheduler.serviceAccount, trustDomainOf(facts)).join(',')
  return Array.isArray(value) ? value.join(key === 'allowedUserAgents' ? '|' : ',') : String(value)
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
