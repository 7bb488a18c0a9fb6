import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:http'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createParser, type ParsedEvent } from '../protocol/parse.js'
import { signToken } from './auth/sign-token.js'
import { MemoryBroker } from './broker/memory-broker.js'
import { MemoryHistory } from './history/memory-history.js'
import { SqliteHistory } from './history/sqlite-history.js'
import { createHub, DEFAULT_WRITE_INTERVAL_MS, type Hub, type HubOptions } from './hub.js'
import type { StreamPosition } from './stream-position.js'
import type { HubMessage, HubUpdate } from './update.js'

const SECRET = 'a-test-secret-of-at-least-32-bytes!!'
const hubs: Hub[] = []
const controllers: AbortController[] = []

afterEach(async () => {
  for (const c of controllers.splice(0)) c.abort()
  await Promise.all(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 100 })))
})

async function startHub(options: HubOptions = {}): Promise<{ hub: Hub; url: string }> {
  const hub = createHub({ publisherKey: { secret: SECRET }, subscriberKey: { secret: SECRET }, anonymous: true, heartbeatMs: null, ...options })
  hubs.push(hub)
  const { url } = await hub.listen({ port: 0 })
  return { hub, url: `${url}/.well-known/mercure` }
}

const publisherToken = (publish: string[] = ['*']) => signToken({ key: SECRET, publish })

async function publish(url: string, fields: Record<string, string | string[]>, token?: string): Promise<Response> {
  const body = new URLSearchParams()
  for (const [k, v] of Object.entries(fields)) for (const item of Array.isArray(v) ? v : [v]) body.append(k, item)
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(token !== undefined && { authorization: `Bearer ${token}` }) },
    body,
  })
}

/** Subscribes over real HTTP and collects parsed events. */
async function subscribe(url: string, query: string, headers: Record<string, string> = {}) {
  const controller = new AbortController()
  controllers.push(controller)
  const response = await fetch(`${url}?${query}`, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal })
  const events: ParsedEvent[] = []
  const waiters: (() => void)[] = []
  const parser = createParser({
    onEvent: (e) => {
      events.push(e)
      for (const w of waiters.splice(0)) w()
    },
  })
  if (response.body !== null) {
    void (async () => {
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) parser.feed(chunk)
      } catch {
        // aborted
      }
    })()
  }
  async function until(n: number, timeoutMs = 5000): Promise<ParsedEvent[]> {
    const deadline = Date.now() + timeoutMs
    while (events.length < n) {
      if (Date.now() > deadline) throw new Error(`timed out with ${events.length} of ${n} events: ${JSON.stringify(events)}`)
      await new Promise<void>((resolve) => {
        waiters.push(resolve)
        setTimeout(resolve, 50)
      })
    }
    return events.slice(0, n)
  }
  return { response, events, until, close: () => controller.abort() }
}

