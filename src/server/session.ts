import { encodeBytes } from '../protocol/encode.js'
import type { HeraldError } from '../protocol/errors.js'
import { checkFunction, checkMillisecondsOrNull, checkPositiveInteger } from './check-option.js'
import { concatBytes } from './concat-bytes.js'
import { ServerError } from './errors.js'
import { DEFAULT_KEEP_ALIVE_MS, defaultKeepAliveScheduler, type KeepAliveScheduler } from './keep-alive.js'
import { silentLogger, type Logger } from './logger.js'
import type { Sink, SseRequest } from './sink.js'
import { encodeSseEvent, serializeJson, type EventMap, type Serializer, type SseEvent } from './sse-event.js'

/** The most bytes a session holds for a client that is not reading, before it closes as a slow consumer: 1 MiB. */
export const DEFAULT_MAX_QUEUE_BYTES = 1024 * 1024

/** The most events a session holds for a client that is not reading, before it closes as a slow consumer: 1000. */
export const DEFAULT_MAX_QUEUE_EVENTS = 1000

/** Options of {@link createSession} and of every adapter's `sse()`. */
export interface SessionOptions {
  /**
   * Milliseconds of silence after which the session writes a keep-alive comment, so proxies and load balancers do
   * not close an idle connection. A session that wrote within the interval writes none. `null` turns keep-alives off.
   * @defaultValue {@link DEFAULT_KEEP_ALIVE_MS} (15 000)
   */
  keepAliveMs?: number | null
  /**
   * The scheduler whose single timer drives the keep-alives.
   * @defaultValue {@link defaultKeepAliveScheduler}, shared by the whole process
   */
  keepAliveScheduler?: KeepAliveScheduler
  /**
   * A reconnection delay, in milliseconds, written once when the session opens (`retry:` field). `null` writes none,
   * leaving the client's default (about 3 s in browsers).
   * @defaultValue `null`
   */
  retry?: number | null
  /**
   * The most bytes queued while the client is not reading. Past it the session closes with
   * `ERR_SERVER_SLOW_CONSUMER`; the client reconnects and resumes with `Last-Event-ID`.
   * @defaultValue {@link DEFAULT_MAX_QUEUE_BYTES} (1 MiB)
   */
  maxQueueBytes?: number
  /**
   * The most events queued while the client is not reading. Past it the session closes with
   * `ERR_SERVER_SLOW_CONSUMER`.
   * @defaultValue {@link DEFAULT_MAX_QUEUE_EVENTS} (1000)
   */
  maxQueueEvents?: number
  /**
   * Turns event data into text, once per event.
   * @defaultValue {@link serializeJson}: strings pass through, other values become JSON
   */
  serialize?: Serializer
  /**
   * Receives what cannot be thrown: a sink that failed, an iterator whose `return()` threw.
   * @defaultValue a logger that drops everything
   */
  logger?: Logger
}

/** Options of {@link Session.sendBytes}. */
export interface SendBytesOptions {
  /**
   * How many events the bytes hold, counted against `maxQueueEvents` while queued.
   * @defaultValue `1`
   */
  events?: number
  /**
   * `false` queues the bytes even past the queue bounds, and leaves them out of the bounds' count. For replays, whose
   * size the history already bounds; live events should keep the default.
   * @defaultValue `true`
   */
  bounded?: boolean
}

/**
 * What every session offers whatever its event map: everything but the typed `send` and `stream`. Channels (and the
 * hub) take sessions as `SessionHandle`, so a session of any event map can join any channel.
 */
