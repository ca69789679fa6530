// The contexts the runbook reads from kubeconfig files itself are the ones `kubectl config view` reports for the
// same files and environment (real kubectl is the oracle): one file, several merged through KUBECONFIG (first to name
// a context, a cluster or the current context wins; missing and repeated files skipped), an empty file. A file that
// is not plain YAML of that shape is left to kubectl, whose error the runbook reports.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Cluster } from '../lib/kube/cluster.ts'
import { contextsOf, kubeconfigFiles, mergedView, readContexts } from '../lib/kube/kubeconfig.ts'
import { UsageError } from '../lib/config/errors.ts'

const dir = mkdtempSync(join(tmpdir(), 'runbook-kubeconfig-'))
test.after(() => rmSync(dir, { recursive: true, force: true }))

const file = (name: string, text: string) => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}
const kubeconfig = (clusters: [string, string][], contexts: [string, string, string?][], current?: string) =>
  [
    'apiVersion: v1',
    'kind: Config',
    ...(current ? [`current-context: ${current}`] : []),
    'clusters:',
    ...clusters.map(([name, server]) => `- name: ${name}\n  cluster:\n    server: ${server}`),
    'contexts:',
    ...contexts.map(
      ([name, cluster, namespace]) =>
        `- name: ${name}\n  context:\n    cluster: ${cluster}${namespace ? `\n    namespace: ${namespace}` : ''}`,
    ),
    'users: []',
  ].join('\n')

/** What kubectl reports for the environment, as contexts. */
function kubectlSays(env: NodeJS.ProcessEnv, flag?: string) {
  const out = execFileSync('kubectl', ['config', 'view', '-o', 'json', ...(flag ? ['--kubeconfig', flag] : [])], {
    env: { PATH: process.env.PATH, HOME: dir, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  })
  return contextsOf(JSON.parse(out))
}

const a = file(
  'a',
  kubeconfig(
    [
      ['one', 'https://one:6443'],
      ['two', 'https://two:6443'],
    ],
    [
      ['ctx-x', 'one', 'ns-x'],
      ['ctx-y', 'two'],
    ],
    'ctx-y',
  ),
)
const b = file(
  'b',
  kubeconfig(
    [
      ['two', 'https://other:6443'],
      ['three', 'https://three:6443'],
    ],
    [
      ['ctx-y', 'three', 'ns-y'],
      ['ctx-z', 'three'],
    ],
    'ctx-z',
  ),
)
const c = file('c', kubeconfig([['four', 'https://four:6443']], [['ctx-w', 'four']]))
const empty = file('empty', '')

test('one file, and several merged through KUBECONFIG, as kubectl merges them', () => {
  const cases: { env: NodeJS.ProcessEnv; flag?: string }[] = [
    { env: {}, flag: a },
    { env: { KUBECONFIG: [a, b].join(delimiter) } },
    { env: { KUBECONFIG: [b, a].join(delimiter) } },
    // No current-context in the first file: the next one's counts.
    { env: { KUBECONFIG: [c, join(dir, 'missing'), b, a, b, empty].join(delimiter) } },
    { env: { KUBECONFIG: [empty, c].join(delimiter) } },
    // Neither: ~/.kube/config (here, none).
    { env: {} },
  ]
  for (const { env, flag } of cases) {
    const mine = mergedView(kubeconfigFiles(flag, { HOME: dir, ...env }))
    assert.ok(mine, JSON.stringify({ env, flag }))
    assert.equal(contextsOf(mine!), kubectlSays(env, flag), JSON.stringify({ env, flag }))
  }
})

test('a file that is not plain kubeconfig YAML is left to kubectl, whose words name the problem', async () => {
  const broken = file('broken', 'contexts: [unclosed\n')
  const oddShape = file('odd', 'contexts: {x: 1}\n')
  // YAML 1.1, as kubectl reads it: an unquoted y is a boolean, so kubectl refuses the file.
  const yesName = file('yes', kubeconfig([['one', 'https://one:6443']], [['y', 'one']], 'y'))
  for (const path of [broken, oddShape, yesName]) assert.is(mergedView([path]), undefined, path)
  assert.throws(() => kubectlSays({}, yesName))
  const error = await readContexts(new Cluster({ timeoutMs: 120_000 }), broken).catch((e) => e)
  assert.instance(error, UsageError)
  assert.match(error.message, new RegExp(`cannot read the kubeconfig ${broken}: `))
})

test.run()
