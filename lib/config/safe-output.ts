// What the runbook writes to disk (the local copy of its record, reports) never goes through a symlink someone
// planted, is never seen half-written, and never carries credentials that were part of a URL.
import { randomBytes } from 'node:crypto'
import { closeSync, constants, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

/**
 * Writes `text` to `path` through a new temp file in the same directory (created exclusively, never following a
 * link) renamed over `path`: a symlink at `path` is replaced, its target is never written.
 */
export function writeFileSafely(path: string, text: string, mode = 0o600): void {
  const dir = dirname(path)
  mkdirSync(dir, { recursive: true })
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } catch (error) {
    closeSync(fd)
    rmSync(temp, { force: true })
    throw error
  }
  closeSync(fd)
  try {
    renameSync(temp, path)
  } catch (error) {
    rmSync(temp, { force: true }) // a directory in the way, say: no temp file left beside it
    throw error
  }
}

// scheme://user:password@host or scheme://token@host: the part before "@" in a URL's authority.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi

/** The text with the user and password of every URL in it replaced by "***". */
export const redactCredentials = (text: string): string => text.replace(URL_USERINFO, '$1***@')
