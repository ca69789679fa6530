// The shapes every step and the engine share: a step is data (id, title, why) plus four verbs.
import type { Cluster } from './kube/cluster.ts'
import type { Config } from './config/options.ts'
import type { StepId } from './config/step-ids.ts'
import type { KubeObject, LabelRef, ObjectRef } from './kube/object.ts'
import type { ApiAccess } from './kube/access.ts'

export { STEP_IDS, type StepId } from './config/step-ids.ts'
export type { KubeObject, LabelRef, ObjectRef } from './kube/object.ts'
export type { ApiAccess } from './kube/access.ts'

/** One thing a step will do, computed without touching the cluster. */
export type PlanItem =
  | { kind: 'command'; argv: string[]; why?: string }
  | { kind: 'manifest'; object: KubeObject; apply: 'server-side' | 'client-side'; why?: string }
  | { kind: 'download'; url: string; checksumUrl?: string; destination: string; why?: string }
  | { kind: 'note'; text: string }

/** A verification result: what was looked at, what the runbook expected, what the cluster showed. */
export interface Check {
  name: string
  expected: string
  observed: string
  ok: boolean
  /** A failed advisory check warns instead of failing the step. */
  advisory?: boolean
  /** What to do about a failure, shown under it. */
  hint?: string
  /** The step whose work this check looks at: when that step was skipped (or is not done), a failure reads "skipped: needs <step>". */
  needs?: StepId
  /** Set when the check could not be evaluated (a step it needs was skipped): the reason; it counts as neither pass nor failure. */
  skipped?: string
  /** The threat model's path this check tried (lib/verify/threat-model.ts), for the reachability picture. */
  path?: string
  /** When an object differs from the plan: the differences as diff lines (`- ` the cluster's value, `+ ` the plan's). */
  diff?: string[]
  /** The protections a failure of this check takes out of force (a layer, for one target): the paths they reopen follow. */
  voids?: Voided[]
}

/** What the runbook protects, as the threat model names it. */
export type TargetId = 'manager' | 'mongodb' | 'decision-maker' | 'gateway'

/** One layer that no longer refuses what it should for one target, and what says so. */
export interface Voided {
  layer: Layer
  target: TargetId
}

/** Facts learnt on the way and kept in state for later steps (and for a resumed run). */
export interface WorkloadFacts {
  kind: 'Deployment' | 'DaemonSet' | 'StatefulSet'
  name: string
  serviceAccount: string
  /** The chart's app.kubernetes.io/* pod labels: what NetworkPolicies select on. */
  selectorLabels: Record<string, string>
  /** Every label of the pod template (probe pods copy these to impersonate the workload). */
  podLabels: Record<string, string>
  service?: { name: string; port: number; headless: boolean }
  /** The image of the container serving the workload's port (MongoDB probes run mongosh from it). */
  image?: string
  /** The name of the container serving the workload's port (for `kubectl logs -c`). */
  container?: string
  /** Every container's image, by container name (for the report's versions). */
  images?: Record<string, string>
  /** The port speaks TLS (Gthulhu with mtls.enabled): plain-HTTP probes cannot read an answer there. */
  servesTls?: boolean
  /** The first container port of its pods: where the manager calls a decision maker (Gthulhu/api firstContainerPort). */
  firstPort?: number
}

export interface Facts {
  kubectlVersion?: string
  serverVersion?: string
  cni?: { found: string[]; enforcesNetworkPolicy: boolean }
  workloads?: { manager: WorkloadFacts; scheduler: WorkloadFacts; mongodb: WorkloadFacts }
  /** The istioctl the istioctl step installed or adopted, and the SHA-256 it must still have each time it runs. */
  istioctlPath?: string
  istioctlSha256?: string
  /** The istioctl step found that binary already there (byte for byte the release's) and adopted it: undo leaves it. */
  istioctlAdopted?: boolean
  /** The Istio the ambient step verified (istiod's image tag). */
  istio?: { version?: string }
  /** How the manager is reached from outside: through the load balancer's address when it has one, else a node's NodePort. */
  /** The identity policies were verified in place: the l7 step then treats an open bypass as a failure, not a warning. */
  identityPolicies?: boolean
  /** The mesh's meshConfig.trustDomain (istio-system/istio ConfigMap): every principal is written in it. */
  trustDomain?: string
  /** The API server's endpoints (the `kubernetes` Service's), which the manager's egress policy must admit. */
  apiServer?: { addresses: string[]; ports: number[] }
  /** The identity the runbook ran as when it applied the admission policy: exempt for its own probe pods and Services. */
  admission?: { runbookUser: string }
  gateway?: {
    service: string
    nodePort?: number
    nodeAddress?: string
    url: string
    addressAssigned: boolean
    via: 'load balancer' | 'NodePort'
  }
  [key: string]: unknown
}

