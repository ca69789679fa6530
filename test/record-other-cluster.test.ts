// A local copy of the record is of one cluster: its kube-system uid is written in it. A cluster made again under the
// same context name (kind delete + kind create) holds no record, and the copy of the old one's must not make its
// steps look done (a --resume that says "nothing to resume" on a cluster nothing hardened). The copy of this same
// cluster is still taken when the cluster's record is gone. Simulated clusters, real CLI and kubectl.
import { readFileSync, writeFileSync } from 'node:fs'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, worldAround, type RunbookWorld } from './harness.ts'
import { preparedWorld } from './fixtures.ts'
import { kubectl } from './kit.ts'
import { runbookFlags, startSimulator } from './sim/index.ts'

let hardened: RunbookWorld
let remade: RunbookWorld

test.before(async () => {
  // Both clusters answer to the same context name (gthulhu-sim); the second was never hardened.
  const [world, sim] = await Promise.all([preparedWorld({ cni: 'calico' }), startSimulator({ cni: 'calico' })])
  hardened = world
  remade = worldAround(sim)
})
test.after(async () => {
  await Promise.all([hardened?.stop(), remade?.stop()])
})

const uidOf = async (world: RunbookWorld) =>
  JSON.parse((await kubectl(world.sim.env, ['get', 'namespace', 'kube-system', '-o', 'json'])).stdout).metadata.uid

test("the copy of another cluster's record is not taken: nothing is done there, and the copy is kept beside", async () => {
  const oldCopy = readFileSync(hardened.stateFile, 'utf8')
  const [oldUid, newUid] = await Promise.all([uidOf(hardened), uidOf(remade)])
  assert.is(JSON.parse(oldCopy).clusterUid, oldUid, 'a run writes the cluster it hardened into its record')
  // The hardened world's local copy, the remade cluster's API server.
  const flags = runbookFlags(remade.sim, hardened.installDir, hardened.stateFile)
  const run = (args: string[]) => hardened.run([...flags, ...args], { env: remade.sim.env, timeoutMs: 300_000 })
  const dry = await run(['--dry-run', '--resume'])
  assert.is(dry.code, 0, show(dry))
  assert.not.match(dry.stdout + dry.stderr, /nothing to resume/)
  assert.match(
    dry.stdout,
    new RegExp(
      `local copy ${hardened.stateFile} is of another cluster \\(kube-system uid ${oldUid}; this one's is ${newUid}\\)`,
    ),
  )
  assert.is(readFileSync(hardened.stateFile, 'utf8'), oldCopy, 'a dry run moves nothing')
  const preflight = await run(['--yes', '--only', 'preflight'])
  assert.is(preflight.code, 0, show(preflight))
  const aside = hardened.stateFile.replace(/\.json$/, `.cluster-${oldUid}.json`)
  assert.is(readFileSync(aside, 'utf8'), oldCopy, "the other cluster's copy is kept, whole, beside")
  const now = JSON.parse(readFileSync(hardened.stateFile, 'utf8'))
  assert.is(now.clusterUid, newUid)
  assert.equal(Object.keys(now.steps), ['preflight'], 'only what ran here is done here')
})

test("the copy of this same cluster's record is taken when the cluster's record is gone", async () => {
  // The copy the test above kept beside is the hardened cluster's own; it comes back as the local copy, and the
  // cluster's record Secrets are deleted.
  const own = readFileSync(hardened.stateFile.replace(/\.json$/, `.cluster-${await uidOf(hardened)}.json`), 'utf8')
  writeFileSync(hardened.stateFile, own)
  const deleted = await kubectl(hardened.sim.env, ['delete', 'secrets', '-n', 'default', '-l', 'owner=gthulhu-runbook'])
  assert.is(deleted.code, 0, deleted.stderr)
  const resumed = await hardened.run([...hardened.flags, '--dry-run', '--resume'], { timeoutMs: 300_000 })
  // Every step of the copy is done: nothing to resume (a usage error).
  assert.is(resumed.code, 2, show(resumed))
  assert.match(resumed.stderr, /nothing to resume: every selected step is already done/)
  assert.not.match(resumed.stdout, /another cluster/)
})

test.run()
