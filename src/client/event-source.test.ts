// Tests of EventSource against a scripted node:http server that plays exact responses. `[spec]` tests check one
// sentence of the WHATWG HTML standard, "9.2 Server-sent events"
// (https://html.spec.whatwg.org/multipage/server-sent-events.html), quoted above each test; `[non-spec]` tests check
// Herald's extensions. Servers ask for `retry: 10` so reconnections are quick.
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest'
import { ClientError, ClientErrorEvent, EventSource, type FetchLike } from './index.js'
import { cut, hang, redirect, stall, startScriptedServer, status, stream, type ScriptedServer } from './testing/scripted-server.js'
import { logSource, sleep } from './testing/source-log.js'

const servers: ScriptedServer[] = []
const sources: { close(): void }[] = []

afterEach(async () => {
  for (const source of sources.splice(0)) source.close()
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function serve(routes: Parameters<typeof startScriptedServer>[0]): Promise<ScriptedServer> {
  const server = await startScriptedServer(routes)
  servers.push(server)
  return server
}

function open<Events extends Record<string, unknown> = Record<string, string>>(
  url: string,
  init?: ConstructorParameters<typeof EventSource<Events>>[1],
): EventSource<Events> {
  const source = new EventSource<Events>(url, { backoff: { initialMs: 10 }, ...init })
  sources.push(source)
  return source
}

describe('[spec] the EventSource interface', () => {
  // 9.2.2: "CONNECTING (numeric value 0) … OPEN (numeric value 1) … CLOSED (numeric value 2)"
  it('[spec] has the readyState constants on the class and on instances', async () => {
    const server = await serve({ '/e': stream('', { end: false }) })
    const source = open(`${server.origin}/e`)
    expect([EventSource.CONNECTING, EventSource.OPEN, EventSource.CLOSED]).toEqual([0, 1, 2])
    expect([source.CONNECTING, source.OPEN, source.CLOSED]).toEqual([0, 1, 2])
  })

  // 9.2.2: "The url attribute's getter must return the serialization of this EventSource object's url."
  it('[spec] exposes the absolute URL and withCredentials', async () => {
    const server = await serve({ '/e': stream('', { end: false }) })
    expect(open(`${server.origin}/e?x=1`).url).toBe(`${server.origin}/e?x=1`)
    expect(open(`${server.origin}/e`).withCredentials).toBe(false)
    expect(open(`${server.origin}/e`, { withCredentials: true }).withCredentials).toBe(true)
  })

  // 9.2.2: "If urlRecord is failure, then throw a "SyntaxError" DOMException."
  it('[spec] throws ERR_CLIENT_INVALID_URL for a URL that does not parse', () => {
    expect(() => new EventSource('http://')).toThrow(expect.objectContaining({ code: 'ERR_CLIENT_INVALID_URL' }))
    expect(() => new EventSource('/relative')).toThrow(ClientError)
  })

  // 9.2.2: "When the object is created its readyState must be set to CONNECTING (0)."
  it('[spec] starts CONNECTING and becomes OPEN with an open event', async () => {
    const server = await serve({ '/e': stream('', { end: false }) })
    const source = open(`${server.origin}/e`)
    expect(source.readyState).toBe(EventSource.CONNECTING)
    const log = logSource(source)
    await log.waitFor('open')
    expect(source.readyState).toBe(EventSource.OPEN)
  })

  // 9.2.2 step 10-11: "User agents may set (`Accept`, `text/event-stream`) in request's header list." "Set request's
  // cache mode to "no-store"."
  it('[spec] sends a GET with Accept: text/event-stream and Cache-Control: no-store, and no Last-Event-ID at first', async () => {
    const server = await serve({ '/e': stream('', { end: false }) })
    open(`${server.origin}/e`)
    const [request] = await server.waitForRequests('/e', 1)
    expect(request?.method).toBe('GET')
    expect(request?.headers.accept).toBe('text/event-stream')
    expect(request?.headers['cache-control']).toBe('no-store')
    expect(request?.headers['last-event-id']).toBeUndefined()
  })
})

describe('[spec] dispatching events', () => {
  // 9.2.6: "Initialize event's type attribute to "message", its data attribute to data, its origin attribute to the
  // serialization of the origin of the event stream's final URL (i.e., the URL after redirects), and its lastEventId
  // attribute to the last event ID string of the event source."
  it('[spec] dispatches MessageEvents with data, origin and lastEventId', async () => {
    const server = await serve({ '/e': stream('id: 7\ndata: hello\ndata: world\n\n', { end: false }) })
    const source = open(`${server.origin}/e`)
    const log = logSource(source)
    await log.waitFor('message*')
    const event = log.messages[0]!
    expect(event).toBeInstanceOf(MessageEvent)
    expect(event.type).toBe('message')
    expect(event.data).toBe('hello\nworld')
    expect(event.lastEventId).toBe('7')
    expect(event.origin).toBe(server.origin)
    expect(source.lastEventId).toBe('7')
  })

  // 9.2.6: "If the event type buffer has a value other than the empty string, change the type of the newly created
  // event to equal the value of the event type buffer."
  it('[spec] dispatches custom event types to their listeners, and only message events to onmessage', async () => {
    const server = await serve({ '/e': stream('event: add\ndata: 1\n\ndata: 2\n\nevent: remove\ndata: 3\n\n', { end: false }) })
    const source = open(`${server.origin}/e`)
    const log = logSource(source, ['message', 'add', 'remove'])
    const onmessage: string[] = []
    source.onmessage = (event) => onmessage.push(event.data)
    await log.waitFor('remove 3 #')
    expect(log.lines).toEqual(['open', 'add 1 #', 'message 2 #', 'remove 3 #'])
    expect(onmessage).toEqual(['2'])
  })

  // 9.2.6: "If the data buffer is an empty string, set the data buffer and the event type buffer to the empty string
  // and return." and "Set the last event ID string of the event source to the value of the last event ID buffer."
  it('[spec] a data-less id block sets the last event ID without dispatching, and it is sent on reconnection', async () => {
    const server = await serve({ '/e': [stream('retry: 10\ndata: a\n\nid: 42\n\n'), stream('data: b\n\n', { end: false })] })
    const source = open(`${server.origin}/e`)
    const log = logSource(source)
    await log.waitFor('message b #42')
    expect(log.lines).toEqual(['open', 'message a #', 'error ERR_CLIENT_STREAM_ENDED 0', 'open', 'message b #42'])
    expect(server.requestsTo('/e')[1]?.headers['last-event-id']).toBe('42')
  })

  // 9.2.6 id field: "If the field value does not contain U+0000 NULL, then set the last event ID buffer to the field
  // value." An empty value empties it; 9.2.3: "If the EventSource object's last event ID string is not the empty
  // string" only then is Last-Event-ID set.
  it('[spec] an empty id field clears the last event ID: the reconnection sends no Last-Event-ID', async () => {
    const server = await serve({ '/e': [stream('retry: 10\nid: 1\ndata: a\n\nid\ndata: b\n\n'), stream('data: c\n\n', { end: false })] })
    const log = logSource(open(`${server.origin}/e`))
    await log.waitFor('message c #')
    expect(log.lines.filter((l) => l.startsWith('message'))).toEqual(['message a #1', 'message b #', 'message c #'])
    expect(server.requestsTo('/e')[1]?.headers['last-event-id']).toBeUndefined()
  })

  // 9.2.2 close(): "set the readyState attribute to CLOSED"; 9.2.6: "Queue a task which, if the readyState attribute
  // is set to a value other than CLOSED, dispatches the newly created event at the EventSource object."
  it('[spec] close() in a listener stops the rest of the chunk from being dispatched', async () => {
    const server = await serve({ '/e': stream('data: 1\n\ndata: 2\n\ndata: 3\n\n', { end: false }) })
    const source = open(`${server.origin}/e`)
    const seen: string[] = []
    source.onmessage = (event) => {
      seen.push(event.data)
      source.close()
    }
    await server.waitForRequests('/e', 1)
    await sleep(100)
    expect(seen).toEqual(['1'])
    expect(source.readyState).toBe(EventSource.CLOSED)
  })

  // 9.2.5: "The UTF-8 decode algorithm strips one leading UTF-8 Byte Order Mark (BOM), if any."
  it('[spec] strips a BOM at the start of each stream, even one split across chunks', async () => {
    const bom = Uint8Array.of(0xef, 0xbb, 0xbf)
    const server = await serve({
      '/e': [stream([bom.subarray(0, 1), bom.subarray(1), 'retry: 10\ndata: a\n\n']), stream([bom, 'data: b\n\n'], { end: false })],
    })
    const log = logSource(open(`${server.origin}/e`))
    await log.waitFor('message b #')
    expect(log.lines.filter((l) => l.startsWith('message'))).toEqual(['message a #', 'message b #'])
  })

  it('[spec] decodes UTF-8 split across chunks', async () => {
    const snowman = new TextEncoder().encode('data: ☃\n\n')
    const server = await serve({ '/e': stream([snowman.subarray(0, 7), snowman.subarray(7)], { end: false }) })
    const log = logSource(open(`${server.origin}/e`))
    await log.waitFor('message ☃ #')
  })
})

describe('[spec] reconnection', () => {
  // 9.2.3: "When a user agent is to reestablish the connection … Set the readyState attribute to CONNECTING. Fire an
  // event named error at the EventSource object. Wait a delay equal to the reconnection time of the event source."
  it('[spec] reconnects after the stream ends, firing error with readyState CONNECTING, sending Last-Event-ID', async () => {
    const server = await serve({ '/e': [stream('retry: 10\nid: 1\ndata: a\n\n'), stream('id: 2\ndata: b\n\n', { end: false })] })
    const log = logSource(open(`${server.origin}/e`))
    await log.waitFor('message b #2')
    expect(log.lines).toEqual(['open', 'message a #1', 'error ERR_CLIENT_STREAM_ENDED 0', 'open', 'message b #2'])
    expect(server.requestsTo('/e').map((r) => r.headers['last-event-id'])).toEqual([undefined, '1'])
  })

  // 9.2.6 retry field: "If the field value consists of only ASCII digits, then interpret the field value as an integer
  // in base ten, and set the event stream's reconnection time to that integer."
  it('[spec] waits the reconnection time the server set last', async () => {
    const times: number[] = []
    const server = await serve({
      '/e': [
        (r, res, s) => {
          times.push(performance.now())
          return stream('retry: 10\ndata: a\n\nretry: 150\ndata: b\n\n')(r, res, s)
        },
        (r, res, s) => {
          times.push(performance.now())
          return stream('data: c\n\n', { end: false })(r, res, s)
        },
      ],
    })
    const log = logSource(open(`${server.origin}/e`))
    await log.waitFor('message c #')
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(140)
  })

  // "If the file ends in the middle of an event, before the final empty line, the incomplete event is not dispatched."
  it('[spec] a connection cut in the middle of an event drops that event and resumes from the last complete one', async () => {
    const server = await serve({ '/e': [cut('retry: 10\nid: 1\ndata: a\n\nid: 2\ndata: half'), stream('id: 2\ndata: b\n\n', { end: false })] })
    const log = logSource(open(`${server.origin}/e`))
    await log.waitFor('message b #2')
    expect(log.lines.filter((l) => l.startsWith('message'))).toEqual(['message a #1', 'message b #2'])
    expect(log.errors[0]?.error.code).toMatch(/ERR_CLIENT_(NETWORK|STREAM_ENDED)/)
    expect(server.requestsTo('/e')[1]?.headers['last-event-id']).toBe('1')
  })

  // 9.2.2: "Otherwise, if res is a network error, then reestablish the connection"
  it('[spec] reconnects after a network error (connection refused)', async () => {
    const server = await serve({ '/e': stream('', { end: false }) })
    const url = `${server.origin}/e`
    await server.close()
    servers.splice(servers.indexOf(server), 1)
    const source = open(url)
    const log = logSource(source)
    await log.until((lines) => lines.filter((l) => l === 'error ERR_CLIENT_NETWORK 0').length >= 2)
    expect(source.readyState).toBe(EventSource.CONNECTING)
    expect(log.errors[0]?.error.cause).toBeInstanceOf(Error)
  })

  // 9.2.2 close(): "Abort any instances of the fetch algorithm started for this EventSource object, and set the
  // readyState attribute to CLOSED." 9.2.3: "If the EventSource object's readyState attribute is not set to
  // CONNECTING, then return."
  it('[spec] close() during the reconnection delay cancels the reconnection', async () => {
    const server = await serve({ '/e': stream('retry: 50\ndata: a\n\n') })
    const source = open(`${server.origin}/e`)
    source.onerror = () => source.close()
    const log = logSource(source)
    await log.waitFor('error*')
    await sleep(150)
    expect(server.requestsTo('/e')).toHaveLength(1)
    expect(source.readyState).toBe(EventSource.CLOSED)
  })

  it('[spec] close() while connecting aborts the request and fires nothing', async () => {
    const server = await serve({ '/e': hang() })
    const source = open(`${server.origin}/e`)
    const log = logSource(source)
    await server.waitForRequests('/e', 1)
    source.close()
    await sleep(50)
    expect(log.lines).toEqual([])
    expect(source.readyState).toBe(EventSource.CLOSED)
  })
})

describe('[spec] failing the connection', () => {
  // 9.2.2: "Otherwise, if res's status is not 200, or if res's `Content-Type` is not `text/event-stream`, then fail
  // the connection." 9.2.3: "Once the user agent has failed the connection, it does not attempt to reconnect."
  for (const code of [204, 404, 500, 503]) {
    it(`[spec] fails without reconnecting on ${code}`, async () => {
      const server = await serve({ '/e': status(code) })
      const source = open(`${server.origin}/e`)
      const log = logSource(source)
      await log.waitFor('error*')
      await sleep(60)
      expect(log.lines).toEqual(['error ERR_CLIENT_HTTP_STATUS 2'])
      expect(log.errors[0]?.error.status).toBe(code)
      expect(server.requestsTo('/e')).toHaveLength(1)
    })
  }

  for (const type of ['text/plain', 'application/json', null]) {
    it(`[spec] fails on a 200 with content type ${String(type)}`, async () => {
      const server = await serve({ '/e': stream('data: a\n\n', { contentType: type }) })
      const log = logSource(open(`${server.origin}/e`))
      await log.waitFor('error*')
      expect(log.lines).toEqual(['error ERR_CLIENT_CONTENT_TYPE 2'])
    })
  }

  it('[spec] accepts text/event-stream with parameters and in any case', async () => {
    const server = await serve({ '/e': stream('data: a\n\n', { contentType: 'Text/Event-Stream; charset=utf-8', end: false }) })
    await logSource(open(`${server.origin}/e`)).waitFor('message a #')
  })
})

describe('[spec] redirects', () => {
  // 9.2.6: the origin is "the serialization of the origin of the event stream's final URL (i.e., the URL after
  // redirects)".
  for (const code of [301, 302, 307] as const) {
    it(`[spec] follows a ${code} redirect; origin is the final URL's`, async () => {
      const target = await serve({ '/final': stream('data: a\n\n', { end: false }) })
      const server = await serve({ '/e': redirect(code, `${target.origin}/final`) })
      const source = open(`${server.origin}/e`)
      const log = logSource(source)
      await log.waitFor('message a #')
      expect(log.messages[0]?.origin).toBe(target.origin)
      expect(source.url).toBe(`${server.origin}/e`)
    })
  }

  it('[spec] reconnects to the URL it was given, not the redirect target', async () => {
    const target = await serve({ '/final': [stream('retry: 10\nid: 1\ndata: a\n\n'), stream('data: b\n\n', { end: false })] })
    const server = await serve({ '/e': redirect(307, `${target.origin}/final`) })
    const log = logSource(open(`${server.origin}/e`))
    await log.waitFor('message b #1')
    expect(server.requestsTo('/e')).toHaveLength(2)
    expect(server.requestsTo('/e')[1]?.headers['last-event-id']).toBe('1')
  })
})

describe('[non-spec] request options', () => {
  it('[non-spec] sends method, body and headers on every connection', async () => {
    const server = await serve({ '/e': [stream('retry: 10\nid: 1\ndata: a\n\n'), stream('data: b\n\n', { end: false })] })
    const log = logSource(
      open(`${server.origin}/e`, { method: 'post', body: '{"q":1}', headers: { authorization: 'Bearer t', 'content-type': 'application/json' } }),
    )
    await log.waitFor('message b #1')
    for (const request of server.requestsTo('/e')) {
      expect(request.method).toBe('POST')
      expect(request.body).toBe('{"q":1}')
      expect(request.headers.authorization).toBe('Bearer t')
      expect(request.headers.accept).toBe('text/event-stream')
    }
  })

  it('[non-spec] keeps a caller-given Accept header', async () => {
    const server = await serve({ '/e': stream('', { end: false }) })
    open(`${server.origin}/e`, { headers: { accept: 'text/event-stream, application/json;q=0.5' } })
    const [request] = await server.waitForRequests('/e', 1)
    expect(request?.headers.accept).toBe('text/event-stream, application/json;q=0.5')
  })

  it('[non-spec] sends the initial lastEventId on the first request, and events without an id carry it', async () => {
    const server = await serve({ '/e': stream('data: a\n\n', { end: false }) })
    const log = logSource(open(`${server.origin}/e`, { lastEventId: '99' }))
    await log.waitFor('message a #99')
    expect(server.requestsTo('/e')[0]?.headers['last-event-id']).toBe('99')
  })

  // 9.2.3: "Let lastEventIDValue be the EventSource object's last event ID string, encoded as UTF-8."
  it('[spec] sends a non-ASCII Last-Event-ID as UTF-8', async () => {
    const server = await serve({ '/e': [stream('retry: 10\nid: 77☃\ndata: a\n\n'), stream('', { end: false })] })
    open(`${server.origin}/e`)
    const [, second] = await server.waitForRequests('/e', 2)
    expect(Buffer.from(second!.headers['last-event-id'] as string, 'latin1').toString('utf8')).toBe('77☃')
  })

  it('[non-spec] calls a custom fetch with the request it would send', async () => {
    const server = await serve({ '/e': stream('data: a\n\n', { end: false }) })
    const calls: { url: string; init: RequestInit }[] = []
    const custom: FetchLike = (url, init) => {
      calls.push({ url, init })
      return fetch(url, init)
    }
    await logSource(open(`${server.origin}/e`, { fetch: custom })).waitFor('message a #')
    expect(calls[0]?.url).toBe(`${server.origin}/e`)
    expect(calls[0]?.init.cache).toBe('no-store')
    expect(new Headers(calls[0]?.init.headers).get('accept')).toBe('text/event-stream')
  })

  it('[non-spec] treats a fetch that throws like a network error', async () => {
    const source = open('http://127.0.0.1:9/e', {
      fetch: () => {
        throw new TypeError('boom')
      },
      backoff: { initialMs: 10, maxAttempts: 1 },
    })
    const log = logSource(source)
    await log.waitFor('error ERR_CLIENT_RETRIES_EXHAUSTED 2')
    expect(log.lines).toEqual(['error ERR_CLIENT_NETWORK 0', 'error ERR_CLIENT_RETRIES_EXHAUSTED 2'])
  })

  it('[non-spec] uses credentials include with withCredentials, and honours credentials', async () => {
    const seen: RequestInit[] = []
    const custom: FetchLike = (url, init) => {
      seen.push(init)
      return fetch(url, init)
    }
    const server = await serve({ '/e': stream('', { end: false }) })
    open(`${server.origin}/e`, { fetch: custom, withCredentials: true })
    open(`${server.origin}/e`, { fetch: custom })
    open(`${server.origin}/e`, { fetch: custom, credentials: 'omit' })
    await server.waitForRequests('/e', 3)
    expect(seen.map((init) => init.credentials).sort()).toEqual(['include', 'omit', 'same-origin'])
  })

  it('[non-spec] the signal closes the source; an aborted signal never connects', async () => {
    const server = await serve({ '/e': stream('', { end: false }) })
    const controller = new AbortController()
    const source = open(`${server.origin}/e`, { signal: controller.signal })
    await logSource(source).waitFor('open')
    controller.abort()
    expect(source.readyState).toBe(EventSource.CLOSED)
    const never = open(`${server.origin}/e`, { signal: AbortSignal.abort() })
    expect(never.readyState).toBe(EventSource.CLOSED)
    await sleep(30)
    expect(server.requestsTo('/e')).toHaveLength(1)
  })

  it('[non-spec] rejects bad options at construction with ERR_CLIENT_INVALID_OPTION', () => {
    const url = 'http://127.0.0.1:9/e'
    const bad: unknown[] = [
      { method: 'GET', body: 'x' },
      { method: 'bad method' },
      { body: new ReadableStream(), method: 'POST' },
      { headers: { 'bad header': 'x' } },
      { credentials: 'sometimes' },
      { fetch: 'no' },
      { backoff: { initialMs: -1 } },
      { backoff: { maxAttempts: 1.5 } },
      { retryOn: { status: [404] } },
      { retryOn: { status: 'yes' } },
      { stallTimeoutMs: 0 },
      { maxBufferBytes: 0 },
      { maxQueuedEvents: 0 },
      { lastEventId: 'a\nb' },
      { decode: 'json' },
      { signal: {} },
      null,
    ]
    for (const init of bad) {
      expect(() => new EventSource(url, init as never), JSON.stringify(init)).toThrow(expect.objectContaining({ code: 'ERR_CLIENT_INVALID_OPTION' }))
    }
  })
})

describe('[non-spec] retryOn and backoff', () => {
  it('[non-spec] retries a 503 when asked, honouring Retry-After in seconds', async () => {
    const times: number[] = []
    const timed = (play: ReturnType<typeof status>): ReturnType<typeof status> => (r, res, s) => {
      times.push(performance.now())
      return play(r, res, s)
    }
    const server = await serve({ '/e': [timed(status(503, { headers: { 'retry-after': '1' } })), timed(stream('data: ok\n\n', { end: false }))] })
    const log = logSource(open(`${server.origin}/e`, { retryOn: { status: true } }))
    await log.waitFor('message ok #')
    expect(log.lines).toEqual(['error ERR_CLIENT_HTTP_STATUS 0', 'open', 'message ok #'])
    expect(log.errors[0]?.error.status).toBe(503)
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(950)
  })

  it('[non-spec] retries 429 with an HTTP-date Retry-After, and only the statuses listed', async () => {
    const past = new Date(Date.now() - 60_000).toUTCString()
    const server = await serve({ '/e': [status(429, { headers: { 'retry-after': past } }), status(500), stream('data: ok\n\n', { end: false })] })
    const log = logSource(open(`${server.origin}/e`, { retryOn: { status: [429] } }))
    await log.waitFor('error ERR_CLIENT_HTTP_STATUS 2')
    expect(log.lines).toEqual(['error ERR_CLIENT_HTTP_STATUS 0', 'error ERR_CLIENT_HTTP_STATUS 2'])
    expect(log.errors.map((e) => e.error.status)).toEqual([429, 500])
  })

  it('[non-spec] never retries a 4xx other than 429, nor 204', async () => {
    for (const code of [401, 403, 204]) {
      const server = await serve({ '/e': status(code) })
      const log = logSource(open(`${server.origin}/e`, { retryOn: { status: true } }))
      await log.waitFor('error*')
      expect(log.lines).toEqual(['error ERR_CLIENT_HTTP_STATUS 2'])
    }
  })

  it('[non-spec] gives up after backoff.maxAttempts failed reconnections in a row', async () => {
    const server = await serve({ '/e': [stream('retry: 10\ndata: a\n\n'), status(503)] })
    const source = open(`${server.origin}/e`, { retryOn: { status: true }, backoff: { initialMs: 10, maxMs: 20, maxAttempts: 3 } })
    const log = logSource(source)
    await log.waitFor('error ERR_CLIENT_RETRIES_EXHAUSTED 2')
    // One reconnection after the stream ended, then three failed ones.
    expect(server.requestsTo('/e')).toHaveLength(4)
    const last = log.errors.at(-1)!.error
    expect(last.status).toBe(503)
    expect((last.cause as ClientError).code).toBe('ERR_CLIENT_HTTP_STATUS')
  })

  it('[non-spec] counts failures the same when the source has a last event ID', async () => {
    const server = await serve({ '/e': stream('retry: 10\nid: 1\n\n') })
    const log = logSource(open(`${server.origin}/e`, { lastEventId: '0', backoff: { initialMs: 10, maxMs: 20, maxAttempts: 2 } }))
    await log.waitFor('error ERR_CLIENT_RETRIES_EXHAUSTED 2')
    // The first connection set an id (it was productive); the next ones only repeated it and count as failures.
    expect(server.requestsTo('/e').map((r) => r.headers['last-event-id'])).toEqual(['0', '1', '1'])
  })

  it('[non-spec] network errors can be made final', async () => {
    const source = open('http://127.0.0.1:9/e', { retryOn: { network: false } })
    const log = logSource(source)
    await log.waitFor('error*')
    expect(log.lines).toEqual(['error ERR_CLIENT_NETWORK 2'])
  })

  it('[non-spec] a productive connection resets the count of failures', async () => {
    const plays = [stream('retry: 10\ndata: 1\n\n'), status(503), stream('data: 2\n\n'), status(503), stream('data: 3\n\n', { end: false })]
    const server = await serve({ '/e': plays })
    const log = logSource(open(`${server.origin}/e`, { retryOn: { status: true }, backoff: { initialMs: 10, maxAttempts: 2 } }))
    await log.waitFor('message 3 #')
    expect(server.requestsTo('/e')).toHaveLength(5)
  })
})

describe('[non-spec] bad input never hangs and never grows memory', () => {
  it('[non-spec] a server that sends headers and then nothing stalls: abort, error, reconnect', async () => {
    const server = await serve({ '/e': [stall(), stream('data: after\n\n', { end: false })] })
    const log = logSource(open(`${server.origin}/e`, { stallTimeoutMs: 80 }))
    await log.waitFor('message after #')
    expect(log.lines).toEqual(['open', 'error ERR_CLIENT_STALLED 0', 'open', 'message after #'])
  })

  it('[non-spec] a server that never answers stalls too', async () => {
    const server = await serve({ '/e': [hang(), stream('data: after\n\n', { end: false })] })
    const log = logSource(open(`${server.origin}/e`, { stallTimeoutMs: 80 }))
    await log.waitFor('message after #')
    expect(log.lines).toEqual(['error ERR_CLIENT_STALLED 0', 'open', 'message after #'])
  })

  it('[non-spec] keep-alive comments keep a quiet stream from stalling', async () => {
    const server = await serve({ '/e': stream(Array.from({ length: 40 }, () => ': ping\n\n'), { gapMs: 20, end: false }) })
    const log = logSource(open(`${server.origin}/e`, { stallTimeoutMs: 300 }))
    await log.waitFor('open')
    await sleep(450)
    expect(log.lines).toEqual(['open'])
  })

  it('[non-spec] an event past maxBufferBytes drops the connection with ERR_CLIENT_BUFFER_OVERFLOW and reconnects', async () => {
    const server = await serve({ '/e': [stream(`retry: 10\ndata: ${'x'.repeat(5000)}\n\n`, { end: false }), stream('data: small\n\n', { end: false })] })
    const log = logSource(open(`${server.origin}/e`, { maxBufferBytes: 1024 }))
    await log.waitFor('message small #')
    expect(log.lines).toEqual(['open', 'error ERR_CLIENT_BUFFER_OVERFLOW 0', 'open', 'message small #'])
    expect((log.errors[0]?.error.cause as ClientError).code).toBe('ERR_PROTOCOL_BUFFER_OVERFLOW')
  })

  it('[non-spec] a stream of garbage without line ends overflows; a repeated overflow backs off and gives up', async () => {
    const garbage = Buffer.alloc(4096)
    for (let i = 0; i < garbage.length; i++) garbage[i] = 0x80 + (i % 0x70)
    const server = await serve({ '/e': stream([garbage], { end: false }) })
    const source = open(`${server.origin}/e`, { maxBufferBytes: 1000, backoff: { initialMs: 10, maxAttempts: 2 } })
    const log = logSource(source)
    await log.waitFor('error ERR_CLIENT_RETRIES_EXHAUSTED 2')
    expect(log.errors.map((e) => e.error.code)).toEqual(['ERR_CLIENT_BUFFER_OVERFLOW', 'ERR_CLIENT_BUFFER_OVERFLOW', 'ERR_CLIENT_RETRIES_EXHAUSTED'])
  })

  it('[non-spec] a stream of garbage lines that ends is reconnected, backing off until it gives up', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => `${String.fromCharCode(0x41 + (i % 26)).repeat(i % 40)}\u0001\uFFFD\n`).join('')
    const server = await serve({ '/e': stream(lines) })
    const source = open(`${server.origin}/e`, { backoff: { initialMs: 5, maxAttempts: 3 } })
    const log = logSource(source)
    await log.waitFor('error ERR_CLIENT_RETRIES_EXHAUSTED 2')
    expect(server.requestsTo('/e')).toHaveLength(4)
    expect(log.messages).toHaveLength(0)
  })
})

