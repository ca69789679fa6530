// The one real socket of the simulated data plane: for every Service of an Istio ingress Gateway
// (`<G>-istio`), an HTTP server on 127.0.0.1:<nodePort> of each listener port. Requests are answered by
// the network model: the gateway's policies, the HTTPRoute, the backend's waypoint (only with
// istio.io/ingress-use-waypoint), then the application's answer.
import { createServer, type Server } from 'node:http'
import type { Store } from './store.ts'
import { ClusterView, GATEWAY_NAME_LABEL, listOf, type Cni } from './cluster-view.ts'
import { NetworkModel } from './network.ts'

interface Binding {
  namespace: string
  gateway: string
  listenerPort: number
}

export interface WebUi {
  /** NodePorts currently listening, with what they serve. */
  listening(): Map<number, Binding>
  close(): Promise<void>
}

export function startWebUi(store: Store, cni: Cni, log: (line: string) => void = (l) => console.error(l)): WebUi {
  const servers = new Map<number, { server: Server; binding: Binding; ready: boolean }>()
  let timer: NodeJS.Timeout | undefined
  let closed = false

  const desired = (): Map<number, Binding> => {
    const out = new Map<number, Binding>()
    for (const svc of listOf(store, 'service')) {
      const gateway = svc.metadata.labels?.[GATEWAY_NAME_LABEL]
      const managed = svc.metadata.labels?.['gateway.istio.io/managed'] === 'istio.io-gateway-controller'
      if (!gateway || !managed || svc.metadata.name !== `${gateway}-istio`) continue
      for (const port of svc.spec?.ports ?? []) {
        if (port.name === 'status-port' || !port.nodePort) continue
        out.set(port.nodePort, { namespace: svc.metadata.namespace!, gateway, listenerPort: port.port })
      }
    }
    return out
  }

  const open = (nodePort: number, binding: Binding) => {
    const server = createServer((req, res) => {
      const view = new ClusterView(store, cni)
      const gw = view.gateway(binding.namespace, binding.gateway)
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v
      const response = gw
        ? new NetworkModel(view).ingress(gw, binding.listenerPort, { method: req.method ?? 'GET', path: req.url ?? '/', host: headers.host, headers })
        : { status: 503, body: 'no healthy upstream', contentType: 'text/plain' }
      res.writeHead(response.status, { 'content-type': response.contentType, 'content-length': Buffer.byteLength(response.body), server: 'istio-envoy' })
      res.end(req.method === 'HEAD' ? undefined : response.body)
    })
    const entry = { server, binding, ready: false }
    servers.set(nodePort, entry)
    server.once('error', (error) => {
      log(`sim web UI: cannot listen on 127.0.0.1:${nodePort} for Service ${binding.namespace}/${binding.gateway}-istio (port ${binding.listenerPort}): ${(error as Error).message}`)
      servers.delete(nodePort)
    })
    server.listen(nodePort, '127.0.0.1', () => (entry.ready = true))
  }

  const sync = () => {
    if (closed) return
    const want = desired()
    for (const [port, entry] of servers) {
      const w = want.get(port)
      if (!w || JSON.stringify(w) !== JSON.stringify(entry.binding)) {
        entry.server.closeAllConnections()
        entry.server.close()
        servers.delete(port)
      }
    }
    for (const [port, binding] of want) if (!servers.has(port)) open(port, binding)
  }

  const unsubscribe = store.subscribe((event) => {
    if (event.resource.kind !== 'Service' || event.resource.group !== '') return
    clearTimeout(timer)
    timer = setTimeout(sync, 5)
  })
  sync()

  return {
    listening: () => new Map([...servers].filter(([, e]) => e.ready).map(([p, e]) => [p, e.binding])),
    close: async () => {
      closed = true
      unsubscribe()
      clearTimeout(timer)
      await Promise.all(
        [...servers.values()].map(
          ({ server }) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections()
              server.close(() => resolve())
            }),
        ),
      )
      servers.clear()
    },
  }
}
