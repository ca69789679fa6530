// Placeholder: refined below.
import type { StepId } from '../lib/config/step-ids.ts'
export const FORCED_ROUNDS: Record<StepId, { rounds: number; why: string }> = {
  preflight: { rounds: 0, why: 'reads only' },
  istioctl: { rounds: 0, why: 'a download' },
  'gateway-api-crds': { rounds: 0, why: '?' },
  ambient: { rounds: 1, why: '?' },
  gateway: { rounds: 2, why: '?' },
  'l4-policies': { rounds: 1, why: '?' },
  waypoint: { rounds: 1, why: '?' },
  restart: { rounds: 2, why: '?' },
  'identity-policies': { rounds: 1, why: '?' },
  'l7-policies': { rounds: 1, why: '?' },
}
