import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import { createParser, type ParsedEvent } from '../../src/protocol/index.js'

/**
 * A raw `text/event-stream` client over a real socket, for tests: it records every event, comment and `retry` the
 * server sends (parsed by Herald's WHATWG parser), and can stop reading to push back on the server.
 */
export interface EventStreamClient {
  /** The response status. */
  readonly status: number
  /** The response headers. */
  readonly headers: IncomingHttpHeaders
  /** Every event received so far. */
  readonly events: ParsedEvent[]
  /** Every comment received so far (text after the colon). */
  readonly comments: string[]
  /** Every `retry` value received so far. */
  readonly retries: number[]
  /** Bytes of body received so far. */
  readonly bytesReceived: number
  /** Whether the response ended or the connection closed. */
  readonly ended: boolean
  /** Stops reading from the socket: the kernel buffers fill and the server sees backpressure. */
  pause(): void
  /** Reads again. */
  resume(): void
  /** Resolves once `condition` holds, re-checked on every chunk; rejects if the stream ends first or on timeout. */
  waitFor(condition: () => boolean, description?: string, timeoutMs?: number): Promise<void>
  /** Resolves once at least `count` events arrived, with the events. */
  waitForEvents(count: number, timeoutMs?: number): Promise<ParsedEvent[]>
  /** Resolves when the response ends or the connection closes. */
  readonly done: Promise<void>
  /** Destroys the connection, as a vanishing client would. */
  close(): void
}

/** Options of {@link openEventStream}. */
export interface OpenEventStreamOptions {
  /** Request headers (for example `last-event-id`). */
  headers?: Record<string, string>
  /** The request method. @defaultValue `'GET'` */
  method?: string
  /** How long to wait for the response headers. @defaultValue 5000 */
  timeoutMs?: number
}

/**
 * Opens `url` with node:http and resolves once the response headers arrived.
 *
 * @example
 * ```ts
 * const stream = await openEventStream(`${base}/sse`, { headers: { 'last-event-id': '3' } })
 * const [first] = await stream.waitForEvents(1)
 * stream.close()
 * ```
 */
export function openEventStream(url: string, options: OpenEventStreamOptions = {}): Promise<EventStreamClient> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: { accept: 'text/event-stream', ...options.headers } })
    const timer = setTimeout(() => {
      req.destroy()
      reject(new Error(`no response headers from ${url} within ${options.timeoutMs ?? 5000} ms`))
    }, options.timeoutMs ?? 5000)
    req.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    req.once('response', (res) => {
      clearTimeout(timer)
      resolve(wrap(req, res))
    })
    req.end()
  })
}

function wrap(req: ReturnType<typeof request>, res: IncomingMessage): EventStreamClient {
  const events: ParsedEvent[] = []
  const comments: string[] = []
  const retries: number[] = []
  const listeners = new Set<() => void>()
  let bytesReceived = 0
  let ended = false
  const parser = createParser({
    onEvent: (event) => events.push(event),
    onComment: (text) => comments.push(text),
    onRetry: (ms) => retries.push(ms),
  })
  const notify = (): void => {
    for (const listener of [...listeners]) listener()
  }
  res.on('data', (chunk: Buffer) => {
    bytesReceived += chunk.byteLength
    parser.feed(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
    notify()
  })
  // A destroyed request also ends the stream; errors here are the expected ECONNRESET of a closed stream.
  req.on('error', () => undefined)
  res.on('error', () => undefined)
  const done = new Promise<void>((resolve) => {
    const finish = (): void => {
      if (ended) return
      ended = true
      parser.end()
      notify()
      resolve()
    }
    res.once('end', finish)
    res.once('close', finish)
    req.once('close', finish)
  })

  const client: EventStreamClient = {
    status: res.statusCode ?? 0,
    headers: res.headers,
    events,
    comments,
    retries,
    get bytesReceived() {
      return bytesReceived
    },
    get ended() {
      return ended
    },
    pause: () => res.pause(),
    resume: () => res.resume(),
    waitFor(condition, description = 'condition', timeoutMs = 5000) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (condition()) {
            cleanup()
            resolve()
          } else if (ended) {
            cleanup()
            reject(new Error(`the stream ended before ${description} (${events.length} events received)`))
          }
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${description} (${events.length} events received)`))
        }, timeoutMs)
        const cleanup = (): void => {
          clearTimeout(timer)
          listeners.delete(check)
        }
        listeners.add(check)
        check()
      })
    },
    async waitForEvents(count, timeoutMs) {
      await client.waitFor(() => events.length >= count, `${count} events`, timeoutMs)
      return events.slice(0, count)
    },
    done,
    close() {
      req.destroy()
      res.destroy()
    },
  }
  return client
}
