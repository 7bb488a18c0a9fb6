import { EventSource } from 'eventsource'
import { afterEach, describe, expect, it } from 'vitest'
import { GAP_EVENT } from '../src/server/index.js'
import { startSseTestServer, type SseTestServer } from './helpers/sse-test-server.js'
import { waitFor } from './helpers/wait-for.js'

type Received = [type: string, data: string, lastEventId: string]

// The `eventsource` package (v4), the most used EventSource for Node, as a client of herald-sse/server.
describe('the eventsource package against herald-sse/server', () => {
  let server: SseTestServer | undefined
  let source: EventSource | undefined
  let publisher: ReturnType<typeof setInterval> | undefined

  afterEach(async () => {
    clearInterval(publisher)
    source?.close()
    await server?.close()
    source = undefined
    server = undefined
  })

  function listen(url: string): Received[] {
    const received: Received[] = []
    source = new EventSource(url)
    source.onmessage = (e) => received.push(['message', e.data, e.lastEventId])
    source.addEventListener('custom', (e) => received.push(['custom', e.data, e.lastEventId]))
    source.addEventListener(GAP_EVENT, (e) => received.push([GAP_EVENT, e.data, e.lastEventId]))
    return received
  }

  it('receives messages and a custom event type', async () => {
    server = await startSseTestServer({
      onSession(session) {
        session.send({ data: 'hello' })
        session.send({ event: 'custom', id: 'c1', data: { x: 1 } })
      },
    })
    const received = listen(`${server.url}/sse`)
    await waitFor(() => received.length === 2, 'two events')
    expect(received).toEqual([
      ['message', 'hello', ''],
      ['custom', '{"x":1}', 'c1'],
    ])
  })

  it('resumes with Last-Event-ID and misses nothing when the server drops it, twice', async () => {
    server = await startSseTestServer({ session: { retry: 50 } })
    const received = listen(`${server.url}/sse`)
    await waitFor(() => server!.channel.size === 1, 'the first connection')
    let n = 0
    publisher = setInterval(() => server!.channel.broadcast({ data: String(n++) }), 10)
    await waitFor(() => received.length >= 5, 'five events')
    for (const session of server.sessions) session.close()
    await waitFor(() => server!.sessions.length === 2 && received.length >= 20, 'a reconnection')
    server.destroyConnections()
    await waitFor(() => server!.sessions.length === 3 && received.length >= 40, 'a second reconnection')
    clearInterval(publisher)
    expect(received.map(([, data]) => Number(data))).toEqual(Array.from({ length: received.length }, (_, i) => i))
    const ids = new Set(received.map(([, , id]) => id))
    expect(server.resumeHeaders[0]).toBeNull()
    expect(server.resumeHeaders.slice(1).every((id) => id !== null && ids.has(id))).toBe(true)
  })

  it('receives the gap event for an unknown resume point, then what the server holds', async () => {
    server = await startSseTestServer()
    server.channel.broadcast({ data: 'kept' })
    const received = listen(`${server.url}/sse?lastEventId=stale`)
    await waitFor(() => received.length === 2, 'the gap and the kept event')
    expect(received[0]![0]).toBe(GAP_EVENT)
    expect(JSON.parse(received[0]![1])).toMatchObject({ lastEventId: 'stale', reason: 'unknown' })
    expect(received[1]!.slice(0, 2)).toEqual(['message', 'kept'])
  })
})
