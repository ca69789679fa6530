// The shape of a record, checked whenever one is read (from the cluster or the local copy): a malformed one is
// a usage error (exit 2) naming the first bad field, before anything reads it, and it is left untouched. Saved
// answers are checked by the same code that checks flags, and only the runbook's questions may be answered.
import { UsageError } from '../config/errors.ts'
import { OPTIONS, OUTCOME_KEYS, validateOptionValue, type Config } from '../config/options.ts'
import { LAYERS, STEP_IDS } from '../types.ts'

/** The settings a guided run asks for and keeps (lib/run/questions.ts): the only keys `answers` may hold. */
export const ANSWERABLE: (keyof Config)[] = ['allowedUserAgents', 'managerPrincipals', 'ingressViaWaypoint']

export const STEP_STATUSES = [
  'pending',
  'running',
  'done',
  'failed',
  'skipped',
  'interrupted',
  'accepted',
  'undone',
] as const

class Malformed extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`)
  }
}

type Shape = (value: unknown, field: string) => void

const shown = (value: unknown) => {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}
const bad = (field: string, expected: string, value: unknown): never => {
  throw new Malformed(field, `expected ${expected}, found ${shown(value)}`)
}
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const string: Shape = (v, f) => void (typeof v === 'string' || bad(f, 'a string', v))
const boolean: Shape = (v, f) => void (typeof v === 'boolean' || bad(f, 'true or false', v))
const number: Shape = (v, f) => void ((typeof v === 'number' && Number.isFinite(v)) || bad(f, 'a number', v))
const oneOf =
  (choices: readonly string[]): Shape =>
  (v, f) =>
    void (choices.includes(v as string) || bad(f, `one of ${choices.join(', ')}`, v))
const matching =
  (pattern: RegExp, what: string): Shape =>
  (v, f) =>
    void ((typeof v === 'string' && pattern.test(v)) || bad(f, what, v))
const arrayOf =
  (item: Shape): Shape =>
  (v, f) => {
    if (!Array.isArray(v)) bad(f, 'a list', v)
    ;(v as unknown[]).forEach((x, i) => item(x, `${f}[${i}]`))
  }
const mapOf =
  (item: Shape): Shape =>
  (v, f) => {
    if (!isObject(v)) bad(f, 'a map', v)
    for (const [k, x] of Object.entries(v as object)) item(x, `${f}.${k}`)
  }
const nullable =
  (shape: Shape): Shape =>
  (v, f) =>
    v === null ? undefined : shape(v, f)
/** An object whose listed fields have these shapes (optional unless named in `required`); other fields pass. */
const object =
  (fields: Record<string, Shape>, required: string[] = []): Shape =>
  (v, f) => {
    if (!isObject(v)) bad(f, 'an object', v)
    const o = v as Record<string, unknown>
    for (const key of required) if (o[key] === undefined) throw new Malformed(`${f}.${key}`, 'missing')
    for (const [key, shape] of Object.entries(fields)) if (o[key] !== undefined) shape(o[key], `${f}.${key}`)
  }
const any: Shape = () => undefined

const check = object(
  { name: string, expected: string, observed: string, ok: boolean, advisory: boolean, hint: string },
  ['name', 'expected', 'observed', 'ok'],
)
const workload = object(
  {
    kind: oneOf(['Deployment', 'DaemonSet', 'StatefulSet']),
    name: string,
    serviceAccount: string,
    selectorLabels: mapOf(string),
    podLabels: mapOf(string),
    service: object({ name: string, port: number, headless: boolean }, ['name', 'port']),
    image: string,
    servesTls: boolean,
  },
  ['kind', 'name', 'serviceAccount', 'selectorLabels', 'podLabels'],
)
const facts = object({
  kubectlVersion: string,
  serverVersion: string,
  cni: object({ found: arrayOf(string), enforcesNetworkPolicy: boolean }, ['found', 'enforcesNetworkPolicy']),
  workloads: object({ manager: workload, scheduler: workload, mongodb: workload }, ['manager', 'scheduler', 'mongodb']),
  // A path the runbook will execute: only an absolute path to a file named istioctl, with the hash it must have.
  istioctlPath: matching(/^\/(?:[^\0]*\/)?istioctl$/, 'an absolute path to a file named istioctl'),
  istioctlSha256: matching(/^[0-9a-f]{64}$/, 'a SHA-256 digest (64 hex digits)'),
  istioctlAdopted: boolean,
  identityPolicies: boolean,
  gateway: object(
    {
      service: string,
      nodePort: number,
      nodeAddress: string,
      url: matching(/^https?:\/\//, 'an http(s) URL'),
      addressAssigned: boolean,
      via: oneOf(['load balancer', 'NodePort']),
    },
    ['service', 'url'],
  ),
  restarts: mapOf(string),
})
const before = object({
  objects: mapOf(
    object({ existed: boolean, managed: boolean, object: object({}, ['metadata']) }, ['existed', 'managed']),
  ),
  labels: mapOf(mapOf(nullable(string))),
  found: mapOf(any),
})
const stepRecord = object(
  {
    status: oneOf(STEP_STATUSES),
    startedAt: string,
    finishedAt: string,
    durationMs: number,
    checks: arrayOf(check),
    error: string,
    note: string,
    config: any, // checked below, like the top-level config
    before,
  },
  ['status'],
)
const edge = object(
  {
    from: string,
    to: string,
    port: string,
    verdict: oneOf(['allowed', 'refused', 'not probed', 'inconclusive']),
    layer: oneOf(LAYERS),
    expected: string,
    observed: string,
    ok: boolean,
    step: oneOf(STEP_IDS),
    at: string,
  },
  ['from', 'to', 'port', 'verdict', 'layer', 'expected', 'observed', 'ok', 'step', 'at'],
)
const reachability = object({ at: string, edges: arrayOf(edge) }, ['at', 'edges'])

/** Settings as recorded: each known outcome setting must be a value its flag would accept. */
function settings(value: unknown, field: string): void {
  if (!isObject(value)) bad(field, 'an object', value)
  for (const [key, v] of Object.entries(value as object)) {
    if (!OUTCOME_KEYS.includes(key as keyof Config) || v === undefined) continue
    const problem = validateOptionValue(key as keyof Config, v)
    if (problem) throw new Malformed(`${field}.${key}`, problem)
  }
}

/** Answers as kept by guided mode: only the runbook's questions, each a value its flag would accept. */
function answers(value: unknown, field: string): void {
  if (!isObject(value)) bad(field, 'an object', value)
  const flags = ANSWERABLE.map((k) => `--${OPTIONS.find((o) => o.key === k)!.flag}`).join(', ')
  for (const [key, v] of Object.entries(value as object)) {
    if (!ANSWERABLE.includes(key as keyof Config))
      throw new Malformed(
        `${field}.${key}`,
        `not an answer to one of the runbook's questions (${flags}); a record cannot choose what the run does`,
      )
    const problem = validateOptionValue(key as keyof Config, v)
    if (problem) throw new Malformed(`${field}.${key}`, problem)
  }
}

