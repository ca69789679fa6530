// The threat model: every path an attacker inside the cluster could take to the manager, MongoDB, the decision
// makers and the gateway, and the callers that must still get through. For each path: how it is tried, which layer
// closes it after which step, or that it stays open, why, and what would close it. The steps' probes, --verify,
// the report's reachability grid and the docs' "what stays open" table all come from this one list, so nothing is
// claimed that no probe tried and nothing tried is left out.
import { type Config, managerPrincipals } from '../config/options.ts'
import { admitsUserAgent, curlDefaultUserAgent, sampleUserAgent, userAgentMatches } from '../config/user-agents.ts'
import { managerService, workloads } from '../domain/gthulhu.ts'
import { AMBIENT_LABEL, principalOf } from '../domain/istio.ts'
import { protectedTargets } from '../domain/network-policies.ts'
import type { Facts, Layer, Observation, ProbeSource, ProbeSpec, StepId } from '../types.ts'
import { impersonationLabels } from './probes.ts'
import { targetProbe } from './targets.ts'

export type TargetId = 'manager' | 'mongodb' | 'decision-maker' | 'gateway'

export const TARGET_TITLES: Record<TargetId, string> = {
  manager: 'manager',
  mongodb: 'MongoDB',
  'decision-maker': 'decision maker',
  gateway: 'ingress gateway',
}

/** A layer that closes a path once a step has applied it, unless the operator left that layer out. */
export interface Closure {
  layer: Layer
  step: StepId
  /** False when the operator turned this layer off (e.g. --no-identity-policies) or configured it open. */
  enabled?: (config: Config) => boolean
  /** Why it is off, for the ledger, when `enabled` says so. */
  disabledBecause?: string
}

/** What a probe needs to know about the live cluster that the record does not hold. */
export interface ProbeEnv {
  config: Config
  facts: Facts
  /** A Running manager pod's IP (the address that skips the waypoint). */
  managerPodIp?: string
  /** An existing ServiceAccount in the namespace that the manager's L7 policy admits. */
  allowedCaller?: { sa: string; principal: string }
}

/** How a path is tried: a probe pod (built per run), a request from this machine through the gateway, or not (yet). */
export type Trial =
  | { by: 'probe'; build: (env: ProbeEnv) => Omit<ProbeSpec, 'path' | 'role'> | { notTried: string } }
  | { by: 'gateway request'; userAgent: (config: Config) => { label: string; value: string } }
  | { by: 'not tried'; why: string }

export interface ThreatPath {
  /** Stable id: names the path in probes, checks, the record, reports and docs. */
  id: string
  /** Who tries it, in the operator's words: "a pod outside the mesh". */
  from: string
  target: TargetId
  /** The address or route used: "the manager Service", "the manager's pod IP". */
  via: string
  /** A control must get through (the hardening must not break Gthulhu); an attack must be refused. */
  kind: 'control' | 'attack'
  /** Layers that close an attack, in the order traffic meets them; any one in effect refuses it. */
  closedBy: Closure[]
  /** Why an attack stays open after every step this runbook has, and what would close it. */
  staysOpen?: { why: string; wouldClose: string }
  trial: Trial
  /** The steps whose verification tries this path (and so --verify, once they are done). */
  triedAt: StepId[]
}

const identityOn: Closure['enabled'] = (config) => config.identityPolicies
const NO_IDENTITY = 'left out with --no-identity-policies'

// ---- who the probes pretend to be ----

function asManager(env: ProbeEnv): ProbeSource {
  const { manager } = workloads(env.config, env.facts)
  return {
    name: `manager (${manager.name}'s labels)`,
    labels: impersonationLabels(manager.podLabels),
    serviceAccount: manager.serviceAccount,
  }
}

/** The guide's deny probe: the manager's labels except the component, outside ambient, so only the CNI can refuse it. */
function outsiderWithManagerLabels(env: ProbeEnv): ProbeSource {
  const { manager } = workloads(env.config, env.facts)
  return {
    name: 'other pod (component=probe)',
    labels: { ...manager.selectorLabels, 'app.kubernetes.io/component': 'probe', [AMBIENT_LABEL]: 'none' },
    serviceAccount: 'default',
  }
}

const outsideMesh: ProbeSource = {
  name: 'pod outside the mesh',
  labels: { 'app.kubernetes.io/component': 'probe', [AMBIENT_LABEL]: 'none' },
  serviceAccount: 'default',
}

