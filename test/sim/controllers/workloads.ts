// Workload controllers: Deployments, DaemonSets and StatefulSets make pods, roll them when the pod
// template changes (`kubectl rollout restart`), and report the status `kubectl rollout status` reads.
//
// Imitates kubernetes/kubernetes v1.32.0:
// - pkg/controller/deployment/rolling.go and sync.go (surge new pods, remove old ones once the new ones
//   are available; replicas/updated/ready/available counts; conditions Available and Progressing);
// - pkg/controller/daemon/daemon_controller.go and update.go (one pod per node; RollingUpdate with
//   maxUnavailable 1: the old pod goes, then the new one starts);
// - pkg/controller/statefulset/stateful_set_control.go and stateful_set_utils.go (pods `<name>-<ordinal>`
//   created in order once lower ordinals are Ready; updates from the highest ordinal;
//   currentRevision/updateRevision);
// - pkg/apis/apps/v1/defaults.go (the updateStrategy a DaemonSet or StatefulSet gets by default);
// and kubernetes/kubectl kubernetes-1.32.0 pkg/polymorphichelpers/rollout_status.go (the fields that
// decide "Waiting for … rollout to finish" versus "successfully rolled out").
// Simplifications: no ReplicaSets or ControllerRevisions (a Deployment owns its pods; the revision is a
// hash of the template); one node, so a DaemonSet has one pod; maxSurge/maxUnavailable, minReadySeconds,
// partitions and podManagementPolicy are not read; one rollout step per `timing.rolloutStepMs`;
// "available" means Ready; `faults.rolloutNeverConverges` freezes a rollout that has old pods.
import { createHash } from 'node:crypto'
import { isPodReady, listOf, now } from '../cluster-view.ts'
import type { KubeObject, Store } from '../store.ts'
import { NODE_NAME, condition, resourceType, tryDelete, writeStatus, type ReconcileContext } from './context.ts'

export type WorkloadKind = 'deployment' | 'daemonSet' | 'statefulSet'
export const WORKLOAD_KINDS: WorkloadKind[] = ['deployment', 'daemonSet', 'statefulSet']

/** The revision the current template stands for, and the pod label that carries it. */
function revisionOf(kind: WorkloadKind, w: KubeObject) {
  const hash = createHash('sha256')
    .update(JSON.stringify(w.spec?.template ?? {}))
    .digest('hex')
    .slice(0, 10)
  return {
    hash,
    revision: kind === 'statefulSet' ? `${w.metadata.name}-${hash}` : hash,
    revisionLabel: kind === 'deployment' ? 'pod-template-hash' : 'controller-revision-hash',
  }
}

const ownedPods = (store: Store, w: KubeObject) =>
  listOf(store, 'pod', w.metadata.namespace).filter((p) =>
    (p.metadata.ownerReferences ?? []).some((r) => r.uid === w.metadata.uid),
  )

const desiredReplicas = (kind: WorkloadKind, w: KubeObject) =>
  kind === 'daemonSet' ? 1 : Number(w.spec?.replicas ?? 1)

const ordinal = (p: KubeObject) => Number(p.metadata.name.split('-').pop())

function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789'
  return Array.from({ length: 5 }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('')
}

export class WorkloadControllers {
  /** When each workload (by uid) last took a rollout step. */
  private readonly lastStep = new Map<string, number>()

  reconcile(ctx: ReconcileContext): void {
    for (const kind of WORKLOAD_KINDS) for (const w of listOf(ctx.store, kind)) this.reconcileWorkload(ctx, kind, w)
  }

  updateStatus({ store }: ReconcileContext): void {
    for (const kind of WORKLOAD_KINDS) for (const w of listOf(store, kind)) updateWorkloadStatus(store, kind, w)
  }

