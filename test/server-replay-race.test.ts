import { afterEach, describe, expect, it } from 'vitest'
import { openEventStream, type EventStreamClient } from './helpers/event-stream-client.js'
import { startSseTestServer, type SseTestServer } from './helpers/sse-test-server.js'

// Resume over real sockets while a publisher hammers the channel: every client must get each event after its
// Last-Event-ID exactly once, in order, whatever the interleaving of connects and publishes.
describe('Last-Event-ID resume during a publish storm, over HTTP', () => {
  let server: SseTestServer | undefined
  const clients: EventStreamClient[] = []

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close()
    await server?.close()
  })

  it('gives each resuming client every missed and live event once, in order', async () => {
    server = await startSseTestServer({ session: { keepAliveMs: null } })
    const { channel } = server
    const published: string[] = []
    const total = 3000
    let stop = false
    const storm = new Promise<void>((resolve) => {
      const publish = (): void => {
        for (let i = 0; i < 10 && published.length < total; i++) published.push(channel.broadcast({ data: String(published.length) }).id!)
        if (published.length < total && !stop) setImmediate(publish)
        else resolve()
      }
      publish()
    })
    const joins: { client: EventStreamClient; from: number }[] = []
    while (published.length < total - 200 && joins.length < 30) {
      const from = Math.floor(Math.random() * published.length)
      const client = await openEventStream(`${server.url}/sse`, { headers: { 'last-event-id': published[from]! } })
      clients.push(client)
      joins.push({ client, from })
    }
    await storm
    stop = true
    expect(joins.length).toBeGreaterThan(5)
    for (const { client, from } of joins) {
      const expected = published.slice(from + 1)
      await client.waitFor(() => client.events.length >= expected.length, `${expected.length} events`, 10_000)
      expect(client.events.map((event) => event.lastEventId)).toEqual(expected)
      expect(client.events.map((event) => event.data)).toEqual(expected.map((_, i) => String(from + 1 + i)))
    }
    expect(server.sessions.every((session) => !session.closed)).toBe(true)
  })
})