describe('hub: publish and subscribe (Mercure)', () => {
  it('delivers a published update with its id, type and data, and answers the publisher with the id', async () => {
    const { url } = await startHub()
    const sub = await subscribe(url, 'topic=https://example.com/books/1')
    expect(sub.response.status).toBe(200)
    expect(sub.response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const res = await publish(url, { topic: 'https://example.com/books/1', data: '{"title":"Dune"}', type: 'book', id: 'urn:uuid:1' }, await publisherToken())
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await res.text()).toBe('urn:uuid:1')
    const [event] = await sub.until(1)
    expect(event).toMatchObject({ type: 'book', data: '{"title":"Dune"}', id: 'urn:uuid:1' })
  })

  it('generates a urn:uuid id when the publisher gives none, and accepts an update without data', async () => {
    const { url } = await startHub()
    const sub = await subscribe(url, 'topic=*')
    const res = await publish(url, { topic: 'a' }, await publisherToken())
    const id = await res.text()
    expect(id).toMatch(/^urn:uuid:[0-9a-f-]{36}$/)
    const [event] = await sub.until(1)
    expect(event).toMatchObject({ id, data: '' })
  })

  it('matches URI templates and alternate topics, and sends nothing for other topics', async () => {
    const { url } = await startHub()
    const sub = await subscribe(url, 'topic=https://example.com/books/{id}')
    const token = await publisherToken()
    await publish(url, { topic: 'https://example.com/authors/1', data: 'no' }, token)
    await publish(url, { topic: ['https://example.com/other', 'https://example.com/books/7'], data: 'alternate' }, token)
    await publish(url, { topic: 'https://example.com/books/8', data: 'template' }, token)
    const events = await sub.until(2)
    expect(events.map((e) => e.data)).toEqual(['alternate', 'template'])
  })

  it('sends private updates only to subscribers whose claims match one of the topics', async () => {
    const { url } = await startHub()
    const allowed = await subscribe(url, 'topic=https://example.com/books/{id}', { authorization: `Bearer ${await signToken({ key: SECRET, subscribe: ['https://example.com/books/1'] })}` })
    const anonymous = await subscribe(url, 'topic=https://example.com/books/{id}')
    const token = await publisherToken()
    await publish(url, { topic: 'https://example.com/books/1', data: 'secret', private: 'on' }, token)
    await publish(url, { topic: 'https://example.com/books/1', data: 'public' }, token)
    expect((await allowed.until(2)).map((e) => e.data)).toEqual(['secret', 'public'])
    expect((await anonymous.until(1)).map((e) => e.data)).toEqual(['public'])
    expect(anonymous.events).toHaveLength(1)
  })
})

describe('hub: publishes under way together', () => {
  /** A memory history whose appends take the position at once and resolve when the test says. */
  class GatedHistory extends MemoryHistory {
    readonly waiting: (() => void)[] = []
    override async append(update: HubUpdate): Promise<StreamPosition> {
      const position = await super.append(update)
      await new Promise<void>((resolve) => this.waiting.push(resolve))
      return position
    }
  }

  /** A memory broker that records the order of what it is handed. */
  class RecordingBroker extends MemoryBroker {
    readonly published: string[] = []
    override publish(message: HubMessage): Promise<void> {
      this.published.push(message.update.data)
      return super.publish(message)
    }
  }

  it('starts appends without waiting for earlier publishes, and hands updates to the broker in history order', async () => {
    const history = new GatedHistory()
    const broker = new RecordingBroker()
    const { url } = await startHub({ history, broker })
    const sub = await subscribe(url, 'topic=*')
    const token = await publisherToken()
    const data = ['one', 'two', 'three', 'four']
    const responses = Promise.all(data.map((d) => publish(url, { topic: 'https://example.com/t', data: d }, token)))
    // Every append is under way before any has finished: none waits for the one before it.
    await expect.poll(() => history.waiting.length).toBe(data.length)
    // The appends finish last first; the broker still gets the updates in the order history numbered them.
    for (const resolve of history.waiting.splice(0).reverse()) resolve()
    expect((await responses).map((r) => r.status)).toEqual([200, 200, 200, 200])
    const read = await history.readAfter('earliest', { match: () => true, limit: 100 })
    expect(read.messages.map((message) => message.update.data)).toEqual(broker.published)
    expect([...broker.published].sort()).toEqual([...data].sort())
    expect((await sub.until(4)).map((e) => e.data)).toEqual(broker.published)
  })
})

