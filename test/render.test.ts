// --render: the manifests the runbook would apply, as files plus a kustomization.yaml that kubectl can build
// and the API server accepts, written without touching the cluster.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parse, parseAllDocuments } from 'yaml'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'

let world: RunbookWorld
test.before(async () => {
  world = await startWorld()
})
test.after(async () => {
  await world?.stop()
})

test("renders every manifest with the operator's values and a kustomization listing them in order", async () => {
  const dir = join(world.dir, 'rendered')
  const r = await world.run([
    ...world.flags,
    '--render',
    dir,
    '--namespace',
    'default',
    '--gateway-name',
    'web-gw',
    '--manager-principals',
    'cluster.local/ns/default/sa/ops',
  ])
  assert.is(r.code, 0, show(r))
  assert.not.ok(existsSync(world.stateFile), 'rendering writes no state')
  const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))
  assert.is(kustomization.kind, 'Kustomization')
  assert.equal(
    [...kustomization.resources].sort(),
    readdirSync(dir)
      .filter((f) => f !== 'kustomization.yaml')
      .sort(),
  )
  const objects = kustomization.resources.flatMap((f: string) =>
    parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS()),
  )
  const kinds = objects.map((o: any) => `${o.kind}/${o.metadata.name}`)
  assert.ok(kinds.includes('Gateway/web-gw'), kinds.join(', '))
  assert.ok(kinds.includes('NetworkPolicy/allow-only-manager-to-mongodb'), kinds.join(', '))
  assert.ok(kinds.includes('AuthorizationPolicy/gthulhu-gateway-allow-chrome-only'), kinds.join(', '))
  const gatewayPolicy = objects.find(
    (o: any) => o.kind === 'AuthorizationPolicy' && o.metadata.name === 'gthulhu-gateway-allow-chrome-only',
  )
  assert.equal(gatewayPolicy.spec.selector.matchLabels, { 'gateway.networking.k8s.io/gateway-name': 'web-gw' })
  const managerPolicy = objects.find((o: any) => o.kind === 'AuthorizationPolicy' && o.spec.targetRefs)
  assert.equal(managerPolicy.spec.rules[0].from[0].source.principals, ['cluster.local/ns/default/sa/ops'])
  // The order follows the steps: the Gateway before the NetworkPolicies before the AuthorizationPolicies.
  assert.ok(kinds.indexOf('Gateway/web-gw') < kinds.indexOf('NetworkPolicy/allow-only-manager-to-mongodb'))
  const built = await kubectl(world.sim.env, ['kustomize', dir])
  assert.is(built.code, 0, built.stderr)
  assert.match(built.stdout, /kind: AuthorizationPolicy/)
})

test('the rendered kustomization is accepted by the API server (server-side dry run)', async () => {
  const setup = await world.run([...world.flags, '--yes', '--only', 'preflight,istioctl,gateway-api-crds,ambient'])
  assert.is(setup.code, 0, show(setup))
  const dir = join(world.dir, 'rendered-for-apply')
  const r = await world.run([...world.flags, '--render', dir])
  assert.is(r.code, 0, show(r))
  const applied = await kubectl(world.sim.env, ['apply', '--server-side', '--dry-run=server', '-k', dir])
  assert.is(applied.code, 0, applied.stderr)
  assert.match(
    applied.stdout,
    /gateway\.gateway\.networking\.k8s\.io\/gthulhu-gw serverside-applied \(server dry run\)/,
  )
  const gateways = await kubectl(world.sim.env, ['get', 'gateways', '-A', '-o', 'name'])
  assert.is(gateways.stdout.trim(), '', 'a dry run creates nothing')
})

test('re-rendering into its own directory is fine; a directory with other files is refused with exit 2', async () => {
  const again = await world.run([...world.flags, '--render', join(world.dir, 'rendered')])
  assert.is(again.code, 0, show(again))
  const foreign = join(world.dir, 'someone-elses')
  mkdirSync(foreign)
  writeFileSync(join(foreign, 'notes.txt'), 'keep me')
  const refused = await world.run([...world.flags, '--render', foreign])
  assert.is(refused.code, 2, show(refused))
  assert.match(refused.stderr, /not empty and was not rendered by this runbook/)
  assert.is(readFileSync(join(foreign, 'notes.txt'), 'utf8'), 'keep me')
})

test('--render before preflight names a release prod as the chart does: prod-gthulhu-manager, prod-gthulhu, prod-mongodb', async () => {
  const dir = join(world.dir, 'rendered-prod')
  // A state file of its own: nothing recorded by an earlier run (no preflight facts), so the plans use the chart's rule.
  const fresh = ['--state-file', join(world.dir, 'prod-state.json')]
  const r = await world.run([...world.flags, ...fresh, '--render', dir, '--namespace', 'apps', '--release', 'prod'])
  assert.is(r.code, 0, show(r))
  const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))
  const objects = kustomization.resources.flatMap((f: string) =>
    parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS()),
  )
  const named = (kind: string, name: string) => objects.find((o: any) => o.kind === kind && o.metadata.name === name)
  assert.equal(named('HTTPRoute', 'gthulhu-manager-route').spec.rules[0].backendRefs, [
    { name: 'prod-gthulhu-manager', port: 8080 },
  ])
  const l7 = objects.find((o: any) => o.kind === 'AuthorizationPolicy' && o.spec.targetRefs)
  assert.equal(l7.spec.targetRefs, [{ kind: 'Service', group: '', name: 'prod-gthulhu-manager' }])
  assert.equal(l7.spec.rules[0].from[0].source.principals, ['cluster.local/ns/apps/sa/prod-gthulhu'])
  assert.equal(named('AuthorizationPolicy', 'gthulhu-mongodb-allow-manager').spec.rules[0].from[0].source.principals, [
    'cluster.local/ns/apps/sa/prod-gthulhu-manager',
  ])
  assert.equal(named('NetworkPolicy', 'allow-only-manager-to-mongodb').spec.podSelector.matchLabels, {
    'app.kubernetes.io/name': 'mongodb',
    'app.kubernetes.io/instance': 'prod',
    'app.kubernetes.io/component': 'mongodb',
  })
})

test.run()
