import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { heraldSse } from './fastify.js'
import { runAdapterSuite } from './testing/adapter-suite.js'

runAdapterSuite('fastify', {
  async start(route) {
    const app = Fastify()
    await app.register(heraldSse, route.options)
    app.get('/sse', (_request, reply) => {
      route.onSession(reply.sse())
    })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    return {
      url,
      async close() {
        app.server.closeAllConnections()
        await app.close()
      },
    }
  },
})

describe('fastify adapter', () => {
  let app: FastifyInstance | undefined
  afterEach(async () => {
    await app?.close()
    app = undefined
  })

  it('is a fastify-plugin named herald-sse whose decorator every route sees', async () => {
    app = Fastify()
    await app.register(heraldSse)
    expect(app.hasReplyDecorator('sse')).toBe(true)
    expect((heraldSse as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')]).toBe('herald-sse')
    await app.register((child, _options, done) => {
      child.get('/nested', (_request, reply) => {
        reply.header('x-trace', 't1')
        reply.sse({ keepAliveMs: null, retry: 500 }).close()
      })
      done()
    })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    const response = await fetch(`${url}/nested`)
    expect(response.headers.get('x-trace')).toBe('t1')
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(await response.text()).toBe(':\nretry: 500\n\n')
  })
})
