import { createResponseHeaders } from '../response-headers.js'
import { createSession, type Session, type SessionOptions } from '../session.js'
import { createSseRequest, type Sink, type SseRequestOptions } from '../sink.js'
import { checkPositiveInteger } from '../check-option.js'
import type { EventMap } from '../sse-event.js'

/** How many bytes the response body buffers before a write waits for the reader: 64 KiB. */
export const DEFAULT_BODY_HIGH_WATER_MARK_BYTES = 64 * 1024

/** Options of the fetch adapter's {@link sse}. */
export interface FetchSseOptions extends SessionOptions, SseRequestOptions {
  /** Extra response headers (for example CORS). The SSE headers win over these. */
  headers?: HeadersInit
  /**
   * How many bytes the body stream buffers before writes wait for the runtime to read.
   * @defaultValue {@link DEFAULT_BODY_HIGH_WATER_MARK_BYTES} (64 KiB)
   */
  highWaterMarkBytes?: number
}

/** A session and the `Response` that carries it. Return the response from your handler. */
export interface FetchSse<Events extends object = EventMap> {
  readonly session: Session<Events>
  readonly response: Response
}

/**
 * Opens an SSE session for a fetch-style handler (Deno, Bun, Cloudflare Workers, Hono, `@hono/node-server`…). The
 * response body is a `ReadableStream` whose backpressure reaches the session; cancelling it, or the request's signal
 * aborting, closes the session with `ERR_SERVER_CLIENT_GONE`.
 *
 * @example
 * ```ts
 * import { sse } from 'herald-sse/server/fetch'
 * export default {
 *   fetch(request: Request) {
 *     const { session, response } = sse(request)
 *     channel.add(session)
 *     return response
 *   },
 * }
 * ```
 */
export function sse<Events extends object = EventMap>(request: Request, options: FetchSseOptions = {}): FetchSse<Events> {
  const highWaterMark = checkPositiveInteger(options.highWaterMarkBytes, 'highWaterMarkBytes', DEFAULT_BODY_HIGH_WATER_MARK_BYTES)
  const controller = new AbortController()
  let stream: ReadableStreamDefaultController<Uint8Array> | undefined
  let wake: (() => void) | undefined
  const resume = (): void => {
    const resolve = wake
    wake = undefined
    resolve?.()
  }
  const onGone = (): void => {
    resume()
    controller.abort()
  }
  const body = new ReadableStream<Uint8Array>(
    { start: (c) => void (stream = c), pull: resume, cancel: onGone },
    { highWaterMark, size: (chunk) => chunk.byteLength },
  )
  request.signal.addEventListener('abort', onGone, { once: true })
  const sink: Sink = {
    signal: controller.signal,
    write(chunk) {
      stream?.enqueue(chunk)
      if ((stream?.desiredSize ?? 0) > 0) return true
      return new Promise<void>((resolve) => (wake = resolve))
    },
    close() {
      request.signal.removeEventListener('abort', onGone)
      resume()
      try {
        stream?.close()
      } catch {
        // Already cancelled by the reader.
      }
    },
  }
  if (request.signal.aborted) controller.abort()
  const session = createSession<Events>(sink, createSseRequest(new URL(request.url), request.headers, options), options)
  const response = new Response(body, { status: 200, headers: createResponseHeaders(options.headers) })
  return { session, response }
}
