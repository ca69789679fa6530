// The runbook's step ids: they name a step in flags, in the record and in docs, so they never change.

/** The runbook's steps, in the order they run. The id names a step in flags and in the state file. */
export const STEP_IDS = [
  'preflight',
  'istioctl',
  'gateway-api-crds',
  'ambient',
  'gateway',
  'l4-policies',
  'waypoint',
  'restart',
  'identity-policies',
  'admission-policy',
  'l7-policies',
] as const
export type StepId = (typeof STEP_IDS)[number]