export interface SessionHandle {
  /** The request that opened the session. */
  readonly request: SseRequest
  /** Where the client asked to resume (`Last-Event-ID` header or query parameter), or `null`. */
  readonly lastEventId: string | null
  /** Aborts when the session closes for any reason, the client going away included; its reason is {@link closeReason}. */
  readonly signal: AbortSignal
  /** Whether the session is closed. */
  readonly closed: boolean
  /**
   * Why the session closed, or `undefined` while open: `ERR_SERVER_CLIENT_GONE`, `ERR_SERVER_SESSION_CLOSED`
   * (`close()`), `ERR_SERVER_SLOW_CONSUMER`, `ERR_SERVER_WRITE_FAILED`, `ERR_SERVER_SOURCE_FAILED`, or the error
   * given to `close(reason)`.
   */
  readonly closeReason: HeraldError | undefined
  /** Bytes waiting for the client to read. */
  readonly queuedBytes: number
  /** Events waiting for the client to read. */
  readonly queuedEvents: number
  /** The byte bound of the queue. */
  readonly maxQueueBytes: number
  /** The event bound of the queue. */
  readonly maxQueueEvents: number
  /**
   * Sends bytes already encoded (one or more complete events, e.g. from `encodeSseEvent`), as they are. The way to
   * write the same bytes to many sessions. Never mutate the bytes afterwards. Returns `false` when closed.
   */
  sendBytes(bytes: Uint8Array, options?: SendBytesOptions): boolean
  /** Sends a comment, which clients ignore (one `:` line per line of text). Returns `false` when closed. */
  comment(text: string): boolean
  /** Resolves when nothing is queued and the sink is drained, or when the session closes. */
  whenDrained(): Promise<void>
  /**
   * Closes the session: what is queued is handed to the sink, the response ends, the signal aborts. Idempotent.
   * @param reason - The close reason.
   * @defaultValue `reason`: a `ServerError` with code `ERR_SERVER_SESSION_CLOSED`
   */
  close(reason?: HeraldError): void
}

/**
 * One client's event stream. Adapters create it (`sse(req, res)` and friends) once the response headers are out.
 *
 * Writes go straight to the sink while it is drained. When it is not (the client reads slowly), events queue, up to
 * `maxQueueBytes`/`maxQueueEvents`, and are written together as one chunk when it drains; overflow closes the
 * session with `ERR_SERVER_SLOW_CONSUMER`. Nothing throws mid-stream: once closed, `send` returns `false`.
 *
 * @example
 * ```ts
 * const session = sse(req, res)
 * session.send({ event: 'hello', data: { at: Date.now() } })
 * session.signal.addEventListener('abort', () => console.log('gone:', session.closeReason?.code))
 * ```
 */
export interface Session<Events extends object = EventMap> extends SessionHandle {
  /**
   * Sends one event. Returns `false` when the session is closed (or closes now, as a slow consumer). An event the
   * stream cannot carry throws at once (`ERR_SERVER_INVALID_EVENT`, `ERR_PROTOCOL_INVALID_ID`, …).
   */
  send(event: SseEvent<Events>): boolean
  /**
   * Sends every event of `source`, pulling the next one only when the client has read the previous ones, so a fast
   * source never outruns a slow socket. Resolves when the source ends (the session stays open) or the session closes
   * (the iterator's `return()` is then called). A source that throws closes the session with
   * `ERR_SERVER_SOURCE_FAILED`, the error as its cause; the promise still resolves.
   */
  stream(source: AsyncIterable<SseEvent<Events>> | Iterable<SseEvent<Events>>): Promise<void>
}

/** A keep-alive comment: a lone `:` line, then the blank line. */
const KEEP_ALIVE_BYTES = encodeBytes({ comment: '' })

/**
 * Starts a session on a sink. Adapters call this after sending the response headers; applications use an adapter.
 *
 * The session writes one first chunk at once (a comment, with the `retry` field when set) so the client and every
 * proxy on the way see the stream open, and joins the keep-alive scheduler. If the sink's signal already aborted,
 * the session starts closed with `ERR_SERVER_CLIENT_GONE`. Invalid options throw `ERR_SERVER_INVALID_OPTION`.
 *
 * @example
 * ```ts
 * const session = createSession(sink, createSseRequest(url, headers), { keepAliveMs: 10_000 })
 * ```
 */
