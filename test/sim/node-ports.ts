// NodePort allocation shared by the API server's admission and the world's controllers. The web UI binds
// 127.0.0.1:<nodePort> for real, so a port is only handed out when it can actually be bound right now.
import { createServer } from 'node:net'

const RANGE_START = 30000
const RANGE_END = 32767

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)))
  })
}

export async function allocateNodePort(taken: Set<number>): Promise<number> {
  const span = RANGE_END - RANGE_START + 1
  const start = Math.floor(Math.random() * span)
  for (let i = 0; i < span; i++) {
    const port = RANGE_START + ((start + i) % span)
    if (!taken.has(port) && (await canBind(port))) return port
  }
  throw new Error('no free NodePort in 30000-32767 on 127.0.0.1')
}
