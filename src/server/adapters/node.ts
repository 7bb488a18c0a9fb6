import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { ServerError } from '../errors.js'
import { createResponseHeaders } from '../response-headers.js'
import { createSession, type Session, type SessionOptions } from '../session.js'
import { createSseRequest, type Sink, type SseRequestOptions } from '../sink.js'
import type { EventMap } from '../sse-event.js'

/** Options of the node adapter's {@link sse}: the session's, the request's, and extra response headers. */
export interface NodeSseOptions extends SessionOptions, SseRequestOptions {
  /** Extra response headers (for example CORS). The SSE headers win over these. */
  headers?: Record<string, string>
}

/** An http response or an http2 compatibility response. */
type NodeResponse = ServerResponse | Http2ServerResponse

/**
 * Turns a `node:http` or `node:http2` request into an SSE session: writes the headers and flushes them at once,
 * turns off Nagle's algorithm (HTTP/1.1), writes with `res.write()` and waits for `'drain'`, and aborts the session
 * when the response closes. Throws `ERR_SERVER_HEADERS_SENT` if the response already started.
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
  const headers = createResponseHeaders(options.headers)
  // RFC 9113 §8.2.2: connection-specific header fields are malformed in HTTP/2.
  if (!http2) headers.set('connection', 'keep-alive')
  res.writeHead(200, Object.fromEntries(headers))
  const stream = res as ServerResponse
  if (!http2) {
    // HTTP/2 sends the headers in writeHead; HTTP/1.1 holds them until the first write unless flushed.
    stream.flushHeaders()
    // Events are small and latency matters: no Nagle delay.
    stream.socket?.setNoDelay(true)
  }

  const controller = new AbortController()
  const onClose = (): void => controller.abort()
  let drainListener: (() => void) | undefined
  stream.on('close', onClose)
  const sink: Sink = {
    signal: controller.signal,
    write: (chunk) => stream.write(chunk),
    onDrain(listener) {
      drainListener = listener
      stream.on('drain', listener)
    },
    close() {
      stream.off('close', onClose)
      if (drainListener !== undefined) stream.off('drain', drainListener)
      if (!stream.writableEnded) stream.end()
    },
  }
  // A response already closed (the client left before we got here) emits 'close' no more.
  if (stream.destroyed || stream.closed) controller.abort()
  return createSession<Events>(sink, createSseRequest(requestUrl(req, http2), requestHeaders(req), options), options)
}

function requestUrl(req: IncomingMessage | Http2ServerRequest, http2: boolean): URL {
  const host = (http2 ? req.headers[':authority'] : undefined) ?? req.headers.host ?? 'localhost'
  const scheme = 'encrypted' in req.socket ? 'https' : 'http'
  const path = req.url ?? '/'
  try {
    return new URL(path, `${scheme}://${String(host)}`)
  } catch {
    // A Host header that is not a host: the path is what matters.
    return new URL(path, `${scheme}://localhost`)
  }
}

function requestHeaders(req: IncomingMessage | Http2ServerRequest): Headers {
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    // HTTP/2 pseudo-headers (:path, :authority, …) are not header names Headers accepts.
    if (name.startsWith(':') || value === undefined) continue
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item)
  }
  return headers
}