describe('hub: bad input gets a coded problem and breaks nothing', () => {
  async function problem(res: Response, status: number, code: string): Promise<void> {
    expect(res.status).toBe(status)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(((await res.json()) as { code: string }).code).toBe(code)
  }

  it('refuses a missing topic (400), a missing or invalid JWT (401), insufficient claims (403) and a large body (413)', async () => {
    const { url } = await startHub({ maxBodyBytes: 1024 })
    const sub = await subscribe(url, 'topic=*')
    const token = await publisherToken(['https://example.com/allowed'])
    await problem(await publish(url, { data: 'x' }, token), 400, 'ERR_HUB_HTTP_TOPIC_MISSING')
    await problem(await publish(url, { topic: 'https://example.com/allowed' }), 401, 'ERR_HUB_AUTH_TOKEN_MISSING')
    await problem(await publish(url, { topic: 'https://example.com/allowed' }, 'not.a.jwt'), 401, 'ERR_HUB_AUTH_TOKEN_MALFORMED')
    await problem(await publish(url, { topic: ['https://example.com/allowed', 'https://example.com/denied'] }, token), 403, 'ERR_HUB_AUTH_INSUFFICIENT_SCOPE')
    await problem(await publish(url, { topic: 'https://example.com/allowed', data: 'x'.repeat(2000) }, token), 413, 'ERR_HUB_HTTP_BODY_TOO_LARGE')
    await problem(await publish(url, { topic: '/.well-known/mercure/subscriptions/x/y' }, await publisherToken()), 403, 'ERR_HUB_HTTP_TOPIC_RESERVED')
    // The subscriber saw none of the refused updates, and still receives good ones.
    await publish(url, { topic: 'https://example.com/allowed', data: 'fine' }, token)
    expect((await sub.until(1)).map((e) => e.data)).toEqual(['fine'])
  })

  it('rejects alg: none and a token signed with another key', async () => {
    const { url } = await startHub()
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"mercure":{"publish":["*"]}}').toString('base64url')}.`
    await problem(await publish(url, { topic: 'a' }, none), 401, 'ERR_HUB_AUTH_TOKEN_INVALID')
    const other = await signToken({ key: 'another-secret-that-is-long-enough-32b', publish: ['*'] })
    await problem(await publish(url, { topic: 'a' }, other), 401, 'ERR_HUB_AUTH_TOKEN_INVALID')
  })

  it('refuses anonymous subscribers unless enabled, and a subscribe without a topic', async () => {
    const { url } = await startHub({ anonymous: false })
    await problem(await fetch(`${url}?topic=a`), 401, 'ERR_HUB_AUTH_TOKEN_MISSING')
    await problem(await fetch(url, { headers: { authorization: `Bearer ${await signToken({ key: SECRET, subscribe: ['*'] })}` } }), 400, 'ERR_HUB_HTTP_QUERY_INVALID')
  })
})

describe('hub: resume', () => {
  it('replays missed updates after Last-Event-ID, then live ones, and sets the Last-Event-ID response header', async () => {
    const { url } = await startHub()
    const token = await publisherToken()
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push(await (await publish(url, { topic: 'a', data: `m${i}` }, token)).text())
    const sub = await subscribe(url, 'topic=a', { 'last-event-id': ids[1]! })
    expect(sub.response.headers.get('last-event-id')).toBe(ids[1])
    await publish(url, { topic: 'a', data: 'm5' }, token)
    expect((await sub.until(4)).map((e) => e.data)).toEqual(['m2', 'm3', 'm4', 'm5'])
  })

  it('takes lastEventID from the query, and earliest replays all history', async () => {
    const { url } = await startHub()
    const token = await publisherToken()
    await publish(url, { topic: 'a', data: 'one' }, token)
    await publish(url, { topic: 'b', data: 'other topic' }, token)
    await publish(url, { topic: 'a', data: 'two' }, token)
    const sub = await subscribe(url, 'topic=a&lastEventID=earliest')
    expect(sub.response.headers.get('last-event-id')).toBe('earliest')
    expect((await sub.until(2)).map((e) => e.data)).toEqual(['one', 'two'])
  })

  it('answers an unknown Last-Event-ID with the herald-gap event, not a crash', async () => {
    const { url } = await startHub()
    const sub = await subscribe(url, 'topic=a', { 'last-event-id': 'garbage\u00e9' })
    expect(sub.response.headers.get('last-event-id')).toBe('earliest')
    const [gap] = await sub.until(1)
    expect(gap?.type).toBe('herald-gap')
    expect(JSON.parse(gap!.data)).toMatchObject({ lastEventId: 'garbage\u00e9', reason: 'unknown' })
  })

  it('loses nothing and duplicates nothing when publishes race with a resuming subscriber', async () => {
    const { url } = await startHub()
    const token = await publisherToken()
    const first = await (await publish(url, { topic: 'race', data: '0' }, token)).text()
    const total = 60
    const publishing = (async () => {
      for (let i = 1; i <= total; i++) await publish(url, { topic: 'race', data: String(i) }, token)
    })()
    const subs = await Promise.all([0, 1, 2].map(() => subscribe(url, 'topic=race', { 'last-event-id': first })))
    await publishing
    for (const sub of subs) {
      const events = await sub.until(total)
      expect(events.map((e) => Number(e.data))).toEqual(Array.from({ length: total }, (_, i) => i + 1))
    }
  })

  it('keeps history across a restart on the same SQLite file', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'herald-hub-')), 'herald.db')
    const first = await startHub({ history: new SqliteHistory({ path }) })
    const token = await publisherToken()
    const id = await (await publish(first.url, { topic: 'a', data: 'before' }, token)).text()
    await publish(first.url, { topic: 'a', data: 'after' }, token)
    await first.hub.close({ drainTimeoutMs: 100 })
    hubs.splice(hubs.indexOf(first.hub), 1)
    const second = await startHub({ history: new SqliteHistory({ path }) })
    const sub = await subscribe(second.url, 'topic=a', { 'last-event-id': id })
    expect((await sub.until(1)).map((e) => e.data)).toEqual(['after'])
  })
})

