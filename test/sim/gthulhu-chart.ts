// Gthulhu as `helm install <release> chart/gthulhu -n <namespace>` renders it, for the chart values the runbook
// and the e2e kit care about. Every object below is generated the way the chart's templates generate it; the
// template each one comes from is named beside it.
//
// Sources (Gthulhu/Gthulhu tag v1.3.0, commit 0520224…; paths under chart/gthulhu/):
// - Chart.yaml (name gthulhu, version 0.1.0, appVersion "1.0.0", MongoDB as the local subchart charts/mongodb);
//   values.yaml (the defaults: monitoring.enabled true, mtls.enabled false, scheduler.scheduling.enabled true,
//   images ghcr.io/gthulhu/gthulhu-scx and ghcr.io/gthulhu/gthulhu-api at tag "develop", probes, resources);
// - templates/_helpers.tpl (gthulhu.fullname: the release name when it contains "gthulhu", else
//   `<release>-gthulhu`; gthulhu.labels / gthulhu.selectorLabels; gthulhu.serviceAccountName;
//   gthulhu.mongodbHost; gthulhu.mongodbAuthSecretName; gthulhu.mtlsSecretName);
// - templates/deployment.yaml (DaemonSet `<fullname>-scheduler`: containers gthulhu-scheduler, with port
//   monitor-metrics 9090 only when monitoring.enabled, and scheduler-sidecar = the decision maker, port http 8080,
//   httpGet /health probes, tcpSocket probes and DM_MTLS_* env when mtls.enabled, pod label app: decisionmaker,
//   subdomain `<fullname>-scheduler-sidecar`; Deployment `<fullname>-manager`: container manager, port http 8080,
//   httpGet /health probes, MANAGER_MONGODB_* env, MANAGER_MTLS_* env when mtls.enabled);
// - templates/service.yaml (`<fullname>-manager` ClusterIP 8080; `<fullname>-scheduler-monitor`, headless,
//   labelled component=monitor, port monitor-metrics 9090, only when monitoring.enabled;
//   `<fullname>-scheduler-sidecar`, headless 8080 — both select component=scheduler, never app=decisionmaker);
// - templates/serviceaccount.yaml (ServiceAccount `<fullname>`); templates/rbac.yaml (ServiceAccount
//   `<fullname>-manager`; ClusterRoles and ClusterRoleBindings `<fullname>-scheduler`, `<fullname>-manager`);
// - templates/configmap.yaml (`<fullname>-scheduler-config`: config.yaml with monitor.enabled and
//   scheduler.mode, "none" when scheduler.scheduling.enabled is false); templates/mtls-secret.yaml
//   (`<fullname>-mtls-certs`, `<fullname>-scheduler-mtls-config`, only when mtls.enabled);
// - templates/namespace.yaml (Namespace gthulhu-system, `helm.sh/resource-policy: keep`, when it does not exist);
// - templates/servicemonitor.yaml, templates/monitor-servicemonitor.yaml (ServiceMonitors when monitoring.enabled);
// - charts/mongodb/Chart.yaml (version 0.1.0, appVersion "8.2.2"), charts/mongodb/templates/_helpers.tpl
//   (mongodb.fullname: `<release>-mongodb` unless the release contains "mongodb"; name label mongodb),
//   charts/mongodb/templates/statefulset.yaml (container and port `mongo`, image mongo:8.2.2, mongod
//   `--auth --keyFile`, the busybox:1.36 init container fix-keyfile-permissions, tcpSocket probes on 27017, no
//   serviceAccountName), service.yaml (headless, port `mongo` 27017), secret-auth.yaml, secret-keyfile.yaml.
// And helm/helm v3 pkg/action/validate.go (setMetadataVisitor: every object Helm creates gets the label
// app.kubernetes.io/managed-by=Helm and the annotations meta.helm.sh/release-name / release-namespace).
//
// Simplifications: only the values named in ChartValues vary; every other value is the chart's default
// (fullnameOverride, nameOverride, existingSecret, ingress, hpa and keda stay off). The ConfigMap carries the
// keys of config.yaml that those values change, not the chart's JWT public key; the MongoDB keyfile and the
// mTLS PEMs are placeholders, not the chart's. Objects whose kind the simulator does not serve (ClusterRole,
// ClusterRoleBinding, ServiceMonitor, PersistentVolumeClaim) are rendered here and skipped by the seed; the
// chart's CustomResourceDefinitions (crds/, charts/mongodb/templates/*-crd.yaml) are not rendered.
import { stringify } from 'yaml'
import type { KubeObject } from './store.ts'

