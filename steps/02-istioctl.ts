// Download istioctl for this machine from the release mirror, verify its SHA-256 before extracting, and
// install it (mode 0755, no sudo) where the runbook and the operator can use it.
import { text } from '../lib/config/text.ts'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { StepFailure } from '../lib/config/errors.ts'
import type { Config } from '../lib/config/options.ts'
import { downloadFile, fetchText, parseChecksumFile } from '../lib/domain/download.ts'
import { istioctlPath, verifiedIstioctlPath } from '../lib/domain/istio.ts'
import { fileSha256, type Cluster } from '../lib/kube/cluster.ts'
import type { Step, StepContext } from '../lib/types.ts'

/** Maps Node's platform names to Istio's release names; undefined when Istio publishes no build. */
export function istioPlatform(
  platform: string = process.platform,
  arch: string = process.arch,
): { os: string; arch: string } | undefined {
  const os = { linux: 'linux', darwin: 'osx' }[platform]
  const cpu = { x64: 'amd64', arm64: 'arm64', ...(platform === 'linux' ? { arm: 'armv7' } : {}) }[arch]
  return os && cpu ? { os, arch: cpu } : undefined
}

export function istioctlArchiveUrl(
  config: Pick<Config, 'istioMirror' | 'istioVersion'>,
  nodePlatform = process.platform as string,
  nodeArch = process.arch as string,
) {
  const platform = istioPlatform(nodePlatform, nodeArch)
  if (!platform) {
    throw new StepFailure(text.failures.noIstioctlPlatform(`${nodePlatform}/${nodeArch}`))
  }
  const name = `istioctl-${config.istioVersion}-${platform.os}-${platform.arch}.tar.gz`
  return `${config.istioMirror.replace(/\/+$/, '')}/${config.istioVersion}/${name}`
}

/** Versions istioctl reported in this run, by path and SHA-256: the same bytes give the same answer. */
const reportedVersions = new Map<string, string>()

/** The client version an istioctl binary (whose SHA-256 the caller just read) reports, or why it could not tell. */
export async function istioctlClientVersion(
  cluster: Cluster,
  binary: string,
  sha256: string,
): Promise<{ version?: string; problem?: string }> {
  const seen = reportedVersions.get(`${binary}\0${sha256}`)
  if (seen) return { version: seen }
  const result = await cluster.exec([binary, 'version', '--remote=false'], { timeoutMs: 20_000 })
  const version = /(?:client version:\s*)?(\d+\.\d+\.\d+\S*)/.exec(result.stdout)?.[1]
  if (result.exitCode === 0 && version) {
    reportedVersions.set(`${binary}\0${sha256}`, version)
    return { version }
  }
  return {
    problem: `\`${binary} version --remote=false\` exited ${result.exitCode}: ${(result.stderr || result.stdout).trim().split('\n').pop() || 'no output'}`,
  }
}

/** The istioctl of a release, downloaded, checksum-verified and unpacked into a temp dir inside the install dir. */
interface VerifiedRelease {
  binary: string
  sha256: string
  /** Removes the temp dir (and the binary, unless it was installed). */
  discard(): void
}

