// Gthulhu's manager as a client: every 30 s it lists the pods labelled app=decisionmaker in every namespace
// and calls each one that is Running, on its first container port — first a token request, then the intents.
// What matters here is who receives those calls: a pod anyone labels app=decisionmaker, anywhere, does,
// unless the manager's egress policy (or the far side's ingress) stops them.
//
// Imitates Gthulhu/api v1.3.0: manager/service/cron_svc.go (ReconcileIntents → resyncIntentsToDMs: the
// label app=decisionmaker, every dm whose State is Online), manager/k8s_adapter/adapter.go
// (QueryDecisionMakerPods: NamespaceAll, Host = podIP else hostIP, Port = firstContainerPort, Online = phase
// Running; the pods come from an informer over all namespaces), manager/client/deicison_maker.go
// (GetIntentMerkleRoot → GetToken: POST /api/v1/auth/token to http://host:port), manager/app/rest_app.go (the
// 30 s reconcile interval after a 5 s wait).
// Simplifications: no timer runs — a listener asks what the manager would send it now (the interval is shorter
// than any listening window, so one resync falls inside it); the manager must reach the API server (the
// kubernetes Service's endpoints) past its own egress policy to list pods; no merkle roots, tokens or intents
// beyond the first request; TLS (mtls.enabled) is not modelled on this path.
import type { HttpRequest, NetworkModel, Outcome } from './network.ts'
import type { KubeObject } from './store.ts'

export const DECISION_MAKER_LABEL = { key: 'app', value: 'decisionmaker' }
/** The first request of a resync: the token a decision maker hands out. */
export const TOKEN_REQUEST_PATH = '/api/v1/auth/token'

/** The manager's own pods: owned by its workload and labelled component=manager (probes wear the labels, not the owner). */
export function managerPods(model: NetworkModel): KubeObject[] {
  return model.view.pods.filter(
    (p) =>
      p.metadata.labels?.['app.kubernetes.io/component'] === 'manager' &&
      (p.metadata.ownerReferences ?? []).length > 0 &&
      p.status?.phase === 'Running',
  )
}

/** The port the manager calls: the first port any container of the pod declares (adapter.go firstContainerPort). */
export function firstContainerPort(pod: KubeObject): number | undefined {
  for (const c of pod.spec?.containers ?? []) if ((c.ports ?? []).length) return Number(c.ports[0].containerPort)
  return undefined
}

/** Whether the manager pod can list pods: some API server endpoint past its egress policy. */
function reachesApiServer(model: NetworkModel, manager: KubeObject): boolean {
  const source = model.sourceOfPod(manager)
  const endpoints = model.view.endpoints.find(
    (e) => e.metadata.namespace === 'default' && e.metadata.name === 'kubernetes',
  )
  const targets = (endpoints?.subsets ?? []).flatMap((s: any) =>
    (s.addresses ?? []).flatMap((a: any) =>
      (s.ports ?? []).map((p: any) => ({ ip: String(a.ip), port: Number(p.port) })),
    ),
  )
  return targets.some((t: { ip: string; port: number }) => model.egressAllows(source, { ip: t.ip }, t.port).allowed)
}

export interface ManagerCall {
  manager: KubeObject
  port: number
  request: HttpRequest
  outcome: Outcome
  /** The request reached the decision maker's port (whatever it answered). */
  delivered: boolean
}

/**
 * What the manager's resync sends to this decision maker (a pod as the kubelet runs it now): one call per
 * manager pod that can list pods, through the network model, as the manager's pod.
 */
export function managerCallsTo(model: NetworkModel, dm: KubeObject): ManagerCall[] {
  if (dm.metadata.labels?.[DECISION_MAKER_LABEL.key] !== DECISION_MAKER_LABEL.value) return []
  if (dm.status?.phase !== 'Running') return []
  const port = firstContainerPort(dm)
  const host = dm.status?.podIP ?? dm.status?.hostIP
  if (!port || !host) return []
  return managerPods(model)
    .filter((manager) => reachesApiServer(model, manager))
    .map((manager) => {
      const request: HttpRequest = {
        method: 'POST',
        path: TOKEN_REQUEST_PATH,
        host: `${host}:${port}`,
        headers: { 'content-type': 'application/json', 'user-agent': 'Go-http-client/1.1' },
      }
      const outcome = model.toPod(model.sourceOfPod(manager), dm, port, request)
      return { manager, port, request, outcome, delivered: outcome.kind === 'http' || outcome.kind === 'open' }
    })
}

/** The text a listener on the decision maker's port prints for a call that reached it (the request head). */
export const requestText = (call: ManagerCall) =>
  `${call.request.method} ${call.request.path} HTTP/1.1\r\nHost: ${call.request.host}\r\nUser-Agent: ${call.request.headers['user-agent']}\r\nContent-Type: ${call.request.headers['content-type']}\r\n\r\n`
