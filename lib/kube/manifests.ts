// The YAML in manifests/ is what the operator recognises from the guide. Steps load it as objects and fill
// in names, namespaces, labels and ports as fields — never by string substitution.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { yaml } from '../config/lazy-yaml.ts'
import { PACKAGE_ROOT } from '../config/package-root.ts'
import type { KubeObject } from './object.ts'

const MANIFEST_DIR = pathToFileURL(join(PACKAGE_ROOT, 'manifests/'))

/** Each file's documents, parsed once: the steps and the probes ask for the same files many times in a run. */
const parsed = new Map<string, KubeObject[]>()

/** Loads every document of manifests/<file> as plain objects (a fresh copy on each call). */
export function loadManifests(file: string): KubeObject[] {
  let documents = parsed.get(file)
  if (!documents) {
    const text = readFileSync(new URL(file, MANIFEST_DIR), 'utf8')
    documents = yaml()
      .parseAllDocuments(text)
      .map((doc) => {
        if (doc.errors.length) throw new Error(`manifests/${file}: ${doc.errors[0].message}`)
        return doc.toJS() as KubeObject | null
      })
      .filter((o): o is KubeObject => o !== null)
    parsed.set(file, documents)
  }
  return structuredClone(documents)
}

/** The one document of a given kind (and name, when several share a kind) in manifests/<file>. */
export function loadManifest(file: string, kind: string, name?: string): KubeObject {
  const found = loadManifests(file).find((o) => o.kind === kind && (!name || o.metadata.name === name))
  if (!found) throw new Error(`manifests/${file} has no ${kind}${name ? ` named ${name}` : ''}`)
  return found
}
