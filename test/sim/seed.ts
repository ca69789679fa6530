// The cluster the simulator starts with: one Ready node, a CNI, and Gthulhu as its Helm chart installs it
// (workloads, Services, ServiceAccounts with the chart's labels). Pods come from the controllers.
import type { KubeObject, Store } from './store.ts'
import { admit } from './builtin-types.ts'
import { allocateNodePort } from './node-ports.ts'
import { mustTypeOf, type Cni, type KindName } from './cluster-view.ts'
import { NODE_NAME } from './controllers.ts'
import { bootstrapPolicy, RBAC_GROUP } from './rbac.ts'

export type GthulhuComponent = 'manager' | 'scheduler' | 'mongodb'

export interface SeedOptions {
  namespace: string
  release: string
  missing: GthulhuComponent[]
  cni: Cni
  kubernetesVersion: string
  /** The chart's mtls.enabled: the decision maker serves mutual TLS on 8080 and its probes become tcpSocket. */
  mtls?: boolean
}

const CHART_VERSION = '0.3.0'

const CNI_DAEMONSETS: Record<Exclude<Cni, 'none'>, { name: string; labels: Record<string, string>; image: string }> = {
  calico: { name: 'calico-node', labels: { 'k8s-app': 'calico-node' }, image: 'docker.io/calico/node:v3.29.1' },
  cilium: { name: 'cilium', labels: { 'k8s-app': 'cilium' }, image: 'quay.io/cilium/cilium:v1.16.5' },
  flannel: {
    name: 'kube-flannel-ds',
    labels: { app: 'flannel', 'k8s-app': 'flannel' },
    image: 'docker.io/flannel/flannel:v0.26.1',
  },
}

/** Selector labels of each Gthulhu component, as the chart's helpers render them. */
export function gthulhuPodLabels(release: string, component: GthulhuComponent): Record<string, string> {
  return {
    'app.kubernetes.io/name': component === 'mongodb' ? 'mongodb' : 'gthulhu',
    'app.kubernetes.io/instance': release,
    'app.kubernetes.io/component': component,
    ...(component === 'scheduler' ? { app: 'decisionmaker' } : {}),
  }
}

export async function seedCluster(store: Store, options: SeedOptions): Promise<void> {
  const create = async (kind: KindName, object: KubeObject) => {
    const rt = mustTypeOf(store, kind)
    await admit({ store, allocateNodePort }, rt, object)
    return store.create(rt, object)
  }
  const { namespace: ns, release } = options

  for (const name of new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease', ns])) {
    await create('namespace', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { 'kubernetes.io/metadata.name': name } },
    })
  }
  // The default RBAC policy (bootstrap ClusterRoles and bindings, kubeadm's admin binding).
  for (const object of bootstrapPolicy()) {
    const rt = store.allTypes().find((t) => t.group === RBAC_GROUP && t.kind === object.kind)!
    store.create(rt, object)
  }
  await create('node', nodeObject(options.kubernetesVersion))
  await create('service', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.96.0.1',
      ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }],
    },
  })
  for (const name of new Set(['default', ns])) {
    await create('serviceAccount', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'default', namespace: name },
    })
  }

  // kube-system: cluster DNS and the CNI agent.
  const dnsLabels = { 'k8s-app': 'kube-dns' }
  await create(
    'deployment',
    workload('Deployment', 'coredns', 'kube-system', dnsLabels, {
      replicas: 1,
      containers: [
        {
          name: 'coredns',
          image: 'registry.k8s.io/coredns/coredns:v1.11.3',
          ports: [
            { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
          ],
        },
      ],
    }),
  )
  await create('service', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { ...dnsLabels, 'kubernetes.io/name': 'CoreDNS' } },
    spec: {
      clusterIP: '10.96.0.10',
      selector: dnsLabels,
      ports: [{ name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 }],
    },
  })
  if (options.cni !== 'none') {
    const cni = CNI_DAEMONSETS[options.cni]
    await create(
      'daemonSet',
      workload('DaemonSet', cni.name, 'kube-system', cni.labels, {
        hostNetwork: true,
        containers: [{ name: cni.name === 'kube-flannel-ds' ? 'kube-flannel' : cni.name, image: cni.image }],
      }),
    )
  }

  // Gthulhu, as `helm install <release> chart/gthulhu -n <ns>` renders it.
  const chartLabels = (component: GthulhuComponent) => ({
    ...gthulhuPodLabels(release, component),
    'app.kubernetes.io/managed-by': 'Helm',
    'app.kubernetes.io/version': CHART_VERSION,
    'helm.sh/chart': `gthulhu-${CHART_VERSION}`,
  })
  const meta = (name: string, component: GthulhuComponent) => ({
    name,
    namespace: ns,
    labels: chartLabels(component),
    annotations: { 'meta.helm.sh/release-name': release, 'meta.helm.sh/release-namespace': ns },
  })
  const service = (name: string, component: GthulhuComponent, headless: boolean, ports: any[]): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(name, component),
    spec: {
      type: 'ClusterIP',
      ...(headless ? { clusterIP: 'None' } : {}),
      selector: gthulhuPodLabels(release, component),
      ports,
    },
  })
  const has = (c: GthulhuComponent) => !options.missing.includes(c)

  if (has('manager')) {
    await create('serviceAccount', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: meta(`${release}-manager`, 'manager'),
    })
    const d = workload('Deployment', `${release}-manager`, ns, gthulhuPodLabels(release, 'manager'), {
      replicas: 1,
      serviceAccountName: `${release}-manager`,
      containers: [
        {
          name: 'manager',
          image: `ghcr.io/gthulhu/api:v${CHART_VERSION}`,
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          env: [{ name: 'MONGODB_URI', value: `mongodb://${release}-mongodb-0.${release}-mongodb.${ns}.svc:27017` }],
          readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 10 },
          livenessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 20 },
        },
      ],
    })
    d.metadata = meta(`${release}-manager`, 'manager')
    await create('deployment', d)
    await create(
      'service',
      service(`${release}-manager`, 'manager', false, [
        { name: 'http', port: 8080, protocol: 'TCP', targetPort: 'http' },
      ]),
    )
  }

  if (has('scheduler')) {
    await create('serviceAccount', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(release, 'scheduler') })
    const ds = workload('DaemonSet', `${release}-scheduler`, ns, gthulhuPodLabels(release, 'scheduler'), {
      serviceAccountName: release,
      containers: [
        {
          name: 'scheduler',
          image: `ghcr.io/gthulhu/gthulhu:v${CHART_VERSION}`,
          securityContext: { privileged: true },
        },
        {
          name: 'decision-maker',
          image: `ghcr.io/gthulhu/decisionmaker:v${CHART_VERSION}`,
          ports: [
            { name: 'http', containerPort: 8080, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
          ],
          readinessProbe: options.mtls
            ? { tcpSocket: { port: 'http' }, periodSeconds: 10 }
            : { httpGet: { path: '/health', port: 'http' }, periodSeconds: 10 },
          livenessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 20 },
        },
      ],
    })
    ds.metadata = meta(`${release}-scheduler`, 'scheduler')
    await create('daemonSet', ds)
    await create(
      'service',
      service(`${release}-scheduler-sidecar`, 'scheduler', true, [
        { name: 'http', port: 8080, protocol: 'TCP', targetPort: 'http' },
      ]),
    )
    await create(
      'service',
      service(`${release}-scheduler-monitor`, 'scheduler', true, [
        { name: 'metrics', port: 9090, protocol: 'TCP', targetPort: 'metrics' },
      ]),
    )
  }

  if (has('mongodb')) {
    const sts = workload('StatefulSet', `${release}-mongodb`, ns, gthulhuPodLabels(release, 'mongodb'), {
      replicas: 1,
      serviceAccountName: 'default',
      containers: [
        {
          name: 'mongodb',
          image: 'docker.io/library/mongo:8.0',
          ports: [{ name: 'mongodb', containerPort: 27017, protocol: 'TCP' }],
          readinessProbe: { tcpSocket: { port: 27017 }, periodSeconds: 10 },
          livenessProbe: { tcpSocket: { port: 27017 }, periodSeconds: 20 },
        },
      ],
    })
    sts.metadata = meta(`${release}-mongodb`, 'mongodb')
    sts.spec.serviceName = `${release}-mongodb`
    await create('statefulSet', sts)
    await create(
      'service',
      service(`${release}-mongodb`, 'mongodb', true, [
        { name: 'mongodb', port: 27017, protocol: 'TCP', targetPort: 27017 },
      ]),
    )
  }
}

