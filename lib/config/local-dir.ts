// Directories the runbook writes into on this machine (the local copy of its record, --report, --render) are made
// one level at a time, and what is in the way is named: Node's recursive mkdir never returns under /proc (it retries
// ENOENT there forever), and a file where a directory should be used to surface as a stack trace.
import { accessSync, constants, mkdirSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

/** Why a local directory cannot be used: `at` is the path in the way, `code` what the system said. */
export interface PathProblem {
  at: string
  kind: 'not-a-directory' | 'a-directory' | 'cannot-create' | 'not-writable'
  code: string
}

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException).code ?? (error as Error).message

/** A write that failed at `at`, as a problem: a directory in its way is named as such. */
export function problemAt(at: string, error: unknown): PathProblem {
  const code = codeOf(error)
  return { at, kind: code === 'EISDIR' ? 'a-directory' : 'not-writable', code }
}

/** Creates `dir` and its missing parents, one at a time; undefined once it is a writable directory, else why not. */
export function makeWritableDir(dir: string): PathProblem | undefined {
  const missing: string[] = []
  let at = resolve(dir)
  for (;;) {
    try {
      if (!statSync(at).isDirectory()) return { at, kind: 'not-a-directory', code: 'ENOTDIR' }
      break
    } catch (error) {
      const code = codeOf(error)
      // ENOTDIR: a file further up; walking up finds it and names it. The root always exists.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return { at, kind: 'not-writable', code }
      missing.unshift(at)
      at = dirname(at)
    }
  }
  for (const path of missing) {
    try {
      mkdirSync(path)
    } catch (error) {
      return { at: path, kind: 'cannot-create', code: codeOf(error) }
    }
  }
  try {
    accessSync(dir, constants.W_OK)
  } catch (error) {
    return { at: resolve(dir), kind: 'not-writable', code: codeOf(error) }
  }
  return undefined
}
