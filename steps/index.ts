// The runbook's table of contents: every step, in the order it runs.
import type { Step } from '../lib/types.ts'
import { preflightStep } from './01-preflight.ts'
import { istioctlStep } from './02-istioctl.ts'
import { gatewayApiCrdsStep } from './03-gateway-api-crds.ts'
import { ambientStep } from './04-ambient.ts'
import { gatewayStep } from './05-gateway.ts'
import { l4PoliciesStep } from './06-l4-policies.ts'
import { waypointStep } from './07-waypoint.ts'
import { restartStep } from './08-restart.ts'
import { identityPoliciesStep } from './09-identity-policies.ts'
import { admissionPolicyStep } from './10-admission-policy.ts'
import { l7PoliciesStep } from './11-l7-policies.ts'

export const STEPS: Step[] = [
  preflightStep,
  istioctlStep,
  gatewayApiCrdsStep,
  ambientStep,
  gatewayStep,
  l4PoliciesStep,
  waypointStep,
  restartStep,
  identityPoliciesStep,
  admissionPolicyStep,
  l7PoliciesStep,
]
