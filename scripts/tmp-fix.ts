import { preparedWorld } from '../test/fixtures.ts'
const w2 = await preparedWorld({ cni: 'calico' })
const t = Date.now()
const r = await w2.run([...w2.flags, '--verify', '-v', ...process.argv.slice(2)], { timeoutMs: 300_000 })
console.log(
  r.stderr
    .split('\n')
    .filter((l) => l.startsWith('+ '))
    .map((l) => l.replace(/--kubeconfig \S+ --context gthulhu-sim /, '').slice(0, 200))
    .join('\n'),
)
console.log('verify in', Date.now() - t, 'exit', r.code)
await w2.stop()
