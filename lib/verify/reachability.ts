// The reachability picture: who reaches what, on which port, allowed or refused, and which layer enforces
// it. Built from the probe results the steps' verify functions produce and from the gateway's NodePort
// checks; the latest picture is kept in state, so the next report can show "before" next to "after".
import { describeExpectation, describeObservation, type ProbeResult } from './probes.ts'
import { pathById, refusingLayer, TARGET_TITLES } from './threat-model.ts'
import type { Check, Layer, StepId } from '../types.ts'

export interface Edge {
  /** The threat model's path this edge shows, when known. */
  path?: string
  from: string
  to: string
  port: string
  verdict: 'allowed' | 'refused' | 'not probed' | 'inconclusive'
  /** The layer that admits (allowed) or refuses (refused) this path. */
  layer: Layer
  expected: string
  observed: string
  /** Whether the observation met the expectation. */
  ok: boolean
  step: StepId
  at: string
}

export interface Reachability {
  at: string
  edges: Edge[]
}

/** Which layer decides the paths a step's probes test. */
const STEP_LAYER: Partial<Record<StepId, Layer>> = {
  'l4-policies': 'CNI NetworkPolicy',
  restart: 'CNI NetworkPolicy',
  waypoint: 'CNI NetworkPolicy',
  'identity-policies': 'ztunnel identity policy',
  'admission-policy': 'ztunnel identity policy',
  'l7-policies': 'waypoint L7',
}

export function layerOf(step: StepId, declared?: Layer): Layer {
  if (declared) return declared
  return STEP_LAYER[step] ?? 'CNI NetworkPolicy'
}

function verdictOf(result: ProbeResult): Edge['verdict'] {
  const o = result.observed
  if (o.kind === 'skipped') return 'not probed'
  if (o.kind === 'blocked' || (o.kind === 'status' && (o.status === 403 || o.status === 401))) return 'refused'
  // Any other answer came from the far side (a TLS-only decision maker answers plain HTTP with 400).
  if (o.kind === 'answered' || o.kind === 'status') return 'allowed'
  return 'inconclusive'
}

/** "MongoDB :27017" → node "MongoDB", port "27017". */
export function splitDestination(destination: string): { node: string; port: string } {
  const match = /^(.*?)\s*:(\d+)(?: \(.*\))?$/.exec(destination)
  return match ? { node: match[1], port: match[2] } : { node: destination, port: '' }
}

export function edgeFromProbe(step: StepId, result: ProbeResult, at = new Date().toISOString()): Edge {
  const { node, port } = splitDestination(result.spec.destination)
  // A listener is the far end: the edge runs from the manager, which calls it, to the listener.
  const listening = result.spec.request.kind === 'listen'
  const path = result.spec.path ? pathById(result.spec.path) : undefined
  const verdict = verdictOf(result)
  // A refusal is credited to the layer whose way of refusing it showed (a CNI timeout, ztunnel's reset, a 403).
  const refusedBy = path && verdict === 'refused' ? refusingLayer(path, result.observed) : undefined
  return {
    path: path?.id,
    from: listening ? 'manager' : result.spec.source.name,
    to: listening ? result.spec.source.name : node,
    port,
    verdict,
    layer: refusedBy ?? layerOf(step, result.spec.layer),
    expected: describeExpectation(result.spec.expect),
    observed: describeObservation(result.observed),
    ok: result.ok,
    step,
    at,
  }
}

// Requests from this machine through the gateway's address (a path the threat model tries "by gateway request"):
// the URL is the first one in the check's name, whatever the run's language.
const GATEWAY_CHECK = /(https?:\/\/[^\s,，：（）()]+)/

/** What an attempt at admission showed (lib/verify/paths.ts admissionPath): admitted, denied by a policy, or not made. */
function admissionVerdict(observed: string): Edge['verdict'] {
  if (observed.startsWith('admitted')) return 'allowed'
  if (/^ValidatingAdmissionPolicy '[^']+' with binding '[^']+' denied request/.test(observed)) return 'refused'
  return 'inconclusive'
}

