// The simulated Gthulhu cluster in one call: store, built-in types, seed, controllers, API server
// (with /sim/istioctl and /sim/faults), the release mirror and the gateway NodePort listeners.
// Writes a kubeconfig and an env file so real kubectl (and the fake istioctl) can be pointed at it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { stringify } from 'yaml'
import { Store } from './store.ts'
import { noFaults, type Faults } from './faults.ts'
import { registerBuiltinTypes, watchCrdTypes } from './builtin-types.ts'
import { startApiServer } from './apiserver.ts'
import { AuthError, Authenticator, CLUSTER_ADMIN, type SimUser } from './authn.ts'
import { RbacAuthorizer, type Decision } from './rbac.ts'
import { selfSignedCertificate } from './tls.ts'
import { Controllers, DEFAULT_TIMING, type ControllerStats } from './controllers.ts'
import { seedCluster, type GthulhuComponent } from './seed.ts'
import { startMirror } from './mirror.ts'
import { IstioctlServer } from './istioctl.ts'
import { startWebUi } from './webui.ts'
import { allocateNodePort } from './node-ports.ts'
import { listOf, type Cni } from './cluster-view.ts'
import { reassignNodePorts, SAVED_WORLD_FORMAT, savedOptions, type SavedWorld } from './saved-world.ts'

export type { Cni } from './cluster-view.ts'
export type { Faults } from './faults.ts'
export type { Store } from './store.ts'
export type { SimUser } from './authn.ts'
export type { SavedWorld } from './saved-world.ts'
export type { Decision, PolicyRule } from './rbac.ts'

export interface SimOptions {
  dir?: string
  namespace?: string
  release?: string
  missing?: GthulhuComponent[]
  cni?: Cni
  kubernetesVersion?: string
  istioVersions?: string[]
  contextName?: string
  faults?: Partial<Faults>
  timing?: Partial<{ podStartMs: number; probeRunMs: number; rolloutStepMs: number }>
  /**
   * Gthulhu's chart values besides release and namespace (see gthulhu-chart.ts): mtls.enabled (default false),
   * monitoring.enabled (default true), scheduler.scheduling.enabled (default true).
   */
  chart?: Partial<{ mtls: boolean; monitoring: boolean; scheduling: boolean }>
  /** A cloud load balancer that gives LoadBalancer Services this address (a loopback one, e.g. 127.0.0.2; port 80 needs root). */
  loadBalancerAddress?: string
  /** Nodes in the cluster (default 1): sim-node-1 runs every workload; the others take pods scheduled onto them. */
  nodes?: number
  /** Users besides the kubeconfig's cluster admin (kubernetes-admin), each with its bearer token. */
  users?: SimUser[]
  /**
   * Starts from a world saved by `Simulator.save()` instead of the seed: its objects as they were, with its
   * options (those given here besides `restore` win). NodePorts are handed out afresh (`nodePorts` maps the old
   * ones), so two simulators started from one saved world can listen side by side.
   */
  restore?: SavedWorld
}

export interface Simulator {
  store: Store
  faults: Faults
  dir: string
  /** The API server over TLS, as the kubeconfig names it. */
  apiUrl: string
  /** The same port in plain HTTP, for the simulator's own /sim/* routes (no Kubernetes request answers there). */
  controlUrl: string
  kubeconfig: string
  context: string
  istioMirror: string
  gatewayApiMirror: string
  env: Record<string, string>
  /** Saved world only: each NodePort of the saved world → the one given out instead. */
  nodePorts: Record<number, number>
  /** The world as it is now, to start another simulator from (`SimOptions.restore`); JSON-safe. */
  save(): SavedWorld
  /** Passes the controllers ran and how long changes waited for them (scripts/bench-run.ts counts rounds with it). */
  controllerStats(): ControllerStats
  /**
   * Lets another user in (its bearer token) and writes a kubeconfig for it: the same cluster and context name as
   * `kubeconfig`, so the runbook's --context, record and state file stay the same. Returns the kubeconfig's path.
   */
  addUser(user: SimUser): string
  /** Hears every RBAC decision on a request (access reviews excluded); returns the function that stops it. */
  onAuthorization(listener: (decision: Decision) => void): () => void
  stop(): Promise<void>
}