export type GthulhuComponent = 'manager' | 'scheduler' | 'mongodb'

/** The chart values the simulator models; everything else is the chart's default. */
export interface ChartValues {
  release: string
  namespace: string
  /** mtls.enabled (default false): the decision maker serves mutual TLS on 8080. */
  mtls: boolean
  /** monitoring.enabled (default true): the scheduler's metrics port, the monitor Service, ServiceMonitors. */
  monitoring: boolean
  /** scheduler.scheduling.enabled (default true): false writes scheduler mode "none" into the config. */
  scheduling: boolean
  /** manager.enabled, scheduler.enabled, mongodb.enabled (all default true). */
  enabled: Record<GthulhuComponent, boolean>
}

export const CHART = { name: 'gthulhu', version: '0.1.0', appVersion: '1.0.0' }
export const MONGODB_CHART = { name: 'mongodb', version: '0.1.0', appVersion: '8.2.2' }
/** values.yaml crdNamespace.name */
export const CRD_NAMESPACE = 'gthulhu-system'

/** Helm's `trunc 63 | trimSuffix "-"`. */
const trunc63 = (name: string) => name.slice(0, 63).replace(/-$/, '')

/** The `<chart>.fullname` helper both charts share: the release name if it contains the chart name. */
export function helmFullname(release: string, chartName: string): string {
  return trunc63(release.includes(chartName) ? release : `${release}-${chartName}`)
}

export const gthulhuFullname = (release: string) => helmFullname(release, CHART.name)
export const mongodbFullname = (release: string) => helmFullname(release, MONGODB_CHART.name)

/** gthulhu.selectorLabels plus the component label each template adds. */
export function gthulhuSelectorLabels(release: string, component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': CHART.name,
    'app.kubernetes.io/instance': release,
    'app.kubernetes.io/component': component,
  }
}

export function mongodbSelectorLabels(release: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': MONGODB_CHART.name,
    'app.kubernetes.io/instance': release,
    'app.kubernetes.io/component': 'mongodb',
  }
}

/** gthulhu.labels (helm.sh/chart, selector labels, version, managed-by), then the template's component. */
function gthulhuLabels(release: string, component?: string): Record<string, string> {
  const { 'app.kubernetes.io/component': _, ...selector } = gthulhuSelectorLabels(release, '')
  return {
    'helm.sh/chart': `${CHART.name}-${CHART.version}`,
    ...selector,
    'app.kubernetes.io/version': CHART.appVersion,
    'app.kubernetes.io/managed-by': 'Helm',
    ...(component ? { 'app.kubernetes.io/component': component } : {}),
  }
}

function mongodbLabels(release: string): Record<string, string> {
  return {
    'helm.sh/chart': `${MONGODB_CHART.name}-${MONGODB_CHART.version}`,
    ...mongodbSelectorLabels(release),
    'app.kubernetes.io/version': MONGODB_CHART.appVersion,
    'app.kubernetes.io/managed-by': 'Helm',
  }
}

const secretRef = (name: string, key: string) => ({ valueFrom: { secretKeyRef: { name, key } } })
const base64 = (text: string) => Buffer.from(text).toString('base64')
/** The API server keeps a Secret's stringData as base64 data. */
const secretData = (values: Record<string, string>) =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [k, base64(v)]))

