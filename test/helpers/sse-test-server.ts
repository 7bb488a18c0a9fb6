import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { createChannel, createMemoryReplay, type Channel, type Session, type SessionOptions } from '../../src/server/index.js'
import { sse } from '../../src/server/adapters/node.js'

/** A real node:http server with one channel at `/sse`, for end-to-end tests of clients against Herald's server. */
export interface SseTestServer {
  /** The base URL. */
  readonly url: string
  /** The channel every `/sse` session joins (with a memory replay). */
  readonly channel: Channel
  /** Every session opened, in order. */
  readonly sessions: Session[]
  /** The `Last-Event-ID` header (or `null`) of every `/sse` request, in order. */
  readonly resumeHeaders: (string | null)[]
  /** Drops every open `/sse` connection abruptly (destroys the sockets), as a crashing proxy would. */
  destroyConnections(): void
  /** Stops broadcasting, closes the channel and the server. */
  close(): Promise<void>
}

/** Options of {@link startSseTestServer}. */
export interface SseTestServerOptions {
  /** Session options for `/sse`. */
  session?: SessionOptions
  /** Called with each session after it joined the channel. */
  onSession?: (session: Session, req: IncomingMessage) => void
  /** Extra routes: return `true` when handled. */
  route?: (req: IncomingMessage, res: import('node:http').ServerResponse) => boolean
}

/**
 * Starts the server on 127.0.0.1 and a free port. `GET /` answers a blank HTML page (an origin for browser tests).
 *
 * @example
 * ```ts
 * const server = await startSseTestServer({ session: { retry: 100 } })
 * server.channel.broadcast({ data: 'hi' })
 * await server.close()
 * ```
 */
export async function startSseTestServer(options: SseTestServerOptions = {}): Promise<SseTestServer> {
  const channel = createChannel({ replay: createMemoryReplay({ maxEvents: 10_000 }) })
  const sessions: Session[] = []
  const resumeHeaders: (string | null)[] = []
  const sockets = new Set<Socket>()
  const server: Server = createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost')
    if (options.route?.(req, res) === true) return
    if (pathname === '/sse') {
      const header = req.headers['last-event-id']
      resumeHeaders.push(typeof header === 'string' ? header : null)
      const session = sse(req, res, options.session)
      sessions.push(session)
      sockets.add(req.socket)
      session.signal.addEventListener('abort', () => sockets.delete(req.socket))
      channel.add(session)
      options.onSession?.(session, req)
    } else if (pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>herald test</title>')
    } else {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    channel,
    sessions,
    resumeHeaders,
    destroyConnections() {
      for (const socket of sockets) socket.destroy()
    },
    close() {
      channel.close()
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
