// The cluster the simulator starts with: one Ready node, a CNI, and Gthulhu as its Helm chart installs it
// (./gthulhu-chart.ts renders the chart's objects). Pods come from the controllers.
import type { KubeObject, Store } from './store.ts'
import { admit } from './builtin-types.ts'
import { allocateNodePort } from './node-ports.ts'
import { mustTypeOf, type Cni, type KindName } from './cluster-view.ts'
import { NODE_NAME } from './controllers.ts'
import { bootstrapPolicy, RBAC_GROUP } from './rbac.ts'
import { renderGthulhuChart, type ChartValues, type GthulhuComponent } from './gthulhu-chart.ts'

export type { GthulhuComponent } from './gthulhu-chart.ts'

export interface SeedOptions {
  namespace: string
  release: string
  missing: GthulhuComponent[]
  cni: Cni
  kubernetesVersion: string
  /** The chart values the simulator models besides release and namespace (chart defaults when absent). */
  chart?: Partial<Pick<ChartValues, 'mtls' | 'monitoring' | 'scheduling'>>
  /** How many nodes (default 1): sim-node-1 runs the workloads; the others take what is scheduled onto them. */
  nodes?: number
}

/** The InternalIP of the n-th node (1-based): the first is the loopback the NodePort listeners use; the rest are data. */
export const nodeInternalIp = (n: number) => (n === 1 ? '127.0.0.1' : `10.89.0.${n}`)

const CNI_DAEMONSETS: Record<Exclude<Cni, 'none'>, { name: string; labels: Record<string, string>; image: string }> = {
  calico: { name: 'calico-node', labels: { 'k8s-app': 'calico-node' }, image: 'docker.io/calico/node:v3.29.1' },
  cilium: { name: 'cilium', labels: { 'k8s-app': 'cilium' }, image: 'quay.io/cilium/cilium:v1.16.5' },
  flannel: {
    name: 'kube-flannel-ds',
    labels: { app: 'flannel', 'k8s-app': 'flannel' },
    image: 'docker.io/flannel/flannel:v0.26.1',
  },
}

export async function seedCluster(store: Store, options: SeedOptions): Promise<void> {
  const create = async (kind: KindName, object: KubeObject) => {
    const rt = mustTypeOf(store, kind)
    await admit({ store, allocateNodePort }, rt, object)
    return store.create(rt, object)
  }
  const { namespace: ns } = options

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
  for (let n = 1; n <= (options.nodes ?? 1); n++) await create('node', nodeObject(options.kubernetesVersion, n))
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
  // The API server keeps the kubernetes Service's Endpoints itself (its endpoint reconciler, not the endpoints
  // controller: the Service has no selector): its advertise address on the secure port (kubernetes v1.32.0
  // pkg/controlplane/reconcilers/lease.go, pkg/controlplane/controller/kubernetesservice).
  await create('endpoints', {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: {
      name: 'kubernetes',
      namespace: 'default',
      labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' },
    },
    subsets: [{ addresses: [{ ip: nodeInternalIp(1) }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }],
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

  // Gthulhu, as `helm install <release> chart/gthulhu -n <ns>` renders it; kinds the simulator does not serve
  // (ClusterRole, ServiceMonitor, …) are left out, and a namespace that already exists is not created again.
  const chart = chartValues(options)
  for (const object of renderGthulhuChart(chart)) {
    const rt = store
      .allTypes()
      .find((t) => `${t.group ? `${t.group}/` : ''}${t.version}` === object.apiVersion && t.kind === object.kind)
    if (!rt) continue
    if (object.kind === 'Namespace' && store.get(rt, undefined, object.metadata.name)) continue
    await admit({ store, allocateNodePort }, rt, object)
    store.create(rt, object)
  }
}

/** The chart values for these seed options: the chart's defaults unless asked otherwise. */
export function chartValues(options: SeedOptions): ChartValues {
  return {
    release: options.release,
    namespace: options.namespace,
    mtls: options.chart?.mtls ?? false,
    monitoring: options.chart?.monitoring ?? true,
    scheduling: options.chart?.scheduling ?? true,
    enabled: {
      manager: !options.missing.includes('manager'),
      scheduler: !options.missing.includes('scheduler'),
      mongodb: !options.missing.includes('mongodb'),
    },
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

function nodeObject(kubernetesVersion: string, n = 1): KubeObject {
  const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
  const name = n === 1 ? NODE_NAME : `sim-node-${n}`
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        ...(n === 1 ? { 'node-role.kubernetes.io/control-plane': '' } : {}),
      },
    },
    spec: { podCIDR: `10.244.${n - 1}.0/24`, podCIDRs: [`10.244.${n - 1}.0/24`] },
    status: {
      addresses: [
        { type: 'InternalIP', address: nodeInternalIp(n) },
        { type: 'Hostname', address: name },
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