const enrolledDefault: ProbeSource = {
  name: 'enrolled pod, ServiceAccount default',
  labels: { 'app.kubernetes.io/component': 'probe' },
  serviceAccount: 'default',
}

function copiedLabels(env: ProbeEnv): ProbeSource {
  const { manager } = workloads(env.config, env.facts)
  return {
    name: "manager's labels, ServiceAccount default",
    labels: impersonationLabels(manager.podLabels),
    serviceAccount: 'default',
  }
}

// ---- what they ask ----

function backend(env: ProbeEnv, key: 'mongodb' | 'scheduler') {
  return targetProbe(protectedTargets(env.config, env.facts).find((t) => t.key === key)!)
}

function managerServiceRequest(env: ProbeEnv) {
  const service = managerService(env.config, env.facts)
  return {
    destination: `manager Service :${service.port}`,
    request: {
      kind: 'http',
      url: `http://${service.name}.${env.config.namespace}.svc:${service.port}/health`,
    } as ProbeSpec['request'],
  }
}

/** Whether the manager's L7 policy admits the namespace's default ServiceAccount (an operator's choice of principals). */
export function principalsAdmitDefault(config: Config, facts: Facts): boolean {
  const principals = managerPrincipals(config, workloads(config, facts).scheduler.serviceAccount)
  // Principals match like other Istio strings (exact, prefix*, *suffix, *).
  return principals.some((p) => userAgentMatches(p, principalOf(config.namespace, 'default')))
}

/** The User-Agents the gateway paths send: a browser the allow-list admits, and curl's own. */
export const sampleAllowedAgent = (config: Config) => sampleUserAgent(config.allowedUserAgents[0])
export const curlAgent = (config: Config) => curlDefaultUserAgent(config.httpProbeImage)

// ---- the paths ----

/** A path to MongoDB or the decision maker, for both targets. */
function toBackends(make: (key: 'mongodb' | 'scheduler', target: TargetId) => ThreatPath): [ThreatPath, ThreatPath] {
  return [make('mongodb', 'mongodb'), make('scheduler', 'decision-maker')]
}

