// Helpers for simulator tests: run a probe pod through real kubectl and read its output, and run the
// fake istioctl against the simulator.
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { kubectl, runCommand, type ProcessResult } from './kit.ts'
import { istioctlScript } from './sim/istioctl-bin.ts'
import { tempDir } from './temp-dir.ts'

let counter = 0

export interface ProbeOptions {
  script: string
  namespace?: string
  labels?: Record<string, string>
  serviceAccount?: string
  image?: string
  expectPhase?: 'Succeeded' | 'Failed'
}

/** Creates a probe pod with `kubectl apply -f -`, waits for its phase with `kubectl wait`, returns `kubectl logs`. */
export async function runProbe(env: Record<string, string>, options: ProbeOptions): Promise<string> {
  const name = `probe-${process.pid}-${++counter}`
  const namespace = options.namespace ?? 'default'
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: options.labels ?? { run: name } },
    spec: {
      restartPolicy: 'Never',
      ...(options.serviceAccount ? { serviceAccountName: options.serviceAccount } : {}),
      containers: [{ name: 'probe', image: options.image ?? 'busybox:1.36', command: ['sh', '-c', options.script] }],
    },
  }
  const applied = await kubectl(env, ['apply', '-f', '-'], { input: JSON.stringify(pod) })
  if (applied.code !== 0) throw new Error(`kubectl apply failed: ${applied.stderr}`)
  const phase = options.expectPhase ?? 'Succeeded'
  const waited = await kubectl(
    env,
    ['wait', '-n', namespace, `--for=jsonpath={.status.phase}=${phase}`, `pod/${name}`, '--timeout=15s'],
    { timeoutMs: 20_000 },
  )
  if (waited.code !== 0) {
    const now = await kubectl(env, ['get', 'pod', '-n', namespace, name, '-o', 'jsonpath={.status.phase}'])
    throw new Error(`probe ${name} did not reach ${phase} (phase now ${now.stdout}): ${waited.stderr}`)
  }
  const logs = await kubectl(env, ['logs', '-n', namespace, name])
  if (logs.code !== 0) throw new Error(`kubectl logs failed: ${logs.stderr}`)
  return logs.stdout
}

/** Writes the fake istioctl for `version` into a fresh directory and returns a runner for it. */
export function installedIstioctl(version = '1.29.1'): {
  path: string
  run(env: Record<string, string>, args: string[], input?: string): Promise<ProcessResult>
} {
  const dir = tempDir('sim-istioctl-bin-')
  const path = join(dir, 'istioctl')
  writeFileSync(path, istioctlScript(version))
  chmodSync(path, 0o755)
  return {
    path,
    run: (env, args, input) => runCommand(path, args, { env: { ...process.env, ...env }, input, timeoutMs: 60_000 }),
  }
}

export async function applyYaml(env: Record<string, string>, yaml: string, extra: string[] = []): Promise<void> {
  const r = await kubectl(env, ['apply', ...extra, '-f', '-'], { input: yaml })
  if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`)
}

/** The guide's Gateway and HTTPRoute, as the operator would apply them by hand. */
export const GUIDE_GATEWAY_YAML = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gthulhu-gw
  namespace: default
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    protocol: HTTP
    port: 80
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: gthulhu-manager-route
  namespace: default
spec:
  parentRefs:
  - name: gthulhu-gw
  rules:
  - backendRefs:
    - name: gthulhu-manager
      port: 8080
`
