// The source tree's layers, enforced: every import points down (or stays in its layer), no import circle hides
// anywhere, no step imports another step, and the simulated cluster shares no code with the runbook it tests.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

const ROOT = join(import.meta.dirname, '..')

/** Bottom to top: a file may import from its own layer and the layers before it. */
const LAYERS = [
  'lib/config/',
  'lib/kube/',
  'lib/types.ts',
  'lib/domain/',
  'lib/verify/',
  'lib/run/',
  'lib/report/',
  'steps/',
  'lib/cli/',
  'runbook.ts',
]

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

/** Every relative import of a file (static, type-only, re-exports and dynamic), as repository paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8')
  const specifiers = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)]
  return specifiers.map((m) => relative(ROOT, resolve(ROOT, dirname(file), m[1])))
}

const layerOf = (file: string) => LAYERS.findIndex((layer) => file === layer || file.startsWith(layer))

const runbookFiles = ['runbook.ts', ...sourceFiles('lib'), ...sourceFiles('steps')]
const graph = new Map(runbookFiles.map((file) => [file, importsOf(file)]))

test('every runbook source file belongs to a layer', () => {
  const outside = runbookFiles.filter((file) => layerOf(file) < 0)
  assert.equal(outside, [], `files outside the layers (add their folder to LAYERS): ${outside.join(', ')}`)
  assert.ok(runbookFiles.length > 30, `found only ${runbookFiles.length} files: the walk is broken`)
})

test('imports point down the layers', () => {
  const upward = [...graph].flatMap(([file, imports]) =>
    imports
      .filter((target) => layerOf(target) > layerOf(file))
      .map((target) => `${file} (${LAYERS[layerOf(file)]}) imports ${target} (${LAYERS[layerOf(target)]})`),
  )
  assert.equal(upward, [])
})

test('no step imports another step', () => {
  const crossing = [...graph].flatMap(([file, imports]) =>
    /^steps\/\d\d-/.test(file)
      ? imports.filter((target) => target.startsWith('steps/')).map((target) => `${file} → ${target}`)
      : [],
  )
  assert.equal(crossing, [])
})

/** Each import circle of a graph, as "a → b → a". */
function findCircles(edges: Map<string, string[]>): string[] {
  const circles: string[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === 'done') return
    if (state.get(file) === 'visiting') {
      circles.push([...path.slice(path.indexOf(file)), file].join(' → '))
      return
    }
    state.set(file, 'visiting')
    for (const target of edges.get(file) ?? []) visit(target, [...path, file])
    state.set(file, 'done')
  }
  for (const file of edges.keys()) visit(file, [])
  return circles
}

test('no import circles, type-only imports included', () => {
  assert.equal(findCircles(graph), [])
})

test('the circle check finds a circle when there is one', () => {
  const made = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a']],
  ])
  assert.equal(findCircles(made), ['a → b → c → a'])
})

test('the simulated cluster imports nothing from the runbook (it must not share its beliefs)', () => {
  // demo.ts only starts the runbook against the simulator, so it may read the runbook's defaults.
  const simFiles = sourceFiles('test/sim').filter((file) => !file.endsWith('/demo.ts'))
  const shared = simFiles.flatMap((file) =>
    importsOf(file)
      .filter((target) => target.startsWith('lib/') || target.startsWith('steps/') || target === 'runbook.ts')
      .map((target) => `${file} → ${target}`),
  )
  assert.equal(shared, [])
})

test.run()
