// Tests of fetchEventStream against a scripted node:http server that plays exact responses. `[spec]` tests check a
// sentence of the WHATWG HTML standard's "9.2 Server-sent events", quoted above the test; `[non-spec]` tests check
// Herald's extensions (one-shot streams, retries, resumption).
import { afterEach, describe, expect, it } from 'vitest'
import { ClientError, fetchEventStream, type FetchLike, type ParsedEvent } from './index.js'
import { cut, hang, redirect, stall, startScriptedServer, status, stream, type ScriptedServer } from './testing/scripted-server.js'
import { sleep } from './testing/source-log.js'

const servers: ScriptedServer[] = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function serve(routes: Parameters<typeof startScriptedServer>[0]): Promise<ScriptedServer> {
  const server = await startScriptedServer(routes)
  servers.push(server)
  return server
}

async function collect(events: AsyncIterable<ParsedEvent>): Promise<string[]> {
  const out: string[] = []
  for await (const event of events) out.push(`${event.type} ${event.data} #${event.lastEventId}${event.id === undefined ? '' : ` id=${event.id}`}`)
  return out
}

/** Runs the loop and returns what it yielded and the error it threw. */
async function collectUntilError(events: AsyncIterable<ParsedEvent>): Promise<{ lines: string[]; error: ClientError }> {
  const lines: string[] = []
  try {
    for await (const event of events) lines.push(`${event.data} #${event.lastEventId}`)
  } catch (error) {
    expect(error).toBeInstanceOf(ClientError)
    return { lines, error: error as ClientError }
  }
  throw new Error(`the loop ended without an error after ${JSON.stringify(lines)}`)
}

