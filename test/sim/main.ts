// `npm run sim -- [--out DIR] [--namespace X] [--release Y] [--missing manager,...] [--set KEY=true|false]...
//  [--cni calico|cilium|flannel|none] [--k8s-version 1.33.1] [--istio-versions 1.28.3,1.29.1]`: runs the simulated
// cluster in the foreground until SIGINT/SIGTERM, printing where its kubeconfig and env file are. Bad flags exit 2.
import { startSimulator, type SimOptions } from './index.ts'
import type { Cni } from './cluster-view.ts'
import type { GthulhuComponent } from './seed.ts'

const USAGE = `usage: npm run sim -- [--out DIR] [--namespace NS] [--release NAME] [--missing manager,scheduler,mongodb]
                      [--set mtls.enabled|monitoring.enabled|scheduler.scheduling.enabled=true|false]...
                      [--cni calico|cilium|flannel|none] [--k8s-version X.Y.Z] [--istio-versions A,B]`

/** The Gthulhu chart values `--set` may change, as helm names them, and the simulator option each sets. */
const CHART_VALUES = {
  'mtls.enabled': 'mtls',
  'monitoring.enabled': 'monitoring',
  'scheduler.scheduling.enabled': 'scheduling',
} as const

export function parseSimArgs(argv: string[]): SimOptions {
  const options: SimOptions = {}
  const missing: GthulhuComponent[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const eq = arg.indexOf('=')
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const value = () => {
      const v = eq > 0 ? arg.slice(eq + 1) : argv[++i]
      if (v === undefined || v === '') throw new Error(`${flag} needs a value`)
      return v
    }
    switch (flag) {
      case '--out':
        options.dir = value()
        break
      case '--namespace':
        options.namespace = value()
        break
      case '--release':
        options.release = value()
        break
      case '--missing':
        for (const m of value().split(',')) {
          if (!['manager', 'scheduler', 'mongodb'].includes(m))
            throw new Error(`--missing: unknown component "${m}" (manager, scheduler, mongodb)`)
          missing.push(m as GthulhuComponent)
        }
        break
      case '--set': {
        const [key, setting, ...rest] = value().split('=')
        const option = CHART_VALUES[key as keyof typeof CHART_VALUES]
        if (!option || rest.length || !['true', 'false'].includes(setting ?? ''))
          throw new Error(
            `--set: "${[key, setting, ...rest].join('=')}" is not one of ${Object.keys(CHART_VALUES)
              .map((k) => `${k}=true|false`)
              .join(', ')}`,
          )
        options.chart = { ...options.chart, [option]: setting === 'true' }
        break
      }
      case '--cni': {
        const cni = value()
        if (!['calico', 'cilium', 'flannel', 'none'].includes(cni))
          throw new Error(`--cni: unknown CNI "${cni}" (calico, cilium, flannel, none)`)
        options.cni = cni as Cni
        break
      }
      case '--k8s-version': {
        const v = value().replace(/^v/, '')
        if (!/^1\.\d+\.\d+$/.test(v)) throw new Error(`--k8s-version: expected 1.MINOR.PATCH, got "${v}"`)
        options.kubernetesVersion = v
        break
      }
      case '--istio-versions':
        options.istioVersions = value().split(',')
        break
      default:
        throw new Error(`unknown flag ${arg}`)
    }
  }
  if (missing.length) options.missing = missing
  return options
}

async function main() {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(USAGE)
    return
  }
  let options: SimOptions
  try {
    options = parseSimArgs(process.argv.slice(2))
  } catch (error) {
    console.error(`sim: ${(error as Error).message}\n${USAGE}`)
    process.exit(2)
  }
  const sim = await startSimulator(options)
  console.log(
    `Simulated Gthulhu cluster running (Kubernetes v${options.kubernetesVersion ?? '1.33.1'}, CNI ${options.cni ?? 'calico'}).`,
  )
  console.log(`  API server:         ${sim.apiUrl}`)
  console.log(`  kubeconfig:         ${sim.kubeconfig} (context ${sim.context})`)
  console.log(`  env file:           ${sim.dir}/env   (source it: . ${sim.dir}/env)`)
  console.log(`  Istio mirror:       ${sim.istioMirror}`)
  console.log(`  Gateway API mirror: ${sim.gatewayApiMirror}`)
  console.log('Press Ctrl-C to stop.')
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    console.log(`\n${signal}: stopping the simulated cluster`)
    await sim.stop()
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
