// The client end to end against Herald's own server: the node adapter on node:http and the fetch adapter served by
// @hono/node-server, a channel with a memory replay store, keep-alive comments and the gap event. The server cuts
// every connection in the middle of a stream; the client must reconnect with Last-Event-ID and lose nothing.
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { serve as serveFetch } from '@hono/node-server'
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest'
import { EventSource, fetchEventStream, type ClientErrorEvent, type EventMap } from '../src/client/index.js'
import { sse as fetchSse } from '../src/server/adapters/fetch.js'
import { sse as nodeSse } from '../src/server/adapters/node.js'
import { createChannel, createMemoryReplay, type Channel, type EventMap as ServerEventMap, type SseEvent } from '../src/server/index.js'

type Events = { task: { n: number } }

interface Running {
  readonly origin: string
  readonly channel: Channel<Events>
  /** Destroys every open connection: a server-side cut. */
  cut(): void
  close(): Promise<void>
}

const running: Running[] = []
const sources: EventSource<Events>[] = []

afterEach(async () => {
  for (const source of sources.splice(0)) source.close()
  await Promise.all(running.splice(0).map((r) => r.close()))
})

function track(server: Server, channel: Channel<Events>): Running {
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  const result: Running = {
    get origin() {
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    },
    channel,
    cut: () => {
      for (const socket of sockets) socket.destroy()
    },
    close: async () => {
      channel.close()
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
  running.push(result)
  return result
}

/** node:http with the node adapter. */
async function startNode(keepAliveMs: number | null = null): Promise<Running> {
  const channel = createChannel<Events>({ replay: createMemoryReplay() })
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/events') !== true) {
      res.writeHead(404).end()
      return
    }
    channel.add(nodeSse<Events>(req, res, { retry: 20, keepAliveMs }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return track(server, channel)
}

/** The fetch adapter, served by @hono/node-server. */
async function startFetch(): Promise<Running> {
  const channel = createChannel<Events>({ replay: createMemoryReplay() })
  let server: Server | undefined
  await new Promise<void>((resolve) => {
    server = serveFetch(
      {
        fetch: (request: Request) => {
          const { session, response } = fetchSse<Events>(request, { retry: 20, keepAliveMs: null })
          channel.add(session)
          return response
        },
        port: 0,
        hostname: '127.0.0.1',
      },
      () => resolve(),
    ) as Server
  })
  return track(server as Server, channel)
}

function open(url: string, init?: ConstructorParameters<typeof EventSource<Events>>[1]): EventSource<Events> {
  const source = new EventSource<Events>(url, { decode: (data): unknown => JSON.parse(data), ...init })
  sources.push(source)
  return source
}

function waitUntil(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const poll = (): void => {
      if (check()) resolve()
      else if (Date.now() - started > timeoutMs) reject(new Error(`timed out waiting for ${what}`))
      else setTimeout(poll, 5)
    }
    poll()
  })
}

const publish = (r: Running, from: number, to: number): void => {
  for (let n = from; n <= to; n++) r.channel.broadcast({ event: 'task', data: { n } })
}

for (const [adapter, start] of [
  ['node', () => startNode()],
  ['fetch', startFetch],
] as const) {
  describe(`against the ${adapter} adapter`, () => {
    it('reconnects after a server-side cut with Last-Event-ID and loses nothing', async () => {
      const r = await start()
      const source = open(`${r.origin}/events`)
      const seen: number[] = []
      const errors: string[] = []
      source.addEventListener('task', (event) => seen.push(event.data.n))
      source.addEventListener('error', (event: ClientErrorEvent) => errors.push(event.error.code))
      await new Promise((resolve) => source.addEventListener('open', resolve, { once: true }))
      publish(r, 1, 5)
      await waitUntil(() => seen.length === 5, 'the first five events')
      const resumeFrom = source.lastEventId
      r.cut()
      // Published while the client is disconnected or reconnecting: the replay store must hand them over.
      publish(r, 6, 10)
      await waitUntil(() => seen.length === 10, 'the events published during the cut')
      publish(r, 11, 12)
      await waitUntil(() => seen.length === 12, 'live events after the reconnection')
      expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => i + 1))
      expect(errors[0]).toMatch(/ERR_CLIENT_(NETWORK|STREAM_ENDED)/)
      expect(resumeFrom).not.toBe('')
    })

    it('async iteration sees one sequence across the cut', async () => {
      const r = await start()
      const source = open(`${r.origin}/events`)
      await new Promise((resolve) => source.addEventListener('open', resolve, { once: true }))
      publish(r, 1, 3)
      const seen: number[] = []
      for await (const event of source) {
        seen.push(event.data.n)
        if (event.data.n === 3) {
          r.cut()
          publish(r, 4, 6)
        }
        if (seen.length === 6) break
      }
      expect(seen).toEqual([1, 2, 3, 4, 5, 6])
      expect(source.readyState).toBe(EventSource.CLOSED)
    })
  })
}

