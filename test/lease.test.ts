// The run's lock (a coordination.k8s.io/v1 Lease) and the record's revisions, in process against the simulated
// API server through the real kubectl (its proxy, as a run sends them): who may take a lease, that two runs racing
// for an expired one never both get it, that a holder notices when it has lost it, and that a record written from
// a stale copy is refused.
import { writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { UsageError } from '../lib/config/errors.ts'
import { Cluster } from '../lib/kube/cluster.ts'
import { LEASE_NAME, microTime, RunLease } from '../lib/run/lease.ts'
import { ClusterRecord, readRecord, RecordConflict } from '../lib/run/record.ts'
import { startApiServer, type ApiServer } from './sim/apiserver.ts'
import { registerBuiltinTypes } from './sim/builtin-types.ts'
import { noFaults } from './sim/faults.ts'
import { Store } from './sim/store.ts'
import { tempDir } from './temp-dir.ts'

const store = new Store()
registerBuiltinTypes(store)
const namespaces = store.allTypes().find((rt) => rt.plural === 'namespaces')!
store.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gthulhu' } })
let server: ApiServer
let cluster: Cluster
const dir = tempDir('lease-test-')
const env = { KUBECONFIG: join(dir, 'kubeconfig'), KUBECACHEDIR: join(dir, 'cache') }

test.before(async () => {
  server = await startApiServer({ store, faults: noFaults(), kubernetesVersion: '1.33.1' })
  writeFileSync(
    env.KUBECONFIG,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'sim', cluster: { server: server.url } }],
      users: [{ name: 'op', user: { token: 'x' } }],
      contexts: [{ name: 'sim', context: { cluster: 'sim', user: 'op' } }],
      'current-context': 'sim',
    }),
  )
  process.env.KUBECACHEDIR = env.KUBECACHEDIR
  // Through one kubectl proxy, as a run sends its lease and record requests (runbook.ts).
  cluster = new Cluster({ kubeconfig: env.KUBECONFIG, context: 'sim', timeoutMs: 30_000, apiProxy: true })
})
test.after(async () => {
  cluster?.close()
  await server?.close()
})

const leases = store.allTypes().find((rt) => rt.plural === 'leases')!
/** The lease as the API server holds it (read from the simulator's store: the runs under test use kubectl). */
const readLease = async () => store.get(leases, 'gthulhu', LEASE_NAME) as any

/** Writes the lease as a run on another machine left it: held by `holder`, renewed `ageSeconds` ago. */
async function plantLease(holder: string, ageSeconds: number): Promise<void> {
  const current = store.get(leases, 'gthulhu', LEASE_NAME)
  const renewed = microTime(new Date(Date.now() - ageSeconds * 1000))
  const lease = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: LEASE_NAME,
      namespace: 'gthulhu',
      annotations: { 'gthulhu-runbook/holder-host': 'elsewhere', 'gthulhu-runbook/holder-pid': '77' },
    },
    spec: { holderIdentity: holder, leaseDurationSeconds: 60, acquireTime: renewed, renewTime: renewed },
  }
  if (current) store.update(leases, lease, current.metadata.resourceVersion)
  else store.create(leases, lease)
}

const lease = (operation = 'run') => new RunLease(cluster, 'gthulhu', { operation })

test('a lease held and renewed by another run is refused with exit 2, naming the holder and when it expires', async () => {
  await plantLease('ops@elsewhere/pid-77/abc', 5)
  try {
    await lease().acquire()
    assert.unreachable('the lease is held')
  } catch (error) {
    assert.instance(error, UsageError)
    assert.match(
      (error as Error).message,
      /another run holds the lock on namespace gthulhu \(Lease gthulhu\/gthulhu-runbook\): ops@elsewhere\/pid-77\/abc \(on elsewhere, pid 77\); .*expires .* unless renewed/,
    )
  }
  assert.is((await readLease()).spec.holderIdentity, 'ops@elsewhere/pid-77/abc', 'the holder keeps it')
})

test('an expired lease is taken over, with the holder it was taken from; release hands it back at once', async () => {
  await plantLease('ops@elsewhere/pid-77/abc', 600)
  const mine = lease()
  const taken = await mine.acquire()
  assert.match(taken.tookOverFrom ?? '', /ops@elsewhere\/pid-77\/abc .* the lease had expired/)
  const held = await readLease()
  assert.is(held.spec.holderIdentity, mine.identity)
  assert.is(held.spec.leaseTransitions, 1)
  assert.match(held.spec.renewTime, /\.\d{6}Z$/, 'a MicroTime, as the API server parses it')
  await mine.release()
  const released = await readLease()
  assert.is(released.spec.holderIdentity, undefined, 'released: the next run need not wait for it to expire')
  const next = lease()
  assert.equal(await next.acquire(), {})
  await next.release()
})

