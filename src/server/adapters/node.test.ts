import { createServer, type ServerResponse } from 'node:http'
import { connect, createServer as createHttp2Server, type ClientHttp2Session, type Http2Server } from 'node:http2'
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createParser, type ParsedEvent } from '../../protocol/index.js'
import { openEventStream } from '../../../test/helpers/event-stream-client.js'
import { waitFor } from '../../../test/helpers/wait-for.js'
import { createKeepAliveScheduler } from '../keep-alive.js'
import type { Session } from '../session.js'
import { sse } from './node.js'
import { runAdapterSuite } from './testing/adapter-suite.js'
import { listen } from './testing/listen.js'

runAdapterSuite('node:http', {
  start: (route) =>
    listen(
      createServer((req, res) => {
        if (req.url?.startsWith('/sse') === true) route.onSession(sse(req, res, route.options))
        else res.writeHead(404).end()
      }),
    ),
})

describe('node adapter', () => {
  const cleanup: (() => Promise<void> | void)[] = []
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step()
  })

  /** A raw TCP connection to the server at `url`, destroyed after the test, and what it received so far. */
  function rawConnection(url: string): { socket: Socket; text: (encoding?: BufferEncoding) => string } {
    const socket = netConnect(Number(new URL(url).port), '127.0.0.1')
    cleanup.push(() => {
      socket.destroy()
    })
    const received: Buffer[] = []
    socket.on('data', (chunk: Buffer) => received.push(chunk))
    return { socket, text: (encoding = 'utf8') => Buffer.concat(received).toString(encoding) }
  }

  it('adds connection: keep-alive on HTTP/1.1 and refuses a response that already started', async () => {
    const errors: unknown[] = []
    const server = await listen(
      createServer((req, res) => {
        if (req.url === '/late') {
          res.write('too late')
          try {
            sse(req, res)
          } catch (error) {
            errors.push(error)
          }
          res.end()
          return
        }
        sse(req, res, { keepAliveMs: null }).close()
      }),
    )
    cleanup.push(() => server.close())
    const response = await fetch(`${server.url}/sse`)
    expect(response.headers.get('connection')).toBe('keep-alive')
    expect(await response.text()).toBe(':\n\n')
    await (await fetch(`${server.url}/late`)).text()
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ code: 'ERR_SERVER_HEADERS_SENT' })
  })

  it('removes its listeners from the response when the client goes', async () => {
    let res: ServerResponse | undefined
    let before: { close: number; drain: number } | undefined
    let session: Session | undefined
    const server = await listen(
      createServer((req, r) => {
        res = r
        // HTTP/1.1 writes go straight to the socket, so the drain listener is the socket's.
        before = { close: r.listenerCount('close'), drain: r.socket!.listenerCount('drain') }
        session = sse(req, r, { keepAliveMs: null })
      }),
    )
    cleanup.push(() => server.close())
    const client = await openEventStream(`${server.url}/sse`)
    await waitFor(() => session !== undefined, 'the session')
    const socket = res!.socket!
    expect(socket.listenerCount('drain')).toBe(before!.drain + 1)
    client.close()
    await waitFor(() => session!.closed, 'the session to close')
    expect(socket.listenerCount('drain')).toBe(before!.drain)
    expect(res!.listenerCount('close')).toBeLessThanOrEqual(before!.close)
  })

  it('frames every write as one HTTP/1.1 chunk on the socket, ends the body, and leaves the connection reusable', async () => {
    const server = await listen(
      createServer((req, res) => {
        if (req.url !== '/sse') {
          res.end('plain')
          return
        }
        const session = sse(req, res, { keepAliveMs: null })
        const shared = new TextEncoder().encode('data: é\n\n')
        session.send({ id: '1', data: 'one' })
        session.sendBytes(shared)
        session.sendBytes(shared)
        session.sendBytes(new Uint8Array(0))
        session.close()
      }),
    )
    cleanup.push(() => server.close())
    const raw = rawConnection(server.url)
    const { socket } = raw
    const text = (): string => raw.text('latin1')
    socket.write('GET /sse HTTP/1.1\r\nHost: localhost\r\n\r\n')
    await waitFor(() => text().endsWith('\r\n0\r\n\r\n'), 'the last chunk')
    const [head, body] = text().split('\r\n\r\n', 2) as [string, string]
    expect(head.toLowerCase()).toContain('transfer-encoding: chunked')
    expect(head.toLowerCase()).toContain('connection: keep-alive')
    // RFC 9112 §7.1: chunk = chunk-size CRLF chunk-data CRLF; last-chunk = 1*("0") CRLF; then the trailer and CRLF.
    // 'id: 1\ndata: one\n\n' is 17 bytes (chunk size 11); 'data: é\n\n' is 10 (é is two in UTF-8): chunk size a.
    const shared = Buffer.from('data: é\n\n').toString('latin1')
    expect(text().slice(head.length + 4)).toBe(`3\r\n:\n\n\r\n11\r\nid: 1\ndata: one\n\n\r\na\r\n${shared}\r\na\r\n${shared}\r\n0\r\n\r\n`)
    expect(body.startsWith('3\r\n')).toBe(true)
    // The body ended where HTTP says it did: the next request on the same connection is answered.
    socket.write('GET /plain HTTP/1.1\r\nHost: localhost\r\n\r\n')
    await waitFor(() => text().endsWith('plain'), 'the second response')
  })

  it('writes through res.write() when a middleware wrapped it, on HTTP/1.0 without chunked encoding, and sends no body to HEAD', async () => {
    const wrapped: string[] = []
    const server = await listen(
      createServer((req, res) => {
        if (req.url === '/wrapped') {
          const write = res.write.bind(res) as (chunk: Uint8Array) => boolean
          res.write = ((chunk: Uint8Array) => {
            wrapped.push(Buffer.from(chunk).toString())
            return write(chunk)
          }) as typeof res.write
        }
        const session = sse(req, res, { keepAliveMs: null })
        session.send({ data: 'hi' })
        session.close()
      }),
    )
    cleanup.push(() => server.close())
    expect(await (await fetch(`${server.url}/wrapped`)).text()).toBe(':\n\ndata: hi\n\n')
    expect(wrapped).toEqual([':\n\n', 'data: hi\n\n'])
    const old = rawConnection(server.url)
    old.socket.write('GET /old HTTP/1.0\r\nHost: localhost\r\n\r\n')
    await new Promise((resolve) => old.socket.once('close', resolve))
    const [head, body] = old.text().split('\r\n\r\n', 2) as [string, string]
    expect(head.toLowerCase()).not.toContain('transfer-encoding')
    // HTTP/1.0 has no chunks: the body is the stream, ended by closing the connection.
    expect(body).toBe(':\n\ndata: hi\n\n')
    // RFC 9110 §9.3.2: a response to HEAD has no content; the next response on the connection starts right after it.
    const head11 = rawConnection(server.url)
    head11.socket.write('HEAD /sse HTTP/1.1\r\nHost: localhost\r\n\r\nGET /sse HTTP/1.1\r\nHost: localhost\r\n\r\n')
    await waitFor(() => head11.text().endsWith('data: hi\n\n\r\n0\r\n\r\n'), 'both responses')
    const responses = head11.text().split('HTTP/1.1 200 OK')
    expect(responses).toHaveLength(3)
    expect(responses[1]?.endsWith('\r\n\r\n')).toBe(true)
  })

  it('serves HTTP/2 without connection-specific headers, and sees the stream reset', async () => {
    const scheduler = createKeepAliveScheduler()
    let session: Session | undefined
    const h2: Http2Server = createHttp2Server((req, res) => {
      session = sse(req, res, { keepAliveScheduler: scheduler, keepAliveMs: 1000 })
      session.send({ event: 'hello', id: '1', data: req.headers['last-event-id'] ?? 'none' })
    })
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve))
    cleanup.push(() => new Promise<void>((resolve) => h2.close(() => resolve())))
    const client: ClientHttp2Session = connect(`http://127.0.0.1:${(h2.address() as AddressInfo).port}`)
    cleanup.push(() => {
      client.close()
    })
    const stream = client.request({ ':path': '/sse', 'last-event-id': '0' })
    const headers = await new Promise<Record<string, unknown>>((resolve) => stream.once('response', resolve))
    expect(headers[':status']).toBe(200)
    expect(headers['content-type']).toBe('text/event-stream; charset=utf-8')
    expect(headers.connection).toBeUndefined()
    const events: ParsedEvent[] = []
    const parser = createParser({ onEvent: (event) => events.push(event) })
    stream.on('data', (chunk: Buffer) => parser.feed(new Uint8Array(chunk)))
    await waitFor(() => events.length === 1, 'the event')
    expect(events[0]).toMatchObject({ type: 'hello', data: '0', lastEventId: '1' })
    expect(session?.lastEventId).toBe('0')
    stream.close()
    await waitFor(() => session?.closed === true, 'the session to close')
    expect(session?.closeReason?.code).toBe('ERR_SERVER_CLIENT_GONE')
    expect(scheduler.size).toBe(0)
  })
})
