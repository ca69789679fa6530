// The record lives in the cluster: after a full run the local state directory is deleted, and --verify,
// --rollback l4-policies and --resume still work from another directory with only --context (kubeconfig and
// mirrors from the environment, as `source DIR/env` gives them; no --install-dir, no --state-file; a HOME of its
// own, so nothing can land in the real ~/.local/bin). Simulated cluster, real CLI and kubectl.
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { fileSha256 } from '../lib/kube/cluster.ts'
import { decodeRecord, RECORD_TYPE } from '../lib/run/record.ts'
import { show, type RunbookWorld } from './harness.ts'
import { preparedWorld } from './fixtures.ts'
import { tempDir } from './temp-dir.ts'

let world: RunbookWorld
const home = tempDir('runbook-home-')
const elsewhere = tempDir('runbook-elsewhere-')

test.before(async () => {
  // The cluster after a full --yes run (saved once and shared with other test files, started again here).
  world = await preparedWorld({ cni: 'calico' })
})
test.after(async () => {
  await world?.stop()
})

/** The runbook from `elsewhere` with --context alone: no --install-dir (its variable unset too), no --state-file. */
const fromElsewhere = (args: string[]) =>
  world.run(['--context', world.sim.context, ...args], {
    cwd: elsewhere,
    env: { HOME: home, GTHULHU_RUNBOOK_INSTALL_DIR: undefined },
    timeoutMs: 600_000,
  })

async function revisions(): Promise<{ name: string; status: string; record: any; type: string }[]> {
  const { items } = await world.kubectlJson(
    'get',
    'secrets',
    '-n',
    'default',
    '-l',
    'owner=gthulhu-runbook,name=gthulhu',
  )
  return items
    .sort((a: any, b: any) => Number(a.metadata.labels.version) - Number(b.metadata.labels.version))
    .map((s: any) => ({
      name: s.metadata.name,
      status: s.metadata.labels.status,
      type: s.type,
      record: JSON.parse(decodeRecord(s.data.record)),
    }))
}

test('a full run keeps its record in a Secret in the namespace, like a Helm release, and gives the lock back', async () => {
  const [first] = await revisions()
  assert.equal([first.name, first.status, first.type], ['gthulhu-runbook.gthulhu.v1', 'done', RECORD_TYPE])
  assert.equal(first.record, world.state(), 'the local file is a copy of the record in the cluster')
  assert.ok(Object.values(first.record.steps).every((s: any) => s.status === 'done'))
  assert.is(first.record.facts.istioctlPath, join(world.installDir, 'istioctl'))
  assert.is(first.record.facts.istioctlSha256, fileSha256(join(world.installDir, 'istioctl')))
  const lease = await world.kubectlJson('get', 'lease', 'gthulhu-runbook', '-n', 'default')
  assert.is(lease.spec.holderIdentity, undefined, 'released when the run ended')
})

test('with the local state directory deleted, --verify, --rollback l4-policies and --resume work from another directory with only --context', async () => {
  rmSync(world.stateFile)
  rmSync(join(world.dir, '.gthulhu-runbook'), { recursive: true, force: true })

  const audit = await fromElsewhere(['--verify', '-v'])
  assert.is(audit.code, 0, show(audit))
  assert.match(
    audit.stdout,
    new RegExp(
      `record in Secret default/gthulhu-runbook\\.gthulhu\\.v1 \\(local copy ${elsewhere}/\\.gthulhu-runbook/`,
    ),
  )
  assert.match(audit.stdout, /everything the runbook set up still holds/)
  // The recorded istioctl, found without --install-dir (each step's checks are listed under -v).
  assert.match(
    audit.stdout,
    new RegExp(`✔ istioctl at ${join(world.installDir, 'istioctl')} is the binary the runbook verified`),
  )

  const rollback = await fromElsewhere(['--yes', '-v', '--rollback', 'l4-policies'])
  assert.is(rollback.code, 0, show(rollback))
  assert.match(rollback.stdout, /deleted networkpolic/)
  assert.equal((await world.kubectlJson('get', 'networkpolicies', '-n', 'default')).items, [])

  const resume = await fromElsewhere(['--yes', '--resume'])
  assert.is(resume.code, 0, show(resume))
  assert.match(resume.stdout, /done\s+l4-policies/)
  assert.not.match(resume.stdout, /done\s+preflight/, 'done steps are not repeated')
  assert.equal(
    (await world.kubectlJson('get', 'networkpolicies', '-n', 'default')).items.map((p: any) => p.metadata.name).sort(),
    ['allow-only-manager-to-mongodb', 'allow-only-manager-to-scheduler', 'gthulhu-manager-egress'],
  )

  const all = await revisions()
  assert.equal(
    all.map((r) => [r.name, r.status, r.record.steps['l4-policies'].status]),
    [
      ['gthulhu-runbook.gthulhu.v1', 'superseded', 'done'],
      ['gthulhu-runbook.gthulhu.v2', 'superseded', 'undone'],
      ['gthulhu-runbook.gthulhu.v3', 'done', 'done'],
    ],
  )
  const copy = join(elsewhere, '.gthulhu-runbook', `${world.sim.context}.json`)
  assert.equal(JSON.parse(readFileSync(copy, 'utf8')), all[2].record, 'the other directory now holds a copy')
  assert.not.ok(existsSync(join(home, '.local')), 'nothing was installed under HOME')
})

test.run()