/** Every object the chart renders for these values, in the order Helm would list them. */
export function renderGthulhuChart(values: ChartValues): KubeObject[] {
  const { release, namespace: ns } = values
  const fullname = gthulhuFullname(release)
  const mongoName = mongodbFullname(release)
  const objects: KubeObject[] = []
  const meta: Meta = (name, labels, namespaced = true) => ({
    name,
    ...(namespaced ? { namespace: ns } : {}),
    labels,
    annotations: { 'meta.helm.sh/release-name': release, 'meta.helm.sh/release-namespace': ns } as Record<
      string,
      string
    >,
  })
  const { manager, scheduler, mongodb } = values.enabled

  // templates/namespace.yaml: created only when no such namespace exists (lookup); Helm then keeps it.
  if (ns !== CRD_NAMESPACE) {
    const m = meta(CRD_NAMESPACE, gthulhuLabels(release, 'crd-namespace'), false)
    m.annotations = { ...m.annotations, 'helm.sh/resource-policy': 'keep' }
    objects.push({ apiVersion: 'v1', kind: 'Namespace', metadata: m })
  }
  // templates/serviceaccount.yaml: serviceAccount.create is true, name "" → the fullname.
  objects.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(fullname, gthulhuLabels(release)) })
  if (manager)
    objects.push({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: meta(`${fullname}-manager`, gthulhuLabels(release, 'manager')),
    })
  objects.push(...rbacObjects(values, fullname, meta))
  if (scheduler) objects.push(schedulerConfigMap(values, fullname, meta))
  if (values.mtls) objects.push(...mtlsSecrets(values, fullname, meta))
  if (mongodb) {
    objects.push({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: meta(`${mongoName}-auth`, { ...mongodbLabels(release), 'app.kubernetes.io/component': 'mongodb' }),
      data: secretData({ MONGO_INITDB_ROOT_USERNAME: 'admin', MONGO_INITDB_ROOT_PASSWORD: 'changeme' }),
    })
    objects.push({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: meta(`${mongoName}-keyfile`, { ...mongodbLabels(release), 'app.kubernetes.io/component': 'mongodb' }),
      // A placeholder: the chart ships a fixed keyfile, which the simulator does not carry.
      data: secretData({ keyfile: 'sim-placeholder-keyfile\n' }),
    })
  }
  objects.push(...services(values, fullname, mongoName, meta))
  if (scheduler) objects.push(schedulerDaemonSet(values, fullname, meta))
  if (manager) objects.push(managerDeployment(values, fullname, meta))
  if (mongodb) objects.push(mongodbStatefulSet(values, mongoName, meta))
  if (values.monitoring) objects.push(...serviceMonitors(values, fullname, meta))
  return objects
}

type Meta = (name: string, labels: Record<string, string>, namespaced?: boolean) => KubeObject['metadata']

function rbacObjects(values: ChartValues, fullname: string, meta: Meta): KubeObject[] {
  const { release, namespace } = values
  const read = ['get', 'list', 'watch']
  const role = (component: string, rules: any[], subject: string): KubeObject[] => [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: meta(`${fullname}-${component}`, gthulhuLabels(release, component), false),
      rules,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(`${fullname}-${component}`, gthulhuLabels(release, component), false),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${fullname}-${component}` },
      subjects: [{ kind: 'ServiceAccount', name: subject, namespace }],
    },
  ]
  return [
    ...(values.enabled.scheduler
      ? role(
          'scheduler',
          [
            { apiGroups: [''], resources: ['nodes'], verbs: read },
            { apiGroups: [''], resources: ['pods', 'namespaces'], verbs: read },
            { apiGroups: ['metrics.k8s.io'], resources: ['nodes', 'pods'], verbs: ['get', 'list'] },
            { apiGroups: ['gthulhu.io'], resources: ['podschedulingmetrics'], verbs: read },
          ],
          fullname,
        )
      : []),
    ...(values.enabled.manager
      ? role(
          'manager',
          [
            { apiGroups: [''], resources: ['pods', 'namespaces'], verbs: read },
            { apiGroups: [''], resources: ['nodes'], verbs: read },
            { apiGroups: ['metrics.k8s.io'], resources: ['nodes', 'pods'], verbs: ['get', 'list'] },
            { apiGroups: ['apps'], resources: ['deployments', 'daemonsets', 'replicasets'], verbs: read },
            {
              apiGroups: ['gthulhu.io'],
              resources: ['schedulingstrategies', 'schedulingintents', 'podschedulingmetrics'],
              verbs: [...read, 'create', 'update', 'patch', 'delete'],
            },
          ],
          `${fullname}-manager`,
        )
      : []),
  ]
}

/** The keys of the scheduler's config.yaml that the modelled values change (templates/configmap.yaml). */
function schedulerConfig(values: ChartValues, mtls: boolean): string {
  return stringify({
    monitor: { enabled: values.monitoring, prometheus_port: 9090 },
    scheduler: { mode: values.scheduling ? 'gthulhu' : 'none' },
    api: {
      enabled: true,
      auth_enabled: true,
      url: `${mtls ? 'https' : 'http'}://localhost:8080`,
      ...(mtls ? { mtls: { enable: true } } : {}),
    },
  })
}

