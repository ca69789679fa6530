// Workload controllers: Deployments (through ReplicaSets), DaemonSets and StatefulSets make pods, roll them
// when the pod template changes (`kubectl rollout restart`), and report the status `kubectl rollout status`
// reads. Each controller creates with its own identity, through admission, as kube-controller-manager
// does with --use-service-account-credentials: a Deployment's ReplicaSets as
// system:serviceaccount:kube-system:deployment-controller, their pods as …:replicaset-controller, a
// DaemonSet's as …:daemon-set-controller, a StatefulSet's as …:statefulset-controller (see ../authn.ts).
// A refused creation becomes a FailedCreate Event on the owner and is tried again after a backoff.
//
// Imitates kubernetes/kubernetes v1.32.0:
// - pkg/controller/deployment/rolling.go and sync.go (a ReplicaSet `<deployment>-<pod-template-hash>` per
//   template, owned by the Deployment, its template and selector carrying the pod-template-hash label;
//   scale the new one up, the old ones down to 0 once the new pods are available, old ones kept for
//   history; replicas/updated/ready/available counts; conditions Available and Progressing);
// - pkg/controller/replicaset/replica_set.go (pods `<replicaset>-<random>` owned by the ReplicaSet, made
//   or deleted until they match spec.replicas; status replicas/readyReplicas/availableReplicas);
// - pkg/controller/daemon/daemon_controller.go and update.go (one pod per node; RollingUpdate with
//   maxUnavailable 1: the old pod goes, then the new one starts);
// - pkg/controller/statefulset/stateful_set_control.go and stateful_set_utils.go (pods `<name>-<ordinal>`
//   created in order once lower ordinals are Ready; updates from the highest ordinal;
//   currentRevision/updateRevision);
// - pkg/apis/apps/v1/defaults.go (the updateStrategy a DaemonSet or StatefulSet gets by default);
// and kubernetes/kubectl kubernetes-1.32.0 pkg/polymorphichelpers/rollout_status.go (the fields that
// decide "Waiting for … rollout to finish" versus "successfully rolled out").
// Simplifications: no ControllerRevisions (the revision is a hash of the template); updates a controller
// makes (scaling a ReplicaSet, status) do not pass admission, only its creations do; one node, so a
// DaemonSet has one pod; maxSurge/maxUnavailable, minReadySeconds, revisionHistoryLimit,
// partitions and podManagementPolicy are not read; one rollout step per `timing.rolloutStepMs`;
// "available" means Ready; `faults.rolloutNeverConverges` freezes a rollout that has old pods.
import { createHash } from 'node:crypto'
import { controllerUser } from '../authn.ts'
import { isPodReady, listOf, now, type KindName } from '../cluster-view.ts'
import type { KubeObject, Store } from '../store.ts'
import {
  NODE_NAME,
  condition,
  createAs,
  resourceType,
  tryDelete,
  writeStatus,
  type ReconcileContext,
} from './context.ts'

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

const owned = (store: Store, kind: KindName, owner: KubeObject) =>
  listOf(store, kind, owner.metadata.namespace, (o) =>
    (o.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid),
  )
const ownedPods = (store: Store, w: KubeObject) => owned(store, 'pod', w)
/** The pods a workload runs: a Deployment's are those of its ReplicaSets. */
const podsOf = (store: Store, kind: WorkloadKind, w: KubeObject) =>
  kind === 'deployment' ? owned(store, 'replicaSet', w).flatMap((rs) => ownedPods(store, rs)) : ownedPods(store, w)
