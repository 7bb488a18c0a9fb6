import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../../../test/helpers/wait-for.js'
import type { Session } from '../session.js'
import { sse, type NodeSseOptions } from './node.js'
import { runAdapterSuite } from './testing/adapter-suite.js'
import { listen } from './testing/listen.js'

runAdapterSuite('node:http, detached', {
  start: (route) =>
    listen(
      createServer((req, res) => {
        if (req.url?.startsWith('/sse') === true) route.onSession(sse(req, res, { ...route.options, detach: true }))
        else res.writeHead(404).end()
      }),
    ),
})

/** A full garbage collection (the flag is set for this process, then `gc` is taken from a fresh context). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc')
  ;(runInNewContext('gc') as () => void)()
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('node adapter: detach', () => {
  const cleanup: (() => Promise<void> | void)[] = []
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step()
  })

  interface Opened {
    readonly session: Session
    /** Weak references, so that the test itself keeps neither alive. */
    readonly req: WeakRef<IncomingMessage>
    readonly res: WeakRef<ServerResponse>
  }

  /** A server whose requests to `/sse` open detached sessions; requests whose body is still arriving included. */
  async function start(options: NodeSseOptions = {}) {
    const opened: Opened[] = []
    const server = createServer((req, res) => {
      opened.push({ session: sse(req, res, { keepAliveMs: null, ...options, detach: true }), req: new WeakRef(req), res: new WeakRef(res) })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        }),
    )
    return { server, port, opened }
  }

  /** A raw client: what it received, and whether the server ended the connection. */
  function client(port: number, request: string) {
    const socket: Socket = connect(port, '127.0.0.1', () => socket.write(request))
    cleanup.push(() => {
      socket.destroy()
    })
    const received: Buffer[] = []
    let ended = false
    socket.on('data', (chunk: Buffer) => received.push(chunk))
    socket.on('end', () => (ended = true))
    return { socket, text: () => Buffer.concat(received).toString('latin1'), ended: () => ended }
  }

  const GET = 'GET /sse HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n'

  it('hands the socket over: the response lets go of it, Node no longer tracks it, and the request and response are collected', async () => {
    const { server, port, opened } = await start()
    const raw = client(port, GET)
    await waitFor(() => raw.text().includes('\r\n\r\n'), 'the response head')
    await nextTurn()
    const stream = opened[0] as Opened
    expect(stream.res.deref()?.socket ?? null).toBeNull()
    // closeAllConnections() closes the connections of Node's http server: this one is not one any more.
    server.closeAllConnections()
    stream.session.send({ data: 'still here' })
    await waitFor(() => raw.text().includes('data: still here\n\n'), 'the event after closeAllConnections()')
    collectGarbage()
    expect(stream.req.deref()).toBeUndefined()
    expect(stream.res.deref()).toBeUndefined()
    expect(stream.session.request.headers.get('accept')).toBe('text/event-stream')
    expect(stream.session.request.url.pathname).toBe('/sse')
  })

  it('ends the chunked body with the last chunk and closes the connection when the session closes', async () => {
    const { port, opened } = await start()
    const raw = client(port, GET)
    await waitFor(() => opened.length === 1, 'the session')
    await nextTurn()
    const session = (opened[0] as Opened).session
    session.send({ id: '1', data: 'one' })
    session.close()
    await waitFor(() => raw.ended(), 'the end of the connection')
    const text = raw.text()
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(text).toContain('transfer-encoding: chunked\r\n')
    // RFC 9112 §7.1: "The chunked transfer coding is complete when a chunk with a chunk-size of zero is received".
    expect(text.endsWith('\r\n0\r\n\r\n')).toBe(true)
    expect(text).toContain('id: 1\ndata: one\n\n')
  })

  it('closes the session when the client leaves, or half-closes, and drops what the client sends after its request', async () => {
    const { port, opened } = await start()
    const leaving = client(port, GET)
    await waitFor(() => opened.length === 1, 'the first session')
    const halfClosing = client(port, GET)
    await waitFor(() => opened.length === 2, 'the second session')
    await nextTurn()
    const [first, second] = (opened as [Opened, Opened]).map((stream) => stream.session) as [Session, Session]
    // Bytes after the request (a pipelined request the stream will never answer) are read and dropped.
    halfClosing.socket.write('GET /other HTTP/1.1\r\nHost: x\r\n\r\n')
    await new Promise((resolve) => setTimeout(resolve, 50))
    second.send({ data: 'after the extra bytes' })
    await waitFor(() => halfClosing.text().includes('data: after the extra bytes'), 'the event after the extra bytes')
    expect(halfClosing.text()).not.toContain('HTTP/1.1 404')
    leaving.socket.destroy()
    await waitFor(() => first.closed, 'the session of the client that left')
    expect(first.closeReason?.code).toBe('ERR_SERVER_CLIENT_GONE')
    expect(second.closed).toBe(false)
    halfClosing.socket.end()
    await waitFor(() => second.closed, 'the session of the client that half-closed')
    expect(second.closeReason?.code).toBe('ERR_SERVER_CLIENT_GONE')
  })

  it('stays with Node while the request body is still arriving', async () => {
    const { server, port, opened } = await start()
    const raw = client(port, 'POST /sse HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf')
    await waitFor(() => raw.text().includes('\r\n\r\n'), 'the response head')
    await nextTurn()
    const stream = opened[0] as Opened
    expect(stream.res.deref()?.socket).not.toBeNull()
    server.closeAllConnections()
    await waitFor(() => stream.session.closed, 'the session, closed with its connection')
  })
})
