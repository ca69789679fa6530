// A cloud load balancer, when the simulated cluster has one (SimOptions.loadBalancerAddress): every Service
// of type LoadBalancer gets `status.loadBalancer.ingress: [{ip}]`, which the gateway controller then reports
// as an assigned address (Programmed=True), and the web UI listens on that address at the Service's ports.
// Without one, LoadBalancer Services stay pending, as on kind or bare metal.
//
// Imitates kubernetes/kubernetes v1.32 staging/src/k8s.io/cloud-provider/controllers/service/controller.go
// (the service controller writes the provider's ingress addresses into the Service status).
// Simplifications: one shared address for every Service, no ports or hostnames in the status, no finalizer.
import { listOf } from '../cluster-view.ts'
import { writeStatus, type ReconcileContext } from './context.ts'

export function assignLoadBalancerAddresses({ store, config }: ReconcileContext): void {
  const ip = config.loadBalancerAddress
  if (!ip) return
  for (const svc of listOf(store, 'service')) {
    if (svc.spec?.type !== 'LoadBalancer' || svc.status?.loadBalancer?.ingress?.[0]?.ip === ip) continue
    writeStatus(store, 'service', svc, { ...svc.status, loadBalancer: { ingress: [{ ip, ipMode: 'VIP' }] } })
  }
}
