/**
 * The headers every SSE response carries, in lower case.
 *
 * - `content-type: text/event-stream; charset=utf-8`: the only type `EventSource` accepts; UTF-8 is the only
 *   encoding the stream may use.
 * - `cache-control: no-cache, no-transform`: no cache may store the stream, and no proxy may compress or rewrite it
 *   (compression holds bytes back until a buffer fills).
 * - `x-accel-buffering: no`: nginx passes each chunk on at once instead of buffering the response.
 *
 * HTTP/1.1 adapters add `connection: keep-alive`; HTTP/2 forbids connection-specific headers, so they add nothing.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#text/event-stream
 */
export const SSE_RESPONSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
})

/**
 * Merges {@link SSE_RESPONSE_HEADERS} with extra headers (for example CORS). The SSE headers win over extra headers
 * of the same name, so a stream is never served with the wrong type or a cacheable policy.
 *
 * @example
 * ```ts
 * createResponseHeaders({ 'access-control-allow-origin': '*' })
 * ```
 */
export function createResponseHeaders(extra?: HeadersInit): Headers {
  const headers = new Headers(extra)
  for (const [name, value] of Object.entries(SSE_RESPONSE_HEADERS)) headers.set(name, value)
  return headers
}
