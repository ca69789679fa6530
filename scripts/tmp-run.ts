import { readFileSync } from 'node:fs'
import { startWorld, show } from '../test/harness.ts'
const cpu = () => {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
  return (Number(f[13]) + Number(f[14])) * 10
}
const w = await startWorld({ cni: 'calico' })
const c0 = cpu()
const t = Date.now()
const r = await w.run([...w.flags, '--yes', '-v', ...process.argv.slice(2)], { timeoutMs: 600_000 })
console.log(show(r))
console.log('TOTAL', Date.now() - t, 'CPU ms', cpu() - c0)
await w.stop()
