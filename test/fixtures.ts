// Worlds the runbook has already been through, for tests that start from a hardened cluster instead of running
// every step again. The first test file that asks for one runs the runbook once against a fresh simulated cluster
// and saves the simulator's world (test/sim/saved-world.ts) with the runbook's files (state, installed istioctl);
// every later request, in this process or another, starts a simulator from that save in a fraction of a second.
// Saves live under node_modules/.cache/gthulhu-runbook/worlds/<key>: the key covers the options, the runbook
// arguments and every source file the world depends on, so a change to the runbook or the simulator makes a
// new one. Test files running side by side wait for the one that builds a save (a lock directory).
import { createHash } from 'node:crypto'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  watch,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { ROOT, show, startWorld, worldAround, type RunbookWorld } from './harness.ts'
import { kubectl } from './kit.ts'
import { processAlive } from './process-alive.ts'
import { startSimulator, type SavedWorld, type Simulator, type SimOptions } from './sim/index.ts'
import { decodeRecord, encodeRecord, RECORD_KEY, RECORD_TYPE } from '../lib/run/record.ts'

const CACHE = join(ROOT, 'node_modules', '.cache', 'gthulhu-runbook', 'worlds')
/** What a world depends on: a change to any of these makes a new save. */
const SOURCES = ['runbook.ts', 'lib', 'steps', 'manifests', 'test/sim', 'test/harness.ts', 'test/fixtures.ts']
/** How long a test file waits for another process that is building the same save. */
const BUILD_WAIT_MS = 10 * 60_000

interface SavedFixture {
  world: SavedWorld
  /** Where the building world's files were, and its mirrors: rewritten to the new world's on start. */
  dir: string
  simDir: string
  istioMirror: string
  gatewayApiMirror: string
}

function filesUnder(path: string): string[] {
  const full = join(ROOT, path)
  if (!existsSync(full)) return []
  if (!statSync(full).isDirectory()) return [path]
  return readdirSync(full, { withFileTypes: true })
    .flatMap((entry) => (entry.name === 'node_modules' ? [] : filesUnder(join(path, entry.name))))
    .sort()
}

let fingerprint: string | undefined
/** A hash of every source file a saved world depends on. */
function sourceFingerprint(): string {
  if (fingerprint) return fingerprint
  const hash = createHash('sha256')
  for (const file of SOURCES.flatMap(filesUnder))
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(ROOT, file)))
  fingerprint = hash.digest('hex')
  return fingerprint
}

/** Resolves when something changes in `dir` or after `ms`, whichever comes first. */
function changeIn(dir: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(dir, () => done())
    const timer = setTimeout(() => done(), ms)
    function done() {
      clearTimeout(timer)
      watcher.close()
      resolve()
    }
  })
}

async function buildSave(options: SimOptions, args: string[], target: string): Promise<void> {
  const world = await startWorld(options)
  try {
    const run = await world.run([...world.flags, ...args], { timeoutMs: 600_000 })
    if (run.code !== 0) throw new Error(`the fixture run (${args.join(' ')}) failed:\n${show(run)}`)
    const building = `${target}.building-${process.pid}`
    rmSync(building, { recursive: true, force: true })
    mkdirSync(building, { recursive: true })
    cpSync(world.dir, join(building, 'files'), { recursive: true })
    const saved: SavedFixture = {
      world: world.sim.save(),
      dir: world.dir,
      simDir: world.sim.dir,
      istioMirror: world.sim.istioMirror,
      gatewayApiMirror: world.sim.gatewayApiMirror,
    }
    writeFileSync(join(building, 'world.json'), JSON.stringify(saved))
    renameSync(building, target) // whole or not at all: a reader never sees half a save
  } finally {
    await world.stop()
  }
}

/** The save for these options and arguments: found, built here, or waited for while another process builds it. */
async function savedFixture(options: SimOptions, args: string[]): Promise<{ path: string; saved: SavedFixture }> {
  const key = createHash('sha256')
    .update(JSON.stringify({ options, args, sources: sourceFingerprint() }))
    .digest('hex')
    .slice(0, 24)
  const target = join(CACHE, key)
  const lock = `${target}.lock`
  mkdirSync(CACHE, { recursive: true })
  const deadline = Date.now() + BUILD_WAIT_MS
  while (!existsSync(join(target, 'world.json'))) {
    if (Date.now() > deadline) throw new Error(`no saved world at ${target} after ${BUILD_WAIT_MS / 1000}s`)
    let mine = false
    try {
      mkdirSync(lock)
      writeFileSync(join(lock, 'pid'), String(process.pid))
      mine = true
    } catch {
      const holder = Number(existsSync(join(lock, 'pid')) ? readFileSync(join(lock, 'pid'), 'utf8') : NaN)
      if (Number.isFinite(holder) && !processAlive(holder)) rmSync(lock, { recursive: true, force: true })
    }
    if (mine) {
      try {
        if (!existsSync(join(target, 'world.json'))) await buildSave(options, args, target)
      } finally {
        rmSync(lock, { recursive: true, force: true })
      }
    } else await changeIn(CACHE, 2_000) // another process builds it: wake when the save (or the lock) appears
  }
  return { path: target, saved: JSON.parse(readFileSync(join(target, 'world.json'), 'utf8')) }
}

