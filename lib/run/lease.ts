// The run lock: a coordination.k8s.io/v1 Lease in Gthulhu's namespace, so two runs against one cluster never
// interleave, whichever machine or directory they start from. Modelled on client-go's leader election
// (tools/leaderelection/leaderelection.go tryAcquireOrRenew, release; resourcelock/leaselock.go): the holder
// renews it while it runs; another run takes it over only once it has expired (or, on the same host, once its
// process is gone), and every write carries the resourceVersion it read, so when two runs race for one lease
// the API server's optimistic concurrency lets exactly one of them have it.
import { randomBytes } from 'node:crypto'
import { hostname, userInfo } from 'node:os'
import { CommandError, UsageError } from '../config/errors.ts'
import { text } from '../config/text.ts'
import type { Cluster } from '../kube/cluster.ts'
import { kubectlAccess } from '../kube/access.ts'
import type { ApiAccess, KubeObject } from '../types.ts'
import { clusterAccessError } from './cluster-access.ts'

export const LEASE_NAME = 'gthulhu-runbook'
/** How long a lease holds without renewal; a run renews it every quarter of that. */
export const LEASE_DURATION_SECONDS = 60
const RENEW_EVERY_MS = (LEASE_DURATION_SECONDS * 1000) / 4
const ANNOTATION = {
  host: 'gthulhu-runbook/holder-host',
  pid: 'gthulhu-runbook/holder-pid',
  dir: 'gthulhu-runbook/holder-dir',
  operation: 'gthulhu-runbook/operation',
  context: 'gthulhu-runbook/context',
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits (apimachinery pkg/apis/meta/v1/micro_time.go). */
export const microTime = (date: Date) => date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z')

interface LeaseView {
  holder?: string
  host?: string
  pid?: number
  dir?: string
  operation?: string
  acquired?: Date
  renewed?: Date
  expires?: Date
}

function view(lease: KubeObject): LeaseView {
  const spec = lease.spec ?? {}
  const notes = lease.metadata.annotations ?? {}
  const renewed = spec.renewTime ? new Date(spec.renewTime) : undefined
  const duration = Number(spec.leaseDurationSeconds ?? LEASE_DURATION_SECONDS)
  return {
    holder: spec.holderIdentity || undefined,
    host: notes[ANNOTATION.host],
    pid: notes[ANNOTATION.pid] ? Number(notes[ANNOTATION.pid]) : undefined,
    dir: notes[ANNOTATION.dir],
    operation: notes[ANNOTATION.operation],
    acquired: spec.acquireTime ? new Date(spec.acquireTime) : undefined,
    renewed,
    expires: renewed ? new Date(renewed.getTime() + duration * 1000) : undefined,
  }
}

/** One line naming who holds a lease, what it runs, since when and until when. */
export function describeHolder(lease: KubeObject): string {
  const v = view(lease)
  return text.record.holder(
    v.holder ?? '',
    v.operation,
    { host: v.host, pid: v.pid, dir: v.dir },
    { acquired: v.acquired?.toISOString(), renewed: v.renewed?.toISOString(), expires: v.expires?.toISOString() },
  )
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** What the lock asks of the API server: read the Lease, create it when there is none, renew and release it. */
export function leaseAccess(namespace: string): ApiAccess[] {
  const why = `the run's lock (Lease ${namespace}/${LEASE_NAME})`
  const lease = { namespace, names: [LEASE_NAME] }
  return [
    ...kubectlAccess.get('leases.coordination.k8s.io', lease, why),
    ...kubectlAccess.create('leases.coordination.k8s.io', { namespace, when: 'when there is none yet' }, why),
    ...kubectlAccess.replace('leases.coordination.k8s.io', lease, `${why}: held, renewed, released`),
  ]
}

const conflict = (error: unknown) =>
  error instanceof CommandError && /\((Conflict|AlreadyExists)\)|already exists|has been modified/.test(error.stderr)

export interface LeaseOptions {
  /** run, verify, rollback or uninstall: shown to a run that finds the lease held. */
  operation: string
  context?: string
  /** Called once when the lease is lost (another run took it, or it could not be renewed before it expired). */
  onLost?: (message: string) => void
  now?: () => Date
}

export class RunLease {
  /** Unique per process: a pid alone can repeat across hosts. */
  readonly identity = `${safeUser()}@${hostname()}/pid-${process.pid}/${randomBytes(3).toString('hex')}`
  private lease?: KubeObject
  private timer?: NodeJS.Timeout
  private renewing?: Promise<void>
  private lost = false

  constructor(
    private readonly cluster: Cluster,
    readonly namespace: string,
    private readonly options: LeaseOptions,
  ) {}

  private now(): Date {
    return this.options.now?.() ?? new Date()
  }

  get held(): boolean {
    return !!this.lease && !this.lost
  }

  private desired(previous: KubeObject | undefined, acquiring: boolean): KubeObject {
    const now = microTime(this.now())
    const transitions = Number(previous?.spec?.leaseTransitions ?? 0)
    const takingOver = acquiring && !!previous?.spec?.holderIdentity && previous.spec.holderIdentity !== this.identity
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: LEASE_NAME,
        namespace: this.namespace,
        ...(previous?.metadata.resourceVersion ? { resourceVersion: previous.metadata.resourceVersion } : {}),
        labels: { 'app.kubernetes.io/managed-by': 'gthulhu-runbook' },
        annotations: {
          [ANNOTATION.host]: hostname(),
          [ANNOTATION.pid]: String(process.pid),
          [ANNOTATION.dir]: process.cwd(),
          [ANNOTATION.operation]: this.options.operation,
          ...(this.options.context ? { [ANNOTATION.context]: this.options.context } : {}),
        },
      },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: LEASE_DURATION_SECONDS,
        acquireTime: acquiring ? now : (previous?.spec?.acquireTime ?? now),
        renewTime: now,
        leaseTransitions: transitions + (takingOver ? 1 : 0),
      },
    }
  }

  private async write(object: KubeObject, verb: 'create' | 'replace'): Promise<KubeObject> {
    const { stdout } = await this.cluster.kubectl([verb, '-f', '-', '-o', 'json'], {
      input: JSON.stringify(object),
      timeoutMs: 20_000,
    })
    return JSON.parse(stdout) as KubeObject
  }

  private read(): Promise<KubeObject | undefined> {
    return this.cluster.findJson<KubeObject>(['get', 'leases.coordination.k8s.io', LEASE_NAME, '-n', this.namespace])
  }

  private heldBy(lease: KubeObject): UsageError {
    const v = view(lease)
    return new UsageError(
      text.record.lockHeld(
        this.namespace,
        `${this.namespace}/${LEASE_NAME}`,
        describeHolder(lease),
        v.expires?.toISOString(),
      ),
    )
  }

  /**
   * Takes the lease, or throws a UsageError (exit 2) naming the run that holds it. Returns the holder it took
   * over from, when the lease had expired or its process on this host was gone.
   */
  async acquire(): Promise<{ tookOverFrom?: string }> {
    try {
      const current = await this.read()
      if (!current) {
        try {
          this.lease = await this.write(this.desired(undefined, true), 'create')
        } catch (error) {
          if (!conflict(error)) throw error
          const winner = await this.read()
          throw winner ? this.heldBy(winner) : error
        }
        this.startRenewing()
        return {}
      }
      const v = view(current)
      const expired = !v.expires || v.expires.getTime() < this.now().getTime()
      const goneHere = v.host === hostname() && v.pid !== undefined && v.pid !== process.pid && !processAlive(v.pid)
      if (v.holder && !expired && !goneHere) throw this.heldBy(current)
      try {
        this.lease = await this.write(this.desired(current, true), 'replace')
      } catch (error) {
        if (!conflict(error)) throw error
        // Another run wrote the lease between our read and our write: it has it, not us.
        const winner = await this.read()
        throw winner ? this.heldBy(winner) : error
      }
      this.startRenewing()
      return v.holder
        ? {
            tookOverFrom: text.record.tookOver(describeHolder(current), goneHere),
          }
        : {}
    } catch (error) {
      if (error instanceof UsageError) throw error
      throw clusterAccessError(error, this.namespace, this.options.context, "take the run's lock")
    }
  }

  private startRenewing(): void {
    this.timer = setInterval(() => {
      void this.renew()
    }, RENEW_EVERY_MS)
    this.timer.unref()
  }

  /** Renews once; a conflict (someone else wrote the lease) or a lease expired before renewal means it is lost. */
  async renew(): Promise<void> {
    if (this.renewing !== undefined) return this.renewing
    if (!this.lease || this.lost) return
    const renewedAt = new Date(this.lease.spec.renewTime).getTime()
    this.renewing = (async () => {
      try {
        this.lease = await this.write(this.desired(this.lease, false), 'replace')
      } catch (error) {
        const expired = renewedAt + LEASE_DURATION_SECONDS * 1000 < this.now().getTime()
        if (conflict(error) || expired) {
          const holder = await this.read().catch(() => undefined)
          this.loseLease(
            conflict(error)
              ? text.record.lockTaken(holder?.spec?.holderIdentity ? describeHolder(holder) : undefined)
              : text.record.lockNotRenewed((error as Error).message.split('\n').pop() ?? ''),
          )
        }
        // Otherwise a passing failure (network): the next renewal tries again.
      } finally {
        this.renewing = undefined
      }
    })()
    return this.renewing
  }

  private loseLease(message: string): void {
    if (this.lost) return
    this.lost = true
    clearInterval(this.timer)
    this.options.onLost?.(message)
  }

  private released(): KubeObject {
    // As client-go's release: the holder cleared, so the next run takes the lease without waiting for it to expire.
    const released = this.desired(this.lease, false)
    delete released.spec.holderIdentity
    released.spec.leaseDurationSeconds = 1
    delete released.metadata.annotations
    return released
  }

  /** Gives the lease back (best effort: a run that lost it has nothing to give back). */
  async release(): Promise<void> {
    clearInterval(this.timer)
    await this.renewing
    if (!this.lease || this.lost) return
    const released = this.released()
    this.lease = undefined
    try {
      await this.write(released, 'replace')
    } catch {
      // Lost, or the cluster is gone: the lease then expires on its own.
    }
  }

  /** The same, synchronously, for a second Ctrl-C that leaves at once. */
  releaseSync(): void {
    clearInterval(this.timer)
    if (!this.lease || this.lost) return
    const released = this.released()
    this.lease = undefined
    this.cluster.kubectlSync(['replace', '-f', '-', '-o', 'name'], { input: JSON.stringify(released) })
  }
}

function safeUser(): string {
  try {
    return userInfo().username
  } catch {
    return 'unknown'
  }
}
