#!/usr/bin/env node
// The published command: the compiled runbook in dist/ (built by `npm run build`, which `prepare` runs on
// `npm ci` and `npm pack`). No TypeScript at run time.
import { existsSync } from 'node:fs'

const entry = new URL('../dist/runbook.js', import.meta.url)
if (!existsSync(entry)) {
  process.stderr.write('gthulhu-runbook: dist/ is missing in this clone; run `npm run build` (or `npm ci`) first\n')
  process.exit(2)
}
await import(entry.href)