export function createSession<Events extends object = EventMap>(
  sink: Sink,
  request: SseRequest,
  options: SessionOptions = {},
): Session<Events> {
  const keepAliveMs = checkMillisecondsOrNull(options.keepAliveMs, 'keepAliveMs', DEFAULT_KEEP_ALIVE_MS)
  const retry = options.retry ?? null
  if (retry !== null && (typeof retry !== 'number' || !Number.isSafeInteger(retry) || retry < 0)) {
    throw new ServerError('ERR_SERVER_INVALID_OPTION', `retry must be a non-negative integer of milliseconds or null, not ${String(retry)}`)
  }
  const maxQueueBytes = checkPositiveInteger(options.maxQueueBytes, 'maxQueueBytes', DEFAULT_MAX_QUEUE_BYTES)
  const maxQueueEvents = checkPositiveInteger(options.maxQueueEvents, 'maxQueueEvents', DEFAULT_MAX_QUEUE_EVENTS)
  const serialize = checkFunction(options.serialize, 'serialize', serializeJson)
  const scheduler = options.keepAliveScheduler ?? defaultKeepAliveScheduler
  const logger = options.logger ?? silentLogger

  const controller = new AbortController()
  let closeReason: HeraldError | undefined
  /** The sink is busy: a write returned `false` (waiting for drain) or a promise that has not settled. */
  let writing = false
  let queue: Uint8Array[] = []
  let queuedBytes = 0
  let queuedEvents = 0
  /** The part of the queue sent with `bounded: false`, left out of the bounds. */
  let unboundedBytes = 0
  let unboundedEvents = 0
  let drainWaiters: (() => void)[] = []
  let lastWriteAt = scheduler.now()
  let stopKeepAlive: (() => void) | undefined

  function writeToSink(chunk: Uint8Array): void {
    lastWriteAt = scheduler.now()
    let result: boolean | Promise<void>
    try {
      result = sink.write(chunk)
    } catch (cause) {
      fail('ERR_SERVER_WRITE_FAILED', 'the sink threw on write', cause)
      return
    }
    if (result === false) {
      // Without a drain notification the sink cannot tell us when it has room again: treat it as drained.
      if (sink.onDrain !== undefined) writing = true
    } else if (typeof result === 'object') {
      writing = true
      result.then(onDrain, (cause: unknown) => fail('ERR_SERVER_WRITE_FAILED', 'the sink rejected a write', cause))
    }
  }

  function onDrain(): void {
    if (closeReason !== undefined || !writing) return
    writing = false
    if (queue.length > 0) writeToSink(takeQueue())
    if (!busy()) notifyDrained()
  }

  function takeQueue(): Uint8Array {
    // Coalesce: one write for everything the client fell behind on.
    const chunk = concatBytes(queue)
    queue = []
    queuedBytes = queuedEvents = unboundedBytes = unboundedEvents = 0
    return chunk
  }

  /** Whether bytes are waiting, in the queue or in the sink. A function, so each read sees the current state. */
  function busy(): boolean {
    return writing || queue.length > 0
  }

  function isOpen(): boolean {
    return closeReason === undefined
  }

  function notifyDrained(): void {
    const waiters = drainWaiters
    drainWaiters = []
    for (const resolve of waiters) resolve()
  }

  function push(bytes: Uint8Array, events: number, bounded: boolean): boolean {
    if (closeReason !== undefined) return false
    if (!busy()) {
      writeToSink(bytes)
      return isOpen()
    }
    queue.push(bytes)
    queuedBytes += bytes.byteLength
    queuedEvents += events
    if (!bounded) {
      unboundedBytes += bytes.byteLength
      unboundedEvents += events
    } else if (queuedBytes - unboundedBytes > maxQueueBytes || queuedEvents - unboundedEvents > maxQueueEvents) {
      fail('ERR_SERVER_SLOW_CONSUMER', `the client fell behind by more than ${maxQueueEvents} events or ${maxQueueBytes} bytes`)
      return false
    }
    return true
  }

  function fail(code: 'ERR_SERVER_WRITE_FAILED' | 'ERR_SERVER_SLOW_CONSUMER' | 'ERR_SERVER_CLIENT_GONE' | 'ERR_SERVER_SOURCE_FAILED', message: string, cause?: unknown): void {
    if (closeReason !== undefined) return
    if (code === 'ERR_SERVER_WRITE_FAILED') logger.warn?.('closing an SSE session: write failed', { cause })
    finish(new ServerError(code, message, cause === undefined ? undefined : { cause }), false)
  }

  function finish(reason: HeraldError, flush: boolean): void {
    if (closeReason !== undefined) return
    closeReason = reason
    stopKeepAlive?.()
    sink.signal.removeEventListener('abort', onGone)
    if (flush && queue.length > 0 && !sink.signal.aborted) {
      try {
        void Promise.resolve(sink.write(takeQueue())).catch(() => undefined)
      } catch {
        // The client went away while we flushed; the close below still runs.
      }
    }
    queue = []
    queuedBytes = queuedEvents = unboundedBytes = unboundedEvents = 0
    try {
      sink.close()
    } catch (cause) {
      logger.warn?.('an SSE sink threw on close', { cause })
    }
    controller.abort(reason)
    notifyDrained()
  }

  function onGone(): void {
    fail('ERR_SERVER_CLIENT_GONE', 'the client went away')
  }

  const session: Session<Events> = {
    request,
    lastEventId: request.lastEventId,
    signal: controller.signal,
    get closed() {
      return closeReason !== undefined
    },
    get closeReason() {
      return closeReason
    },
    get queuedBytes() {
      return queuedBytes
    },
    get queuedEvents() {
      return queuedEvents
    },
    maxQueueBytes,
    maxQueueEvents,
    send(event) {
      if (closeReason !== undefined) return false
      return push(encodeSseEvent(event, serialize).bytes, 1, true)
    },
    sendBytes(bytes, sendOptions = {}) {
      if (!(bytes instanceof Uint8Array)) throw new ServerError('ERR_SERVER_INVALID_EVENT', 'sendBytes takes a Uint8Array')
      return push(bytes, sendOptions.events ?? 1, sendOptions.bounded ?? true)
    },
    comment(text) {
      if (closeReason !== undefined) return false
      return push(encodeBytes({ comment: text }), 1, true)
    },
    stream(source) {
      return pump(session, source, logger)
    },
    whenDrained() {
      if (closeReason !== undefined || (!writing && queue.length === 0)) return Promise.resolve()
      return new Promise((resolve) => drainWaiters.push(resolve))
    },
    close(reason) {
      finish(reason ?? new ServerError('ERR_SERVER_SESSION_CLOSED', 'the server closed the session'), true)
    },
  }

  if (sink.signal.aborted) {
    onGone()
    return session
  }
  sink.signal.addEventListener('abort', onGone, { once: true })
  sink.onDrain?.(onDrain)
  writeToSink(encodeBytes(retry === null ? { comment: '' } : { comment: '', retry }))
  if (keepAliveMs !== null && closeReason === undefined) {
    stopKeepAlive = scheduler.add(
      {
        get lastWriteAt() {
          return lastWriteAt
        },
        keepAlive() {
          // Bytes still waiting for the client keep the connection busy already.
          if (closeReason === undefined && !writing && queue.length === 0) writeToSink(KEEP_ALIVE_BYTES)
        },
      },
      keepAliveMs,
    )
  }
  return session
}

