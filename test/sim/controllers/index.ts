// The simulated cluster's control loop. Any store change schedules one reconcile pass that runs every
// controller once, in a fixed order, each bringing its objects one step closer to their desired state;
// passes never overlap; a controller whose next step depends on time (pod start, probe run, rollout
// pacing) asks for a timed wake-up instead.
//
// Imitates the level-triggered shape of Kubernetes controllers: kubernetes/client-go v0.32.0
// util/workqueue/queue.go (a change marks work dirty; work being processed is not processed twice at
// once, and is processed again when it changed meanwhile).
// Simplifications: one queue and one worker for every controller (a pass runs all of them, in order);
// no informer cache (controllers read the store directly); `faults.controllerDelayMs` delays every pass.
//
// The controllers, one module each, in the order a pass runs them:
//   garbage-collector.ts  ownerReferences → delete orphans
//   istio-install.ts      istiod's default GatewayClasses
//   gateways.ts           Gateway → ServiceAccount, Deployment, Service (waypoints.ts: what waypoints change)
//   workloads.ts          Deployments, DaemonSets, StatefulSets → pods, rollouts
//   enrolment.ts          ambient capture of pods (the redirection annotation)
//   scheduler.ts          binds pods nobody placed to a node (node affinity, nodeSelector)
//   pods.ts               the kubelet: phases, readiness, probe pod runs
//   workloads.ts          workload status
//   gateways.ts           Gateway status
//   routes.ts             HTTPRoute status
//   policy-status.ts      AuthorizationPolicy status
// context.ts holds what they share: the store, faults, timing, the wake-up request, status writes.
import type { Faults } from '../faults.ts'
import type { Store } from '../store.ts'
import type { ReconcileContext, WorldConfig } from './context.ts'
import { collectGarbage } from './garbage-collector.ts'
import { reconcileGatewayClasses } from './istio-install.ts'
import { reconcileGateways, updateGatewayStatus } from './gateways.ts'
import { WorkloadControllers } from './workloads.ts'
import { reconcileEnrolment } from './enrolment.ts'
import { Kubelet } from './pods.ts'
import { schedulePods } from './scheduler.ts'
import { updateRouteStatus } from './routes.ts'
import { updatePolicyStatus } from './policy-status.ts'
import { assignLoadBalancerAddresses } from './load-balancer.ts'
import { reconcileEndpoints } from './endpoints.ts'

export { NODE_NAME, DEFAULT_TIMING, type Timing, type WorldConfig } from './context.ts'
export { GATEWAY_CONTROLLER, MESH_CONTROLLER } from './istio-install.ts'
export { isProbePod } from './pods.ts'

/** What the control loop has done: passes run, and how long work waited for them (the bench counts rounds with it). */
export interface ControllerStats {
  passes: number
  /** Summed time from a pass being asked for to the time it was due (faults.controllerDelayMs included). */
  pendingMs: number
}

export class Controllers {
  readonly stats: ControllerStats = { passes: 0, pendingMs: 0 }
  private unsubscribe?: () => void
  private timer?: NodeJS.Timeout
  private wakeAt = Infinity
  /** When the pass now scheduled was first asked for. */
  private pendingSince = 0
  private running = false
  private dirty = false
  private stopped = false
  private passWaiters: (() => void)[] = []
  private readonly workloads = new WorkloadControllers()
  private readonly kubelet = new Kubelet()
  private readonly refusedUntil = new Map<string, number>()

  constructor(
    readonly store: Store,
    readonly faults: Faults,
    readonly config: WorldConfig,
  ) {}

  start(): void {
    this.unsubscribe = this.store.subscribe(() => this.kick())
    this.kick()
  }

  stop(): void {
    this.stopped = true
    this.unsubscribe?.()
    clearTimeout(this.timer)
    for (const w of this.passWaiters.splice(0)) w()
  }

  /** Schedules a reconcile pass soon (coalescing bursts of changes). */
  kick(delayMs = 5): void {
    if (this.stopped) return
    if (this.running) {
      this.dirty = true
      return
    }
    this.schedule(Date.now() + delayMs + this.faults.controllerDelayMs)
  }

  /** Resolves after the next complete reconcile pass. */
  nextPass(): Promise<void> {
    return new Promise((resolve) => {
      this.passWaiters.push(resolve)
      this.kick()
    })
  }

  private schedule(at: number): void {
    if (at >= this.wakeAt) return
    clearTimeout(this.timer)
    if (this.wakeAt === Infinity) this.pendingSince = Date.now()
    this.wakeAt = at
    this.timer = setTimeout(
      () => {
        this.stats.passes++
        this.stats.pendingMs += Math.max(0, this.wakeAt - this.pendingSince)
        this.wakeAt = Infinity
        void this.pass()
      },
      Math.max(0, at - Date.now()),
    )
  }

  private async pass(): Promise<void> {
    if (this.stopped) return
    this.running = true
    this.dirty = false
    let nextWake = Infinity
    const ctx: ReconcileContext = {
      store: this.store,
      faults: this.faults,
      config: this.config,
      wakeAt: (t) => (nextWake = Math.min(nextWake, t)),
      refusedUntil: this.refusedUntil,
    }
    try {
      collectGarbage(ctx)
      reconcileGatewayClasses(ctx)
      await reconcileGateways(ctx)
      this.workloads.reconcile(ctx)
      reconcileEnrolment(ctx)
      schedulePods(ctx)
      this.kubelet.reconcile(ctx)
      this.workloads.updateStatus(ctx)
      reconcileEndpoints(ctx)
      assignLoadBalancerAddresses(ctx)
      updateGatewayStatus(ctx)
      updateRouteStatus(ctx)
      updatePolicyStatus(ctx)
    } catch (error) {
      console.error('sim: reconcile pass failed:', error)
      ctx.wakeAt(Date.now() + 200)
    } finally {
      this.running = false
    }
    for (const w of this.passWaiters.splice(0)) w()
    if (this.stopped) return
    if (this.dirty) this.schedule(Date.now() + 5 + this.faults.controllerDelayMs)
    if (nextWake < Infinity) this.schedule(nextWake + this.faults.controllerDelayMs)
  }
}
