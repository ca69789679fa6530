// A mesh someone installed with meshConfig.trustDomain example.org: the runbook adopts it, reads the trust domain
// from its mesh config and writes every principal in it, so the run ends hardened. This run also takes the
// guide's namespace-wide waypoint binding, where the policy on the waypoint refuses a Service someone else creates
// (with or without the waypoint label), and a namespace that sends ingress through the waypoint, which the manager
// Service's own label overrides when ingress is to skip it.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { show, startWorld, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'
import { installedIstioctl } from './sim-probes.ts'

let world: RunbookWorld

test.before(async () => {
  world = await startWorld({ cni: 'calico' })
})
test.after(async () => {
  await world?.stop()
})

test('a mesh in trust domain example.org ends hardened, with every principal in example.org', async () => {
  const istioctl = installedIstioctl('1.29.1')
  const install = await istioctl.run(world.sim.env, [
    'install',
    '--set',
    'profile=ambient',
    '--set',
    'meshConfig.trustDomain=example.org',
    '-y',
  ])
  assert.is(install.code, 0, install.stderr)
  const label = await kubectl(world.sim.env, ['label', 'namespace', 'default', 'istio.io/ingress-use-waypoint=true'])
  assert.is(label.code, 0, label.stderr)

  // -v: the test reads every check (an all-green step is otherwise one line) and what each step said.
  const r = await world.run([...world.flags, '--yes', '-v', '--waypoint-binding', 'namespace'], { timeoutMs: 600_000 })
  assert.is(r.code, 0, show(r))
  assert.match(
    r.stdout,
    /✔ the mesh's trust domain \(meshConfig\.trustDomain in istio-system\/istio\)\s+expected: [^\n]*\n\s+observed: example\.org/,
    show(r),
  )
  assert.is(world.state().facts.trustDomain, 'example.org')
  const policy = (name: string) =>
    world.kubectlJson('get', 'authorizationpolicies.security.istio.io', name, '-n', 'default')
  const principals = async (name: string) => (await policy(name)).spec.rules[0].from[0].source.principals
  assert.equal(await principals('gthulhu-manager-allow-waypoint-and-gateway'), [
    'example.org/ns/default/sa/waypoint',
    'example.org/ns/default/sa/gthulhu-gw-istio',
  ])
  assert.equal(await principals('gthulhu-mongodb-allow-manager'), ['example.org/ns/default/sa/gthulhu-manager'])
  assert.equal(await principals('manager-allow-scheduler-or-chrome'), ['example.org/ns/default/sa/gthulhu'])
  // The guide's form: every Service of the namespace uses the waypoint; the policy on it admits the manager too.
  const ns = await world.kubectlJson('get', 'namespace', 'default')
  assert.is(ns.metadata.labels['istio.io/use-waypoint'], 'waypoint')
  assert.equal(await principals('gthulhu-waypoint-allow-manager-callers'), [
    'example.org/ns/default/sa/gthulhu',
    'example.org/ns/default/sa/gthulhu-manager',
  ])
  // The legitimate callers still get through: the manager to its backends, the scheduler's identity to the manager.
  assert.match(r.stdout, /ServiceAccount gthulhu +│ ✔ HTTP 200 \/ HTTP 200/)
  assert.match(r.stdout, /manager \(gthulhu-manager's labels\) +│ ✔ answers \/ answers +│ ✔ HTTP 200 \/ HTTP 200/)
  // Namespace-wide, a Service without the waypoint label passes the waypoint too: it is open at identity-policies
  // (the waypoint forwards it with its own identity, which the manager admits) and refused by the waypoint's own
  // policy once l7-policies attaches it.
  assert.match(
    r.stdout,
    /⚠ enrolled pod, ServiceAccount default → another Service, unbound :8080: HTTP 403\s+expected: HTTP 403\s+observed: HTTP 200[^\n]*\n\s+→ this path is open: l7-policies has not been applied; the l7-policies step closes it \(waypoint L7\)/,
  )
  assert.match(
    r.stdout,
    /✔ enrolled pod, ServiceAccount default → another Service, unbound :8080: HTTP 403\s+expected: HTTP 403\s+observed: HTTP 403/,
  )
  assert.match(
    r.stdout,
    /✔ enrolled pod, ServiceAccount default → another Service on the waypoint :8080: HTTP 403\s+expected: HTTP 403\s+observed: HTTP 403/,
  )
  // The namespace sends ingress through the waypoint; without --ingress-via-waypoint the Service says false.
  const svc = await world.kubectlJson('get', 'service', 'gthulhu-manager', '-n', 'default')
  assert.is(svc.metadata.labels['istio.io/ingress-use-waypoint'], 'false')
  assert.match(
    r.stdout,
    /label istio\.io\/ingress-use-waypoint=false on Service gthulhu-manager \(namespace default says true\)/,
  )
  assert.match(r.stdout, /✔ gateway http:\/\/127\.0\.0\.1:\d+\/health with an allowed User-Agent .*: HTTP 200/)
  assert.equal(await world.probePodsLeft(), [])
})

test('undo puts the Service labels back as they were', async () => {
  const r = await world.run([...world.flags, '--yes', '--rollback', 'l7-policies'], { timeoutMs: 240_000 })
  assert.is(r.code, 0, show(r))
  const svc = await world.kubectlJson('get', 'service', 'gthulhu-manager', '-n', 'default')
  assert.is(svc.metadata.labels['istio.io/ingress-use-waypoint'], undefined)
})

test.run()
