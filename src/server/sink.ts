/**
 * Where a session writes its bytes: the one contract between the server core and an adapter.
 *
 * The core never touches a socket, a framework or `node:*`; each adapter (`herald-sse/server/node`, `/fetch`, …)
 * wraps its framework's response in a `Sink`.
 *
 * Backpressure: `write` returns `true` when the chunk was taken and more may follow at once, `false` when the
 * chunk was taken but the transport is full (the session then waits for {@link Sink.onDrain}), or a promise that
 * settles when the transport can take more (a rejection closes the session with `ERR_SERVER_WRITE_FAILED`).
 *
 * @example
 * ```ts
 * const sink: Sink = {
 *   signal: controller.signal,
 *   write: (chunk) => res.write(chunk),
 *   onDrain: (listener) => res.on('drain', listener),
 *   close: () => res.end(),
 * }
 * ```
 */
export interface Sink {
  /**
   * Writes one chunk. The session never calls it again before the previous call returned `true`, the drain listener
   * ran (after `false`), or the promise resolved, with one exception: when the application closes the session,
   * whatever is still queued is handed over in one last write just before {@link Sink.close}. It is never called
   * after `close` or once {@link Sink.signal} aborted.
   */
  write(chunk: Uint8Array): boolean | Promise<void>
  /** Ends the response. Called once, after the last write; must not throw when the client already went away. */
  close(): void
  /** Aborts when the client goes away (the connection closed or the stream was cancelled). */
  readonly signal: AbortSignal
  /**
   * Registers the one listener the session uses to learn that the client went away, instead of a listener on
   * {@link Sink.signal}; it is called once, at once when the client is gone already. Optional: a sink that offers it
   * lets the session never read `signal`, so that the sink can create its `AbortSignal` only when someone else asks
   * for it (one costs about 0.7 KB of heap, and idle connections are counted in thousands). The adapter drops the
   * listener when the response ends.
   */
  onAbort?(listener: () => void): void
  /**
   * Registers the one listener the session uses to learn that a `write` which returned `false` has drained. Called
   * once, when the session starts. Required of sinks whose `write` can return `false`; a sink without it is treated
   * as always drained. The adapter drops the listener when the response ends.
   */
  onDrain?(listener: () => void): void
}

/** What a session needs to know of the request that opened it. */
export interface SseRequest {
  /** The full request URL. */
  readonly url: URL
  /** The request headers. */
  readonly headers: Headers
  /**
   * Where the client asks to resume: the `Last-Event-ID` header, else the `lastEventId` query parameter (for
   * clients that cannot set headers), else `null`. An empty value counts as `null`.
   */
  readonly lastEventId: string | null
}

/** Options of {@link createSseRequest}. */
export interface SseRequestOptions {
  /**
   * The query parameter read when no `Last-Event-ID` header is present. `null` reads the header only.
   * @defaultValue `'lastEventId'`
   */
  lastEventIdParam?: string | null
}

/** The query parameter {@link createSseRequest} reads the resume point from when the header is absent. */
export const DEFAULT_LAST_EVENT_ID_PARAM = 'lastEventId'

/**
 * Builds the {@link SseRequest} an adapter hands to the core, reading the resume point from the `Last-Event-ID`
 * header, else from the query parameter.
 *
 * @example
 * ```ts
 * const request = createSseRequest(new URL(req.url, 'http://localhost'), new Headers({ 'last-event-id': '41' }))
 * request.lastEventId // '41'
 * ```
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#the-last-event-id-header
 */
export function createSseRequest(url: URL, headers: Headers, options: SseRequestOptions = {}): SseRequest {
  const param = options.lastEventIdParam === undefined ? DEFAULT_LAST_EVENT_ID_PARAM : options.lastEventIdParam
  const header = headers.get('last-event-id')
  let lastEventId = header === null || header === '' ? null : header
  if (lastEventId === null && param !== null) {
    const query = url.searchParams.get(param)
    lastEventId = query === null || query === '' ? null : query
  }
  return { url, headers, lastEventId }
}
