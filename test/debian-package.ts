// Tools some tests drive (tmux, zsh, fish, shellcheck, jq, Chromium) come from Debian's packages, installed on first
// use when the machine lacks them (root on Debian/Ubuntu, as CI runs). Test files run concurrently and dpkg admits
// one installer at a time, refusing the others at once: installs queue on a lock (flock on dpkg's own directory,
// so no file is left behind) and each looks again, once it holds the lock, whether another file installed it meanwhile.
import { execFileSync, spawnSync } from 'node:child_process'

const INSTALL_TIMEOUT_MS = 900_000
const LOCK = '/var/lib/dpkg'

/**
 * Makes sure a tool runs: `present` says whether it does; when not, Debian's package `pkg` is installed.
 * `neededBy` names the tests, for the error shown where nothing can be installed.
 */
export function ensurePackage(pkg: string, present: () => boolean, neededBy: string): void {
  if (present()) return
  if (process.getuid?.() !== 0 || spawnSync('apt-get', ['--version']).status !== 0) {
    throw new Error(`${neededBy} need ${pkg}: install it (e.g. apt-get install ${pkg}) and run the tests again`)
  }
  // Inside the lock: installed by another test file while this one waited, or installed here.
  const script = [
    `[ "$(dpkg-query -W -f='\${db:Status-Status}' ${pkg} 2>/dev/null)" = installed ] && exit 0`,
    'apt-get update -qq',
    `DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 ${pkg}`,
  ].join('\n')
  execFileSync('flock', [LOCK, 'sh', '-ec', script], { stdio: 'inherit', timeout: INSTALL_TIMEOUT_MS })
  if (!present()) throw new Error(`apt-get installed ${pkg}, but ${neededBy} still cannot run it`)
}

/** Whether `command args…` runs and exits 0 (within 30 s: a first start of Chromium can be slow). */
export const runs =
  (command: string, ...args: string[]) =>
  () =>
    spawnSync(command, args, { timeout: 30_000 }).status === 0