/** Replaces every occurrence of each key with its value. */
const rewrite = (text: string, replacements: [string, string][]) =>
  replacements.reduce((rewritten, [from, to]) => rewritten.split(from).join(to), text)

/** Replaces every occurrence of each key with its value in the text files of a directory tree. */
function rewriteFiles(dir: string, replacements: [string, string][]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.json')) continue
    const file = join(entry.parentPath ?? (entry as any).path, entry.name)
    writeFileSync(file, rewrite(readFileSync(file, 'utf8'), replacements))
  }
}

/**
 * The same rewrite in the runbook's record in the cluster (each revision's Secret, gzip-compressed JSON): a run
 * reads the record there before its local copy, so paths, mirrors and NodePorts left in it would still name the
 * building world's.
 */
async function rewriteRecords(sim: Simulator, replacements: [string, string][]): Promise<void> {
  const found = await kubectl(sim.env, [
    'get',
    'secrets',
    '--all-namespaces',
    '-l',
    'owner=gthulhu-runbook',
    '-o',
    'json',
  ])
  if (found.code !== 0) throw new Error(`listing the saved world's records failed: ${found.stderr}`)
  for (const secret of JSON.parse(found.stdout).items) {
    const encoded = secret.type === RECORD_TYPE ? secret.data?.[RECORD_KEY] : undefined
    if (!encoded) continue
    const before = decodeRecord(encoded)
    const after = rewrite(before, replacements)
    if (after === before) continue
    secret.data[RECORD_KEY] = encodeRecord(after)
    const replaced = await kubectl(sim.env, ['replace', '-f', '-'], { input: JSON.stringify(secret) })
    if (replaced.code !== 0)
      throw new Error(
        `rewriting record ${secret.metadata.namespace}/${secret.metadata.name} failed: ${replaced.stderr}`,
      )
  }
}

/**
 * A world the runbook has already been through with `args` (by default a full `--yes` run): a fresh simulator
 * started from the saved world and a private copy of the runbook's files (state, installed istioctl), with
 * paths, mirrors and NodePorts rewritten to the new world's (in the local copy and in the record in the cluster).
 * Every test file gets its own; none shares state.
 */
export async function preparedWorld(options: SimOptions = {}, args: string[] = ['--yes']): Promise<RunbookWorld> {
  try {
    return await startFromSave(options, args)
  } catch (error) {
    // uvu drops an error thrown in a before hook without a word: say it here.
    console.error(`preparedWorld(${JSON.stringify(options)}, ${args.join(' ')}) failed:`, error)
    throw error
  }
}

async function startFromSave(options: SimOptions, args: string[]): Promise<RunbookWorld> {
  const { path, saved } = await savedFixture(options, args)
  const sim = await startSimulator({ restore: saved.world })
  const dir = mkdtempSync(join(tmpdir(), 'runbook-world-'))
  cpSync(join(path, 'files'), dir, { recursive: true })
  // A NodePort appears in URLs, as a Service's nodePort, in the gateway step's check and as the port of a path seen
  // through the gateway.
  const ports = Object.entries(sim.nodePorts).flatMap(([from, to]): [string, string][] => [
    [`:${from}/`, `:${to}/`],
    [`"nodePort":${from}`, `"nodePort":${to}`],
    [`"nodePort": ${from}`, `"nodePort": ${to}`],
    [`"port":"${from}"`, `"port":"${to}"`],
    [`"port": "${from}"`, `"port": "${to}"`],
    [`NodePort ${from}`, `NodePort ${to}`],
  ])
  const replacements: [string, string][] = [
    [saved.dir, dir],
    [saved.simDir, sim.dir],
    [saved.istioMirror, sim.istioMirror],
    [saved.gatewayApiMirror, sim.gatewayApiMirror],
    ...ports,
  ]
  try {
    rewriteFiles(dir, replacements)
    await rewriteRecords(sim, replacements)
  } catch (error) {
    await sim.stop()
    throw error
  }
  return worldAround(sim, dir)
}

/** For a test's failure message: where the saves are. */
export const fixtureCache = () => relative(ROOT, CACHE)
