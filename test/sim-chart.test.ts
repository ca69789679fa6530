// The simulated Gthulhu against the Helm chart it stands for: a table of the names, labels, containers, ports,
// probes and ServiceAccounts that `helm install` renders from Gthulhu/Gthulhu v1.3.0 chart/gthulhu, written by
// reading the templates (not produced by the simulator), compared with what real kubectl reads from simulators
// started with other release names, namespaces and chart values.
//
// Read at the tag: templates/_helpers.tpl (fullname, labels), templates/deployment.yaml, templates/service.yaml,
// templates/serviceaccount.yaml, templates/rbac.yaml, templates/configmap.yaml, templates/mtls-secret.yaml,
// templates/namespace.yaml; charts/mongodb/templates/{_helpers.tpl,statefulset.yaml,service.yaml,secret-*.yaml}.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parse } from 'yaml'
import { startSimulator, type SimOptions, type Simulator } from './sim/index.ts'
import { kubectl } from './kit.ts'

interface Container {
  ports: string[] // "name:number"
  readiness?: string // "httpGet /health http" | "tcpSocket 8080"
  image?: string
}
interface Workload {
  kind: 'deployment' | 'daemonset' | 'statefulset'
  serviceAccount: string | undefined
  podLabels: Record<string, string>
  containers: Record<string, Container>
}
interface Service {
  labels: Record<string, string>
  selector: Record<string, string>
  headless: boolean
  ports: string[] // "name:port→targetPort"
}
interface Rendered {
  workloads: Record<string, Workload>
  services: Record<string, Service>
  serviceAccounts: string[]
  secrets: string[]
  configMaps: string[]
}

// ---- the table, from the chart's templates ----

const chartLabels = (release: string, component?: string) => ({
  'helm.sh/chart': 'gthulhu-0.1.0',
  'app.kubernetes.io/name': 'gthulhu',
  'app.kubernetes.io/instance': release,
  'app.kubernetes.io/version': '1.0.0',
  'app.kubernetes.io/managed-by': 'Helm',
  ...(component ? { 'app.kubernetes.io/component': component } : {}),
})
const select = (release: string, component: string) => ({
  'app.kubernetes.io/name': 'gthulhu',
  'app.kubernetes.io/instance': release,
  'app.kubernetes.io/component': component,
})
const mongoSelect = (release: string) => ({
  'app.kubernetes.io/name': 'mongodb',
  'app.kubernetes.io/instance': release,
  'app.kubernetes.io/component': 'mongodb',
})

/**
 * What the chart renders for a release whose fullname is `full` (prod → prod-gthulhu; gthulhu → gthulhu;
 * my-gthulhu → my-gthulhu) and whose MongoDB subchart fullname is `mongo` (prod → prod-mongodb).
 */
function chartTable(
  release: string,
  full: string,
  mongo: string,
  values: { mtls: boolean; monitoring: boolean },
): Rendered {
  const services: Record<string, Service> = {
    [`${full}-manager`]: {
      labels: chartLabels(release, 'manager'),
      selector: select(release, 'manager'),
      headless: false,
      ports: ['http:8080→8080'],
    },
    // The sidecar Service selects the scheduler pods by component; `app: decisionmaker` is not in it.
    [`${full}-scheduler-sidecar`]: {
      labels: chartLabels(release, 'scheduler'),
      selector: select(release, 'scheduler'),
      headless: true,
      ports: ['http:8080→8080'],
    },
    [mongo]: {
      labels: {
        'helm.sh/chart': 'mongodb-0.1.0',
        ...mongoSelect(release),
        'app.kubernetes.io/version': '8.2.2',
        'app.kubernetes.io/managed-by': 'Helm',
      },
      selector: mongoSelect(release),
      headless: true,
      ports: ['mongo:27017→27017'],
    },
  }
  if (values.monitoring)
    services[`${full}-scheduler-monitor`] = {
      labels: chartLabels(release, 'monitor'),
      selector: select(release, 'scheduler'),
      headless: true,
      ports: ['monitor-metrics:9090→monitor-metrics'],
    }
  return {
    workloads: {
      [`${full}-manager`]: {
        kind: 'deployment',
        serviceAccount: `${full}-manager`,
        podLabels: select(release, 'manager'),
        containers: {
          manager: {
            ports: ['http:8080'],
            readiness: 'httpGet /health http',
            image: 'ghcr.io/gthulhu/gthulhu-api:develop',
          },
        },
      },
      [`${full}-scheduler`]: {
        kind: 'daemonset',
        serviceAccount: full,
        podLabels: { ...select(release, 'scheduler'), app: 'decisionmaker' },
        containers: {
          'gthulhu-scheduler': {
            ports: values.monitoring ? ['monitor-metrics:9090'] : [],
            image: 'ghcr.io/gthulhu/gthulhu-scx:develop',
          },
          'scheduler-sidecar': {
            ports: ['http:8080'],
            readiness: values.mtls ? 'tcpSocket 8080' : 'httpGet /health http',
            image: 'ghcr.io/gthulhu/gthulhu-api:develop',
          },
        },
      },
      // No serviceAccountName in the subchart's StatefulSet: its pods run as the namespace's default account.
      [mongo]: {
        kind: 'statefulset',
        serviceAccount: undefined,
        podLabels: mongoSelect(release),
        containers: { mongo: { ports: ['mongo:27017'], readiness: 'tcpSocket 27017', image: 'mongo:8.2.2' } },
      },
    },
    services,
    serviceAccounts: [full, `${full}-manager`].sort(),
    secrets: [
      `${mongo}-auth`,
      `${mongo}-keyfile`,
      ...(values.mtls ? [`${full}-mtls-certs`, `${full}-scheduler-mtls-config`] : []),
    ].sort(),
    configMaps: [`${full}-scheduler-config`],
  }
}

