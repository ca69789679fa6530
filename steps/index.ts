// The runbook's table of contents: every step, in the order it runs.
import type { Step } from '../lib/types.ts'
import { preflightStep } from './01-preflight.ts'
import { istioctlStep } from './02-istioctl.ts'

export const STEPS: Step[] = [preflightStep, istioctlStep]