test('a lease left by a process on this host that is gone is taken over without waiting for it to expire', async () => {
  const current = await readLease()
  store.update(leases, {
    ...current,
    metadata: {
      ...current.metadata,
      annotations: { 'gthulhu-runbook/holder-host': hostname(), 'gthulhu-runbook/holder-pid': '999999' },
    },
    spec: { holderIdentity: 'me@here/pid-999999/dead', leaseDurationSeconds: 60, renewTime: microTime(new Date()) },
  })
  const mine = lease()
  assert.match((await mine.acquire()).tookOverFrom ?? '', /pid-999999.*that process is gone/)
  await mine.release()
})

test('two runs taking over one expired lease at once: exactly one gets it, in each of 20 trials', async () => {
  for (let trial = 0; trial < 20; trial++) {
    await plantLease(`stale-${trial}`, 600)
    const runs = [lease(), lease()]
    const outcomes = await Promise.allSettled(runs.map((r) => r.acquire()))
    const winners = outcomes.filter((o) => o.status === 'fulfilled')
    assert.is(winners.length, 1, `trial ${trial}: ${outcomes.map((o) => o.status).join(', ')}`)
    const loser = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult
    assert.instance(loser.reason, UsageError)
    const winner = runs[outcomes.indexOf(winners[0])]
    assert.ok(
      (loser.reason as Error).message.includes(winner.identity),
      `the loser names the winner: ${(loser.reason as Error).message}`,
    )
    assert.is((await readLease()).spec.holderIdentity, winner.identity)
    await winner.release()
  }
})

test('a holder whose lease was taken notices at its next renewal and stops', async () => {
  const lost: string[] = []
  const mine = new RunLease(cluster, 'gthulhu', { operation: 'run', onLost: (m) => void lost.push(m) })
  await mine.acquire()
  // Someone forces the lease away (as a takeover after a long stall would).
  await plantLease('thief@elsewhere/pid-1/zzz', 0)
  await mine.renew()
  assert.is(lost.length, 1)
  assert.match(lost[0], /the run's lock was taken by another run \(thief@elsewhere\/pid-1\/zzz/)
  assert.not.ok(mine.held)
  await mine.release() // a lost lease is not "released": the thief keeps it
  assert.is((await readLease()).spec.holderIdentity, 'thief@elsewhere/pid-1/zzz')
})

test('record revisions: a new revision per run, the previous one superseded, a write from a stale copy refused (409)', async () => {
  const first = new ClusterRecord(cluster, 'gthulhu', 'gthulhu', [])
  await first.begin('{"format":"one"}', { operation: 'run', context: 'sim', holder: 'a' })
  await first.write('{"format":"two"}', 'done')
  const read = await readRecord(cluster, 'gthulhu', 'gthulhu')
  assert.equal(read.latest?.data, { format: 'two' })
  assert.is(read.latest?.revision.name, 'gthulhu-runbook.gthulhu.v1')
  assert.is(read.latest?.revision.status, 'done')

  const second = new ClusterRecord(cluster, 'gthulhu', 'gthulhu', read.revisions)
  await second.begin('{"format":"three"}', { operation: 'rollback', context: 'sim', holder: 'b' })
  await second.retire()
  const after = await readRecord(cluster, 'gthulhu', 'gthulhu')
  assert.equal(
    after.revisions.map((r) => [r.name, r.status]),
    [
      ['gthulhu-runbook.gthulhu.v1', 'superseded'],
      ['gthulhu-runbook.gthulhu.v2', 'running'],
    ],
  )
  // A third writer that read v2 before `second` wrote it again.
  const stale = new ClusterRecord(cluster, 'gthulhu', 'gthulhu', after.revisions)
  stale.current = after.revisions[1]
  await second.write('{"format":"four"}')
  try {
    await stale.write('{"format":"stale"}')
    assert.unreachable('a stale write must be refused')
  } catch (error) {
    assert.instance(error, RecordConflict)
    assert.match((error as Error).message, /was written by someone else since this run read it/)
  }
  // Two runs that both read v2 and start v3: the API server lets one create it.
  const racers = [0, 1].map(() => new ClusterRecord(cluster, 'gthulhu', 'gthulhu', after.revisions))
  const raced = await Promise.allSettled(
    racers.map((r) => r.begin('{"format":"five"}', { operation: 'run', context: 'sim', holder: 'c' })),
  )
  assert.is(raced.filter((o) => o.status === 'fulfilled').length, 1)
  assert.instance((raced.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason, RecordConflict)
})

test('only the latest 10 revisions are kept', async () => {
  let revisions = (await readRecord(cluster, 'gthulhu', 'gthulhu')).revisions
  for (let i = 0; i < 10; i++) {
    const record = new ClusterRecord(cluster, 'gthulhu', 'gthulhu', revisions)
    await record.begin('{}', { operation: 'run', context: 'sim', holder: 'h' })
    await record.retire()
    revisions = (await readRecord(cluster, 'gthulhu', 'gthulhu')).revisions
  }
  assert.is(revisions.length, 10)
  assert.is(revisions.at(-1)!.version, 13)
  assert.is(revisions[0].version, 4)
})

test.run()