// ---- what kubectl reads from the simulator ----

const withoutNoise = (labels: Record<string, string> = {}) =>
  Object.fromEntries(
    Object.entries(labels).filter(([k]) => !['pod-template-hash', 'controller-revision-hash'].includes(k)),
  )

function readiness(probe: any): string | undefined {
  if (!probe) return undefined
  if (probe.httpGet) return `httpGet ${probe.httpGet.path} ${probe.httpGet.port}`
  if (probe.tcpSocket) return `tcpSocket ${probe.tcpSocket.port}`
  return 'other'
}

async function observe(sim: Simulator, ns: string): Promise<Rendered> {
  const list = async (kinds: string) => {
    const r = await kubectl(sim.env, ['get', kinds, '-n', ns, '-o', 'json'])
    assert.is(r.code, 0, r.stderr)
    return JSON.parse(r.stdout).items as any[]
  }
  const [workloads, services, accounts, secrets, configMaps] = await Promise.all([
    list('deployments,daemonsets,statefulsets'),
    list('services'),
    list('serviceaccounts'),
    list('secrets'),
    list('configmaps'),
  ])
  return {
    workloads: Object.fromEntries(
      workloads.map((w) => [
        w.metadata.name,
        {
          kind: w.kind.toLowerCase(),
          serviceAccount: w.spec.template.spec.serviceAccountName,
          podLabels: withoutNoise(w.spec.template.metadata.labels),
          containers: Object.fromEntries(
            w.spec.template.spec.containers.map((c: any) => [
              c.name,
              {
                ports: (c.ports ?? []).map((p: any) => `${p.name}:${p.containerPort}`),
                ...(c.readinessProbe ? { readiness: readiness(c.readinessProbe) } : {}),
                image: c.image,
              },
            ]),
          ),
        },
      ]),
    ),
    // The release's Services: those Helm manages (not the cluster's own `kubernetes` Service).
    services: Object.fromEntries(
      services
        .filter((s) => s.metadata.labels?.['app.kubernetes.io/managed-by'] === 'Helm')
        .map((s) => [
          s.metadata.name,
          {
            labels: s.metadata.labels,
            selector: s.spec.selector,
            headless: s.spec.clusterIP === 'None',
            ports: s.spec.ports.map((p: any) => `${p.name}:${p.port}→${p.targetPort}`),
          },
        ]),
    ),
    serviceAccounts: accounts
      .map((a) => a.metadata.name)
      .filter((n) => n !== 'default')
      .sort(),
    secrets: secrets.map((s) => s.metadata.name).sort(),
    configMaps: configMaps.map((c) => c.metadata.name),
  }
}

