// --print-rbac without a cluster: what it prints for a run and an audit, how the selection and the settings shape the
// roles, and how bad input is refused. (The roles are proven sufficient and used in least-privilege-*.test.ts.)
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseAllDocuments, stringify } from 'yaml'
import { loadConfig } from '../lib/config/options.ts'
import { rolesFor, type RoleSet } from '../lib/run/rbac.ts'
import { STEPS } from '../steps/index.ts'
import { runCommand } from './kit.ts'
import { runbookEntry } from './harness.ts'
import { tempDir } from './temp-dir.ts'

const cli = (args: string[]) =>
  runCommand(process.execPath, [...runbookEntry(), ...args], {
    env: { ...process.env, KUBECONFIG: '/nonexistent-kubeconfig', CI: 'true', NO_COLOR: '1' },
    timeoutMs: 60_000,
  })

const roles = (args: string[], operation: 'run' | 'verify', ids = STEPS.map((s) => s.id)) =>
  rolesFor(STEPS, ids, loadConfig(['-n', 'gthulhu', ...args], {}), operation)

/** Every permission as `scope verb group/resource[ name]`, one per verb and name. */
const permissions = (set: RoleSet) =>
  [['', set.cluster] as const, ...set.namespaced.map((n) => [n.namespace, n.rules] as const)].flatMap(
    ([scope, rules]) =>
      rules.flatMap((r) =>
        r.verbs.flatMap((verb) =>
          (r.resources ?? r.nonResourceURLs ?? []).flatMap((res) =>
            (r.resourceNames ?? ['']).map(
              (name) => `${scope || '*'} ${verb} ${r.apiGroups?.[0] ?? ''}/${res}${name ? ` ${name}` : ''}`,
            ),
          ),
        ),
      ),
  )