/**
 * Paths proven by checks rather than probe pods: a client → the gateway, admitted or refused by the gateway's
 * policy; an insider's object sent through admission (server dry run), admitted or refused there.
 */
export function edgesFromChecks(step: StepId, checks: Check[], at = new Date().toISOString()): Edge[] {
  return checks.flatMap((check): Edge[] => {
    const path = check.path ? pathById(check.path) : undefined
    if (path?.trial.by === 'admission attempt')
      return [
        {
          path: path.id,
          from: path.from,
          to: TARGET_TITLES[path.target],
          port: '',
          verdict: admissionVerdict(check.observed),
          layer: 'admission',
          expected: check.expected,
          observed: check.observed,
          ok: check.ok,
          step,
          at,
        },
      ]
    const match = GATEWAY_CHECK.exec(check.name)
    if (!path || path.trial.by !== 'gateway request' || !match) return []
    const status = Number(/HTTP (\d+)/.exec(check.observed)?.[1] ?? NaN)
    const url = new URL(match[1])
    return [
      {
        path: path.id,
        from: path.from,
        to: 'ingress gateway',
        port: url.port,
        verdict: status === 200 ? 'allowed' : status === 403 ? 'refused' : 'inconclusive',
        layer: 'gateway L7',
        expected: check.expected,
        observed: check.observed,
        ok: check.ok,
        step,
        at,
      },
    ]
  })
}

const edgeKey = (e: Pick<Edge, 'from' | 'to' | 'port'>) => `${e.from}→${e.to}:${e.port}`

/** Later observations of the same path replace earlier ones. */
export function mergeEdges(...lists: Edge[][]): Edge[] {
  const byKey = new Map<string, Edge>()
  for (const edge of lists.flat()) byKey.set(edgeKey(edge), edge)
  return [...byKey.values()]
}

/** When each step last began to change the cluster (applied or undone), and how that ended, as the record said. */
export type ChangedAt = Partial<Record<StepId, { at: string; status: string }>>

/** The record's steps as ChangedAt. */
export const changedAtOf = (steps: Partial<Record<StepId, { startedAt?: string; status?: string }>>): ChangedAt =>
  Object.fromEntries(
    Object.entries(steps).flatMap(([id, record]) =>
      record?.startedAt ? [[id, { at: record.startedAt, status: record.status ?? 'pending' }]] : [],
    ),
  )

/** Collects this invocation's paths; `before` is the picture the record kept from the previous run. */
export class ReachabilityCollector {
  readonly before: Edge[]
  /** When each step last changed the cluster, as the record said before this invocation (what `before` is judged by). */
  readonly changedBefore: ChangedAt
  readonly current: Edge[] = []

  constructor(
    private readonly state: {
      reachability?: Reachability
      steps?: Partial<Record<StepId, { startedAt?: string; status?: string }>>
    },
  ) {
    this.before = state.reachability?.edges ?? []
    this.changedBefore = changedAtOf(state.steps ?? {})
  }

  add = (step: StepId, results: ProbeResult[]): void => {
    this.current.push(...results.filter((r) => r.observed.kind !== 'skipped').map((r) => edgeFromProbe(step, r)))
  }

  addChecks(step: StepId, checks: Check[]): void {
    this.current.push(...edgesFromChecks(step, checks))
  }

  /** The picture after this invocation: what it observed over what was known before (an uninstall starts afresh). */
  after(replace = false): Edge[] {
    return replace ? mergeEdges(this.current) : mergeEdges(this.before, this.current)
  }

  /** Keeps the picture in state for the next report. */
  keep(replace = false): void {
    if (this.current.length === 0 && !replace) return
    this.state.reachability = { at: new Date().toISOString(), edges: this.after(replace) }
  }
}