  private reconcileWorkload(ctx: ReconcileContext, kind: WorkloadKind, w: KubeObject): void {
    const { store, faults, config, wakeAt } = ctx
    const defaults = workloadDefaults(kind, w)
    if (defaults) {
      store.update(resourceType(store, kind), defaults)
      return
    }
    const { hash, revision, revisionLabel } = revisionOf(kind, w)
    const pods = ownedPods(store, w)
    const isNew = (p: KubeObject) => p.metadata.labels?.[revisionLabel] === revision
    const fresh = pods.filter(isNew)
    const old = pods.filter((p) => !isNew(p))
    const desired = desiredReplicas(kind, w)
    const frozen = old.length > 0 && faults.rolloutNeverConverges.includes(w.metadata.name)
    if (frozen) {
      wakeAt(Date.now() + 200) // faults change without store events: look again soon
      return
    }
    // Pace every step after the first pods exist, so rollouts take visible time.
    const last = this.lastStep.get(w.metadata.uid!) ?? 0
    if (pods.length > 0 && Date.now() < last + config.timing.rolloutStepMs) {
      wakeAt(last + config.timing.rolloutStepMs)
      return
    }
    const step = () => {
      this.lastStep.set(w.metadata.uid!, Date.now())
      wakeAt(Date.now() + config.timing.rolloutStepMs)
    }
    const create = (name: string, extra: Record<string, any> = {}) => {
      store.create(
        resourceType(store, 'pod'),
        podFor(kind, w, name, { [revisionLabel]: revision, ...extra.labels }, extra.spec),
      )
    }

    if (kind === 'statefulSet') {
      for (let i = 0; i < desired; i++) {
        const name = `${w.metadata.name}-${i}`
        const pod = pods.find((p) => p.metadata.name === name)
        if (!pod) {
          const lowerReady = pods.filter((p) => ordinal(p) < i).every(isPodReady)
          if (lowerReady) {
            create(name, {
              labels: { 'statefulset.kubernetes.io/pod-name': name, 'apps.kubernetes.io/pod-index': String(i) },
              spec: { hostname: name, subdomain: w.spec?.serviceName },
            })
            step()
          }
          return
        }
      }
      const surplus = pods.filter((p) => ordinal(p) >= desired).sort((a, b) => ordinal(b) - ordinal(a))[0]
      if (surplus) {
        tryDelete(store, 'pod', surplus)
        return step()
      }
      // Rolling update: highest ordinal first, once every pod is ready.
      const stale = old.sort((a, b) => ordinal(b) - ordinal(a))[0]
      if (stale && pods.every(isPodReady)) {
        tryDelete(store, 'pod', stale)
        step()
      }
      return
    }

    if (kind === 'daemonSet') {
      // maxUnavailable 1 on one node: the old pod goes first, then its replacement starts.
      if (old.length) {
        for (const p of old) tryDelete(store, 'pod', p)
        return step()
      }
      if (fresh.length < desired) {
        create(`${w.metadata.name}-${randomSuffix()}`, {
          labels: { 'pod-template-generation': String(w.metadata.generation ?? 1) },
        })
        step()
      }
      return
    }

    // Deployment: surge first, remove old pods once the new ones are ready.
    const podBase = `${w.metadata.name}-${hash}`
    if (fresh.length < desired) {
      const count = pods.length === 0 ? desired : 1
      for (let i = 0; i < count; i++) create(`${podBase}-${randomSuffix()}`)
      return step()
    }
    if (fresh.length > desired) {
      for (const p of fresh.slice(desired)) tryDelete(store, 'pod', p)
      return step()
    }
    if (old.length && fresh.filter(isPodReady).length >= desired) {
      for (const p of old) tryDelete(store, 'pod', p)
      step()
    }
  }
}

