#!/usr/bin/env node
// The published command: the compiled runbook in dist/ (built by `npm run build`, which `prepare` runs on
// `npm ci` and `npm pack`). No TypeScript at run time.
await import('../dist/runbook.js')