describe('one-shot streams', () => {
  it('[non-spec] sends a POST with its body and headers, yields parsed events and ends with the stream', async () => {
    const server = await serve({ '/chat': stream(['id: 1\ndata: Hel', 'lo\n\nevent: usage\ndata: {"tokens":2}\n\n', 'data: [DONE]\n\n']) })
    const events = fetchEventStream(`${server.origin}/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
      body: '{"prompt":"hi"}',
    })
    expect(await collect(events)).toEqual(['message Hello #1 id=1', 'usage {"tokens":2} #1', 'message [DONE] #1'])
    const [request] = server.requestsTo('/chat')
    expect(request?.method).toBe('POST')
    expect(request?.body).toBe('{"prompt":"hi"}')
    expect(request?.headers.authorization).toBe('Bearer k')
    expect(request?.headers.accept).toBe('text/event-stream')
    expect(request?.headers['cache-control']).toBe('no-store')
  })

  it('[non-spec] sends nothing until the iteration starts', async () => {
    const server = await serve({ '/e': stream('data: a\n\n') })
    const events = fetchEventStream(`${server.origin}/e`)
    await sleep(30)
    expect(server.requests).toHaveLength(0)
    expect(await collect(events)).toEqual(['message a #'])
  })

  // 9.2.6: "If the file ends in the middle of an event, before the final empty line, the incomplete event is not
  // dispatched."
  it('[spec] drops an event left incomplete by the end of the stream', async () => {
    const server = await serve({ '/e': stream('data: a\n\ndata: incomplete') })
    expect(await collect(fetchEventStream(`${server.origin}/e`))).toEqual(['message a #'])
  })

  it('[non-spec] follows redirects', async () => {
    const server = await serve({ '/e': redirect(307, '/final'), '/final': stream('data: moved\n\n') })
    expect(await collect(fetchEventStream(`${server.origin}/e`, { method: 'POST', body: 'x' }))).toEqual(['message moved #'])
    expect(server.requestsTo('/final')[0]?.body).toBe('x')
  })

  it('[non-spec] sends an initial lastEventId, which events without an id carry', async () => {
    const server = await serve({ '/e': stream('data: a\n\n') })
    expect(await collect(fetchEventStream(`${server.origin}/e`, { lastEventId: '5' }))).toEqual(['message a #5'])
    expect(server.requestsTo('/e')[0]?.headers['last-event-id']).toBe('5')
  })

  it('[non-spec] breaking out of the loop aborts the request', async () => {
    const server = await serve({ '/e': stream('data: 1\n\ndata: 2\n\n', { end: false }) })
    for await (const event of fetchEventStream(`${server.origin}/e`)) {
      expect(event.data).toBe('1')
      break
    }
    await server.responseClosed('/e', 0)
  })

  it('[non-spec] an error thrown in the loop aborts the request', async () => {
    const server = await serve({ '/e': stream('data: 1\n\n', { end: false }) })
    const run = async (): Promise<void> => {
      for await (const event of fetchEventStream(`${server.origin}/e`)) throw new Error(`stop at ${event.data}`)
    }
    await expect(run()).rejects.toThrow('stop at 1')
    await server.responseClosed('/e', 0)
  })

  it('[non-spec] calls onResponse with each response before checking it', async () => {
    const server = await serve({ '/e': stream('data: a\n\n', { headers: { 'x-ratelimit-remaining': '9' } }) })
    const seen: string[] = []
    const events = fetchEventStream(`${server.origin}/e`, { onResponse: (response) => void seen.push(response.headers.get('x-ratelimit-remaining') ?? '') })
    await collect(events)
    expect(seen).toEqual(['9'])
  })

  it('[non-spec] sends a stream body once', async () => {
    const server = await serve({ '/e': stream('data: ok\n\n') })
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('streamed'))
        controller.close()
      },
    })
    expect(await collect(fetchEventStream(`${server.origin}/e`, { method: 'POST', body }))).toEqual(['message ok #'])
    expect(server.requestsTo('/e')[0]?.body).toBe('streamed')
  })
})

describe('errors carry the status and the body', () => {
  it('[non-spec] a 4xx throws ERR_CLIENT_HTTP_STATUS with status and body', async () => {
    const server = await serve({ '/e': status(400, { headers: { 'content-type': 'application/json' }, body: '{"error":"bad prompt"}' }) })
    const { error } = await collectUntilError(fetchEventStream(`${server.origin}/e`, { method: 'POST', body: '{}' }))
    expect(error.code).toBe('ERR_CLIENT_HTTP_STATUS')
    expect(error.status).toBe(400)
    expect(error.body).toBe('{"error":"bad prompt"}')
  })

  it('[non-spec] keeps at most maxErrorBodyBytes of the body', async () => {
    const server = await serve({ '/e': status(500, { body: 'é'.repeat(10_000) }) })
    const { error } = await collectUntilError(fetchEventStream(`${server.origin}/e`, { maxErrorBodyBytes: 101 }))
    expect(error.status).toBe(500)
    // 50 two-byte characters, and the cut one as U+FFFD.
    expect(error.body).toBe(`${'é'.repeat(50)}\uFFFD`)
  })

  it('[spec] a 200 that is not text/event-stream throws ERR_CLIENT_CONTENT_TYPE with the body', async () => {
    const server = await serve({ '/e': stream('{"not":"a stream"}', { contentType: 'application/json' }) })
    const { error } = await collectUntilError(fetchEventStream(`${server.origin}/e`))
    expect(error.code).toBe('ERR_CLIENT_CONTENT_TYPE')
    expect(error.status).toBe(200)
    expect(error.body).toBe('{"not":"a stream"}')
  })

  it('[non-spec] a network error throws ERR_CLIENT_NETWORK with the cause', async () => {
    const { error } = await collectUntilError(fetchEventStream('http://127.0.0.1:9/e'))
    expect(error.code).toBe('ERR_CLIENT_NETWORK')
    expect(error.cause).toBeInstanceOf(Error)
  })

  it('[non-spec] an event past maxBufferBytes throws ERR_CLIENT_BUFFER_OVERFLOW', async () => {
    const server = await serve({ '/e': stream(`data: small\n\ndata: ${'x'.repeat(4000)}\n\n`) })
    const { lines, error } = await collectUntilError(fetchEventStream(`${server.origin}/e`, { maxBufferBytes: 1000 }))
    expect(lines).toEqual(['small #'])
    expect(error.code).toBe('ERR_CLIENT_BUFFER_OVERFLOW')
  })

  it('[non-spec] a stream of garbage ends the loop without events, never hangs', async () => {
    const garbage = Uint8Array.from({ length: 8192 }, (_, i) => (i * 131) % 256)
    const server = await serve({ '/e': stream([garbage]) })
    const result = await collect(fetchEventStream(`${server.origin}/e`)).catch((error: unknown) => (error as ClientError).code)
    expect(Array.isArray(result) ? result.filter((l) => !l.startsWith('message')) : result).toEqual([])
  })

  it('[non-spec] a server that sends headers and then nothing throws ERR_CLIENT_STALLED', async () => {
    const server = await serve({ '/e': stall('data: a\n\n') })
    const { lines, error } = await collectUntilError(fetchEventStream(`${server.origin}/e`, { stallTimeoutMs: 80 }))
    expect(lines).toEqual(['a #'])
    expect(error.code).toBe('ERR_CLIENT_STALLED')
  })

  it('[non-spec] a server that never answers throws ERR_CLIENT_STALLED', async () => {
    const server = await serve({ '/e': hang() })
    const { error } = await collectUntilError(fetchEventStream(`${server.origin}/e`, { stallTimeoutMs: 80 }))
    expect(error.code).toBe('ERR_CLIENT_STALLED')
  })

  it('[non-spec] the signal aborts the stream with ERR_CLIENT_ABORTED', async () => {
    const server = await serve({ '/e': stream('data: a\n\n', { end: false }) })
    const controller = new AbortController()
    const lines: string[] = []
    const run = async (): Promise<void> => {
      for await (const event of fetchEventStream(`${server.origin}/e`, { signal: controller.signal })) {
        lines.push(event.data)
        controller.abort(new Error('user cancelled'))
      }
    }
    await expect(run()).rejects.toMatchObject({ code: 'ERR_CLIENT_ABORTED', cause: new Error('user cancelled') })
    expect(lines).toEqual(['a'])
    await server.responseClosed('/e', 0)
  })

  it('[non-spec] the signal also cuts a backoff wait short', async () => {
    const server = await serve({ '/e': status(503) })
    const controller = new AbortController()
    const events = fetchEventStream(`${server.origin}/e`, { signal: controller.signal, retryOn: { status: true }, backoff: { initialMs: 60_000 } })
    setTimeout(() => controller.abort(), 50)
    const { error } = await collectUntilError(events)
    expect(error.code).toBe('ERR_CLIENT_ABORTED')
    expect(server.requestsTo('/e')).toHaveLength(1)
  })
})

describe('never sending a request twice unless allowed', () => {
  it('[non-spec] a POST cut in the middle is not sent again by default', async () => {
    const server = await serve({ '/e': cut('id: 1\ndata: a\n\ndata: par') })
    const { lines, error } = await collectUntilError(fetchEventStream(`${server.origin}/e`, { method: 'POST', body: 'once' }))
    expect(lines).toEqual(['a #1'])
    expect(error.code).toBe('ERR_CLIENT_NETWORK')
    await sleep(30)
    expect(server.requestsTo('/e')).toHaveLength(1)
  })

  it('[non-spec] a GET is not resumed by default either', async () => {
    const server = await serve({ '/e': cut('id: 1\ndata: a\n\n') })
    const { error } = await collectUntilError(fetchEventStream(`${server.origin}/e`))
    expect(error.code).toBe('ERR_CLIENT_NETWORK')
    expect(server.requestsTo('/e')).toHaveLength(1)
  })

  it('[non-spec] resume: true resumes a cut stream with Last-Event-ID, losing and repeating nothing', async () => {
    const server = await serve({
      '/e': [cut('retry: 10\nid: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c-cut-'), stream('id: 3\ndata: c\n\nid: 4\ndata: d\n\n')],
    })
    const events = fetchEventStream(`${server.origin}/e`, { method: 'POST', body: 'prompt', resume: true })
    expect(await collect(events)).toEqual(['message a #1 id=1', 'message b #2 id=2', 'message c #3 id=3', 'message d #4 id=4'])
    const requests = server.requestsTo('/e')
    expect(requests.map((r) => r.headers['last-event-id'])).toEqual([undefined, '2'])
    expect(requests.map((r) => r.body)).toEqual(['prompt', 'prompt'])
  })

  it('[non-spec] resumes a stalled stream too', async () => {
    const server = await serve({ '/e': [stall('retry: 10\nid: 1\ndata: a\n\n'), stream('id: 2\ndata: b\n\n')] })
    const events = fetchEventStream(`${server.origin}/e`, { resume: true, stallTimeoutMs: 80 })
    expect(await collect(events)).toEqual(['message a #1 id=1', 'message b #2 id=2'])
    expect(server.requestsTo('/e')[1]?.headers['last-event-id']).toBe('1')
  })

  it('[non-spec] does not resume a stream that set no id: it would start over', async () => {
    const server = await serve({ '/e': cut('data: a\n\n') })
    const { error } = await collectUntilError(fetchEventStream(`${server.origin}/e`, { resume: true }))
    expect(error.code).toBe('ERR_CLIENT_NETWORK')
    expect(error.message).toContain('no event id')
    expect(server.requestsTo('/e')).toHaveLength(1)
  })

  it('[non-spec] gives up resuming after backoff.maxAttempts failures in a row', async () => {
    const server = await serve({ '/e': [cut('retry: 5\nid: 1\ndata: a\n\n'), status(502)] })
    const events = fetchEventStream(`${server.origin}/e`, { resume: true, retryOn: { status: true }, backoff: { maxAttempts: 2 } })
    const { lines, error } = await collectUntilError(events)
    expect(lines).toEqual(['a #1'])
    expect(error.code).toBe('ERR_CLIENT_RETRIES_EXHAUSTED')
    expect(error.status).toBe(502)
    expect(server.requestsTo('/e')).toHaveLength(3)
  })

  it('[non-spec] does not retry a 503 by default', async () => {
    const server = await serve({ '/e': status(503, { body: 'busy' }) })
    const { error } = await collectUntilError(fetchEventStream(`${server.origin}/e`, { method: 'POST', body: 'x' }))
    expect([error.code, error.status, error.body]).toEqual(['ERR_CLIENT_HTTP_STATUS', 503, 'busy'])
    expect(server.requestsTo('/e')).toHaveLength(1)
  })

  it('[non-spec] retryOn.status retries 429 and 503, honouring Retry-After', async () => {
    const times: number[] = []
    const timed =
      (play: ReturnType<typeof status>): ReturnType<typeof status> =>
      (r, res, s) => {
        times.push(performance.now())
        return play(r, res, s)
      }
    const server = await serve({
      '/e': [timed(status(429, { headers: { 'retry-after': '1' } })), timed(status(503)), timed(stream('data: ok\n\n'))],
    })
    const events = fetchEventStream(`${server.origin}/e`, { method: 'POST', body: 'x', retryOn: { status: [429, 503] }, backoff: { initialMs: 10 } })
    expect(await collect(events)).toEqual(['message ok #'])
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(950)
  })

  it('[non-spec] never retries a 4xx other than 429', async () => {
    const server = await serve({ '/e': status(401) })
    const { error } = await collectUntilError(fetchEventStream(`${server.origin}/e`, { retryOn: { status: true, network: true } }))
    expect(error.status).toBe(401)
    expect(server.requestsTo('/e')).toHaveLength(1)
  })

  it('[non-spec] gives up retrying after backoff.maxAttempts, with the last status and body', async () => {
    const server = await serve({ '/e': status(500, { body: 'down' }) })
    const events = fetchEventStream(`${server.origin}/e`, { retryOn: { status: true }, backoff: { initialMs: 5, maxAttempts: 2 } })
    const { error } = await collectUntilError(events)
    expect([error.code, error.status, error.body]).toEqual(['ERR_CLIENT_RETRIES_EXHAUSTED', 500, 'down'])
    expect(server.requestsTo('/e')).toHaveLength(3)
  })

  it('[non-spec] retryOn.network retries a request that could not be sent', async () => {
    const server = await serve({ '/e': stream('data: ok\n\n') })
    let calls = 0
    const flaky: FetchLike = (url, init) => (++calls === 1 ? Promise.reject(new TypeError('fetch failed')) : fetch(url, init))
    const events = fetchEventStream(`${server.origin}/e`, { fetch: flaky, retryOn: { network: true }, backoff: { initialMs: 5 } })
    expect(await collect(events)).toEqual(['message ok #'])
    expect(calls).toBe(2)
  })

  it('[non-spec] rejects options that would send a stream body twice, and other bad options, at once', () => {
    const body = new ReadableStream()
    const url = 'http://127.0.0.1:9/e'
    const bad: unknown[] = [
      { method: 'POST', body, resume: true },
      { method: 'POST', body, retryOn: { network: true } },
      { method: 'POST', body, retryOn: { status: [503] } },
      { resume: 'yes' },
      { maxErrorBodyBytes: -1 },
      { onResponse: 1 },
      { signal: 'stop' },
      { body: 'x' },
    ]
    for (const init of bad) {
      expect(() => fetchEventStream(url, init as never), JSON.stringify(init)).toThrow(expect.objectContaining({ code: 'ERR_CLIENT_INVALID_OPTION' }))
    }
    expect(() => fetchEventStream('not a url')).toThrow(expect.objectContaining({ code: 'ERR_CLIENT_INVALID_URL' }))
  })
})