/** Defaults the API server would have set and `kubectl rollout status` relies on; undefined when complete. */
function workloadDefaults(kind: WorkloadKind, w: KubeObject): KubeObject | undefined {
  if (kind === 'deployment') return undefined
  if (w.spec?.updateStrategy?.type) return undefined
  return {
    ...w,
    spec: {
      ...w.spec,
      updateStrategy:
        kind === 'daemonSet'
          ? { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }
          : { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
    },
  }
}

function podFor(
  kind: WorkloadKind,
  w: KubeObject,
  name: string,
  labels: Record<string, string>,
  specExtra: any = {},
): KubeObject {
  const template = w.spec?.template ?? {}
  const apiKind = { deployment: 'Deployment', daemonSet: 'DaemonSet', statefulSet: 'StatefulSet' }[kind]
  const serviceAccountName = template.spec?.serviceAccountName ?? template.spec?.serviceAccount ?? 'default'
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: w.metadata.namespace,
      labels: { ...(template.metadata?.labels ?? {}), ...labels },
      ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: apiKind, name: w.metadata.name, uid: w.metadata.uid!, controller: true },
      ],
    },
    spec: {
      restartPolicy: 'Always',
      ...(template.spec ?? {}),
      ...specExtra,
      serviceAccountName,
      serviceAccount: serviceAccountName,
      nodeName: NODE_NAME,
    },
    status: {
      phase: 'Pending',
      qosClass: 'BestEffort',
      conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: now() }],
    },
  }
}

/** Status as each workload controller writes it, limited to what `kubectl rollout status` reads. */
function updateWorkloadStatus(store: Store, kind: WorkloadKind, w: KubeObject): void {
  const { hash, revision, revisionLabel } = revisionOf(kind, w)
  const pods = ownedPods(store, w)
  const updated = pods.filter((p) => p.metadata.labels?.[revisionLabel] === revision)
  const ready = pods.filter(isPodReady)
  const updatedReady = updated.filter(isPodReady)
  const generation = w.metadata.generation ?? 1
  const desired = desiredReplicas(kind, w)
  let status: any
  if (kind === 'deployment') {
    const complete = updated.length === desired && pods.length === desired && updatedReady.length === desired
    const previous = w.status?.conditions
    status = {
      observedGeneration: generation,
      replicas: pods.length,
      updatedReplicas: updated.length,
      readyReplicas: ready.length,
      availableReplicas: ready.length,
      ...(pods.length - ready.length > 0 ? { unavailableReplicas: pods.length - ready.length } : {}),
      conditions: [
        ready.length >= desired
          ? condition(previous, 'Available', true, 'MinimumReplicasAvailable', 'Deployment has minimum availability.')
          : condition(
              previous,
              'Available',
              false,
              'MinimumReplicasUnavailable',
              'Deployment does not have minimum availability.',
            ),
        complete
          ? condition(
              previous,
              'Progressing',
              true,
              'NewReplicaSetAvailable',
              `ReplicaSet "${w.metadata.name}-${hash}" has successfully progressed.`,
            )
          : condition(
              previous,
              'Progressing',
              true,
              'ReplicaSetUpdated',
              `ReplicaSet "${w.metadata.name}-${hash}" is progressing.`,
            ),
      ],
    }
    // lastUpdateTime moves with every change on a real cluster; kept equal to the transition time here.
    for (const c of status.conditions) c.lastUpdateTime = c.lastTransitionTime
    if (status.readyReplicas === 0) delete status.readyReplicas
    if (status.availableReplicas === 0) delete status.availableReplicas
  } else if (kind === 'daemonSet') {
    status = {
      observedGeneration: generation,
      desiredNumberScheduled: desired,
      currentNumberScheduled: pods.length,
      updatedNumberScheduled: updated.length,
      numberReady: ready.length,
      numberAvailable: ready.length,
      numberMisscheduled: 0,
      ...(desired - ready.length > 0 ? { numberUnavailable: desired - ready.length } : {}),
    }
  } else {
    const previousCurrent = w.status?.currentRevision
    const allUpdated = updated.length === desired && pods.length === desired && updatedReady.length === desired
    status = {
      observedGeneration: generation,
      replicas: pods.length,
      readyReplicas: ready.length,
      availableReplicas: ready.length,
      currentReplicas: allUpdated ? updated.length : pods.length - updated.length,
      updatedReplicas: updated.length,
      currentRevision: allUpdated || !previousCurrent ? revision : previousCurrent,
      updateRevision: revision,
      collisionCount: 0,
    }
    if (status.readyReplicas === 0) delete status.readyReplicas
  }
  writeStatus(store, kind, w, status)
}