export const THREAT_MODEL: ThreatPath[] = [
  // Controls: Gthulhu's own traffic must still get through every layer.
  ...toBackends((key, target) => ({
    id: `manager-to-${target}`,
    from: 'the manager',
    target,
    via: key === 'mongodb' ? "MongoDB's pod DNS name" : "the decision maker's pod (headless Service)",
    kind: 'control',
    closedBy: [],
    trial: {
      by: 'probe',
      build: (env) => {
        const { destination, request, answer } = backend(env, key)
        return { source: asManager(env), destination, request, expect: answer }
      },
    },
    triedAt: ['l4-policies', 'restart', 'identity-policies'],
  })),
  {
    id: 'allowed-identity-to-manager',
    from: 'an identity the manager policy admits, through the waypoint',
    target: 'manager',
    via: 'the manager Service',
    kind: 'control',
    closedBy: [],
    trial: {
      by: 'probe',
      build: (env) => {
        if (!env.allowedCaller)
          return {
            notTried: `none of the principals the manager policy admits is an existing ServiceAccount in ${env.config.namespace}, so no probe can wear it`,
          }
        return {
          source: {
            name: `ServiceAccount ${env.allowedCaller.sa}`,
            labels: { 'app.kubernetes.io/component': 'probe' },
            serviceAccount: env.allowedCaller.sa,
          },
          ...managerServiceRequest(env),
          expect: { kind: 'status', status: 200 },
        }
      },
    },
    triedAt: ['identity-policies', 'l7-policies'],
  },
  {
    id: 'allowed-browser-to-gateway',
    from: 'client with an allowed User-Agent',
    target: 'gateway',
    via: "the gateway's address",
    kind: 'control',
    closedBy: [],
    trial: {
      by: 'gateway request',
      userAgent: (config) => ({ label: 'an allowed User-Agent', value: sampleAllowedAgent(config) }),
    },
    triedAt: ['identity-policies', 'l7-policies'],
  },

  // Attacks refused by the CNI: the guide's NetworkPolicies admit only the manager's labels.
  ...toBackends((key, target) => ({
    id: `other-pod-to-${target}`,
    from: 'a pod without the manager labels, outside the mesh',
    target,
    via: key === 'mongodb' ? "MongoDB's pod DNS name" : "the decision maker's pod (headless Service)",
    kind: 'attack',
    closedBy: [
      { layer: 'CNI NetworkPolicy', step: 'l4-policies' },
      // Plaintext from outside the mesh carries no identity, so the identity policy refuses it too.
      {
        layer: 'ztunnel identity policy',
        step: 'identity-policies',
        enabled: identityOn,
        disabledBecause: NO_IDENTITY,
      },
    ],
    trial: {
      by: 'probe',
      build: (env) => {
        const { destination, request } = backend(env, key)
        return { source: outsiderWithManagerLabels(env), destination, request, expect: { kind: 'blocked' } }
      },
    },
    triedAt: ['l4-policies', 'restart'],
  })),

  // Attacks around the waypoint and the labels: only ztunnel's identity policies refuse them.
  {
    id: 'outside-mesh-to-manager',
    from: 'a pod outside the mesh',
    target: 'manager',
    via: 'the manager Service',
    kind: 'attack',
    closedBy: [
      {
        layer: 'ztunnel identity policy',
        step: 'identity-policies',
        enabled: identityOn,
        disabledBecause: NO_IDENTITY,
      },
    ],
    trial: {
      by: 'probe',
      build: (env) => ({ source: outsideMesh, ...managerServiceRequest(env), expect: { kind: 'blocked' } }),
    },
    triedAt: ['identity-policies', 'l7-policies'],
  },
  {
    id: 'pod-ip-to-manager',
    from: 'an enrolled pod with another identity',
    target: 'manager',
    via: "the manager's pod IP (skips the waypoint)",
    kind: 'attack',
    closedBy: [
      {
        layer: 'ztunnel identity policy',
        step: 'identity-policies',
        enabled: identityOn,
        disabledBecause: NO_IDENTITY,
      },
    ],
    trial: {
      by: 'probe',
      build: (env) => {
        if (!env.managerPodIp) return { notTried: 'no Running manager pod, so there is no pod IP to try' }
        const { port } = managerService(env.config, env.facts)
        return {
          source: enrolledDefault,
          destination: `manager pod IP :${port}`,
          request: { kind: 'http', url: `http://${env.managerPodIp}:${port}/health` },
          expect: { kind: 'blocked' },
        }
      },
    },
    triedAt: ['identity-policies', 'l7-policies'],
  },
  ...toBackends((key, target) => ({
    id: `copied-labels-to-${target}`,
    from: "a pod wearing the manager's labels with another identity",
    target,
    via: key === 'mongodb' ? "MongoDB's pod DNS name" : "the decision maker's pod (headless Service)",
    kind: 'attack',
    // The CNI admits it (the labels match); only the identity tells it apart.
    closedBy: [
      {
        layer: 'ztunnel identity policy',
        step: 'identity-policies',
        enabled: identityOn,
        disabledBecause: NO_IDENTITY,
      },
    ],
    trial: {
      by: 'probe',
      build: (env) => {
        const { destination, request } = backend(env, key)
        return { source: copiedLabels(env), destination, request, expect: { kind: 'blocked' } }
      },
    },
    triedAt: ['identity-policies'],
  })),

  // Attacks the guide's L7 policies refuse.
  {
    id: 'other-identity-to-manager-service',
    from: 'an enrolled pod with another identity, through the waypoint',
    target: 'manager',
    via: 'the manager Service',
    kind: 'attack',
    closedBy: [
      {
        layer: 'waypoint L7',
        step: 'l7-policies',
        enabled: (config) => !principalsAdmitDefault(config, {}),
        disabledBecause: "the manager policy's principals admit the namespace's default ServiceAccount",
      },
    ],
    trial: {
      by: 'probe',
      build: (env) => ({
        source: { name: 'ServiceAccount default', labels: {}, serviceAccount: 'default' },
        ...managerServiceRequest(env),
        expect: { kind: 'status', status: principalsAdmitDefault(env.config, env.facts) ? 200 : 403 },
      }),
    },
    triedAt: ['l7-policies'],
  },
  {
    id: 'curl-user-agent-to-gateway',
    from: "client with curl's default User-Agent",
    target: 'gateway',
    via: "the gateway's address",
    kind: 'attack',
    closedBy: [
      {
        layer: 'gateway L7',
        step: 'l7-policies',
        enabled: (config) => !admitsUserAgent(config.allowedUserAgents, curlAgent(config)),
        disabledBecause: "an allowed User-Agent pattern also admits curl's",
      },
    ],
    // A User-Agent is chosen by the client: this filters casual access, it authenticates nobody.
    staysOpen: {
      why: 'a client that sends an allowed browser User-Agent passes the gateway: the header is chosen by the client',
      wouldClose: 'authentication at the gateway (e.g. an OIDC RequestAuthentication) instead of a User-Agent filter',
    },
    trial: {
      by: 'gateway request',
      userAgent: (config) => ({ label: "curl's default User-Agent", value: curlAgent(config) }),
    },
    triedAt: ['l7-policies'],
  },

  // What no step of this runbook closes yet: said plainly, with what would close it.
  ...toBackends((key, target) => ({
    id: `borrowed-identity-to-${target}`,
    from: "a pod that names the manager's ServiceAccount",
    target,
    via: key === 'mongodb' ? "MongoDB's pod DNS name" : "the decision maker's pod (headless Service)",
    kind: 'attack',
    closedBy: [],
    staysOpen: {
      why: "istiod issues a certificate for whatever ServiceAccount a pod's spec names, so anyone who may create pods (or Deployments, Jobs, CronJobs) in the namespace can run as the manager",
      wouldClose:
        'admission control over who may name the protected ServiceAccounts (a ValidatingAdmissionPolicy), or RBAC that lets no one else create pods there',
    },
    trial: { by: 'not tried', why: "the manager's own stand-in probe is such a pod, and it gets through" },
    triedAt: [],
  })),
  {
    id: 'deputy-service-to-manager',
    from: "another Service selecting the manager's pods, bound to the waypoint",
    target: 'manager',
    via: "the waypoint, with the waypoint's identity",
    kind: 'attack',
    closedBy: [],
    staysOpen: {
      why: "the namespace-wide waypoint binding puts every Service on the waypoint; a Service without the manager policy is forwarded with the waypoint's identity, which the manager's identity policy admits",
      wouldClose:
        'binding only the manager Service to the waypoint and a policy attached to the waypoint itself that refuses other identities',
    },
    trial: { by: 'not tried', why: 'no probe creates a second Service yet' },
    triedAt: [],
  },
  {
    id: 'impostor-decision-maker',
    from: 'the manager, to a pod labelled app=decisionmaker in another namespace',
    target: 'decision-maker',
    via: "the manager's own requests (it lists decision makers in every namespace)",
    kind: 'attack',
    closedBy: [],
    staysOpen: {
      why: 'the manager sends intents and token requests to every pod labelled app=decisionmaker in any namespace',
      wouldClose: "a NetworkPolicy limiting the manager's egress to its own namespace's decision makers and MongoDB",
    },
    trial: { by: 'not tried', why: 'no listener impostor is started yet' },
    triedAt: [],
  },
  {
    id: 'host-network-same-node',
    from: 'a hostNetwork pod (or a node process) on the same node',
    target: 'manager',
    via: "the pod's IP from its own node",
    kind: 'attack',
    closedBy: [],
    staysOpen: {
      why: "istio-cni's in-pod rule accepts the node's probe source (169.254.7.127) on every port before the redirect to ztunnel, and Calico does not police host-to-local-pod traffic: neither ztunnel nor the CNI sees it",
      wouldClose:
        'keeping hostNetwork pods off these nodes (Pod Security Admission baseline in every other namespace, or admission that refuses hostNetwork outside listed namespaces)',
    },
    trial: {
      by: 'not tried',
      why: 'cannot be closed from the namespace; the audit lists the hostNetwork pods on these nodes',
    },
    triedAt: [],
  },
]

