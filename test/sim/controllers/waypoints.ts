// Waypoints: a Gateway of class `istio-waypoint` named W gets a ServiceAccount, Deployment and ClusterIP
// Service all named W, with one `mesh` port 15008 (HBONE), labelled with its `istio.io/waypoint-for`.
// The objects and status are made by the gateway controller (./gateways.ts); this is what differs.
//
// Imitates istio/istio 1.29.1:
// - pilot/pkg/config/kube/gateway/deploymentcontroller.go (class `istio-waypoint`: template
//   `waypoint`, no name suffix, default Service type ClusterIP, controller label `istio.io-mesh-controller`);
// - manifests/charts/istio-control/istio-discovery/files/waypoint.yaml (the objects' shape);
// - istioctl/pkg/waypoint/waypoint.go (the Gateway `waypoint apply` writes: listener `mesh` 15008 HBONE,
//   label `istio.io/waypoint-for`) and pilot/pkg/serviceregistry/kube/controller/ambient/waypoints.go
//   (traffic type `service` when no `istio.io/waypoint-for` label says otherwise).
// Simplifications: the listener's port and protocol are not read from the Gateway (always 15008 HBONE);
// the GatewayClass's `istio.io/waypoint-for` label is not consulted; listeners never attach routes;
// which traffic a waypoint carries is decided by the network model (../network.ts), not here.
import type { GatewayClassProfile } from './gateways.ts'

export const WAYPOINT_PROFILE: GatewayClassProfile = {
  objectName: (gw) => gw.metadata.name,
  labels: (gw) => ({
    'gateway.istio.io/managed': 'istio.io-mesh-controller',
    'istio.io/waypoint-for': gw.metadata.labels?.['istio.io/waypoint-for'] ?? 'service',
  }),
  servicePorts: () => [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
  serviceType: () => 'ClusterIP',
  statusPorts: () => [15008],
  takesRoutes: false,
}
