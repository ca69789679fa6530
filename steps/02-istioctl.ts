// Download istioctl for this machine from the release mirror, verify its SHA-256 before extracting, and
// install it (mode 0755, no sudo) where the runbook and the operator can use it.
import { text } from '../lib/config/text.ts'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { StepFailure } from '../lib/config/errors.ts'
import type { Config } from '../lib/config/options.ts'
import { downloadFile, fetchText, parseChecksumFile } from '../lib/domain/download.ts'
import { istioctlPath } from '../lib/domain/istio.ts'
import type { Cluster } from '../lib/kube/cluster.ts'
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
    throw new StepFailure(
      `Istio publishes no istioctl for ${nodePlatform}/${nodeArch}; supported: linux (amd64, arm64, armv7), osx (amd64, arm64)`,
    )
  }
  const name = `istioctl-${config.istioVersion}-${platform.os}-${platform.arch}.tar.gz`
  return `${config.istioMirror.replace(/\/+$/, '')}/${config.istioVersion}/${name}`
}

/** The client version an istioctl binary reports, or why it could not tell. */
export async function istioctlClientVersion(
  cluster: Cluster,
  binary: string,
): Promise<{ version?: string; problem?: string }> {
  const result = await cluster.exec([binary, 'version', '--remote=false'], { timeoutMs: 20_000 })
  const version = /(?:client version:\s*)?(\d+\.\d+\.\d+\S*)/.exec(result.stdout)?.[1]
  if (result.exitCode === 0 && version) return { version }
  return {
    problem: `\`${binary} version --remote=false\` exited ${result.exitCode}: ${(result.stderr || result.stdout).trim().split('\n').pop() || 'no output'}`,
  }
}

async function installVerified(ctx: StepContext, url: string, log: (m: string) => void): Promise<void> {
  const { installDir, istioVersion } = ctx.config
  // The temp dir sits inside the install dir so the final rename never crosses file systems.
  const work = mkdtempSync(join(installDir, '.istioctl-download-'))
  try {
    const archive = join(work, 'istioctl.tar.gz')
    const checksumUrl = `${url}.sha256`
    const [expected, downloaded] = await Promise.all([
      fetchText(checksumUrl, ctx.signal).then((text) => parseChecksumFile(text, checksumUrl)),
      downloadFile(url, archive, ctx.signal),
    ])
    if (downloaded.sha256 !== expected) {
      throw new StepFailure(
        `checksum mismatch for ${url}: the archive hashes to ${downloaded.sha256}, ${checksumUrl} says ${expected}; nothing was installed`,
      )
    }
    log(`checksum verified (sha256 ${expected.slice(0, 16)}…, ${downloaded.bytes} bytes)`)
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
      throw new StepFailure(
        `${url} does not contain an istioctl binary (found: ${readdirSync(unpacked).join(', ') || 'nothing'})`,
      )
    }
    chmodSync(binary, 0o755)
    const { version, problem } = await istioctlClientVersion(ctx.cluster, binary)
    if (version !== istioVersion)
      throw new StepFailure(
        `the downloaded istioctl reports ${version ?? `no version (${problem})`}, expected ${istioVersion}; nothing was installed`,
      )
    renameSync(binary, istioctlPath(ctx.config))
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

export const istioctlStep: Step = {
  id: 'istioctl',
  title: 'Install istioctl (checksum verified)',
  why:
    'istioctl installs Istio and manages waypoints. The guide pipes a download script into sh, which pins nothing and checks nothing; ' +
    'here the exact release is downloaded for this machine and its SHA-256 is checked against the published .sha256 before anything is unpacked, ' +
    'then it is installed into a user-writable directory without sudo.',
  settings: ['istioVersion', 'installDir'],
  plan: ({ config }) => {
    const url = istioctlArchiveUrl(config)
    return [
      {
        kind: 'download',
        url,
        checksumUrl: `${url}.sha256`,
        destination: istioctlPath(config),
        why: 'skipped when that version is already installed there',
      },
      {
        kind: 'command',
        argv: [istioctlPath(config), 'version', '--remote=false'],
        why: `must report ${config.istioVersion}`,
      },
    ]
  },
  async run(ctx, io) {
    const target = istioctlPath(ctx.config)
    const url = istioctlArchiveUrl(ctx.config)
    ctx.cluster.istioctlPath = target
    ctx.facts.istioctlPath = target
    mkdirSync(ctx.config.installDir, { recursive: true })
    if (existsSync(target)) {
      const { version: installed } = await istioctlClientVersion(ctx.cluster, target)
      if (installed === ctx.config.istioVersion) return { unchanged: text.notes.istioctlInstalled(installed, target) }
      // Never replace a binary the operator may rely on without saying so.
      if (installed) io.warn(`replacing istioctl ${installed} at ${target} with ${ctx.config.istioVersion}`)
      else
        throw new StepFailure(
          `${target} exists but does not run as istioctl; move it away or choose another --install-dir`,
        )
    }
    io.log(`downloading ${url}`)
    await installVerified(ctx, url, io.log)
    io.log(`installed ${target}`)
  },
  undo: {
    found: async (ctx) => ({ istioctlExisted: existsSync(istioctlPath(ctx.config)) }),
    describe: ({ config, before }) => [
      before?.found?.istioctlExisted
        ? `leave ${istioctlPath(config)}: it was there before the runbook`
        : `remove ${istioctlPath(config)} if it still reports ${config.istioVersion}`,
    ],
  },
  async rollback(ctx, io) {
    const target = istioctlPath(ctx.config)
    if (ctx.before?.found?.istioctlExisted) return io.log(`left ${target}: it was there before the runbook`)
    if (!existsSync(target)) return io.log(`${target} is already gone`)
    // Never remove a binary someone replaced since: only the release this runbook installed.
    const { version } = await istioctlClientVersion(ctx.cluster, target)
    if (version !== ctx.config.istioVersion)
      return io.warn(
        `left ${target}: it now reports ${version ?? 'no version'}, not the ${ctx.config.istioVersion} the runbook installed`,
      )
    rmSync(target)
    if (ctx.facts.istioctlPath === target) delete ctx.facts.istioctlPath
    io.log(`removed ${target}`)
  },
  async verifyRollback(ctx) {
    const target = istioctlPath(ctx.config)
    const kept = !!ctx.before?.found?.istioctlExisted
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
    const target = istioctlPath(ctx.config)
    ctx.cluster.istioctlPath = target
    ctx.facts.istioctlPath = target
    const exists = existsSync(target)
    const mode = exists ? (statSync(target).mode & 0o777).toString(8) : 'missing'
    const { version, problem } = exists
      ? await istioctlClientVersion(ctx.cluster, target)
      : { version: undefined, problem: 'not installed' }
    return [
      { name: text.checks.istioctlExecutable(target), expected: '755', observed: mode, ok: mode === '755' },
      {
        name: text.checks.istioctlVersion,
        expected: ctx.config.istioVersion,
        observed: version ?? problem!,
        ok: version === ctx.config.istioVersion,
      },
    ]
  },
}
