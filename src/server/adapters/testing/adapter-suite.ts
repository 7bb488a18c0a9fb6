/**
 * The conformance suite every server adapter passes, over real sockets: headers, events, keep-alive, disconnect
 * detection, backpressure (a client that stops reading), streaming from an async iterable, and `Last-Event-ID`
 * resume. Each adapter's test file supplies an {@link AdapterHarness} that mounts one SSE route on its framework.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openEventStream, type EventStreamClient } from '../../../../test/helpers/event-stream-client.js'
import { waitFor } from '../../../../test/helpers/wait-for.js'
import { createChannel, type Channel } from '../../channel.js'
import { GAP_EVENT } from '../../gap-event.js'
import { createKeepAliveScheduler, type KeepAliveScheduler } from '../../keep-alive.js'
import { createMemoryReplay } from '../../memory-replay.js'
import type { Session, SessionOptions } from '../../session.js'

/** The options the suite passes to the adapter's `sse()`: the session's, plus extra headers and the query name. */
export interface AdapterRouteOptions extends SessionOptions {
  headers?: Record<string, string>
  lastEventIdParam?: string | null
}

/** One SSE route for the harness to mount at `GET /sse`. */
export interface AdapterRoute {
  /** Pass these to the adapter's `sse()`. */
  readonly options: AdapterRouteOptions
  /** Call with each session the adapter opens. */
  onSession(session: Session): void
}

/** A server the harness started. */
export interface RunningServer {
  /** The base URL, e.g. `http://127.0.0.1:43210`; the route is at `${url}/sse`. */
  readonly url: string
  /** Stops the server and drops its connections. */
  close(): Promise<void>
}

/** What an adapter's test supplies: a way to serve one SSE route on a real socket. */
export interface AdapterHarness {
  start(route: AdapterRoute): Promise<RunningServer>
}

const BIG = 'x'.repeat(32 * 1024)

/**
 * Registers the shared adapter suite with Vitest.
 *
 * @example
 * ```ts
 * runAdapterSuite('node', {
 *   async start(route) {
 *     const server = createServer((req, res) => route.onSession(sse(req, res, route.options)))
 *     …
 *   },
 * })
 * ```
 */
