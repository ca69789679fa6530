// The controller rounds each step cannot avoid waiting for on the simulated cluster: the chain of reconcile
// passes between the step's change and the state it must see (test/sim/controllers/: one pass runs every
// controller, after `faults.controllerDelayMs`; pods start `podStartMs` after the pass that first sees them, and
// a probe pod's command runs in the pass after that and ends in the pass after its simulated run time). A step
// that waits for more rounds than these waits for its own polling, not for the cluster.
import type { StepId } from '../lib/config/step-ids.ts'

/** A batch of probe pods: seen (pass 1), started and run (pass 2), finished with its logs (pass 3). */
const PROBES = 3

export const FORCED_ROUNDS: Record<StepId, { rounds: number; why: string }> = {
  preflight: { rounds: 0, why: 'reads only' },
  istioctl: { rounds: 0, why: 'a download from the mirror; no controller involved' },
  'gateway-api-crds': {
    rounds: 0,
    why: 'the API server marks a CRD Established itself (builtin-types.ts), without a controller pass',
  },
  ambient: {
    rounds: 2,
    why: 'istioctl install waits for istiod, ztunnel and istio-cni: one pass creates their pods, the next (after they start) makes them ready',
  },
  gateway: {
    rounds: 2,
    why: "one pass makes the Gateway's Deployment, Service and pod and writes the route's status, the next starts the Envoy pod (then GET /health)",
  },
  'l4-policies': { rounds: PROBES, why: 'NetworkPolicies are enforced at once; the probe batch takes 3 passes' },
  waypoint: {
    rounds: 1,
    why: 'istioctl waypoint apply --wait: one pass makes the waypoint and reports it Programmed',
  },
  restart: {
    rounds: 3 + PROBES,
    why: 'each rollout takes 3 passes (a new pod, it starts, the old one goes; the three run side by side), then a probe batch',
  },
  'identity-policies': {
    rounds: PROBES,
    why: 'ZtunnelAccepted is written in one pass, while the probe batch (3 passes) runs',
  },
  'admission-policy': {
    rounds: PROBES,
    why: 'the API server enforces a stored policy at once (its attempts are dry runs); the probe batch takes 3 passes',
  },
  'l7-policies': {
    rounds: PROBES,
    why: 'WaypointAccepted is written in one pass, while the probe batch (3 passes) runs',
  },
}
