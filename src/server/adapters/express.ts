import type { Request, Response } from 'express'
import type { Session } from '../session.js'
import type { EventMap } from '../sse-event.js'
import { sse as nodeSse, type NodeSseOptions } from './node.js'

/** Options of the Express adapter's {@link sse}: the same as the node adapter's. */
export type ExpressSseOptions = NodeSseOptions

/**
 * Opens an SSE session from an Express route. Express requests and responses are `node:http` ones, so this is the
 * node adapter; headers already set with `res.setHeader()` (CORS middleware, for example) are kept, the SSE
 * headers winning. Throws `ERR_SERVER_HEADERS_SENT` if the response already started.
 *
 * @example
 * ```ts
 * import express from 'express'
 * import { sse } from 'herald-sse/server/express'
 * const app = express()
 * app.get('/events', (req, res) => channel.add(sse(req, res)))
 * ```
 */
export function sse<Events extends object = EventMap>(req: Request, res: Response, options: ExpressSseOptions = {}): Session<Events> {
  return nodeSse<Events>(req, res, options)
}
