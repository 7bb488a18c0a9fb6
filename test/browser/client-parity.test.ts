// Herald's EventSource, bundled into a page with esbuild, must behave like Chromium's native EventSource on the same
// server: the same events with the same data, type, lastEventId and origin, the same open/error sequence and
// readyStates, and the same Last-Event-ID on each reconnection. Each scenario plays the same scripted responses to
// both clients (each client has its own path, so each sees the responses in the same order). Without Chromium the
// test is skipped with a notice, except in CI, where it fails.
import { existsSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { join } from 'node:path'
import { build } from 'esbuild'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const CHROMIUM = '/usr/bin/chromium'
const available = existsSync(CHROMIUM)
const inCi = process.env.CI === 'true'
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

if (!available && !inCi) console.warn(`[client-parity] skipped: no Chromium at ${CHROMIUM}`)

// Outside CI a missing service skips the tests below; in CI it fails here.
if (!available && inCi) {
  describe('browser parity (required in CI)', () => {
    it('needs Chromium', () => {
      expect.fail(`no Chromium at ${CHROMIUM}`)
    })
  })
}

/** One response of a scenario: written to the socket as is, then the connection ends (or is cut, or stays open). */
interface Reply {
  status?: number
  headers?: Record<string, string>
  /** Body chunks, written one by one. */
  body?: (string | Uint8Array)[]
  /** `'end'` (default) ends the response; `'cut'` destroys the socket; `'open'` leaves it open. */
  then?: 'end' | 'cut' | 'open'
}

const SSE = { 'content-type': 'text/event-stream', 'cache-control': 'no-store' }

/** The scenarios: the n-th request of a client gets the n-th reply (the last one repeats). */
const scenarios: Record<string, { replies: Reply[]; messages: number; types?: string[] }> = {
  'ids, types, comments, retry, and reconnection after the stream ends': {
    messages: 6,
    types: ['update'],
    replies: [
      { headers: SSE, body: [': welcome\n\nretry: 20\nid: 1\ndata: one\n\nevent: update\nid: 2\ndata: two\ndata: lines\n\n'] },
      // No id in this stream: the last event ID carries over from the previous connection.
      { headers: SSE, body: ['data: three\n\nid: 4\n\n'] },
      { headers: SSE, body: ['data: four\n\nid\ndata: five (id cleared)\n\n'] },
      { headers: SSE, body: ['data: six\n\n'], then: 'open' },
    ],
  },
  'a connection cut in the middle of an event': {
    messages: 3,
    replies: [
      { headers: SSE, body: ['retry: 20\nid: a\ndata: first\n\nid: b\ndata: cut before the blank line'], then: 'cut' },
      { headers: SSE, body: ['id: b\ndata: second\n\nid: c\ndata: third\n\n'], then: 'open' },
    ],
  },
  'CRLF and CR line ends, a BOM, and UTF-8': {
    messages: 3,
    replies: [{ headers: SSE, body: [Uint8Array.of(0xef, 0xbb, 0xbf), 'id: é\r\ndata: crlf\r\n\r\ndata: cr\r\rdata: ☃ snow\n\n'], then: 'open' }],
  },
  '204 No Content stops the client': { messages: 0, replies: [{ status: 204 }] },
  '404 fails the connection': { messages: 0, replies: [{ status: 404, headers: { 'content-type': 'text/plain' }, body: ['not found'] }] },
  '500 fails the connection': { messages: 0, replies: [{ status: 500, headers: { 'content-type': 'text/plain' }, body: ['oops'] }] },
  'a wrong content type fails the connection': { messages: 0, replies: [{ headers: { 'content-type': 'text/plain' }, body: ['data: no\n\n'] }] },
  'a redirect is followed; reconnection goes to the original URL': {
    messages: 2,
    replies: [
      { status: 307, headers: { location: '?hop=1' } },
      { headers: SSE, body: ['retry: 20\nid: r1\ndata: after redirect\n\n'] },
      { status: 302, headers: { location: '?hop=2' } },
      { headers: SSE, body: ['data: after reconnection\n\n'], then: 'open' },
    ],
  },
}

describe.runIf(available)('Herald EventSource in Chromium behaves like the native one', () => {
  let server: Server
  let origin: string
  let browser: Browser
  let page: Page
  const sockets = new Set<Socket>()
  const counts = new Map<string, number>()
  const lastEventIds = new Map<string, (string | null)[]>()
  let bundle = ''

  beforeAll(async () => {
    const built = await build({
      entryPoints: [join(import.meta.dirname, '../../src/client/index.ts')],
      bundle: true,
      format: 'iife',
      globalName: 'Herald',
      target: 'chrome100',
      write: false,
    })
    bundle = built.outputFiles[0]?.text ?? ''
    server = createServer(handle)
    server.on('connection', (socket: Socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS })
    page = await browser.newPage()
    await page.goto(`${origin}/`)
  })

  afterAll(async () => {
    await browser.close()
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>parity</title><script src="/herald.js"></script>')
      return
    }
    if (url.pathname === '/herald.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle)
      return
    }
    if (url.pathname === '/post') {
      let body = ''
      req.on('data', (chunk: Buffer) => (body += chunk.toString()))
      req.on('end', () => res.writeHead(200, SSE).end(`data: you said ${body}\n\ndata: [DONE]\n\n`))
      return
    }
    // /s/<scenario index>/<client>
    const [, , index, client] = url.pathname.split('/')
    const scenario = Object.values(scenarios)[Number(index)]
    if (scenario === undefined || client === undefined) {
      res.writeHead(404).end()
      return
    }
    const key = `${index}/${client}`
    const n = counts.get(key) ?? 0
    counts.set(key, n + 1)
    const header = req.headers['last-event-id']
    lastEventIds.set(key, [...(lastEventIds.get(key) ?? []), header === undefined ? null : Buffer.from(header as string, 'latin1').toString('utf8')])
    const reply = scenario.replies[Math.min(n, scenario.replies.length - 1)] as Reply
    res.writeHead(reply.status ?? 200, reply.headers ?? {})
    res.flushHeaders()
    for (const chunk of reply.body ?? []) res.write(chunk)
    if (reply.then === 'cut') setTimeout(() => res.socket?.destroy(), 30)
    else if (reply.then !== 'open') res.end()
  }

  /** Runs a scenario in the page with one client; returns its log. */
  async function run(index: number, client: 'native' | 'herald', messages: number, types: string[]): Promise<string[]> {
    return page.evaluate(
      ({ url, client, messages, types }) =>
        new Promise<string[]>((resolve) => {
          const Ctor = client === 'native' ? window.EventSource : (window as unknown as { Herald: { EventSource: typeof EventSource } }).Herald.EventSource
          const log: string[] = []
          const source = new Ctor(url)
          let received = 0
          const finish = (): void => {
            source.close()
            resolve(log)
          }
          const timer = setTimeout(() => {
            log.push('timeout')
            finish()
          }, 5000)
          source.onopen = () => log.push(`open ${source.readyState}`)
          source.onerror = () => {
            log.push(`error ${source.readyState}`)
            if (source.readyState === EventSource.CLOSED) {
              clearTimeout(timer)
              finish()
            }
          }
          for (const type of ['message', ...types]) {
            source.addEventListener(type, (event) => {
              const e = event as MessageEvent<string>
              log.push(`${e.type} ${JSON.stringify(e.data)} #${e.lastEventId} ${e.origin} ${String(e instanceof MessageEvent)} ${String(e.target === source)}`)
              if (++received === messages) {
                clearTimeout(timer)
                finish()
              }
            })
          }
        }),
      { url: `${origin}/s/${index}/${client}`, client, messages, types },
    )
  }

  Object.entries(scenarios).forEach(([name, scenario], index) => {
    it(`[spec] ${name}`, async () => {
      const native = await run(index, 'native', scenario.messages, scenario.types ?? [])
      const herald = await run(index, 'herald', scenario.messages, scenario.types ?? [])
      expect(native).not.toContain('timeout')
      expect(herald).toEqual(native)
      expect(lastEventIds.get(`${index}/herald`)).toEqual(lastEventIds.get(`${index}/native`))
    })
  })

  it('[non-spec] fetchEventStream and async iteration run in the browser too', async () => {
    const result = await page.evaluate(async (url) => {
      const { fetchEventStream, EventSource: HeraldEventSource } = (window as unknown as { Herald: typeof import('../../src/client/index.js') }).Herald
      const said: string[] = []
      for await (const event of fetchEventStream(`${url}/post`, { method: 'POST', body: 'hello' })) {
        if (event.data === '[DONE]') break
        said.push(event.data)
      }
      const iterated: string[] = []
      const source = new HeraldEventSource(`${url}/s/2/iterated`)
      for await (const event of source) {
        iterated.push(event.data)
        if (iterated.length === 3) break
      }
      return { said, iterated, closed: source.readyState }
    }, origin)
    expect(result).toEqual({ said: ['you said hello'], iterated: ['crlf', 'cr', '☃ snow'], closed: 2 })
  })
})
