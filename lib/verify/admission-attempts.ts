// Admission attempts: what an insider who may create objects in Gthulhu's namespace would try, sent as a user who is
// not the runbook's (kubectl --as) with `kubectl create --dry-run=server`, so admission runs and nothing is created.
// And the controls: a pod made as each protected workload's own controller makes it, which must still be admitted.
import type { Config } from '../config/options.ts'
import { text } from '../config/text.ts'
import { denialPrefix, guardName, INSIDER_USER, protectedIdentities } from '../domain/admission.ts'
import { MANAGED_BY } from '../domain/apply.ts'
import { kubectlAccess } from '../kube/access.ts'
import type { Cluster } from '../kube/cluster.ts'
import type { ApiAccess, Check, KubeObject, StepContext } from '../types.ts'
import { randomSuffix } from './probes.ts'

/** The user the attempts are made as: not the runbook's identity, in no group but system:authenticated. */
export const ATTACKER_USER = INSIDER_USER

const LABEL = { 'app.kubernetes.io/component': 'admission-attempt', ...MANAGED_BY }
const attemptName = (what: string) => `gthulhu-attempt-${what}-${randomSuffix()}`.slice(0, 63)
const container = (config: Config) => ({ name: 'attempt', image: config.httpProbeImage, command: ['sleep', '3600'] })

export function attackerPod(
  config: Config,
  what: string,
  spec: Record<string, unknown>,
  labels: Record<string, string> = {},
  namespace = config.namespace,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: attemptName(what), namespace, labels: { ...LABEL, ...labels } },
    spec: { ...spec, containers: [container(config)] },
  }
}

const template = (config: Config, serviceAccountName: string) => ({
  metadata: { labels: { 'app.kubernetes.io/name': 'gthulhu-attempt' } },
  spec: { serviceAccountName, containers: [container(config)] },
})

export function attackerDeployment(config: Config, serviceAccountName: string): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: attemptName('deployment'), namespace: config.namespace, labels: LABEL },
    spec: {
      replicas: 1,
      selector: { matchLabels: { 'app.kubernetes.io/name': 'gthulhu-attempt' } },
      template: template(config, serviceAccountName),
    },
  }
}

export function attackerCronJob(config: Config, serviceAccountName: string): KubeObject {
  const podTemplate = template(config, serviceAccountName)
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: attemptName('cronjob'), namespace: config.namespace, labels: LABEL },
    spec: {
      schedule: '*/5 * * * *',
      jobTemplate: { spec: { template: { ...podTemplate, spec: { ...podTemplate.spec, restartPolicy: 'Never' } } } },
    },
  }
}

export function attackerService(config: Config, selector: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: attemptName('service'), namespace: config.namespace, labels: LABEL },
    spec: { selector, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] },
  }
}

export type AdmissionOutcome =
  | { kind: 'admitted'; detail: string }
  | { kind: 'refused'; detail: string }
  | { kind: 'error'; detail: string }

/** One attempt waiting to join the others sent as the same user in this turn of the event loop. */
interface PendingAttempt {
  object: KubeObject
  resolve(outcome: AdmissionOutcome): void
  reject(error: unknown): void
}

/** Attempts not yet sent, per cluster and per identity (user and groups). */
const pendingAttempts = new WeakMap<Cluster, Map<string, PendingAttempt[]>>()

/**
 * Sends one object through admission as `user` (dry run: nothing is created) and reads the answer. Attempts asked
 * for together as the same identity go in one kubectl call (a kubectl process costs more than the request).
 */
export function tryAdmission(
  ctx: StepContext,
  object: KubeObject,
  user: string,
  groups: string[] = [],
): Promise<AdmissionOutcome> {
  return new Promise((resolve, reject) => {
    let byIdentity = pendingAttempts.get(ctx.cluster)
    if (!byIdentity) pendingAttempts.set(ctx.cluster, (byIdentity = new Map()))
    const key = JSON.stringify([user, groups])
    let batch = byIdentity.get(key)
    if (!batch) {
      const attempts: PendingAttempt[] = (batch = [])
      byIdentity.set(key, attempts)
      setImmediate(() => {
        byIdentity.delete(key)
        sendTogether(ctx.cluster, attempts, user, groups).catch((error) => {
          for (const attempt of attempts) attempt.reject(error)
        })
      })
    }
    batch.push({ object, resolve, reject })
  })
}

function createArgv(cluster: Cluster, user: string, groups: string[]): string[] {
  const impersonation = [`--as=${user}`, ...groups.map((g) => `--as-group=${g}`)]
  return cluster.kubectlArgv(['create', '--dry-run=server', '-o', 'name', ...impersonation, '-f', '-'])
}