// ---- reading the model ----

export const pathById = (id: string) => THREAT_MODEL.find((p) => p.id === id)

/** The closures of a path that are in effect: their step applied (or being verified) and their layer turned on. */
export function closuresInEffect(path: ThreatPath, config: Config, inEffect: (step: StepId) => boolean): Closure[] {
  return path.closedBy.filter((c) => inEffect(c.step) && (c.enabled?.(config) ?? true))
}

export type Expected =
  | { verdict: 'answered' }
  | { verdict: 'refused'; by: Closure[] }
  /** No closure in effect: open until `until` runs (or for good, with the reason). */
  | { verdict: 'open'; until?: Closure; because: string }

/** What this path should show now, given which steps are in effect. */
export function expectedNow(path: ThreatPath, config: Config, inEffect: (step: StepId) => boolean): Expected {
  if (path.kind === 'control') return { verdict: 'answered' }
  const active = closuresInEffect(path, config, inEffect)
  if (active.length) return { verdict: 'refused', by: active }
  const pending = path.closedBy.find((c) => c.enabled?.(config) ?? true)
  if (pending) return { verdict: 'open', until: pending, because: `${pending.step} has not been applied` }
  const disabled = path.closedBy.find((c) => c.disabledBecause)
  if (disabled) return { verdict: 'open', because: disabled.disabledBecause! }
  return { verdict: 'open', because: path.staysOpen?.why ?? 'no layer of this runbook closes it' }
}