/** The runbook flags that point it at this simulator: its kubeconfig, context and mirrors, and where it may write. */
export const runbookFlags = (sim: Simulator, installDir: string, stateFile: string): string[] => [
  '--kubeconfig',
  sim.kubeconfig,
  '--context',
  sim.context,
  '--istio-mirror',
  sim.istioMirror,
  '--gateway-api-mirror',
  sim.gatewayApiMirror,
  '--install-dir',
  installDir,
  '--state-file',
  stateFile,
]

export const DEFAULT_ISTIO_VERSIONS = ['1.28.3', '1.29.1']
const CLUSTER_ADMIN_INFO = {
  username: CLUSTER_ADMIN.username,
  groups: [...(CLUSTER_ADMIN.groups ?? []), 'system:authenticated'],
}

function sendJson(res: ServerResponse, status: number, value: unknown): true {
  const body = JSON.stringify(value)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
  return true
}

/** Merges a JSON fault description into the live faults (arrays and scalars replace). */
export function mergeFaults(faults: Faults, patch: Partial<Faults>): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete (faults as any)[key]
    else (faults as any)[key] = structuredClone(value)
  }
}

export async function startSimulator(given: SimOptions = {}): Promise<Simulator> {
  const options: SimOptions = { ...given.restore?.options, ...given }
  const namespace = options.namespace ?? 'default'
  const release = options.release ?? 'gthulhu'
  const cni = options.cni ?? 'calico'
  const kubernetesVersion = options.kubernetesVersion ?? '1.33.1'
  const contextName = options.contextName ?? 'gthulhu-sim'
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'gthulhu-sim-'))
  mkdirSync(dir, { recursive: true })
  // A temp dir the simulator made is its own: it goes when the simulator stops. A dir the caller named stays.
  const removeDir = () => {
    if (!options.dir) rmSync(dir, { recursive: true, force: true })
  }
  const faults: Faults = { ...noFaults(), ...structuredClone(options.faults ?? {}) } as Faults
  const timing = { ...DEFAULT_TIMING, ...(options.timing ?? {}) }

  const store = new Store()
  registerBuiltinTypes(store)
  let nodePorts: Record<number, number> = {}
  if (options.restore) {
    store.load(options.restore.store)
    nodePorts = await reassignNodePorts(store)
  }
  const stopCrdWatch = watchCrdTypes(store)
  if (!options.restore)
    await seedCluster(store, {
      namespace,
      release,
      missing: options.missing ?? [],
      cni,
      kubernetesVersion,
      chart: options.chart,
      nodes: options.nodes,
    })
  const controllers = new Controllers(store, faults, { cni, timing, loadBalancerAddress: options.loadBalancerAddress })
  controllers.start()
  const rbac = new RbacAuthorizer(store)
  const istioctl = new IstioctlServer({ store, controllers, kubernetesVersion, cni, rbac })
  const authenticator = new Authenticator([CLUSTER_ADMIN, ...(options.users ?? [])])

  const extraRoutes = async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<boolean> => {
    const path = new URL(req.url ?? '/', 'http://sim').pathname
    if (!path.startsWith('/sim/')) return false
    let input: any
    try {
      input = body.length ? JSON.parse(body.toString('utf8')) : {}
    } catch {
      return sendJson(res, 400, { error: 'body must be JSON' })
    }
    if (path === '/sim/istioctl' && req.method === 'POST') {
      if (!Array.isArray(input.args)) return sendJson(res, 400, { error: 'expected {args: string[], version: string}' })
      // The fake istioctl sends the kubeconfig's token, as the real one authenticates its requests: the commands then
      // act as that user and need its RBAC permissions. Without a token (tests posting here directly) they act as admin.
      let user = CLUSTER_ADMIN_INFO
      if (req.headers.authorization) {
        try {
          user = authenticator.authenticate(req.headers)
        } catch (error) {
          if (!(error instanceof AuthError)) throw error
          return sendJson(res, 200, { stdout: '', stderr: 'Error: Unauthorized\n', code: 1, done: true })
        }
      }
      // Streamed as JSON lines: {stdout} while a command waits, then {stdout, stderr, code, done: true}.
      const gone = new AbortController()
      res.on('close', () => gone.abort())
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      const line = (value: unknown) =>
        void (!res.writableEnded && !res.destroyed && res.write(JSON.stringify(value) + '\n'))
      const result = await istioctl.run(input.args.map(String), String(input.version ?? DEFAULT_ISTIO_VERSIONS[1]), {
        write: (stdout) => line({ stdout }),
        signal: gone.signal,
        user,
      })
      line({ ...result, done: true })
      if (!res.destroyed) res.end()
      return true
    }
    if (path === '/sim/faults' && (req.method === 'POST' || req.method === 'GET')) {
      if (req.method === 'POST') mergeFaults(faults, input)
      return sendJson(res, 200, faults)
    }
    return sendJson(res, 404, { error: `no simulator route ${req.method} ${path}` })
  }

  const closers: (() => Promise<void> | void)[] = [removeDir, () => stopCrdWatch(), () => controllers.stop()]
  try {
    const mirror = await startMirror({ faults, istioVersions: options.istioVersions ?? DEFAULT_ISTIO_VERSIONS })
    closers.push(() => mirror.close())
    const tls = selfSignedCertificate()
    const api = await startApiServer({
      store,
      faults,
      kubernetesVersion,
      extraRoutes,
      allocateNodePort,
      authenticator,
      rbac,
      tls,
    })
    const apiUrl = api.secureUrl!
    closers.push(() => api.close())
    const webui = startWebUi(store, cni)
    closers.push(() => webui.close())

    await waitForSeedRollout(store, 10_000)

    const kubeconfig = join(dir, 'kubeconfig')
    writeFileSync(kubeconfig, kubeconfigYaml(apiUrl, tls.cert, contextName, namespace), { mode: 0o600 })
    const env: Record<string, string> = {
      KUBECONFIG: kubeconfig,
      KUBECACHEDIR: join(dir, 'kube-cache'),
      GTHULHU_RUNBOOK_ISTIO_MIRROR: mirror.istioBase,
      GTHULHU_RUNBOOK_GATEWAY_API_MIRROR: mirror.gatewayApiBase,
      // The simulator's fake istioctl stays in its own folder: never in ~/.local/bin, where a later run against a
      // real cluster would find it.
      GTHULHU_RUNBOOK_INSTALL_DIR: join(dir, 'bin'),
    }
    writeFileSync(
      join(dir, 'env'),
      Object.entries(env)
        .map(([k, v]) => `export ${k}=${shellQuote(v)}\n`)
        .join(''),
    )

    let stopped = false
    return {
      store,
      faults,
      dir,
      apiUrl,
      controlUrl: api.url,
      kubeconfig,
      context: contextName,
      istioMirror: mirror.istioBase,
      gatewayApiMirror: mirror.gatewayApiBase,
      env,
      nodePorts,
      save: () => ({ format: SAVED_WORLD_FORMAT, options: savedOptions(options), store: store.dump() }),
      controllerStats: () => ({ ...controllers.stats }),
      addUser: (user) => {
        authenticator.add(user)
        const path = join(dir, `kubeconfig-${user.username.replace(/[^\w.-]+/g, '_')}`)
        writeFileSync(path, kubeconfigYaml(apiUrl, tls.cert, contextName, namespace, user.token), { mode: 0o600 })
        return path
      },
      onAuthorization: (listener) => rbac.onDecision(listener),
      stop: async () => {
        if (stopped) return
        stopped = true
        await closeAll(closers)
      },
    }
  } catch (error) {
    await closeAll(closers)
    throw error
  }
}