/** Feeds a source into a session, one event per drain, calling the iterator's `return()` when the session closes. */
async function pump<Events extends object>(
  session: Session<Events>,
  source: AsyncIterable<SseEvent<Events>> | Iterable<SseEvent<Events>>,
  logger: Logger,
): Promise<void> {
  const iterator: AsyncIterator<SseEvent<Events>> | Iterator<SseEvent<Events>> =
    Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]()
  let settled = false
  const stop = (): void => {
    if (settled) return
    settled = true
    try {
      void Promise.resolve(iterator.return?.()).catch((cause: unknown) => logger.warn?.('an event source threw from return()', { cause }))
    } catch (cause) {
      logger.warn?.('an event source threw from return()', { cause })
    }
  }
  session.signal.addEventListener('abort', stop, { once: true })
  try {
    while (!session.closed) {
      await session.whenDrained()
      if (isClosed(session)) break
      let result: IteratorResult<SseEvent<Events>>
      try {
        result = await iterator.next()
      } catch (cause) {
        // The iterator is finished once it threw: no return() to call.
        settled = true
        session.close(new ServerError('ERR_SERVER_SOURCE_FAILED', 'the event source threw', { cause }))
        break
      }
      if (result.done === true) {
        settled = true
        break
      }
      // An event the stream cannot carry closes the session (and so returns the iterator) instead of throwing.
      if (!session.send(result.value)) break
    }
  } catch (cause) {
    session.close(new ServerError('ERR_SERVER_SOURCE_FAILED', 'the event source yielded an event that cannot be sent', { cause }))
  } finally {
    session.signal.removeEventListener('abort', stop)
    stop()
  }
}

/**
 * Reads `session.closed` afresh: a function call, so no narrowing from an earlier read survives an `await` or a call
 * that may have closed the session.
 * @internal
 */
export function isClosed(session: { readonly closed: boolean }): boolean {
  return session.closed
}