function schedulerConfigMap(values: ChartValues, fullname: string, meta: Meta): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(`${fullname}-scheduler-config`, gthulhuLabels(values.release, 'scheduler')),
    immutable: true,
    data: {
      'jwt_public_key.pem': '(the chart ships a fixed public key here; the simulator does not carry it)\n',
      'config.yaml': schedulerConfig(values, false),
    },
  }
}

function mtlsSecrets(values: ChartValues, fullname: string, meta: Meta): KubeObject[] {
  const pem = '(placeholder PEM: mtls.*.cert / key values)\n'
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: meta(`${fullname}-mtls-certs`, gthulhuLabels(values.release)),
      data: secretData({ 'ca.crt': pem, 'dm.crt': pem, 'dm.key': pem, 'manager.crt': pem, 'manager.key': pem }),
    },
    ...(values.enabled.scheduler
      ? [
          {
            apiVersion: 'v1',
            kind: 'Secret',
            type: 'Opaque',
            immutable: true,
            metadata: meta(`${fullname}-scheduler-mtls-config`, gthulhuLabels(values.release, 'scheduler')),
            data: secretData({ 'config.yaml': schedulerConfig(values, true) }),
          },
        ]
      : []),
  ]
}

function services(values: ChartValues, fullname: string, mongoName: string, meta: Meta): KubeObject[] {
  const { release } = values
  const service = (name: string, labels: Record<string, string>, selector: Record<string, string>, spec: any) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(name, labels),
    spec: { ...spec, selector },
  })
  const out: KubeObject[] = []
  if (values.enabled.manager)
    out.push(
      service(`${fullname}-manager`, gthulhuLabels(release, 'manager'), gthulhuSelectorLabels(release, 'manager'), {
        type: 'ClusterIP',
        ports: [{ port: 8080, targetPort: 8080, protocol: 'TCP', name: 'http' }],
      }),
    )
  if (values.enabled.scheduler && values.monitoring)
    out.push(
      service(
        `${fullname}-scheduler-monitor`,
        gthulhuLabels(release, 'monitor'),
        gthulhuSelectorLabels(release, 'scheduler'),
        {
          clusterIP: 'None',
          ports: [{ port: 9090, targetPort: 'monitor-metrics', protocol: 'TCP', name: 'monitor-metrics' }],
        },
      ),
    )
  if (values.enabled.scheduler)
    out.push(
      // Headless, and its selector has no `app: decisionmaker`.
      service(
        `${fullname}-scheduler-sidecar`,
        gthulhuLabels(release, 'scheduler'),
        gthulhuSelectorLabels(release, 'scheduler'),
        { clusterIP: 'None', ports: [{ port: 8080, targetPort: 8080, protocol: 'TCP', name: 'http' }] },
      ),
    )
  if (values.enabled.mongodb)
    out.push(
      service(
        mongoName,
        { ...mongodbLabels(release), 'app.kubernetes.io/component': 'mongodb' },
        mongodbSelectorLabels(release),
        { clusterIP: 'None', ports: [{ port: 27017, targetPort: 27017, protocol: 'TCP', name: 'mongo' }] },
      ),
    )
  return out
}

