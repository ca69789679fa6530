// The threat model: every path an attacker inside the cluster could take to the manager, MongoDB, the decision
// makers and the gateway, and the callers that must still get through. For each path: how it is tried, which layer
// closes it after which step, or that it stays open, why, and what would close it. The steps' probes, --verify,
// the report's reachability grid and the docs' "what stays open" table all come from this one list, so nothing is
// claimed that no probe tried and nothing tried is left out.
import { type Config, managerPrincipals } from '../config/options.ts'
import { admitsUserAgent, curlDefaultUserAgent, sampleUserAgent, userAgentMatches } from '../config/user-agents.ts'
import { managerService, workloads } from '../domain/gthulhu.ts'
import { insiderOtherNamespace } from '../domain/admission.ts'
import { AMBIENT_LABEL, DEFAULT_TRUST_DOMAIN, principalOf, trustDomainOf, USE_WAYPOINT_LABEL } from '../domain/istio.ts'
import { protectedTargets } from '../domain/network-policies.ts'
import type {
  Facts,
  KubeObject,
  Layer,
  Observation,
  ProbeExpectation,
  ProbeSource,
  ProbeSpec,
  StepId,
  TargetId,
} from '../types.ts'
import { attackerCronJob, attackerDeployment, attackerPod, attackerService } from './admission-attempts.ts'
import { impersonationLabels, randomSuffix } from './probes.ts'
import { targetProbe } from './targets.ts'

export type { TargetId } from '../types.ts'

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
  /** The nodes a Running manager pod runs on, and every node that takes pods. */
  managerNodes?: string[]
  nodes?: string[]
}

/** Why a path was not tried; `inapplicable`: the path does not exist on this cluster (e.g. one node), so it is no gap. */
export type NotTried = { notTried: string; inapplicable?: boolean }

/**
 * How a path is tried: a probe pod (built per run), a request from this machine through the gateway, an attempt to
 * create an object as a user who is not the runbook's (`kubectl create --dry-run=server --as`: admission runs,
 * nothing is created), or not (yet).
 */
export type Trial =
  | { by: 'probe'; build: (env: ProbeEnv) => Omit<ProbeSpec, 'path' | 'role'> | NotTried }
  | { by: 'gateway request'; userAgent: (config: Config) => { label: string; value: string } }
  | { by: 'admission attempt'; build: (env: ProbeEnv) => KubeObject }
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
const egressOn: Closure['enabled'] = (config) => config.managerEgressPolicy
const NO_EGRESS = 'left out with --no-manager-egress-policy'
/** How long the impostor listens: the manager resyncs decision makers every 30 s (Gthulhu/api v1.3.0 manager/app/rest_app.go). */
export const IMPOSTOR_LISTEN_SECONDS = 45
/** The impostor's own ServiceAccount in its namespace. */
const IMPOSTOR_SERVICE_ACCOUNT = 'gthulhu-probe'
const ADMISSION: Closure = {
  layer: 'admission',
  step: 'admission-policy',
  enabled: (config) => config.admissionPolicy,
  disabledBecause: 'left out with --no-admission-policy',
}

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
  const domain = trustDomainOf(facts)
  const principals = managerPrincipals(config, workloads(config, facts).scheduler.serviceAccount, domain)
  // Principals match like other Istio strings (exact, prefix*, *suffix, *); the waypoint reads cluster.local as the
  // mesh's own trust domain (istio/istio 1.29.1 pilot/pkg/security/trustdomain/bundle.go ReplaceTrustDomainAliases).
  const identities = [
    principalOf(domain, config.namespace, 'default'),
    principalOf(DEFAULT_TRUST_DOMAIN, config.namespace, 'default'),
  ]
  return principals.some((p) => identities.some((id) => userAgentMatches(p, id)))
}

/** A Service someone else creates in Gthulhu's namespace that selects the manager's pods, optionally bound to the waypoint. */
function otherServiceToManager(env: ProbeEnv, boundToWaypoint: boolean): { service: KubeObject; url: string } {
  const { manager } = workloads(env.config, env.facts)
  const { port } = managerService(env.config, env.facts)
  const name = `gthulhu-probe-${boundToWaypoint ? 'deputy' : 'unbound'}-${randomSuffix()}`
  const service: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: env.config.namespace,
      labels: boundToWaypoint ? { [USE_WAYPOINT_LABEL]: env.config.waypointName } : {},
    },
    spec: {
      type: 'ClusterIP',
      selector: { ...manager.selectorLabels },
      ports: [{ name: 'http', port, targetPort: port, protocol: 'TCP' }],
    },
  }
  return { service, url: `http://${name}.${env.config.namespace}.svc:${port}/health` }
}