const DENIAL = /ValidatingAdmissionPolicy '[^']+' with binding '[^']+' denied request: .*/

/**
 * One kubectl call for several objects: kubectl goes on past a refused object, prints each admitted one's name
 * (-o name) and one error line per refusal, which names the object (admission's Forbidden: `<resource> "<name>"
 * is forbidden: …`). An object neither admitted nor refused by name (an RBAC refusal carries no name) is sent
 * again alone, so each attempt gets the answer its own call would have given.
 */
async function sendTogether(cluster: Cluster, attempts: PendingAttempt[], user: string, groups: string[]) {
  const alone = async (attempt: PendingAttempt) => {
    const result = await cluster.exec(createArgv(cluster, user, groups), { objects: [attempt.object] })
    attempt.resolve(outcomeOf(result.exitCode, result.stdout, result.stderr, user))
  }
  if (attempts.length === 1) return alone(attempts[0])
  const result = await cluster.exec(createArgv(cluster, user, groups), {
    objects: attempts.map((a) => a.object),
  })
  const admitted = result.stdout.split('\n').map((line) => line.trim())
  const errors = result.stderr.split('\n')
  const again: PendingAttempt[] = []
  for (const attempt of attempts) {
    const name = attempt.object.metadata.name
    const printed = admitted.find((line) => line.endsWith(`/${name}`))
    const denial = DENIAL.exec(errors.filter((line) => line.includes(JSON.stringify(name))).join('\n'))?.[0]
    if (printed) attempt.resolve(outcomeOf(0, printed, '', user))
    else if (denial) attempt.resolve({ kind: 'refused', detail: denial })
    else again.push(attempt)
  }
  await Promise.all(again.map(alone))
}

/** What one attempt's kubectl call says: admitted, refused by a ValidatingAdmissionPolicy, or an error. */
function outcomeOf(exitCode: number | null, stdout: string, stderr: string, user: string): AdmissionOutcome {
  stderr = stderr.trim()
  if (exitCode === 0) return { kind: 'admitted', detail: `admitted (${stdout.trim()}, server dry run)` }
  const denial = DENIAL.exec(stderr)?.[0]
  if (denial) return { kind: 'refused', detail: denial }
  if (/cannot impersonate/.test(stderr))
    return {
      kind: 'error',
      detail: `the runbook's identity may not impersonate ${user} (kubectl --as), so the attempt could not be made: ${stderr}`,
    }
  // RBAC decides before admission: a refusal there says nothing about the policy.
  if (new RegExp(`User "${user.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" cannot create`).test(stderr))
    return {
      kind: 'error',
      detail: `RBAC refused ${user} before admission ran, so the policy was not tried (${stderr.split('\n').pop()}); the admission-policy step writes the insider's Roles: run it again`,
    }
  return { kind: 'error', detail: stderr || `kubectl exited ${exitCode}` }
}

/** The refusal came from this runbook's policy (another admission plugin's refusal proves nothing about it). */
export const refusedByOurPolicy = (config: Config, outcome: AdmissionOutcome) =>
  outcome.kind === 'refused' &&
  [denialPrefix(config), denialPrefix(config, guardName(config))].some((prefix) => outcome.detail.startsWith(prefix))

const CONTROLLER = {
  ReplicaSet: 'system:serviceaccount:kube-system:replicaset-controller',
  DaemonSet: 'system:serviceaccount:kube-system:daemon-set-controller',
  StatefulSet: 'system:serviceaccount:kube-system:statefulset-controller',
} as Record<string, string>
const CONTROLLER_ACCOUNTS = Object.values(CONTROLLER).map((user) => user.split(':').pop()!)

/**
 * What the controls ask: the namespace's pods to copy, and impersonating the controllers that make them. Impersonating
 * a ServiceAccount lends its rights (these create and delete pods in every namespace): the runbook uses them for
 * server dry runs only, but RBAC cannot limit impersonation to those.
 */
export const controllerChecksAccess = (namespace: string): ApiAccess[] => [
  ...kubectlAccess.list('pods', { namespace }, 'admission-policy: copies one pod of each protected workload'),
  ...kubectlAccess.impersonateServiceAccounts(
    'kube-system',
    CONTROLLER_ACCOUNTS,
    "admission-policy: sends each copy as the controller that makes the workload's pods (kubectl --as, server dry run); impersonating them lends their rights",
  ),
]

/**
 * The controls: for every protected workload, a copy of one of its live pods sent through admission as the
 * controller that owns it would send it (its ServiceAccount identity, the same ownerReference). They must be
 * admitted, or a restart of the chart (or istiod re-creating a gateway) would leave the workload without pods.
 */
export async function controllerPodChecks(ctx: StepContext): Promise<Check[]> {
  const { config, facts } = ctx
  const pods = await ctx.cluster.list<KubeObject>('pods', { namespace: config.namespace })
  const checks = protectedIdentities(config, facts).map(async (identity): Promise<Check> => {
    const { kind, name } = identity.owner
    const ownerKind = kind === 'Deployment' ? 'ReplicaSet' : kind
    const pod = pods.find((p) =>
      ((p.metadata.ownerReferences ?? []) as { kind: string; name: string }[]).some(
        (r) =>
          r.kind === ownerKind &&
          (kind === 'Deployment' ? r.name === `${name}-${p.metadata.labels?.['pod-template-hash']}` : r.name === name),
      ),
    )
    const check = {
      name: text.checks.controllerStillCreates(kind, name, identity.owner.by),
      expected: `admitted as ${CONTROLLER[ownerKind]}`,
    }
    if (!pod)
      return {
        ...check,
        observed: `no pod of ${kind} ${name} found to copy`,
        ok: false,
        advisory: true,
        hint: `the workload has no pods right now, so its controller's next creation was not tried; check kubectl get ${kind.toLowerCase()} ${name} -n ${config.namespace}`,
      }
    const copy: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${pod.metadata.name.slice(0, 50)}-${randomSuffix()}`,
        namespace: config.namespace,
        labels: pod.metadata.labels,
        ownerReferences: pod.metadata.ownerReferences,
      },
      spec: { ...pod.spec, nodeName: undefined },
    }
    // No --as-group: a ServiceAccount impersonated alone gets its groups, as its own token would carry.
    const outcome = await tryAdmission(ctx, copy, CONTROLLER[ownerKind])
    return {
      ...check,
      observed: outcome.detail,
      ok: outcome.kind === 'admitted',
      hint:
        outcome.kind === 'refused'
          ? `the policy refuses the workload's own controller: run the admission-policy step again (it rebuilds the policy from the workloads preflight found), or --rollback admission-policy`
          : undefined,
    }
  })
  return Promise.all(checks)
}