/** values.yaml healthCheck: initialDelaySeconds 5, periodSeconds 10, timeoutSeconds 5, failureThreshold 3. */
function probes(handler: any) {
  const timing = { timeoutSeconds: 5, failureThreshold: 3 }
  return {
    readinessProbe: { ...handler, initialDelaySeconds: 5, periodSeconds: 10, ...timing },
    // The templates add 5 s to the delay and double the period for liveness.
    livenessProbe: { ...handler, initialDelaySeconds: 10, periodSeconds: 20, ...timing },
  }
}

function schedulerDaemonSet(values: ChartValues, fullname: string, meta: Meta): KubeObject {
  const { release } = values
  const selector = gthulhuSelectorLabels(release, 'scheduler')
  const mtlsSecret = `${fullname}-mtls-certs`
  const sidecar = {
    name: 'scheduler-sidecar',
    image: 'ghcr.io/gthulhu/gthulhu-api:develop',
    imagePullPolicy: 'Always',
    command: ['/app/main', 'decisionmaker'],
    env: [
      { name: 'DM_SERVER_HOST', value: ':8080' },
      { name: 'DM_LOGGING_LEVEL', value: 'info' },
      { name: 'DM_DAEMON_ENDPOINT', value: 'http://127.0.0.1:18080' },
      { name: 'TZ', value: 'UTC' },
      ...(values.mtls
        ? [
            { name: 'DM_MTLS_ENABLE', value: 'true' },
            { name: 'DM_MTLS_CERT_PEM', ...secretRef(mtlsSecret, 'dm.crt') },
            { name: 'DM_MTLS_KEY_PEM', ...secretRef(mtlsSecret, 'dm.key') },
            { name: 'DM_MTLS_CA_PEM', ...secretRef(mtlsSecret, 'ca.crt') },
          ]
        : []),
    ],
    securityContext: { privileged: true, allowPrivilegeEscalation: true, readOnlyRootFilesystem: false },
    ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
    // With mtls.enabled the sidecar speaks TLS only, so the chart probes the port instead of GET /health.
    ...probes(values.mtls ? { tcpSocket: { port: 8080 } } : { httpGet: { path: '/health', port: 'http' } }),
    volumeMounts: [
      { name: 'proc', mountPath: '/proc', readOnly: true },
      { name: 'var-run', mountPath: '/var/run' },
    ],
    resources: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '50m', memory: '64Mi' } },
  }
  const scheduler = {
    name: 'gthulhu-scheduler',
    image: 'ghcr.io/gthulhu/gthulhu-scx:develop',
    imagePullPolicy: 'Always',
    securityContext: {
      privileged: true,
      runAsUser: 0,
      capabilities: { add: ['SYS_ADMIN', 'SYS_RESOURCE', 'SYS_PTRACE'] },
    },
    command: ['/gthulhu/main', 'daemon'],
    args: [
      '-config',
      '/etc/gthulhu/config.yaml',
      '-control-addr',
      ':18080',
      '-runtime-config-path',
      '/tmp/gthulhu/runtime-config.yaml',
      '-restart-delay',
      '2s',
    ],
    volumeMounts: [
      { name: 'sys-kernel-debug', mountPath: '/sys/kernel/debug', readOnly: true },
      { name: 'proc', mountPath: '/proc', readOnly: true },
      { name: 'config-volume', mountPath: '/etc/gthulhu', readOnly: true },
      { name: 'runtime-config-dir', mountPath: '/tmp/gthulhu' },
    ],
    env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
    resources: { limits: { memory: '512Mi' }, requests: { memory: '128Mi' } },
    ...(values.monitoring ? { ports: [{ name: 'monitor-metrics', containerPort: 9090, protocol: 'TCP' }] } : {}),
  }
  const configVolume = values.mtls
    ? {
        name: 'config-volume',
        projected: {
          sources: [
            {
              configMap: {
                name: `${fullname}-scheduler-config`,
                items: [{ key: 'jwt_public_key.pem', path: 'jwt_public_key.pem' }],
              },
            },
            {
              secret: {
                name: `${fullname}-scheduler-mtls-config`,
                items: [{ key: 'config.yaml', path: 'config.yaml' }],
              },
            },
          ],
        },
      }
    : { name: 'config-volume', configMap: { name: `${fullname}-scheduler-config` } }
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: meta(`${fullname}-scheduler`, gthulhuLabels(release, 'scheduler')),
    spec: {
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: { ...selector, app: 'decisionmaker' } },
        spec: {
          serviceAccountName: fullname,
          hostPID: true,
          subdomain: `${fullname}-scheduler-sidecar`,
          containers: [scheduler, sidecar],
          volumes: [
            { name: 'sys-kernel-debug', hostPath: { path: '/sys/kernel/debug' } },
            { name: 'proc', hostPath: { path: '/proc' } },
            configVolume,
            { name: 'var-run', hostPath: { path: '/var/run', type: 'Directory' } },
            { name: 'runtime-config-dir', emptyDir: {} },
          ],
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          tolerations: [{ operator: 'Exists' }],
        },
      },
    },
  }
}