/** A hostNetwork probe pod calling the manager's pod IP from the manager's node or from another one. */
function hostNetworkToManager(env: ProbeEnv, sameNode: boolean): Omit<ProbeSpec, 'path' | 'role'> | NotTried {
  const managerNodes = env.managerNodes ?? []
  if (!env.managerPodIp || !managerNodes.length)
    return { notTried: 'no Running manager pod, so there is no pod IP or node to try' }
  const others = (env.nodes ?? []).filter((n) => !managerNodes.includes(n))
  if (!sameNode && others.length === 0)
    return {
      notTried: `every node that takes pods runs a manager pod (${managerNodes.join(', ')})`,
      inapplicable: true,
    }
  const { port } = managerService(env.config, env.facts)
  return {
    source: {
      name: `hostNetwork pod, ${sameNode ? "the manager's node" : 'another node'}`,
      labels: { 'app.kubernetes.io/component': 'probe' },
      serviceAccount: 'default',
    },
    host: { network: true, nodes: sameNode ? { in: managerNodes.slice(0, 1) } : { notIn: managerNodes } },
    destination: `manager pod IP :${port}`,
    request: { kind: 'http', url: `http://${env.managerPodIp}:${port}/health` },
    expect: { kind: 'blocked' },
  }
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
    // Tried again after admission-policy: the runbook's own impostors must still be created (its exemption).
    triedAt: ['identity-policies', 'admission-policy'],
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
  // Borrowed identities and copied labels: closed at admission, before any pod runs.
  ...borrowedIdentityPaths(),
  // Services someone else makes for the manager's pods: the waypoint must not lend them its identity.
  {
    id: 'deputy-service-to-manager',
    from: "an enrolled pod with another identity, through a Service someone else created for the manager's pods and bound to the waypoint",
    target: 'manager',
    via: 'the waypoint, which forwards with its own identity (a confused deputy)',
    kind: 'attack',
    // The manager's identity policy admits the waypoint, and the Service has no policy of its own: only a
    // policy attached to the waypoint itself (targetRefs kind Gateway) sees every Service bound to it. Admission
    // refuses such a Service being made at all (tried by service-selecting-manager; the probe's own is exempt).
    closedBy: [
      {
        layer: 'waypoint L7',
        step: 'l7-policies',
        enabled: (config) => !principalsAdmitDefault(config, {}),
        disabledBecause: "the manager policy's principals admit the namespace's default ServiceAccount",
      },
      ADMISSION,
    ],
    trial: {
      by: 'probe',
      build: (env) => {
        const { service, url } = otherServiceToManager(env, true)
        return {
          source: enrolledDefault,
          destination: `another Service on the waypoint :${managerService(env.config, env.facts).port}`,
          request: { kind: 'http', url },
          fixtures: [service],
          expect: { kind: 'status', status: principalsAdmitDefault(env.config, env.facts) ? 200 : 403 },
        }
      },
    },
    triedAt: ['identity-policies', 'l7-policies'],
  },
  {
    id: 'unbound-service-to-manager',
    from: "an enrolled pod with another identity, through a Service someone else created for the manager's pods (no waypoint label)",
    target: 'manager',
    via: 'a Service that only the namespace-wide binding puts on the waypoint',
    kind: 'attack',
    // Bound to the manager Service only, the waypoint never sees it: ztunnel refuses the caller's own identity.
    // Bound namespace-wide (the guide's form), the waypoint forwards it, and only its own policy refuses it.
    closedBy: [
      {
        layer: 'ztunnel identity policy',
        step: 'identity-policies',
        enabled: (config) => config.identityPolicies && config.waypointBinding === 'service',
        disabledBecause:
          'with --no-identity-policies nothing refuses it, and with --waypoint-binding namespace it passes the waypoint, whose identity the manager admits',
      },
      {
        layer: 'waypoint L7',
        step: 'l7-policies',
        enabled: (config) => config.waypointBinding === 'namespace' && !principalsAdmitDefault(config, {}),
        disabledBecause: 'bound to the manager Service only, the waypoint never sees this Service',
      },
      ADMISSION,
    ],
    trial: {
      by: 'probe',
      build: (env) => {
        const { service, url } = otherServiceToManager(env, false)
        const viaWaypoint = env.config.waypointBinding === 'namespace'
        return {
          source: enrolledDefault,
          destination: `another Service, unbound :${managerService(env.config, env.facts).port}`,
          request: { kind: 'http', url },
          fixtures: [service],
          expect: viaWaypoint
            ? { kind: 'status', status: principalsAdmitDefault(env.config, env.facts) ? 200 : 403 }
            : { kind: 'blocked' },
        }
      },
    },
    triedAt: ['identity-policies', 'l7-policies'],
  },

  // The manager's own requests: it sends intents and token requests to every pod labelled app=decisionmaker it
  // finds in any namespace (Gthulhu/api v1.3.0 manager/service/cron_svc.go resyncIntentsToDMs,
  // manager/k8s_adapter/adapter.go QueryDecisionMakerPods with NamespaceAll).
  {
    id: 'impostor-decision-maker',
    from: 'a pod labelled app=decisionmaker in another namespace, listening',
    target: 'decision-maker',
    via: "the manager's own resync (it lists decision makers in every namespace and calls each one)",
    kind: 'attack',
    // The opt-in decision-maker guard also refuses such a pod being made (tried by impostor-decision-maker-by-pod).
    closedBy: [
      { layer: 'CNI egress policy', step: 'l4-policies', enabled: egressOn, disabledBecause: NO_EGRESS },
      { ...ADMISSION, enabled: (config) => config.admissionPolicy && config.decisionMakerGuard },
    ],
    trial: {
      by: 'probe',
      build: (env) => {
        const port = workloads(env.config, env.facts).scheduler.service?.port ?? 8080
        const namespace = `gthulhu-probe-impostor-${randomSuffix()}`
        return {
          source: {
            name: 'impostor decision maker (app=decisionmaker, another namespace)',
            labels: { 'app.kubernetes.io/component': 'probe', app: 'decisionmaker' },
            serviceAccount: IMPOSTOR_SERVICE_ACCOUNT,
          },
          namespace,
          fixtures: [
            { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace }, spec: {} },
            // Its own ServiceAccount: the namespace's "default" one only appears a moment after the namespace.
            { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: IMPOSTOR_SERVICE_ACCOUNT, namespace } },
          ],
          destination: `requests from the manager :${port}`,
          request: { kind: 'listen', port, seconds: IMPOSTOR_LISTEN_SECONDS },
          expect: { kind: 'blocked' },
        }
      },
    },
    triedAt: ['l4-policies', 'restart'],
  },

  // hostNetwork: a pod in the node's network namespace. istio-cni SNATs what a local socket sends to an ambient
  // pod to 169.254.7.127 and the pod accepts that source on every port before the redirect to ztunnel (istio/istio
  // 1.29.1 cni/pkg/iptables/iptables.go AppendHostRules and the in-pod ISTIO_PRERT rule); Calico does not police
  // host-to-local-workload traffic (projectcalico/calico felix/rules/static.go filterOutputChain).
  {
    id: 'host-network-same-node',
    from: "a hostNetwork pod (or a node process) on the manager's node",
    target: 'manager',
    via: "the manager's pod IP from its own node",
    kind: 'attack',
    closedBy: [],
    staysOpen: {
      why: "istio-cni's in-pod rule accepts the node's probe source (169.254.7.127) on every port before the redirect to ztunnel, and Calico does not police host-to-local-pod traffic: neither ztunnel nor the CNI sees it (the same holds on MongoDB's and every decision maker's node)",
      wouldClose:
        'keeping hostNetwork pods off these nodes (Pod Security Admission baseline in every other namespace, or admission that refuses hostNetwork outside listed namespaces); the identity-policies audit names the hostNetwork pods on these nodes',
    },
    trial: { by: 'probe', build: (env) => hostNetworkToManager(env, true) },
    triedAt: ['identity-policies'],
  },
  {
    id: 'host-network-other-node',
    from: 'a hostNetwork pod (or a node process) on another node',
    target: 'manager',
    via: "the manager's pod IP from another node (plaintext, no identity)",
    kind: 'attack',
    closedBy: [
      {
        layer: 'ztunnel identity policy',
        step: 'identity-policies',
        enabled: identityOn,
        disabledBecause: NO_IDENTITY,
      },
    ],
    trial: { by: 'probe', build: (env) => hostNetworkToManager(env, false) },
    triedAt: ['identity-policies'],
  },
]