const record = object(
  {
    format: string,
    context: string,
    createdAt: string,
    updatedAt: string,
    runbookVersion: string,
    clusterUid: string,
    config: settings,
    answers,
    facts,
    steps: (v, f) => {
      if (!isObject(v)) bad(f, 'an object', v)
      for (const [id, step] of Object.entries(v as object)) {
        if (!(STEP_IDS as readonly string[]).includes(id))
          throw new Malformed(`${f}.${id}`, `not a step of this runbook (${STEP_IDS.join(', ')})`)
        stepRecord(step, `${f}.${id}`)
        if ((step as { config?: unknown }).config !== undefined)
          settings((step as { config?: unknown }).config, `${f}.${id}.config`)
      }
    },
    reachability,
  },
  ['format', 'steps'],
)

/**
 * Throws a UsageError naming `where` and the first malformed field; `where` says which copy was read (the
 * Secret in the cluster, or the local file).
 */
export function assertWellFormed(data: unknown, where: string): void {
  try {
    record(data, 'record')
  } catch (error) {
    if (!(error instanceof Malformed)) throw error
    throw new UsageError(
      `${where} is malformed: field ${error.field.replace(/^record\./, '')}: ${error.problem}; it was left untouched — fix or remove that field (or pass --state-file for another local copy)`,
    )
  }
}