function managerDeployment(values: ChartValues, fullname: string, meta: Meta): KubeObject {
  const { release, namespace } = values
  const selector = gthulhuSelectorLabels(release, 'manager')
  const mtlsSecret = `${fullname}-mtls-certs`
  // gthulhu.mongodbHost and gthulhu.mongodbAuthSecretName use the release name, not mongodb.fullname.
  const authSecret = `${release}-mongodb-auth`
  const env = [
    { name: 'MANAGER_SERVER_HOST', value: ':8080' },
    { name: 'MANAGER_LOGGING_LEVEL', value: 'info' },
    { name: 'MANAGER_K8S_IN_CLUSTER', value: 'true' },
    { name: 'TZ', value: 'UTC' },
    ...(values.mtls
      ? [
          { name: 'MANAGER_MTLS_ENABLE', value: 'true' },
          { name: 'MANAGER_MTLS_CERT_PEM', ...secretRef(mtlsSecret, 'manager.crt') },
          { name: 'MANAGER_MTLS_KEY_PEM', ...secretRef(mtlsSecret, 'manager.key') },
          { name: 'MANAGER_MTLS_CA_PEM', ...secretRef(mtlsSecret, 'ca.crt') },
          { name: 'MANAGER_MTLS_SERVER_NAME', value: 'localhost' },
        ]
      : []),
    ...(values.enabled.mongodb
      ? [
          {
            name: 'MANAGER_MONGODB_HOST',
            value: `${release}-mongodb-0.${release}-mongodb.${namespace}.svc.cluster.local`,
          },
          { name: 'MANAGER_MONGODB_PORT', value: '27017' },
          { name: 'MANAGER_MONGODB_DATABASE', value: 'manager' },
          { name: 'MANAGER_MONGODB_OPTIONS', value: 'authSource=admin&tls=false&directConnection=true' },
          { name: 'MANAGER_MONGODB_CA_PEM', value: '' },
          { name: 'MANAGER_MONGODB_USER', ...secretRef(authSecret, 'MONGO_INITDB_ROOT_USERNAME') },
          { name: 'MANAGER_MONGODB_PASSWORD', ...secretRef(authSecret, 'MONGO_INITDB_ROOT_PASSWORD') },
        ]
      : []),
  ]
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(`${fullname}-manager`, gthulhuLabels(release, 'manager')),
    spec: {
      replicas: 1,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: selector },
        spec: {
          serviceAccountName: `${fullname}-manager`,
          containers: [
            {
              name: 'manager',
              image: 'ghcr.io/gthulhu/gthulhu-api:develop',
              imagePullPolicy: 'Always',
              command: ['/app/main', 'manager'],
              env,
              ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
              ...probes({ httpGet: { path: '/health', port: 'http' } }),
              resources: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '50m', memory: '64Mi' } },
            },
          ],
          nodeSelector: { 'kubernetes.io/os': 'linux' },
        },
      },
    },
  }
}

