import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createHub, type Hub } from '../../hub/index.js'
import { createParser, type ParsedEvent } from '../../protocol/index.js'
import { createDemoRoutes, type DemoConfig } from './demo-routes.js'
import { answer, createTokenStreamer, tokenize, type TokenStreamer } from './token-streamer.js'

const CONFIG: DemoConfig = { mode: 'development', hub: '/.well-known/mercure', publisherToken: 'token', generate: true, workers: 1 }
let hub: Hub | undefined
let server: Server | undefined
let streamer: TokenStreamer | undefined

afterEach(async () => {
  await streamer?.stop()
  await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)))
  await hub?.close({ drainTimeoutMs: 0 })
  hub = server = streamer = undefined
})

async function start(options: { maxGenerations?: number; tokenIntervalMs?: number; production?: boolean } = {}): Promise<string> {
  hub = createHub({ anonymous: true, heartbeatMs: null })
  streamer = createTokenStreamer(hub, { ...options })
  const routes = createDemoRoutes({ config: CONFIG, streamer: options.production === true ? null : streamer })
  const h = hub
  server = createServer((req, res) => {
    void (async () => {
      if (await h.handle(req, res)) return
      if (!(await routes(req, res))) res.writeHead(404).end()
    })()
  })
  await h.listen({ port: 0, server })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const generate = (base: string, body: unknown, type = 'application/json') =>
  fetch(`${base}/demo/generate`, { method: 'POST', headers: { 'content-type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) })

describe('demo routes', () => {
  it('serves the demo config without caching', async () => {
    const base = await start()
    const response = await fetch(`${base}/demo-config.json`)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(await response.json()).toEqual(CONFIG)
    expect((await fetch(`${base}/demo-config.json`, { method: 'POST' })).status).toBe(405)
  })

  it('streams an answer token by token to the topic, then a done event', async () => {
    const base = await start({ tokenIntervalMs: 1 })
    const events: ParsedEvent[] = []
    const controller = new AbortController()
    const stream = await fetch(`${base}/.well-known/mercure?topic=llm/abc`, { signal: controller.signal })
    const parser = createParser({ onEvent: (e) => events.push(e) })
    const reading = (async () => {
      try {
        for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) {
          parser.feed(chunk)
          if (events.some((e) => e.type === 'done')) break
        }
      } catch {
        // aborted
      }
    })()
    const started = await generate(base, { topic: 'llm/abc', prompt: 'why?' })
    expect(started.status).toBe(202)
    await reading
    controller.abort()
    const tokens = tokenize(answer('why?'))
    expect(events[0]).toMatchObject({ type: 'start', data: JSON.stringify({ prompt: 'why?' }) })
    expect(events.filter((e) => e.type === 'token').map((e) => (JSON.parse(e.data) as { text: string }).text)).toEqual(tokens)
    expect(events.at(-1)).toMatchObject({ type: 'done', data: JSON.stringify({ tokens: tokens.length }) })
  })

  it('refuses bad bodies, other topics, other content types, and more answers than allowed at once', async () => {
    const base = await start({ maxGenerations: 1, tokenIntervalMs: 1000 })
    expect((await generate(base, { topic: 'chat', prompt: 'x' })).status).toBe(400)
    expect((await generate(base, { topic: 'llm/a b', prompt: 'x' })).status).toBe(400)
    expect((await generate(base, { topic: 'llm/a', prompt: 'x'.repeat(501) })).status).toBe(400)
    expect((await generate(base, '{not json')).status).toBe(400)
    expect((await generate(base, { topic: 'llm/a', prompt: 'x' }, 'text/plain')).status).toBe(415)
    expect((await generate(base, { topic: 'llm/a', prompt: 'x'.repeat(5000) })).status).toBe(400)
    expect((await generate(base, { topic: 'llm/a', prompt: 'first' })).status).toBe(202)
    const busy = await generate(base, { topic: 'llm/b', prompt: 'second' })
    expect(busy.status).toBe(429)
    expect(busy.headers.get('retry-after')).toBe('1')
    expect(streamer?.running).toBe(1)
  })

  it('answers 404 for generation in production mode', async () => {
    const base = await start({ production: true })
    expect((await generate(base, { topic: 'llm/a', prompt: 'x' })).status).toBe(404)
  })
})

describe('tokenize', () => {
  it('keeps every character, with leading spaces, in pieces of at most 6 characters', () => {
    const text = answer('Tell me about Server-Sent Events')
    const tokens = tokenize(text)
    expect(tokens.join('')).toBe(text)
    expect(tokens.every((t) => t.length <= 6 && t.length > 0)).toBe(true)
    expect(tokens.length).toBeGreaterThan(50)
  })
})
