import { OutgoingMessage, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import type { Socket } from 'node:net'
import { ServerError } from '../errors.js'
import { createResponseHeaders } from '../response-headers.js'
import { createSession, type Session, type SessionOptions } from '../session.js'
import { createSseRequest, type Sink, type SseRequest, type SseRequestOptions } from '../sink.js'
import type { EventMap } from '../sse-event.js'
import { frameChunk } from './chunk-frame.js'
import { detachHttpSocket } from './detach-http-socket.js'

/** Options of the node adapter's {@link sse}: the session's, the request's, and extra response headers. */
export interface NodeSseOptions extends SessionOptions, SseRequestOptions {
  /** Extra response headers (for example CORS). The SSE headers win over these. */
  headers?: Record<string, string>
  /**
   * Whether to set `TCP_NODELAY` on the HTTP/1.1 socket, as Node's http server does: every write leaves at once in its
   * own segment. `false` turns Nagle's algorithm on for the stream: a small event written while the previous one is
   * still unacknowledged waits in the kernel for the acknowledgement and then leaves together with everything written
   * meanwhile. Under burst fan-out that merges events into few segments and cuts the CPU per delivery by half or more
   * (the server fan-out benchmark, scenario S); the price is latency: up to one round trip for the later events of a
   * burst, and up to a client's delayed-acknowledgement time (tens to 200 ms on some systems) when it holds its
   * acknowledgements back. At a steady rate with events further apart than a round trip it changes nothing.
   * @defaultValue `true`
   */
  noDelay?: boolean
  /**
   * Whether to take the connection away from Node's http server once the stream is open (HTTP/1.1 with the direct
   * write path only, see {@link sse}): the server's listeners come off the socket, and Node's parser, the request and
   * the response are released, the way Node itself hands over a socket on `upgrade`. An idle stream then costs about
   * half the memory: 5.7 KB instead of 11–12 KB per connection here (a bare `net` socket costs 3.6 KB).
   *
   * The session owns the socket from then on:
   * - `res` emits no more events, and `server.closeAllConnections()` no longer sees the connection (close the
   *   sessions, or destroy their sockets, when shutting down);
   * - bytes the client sends after its request are dropped, and a client that half-closes its side counts as gone;
   * - when the session closes, the last chunk is written and the connection is closed, not kept alive for another
   *   request.
   *
   * It happens on the next turn of the event loop, after Node's parser has returned, and only when the request has
   * been read to its end (a `GET`) and the connection looks as Node's server leaves it; otherwise the stream simply
   * stays on the usual path.
   * @defaultValue `false`
   */
  detach?: boolean
}

/** An http response or an http2 compatibility response. */
type NodeResponse = ServerResponse | Http2ServerResponse

/**
 * Turns a `node:http` or `node:http2` request into an SSE session: writes the headers and flushes them at once,
 * turns off Nagle's algorithm (HTTP/1.1, unless `noDelay: false`), writes each chunk and waits for `'drain'`, and aborts the session when the
 * response closes. Throws `ERR_SERVER_HEADERS_SENT` if the response already started.
 *
 * On HTTP/1.1 the body is chunked (`transfer-encoding: chunked`, as Node would choose) and each write goes to the
 * socket as one pre-framed chunk, one `socket.write()` instead of `res.write()`'s three-part chunked write; the
 * response's own `end()` still writes the last chunk. When the response's `write` was replaced (a middleware that
 * wraps it) or the response does not own its socket yet, it writes with `res.write()` instead. HTTP/2, HTTP/1.0 and
 * `HEAD` responses (which have no body: Node drops what is written) always use `res.write()`.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * import { createChannel } from 'herald-sse/server'
 * import { sse } from 'herald-sse/server/node'
 * const channel = createChannel()
 * createServer((req, res) => channel.add(sse(req, res))).listen(3000)
 * ```
 */
export function sse<Events extends object = EventMap>(
  req: IncomingMessage | Http2ServerRequest,
  res: NodeResponse,
  options: NodeSseOptions = {},
): Session<Events> {
  if (res.headersSent) throw new ServerError('ERR_SERVER_HEADERS_SENT', 'the response headers were already sent')
  const http2 = req.httpVersionMajor >= 2
  const http11 = req.httpVersionMajor === 1 && req.httpVersionMinor >= 1
  const headers = createResponseHeaders(options.headers)
  // RFC 9113 §8.2.2: connection-specific header fields are malformed in HTTP/2.
  if (!http2) headers.set('connection', 'keep-alive')
  // What Node picks for a body of unknown length on HTTP/1.1, said explicitly so that the framing is known here.
  if (http11) headers.set('transfer-encoding', 'chunked')
  res.writeHead(200, Object.fromEntries(headers))
  const stream = res as ServerResponse
  if (!http2) {
    // HTTP/2 sends the headers in writeHead; HTTP/1.1 holds them until the first write unless flushed.
    stream.flushHeaders()
    // Events are small and latency matters: no Nagle delay unless asked for (see `noDelay`, and the `-nagle` systems of
    // `npm run bench:hub`, where most of a delivery is the kernel's TCP send path that Nagle's algorithm merges).
    stream.socket?.setNoDelay(options.noDelay ?? true)
  }
  // Writing straight to the socket is safe when the headers went out to it already (nothing waits in the response)
  // and nobody wraps `res.write`. Why: the server fan-out benchmark (`npm run bench:hub -- --systems
  // herald-server,naive --scenarios S,A`) spent its JavaScript time in `res.write()`'s chunked path, which corks the
  // socket and writes size, bytes and CRLF as three buffers; one pre-framed buffer per write took a delivery from
  // 8.5 to 5.5 µs in S.
  const socket = stream.socket
  const direct =
    http11 &&
    req.method !== 'HEAD' &&
    socket !== null &&
    stream.write === OutgoingMessage.prototype.write &&
    stream.writableLength === socket.writableLength
      ? socket
      : null

  const sink = new NodeSink(stream, direct)
  if (options.detach === true && direct !== null) setImmediate(() => sink.detach(req as IncomingMessage))
  return createSession<Events>(sink, new NodeSseRequest(req, http2, options), options)
}

/**
 * The sink of a node session: writes to the socket (`direct`) or with `res.write()`, and tells the session when the
 * response closes. A class, so that a connection costs no closures but the close listener; its `AbortSignal` is only
 * made when read (sessions use {@link NodeSink.onAbort}): one costs about 0.7 KB, and the hub benchmark's scenario C
 * (`npm run bench:hub -- --systems herald-hub --scenarios C`) measures memory per idle connection.
 */
class NodeSink implements Sink {
  #controller: AbortController | undefined
  #gone = false
  #closed = false
  #abortListener: (() => void) | undefined
  /** The response, until {@link NodeSink.detach} let go of it. */
  #stream: ServerResponse | null
  readonly #direct: Socket | null
  #drainListener: (() => void) | undefined
  readonly #onClose = (): void => {
    if (this.#gone) return
    this.#gone = true
    this.#controller?.abort()
    this.#abortListener?.()
  }

  constructor(stream: ServerResponse, direct: Socket | null) {
    this.#stream = stream
    this.#direct = direct
    stream.on('close', this.#onClose)
    // A response already closed (the client left before we got here) emits 'close' no more.
    if (stream.destroyed || stream.closed) this.#gone = true
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#gone) this.#controller.abort()
    }
    return this.#controller.signal
  }

  onAbort(listener: () => void): void {
    this.#abortListener = listener
    if (this.#gone) listener()
  }

  write(chunk: Uint8Array): boolean {
    if (this.#direct === null) return (this.#stream as ServerResponse).write(chunk)
    // An empty chunk would end a chunked body: there is nothing to write.
    return chunk.byteLength === 0 || this.#direct.write(frameChunk(chunk))
  }

  onDrain(listener: () => void): void {
    this.#drainListener = listener
    ;(this.#direct ?? (this.#stream as ServerResponse)).on('drain', listener)
  }

  /** Takes the socket away from Node's http server (see `NodeSseOptions.detach`), unless the stream ended already. */
  detach(req: IncomingMessage): void {
    const socket = this.#direct
    const stream = this.#stream
    if (this.#closed || this.#gone || socket === null || stream === null || !detachHttpSocket(req, stream, socket)) return
    stream.off('close', this.#onClose)
    this.#stream = null
    socket.on('close', this.#onClose)
    socket.on('error', ignoreError)
    socket.on('end', destroySocket)
    // Reads reach JavaScript now: keep them flowing, so that the client's end is seen; its bytes are dropped.
    socket.resume()
  }

  close(): void {
    this.#closed = true
    this.#abortListener = undefined
    const stream = this.#stream
    if (stream === null) {
      const socket = this.#direct as Socket
      socket.off('close', this.#onClose)
      if (this.#drainListener !== undefined) socket.off('drain', this.#drainListener)
      // RFC 9112 §7.1: the last chunk, then no trailers. The connection is not Node's to reuse any more.
      if (!socket.destroyed) socket.end(LAST_CHUNK, () => socket.destroy())
      return
    }
    stream.off('close', this.#onClose)
    if (this.#drainListener !== undefined) (this.#direct ?? stream).off('drain', this.#drainListener)
    if (!stream.writableEnded) stream.end()
  }
}

/** The end of a chunked body: a chunk of size 0 and an empty trailer section. */
const LAST_CHUNK = '0\r\n\r\n'

/** A detached socket's `'error'`: `'close'` follows, which is what the session learns of. */
function ignoreError(): void {
  // nothing to do
}

/** A detached socket's `'end'`: the client half-closed its side, which an event stream takes as leaving. */
function destroySocket(this: Socket): void {
  this.destroy()
}

/**
 * The request of a node session. The URL and the `Headers` are built when first read, not for every connection:
 * most sessions never read them, and the two objects took about 0.7 KB of each session's heap (heap snapshots of
 * 3,000 idle sessions; the hub benchmark's scenario C, `npm run bench:hub -- --systems herald-hub --scenarios C`,
 * measures memory per idle connection). The resume point is read at once, as {@link createSseRequest} reads it.
 */
class NodeSseRequest implements SseRequest {
  readonly lastEventId: string | null
  /** The request's own fields, not the request: a detached stream lets the request object go. */
  readonly #path: string
  readonly #fields: IncomingHttpHeaders
  readonly #scheme: string
  readonly #host: string
  #url: URL | undefined
  #headers: Headers | undefined

  constructor(req: IncomingMessage | Http2ServerRequest, http2: boolean, options: SseRequestOptions) {
    this.#path = req.url ?? '/'
    this.#fields = req.headers
    this.#scheme = 'encrypted' in req.socket ? 'https' : 'http'
    this.#host = String((http2 ? req.headers[':authority'] : undefined) ?? req.headers.host ?? 'localhost')
    const header = req.headers['last-event-id']
    const path = this.#path
    // Only a request with a query can carry the parameter, and only when one is read: the URL is parsed then only.
    this.lastEventId =
      (typeof header === 'string' && header !== '') || !path.includes('?') || options.lastEventIdParam === null
        ? (header === undefined || header === '' ? null : String(header))
        : createSseRequest(this.url, this.headers, options).lastEventId
  }

  get url(): URL {
    return (this.#url ??= requestUrl(this.#path, this.#scheme, this.#host))
  }

  get headers(): Headers {
    return (this.#headers ??= requestHeaders(this.#fields))
  }
}

function requestUrl(path: string, scheme: string, host: string): URL {
  try {
    return new URL(path, `${scheme}://${host}`)
  } catch {
    // A Host header that is not a host: the path is what matters.
    return new URL(path, `${scheme}://localhost`)
  }
}

function requestHeaders(fields: IncomingHttpHeaders): Headers {
  const headers = new Headers()
  for (const [name, value] of Object.entries(fields)) {
    // HTTP/2 pseudo-headers (:path, :authority, …) are not header names Headers accepts.
    if (name.startsWith(':') || value === undefined) continue
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item)
  }
  return headers
}
