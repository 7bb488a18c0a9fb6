import { createAdaptorServer } from '@hono/node-server'
import type { Server } from 'node:http'
import { describe, expect, it } from 'vitest'
import { sse } from './fetch.js'
import { runAdapterSuite } from './testing/adapter-suite.js'
import { listen } from './testing/listen.js'

// The fetch adapter behind a real socket: @hono/node-server turns node:http requests into Requests and streams the
// Response body back with backpressure.
runAdapterSuite('fetch', {
  start: (route) =>
    listen(
      createAdaptorServer({
        fetch(request: Request) {
          if (new URL(request.url).pathname !== '/sse') return new Response('not found', { status: 404 })
          const { session, response } = sse(request, route.options)
          route.onSession(session)
          return response
        },
      }) as Server,
    ),
})

describe('fetch adapter', () => {
  it('closes the session when the body is cancelled, and leaves nothing to read after close', async () => {
    const { session, response } = sse(new Request('http://localhost/sse?lastEventId=9'), { keepAliveMs: null })
    expect(session.lastEventId).toBe('9')
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const reader = response.body!.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toBe(':\n\n')
    session.send({ data: 'one' })
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: one\n\n')
    await reader.cancel()
    expect(session.closeReason?.code).toBe('ERR_SERVER_CLIENT_GONE')
    expect(session.send({ data: 'two' })).toBe(false)
  })

  it("closes the session when the request's signal aborts", () => {
    const controller = new AbortController()
    const { session } = sse(new Request('http://localhost/sse', { signal: controller.signal }), { keepAliveMs: null })
    controller.abort()
    expect(session.closeReason?.code).toBe('ERR_SERVER_CLIENT_GONE')
  })

  it('starts closed for a request aborted already, and ends the body on close()', async () => {
    const { session } = sse(new Request('http://localhost/sse', { signal: AbortSignal.abort() }), { keepAliveMs: null })
    expect(session.closed).toBe(true)
    const open = sse(new Request('http://localhost/sse'), { keepAliveMs: null, headers: { 'x-extra': '1' } })
    expect(open.response.headers.get('x-extra')).toBe('1')
    open.session.send({ data: 'last' })
    open.session.close()
    expect(await open.response.text()).toBe(':\n\ndata: last\n\n')
  })

  it('rejects an invalid highWaterMarkBytes', () => {
    expect(() => sse(new Request('http://localhost/'), { highWaterMarkBytes: 0 })).toThrow(expect.objectContaining({ code: 'ERR_SERVER_INVALID_OPTION' }))
  })
})
