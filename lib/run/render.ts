// --render: every manifest the selected steps would apply, with the operator's values, as one file per
// object plus a kustomization.yaml, for review or GitOps. Reads no cluster and writes nothing else.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { UsageError } from '../config/errors.ts'
import { makeWritableDir } from '../config/local-dir.ts'
import type { Config } from '../config/options.ts'
import { text } from '../config/text.ts'
import type { Facts, KubeObject, Step } from '../types.ts'

const MARKER = '# Rendered by gthulhu-runbook'

export function renderManifests(dir: string, steps: Step[], config: Config, facts: Facts): string[] {
  const problem = makeWritableDir(dir)
  if (problem) throw new UsageError(text.errors.renderDir(dir, text.errors.localPath(problem)))
  if (readdirSync(dir).length > 0) {
    const kustomization = join(dir, 'kustomization.yaml')
    const ours = existsSync(kustomization) && readFileSync(kustomization, 'utf8').startsWith(MARKER)
    if (!ours)
      throw new UsageError(
        `--render ${dir}: the directory is not empty and was not rendered by this runbook; choose an empty or new directory`,
      )
  }
  const files: string[] = []
  const order = (id: string) => String(steps.findIndex((s) => s.id === id) + 1).padStart(2, '0')
  for (const step of steps) {
    const objects = step.plan({ config, facts }).flatMap((item) => (item.kind === 'manifest' ? [item.object] : []))
    for (const object of objects) {
      // An object in another namespace than Gthulhu's (the insider's Role in kube-public) says so: names repeat.
      const elsewhere = object.metadata.namespace && object.metadata.namespace !== config.namespace
      const file = `${order(step.id)}-${step.id}-${object.kind.toLowerCase()}-${object.metadata.name}${elsewhere ? `.${object.metadata.namespace}` : ''}.yaml`
      writeFileSync(join(dir, file), stringify(object as KubeObject, { lineWidth: 0 }))
      files.push(file)
    }
  }
  const kustomization = { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: files }
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    `${MARKER} for context-independent review; apply in this order.\n${stringify(kustomization)}`,
  )
  return files
}
