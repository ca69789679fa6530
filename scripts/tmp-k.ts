import { startWorld } from '../test/harness.ts'
const w = await startWorld({ cni: 'calico' })
const t0 = Date.now()
const r = await w.run([...w.flags, '--yes', '-o', 'json', '-v'], { timeoutMs: 600_000 })
const ev = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
const rows: string[] = []
for (const e of ev) {
  const end = Date.parse(e.time) - t0
  if (e.event === 'command') rows.push(`${String(end - e.durationMs).padStart(6)} ${String(e.durationMs).padStart(5)} ${e.argv.filter((a: string, i: number, all: string[]) => !['--kubeconfig', '--context'].includes(a) && !['--kubeconfig', '--context'].includes(all[i - 1])).join(' ').replace(/\/tmp\/\S+\//, '').slice(0, 110)}`)
  if (e.event === 'step-start' || e.event === 'step-end') rows.push(`${String(end).padStart(6)}       == ${e.event} ${e.step}`)
}
rows.sort((a, b) => Number(a.slice(0, 6)) - Number(b.slice(0, 6)))
console.log(rows.join('\n'))
console.log('exit', r.code, 'total', Date.now() - t0)
await w.stop()