async function fetchVerifiedRelease(ctx: StepContext, url: string, log: (m: string) => void): Promise<VerifiedRelease> {
  const { installDir, istioVersion } = ctx.config
  // The temp dir sits inside the install dir so the final rename never crosses file systems.
  const work = mkdtempSync(join(installDir, '.istioctl-download-'))
  const discard = () => rmSync(work, { recursive: true, force: true })
  try {
    const archive = join(work, 'istioctl.tar.gz')
    const checksumUrl = `${url}.sha256`
    log(text.progress.downloading(url))
    const [expected, downloaded] = await Promise.all([
      fetchText(checksumUrl, ctx.signal).then((text) => parseChecksumFile(text, checksumUrl)),
      downloadFile(url, archive, ctx.signal),
    ])
    if (downloaded.sha256 !== expected) {
      throw new StepFailure(text.failures.checksumMismatch(url, downloaded.sha256, checksumUrl, expected))
    }
    log(text.progress.checksumVerified(expected.slice(0, 16), downloaded.bytes))
    const unpacked = join(work, 'unpacked')
    mkdirSync(unpacked)
    const { extract } = await import('tar') // loaded only when installing, to keep --help fast
    await extract({
      file: archive,
      cwd: unpacked,
      strict: true,
      filter: (path) => path.replace(/^\.\//, '') === 'istioctl',
    })
    const binary = join(unpacked, 'istioctl')
    if (!existsSync(binary) || !statSync(binary).isFile()) {
      throw new StepFailure(text.failures.noBinaryInArchive(url, readdirSync(unpacked)))
    }
    chmodSync(binary, 0o755)
    const sha256 = fileSha256(binary)
    // Came out of the checksum-verified archive: the one binary besides the installed one this run may execute.
    ctx.cluster.trustIstioctl(binary, sha256)
    const { version, problem } = await istioctlClientVersion(ctx.cluster, binary, sha256)
    if (version !== istioVersion) throw new StepFailure(text.failures.downloadedVersion(version, problem, istioVersion))
    return { binary, sha256, discard }
  } catch (error) {
    discard()
    throw error
  }
}

/**
 * Records the binary the later steps (and --verify, from any directory) run, by path and SHA-256, and whether the
 * runbook installed it or adopted one that was already there (undo removes only the former).
 */
function recordIstioctl(ctx: StepContext, path: string, sha256: string, adopted: boolean): void {
  ctx.facts.istioctlPath = path
  ctx.facts.istioctlSha256 = sha256
  ctx.facts.istioctlAdopted = adopted
  ctx.cluster.useIstioctl(path, sha256)
}

/**
 * Whether the istioctl at `target` was there before the runbook, so undo leaves it: adopted by the step, or (a
 * record from before adoption was recorded) found there before the step first changed anything.
 */
function thereBeforeRunbook({ facts, before }: Pick<StepContext, 'facts' | 'before'>, target: string): boolean {
  if (facts.istioctlPath === target && facts.istioctlAdopted !== undefined) return facts.istioctlAdopted
  const found = before?.found
  return !!found?.istioctlExisted && (found.istioctlPath ?? target) === target
}

export const istioctlStep: Step = {
  id: 'istioctl',
  title: 'Install istioctl (checksum verified)',
  why:
    'istioctl installs Istio and manages waypoints. The guide pipes a download script into sh, which pins nothing and checks nothing; ' +
    'here the exact release is downloaded for this machine and its SHA-256 is checked against the published .sha256 before anything is unpacked, ' +
    'then it is installed into a user-writable directory without sudo. ' +
    "The binary's own SHA-256 is recorded and checked before every later use; an istioctl already there is used only if it is byte for byte the release's.",
  settings: ['istioVersion', 'installDir'],
  // A download to this machine; `istioctl version --remote=false` asks no cluster.
  access: () => ({ run: [], verify: [] }),
  plan: ({ config }) => {
    const url = istioctlArchiveUrl(config)
    return [
      {
        kind: 'download',
        url,
        checksumUrl: `${url}.sha256`,
        destination: istioctlPath(config),
        why: text.plan.istioctlDownload,
      },
      {
        kind: 'command',
        argv: [istioctlPath(config), 'version', '--remote=false'],
        why: text.plan.mustReport(config.istioVersion),
      },
    ]
  },
  async run(ctx, io) {
    const target = istioctlPath(ctx.config)
    const url = istioctlArchiveUrl(ctx.config)
    const { istioVersion } = ctx.config
    mkdirSync(ctx.config.installDir, { recursive: true })
    const recorded = ctx.facts.istioctlPath === target ? ctx.facts.istioctlSha256 : undefined
    if (existsSync(target)) {
      const present = fileSha256(target)
      if (present === recorded) {
        ctx.cluster.useIstioctl(target, present)
        const { version: installed } = await istioctlClientVersion(ctx.cluster, target, present)
        if (installed === istioVersion)
          return {
            unchanged: text.notes.istioctlRecorded(installed, target, present.slice(0, 16)),
          }
        io.warn(text.warnings.replacingIstioctl(installed, target, istioVersion))
      } else {
        // Not what the runbook installed there: never run it to ask its version; compare it with the release's bytes.
        const release = await fetchVerifiedRelease(ctx, url, io.log)
        release.discard()
        if (present !== release.sha256)
          throw new StepFailure(text.failures.notTheRelease(target, istioVersion, present, release.sha256, !!recorded))
        recordIstioctl(ctx, target, present, true)
        return {
          unchanged: text.notes.istioctlAdopted(target, istioVersion, present.slice(0, 16)),
        }
      }
    }
    const release = await fetchVerifiedRelease(ctx, url, io.log)
    try {
      renameSync(release.binary, target)
    } finally {
      release.discard()
    }
    recordIstioctl(ctx, target, release.sha256, false)
    io.log(text.progress.istioctlInstalled(target, release.sha256.slice(0, 16)))
  },
  undo: {
    // Kept for records written before the step recorded whether it adopted the binary (facts.istioctlAdopted).
    found: async (ctx) => ({
      istioctlExisted: existsSync(istioctlPath(ctx.config)),
      istioctlPath: istioctlPath(ctx.config),
    }),
    describe: (ctx) => {
      const target = verifiedIstioctlPath(ctx)
      return [
        thereBeforeRunbook(ctx, target)
          ? `leave ${target}: it was there before the runbook`
          : `remove ${target} if it is still the binary the runbook installed (same SHA-256)`,
      ]
    },
  },
  // The undo, its preview and its verification all look at one path: the binary the later steps run.
  async rollback(ctx, io) {
    const target = verifiedIstioctlPath(ctx)
    if (thereBeforeRunbook(ctx, target)) return io.log(text.progress.istioctlLeft(target))
    if (!existsSync(target)) return io.log(text.progress.istioctlGone(target))
    // Never remove a binary someone replaced since: only the bytes this runbook installed.
    const present = fileSha256(target)
    if (present !== ctx.facts.istioctlSha256)
      return io.warn(text.warnings.istioctlChanged(target, present.slice(0, 16)))
    // The record keeps naming it (path and SHA-256): a later step that needs it says it is gone, not unknown.
    rmSync(target)
    io.log(text.progress.istioctlRemoved(target))
  },
  async verifyRollback(ctx) {
    const target = verifiedIstioctlPath(ctx)
    const kept = thereBeforeRunbook(ctx, target)
    return [
      {
        name: text.checks.istioctlUndone(target, kept),
        expected: kept ? 'present' : 'absent',
        observed: existsSync(target) ? 'present' : 'absent',
        ok: existsSync(target) === kept,
      },
    ]
  },
  async verify(ctx) {
    const target = verifiedIstioctlPath(ctx)
    const expected = ctx.facts.istioctlSha256
    const exists = existsSync(target)
    const mode = exists ? (statSync(target).mode & 0o777).toString(8) : 'missing'
    const present = exists ? fileSha256(target) : undefined
    const verified = !!present && present === expected
    if (verified) ctx.cluster.useIstioctl(target, present)
    const { version, problem } = verified
      ? await istioctlClientVersion(ctx.cluster, target, present)
      : { version: undefined, problem: 'not run: it is not the binary the runbook verified' }
    return [
      { name: text.checks.istioctlExecutable(target), expected: '755', observed: mode, ok: mode === '755' },
      {
        name: text.checks.istioctlVerified(target),
        expected: expected ? `sha256 ${expected}` : 'a SHA-256 in the record',
        observed: present ? `sha256 ${present}` : 'missing',
        ok: verified,
        hint: verified
          ? undefined
          : 'if it changed, find out who changed it; move it away and run --only istioctl to install the checksum-verified release again',
      },
      {
        name: text.checks.istioctlVersion,
        expected: ctx.config.istioVersion,
        observed: version ?? problem!,
        ok: version === ctx.config.istioVersion,
      },
    ]
  },
}