// ---- who may wear an identity: tried at admission ----

function borrowedIdentityPaths(): ThreatPath[] {
  const path = (
    id: string,
    from: string,
    target: TargetId,
    via: string,
    build: (env: ProbeEnv) => KubeObject,
  ): ThreatPath => ({
    id,
    from,
    target,
    via,
    kind: 'attack',
    closedBy: [ADMISSION],
    trial: { by: 'admission attempt', build },
    triedAt: ['admission-policy'],
  })
  const sa = (env: ProbeEnv, key: 'manager' | 'scheduler') => workloads(env.config, env.facts)[key].serviceAccount
  return [
    path(
      'borrowed-identity-by-pod',
      "someone who may create pods in the namespace, naming the manager's ServiceAccount",
      'mongodb',
      'a pod of its own: istiod certifies whatever ServiceAccount the spec names',
      (env) => attackerPod(env.config, 'borrowed-manager', { serviceAccountName: sa(env, 'manager') }),
    ),
    path(
      'borrowed-identity-by-deployment',
      "someone who may create Deployments in the namespace, naming the manager's ServiceAccount",
      'decision-maker',
      "the Deployment's pods, made by the ReplicaSet controller",
      (env) => attackerDeployment(env.config, sa(env, 'manager')),
    ),
    path(
      'borrowed-identity-by-cronjob',
      "someone who may create CronJobs in the namespace, naming the manager's ServiceAccount",
      'mongodb',
      "the CronJob's Jobs' pods",
      (env) => attackerCronJob(env.config, sa(env, 'manager')),
    ),
    path(
      'borrowed-scheduler-identity-by-pod',
      "someone who may create pods in the namespace, naming the scheduler's ServiceAccount",
      'manager',
      "the manager Service: the manager's L7 policy admits the scheduler's identity",
      (env) => attackerPod(env.config, 'borrowed-scheduler', { serviceAccountName: sa(env, 'scheduler') }),
    ),
    path(
      'borrowed-waypoint-identity-by-pod',
      "someone who may create pods in the namespace, naming the waypoint's ServiceAccount",
      'manager',
      "the manager's pod IP: its identity policy admits the waypoint",
      (env) => attackerPod(env.config, 'borrowed-waypoint', { serviceAccountName: env.config.waypointName }),
    ),
    path(
      'copied-labels-by-pod',
      "someone who may create pods in the namespace, with the manager's labels",
      'manager',
      "the manager Service's endpoints (it would receive the manager's callers) and the NetworkPolicies that trust the labels",
      (env) =>
        attackerPod(
          env.config,
          'copied-labels',
          {},
          impersonationLabels(workloads(env.config, env.facts).manager.podLabels),
        ),
    ),
    {
      ...path(
        'impostor-decision-maker-by-pod',
        'someone who may create pods in another namespace, labelled app=decisionmaker',
        'decision-maker',
        "the manager's own requests: it sends intents and token requests to every such pod in the cluster",
        // kube-public exists on every cluster (default when Gthulhu itself lives in kube-public).
        (env) =>
          attackerPod(
            env.config,
            'impostor-decision-maker',
            {},
            { app: 'decisionmaker' },
            insiderOtherNamespace(env.config),
          ),
      ),
      closedBy: [
        {
          ...ADMISSION,
          enabled: (config) => config.admissionPolicy && config.decisionMakerGuard,
          disabledBecause: 'the cluster-wide decision-maker guard is off (it is opt-in: --decision-maker-guard)',
        },
      ],
    },
    path(
      'service-selecting-manager',
      "someone who may create Services in the namespace, selecting the manager's pods",
      'manager',
      "a Service of its own, which the waypoint forwards with the waypoint's identity",
      (env) => attackerService(env.config, workloads(env.config, env.facts).manager.selectorLabels),
    ),
  ]
}

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