/** The probe that tries a path (its id as the probe's role), or why it cannot be tried now. */
export function probeFor(path: ThreatPath, env: ProbeEnv): ProbeSpec | { notTried: string } | undefined {
  if (path.trial.by !== 'probe') return undefined
  const built = path.trial.build(env)
  return 'notTried' in built ? built : { ...built, path: path.id, role: path.id }
}

/**
 * Which layer refused a path, read from how the refusal looked: a CNI drops packets (the client times out),
 * ztunnel accepts and then closes or resets (an empty reply), an L7 proxy answers 403. Only layers that can close
 * this path are named; anything else is credited to the path's first closure.
 */
export function refusingLayer(path: ThreatPath, observed: Observation): Layer | undefined {
  const layers = path.closedBy.map((c) => c.layer)
  const can = (layer: Layer) => (layers.includes(layer) ? layer : undefined)
  if (observed.kind === 'status' && (observed.status === 403 || observed.status === 401))
    return can('waypoint L7') ?? can('gateway L7') ?? layers[0]
  if (observed.kind === 'blocked') {
    if (/timed? ?out|\(28\)/i.test(observed.detail)) return can('CNI NetworkPolicy') ?? layers[0]
    return can('ztunnel identity policy') ?? layers[0]
  }
  return layers[0]
}

/** The paths a step's verification tries. */
export const pathsTriedAt = (step: StepId) => THREAT_MODEL.filter((p) => p.triedAt.includes(step))

export interface LedgerRow {
  path: ThreatPath
  status: 'closed' | 'open'
  /** The layers that close it (after which step), when closed. */
  closedBy: Closure[]
  /** Why it is open and what would close it, when open. */
  why?: string
  wouldClose?: string
  /** How it is known: tried by a probe or a request, or not tried (and why). */
  tried: string
}

/**
 * The ledger of attack paths for a hardening with these settings once the given steps are in effect: what is
 * closed and by which layer, and what stays open, why, and what would close it. With `inEffect` true for every step,
 * it is the ledger of a complete run.
 */
export function ledger(config: Config, inEffect: (step: StepId) => boolean = () => true): LedgerRow[] {
  return THREAT_MODEL.filter((p) => p.kind === 'attack').map((path) => {
    const expected = expectedNow(path, config, inEffect)
    const tried =
      path.trial.by === 'not tried'
        ? `not tried: ${path.trial.why}`
        : path.trial.by === 'probe'
          ? `probe pod at ${path.triedAt.join(', ')}`
          : `request from the runbook's machine at ${path.triedAt.join(', ')}`
    if (expected.verdict === 'refused')
      return { path, status: 'closed', closedBy: expected.by, tried, ...partlyOpen(path) }
    const because = expected.verdict === 'open' ? expected.because : ''
    return {
      path,
      status: 'open',
      closedBy: [],
      why: path.staysOpen && !path.closedBy.length ? path.staysOpen.why : because,
      wouldClose:
        path.staysOpen?.wouldClose ??
        (expected.verdict === 'open' && expected.until
          ? `the ${expected.until.step} step (${expected.until.layer})`
          : path.closedBy.map((c) => `${c.step} (${c.layer})`).join(' or ')),
      tried,
    }
  })
}

/** A closed path that is closed only for some clients (the User-Agent filter) keeps its caveat in the ledger. */
const partlyOpen = (path: ThreatPath) =>
  path.staysOpen && path.closedBy.length ? { why: path.staysOpen.why, wouldClose: path.staysOpen.wouldClose } : {}