describe('server features seen from the client', () => {
  it('the client and the server describe events with the same EventMap type', () => {
    expectTypeOf<EventMap>().toEqualTypeOf<ServerEventMap>()
  })

  it('a resume from an id the server does not know brings the herald-gap event', async () => {
    const r = await startNode()
    publish(r, 1, 2)
    const source = new EventSource<{ 'herald-gap': { reason: string; lastEventId: string } } & Events>(`${r.origin}/events`, {
      lastEventId: 'not-an-id',
      decode: (data): unknown => JSON.parse(data),
    })
    sources.push(source as unknown as EventSource<Events>)
    const gap = await new Promise<{ reason: string; lastEventId: string }>((resolve) => source.addEventListener('herald-gap', (event) => resolve(event.data)))
    expect(gap).toMatchObject({ reason: 'unknown', lastEventId: 'not-an-id' })
  })

  it('keep-alive comments keep the stall detector quiet; a silent server trips it', async () => {
    const r = await startNode(25)
    const source = open(`${r.origin}/events`, { stallTimeoutMs: 400 })
    const errors: string[] = []
    source.addEventListener('error', (event: ClientErrorEvent) => errors.push(event.error.code))
    await new Promise((resolve) => source.addEventListener('open', resolve, { once: true }))
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect(errors).toEqual([])
    const quiet = await startNode(null)
    const stalled = open(`${quiet.origin}/events`, { stallTimeoutMs: 150 })
    const code = await new Promise<string>((resolve) => stalled.addEventListener('error', (event: ClientErrorEvent) => resolve(event.error.code)))
    expect(code).toBe('ERR_CLIENT_STALLED')
  })

  it('fetchEventStream resumes a POST stream cut by the server, when allowed, without losing or repeating', async () => {
    let requests = 0
    const server = createServer((req, res) => {
      // Read the request body first: closing a socket with unread input makes the kernel reset the connection.
      req.resume()
      requests++
      const first = requests === 1
      const from = Number(req.headers['last-event-id'] ?? 0)
      const session = nodeSse<{ token: string }>(req, res, { retry: 10, keepAliveMs: null })
      async function* tokens(): AsyncGenerator<SseEvent<{ token: string }>> {
        for (let i = from + 1; i <= 6; i++) {
          yield { event: 'token', data: `t${i}`, id: String(i) }
          if (first && i === 3) {
            // Give the client time to read what was sent: a fetch body that errors drops the chunks it still queues.
            await session.whenDrained()
            await new Promise((resolve) => setTimeout(resolve, 50))
            req.socket.destroy()
            return
          }
        }
      }
      void session.stream(tokens()).then(() => session.close())
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    running.push({ origin: '', channel: createChannel<Events>(), cut: () => undefined, close: () => new Promise((resolve) => server.close(() => resolve())) })
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/complete`
    const tokens: string[] = []
    for await (const event of fetchEventStream(url, { method: 'POST', body: '{"prompt":"count"}', resume: true })) tokens.push(event.data)
    expect(tokens).toEqual(['t1', 't2', 't3', 't4', 't5', 't6'])
    expect(requests).toBe(2)
  })
})
