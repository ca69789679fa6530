#!/usr/bin/env node
// `npx gthulhu-runbook` from a clone: load the TypeScript entry point through tsx.
import { register } from 'tsx/esm/api'

register()
await import('../runbook.ts')