async function closeAll(closers: (() => Promise<void> | void)[]): Promise<void> {
  for (const close of closers.reverse()) {
    try {
      await close()
    } catch (error) {
      console.error('sim: stopping failed:', error)
    }
  }
}

/** Waits until every seeded workload reports all its pods ready, so callers start from a settled cluster. */
async function waitForSeedRollout(store: Store, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const settled = () =>
    listOf(store, 'deployment').every(
      (d) =>
        (d.status?.readyReplicas ?? 0) >= (d.spec?.replicas ?? 1) &&
        d.status?.updatedReplicas === (d.spec?.replicas ?? 1),
    ) &&
    listOf(store, 'statefulSet').every((s) => (s.status?.readyReplicas ?? 0) >= (s.spec?.replicas ?? 1)) &&
    listOf(store, 'daemonSet').every((d) => d.status?.numberReady >= 1)
  while (!settled()) {
    if (Date.now() > deadline) throw new Error('sim: the seeded workloads did not become ready')
    await new Promise((r) => setTimeout(r, 20))
  }
}

function kubeconfigYaml(
  server: string,
  ca: string,
  name: string,
  namespace: string,
  token = CLUSTER_ADMIN.token,
): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
    users: [{ name, user: { token } }],
    contexts: [{ name, context: { cluster: name, user: name, namespace } }],
    'current-context': name,
    preferences: {},
  })
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@=-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`
}
