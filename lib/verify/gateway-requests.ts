// Requests from this machine through the gateway's address: the browser's path into the manager.
import {
  HEALTH_PATH,
  findNamed,
  gatewayServiceName,
  gatewayUrl,
  getNamed,
  getUntil,
  listenerNodePort,
  listenerPort,
  loadBalancerAddress,
  pickNodeAddress,
  requestBudget,
} from '../domain/gateway-api.ts'
import { SETTLE_RETRY_MS } from '../domain/istio.ts'
import type { Config } from '../config/options.ts'
import type { Cluster } from '../kube/cluster.ts'
import type { Check, Facts, StepContext } from '../types.ts'
import { text } from '../config/text.ts'

/**
 * GET through the gateway's address until the expected status comes back. A request without an answer is tried
 * again with a longer wait, within --timeout, before anything is reported: a scheduled audit on a busy machine must
 * not report a drift because its own requests were slow. After a run, another answer is asked again for a short
 * while (policies take a moment to reach Envoy); an audit, which changed no policy, takes it as the finding.
 */
export async function gatewayRequestCheck(
  ctx: StepContext,
  url: string,
  userAgent: string,
  who: string,
  expected: number,
  hint: string,
  path?: string,
): Promise<Check> {
  const last = await getUntil(
    url,
    userAgent,
    (answer) => answer.status === expected,
    requestBudget(ctx, SETTLE_RETRY_MS),
  )
  return {
    name: text.checks.gatewayRequest(url, who, userAgent, expected, path),
    expected: `HTTP ${expected}`,
    observed: last.status
      ? `HTTP ${last.status}`
      : `no answer: ${last.error}${last.attempts > 1 ? ` (${last.attempts} attempts)` : ''}`,
    ok: last.status === expected,
    hint,
  }
}

/** Where the gateway's requests go now (its base URL, ending in "/"), or why there is no address to send them to. */
export type LiveGateway = { url: string } | { missing: string }

/**
 * The gateway's address as the cluster has it now, once the gateway step has verified one (undefined before). The
 * URL the gateway step recorded is not trusted: the Service can be made again (Istio recreates it with the
 * Gateway, someone deletes it) with another NodePort, and nodes come and go, so the address is found again the
 * way the gateway step found it: the Gateway's listener port, the Service's load balancer address or that port's
 * NodePort on a Ready node's address.
 */
export async function liveGateway(
  cluster: Pick<Cluster, 'findJson' | 'list'>,
  config: Config,
  facts: Facts,
): Promise<LiveGateway | undefined> {
  if (!facts.gateway) return undefined
  const serviceName = gatewayServiceName(config)
  const [found, nodes] = await Promise.all([
    getNamed(cluster, config.namespace, [
      `gateways.gateway.networking.k8s.io/${config.gatewayName}`,
      `service/${serviceName}`,
    ]),
    cluster.list('nodes'),
  ])
  const gateway = findNamed(found, 'Gateway', config.gatewayName)
  const service = findNamed(found, 'Service', serviceName)
  if (!gateway) return { missing: `Gateway ${config.namespace}/${config.gatewayName} not found` }
  if (!service) return { missing: `Service ${config.namespace}/${serviceName} not found` }
  const port = listenerPort(gateway)
  const nodePort = listenerNodePort(service, port)?.nodePort
  const address = gatewayUrl(port, loadBalancerAddress(service), pickNodeAddress(nodes), nodePort)
  if (address) return { url: address.url }
  return {
    missing: nodePort
      ? `no Ready node has an address for NodePort ${nodePort}`
      : `Service ${config.namespace}/${serviceName} has no load balancer address and no NodePort for listener port ${port}`,
  }
}

/** The manager's health endpoint through the gateway's address as it is now (see liveGateway). */
export async function liveGatewayHealthUrl(
  ctx: StepContext,
): Promise<{ healthUrl: string } | { missing: string } | undefined> {
  const live = await liveGateway(ctx.cluster, ctx.config, ctx.facts)
  return live && 'url' in live ? { healthUrl: new URL(HEALTH_PATH, live.url).toString() } : live
}
