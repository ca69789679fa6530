// The one real socket of the simulated data plane: for every Service of an Istio ingress Gateway
// (`<G>-istio`), an HTTP server on 127.0.0.1:<nodePort> of each listener port, and, once the simulated load
// balancer gave the Service an address, one on <address>:<port> as a cloud load balancer would. Requests are answered by
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
  close(): Promise<void>
}

export function startWebUi(store: Store, cni: Cni, log: (line: string) => void = (l) => console.error(l)): WebUi {
  // Keyed by "host:port".
  const servers = new Map<string, { server: Server; binding: Binding }>()
  let timer: NodeJS.Timeout | undefined
  let closed = false

  const desired = (): Map<string, Binding> => {
    const out = new Map<string, Binding>()
    for (const svc of listOf(store, 'service')) {
      const gateway = svc.metadata.labels?.[GATEWAY_NAME_LABEL]
      const managed = svc.metadata.labels?.['gateway.istio.io/managed'] === 'istio.io-gateway-controller'
      if (!gateway || !managed || svc.metadata.name !== `${gateway}-istio`) continue
      const lbAddresses: string[] = (svc.status?.loadBalancer?.ingress ?? []).map((i: any) => i.ip).filter(Boolean)
      for (const port of svc.spec?.ports ?? []) {
        if (port.name === 'status-port') continue
        const binding = { namespace: svc.metadata.namespace!, gateway, listenerPort: port.port }
        if (port.nodePort) out.set(`127.0.0.1:${port.nodePort}`, binding)
        for (const ip of lbAddresses) out.set(`${ip}:${port.port}`, binding)
      }
    }
    return out
  }

  const open = (address: string, binding: Binding) => {
    const server = createServer((req, res) => {
      const view = new ClusterView(store, cni)
      const gw = view.gateway(binding.namespace, binding.gateway)
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(req.headers))
        if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v
      const response = gw
        ? new NetworkModel(view).ingress(gw, binding.listenerPort, {
            method: req.method ?? 'GET',
            path: req.url ?? '/',
            host: headers.host,
            headers,
          })
        : { status: 503, body: 'no healthy upstream', contentType: 'text/plain' }
      res.writeHead(response.status, {
        'content-type': response.contentType,
        'content-length': Buffer.byteLength(response.body),
        server: 'istio-envoy',
      })
      res.end(req.method === 'HEAD' ? undefined : response.body)
    })
    servers.set(address, { server, binding })
    server.once('error', (error) => {
      log(
        `sim web UI: cannot listen on ${address} for Service ${binding.namespace}/${binding.gateway}-istio (port ${binding.listenerPort}): ${(error as Error).message}`,
      )
      servers.delete(address)
    })
    const [host, port] = address.split(':')
    server.listen(Number(port), host)
  }

  const sync = () => {
    if (closed) return
    const want = desired()
    for (const [address, entry] of servers) {
      const w = want.get(address)
      if (!w || JSON.stringify(w) !== JSON.stringify(entry.binding)) {
        entry.server.closeAllConnections()
        entry.server.close()
        servers.delete(address)
      }
    }
    for (const [address, binding] of want) if (!servers.has(address)) open(address, binding)
  }

  const unsubscribe = store.subscribe((event) => {
    if (event.resource.kind !== 'Service' || event.resource.group !== '') return
    clearTimeout(timer)
    timer = setTimeout(sync, 5)
  })
  sync()

  return {
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
