import { createServer } from 'node:net'

/**
 * Finds a TCP port free on 127.0.0.1 right now, for programs that must be told a port (a child process reading
 * `PORT`). Servers started in-process should listen on port 0 instead.
 */
export async function getFreePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  return address.port
}