/**
 * What the runbook's own probe of a path should see now. Its probes are exempt at admission (they must play the
 * impostor: made as the runbook's user and carrying the probe label), so they meet only the layers behind it; whether
 * admission refuses an insider's own object is tried by the admission attempts (e.g. service-selecting-manager).
 */
export function expectedPastAdmission(path: ThreatPath, config: Config, inEffect: (step: StepId) => boolean): Expected {
  return expectedNow({ ...path, closedBy: path.closedBy.filter((c) => c.layer !== 'admission') }, config, inEffect)
}

/**
 * What a path's trial should show now (`tried`: past admission for a probe, else what the path shows), and whether
 * admission alone stands between the attacker and the target where the probe cannot tell: it refuses the path now
 * ('applied') or will once its step runs ('pending'), while nothing the probe meets refuses it.
 */
export function expectedOfTrial(
  path: ThreatPath,
  config: Config,
  inEffect: (step: StepId) => boolean,
): { full: Expected; tried: Expected; onlyAdmission?: 'applied' | 'pending' } {
  const full = expectedNow(path, config, inEffect)
  if (path.trial.by !== 'probe') return { full, tried: full }
  const tried = expectedPastAdmission(path, config, inEffect)
  if (tried.verdict !== 'open') return { full, tried }
  if (full.verdict === 'refused') return { full, tried, onlyAdmission: 'applied' }
  const admissionNext = full.verdict === 'open' && full.until?.layer === 'admission' && !tried.until
  return admissionNext ? { full, tried, onlyAdmission: 'pending' } : { full, tried }
}

