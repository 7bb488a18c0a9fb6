import type { IncomingMessage, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'

/** The part of Node's HTTP parser (`socket.parser`) that {@link detachHttpSocket} reads. */
interface HttpParser {
  incoming: unknown
  finish(): unknown
}

type FreeParser = (parser: HttpParser, req: IncomingMessage, socket: Socket) => void

/**
 * The listeners Node's http server puts on each connection, by event and function name (`lib/_http_server.js`), as
 * its own upgrade path removes them before it hands a socket over.
 */
const SERVER_LISTENERS: readonly (readonly [event: string, name: string])[] = [
  ['data', 'bound socketOnData'],
  ['end', 'bound socketOnEnd'],
  ['close', 'bound socketOnClose'],
  ['drain', 'bound socketOnDrain'],
  ['error', 'socketOnError'],
  ['timeout', 'socketOnTimeout'],
  ['resume', 'onSocketResume'],
  ['pause', 'onSocketPause'],
]

/** Node's own `freeParser` (what its upgrade path calls), or `undefined` on a runtime without it. */
const freeParser: FreeParser | undefined = (() => {
  try {
    const common = createRequire(import.meta.url)('_http_common') as { freeParser?: unknown }
    return typeof common.freeParser === 'function' ? (common.freeParser as FreeParser) : undefined
  } catch {
    return undefined
  }
})()

/**
 * Takes an HTTP/1.1 connection whose response head is out away from Node's http server, the way the server itself
 * hands a socket over on `upgrade`: its listeners come off the socket, the response lets go of it, and the parser goes
 * back to Node's pool. The request, the response and the parser can then be collected, and the caller owns a plain
 * socket whose reads reach JavaScript again.
 *
 * Why: an idle event stream kept all three alive for as long as it stayed open. Scenario C of `npm run bench:hub`
 * (thousands of idle subscribers) measured about 11 KB per connection for the hub, against about 3.6 KB for a bare
 * `net` socket; a connection detached this way measured 5.7 KB in the same test.
 *
 * It does nothing and returns `false` unless everything is as Node's server leaves it: the request read to its end,
 * the parser still attached and on this request, the response the socket's current one, and the server's listeners
 * found by name (a runtime that names them otherwise, or has no `_http_common.freeParser`, keeps the usual path).
 *
 * Call it after the parser has returned (not synchronously inside the request handler): Node frees a parser only
 * once its stack has unwound.
 *
 * @internal
 */
export function detachHttpSocket(req: IncomingMessage, res: ServerResponse, socket: Socket): boolean {
  const owned = socket as Socket & { parser?: HttpParser | null; _httpMessage?: unknown }
  const parser = owned.parser
  if (freeParser === undefined || !req.complete || parser?.incoming !== req || owned._httpMessage !== res) return false
  const found: [string, (...args: unknown[]) => void][] = []
  for (const [event, name] of SERVER_LISTENERS) {
    const listener = socket.listeners(event).find((candidate) => candidate.name === name)
    if (listener !== undefined) found.push([event, listener as (...args: unknown[]) => void])
  }
  // Without these two, data from the client would still be handed to a parser that is gone.
  if (!found.some(([event]) => event === 'data') || !found.some(([event]) => event === 'end')) return false
  for (const [event, listener] of found) socket.removeListener(event, listener)
  res.detachSocket(socket)
  parser.finish()
  freeParser(parser, req, socket)
  return true
}
