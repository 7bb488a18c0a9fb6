import type { Context } from 'hono'
import { sse as fetchSse, type FetchSse, type FetchSseOptions } from './fetch.js'
import type { EventMap } from '../sse-event.js'

/** Options of the Hono adapter's {@link sse}: the same as the fetch adapter's. */
export type HonoSseOptions = FetchSseOptions

/**
 * Opens an SSE session from a Hono handler, on any runtime Hono runs on. Return `response` from the handler; headers
 * set earlier with `c.header()` are kept, the SSE headers winning. Cancelling the body, or the request's signal
 * aborting, closes the session with `ERR_SERVER_CLIENT_GONE`.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { sse } from 'herald-sse/server/hono'
 * const app = new Hono()
 * app.get('/events', (c) => {
 *   const { session, response } = sse(c)
 *   channel.add(session)
 *   return response
 * })
 * ```
 */
export function sse<Events extends object = EventMap>(c: Context, options: HonoSseOptions = {}): FetchSse<Events> {
  const { session, response } = fetchSse<Events>(c.req.raw, options)
  // c.body merges the headers prepared with c.header(); ours are set last, so they win.
  // The fetch adapter always gives the response a streaming body.
  const body = response.body as ReadableStream<Uint8Array>
  return { session, response: c.body(body, { status: 200, headers: response.headers }) }
}