/** How a step talks to the operator while it runs; the engine routes it to listr2 or JSON events. */
export interface StepIO {
  log(message: string): void
  warn(message: string): void
  /** Registers cleanup that must run even when the step fails or is interrupted (probe pods, temp files). */
  onCleanup(cleanup: () => Promise<void>): void
  /** Asks a yes/no question that only arises mid-step; automation never asks and gets false. */
  confirm(message: string): Promise<boolean>
}

export interface StepContext {
  config: Config
  facts: Facts
  cluster: Cluster
  /** Aborted on Ctrl-C: long waits and spawned commands stop. */
  signal: AbortSignal
  /**
   * How long a verify waits for the cluster to reach the state it checks (CRDs served, a Gateway programmed, a
   * policy accepted, a rollout done): --timeout after a run, whose own change the cluster is still acting on; 0 in
   * an audit, which changed nothing — it reports what it reads instead of waiting for a state nothing will bring.
   */
  settleMs: number
  /** What the cluster held before this step first changed it (state); undo puts exactly that back. */
  before?: BeforeRecord
  /** False under --no-probes: no probe pods are created and probe checks come back as skipped advisories. */
  probes?: boolean
  /** Receives every probe result of a verify, for the reachability picture of --report. */
  onProbeResults?: (results: ProbeResult[]) => void
  /** Whether a step's protection is in effect (done in the record); the threat model's expectations follow from it. */
  inEffect?: (step: StepId) => boolean
  /** Shared by the steps of one audit: the same probe (source, request, expectation) runs once. */
  probeMemo?: Map<string, Promise<ProbeResult>>
  /** Shared by the steps of one audit: the same read of the cluster (a list of policies, of pods) runs once. */
  reads?: Map<string, Promise<unknown>>
}

/** What planning a step needs: its settings and what earlier steps found, not the cluster. */
export type PlanContext = Omit<StepContext, 'cluster' | 'signal' | 'settleMs'>

/** Recorded once per step, before its first change, and cleared when the step is undone. */
export interface BeforeRecord {
  /**
   * Per object ("resource/namespace/name"): did it exist, was it the runbook's (field manager or managed-by label),
   * and the whole object as it was (without server-filled fields), so undo can put back exactly that.
   */
  objects?: Record<string, { existed: boolean; managed: boolean; object?: KubeObject }>
  /** Per object, each label's previous value (null: it was not set). */
  labels?: Record<string, Record<string, string | null>>
  /** Other facts a step's undo needs (an Istio or a Gateway API bundle that was already there). */
  found?: Record<string, unknown>
}

/** What a step changes, as data: the engine records it before the step runs and undo puts it back. */
export interface UndoSpec {
  /** Objects the step creates: deleted on undo unless they existed before and were not the runbook's. */
  objects?(ctx: PlanContext): ObjectRef[]
  /** Labels the step sets: put back to their previous value on undo. */
  labels?(ctx: PlanContext): LabelRef[]
  /** Reads other facts to record before the first change (kept in before.found). */
  found?(ctx: StepContext): Promise<Record<string, unknown>>
  /** Something else still uses what undo would remove: the reason, naming it; undo then stops before any change. */
  blockedBy?(ctx: StepContext): Promise<string | undefined>
  /** What undo does beyond deleting objects and restoring labels, for --dry-run. */
  describe?(ctx: PlanContext): string[]
}

/** The API requests of a step: applying it (what `run` and the undo record do) and verifying it. */
export interface StepAccess {
  run: ApiAccess[]
  verify: ApiAccess[]
}

