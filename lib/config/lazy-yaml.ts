// The yaml library, loaded on first use: --help, --version and --list never need it, and loading it is a
// noticeable share of their start-up time.
import { createRequire } from 'node:module'

let loaded: typeof import('yaml') | undefined
export const yaml = (): typeof import('yaml') =>
  (loaded ??= createRequire(import.meta.url)('yaml') as typeof import('yaml'))
