// Which kubectl the suite and the benchmark run: the real binary, never the gcloud SDK's version dispatcher.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'

const KUBECTL_DIR = join(import.meta.dirname, '..', 'node_modules', '.cache', 'gthulhu-runbook', 'kubectl')

/**
 * The Google Cloud SDK's `kubectl` is a version dispatcher: every call first asks the API server its version over
 * TLS, then starts the matching kubectl.1.NN beside it. The suite's cost is kubectl processes, and the dispatcher
 * doubles each one's (measured here: a --verify --no-probes audit took 21 CPU-seconds through it, 12 without). So
 * when `kubectl` on PATH is that dispatcher, the suite puts the newest real kubectl beside it first on PATH (the
 * one it picks for the simulator's Kubernetes 1.33). Any other kubectl is used as it is.
 */
function directKubectlDir(): string | undefined {
  const onPath = (process.env.PATH ?? '')
    .split(delimiter)
    .map((dir) => join(dir, 'kubectl'))
    .find((file) => existsSync(file))
  if (!onPath) return undefined
  const resolved = realpathSync(onPath)
  const versioned = readdirSync(dirname(resolved))
    .map((name) => /^kubectl\.1\.(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]))[0]
  if (!versioned) return undefined
  const client = spawnSync(resolved, ['version', '--client', '-o', 'json'], { encoding: 'utf8', timeout: 30_000 })
  if (!client.stdout?.includes('dispatcher')) return undefined
  const real = join(dirname(resolved), versioned[0])
  const link = join(KUBECTL_DIR, 'kubectl')
  mkdirSync(KUBECTL_DIR, { recursive: true })
  if (!existsSync(link) || realpathSync(link) !== real) {
    rmSync(link, { force: true })
    symlinkSync(real, link)
  }
  return KUBECTL_DIR
}

/** PATH with the real kubectl first and the line that says which one it is; undefined when PATH's is used as it is. */
export function pathWithDirectKubectl(): { PATH: string; said: string } | undefined {
  const dir = directKubectlDir()
  if (!dir) return undefined
  return {
    PATH: `${dir}${delimiter}${process.env.PATH}`,
    said: `kubectl: ${realpathSync(join(dir, 'kubectl'))} (not the gcloud version dispatcher)\n`,
  }
}
