import { createServer, connect, type Socket } from 'node:net'

/** A TCP proxy in front of a server, to cut a client's connection or keep the server unreachable for a while. */
export interface TcpProxy {
  /** The port clients connect to, on 127.0.0.1. */
  readonly port: number
  /** Closes every proxied connection at once, as a network failure would; new connections are accepted. */
  cut(): void
  /**
   * Closes every proxied connection and stops listening until {@link TcpProxy.up}: new connections are refused
   * (`ECONNREFUSED`), as for a server that is down. (Accepting them only to close them would let a client write its
   * queued commands on a connection that then breaks, which a stopped server never does.)
   */
  down(): void
  /** Listens on the same port again and forwards new connections. */
  up(): void
  /**
   * Stops passing the server's bytes to the connections open now, which stay open: their requests go out and their
   * replies never come, as behind a hung server or a silent network. New connections are forwarded as usual.
   */
  stall(): void
  /** Stops the proxy and closes every connection. */
  close(): Promise<void>
}

/**
 * Starts a proxy on a free port of 127.0.0.1 that forwards each connection to `target`.
 *
 * @example
 * ```ts
 * const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 })
 * const history = new RedisHistory({ url: `redis://127.0.0.1:${proxy.port}` })
 * proxy.down() // the connection breaks and every reconnect attempt fails
 * ```
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  /** Each upstream connection and the client it replies to. */
  const pipes = new Map<Socket, Socket>()
  let listening = true
  const track = (socket: Socket): void => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
  }
  const server = createServer((client) => {
    track(client)
    const upstream = connect(target)
    track(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
    pipes.set(upstream, client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      // Left attached, it would swallow a later failure to listen again in up().
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP address')
  const cut = (): void => {
    for (const socket of sockets) socket.destroy()
  }
  const port = address.port
  return {
    port,
    cut,
    down: () => {
      if (!listening) return
      listening = false
      server.close()
      cut()
    },
    up: () => {
      if (listening) return
      listening = true
      // A failure to listen again (the port was taken meanwhile) surfaces as the server's 'error' event.
      server.listen(port, '127.0.0.1')
    },
    stall: () => {
      for (const [upstream, client] of pipes) {
        upstream.unpipe(client)
        // Read and drop what the server sends, so that it is not held back either.
        upstream.on('data', () => undefined)
      }
      pipes.clear()
    },
    close: () =>
      new Promise<void>((resolve) => {
        cut()
        if (!listening) return resolve()
        listening = false
        server.close(() => resolve())
      }),
  }
}
