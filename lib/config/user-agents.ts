// User-Agent values for the gateway's AuthorizationPolicy. Istio compares header values in four ways only —
// exact, prefix `abc*`, suffix `*abc`, presence `*` — so a value with a `*` anywhere else would silently
// match nothing. These helpers reject such values before anything is applied, and pick concrete sample
// values the verification requests send.
import { UsageError } from './errors.ts'
import { text } from './text.ts'

export type UserAgentMatch =
  | { kind: 'exact'; value: string }
  | { kind: 'prefix'; value: string }
  | { kind: 'suffix'; value: string }
  | { kind: 'presence' }

export const ALLOWED_FORMS = 'an exact value, a prefix "abc*", a suffix "*abc", or "*" (any User-Agent)'

/** How Istio will compare a configured value; a string is the reason it cannot be used. */
export function classifyUserAgent(pattern: string): UserAgentMatch | string {
  if (pattern.trim() === '') return 'it is empty'
  // HTTP header values cannot carry control characters; Envoy would never see such a value.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(pattern)) return 'it contains a control character (a header value cannot)'
  if (pattern !== pattern.trim()) return 'it starts or ends with white space, which clients never send'
  if (pattern === '*') return { kind: 'presence' }
  const stars = [...pattern].filter((c) => c === '*').length
  if (stars === 0) return { kind: 'exact', value: pattern }
  if (stars === 1 && pattern.endsWith('*')) return { kind: 'prefix', value: pattern.slice(0, -1) }
  if (stars === 1 && pattern.startsWith('*')) return { kind: 'suffix', value: pattern.slice(1) }
  return `Istio treats a "*" that is not the first or last character (or a second "*") as a literal character, so this value would match no real browser`
}

/** Why one value cannot be used (naming it and the allowed forms), or undefined when it can. */
export function userAgentProblem(pattern: string): string | undefined {
  const match = classifyUserAgent(pattern)
  return typeof match === 'string' ? `${JSON.stringify(pattern)}: ${match}; use ${ALLOWED_FORMS}` : undefined
}

/** Every problem with a list of User-Agent values, each naming the value; empty when all are usable. */
export function userAgentProblems(patterns: string[]): string[] {
  if (patterns.length === 0) return ['no User-Agent value given: the gateway policy would admit nobody']
  return patterns.flatMap((p) => userAgentProblem(p) ?? [])
}

/** Throws a UsageError (exit 2, nothing changed) naming every unusable value and the forms Istio supports. */
export function assertValidUserAgents(patterns: string[], source = '--allowed-user-agents'): void {
  const problems = userAgentProblems(patterns)
  if (problems.length) throw new UsageError(`${source}: ${problems.join('\n  ')}`)
}

/** Istio's comparison of one configured value against a request's User-Agent. */
export function userAgentMatches(pattern: string, value: string): boolean {
  const match = classifyUserAgent(pattern)
  if (typeof match === 'string') return false
  switch (match.kind) {
    case 'presence':
      return true
    case 'exact':
      return value === match.value
    case 'prefix':
      return value.startsWith(match.value)
    case 'suffix':
      return value.endsWith(match.value)
  }
}

export const admitsUserAgent = (patterns: string[], value: string) => patterns.some((p) => userAgentMatches(p, value))

/** A concrete User-Agent a client could send that the pattern admits (what the verification request sends). */
export function sampleUserAgent(pattern: string): string {
  const match = classifyUserAgent(pattern)
  if (typeof match === 'string') throw new UsageError(`${JSON.stringify(pattern)}: ${match}`)
  switch (match.kind) {
    case 'presence':
      return 'gthulhu-runbook-verification'
    case 'exact':
      return match.value
    case 'prefix':
      // A Chrome-like tail when the prefix ends like Chrome's, else a neutral one.
      return match.value + (/Chrome\/$/.test(match.value) ? '131.0.0.0 Safari/537.36' : 'gthulhu-runbook-verification')
    case 'suffix':
      return 'gthulhu-runbook-verification ' + match.value
  }
}

/** The User-Agent curl sends when told nothing else (`curl/<version>`), from the HTTP probe image's tag. */
export function curlDefaultUserAgent(httpProbeImage: string): string {
  const tag = /:(\d+\.\d+\.\d+)(?:@|$)/.exec(httpProbeImage)?.[1]
  return `curl/${tag ?? '8.11.1'}`
}

/** One line for the operator: what a value admits. */
export function describeUserAgent(pattern: string): string {
  const match = classifyUserAgent(pattern)
  if (typeof match === 'string') return text.plan.unusable(JSON.stringify(pattern), match)
  return text.plan.userAgent(match.kind, match.kind === 'presence' ? '' : JSON.stringify(match.value))
}