/** A workload object with the fields `kubectl rollout status` and the controllers need. */
export function workload(
  kind: 'Deployment' | 'DaemonSet' | 'StatefulSet',
  name: string,
  namespace: string,
  podLabels: Record<string, string>,
  podSpec: Record<string, any> & { replicas?: number },
): KubeObject {
  const { replicas, ...spec } = podSpec
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name, namespace, labels: { ...podLabels } },
    spec: {
      ...(kind !== 'DaemonSet' ? { replicas: replicas ?? 1 } : {}),
      selector: { matchLabels: { ...podLabels } },
      template: {
        metadata: { labels: { ...podLabels } },
        spec: { restartPolicy: 'Always', dnsPolicy: 'ClusterFirst', ...spec },
      },
      ...(kind === 'Deployment'
        ? {
            strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
            progressDeadlineSeconds: 600,
          }
        : kind === 'DaemonSet'
          ? { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } } }
          : {
              updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
              podManagementPolicy: 'OrderedReady',
            }),
    },
  }
}

function nodeObject(kubernetesVersion: string): KubeObject {
  const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: NODE_NAME,
      labels: {
        'kubernetes.io/hostname': NODE_NAME,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/control-plane': '',
      },
    },
    spec: { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'] },
    status: {
      addresses: [
        { type: 'InternalIP', address: '127.0.0.1' },
        { type: 'Hostname', address: NODE_NAME },
      ],
      capacity: { cpu: '8', memory: '16303412Ki', pods: '110' },
      allocatable: { cpu: '8', memory: '16201012Ki', pods: '110' },
      conditions: [
        {
          type: 'MemoryPressure',
          status: 'False',
          reason: 'KubeletHasSufficientMemory',
          message: 'kubelet has sufficient memory available',
          lastHeartbeatTime: t,
          lastTransitionTime: t,
        },
        {
          type: 'DiskPressure',
          status: 'False',
          reason: 'KubeletHasNoDiskPressure',
          message: 'kubelet has no disk pressure',
          lastHeartbeatTime: t,
          lastTransitionTime: t,
        },
        {
          type: 'PIDPressure',
          status: 'False',
          reason: 'KubeletHasSufficientPID',
          message: 'kubelet has sufficient PID available',
          lastHeartbeatTime: t,
          lastTransitionTime: t,
        },
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'kubelet is posting ready status',
          lastHeartbeatTime: t,
          lastTransitionTime: t,
        },
      ],
      nodeInfo: {
        kubeletVersion: `v${kubernetesVersion}`,
        kubeProxyVersion: `v${kubernetesVersion}`,
        containerRuntimeVersion: 'containerd://2.0.2',
        operatingSystem: 'linux',
        architecture: 'amd64',
        osImage: 'Ubuntu 24.04.1 LTS',
        kernelVersion: '6.12.0-sched-ext',
      },
    },
  }
}
