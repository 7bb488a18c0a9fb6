import express from 'express'
import { createServer } from 'node:http'
import { describe, expect, it } from 'vitest'
import { sse } from './express.js'
import { runAdapterSuite } from './testing/adapter-suite.js'
import { listen } from './testing/listen.js'

runAdapterSuite('express', {
  start(route) {
    const app = express()
    app.get('/sse', (req, res) => route.onSession(sse(req, res, route.options)))
    return listen(createServer(app))
  },
})

describe('express adapter', () => {
  it('keeps headers set by middleware, the SSE ones winning', async () => {
    const app = express()
    app.use((_req, res, next) => {
      res.setHeader('access-control-allow-origin', 'https://example.com')
      res.setHeader('cache-control', 'public')
      next()
    })
    app.get('/sse', (req, res) => sse(req, res, { keepAliveMs: null }).close())
    const server = await listen(createServer(app))
    try {
      const response = await fetch(`${server.url}/sse`)
      expect(response.headers.get('access-control-allow-origin')).toBe('https://example.com')
      expect(response.headers.get('cache-control')).toBe('no-cache, no-transform')
      expect(await response.text()).toBe(':\n\n')
    } finally {
      await server.close()
    }
  })
})