function mongodbStatefulSet(values: ChartValues, mongoName: string, meta: Meta): KubeObject {
  const { release } = values
  const selector = mongodbSelectorLabels(release)
  const authSecret = `${mongoName}-auth`
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(mongoName, { ...mongodbLabels(release), 'app.kubernetes.io/component': 'mongodb' }),
    spec: {
      serviceName: mongoName,
      replicas: 1,
      podManagementPolicy: 'OrderedReady',
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: selector },
        spec: {
          terminationGracePeriodSeconds: 30,
          initContainers: [
            {
              name: 'fix-keyfile-permissions',
              image: 'busybox:1.36',
              command: ['sh', '-c'],
              // Copies the keyfile from the Secret and gives it to mongod's user, mode 400.
              args: [
                'cp /etc/mongo-keyfile-source/keyfile /etc/mongo-keyfile/keyfile && chmod 400 /etc/mongo-keyfile/keyfile && chown 999:999 /etc/mongo-keyfile/keyfile',
              ],
              volumeMounts: [
                { name: 'keyfile-source', mountPath: '/etc/mongo-keyfile-source', readOnly: true },
                { name: 'mongo-keyfile-processed', mountPath: '/etc/mongo-keyfile' },
              ],
            },
          ],
          containers: [
            {
              name: 'mongo',
              image: 'mongo:8.2.2',
              imagePullPolicy: 'IfNotPresent',
              command: ['mongod'],
              args: [
                '--bind_ip_all',
                '--replSet',
                'rs0',
                '--dbpath',
                '/data/db',
                '--auth',
                '--keyFile',
                '/etc/mongo-keyfile/keyfile',
              ],
              ports: [{ name: 'mongo', containerPort: 27017 }],
              readinessProbe: { tcpSocket: { port: 27017 }, initialDelaySeconds: 10, periodSeconds: 10 },
              livenessProbe: { tcpSocket: { port: 27017 }, initialDelaySeconds: 30, periodSeconds: 10 },
              volumeMounts: [
                { name: 'mongo-data', mountPath: '/data/db' },
                { name: 'mongo-keyfile-processed', mountPath: '/etc/mongo-keyfile', readOnly: true },
              ],
              env: [
                { name: 'MONGO_ROOT_USERNAME', ...secretRef(authSecret, 'MONGO_INITDB_ROOT_USERNAME') },
                { name: 'MONGO_ROOT_PASSWORD', ...secretRef(authSecret, 'MONGO_INITDB_ROOT_PASSWORD') },
              ],
              resources: { limits: { cpu: '1000m', memory: '1Gi' }, requests: { cpu: '100m', memory: '256Mi' } },
            },
          ],
          securityContext: { runAsUser: 999, runAsGroup: 999, fsGroup: 999 },
          volumes: [
            { name: 'keyfile-source', secret: { secretName: `${mongoName}-keyfile`, defaultMode: 0o400 } },
            { name: 'mongo-keyfile-processed', emptyDir: {} },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'mongo-data' },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } } },
        },
      ],
    },
  }
}

function serviceMonitors(values: ChartValues, fullname: string, meta: Meta): KubeObject[] {
  const { release } = values
  const monitor = (name: string, component: string, port: string): KubeObject => ({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: meta(name, gthulhuLabels(release, component)),
    spec: {
      selector: { matchLabels: gthulhuSelectorLabels(release, component) },
      endpoints: [{ port, path: '/metrics', interval: '30s' }],
    },
  })
  return [
    ...(values.enabled.scheduler ? [monitor(`${fullname}-monitor`, 'monitor', 'monitor-metrics')] : []),
    ...(values.enabled.manager ? [monitor(`${fullname}-manager`, 'manager', 'http')] : []),
    ...(values.enabled.scheduler ? [monitor(`${fullname}-scheduler-sidecar`, 'scheduler', 'http')] : []),
  ]
}
