import { createAdaptorServer } from '@hono/node-server'
import { Hono } from 'hono'
import type { Server } from 'node:http'
import { describe, expect, it } from 'vitest'
import { sse } from './hono.js'
import { runAdapterSuite } from './testing/adapter-suite.js'
import { listen } from './testing/listen.js'

runAdapterSuite('hono', {
  start(route) {
    const app = new Hono()
    app.get('/sse', (c) => {
      const { session, response } = sse(c, route.options)
      route.onSession(session)
      return response
    })
    return listen(createAdaptorServer({ fetch: app.fetch }) as Server)
  },
})

describe('hono adapter', () => {
  it('keeps headers set with c.header(), the SSE ones winning', async () => {
    const app = new Hono()
    app.get('/sse', (c) => {
      c.header('x-request-id', 'abc')
      c.header('cache-control', 'max-age=60')
      const { session, response } = sse(c, { keepAliveMs: null })
      session.close()
      return response
    })
    const response = await app.request('/sse')
    expect(response.status).toBe(200)
    expect(response.headers.get('x-request-id')).toBe('abc')
    expect(response.headers.get('cache-control')).toBe('no-cache, no-transform')
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(await response.text()).toBe(':\n\n')
  })
})