export interface RunOutcome {
  /** Set when the step found nothing to change; the engine still verifies. */
  unchanged?: string
}

export interface Step {
  id: StepId
  title: string
  /** Why the step matters, shown before the operator confirms. */
  why: string
  /** Steps whose facts this step needs (done in state, or selected to run before it). */
  requires?: StepId[]
  /**
   * The API requests it makes, and those of the tools it runs (declared data: --print-rbac grants exactly these).
   * From the settings alone: the permissions are printed before the runbook may read the cluster.
   */
  access(config: Config): StepAccess
  /**
   * The settings that shape what this step does (its plan, run or verify reads them): a done step that a run leaves
   * out is reported when one of these is given with another value; a change to any other setting is not its concern.
   */
  settings: (keyof Config)[]
  plan(ctx: PlanContext): PlanItem[]
  run(ctx: StepContext, io: StepIO): Promise<RunOutcome | void>
  verify(ctx: StepContext, io: StepIO): Promise<Check[]>
  /** What undo removes and restores; recorded before run() changes anything. */
  undo?: UndoSpec
  /** Undo beyond the generic part (objects deleted, labels restored first); ctx.before says what was there. */
  rollback?(ctx: StepContext, io: StepIO): Promise<void>
  /** Checks after an undo beyond "objects gone, labels back" (workloads Ready, reachability). */
  verifyRollback?(ctx: StepContext, io: StepIO): Promise<Check[]>
}

// ---- probes: the data a verification produces, shared by the engine, the record and the reports ----

/**
 * The layers that can refuse (or admit) a path to Gthulhu's workloads, from the network up. The CNI enforces
 * NetworkPolicies twice: on what enters a protected pod, and on what leaves the manager.
 */
export const LAYERS = [
  'CNI NetworkPolicy',
  'CNI egress policy',
  'ztunnel identity policy',
  'admission',
  'waypoint L7',
  'gateway L7',
] as const
export type Layer = (typeof LAYERS)[number]

/** Who a probe pretends to be. */
export interface ProbeSource {
  /** Short name for the matrix, e.g. "manager" or "other pod". */
  name: string
  labels: Record<string, string>
  serviceAccount: string
}

export type ProbeExpectation = { kind: 'answered' } | { kind: 'blocked' } | { kind: 'status'; status: number }

export interface ProbeSpec {
  /** DNS-safe words for the pod name, e.g. "manager-mongodb". */
  role: string
  /** The threat model's path this probe tries (lib/verify/threat-model.ts). */
  path?: string
  source: ProbeSource
  /** Short name of the destination for the matrix, e.g. "MongoDB :27017". */
  destination: string
  /**
   * Every probe exchanges data: ztunnel accepts a connection before it authorizes it, so a bare connect proves
   * nothing. A `listen` probe is the other end: it waits for what the manager sends it (an impostor decision maker).
   */
  request:
    | { kind: 'mongo'; host: string; port: number }
    | { kind: 'http'; url: string; userAgent?: string }
    | { kind: 'listen'; port: number; seconds: number }
  expect: ProbeExpectation
  /** The namespace the probe pod runs in (default: Gthulhu's). */
  namespace?: string
  /** Objects the probe needs besides its pod (a namespace, a Service), created before it and deleted with it. */
  fixtures?: KubeObject[]
  /** Runs in the node's network namespace, on a node that hosts (or does not host) these nodes' pods. */
  host?: { network: true; nodes: { in: string[] } | { notIn: string[] } }
  /** The layer that decides this path, for the report (default: by step, see lib/verify/reachability.ts). */
  layer?: Layer
}

/** What a probe saw: an answer (MongoDB's hello, an HTTP status), blocked by the network or a policy, nothing listening, no such name. */
export type Observation =
  | { kind: 'answered' }
  | { kind: 'blocked'; detail: string }
  | { kind: 'refused'; detail: string }
  | { kind: 'unresolved'; detail: string }
  | { kind: 'status'; status: number }
  | { kind: 'error'; detail: string }
  | { kind: 'skipped'; detail: string }

export interface ProbeResult {
  spec: ProbeSpec
  pod: string
  exitCode: number | undefined
  log: string
  observed: Observation
  ok: boolean
}