/**
 * Whether an attack is open for good with these settings: no layer of this runbook closes it, or the operator left
 * out the one that would — not merely open until a step still to run.
 */
export const openForGood = (expected: Expected): boolean => expected.verdict === 'open' && !expected.until

/**
 * The probe that tries a path (its id as the probe's role), or why it cannot be tried now. Given what the path
 * should show now: an attack open for good is expected to get through (the far side answers), so seeing it open is
 * what the model says — disclosed, never a drift; an attack open only until a later step keeps the refusal that
 * step will bring.
 */
export function probeFor(path: ThreatPath, env: ProbeEnv, expected?: Expected): ProbeSpec | NotTried | undefined {
  if (path.trial.by !== 'probe') return undefined
  const built = path.trial.build(env)
  if ('notTried' in built) return built
  const expect: ProbeExpectation =
    path.kind === 'attack' && expected && openForGood(expected) && built.expect.kind === 'blocked'
      ? { kind: 'answered' }
      : built.expect
  return { ...built, expect, path: path.id, role: path.id }
}

/** What would close an attack that is open for good: the model's remedy, or the layer the operator left out. */
export function wouldClose(path: ThreatPath, config: Config): string {
  if (path.staysOpen && !path.closedBy.length) return path.staysOpen.wouldClose
  const off = path.closedBy.filter((c) => !(c.enabled?.(config) ?? true))
  return (off.length ? off : path.closedBy).map((c) => `${c.step} (${c.layer})`).join(' or ')
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
          : path.trial.by === 'admission attempt'
            ? `kubectl create --dry-run=server as another user at ${path.triedAt.join(', ')}`
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

// ---- an audit's view: which protections it could not vouch for, and the paths that leaves open ----

export interface AuditedPath {
  path: ThreatPath
  /**
   * closed: every layer in effect still holds; weakened: some were found not as planned (or widened) but another
   * still refuses it; reopened: none the runbook vouches for is left; open: open anyway (by design, a choice, or a
   * step not done); seen open: a probe got through.
   */
  status: 'closed' | 'weakened' | 'reopened' | 'open' | 'seen open'
  /** Layers in effect that still hold. */
  holding: Closure[]
  /** Layers in effect that the audit found out of force. */
  voided: Closure[]
  /** Why it is open, for open paths. */
  why?: string
}

/** Whether an audited path leaves the target reachable to its attacker. */
export const isOpen = (row: AuditedPath) =>
  row.status === 'open' || row.status === 'reopened' || row.status === 'seen open'

/**
 * The attack paths after an audit: each layer in effect (its step done, its layer on) counts only while nothing the
 * audit found voids it for that target (an object not as planned, a foreign policy that widens it), and a path that
 * some layer should refuse but a probe got through is seen open whatever the layers say. A path no layer in effect
 * closes is open as the model says, whether or not a probe saw it so: that is disclosed, not a weakening.
 */
export function auditPaths(
  config: Config,
  inEffect: (step: StepId) => boolean,
  voided: { layer: Layer; target: TargetId }[],
  seenOpen: Set<string> = new Set(),
): AuditedPath[] {
  return THREAT_MODEL.filter((p) => p.kind === 'attack').map((path): AuditedPath => {
    const active = closuresInEffect(path, config, inEffect)
    const out = active.filter((c) => voided.some((v) => v.layer === c.layer && v.target === path.target))
    const holding = active.filter((c) => !out.includes(c))
    // No layer in effect: open as the model says (by design, by choice or until its step runs), seen so or not.
    if (!active.length) {
      const expected = expectedNow(path, config, inEffect)
      return { path, status: 'open', holding, voided: out, why: expected.verdict === 'open' ? expected.because : '' }
    }
    // A layer should refuse it and a probe got through: that, not the objects, says what holds.
    if (seenOpen.has(path.id))
      return { path, status: 'seen open', holding, voided: out, why: 'an attempt on this path got through' }
    if (!holding.length)
      return {
        path,
        status: 'reopened',
        holding,
        voided: out,
        why: `no layer the runbook vouches for refuses it: ${out.map((c) => c.layer).join(', ')} not as planned`,
      }
    return { path, status: out.length ? 'weakened' : 'closed', holding, voided: out }
  })
}