describe('hub: operations', () => {
  it('serves /healthz, /readyz and Prometheus /metrics', async () => {
    const { hub, url } = await startHub()
    const base = url.replace('/.well-known/mercure', '')
    expect((await fetch(`${base}/healthz`)).status).toBe(200)
    expect((await fetch(`${base}/readyz`)).status).toBe(200)
    await hub.publish({ topics: 'a', data: 'x' })
    const metrics = await (await fetch(`${base}/metrics`)).text()
    expect(metrics).toMatch(/herald_publishes_total 1/)
    expect(metrics).toMatch(/herald_history_size 1/)
  })

  it('answers batch publishes with one result per update', async () => {
    const { url } = await startHub()
    const sub = await subscribe(url, 'topic=*')
    const token = await publisherToken(['https://example.com/{x}'])
    const res = await fetch(`${url}/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ updates: [{ topic: 'https://example.com/1', data: 'one' }, { topic: 'https://elsewhere.example/2', data: 'refused' }, { data: 'no topic' }] }),
    })
    expect(res.status).toBe(200)
    const { results } = (await res.json()) as { results: ({ id: string } | { error: { code: string } })[] }
    expect(results).toHaveLength(3)
    expect(results[0]).toHaveProperty('id')
    expect(results[1]).toMatchObject({ error: { code: 'ERR_HUB_AUTH_INSUFFICIENT_SCOPE' } })
    expect(results[2]).toMatchObject({ error: { code: 'ERR_HUB_HTTP_TOPIC_MISSING' } })
    expect((await sub.until(1)).map((e) => e.data)).toEqual(['one'])
  })
})

describe('hub: clients that leave early', () => {
  it('forgets a subscriber whose client left while the hub was still looking up its resume point', async () => {
    let release: () => void = () => undefined
    const located = new Promise<void>((resolve) => (release = resolve))
    const history = new MemoryHistory()
    const locate = history.locate.bind(history)
    history.locate = async (id) => {
      await located
      return locate(id)
    }
    const { url } = await startHub({ history })
    const base = url.replace('/.well-known/mercure', '')
    const gauges = async (): Promise<string[]> => {
      const text = await (await fetch(`${base}/metrics`)).text()
      return text.split('\n').filter((line) => /^herald_(connections|subscriptions) /.test(line))
    }
    const socket = connect(new URL(url).port === '' ? 80 : Number(new URL(url).port), '127.0.0.1')
    socket.write(`GET /.well-known/mercure?topic=a HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nLast-Event-ID: x\r\n\r\n`)
    // The request is in the hub, waiting for the history; the client goes away; then the history answers.
    await new Promise((resolve) => setTimeout(resolve, 100))
    socket.destroy()
    await new Promise((resolve) => setTimeout(resolve, 100))
    release()
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await gauges()).toEqual(['herald_connections 0', 'herald_subscriptions 0'])
  })
})

describe('hub: connections', () => {
  it('close() ends the streams of clients that stopped reading, which Node no longer tracks once they are detached', async () => {
    const { hub, url } = await startHub()
    hubs.splice(hubs.indexOf(hub), 1)
    const socket = connect(Number(new URL(url).port), '127.0.0.1')
    socket.write(`GET /.well-known/mercure?topic=big HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`)
    const head = await new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))))
    expect(head).toMatch(/^HTTP\/1\.1 200/)
    socket.pause()
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    // Far more than the socket buffers hold: the hub's writes stop, and the stream cannot end by itself.
    const data = 'x'.repeat(200_000)
    const token = await publisherToken()
    for (let i = 0; i < 40; i++) expect((await publish(url, { topic: 'big', data }, token)).status).toBe(200)
    await hub.close({ drainTimeoutMs: 100 })
    socket.resume()
    await closed
  })
})

describe('hub: token expiry, CORS, subscriptions API and events', () => {
  it('closes a stream when its token expires (Mercure: "the connection MUST be closed by the hub at that time")', async () => {
    const { url } = await startHub({ anonymous: false })
    const token = await signToken({ key: SECRET, subscribe: ['*'], expiresIn: 2 })
    const response = await fetch(`${url}?topic=a`, { headers: { authorization: `Bearer ${token}` } })
    expect(response.status).toBe(200)
    const started = Date.now()
    // The body ends when the hub closes the stream at expiry (a 2 s token; the test timeout bounds the wait).
    await response.text()
    const ended = Date.now() - started
    expect(ended).toBeLessThan(10_000)
  }, 15_000)

  it('answers CORS preflights and requests from allowed origins only, with credentials', async () => {
    const { url } = await startHub({ corsOrigins: ['https://app.example'] })
    const preflight = await fetch(url, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true')
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization')
    const denied = await fetch(url, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } })
    expect(denied.status).toBe(403)
    expect(denied.headers.get('access-control-allow-origin')).toBeNull()
    const sub = await subscribe(url, 'topic=a', { origin: 'https://app.example' })
    expect(sub.response.headers.get('access-control-allow-origin')).toBe('https://app.example')
  })

  it('serves the subscriptions API as JSON-LD, filtered by topic and subscriber, paged, and only to tokens that match', async () => {
    const { url } = await startHub({ subscriptions: true })
    await subscribe(url, 'topic=https://example.com/a')
    await subscribe(url, 'topic=https://example.com/a&topic=https://example.com/b')
    const reader = `Bearer ${await signToken({ key: SECRET, subscribe: ['/.well-known/mercure/subscriptions{/topic}{/subscriber}'] })}`
    const all = await fetch(`${url}/subscriptions`, { headers: { authorization: reader } })
    expect(all.status).toBe(200)
    expect(all.headers.get('content-type')).toBe('application/ld+json')
    const collection = (await all.json()) as { '@context': string; type: string; lastEventID: string; subscriptions: { id: string; topic: string; subscriber: string; active: boolean }[] }
    expect(collection).toMatchObject({ '@context': 'https://mercure.rocks/', type: 'Subscriptions' })
    // The subscription events of the two subscribers went through history: the last one's id is the lastEventID.
    expect(collection.lastEventID).toMatch(/^urn:uuid:/)
    expect(collection.subscriptions.map((s) => s.topic).sort()).toEqual(['https://example.com/a', 'https://example.com/a', 'https://example.com/b'])
    const one = collection.subscriptions.find((s) => s.topic === 'https://example.com/b')!
    expect(one.id).toBe(`/.well-known/mercure/subscriptions/${encodeURIComponent('https://example.com/b')}/${encodeURIComponent(one.subscriber)}`)

    const byTopic = (await (await fetch(`${url}/subscriptions/${encodeURIComponent('https://example.com/a')}`, { headers: { authorization: reader } })).json()) as typeof collection
    expect(byTopic.subscriptions).toHaveLength(2)
    const single = await fetch(`${url.replace('/.well-known/mercure', '')}${one.id}`, { headers: { authorization: reader } })
    expect(((await single.json()) as { subscriber: string; active: boolean })).toMatchObject({ subscriber: one.subscriber, active: true })
    expect((await fetch(`${url}/subscriptions/x/urn%3Auuid%3Anone`, { headers: { authorization: reader } })).status).toBe(404)

    const page = (await (await fetch(`${url}/subscriptions?limit=2`, { headers: { authorization: reader } })).json()) as { subscriptions: unknown[]; next?: string; totalItems: number }
    expect(page.subscriptions).toHaveLength(2)
    expect(page.totalItems).toBe(3)
    expect(page.next).toBe('/.well-known/mercure/subscriptions?limit=2&cursor=2')

    const outsider = `Bearer ${await signToken({ key: SECRET, subscribe: ['https://example.com/a'] })}`
    expect((await fetch(`${url}/subscriptions`, { headers: { authorization: outsider } })).status).toBe(403)
    expect((await fetch(`${url}/subscriptions`)).status).toBe(401)
  })

  it('publishes private subscription events when a subscription starts and ends', async () => {
    const { url } = await startHub({ subscriptions: true })
    const watcher = await subscribe(url, 'topic=/.well-known/mercure/subscriptions{/topic}{/subscriber}', {
      authorization: `Bearer ${await signToken({ key: SECRET, subscribe: ['/.well-known/mercure/subscriptions{/topic}{/subscriber}'] })}`,
    })
    const anonymous = await subscribe(url, 'topic=*')
    const watched = await subscribe(url, 'topic=https://example.com/watched')
    watched.close()
    const events = await watcher.until(3)
    const docs = events.map((e) => JSON.parse(e.data) as { type: string; topic: string; active: boolean })
    const ofWatched = docs.filter((d) => d.topic === 'https://example.com/watched')
    expect(ofWatched.map((d) => d.active)).toEqual([true, false])
    expect(docs.every((d) => d.type === 'Subscription')).toBe(true)
    // Subscription events are private: the anonymous subscriber to * sees none of them.
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(anonymous.events).toHaveLength(0)
  })
})

describe('TCP_NODELAY on subscriber connections', () => {
  for (const nagle of [false, true]) {
    it(`sets it to ${String(!nagle)} when nagle is ${nagle ? 'true' : 'left out'}`, async () => {
      const server = createServer((req, res) => void hub.handle(req, res))
      const calls: boolean[] = []
      server.on('connection', (socket: Socket) => {
        const setNoDelay = socket.setNoDelay.bind(socket)
        socket.setNoDelay = (value?: boolean) => {
          calls.push(value ?? true)
          return setNoDelay(value)
        }
      })
      const hub = createHub({ publisherKey: { secret: SECRET }, anonymous: true, heartbeatMs: null, ...(nagle && { nagle }) })
      hubs.push(hub)
      const { url } = await hub.listen({ port: 0, server })
      const stream = await subscribe(`${url}/.well-known/mercure`, 'topic=a')
      expect((await publish(`${url}/.well-known/mercure`, { topic: 'a', data: 'x' }, await publisherToken())).status).toBe(200)
      expect((await stream.until(1))[0]?.data).toBe('x')
      // The subscriber's socket was set last (the publish request's socket is not an event stream).
      expect(calls.at(-1)).toBe(!nagle)
    })
  }
})

/** A subscriber through the fetch handler, whose stream hands over each write of the session as one chunk. */
async function chunkedSubscriber(hub: Hub): Promise<{ chunks: { text: string; at: number }[]; until(count: number): Promise<ParsedEvent[]> }> {
  const controller = new AbortController()
  controllers.push(controller)
  const response = await hub.fetch(new Request('http://hub.test/.well-known/mercure?topic=a', { signal: controller.signal }))
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  const chunks: { text: string; at: number }[] = []
  const events: ParsedEvent[] = []
  const parser = createParser({ onEvent: (event) => events.push(event) })
  const opening = await reader.read()
  parser.feed(decoder.decode(opening.value))
  return {
    chunks,
    async until(count) {
      while (events.length < count) {
        const { value, done } = await reader.read()
        if (done) break
        chunks.push({ text: decoder.decode(value), at: performance.now() })
        parser.feed(chunks.at(-1)?.text ?? '')
      }
      return events
    },
  }
}

describe('coalesced writes', () => {
  for (const coalesceWrites of [true, false]) {
    it(coalesceWrites ? 'merges updates published together into one write (the default)' : 'writes each update on its own with coalesceWrites: false', async () => {
      const hub = createHub({ anonymous: true, heartbeatMs: null, ...(!coalesceWrites && { coalesceWrites }) })
      hubs.push(hub)
      await hub.ready()
      const subscriber = await chunkedSubscriber(hub)
      await Promise.all(Array.from({ length: 20 }, (_, i) => hub.publish({ topics: 'a', data: String(i) })))
      const events = await subscriber.until(20)
      expect(events.map((event) => event.data)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)))
      expect(subscriber.chunks).toHaveLength(coalesceWrites ? 1 : 20)
    })
  }

  it('with writeDelayMs, holds updates published apart and writes them together once the delay is over', async () => {
    const hub = createHub({ anonymous: true, heartbeatMs: null, writeDelayMs: 1000 })
    hubs.push(hub)
    await hub.ready()
    const subscriber = await chunkedSubscriber(hub)
    const start = performance.now()
    for (let i = 0; i < 5; i++) {
      await hub.publish({ topics: 'a', data: String(i) })
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const events = await subscriber.until(5)
    expect(events.map((event) => event.data)).toEqual(['0', '1', '2', '3', '4'])
    expect(subscriber.chunks).toHaveLength(1)
    expect((subscriber.chunks[0]?.at ?? 0) - start).toBeGreaterThanOrEqual(1000)
  })

  it.each([-1, 1.5, 60_001])('refuses writeDelayMs %s with ERR_HUB_INVALID_OPTION', (writeDelayMs) => {
    expect(() => createHub({ anonymous: true, writeDelayMs })).toThrow(expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }))
  })

  it('with writeIntervalMs, writes an update at once after a quiet spell, and the ones soon after it together', async () => {
    const hub = createHub({ anonymous: true, heartbeatMs: null, writeIntervalMs: 1000 })
    hubs.push(hub)
    await hub.ready()
    const subscriber = await chunkedSubscriber(hub)
    const start = performance.now()
    await hub.publish({ topics: 'a', data: '0' })
    await subscriber.until(1)
    expect(subscriber.chunks).toHaveLength(1)
    expect((subscriber.chunks[0]?.at ?? Number.POSITIVE_INFINITY) - start).toBeLessThan(500)
    for (let i = 1; i < 4; i++) {
      await hub.publish({ topics: 'a', data: String(i) })
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const events = await subscriber.until(4)
    expect(events.map((event) => event.data)).toEqual(['0', '1', '2', '3'])
    expect(subscriber.chunks).toHaveLength(2)
    expect((subscriber.chunks[1]?.at ?? 0) - (subscriber.chunks[0]?.at ?? 0)).toBeGreaterThanOrEqual(900)
  })

  it(`by default, writes to a subscriber at most once per ${String(DEFAULT_WRITE_INTERVAL_MS)} ms`, async () => {
    const hub = createHub({ anonymous: true, heartbeatMs: null })
    hubs.push(hub)
    await hub.ready()
    const subscriber = await chunkedSubscriber(hub)
    await hub.publish({ topics: 'a', data: '0' })
    await subscriber.until(1)
    await hub.publish({ topics: 'a', data: '1' })
    await hub.publish({ topics: 'a', data: '2' })
    const events = await subscriber.until(3)
    expect(events.map((event) => event.data)).toEqual(['0', '1', '2'])
    // Timer granularity may end the wait up to a millisecond short on the reader's side.
    expect((subscriber.chunks[1]?.at ?? 0) - (subscriber.chunks[0]?.at ?? 0)).toBeGreaterThanOrEqual(DEFAULT_WRITE_INTERVAL_MS - 5)
  })

  it.each([-1, 1.5, 60_001])('refuses writeIntervalMs %s with ERR_HUB_INVALID_OPTION', (writeIntervalMs) => {
    expect(() => createHub({ anonymous: true, writeIntervalMs })).toThrow(expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }))
  })
})