describe('[non-spec] async iteration', () => {
  it('[non-spec] yields message events of every type in order; break closes the source', async () => {
    const server = await serve({ '/e': stream('data: 1\n\nevent: tick\ndata: 2\n\ndata: 3\n\n', { end: false }) })
    const source = open(`${server.origin}/e`)
    const seen: string[] = []
    for await (const event of source) {
      seen.push(`${event.type}:${event.data}`)
      if (seen.length === 3) break
    }
    expect(seen).toEqual(['message:1', 'tick:2', 'message:3'])
    expect(source.readyState).toBe(EventSource.CLOSED)
  })

  it('[non-spec] is transparent to reconnections and ends when close() is called', async () => {
    const server = await serve({ '/e': [stream('retry: 10\nid: 1\ndata: a\n\n'), stream('data: b\n\n', { end: false })] })
    const source = open(`${server.origin}/e`)
    const seen: string[] = []
    for await (const event of source) {
      seen.push(`${event.data}#${event.lastEventId}`)
      if (seen.length === 2) setTimeout(() => source.close(), 10)
    }
    expect(seen).toEqual(['a#1', 'b#1'])
  })

  it('[non-spec] throws the ClientError when the source fails', async () => {
    const server = await serve({ '/e': status(404) })
    const source = open(`${server.origin}/e`)
    const consume = async (): Promise<void> => {
      for await (const event of source) expect(event).toBeUndefined()
    }
    await expect(consume()).rejects.toMatchObject({ code: 'ERR_CLIENT_HTTP_STATUS', status: 404 })
    // A loop started after the failure sees it too.
    await expect(source[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'ERR_CLIENT_HTTP_STATUS' })
  })

  it('[non-spec] a loop that falls behind by more than maxQueuedEvents gets the queued events, then ERR_CLIENT_QUEUE_OVERFLOW', async () => {
    const body = Array.from({ length: 10 }, (_, i) => `id: ${i}\ndata: ${i}\n\n`).join('')
    const server = await serve({ '/e': stream(body, { end: false }) })
    const source = open(`${server.origin}/e`, { maxQueuedEvents: 3 })
    const log = logSource(source)
    const iterator = source[Symbol.asyncIterator]()
    await log.waitFor('error ERR_CLIENT_QUEUE_OVERFLOW 2')
    const got: string[] = []
    const drain = async (): Promise<void> => {
      for (;;) {
        const next = await iterator.next()
        if (next.done === true) return
        got.push(next.value.data)
      }
    }
    await expect(drain()).rejects.toMatchObject({ code: 'ERR_CLIENT_QUEUE_OVERFLOW' })
    // Nothing was waiting on next(), so three events were queued; the fourth overflowed and nobody got it.
    expect(got).toEqual(['0', '1', '2'])
    expect(log.messages.map((m): unknown => m.data)).toEqual(['0', '1', '2'])
    expect(source.lastEventId).toBe('2')
    expect(log.errors[0]?.error.message).toContain('"2"')
  })
})