export function runAdapterSuite(name: string, harness: AdapterHarness): void {
  describe(`${name} adapter: shared suite`, () => {
    let server: RunningServer | undefined
    let scheduler: KeepAliveScheduler
    let clients: EventStreamClient[]
    let sessions: Session[]

    beforeEach(() => {
      scheduler = createKeepAliveScheduler()
      clients = []
      sessions = []
    })

    afterEach(async () => {
      for (const client of clients) client.close()
      for (const session of sessions) session.close()
      await server?.close()
      server = undefined
      // Nothing outlives a test: every session left the keep-alive scheduler and its timer is off.
      expect(scheduler.size).toBe(0)
      expect(scheduler.timerArmed).toBe(false)
    })

    async function serve(onSession: (session: Session) => void, options: AdapterRouteOptions = {}): Promise<string> {
      server = await harness.start({
        options: { keepAliveScheduler: scheduler, ...options },
        onSession(session) {
          sessions.push(session)
          onSession(session)
        },
      })
      return `${server.url}/sse`
    }

    async function connect(url: string, headers?: Record<string, string>): Promise<EventStreamClient> {
      const client = await openEventStream(url, headers === undefined ? {} : { headers })
      clients.push(client)
      return client
    }

    it('answers 200 with the SSE headers and flushes them before any event', async () => {
      const url = await serve(() => undefined, { headers: { 'access-control-allow-origin': '*', 'content-type': 'text/plain' } })
      const client = await connect(url)
      expect(client.status).toBe(200)
      expect(client.headers['content-type']).toBe('text/event-stream; charset=utf-8')
      expect(client.headers['cache-control']).toBe('no-cache, no-transform')
      expect(client.headers['x-accel-buffering']).toBe('no')
      expect(client.headers['access-control-allow-origin']).toBe('*')
      // The opening comment reaches the client although no event was sent.
      await client.waitFor(() => client.comments.length >= 1, 'the opening comment')
      expect(client.events).toEqual([])
    })

    it('sends events, named events, ids, multi-line data and the initial retry', async () => {
      const url = await serve(
        (session) => {
          session.send({ data: 'plain' })
          session.send({ event: 'update', id: '7', data: { n: 1 } })
          session.send({ data: 'line 1\nline 2\r\nline 3' })
          session.comment('between')
          session.send({ event: 'update', id: '8', data: 'two' })
        },
        { retry: 1234 },
      )
      const client = await connect(url)
      const events = await client.waitForEvents(4)
      expect(events.map(({ type, data, lastEventId }) => ({ type, data, lastEventId }))).toEqual([
        { type: 'message', data: 'plain', lastEventId: '' },
        { type: 'update', data: '{"n":1}', lastEventId: '7' },
        { type: 'message', data: 'line 1\nline 2\nline 3', lastEventId: '7' },
        { type: 'update', data: 'two', lastEventId: '8' },
      ])
      expect(client.retries).toEqual([1234])
      expect(client.comments).toContain('between')
    })

    it('writes keep-alive comments while idle, from the shared scheduler', async () => {
      const url = await serve(() => undefined, { keepAliveMs: 25 })
      const client = await connect(url)
      await client.waitFor(() => client.comments.length >= 3, 'two keep-alive comments after the opening one')
      expect(scheduler.size).toBe(1)
      expect(client.events).toEqual([])
    })

    it('detects clients that go away and leaves no session, member or timer behind', async () => {
      const channel = createChannel()
      const url = await serve((session) => channel.add(session), { keepAliveMs: 1000 })
      const three = await Promise.all([connect(url), connect(url), connect(url)])
      await waitFor(() => channel.size === 3, 'three members')
      expect(scheduler.size).toBe(3)
      for (const client of three) client.close()
      await waitFor(() => sessions.every((session) => session.closed), 'every session to close')
      expect(sessions.map((session) => session.closeReason?.code)).toEqual(Array(3).fill('ERR_SERVER_CLIENT_GONE'))
      expect(sessions.every((session) => session.signal.aborted)).toBe(true)
      expect(channel.size).toBe(0)
      expect(scheduler.size).toBe(0)
      expect(scheduler.timerArmed).toBe(false)
      expect(channel.broadcast({ data: 'nobody' }).delivered).toBe(0)
    })

    it('cleans up after a client that vanishes in the middle of a write', async () => {
      let finalized = false
      const url = await serve((session) => {
        void session.stream(
          (function* () {
            try {
              for (let i = 0; ; i++) yield { id: String(i), data: BIG }
            } finally {
              finalized = true
            }
          })(),
        )
      })
      const client = await connect(url)
      await client.waitFor(() => client.bytesReceived > 256 * 1024, 'a good part of the stream')
      client.close()
      await waitFor(() => sessions[0]?.closed === true, 'the session to close')
      expect(sessions[0]?.closeReason?.code).toBe('ERR_SERVER_CLIENT_GONE')
      await waitFor(() => finalized, "the source's finally block")
      expect(scheduler.size).toBe(0)
    })

    it('queues while the client is not reading, then delivers the backlog in order', async () => {
      let session: Session | undefined
      const url = await serve((s) => (session = s), { maxQueueEvents: 100_000, maxQueueBytes: 512 * 1024 * 1024 })
      const client = await connect(url)
      await waitFor(() => session !== undefined, 'the session')
      client.pause()
      let sent = 0
      // Fill the socket buffers until the session starts queueing, then queue a few more.
      while (session!.queuedEvents === 0 && sent < 20_000) {
        session!.send({ id: String(sent), data: BIG })
        sent++
        if (sent % 16 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
      expect(session!.queuedEvents).toBeGreaterThan(0)
      for (let i = 0; i < 5; i++) session!.send({ id: String(sent++), data: BIG })
      expect(session!.queuedEvents).toBeGreaterThanOrEqual(6)
      client.resume()
      await client.waitForEvents(sent, 20_000)
      expect(client.events.map((event) => event.lastEventId)).toEqual(Array.from({ length: sent }, (_, i) => String(i)))
      await session!.whenDrained()
      expect(session!.queuedEvents).toBe(0)
      expect(session!.closed).toBe(false)
    })

    it('closes a client that stops reading with ERR_SERVER_SLOW_CONSUMER', async () => {
      let session: Session | undefined
      const url = await serve((s) => (session = s), { maxQueueEvents: 4 })
      const client = await connect(url)
      await waitFor(() => session !== undefined, 'the session')
      client.pause()
      let sent = 0
      while (!session!.closed && sent < 20_000) {
        session!.send({ data: BIG })
        sent++
        if (sent % 16 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
      expect(session!.closeReason?.code).toBe('ERR_SERVER_SLOW_CONSUMER')
      expect(session!.send({ data: 'late' })).toBe(false)
      expect(session!.queuedEvents).toBe(0)
      client.resume()
      await client.done
      expect(scheduler.size).toBe(0)
    })

    it('streams an async iterable no faster than the client reads, and returns it on close', async () => {
      const total = 400
      let pulled = 0
      let queuedAtPull = 0
      let returned = false
      let session: Session | undefined
      let streamed: Promise<void> | undefined
      const url = await serve(
        (s) => {
          session = s
          streamed = s.stream(
            (async function* () {
              try {
                for (let i = 0; i < total; i++) {
                  pulled++
                  queuedAtPull = Math.max(queuedAtPull, s.queuedEvents)
                  yield { id: String(i), data: BIG }
                }
                // Stay open until the session closes, like a source waiting for its next token.
                await new Promise((resolve) => s.signal.addEventListener('abort', resolve))
                yield { data: 'never sent' }
              } finally {
                returned = true
              }
            })(),
          )
        },
        // A two-event queue: a source that ignored backpressure would overflow it at once.
        { maxQueueEvents: 2 },
      )
      const client = await connect(url)
      client.pause()
      await waitFor(() => pulled > 0, 'the first pull')
      client.resume()
      await client.waitForEvents(total, 20_000)
      expect(client.events.map((event) => event.lastEventId)).toEqual(Array.from({ length: total }, (_, i) => String(i)))
      expect(queuedAtPull).toBe(0)
      expect(session!.closed).toBe(false)
      session!.close()
      await streamed
      expect(returned).toBe(true)
      expect(pulled).toBe(total)
    })

    describe('Last-Event-ID', () => {
      let channel: Channel
      let ids: string[]

      beforeEach(() => {
        channel = createChannel({ replay: createMemoryReplay({ maxEvents: 100 }) })
        ids = []
        for (let i = 0; i < 5; i++) ids.push(channel.broadcast({ event: 'n', data: String(i) }).id!)
      })

      it('resumes from the header: the missed events first, then live ones', async () => {
        const url = await serve((session) => channel.add(session))
        const client = await connect(url, { 'last-event-id': ids[1]! })
        await client.waitForEvents(3)
        channel.broadcast({ event: 'n', data: 'live' })
        const events = await client.waitForEvents(4)
        expect(events.map((event) => event.data)).toEqual(['2', '3', '4', 'live'])
        expect(events.slice(0, 3).map((event) => event.lastEventId)).toEqual(ids.slice(2))
      })

      it('resumes from the lastEventId query parameter', async () => {
        const url = await serve((session) => channel.add(session))
        const client = await connect(`${url}?lastEventId=${encodeURIComponent(ids[3]!)}`)
        const events = await client.waitForEvents(1)
        expect(events.map((event) => event.data)).toEqual(['4'])
      })

      it('reads the query parameter named by lastEventIdParam, and none when it is null', async () => {
        const named = await serve((session) => channel.add(session), { lastEventIdParam: 'since' })
        const fromNamed = await connect(`${named}?since=${encodeURIComponent(ids[3]!)}&lastEventId=${encodeURIComponent(ids[0]!)}`)
        expect((await fromNamed.waitForEvents(1)).map((event) => event.data)).toEqual(['4'])
        fromNamed.close()
        await server?.close()

        let seen: string | null | undefined
        const headerOnly = await serve(
          (session) => {
            seen = session.lastEventId
            channel.add(session)
          },
          { lastEventIdParam: null },
        )
        const fromQuery = await connect(`${headerOnly}?lastEventId=${encodeURIComponent(ids[3]!)}`)
        await waitFor(() => seen !== undefined)
        expect(seen).toBeNull()
        channel.broadcast({ event: 'n', data: 'live' })
        expect((await fromQuery.waitForEvents(1)).map((event) => event.data)).toEqual(['live'])
      })

      it('answers a garbage id with the gap event, then what the history holds', async () => {
        const url = await serve((session) => channel.add(session))
        const client = await connect(url, { 'last-event-id': 'garbage: \u00e9\t{"' })
        const events = await client.waitForEvents(6)
        expect(events[0]!.type).toBe(GAP_EVENT)
        expect(JSON.parse(events[0]!.data)).toEqual({
          lastEventId: 'garbage: \u00e9\t{"',
          reason: 'unknown',
          oldestId: ids[0],
          newestId: ids[4],
        })
        expect(events.slice(1).map((event) => event.data)).toEqual(['0', '1', '2', '3', '4'])
        expect(sessions[0]!.closed).toBe(false)
      })
    })
  })
}