const sims: Simulator[] = []
async function simulator(options: SimOptions): Promise<Simulator> {
  const sim = await startSimulator({ cni: 'none', ...options })
  sims.push(sim)
  return sim
}
test.after(async () => {
  await Promise.all(sims.map((s) => s.stop()))
})

test('release prod in namespace apps, mTLS on, monitoring off: every name follows <release>-gthulhu, MongoDB prod-mongodb', async () => {
  const sim = await simulator({
    release: 'prod',
    namespace: 'apps',
    chart: { mtls: true, monitoring: false, scheduling: false },
  })
  assert.equal(
    await observe(sim, 'apps'),
    chartTable('prod', 'prod-gthulhu', 'prod-mongodb', { mtls: true, monitoring: false }),
  )
  // mtls.enabled: both sides get their switch from the environment (DM_* / MANAGER_* read by viper).
  const ds = await kubectl(sim.env, ['get', 'ds', 'prod-gthulhu-scheduler', '-n', 'apps', '-o', 'json'])
  const sidecar = JSON.parse(ds.stdout).spec.template.spec.containers.find((c: any) => c.name === 'scheduler-sidecar')
  assert.equal(
    sidecar.env.find((e: any) => e.name === 'DM_MTLS_ENABLE'),
    { name: 'DM_MTLS_ENABLE', value: 'true' },
  )
  assert.equal(sidecar.livenessProbe.tcpSocket, { port: 8080 })
  // scheduler.scheduling.enabled=false: the scheduler's configuration says mode "none".
  const cm = await kubectl(sim.env, ['get', 'cm', 'prod-gthulhu-scheduler-config', '-n', 'apps', '-o', 'json'])
  assert.is(parse(JSON.parse(cm.stdout).data['config.yaml']).scheduler.mode, 'none')
  const mongo = await kubectl(sim.env, ['get', 'sts', 'prod-mongodb', '-n', 'apps', '-o', 'json'])
  const spec = JSON.parse(mongo.stdout).spec
  assert.is(spec.serviceName, 'prod-mongodb')
  assert.ok(spec.template.spec.containers[0].args.includes('--auth'), 'mongod runs with --auth')
  assert.ok(spec.template.spec.containers[0].args.includes('--keyFile'), 'mongod runs with --keyFile')
  assert.equal(
    spec.template.spec.initContainers.map((c: any) => `${c.name} ${c.image}`),
    ['fix-keyfile-permissions busybox:1.36'],
  )
  // The manager reaches MongoDB by the pod's DNS name under the release name (gthulhu.mongodbHost).
  const deploy = await kubectl(sim.env, ['get', 'deploy', 'prod-gthulhu-manager', '-n', 'apps', '-o', 'json'])
  const env = JSON.parse(deploy.stdout).spec.template.spec.containers[0].env
  assert.is(
    env.find((e: any) => e.name === 'MANAGER_MONGODB_HOST').value,
    'prod-mongodb-0.prod-mongodb.apps.svc.cluster.local',
  )
  assert.is(env.find((e: any) => e.name === 'MANAGER_MTLS_ENABLE').value, 'true')
  // The chart's CRD namespace, kept by Helm.
  const crdNs = await kubectl(sim.env, ['get', 'ns', 'gthulhu-system', '-o', 'json'])
  assert.is(JSON.parse(crdNs.stdout).metadata.annotations['helm.sh/resource-policy'], 'keep')
})

test('release gthulhu in default with the chart defaults: names are the release name itself, monitoring on', async () => {
  const sim = await simulator({})
  assert.equal(
    await observe(sim, 'default'),
    chartTable('gthulhu', 'gthulhu', 'gthulhu-mongodb', { mtls: false, monitoring: true }),
  )
  const cm = await kubectl(sim.env, ['get', 'cm', 'gthulhu-scheduler-config', '-o', 'json'])
  const config = parse(JSON.parse(cm.stdout).data['config.yaml'])
  assert.is(config.scheduler.mode, 'gthulhu')
  assert.is(config.monitor.enabled, true)
})

test('a release that contains "gthulhu" is the fullname; MongoDB still appends -mongodb', async () => {
  const sim = await simulator({ release: 'my-gthulhu', namespace: 'sched' })
  assert.equal(
    await observe(sim, 'sched'),
    chartTable('my-gthulhu', 'my-gthulhu', 'my-gthulhu-mongodb', { mtls: false, monitoring: true }),
  )
})

test.run()