test('prints a ClusterRole, a Role per namespace and their bindings, as YAML kubectl applies, without a cluster', async () => {
  const printed = await cli(['--print-rbac', 'user:alice', '-n', 'gthulhu'])
  assert.is(printed.code, 0, printed.stderr)
  const objects = parseAllDocuments(printed.stdout).map((d) => d.toJS())
  const kinds = objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}`.trim())
  assert.equal(kinds, [
    'Namespace',
    'ClusterRole',
    'ClusterRoleBinding',
    'Role default',
    'RoleBinding default',
    'Role gthulhu',
    'RoleBinding gthulhu',
    'Role istio-system',
    'RoleBinding istio-system',
    'Role kube-public',
    'RoleBinding kube-public',
    'Role kube-system',
    'RoleBinding kube-system',
  ])
  assert.is(objects[0].metadata.name, 'istio-system', 'the namespace istioctl install would create is created first')
  for (const binding of objects.filter((o) => o.kind.endsWith('Binding')))
    assert.equal(binding.subjects, [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }])
  // Every rule says why it is there: a comment right above it.
  const lines = printed.stdout.split('\n')
  const rules = lines.flatMap((line, i) => (/^- (apiGroups|nonResourceURLs):/.test(line) ? [i] : []))
  assert.ok(rules.length > 20)
  assert.equal(
    rules.filter((i) => !lines[i - 1].startsWith('#')).map((i) => lines[i]),
    [],
  )
  assert.match(printed.stdout, /⚠ The ambient step runs istioctl install/)
  const json = await cli(['--print-rbac', 'serviceaccount:ops:auditor', '--verify', '-n', 'gthulhu', '-o', 'json'])
  assert.is(json.code, 0, json.stderr)
  const list = JSON.parse(json.stdout)
  assert.is(list.kind, 'List')
  assert.equal(list.items[1].subjects, [{ kind: 'ServiceAccount', name: 'auditor', namespace: 'ops' }])
  assert.not.ok(
    list.items.some((o: any) => o.kind === 'Namespace'),
    'an audit creates no namespace',
  )
})

test('an audit needs a subset of what a run needs, and writes nothing but its probes, the lock and dry runs', () => {
  const run = new Set(permissions(roles([], 'run')))
  const audit = permissions(roles([], 'verify'))
  const beyond = audit.filter((p) => {
    const [scope, verb, what, names] = p.split(' ')
    // A run's cluster-wide or unnamed grant covers the audit's narrower one.
    return ![p, `* ${verb} ${what}${names ? ` ${names}` : ''}`, `${scope} ${verb} ${what}`, `* ${verb} ${what}`].some(
      (q) => run.has(q),
    )
  })
  assert.equal(beyond, [])
  const writes = audit.filter((p) => /^\S+ (update|delete|escalate|bind) /.test(p)).sort()
  assert.equal(writes, [
    '* delete /namespaces',
    'gthulhu delete /pods',
    'gthulhu delete /services',
    'gthulhu update coordination.k8s.io/leases gthulhu-runbook',
  ])
})

test('the settings and the selection shape the roles: no probes, no Istio install, no admission policy', () => {
  const all = permissions(roles([], 'run'))
  const noProbes = permissions(roles(['--no-probes'], 'verify'))
  assert.not.ok(
    noProbes.some((p) => p.includes('/namespaces') && p.includes('create')),
    'no namespaces of its own',
  )
  assert.not.ok(
    noProbes.some((p) => p.includes('/pods/log')),
    'no probe logs',
  )
  assert.ok(all.some((p) => p.includes('escalate rbac.authorization.k8s.io/clusterroles')))
  const withoutAmbient = permissions(
    roles(
      ['--skip', 'ambient'],
      'run',
      STEPS.map((s) => s.id).filter((id) => id !== 'ambient'),
    ),
  )
  assert.not.ok(
    withoutAmbient.some((p) => /escalate|bind/.test(p.split(' ')[1])),
    withoutAmbient.join('\n'),
  )
  assert.not.ok(withoutAmbient.some((p) => p.includes('mutatingwebhookconfigurations')))
  const noPolicy = permissions(roles(['--no-admission-policy'], 'run'))
  assert.not.ok(noPolicy.some((p) => p.includes('validatingadmissionpolicies') && p.includes('patch')))
  assert.ok(
    noPolicy.some((p) => p.includes('impersonate /users')),
    'the insider is still played: its paths are tried',
  )
})

test('--print-rbac refuses a subject it cannot bind, and combinations that make no sense', async () => {
  for (const subject of ['alice', 'user:', 'serviceaccount:ops', 'serviceaccount:Ops:x', 'robot:x']) {
    const r = await cli(['--print-rbac', subject])
    assert.is(r.code, 2, `${subject}: ${r.stdout}${r.stderr}`)
    assert.match(r.stderr, `"${subject}" is not a subject: use user:NAME, group:NAME or serviceaccount:NAMESPACE:NAME`)
  }
  const render = await cli(['--print-rbac', 'user:alice', '--render', '/tmp/x'])
  assert.is(render.code, 2)
  assert.match(render.stderr, '--print-rbac cannot be combined with --render')
})

test('--print-rbac refuses a context or kubeconfig that does not exist instead of printing roles for default', async () => {
  const dir = tempDir('runbook-print-rbac-')
  const kubeconfig = join(dir, 'kubeconfig')
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:9' } }],
      contexts: [{ name: 'prod', context: { cluster: 'c', namespace: 'gthulhu' } }],
      'current-context': 'prod',
    }),
  )
  const typo = await cli(['--print-rbac', 'user:alice', '--kubeconfig', kubeconfig, '--context', 'prd'])
  assert.is(typo.code, 2, typo.stdout + typo.stderr)
  assert.match(typo.stderr, '--context: no context "prd" in the kubeconfig; valid: prod')
  assert.is(typo.stdout, '')
  const missing = await cli(['--print-rbac', 'user:alice', '--kubeconfig', join(dir, 'nope'), '--context', 'prod'])
  assert.is(missing.code, 2, missing.stdout + missing.stderr)
  assert.match(missing.stderr, `the file ${join(dir, 'nope')} does not exist`)
  const named = await cli(['--print-rbac', 'user:alice', '--kubeconfig', kubeconfig, '--context', 'prod'])
  assert.is(named.code, 0, named.stderr)
  assert.match(named.stdout, /namespace: gthulhu/, "the context's namespace")
})

test.run()
