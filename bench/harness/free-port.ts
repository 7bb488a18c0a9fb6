/** Finds free TCP ports on the loopback interface. */
import net from 'node:net'

/**
 * Returns a port that was free on `host` a moment ago (the kernel's choice for port 0). Another process
 * could take it before it is used; start-up then fails with "address in use" and says so.
 *
 * @example
 * const port = await findFreePort() // e.g. 41873
 */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))))
    })
  })
}