const CREATOR = {
  daemonSet: controllerUser('daemon-set-controller'),
  statefulSet: controllerUser('statefulset-controller'),
  replicaSet: controllerUser('replicaset-controller'),
}

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
    for (const rs of listOf(ctx.store, 'replicaSet')) reconcileReplicaSet(ctx, rs)
  }

  updateStatus({ store }: ReconcileContext): void {
    for (const rs of listOf(store, 'replicaSet')) updateReplicaSetStatus(store, rs)
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
    const pods = podsOf(store, kind, w)
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
    const create = (creator: 'daemonSet' | 'statefulSet', name: string, extra: Record<string, any> = {}) =>
      createAs(
        ctx,
        CREATOR[creator],
        'pod',
        podFor(w, name, { [revisionLabel]: revision, ...extra.labels }, extra.spec),
        w,
      )

    if (kind === 'statefulSet') {
      for (let i = 0; i < desired; i++) {
        const name = `${w.metadata.name}-${i}`
        const pod = pods.find((p) => p.metadata.name === name)
        if (!pod) {
          const lowerReady = pods.filter((p) => ordinal(p) < i).every(isPodReady)
          if (lowerReady) {
            create('statefulSet', name, {
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
        create('daemonSet', `${w.metadata.name}-${randomSuffix()}`, {
          labels: { 'pod-template-generation': String(w.metadata.generation ?? 1) },
        })
        step()
      }
      return
    }

    // Deployment: a ReplicaSet per template; surge the new one, scale the old ones to 0 once the new pods are ready.
    const sets = owned(store, 'replicaSet', w)
    const newSet = sets.find((rs) => rs.metadata.labels?.[revisionLabel] === revision)
    const oldSets = sets.filter((rs) => rs !== newSet && Number(rs.spec?.replicas ?? 0) > 0)
    if (!newSet) {
      createAs(
        ctx,
        controllerUser('deployment-controller'),
        'replicaSet',
        replicaSetFor(w, hash, pods.length === 0 ? desired : 1),
        w,
      )
      return step()
    }
    const scale = (rs: KubeObject, replicas: number) =>
      store.update(resourceType(store, 'replicaSet'), { ...rs, spec: { ...rs.spec, replicas } })
    const wanted = Number(newSet.spec?.replicas ?? 0)
    if (wanted < desired) {
      scale(newSet, old.length === 0 ? desired : wanted + 1)
      return step()
    }
    if (wanted > desired) {
      scale(newSet, desired)
      return step()
    }
    if (oldSets.length && fresh.filter(isPodReady).length >= desired) {
      for (const rs of oldSets) scale(rs, 0)
      step()
    }
  }
}

/** The ReplicaSet controller: pods `<replicaset>-<random>` until they match spec.replicas. */
function reconcileReplicaSet(ctx: ReconcileContext, rs: KubeObject): void {
  const { store } = ctx
  const pods = ownedPods(store, rs)
  const desired = Number(rs.spec?.replicas ?? 1)
  for (let i = pods.length; i < desired; i++) {
    const created = createAs(
      ctx,
      CREATOR.replicaSet,
      'pod',
      podFor(rs, `${rs.metadata.name}-${randomSuffix()}`, {}),
      rs,
    )
    if (!created) return
  }
  // Surplus pods go not-ready ones first, as the controller ranks them.
  const surplus = [...pods]
    .sort((a, b) => Number(isPodReady(a)) - Number(isPodReady(b)))
    .slice(0, pods.length - desired)
  for (const p of surplus) tryDelete(store, 'pod', p)
}

function replicaSetFor(d: KubeObject, hash: string, replicas: number): KubeObject {
  const template = d.spec?.template ?? {}
  const labels = { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash }
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${d.metadata.name}-${hash}`,
      namespace: d.metadata.namespace,
      labels,
      annotations: { 'deployment.kubernetes.io/desired-replicas': String(d.spec?.replicas ?? 1) },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: d.metadata.name,
          uid: d.metadata.uid!,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      replicas,
      selector: { matchLabels: { ...(d.spec?.selector?.matchLabels ?? {}), 'pod-template-hash': hash } },
      template: { ...template, metadata: { ...template.metadata, labels } },
    },
  }
}

function updateReplicaSetStatus(store: Store, rs: KubeObject): void {
  const pods = ownedPods(store, rs)
  const ready = pods.filter(isPodReady).length
  writeStatus(store, 'replicaSet', rs, {
    replicas: pods.length,
    fullyLabeledReplicas: pods.length,
    ...(ready ? { readyReplicas: ready, availableReplicas: ready } : {}),
    observedGeneration: rs.metadata.generation ?? 1,
  })
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

/** A pod from an owner's template (a ReplicaSet, DaemonSet or StatefulSet), owned by it. */
function podFor(owner: KubeObject, name: string, labels: Record<string, string>, specExtra: any = {}): KubeObject {
  const template = owner.spec?.template ?? {}
  const serviceAccountName = template.spec?.serviceAccountName ?? template.spec?.serviceAccount ?? 'default'
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: owner.metadata.namespace,
      labels: { ...(template.metadata?.labels ?? {}), ...labels },
      ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: owner.kind,
          name: owner.metadata.name,
          uid: owner.metadata.uid!,
          controller: true,
          blockOwnerDeletion: true,
        },
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
  const pods = podsOf(store, kind, w)
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
