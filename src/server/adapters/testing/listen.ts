import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { RunningServer } from './adapter-suite.js'

/** Listens on 127.0.0.1 and a free port, and returns the URL and a close that drops open connections. */
export async function listen(server: Server): Promise<RunningServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