describe('[non-spec] event handlers, decode and typing', () => {
  it('[spec] onopen, onmessage and onerror are event handler attributes', async () => {
    const server = await serve({ '/e': stream('retry: 10\ndata: a\n\n') })
    const source = open(`${server.origin}/e`)
    expect([source.onopen, source.onmessage, source.onerror]).toEqual([null, null, null])
    const calls: string[] = []
    const onopen = function (this: EventSource): void {
      calls.push(`open ${String(this === source)}`)
    }
    source.onopen = onopen
    source.onmessage = (event) => calls.push(`message ${event.data}`)
    source.onerror = (event) => {
      calls.push(`error ${event.error.code}`)
      source.close()
    }
    expect(source.onopen).toBe(onopen)
    const log = logSource(source)
    await log.waitFor('error*')
    expect(calls).toEqual(['open true', 'message a', 'error ERR_CLIENT_STREAM_ENDED'])
    source.onmessage = null
    expect(source.onmessage).toBeNull()
  })

  it('[spec] dispatchEvent reaches listeners and handlers', async () => {
    const server = await serve({ '/e': stream('', { end: false }) })
    const source = open(`${server.origin}/e`)
    const got: unknown[] = []
    source.onmessage = (event) => got.push(event.data)
    source.dispatchEvent(new MessageEvent('message', { data: 'synthetic' }))
    expect(got).toEqual(['synthetic'])
  })

  it('[non-spec] decode turns data into values; a failure is reported and the connection stays open', async () => {
    const server = await serve({ '/e': stream('event: task\ndata: {"id":"a"}\n\nevent: task\ndata: {bad\n\nevent: task\ndata: {"id":"b"}\n\n', { end: false }) })
    const source = open<{ task: { id: string } }>(`${server.origin}/e`, { decode: (data): unknown => JSON.parse(data) })
    const ids: string[] = []
    source.addEventListener('task', (event) => {
      expectTypeOf(event.data).toEqualTypeOf<{ id: string }>()
      ids.push(event.data.id)
    })
    const log = logSource(source, ['task'])
    await log.waitFor('task {"id":"b"} #')
    expect(ids).toEqual(['a', 'b'])
    expect(log.lines).toEqual(['open', 'task {"id":"a"} #', 'error ERR_CLIENT_DECODE_FAILED 1', 'task {"id":"b"} #'])
    expect(source.readyState).toBe(EventSource.OPEN)
  })

  it('[non-spec] types listeners and iteration from the event map', () => {
    type Events = { task: { id: string }; note: string }
    const source = new EventSource<Events>('http://127.0.0.1:9/e', { signal: AbortSignal.abort() })
    source.addEventListener('task', (event) => expectTypeOf(event.data).toEqualTypeOf<{ id: string }>())
    source.addEventListener('open', (event) => expectTypeOf(event).toEqualTypeOf<Event>())
    source.addEventListener('error', (event) => expectTypeOf(event).toEqualTypeOf<ClientErrorEvent>())
    source.addEventListener('other', (event) => expectTypeOf(event.data).toEqualTypeOf<unknown>())
    const untyped = new EventSource('http://127.0.0.1:9/e', { signal: AbortSignal.abort() })
    untyped.addEventListener('anything', (event) => expectTypeOf(event.data).toEqualTypeOf<string>())
    expectTypeOf<Parameters<NonNullable<typeof untyped.onmessage>>[0]['data']>().toEqualTypeOf<string>()
    interface AsInterface {
      task: { id: string }
    }
    const fromInterface = new EventSource<AsInterface>('http://127.0.0.1:9/e', { signal: AbortSignal.abort() })
    fromInterface.addEventListener('task', (event) => expectTypeOf(event.data).toEqualTypeOf<{ id: string }>())
    type Yielded = typeof source extends AsyncIterable<infer T> ? T : never
    expectTypeOf<Yielded>().toEqualTypeOf<(MessageEvent<{ id: string }> & { readonly type: 'task' }) | (MessageEvent<string> & { readonly type: 'note' })>()
  })
})
