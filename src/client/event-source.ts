import type { ProtocolError } from '../protocol/errors.js'
import { backoffDelay, resolveBackoff, type BackoffOptions, type ResolvedBackoff } from './backoff.js'
import { ClientErrorEvent } from './client-error-event.js'
import { createConnectionParser, type ConnectionParser } from './connection-parser.js'
import { contentTypeError, describe, networkError, stalledError, statusError } from './connection-errors.js'
import { ClientError } from './errors.js'
import type { DefaultEventMap, EventSourceEvent, EventSourceListener, EventSourceMessage } from './event-map.js'
import { DEFAULT_MAX_QUEUED_EVENTS, EventQueue } from './event-queue.js'
import { ListenerRegistry } from './listener-registry.js'
import { SourceMessageEvent } from './message-event.js'
import {
  discardBody,
  isEventStreamType,
  originOf,
  planRequest,
  resolveUrl,
  sendRequest,
  type ReplayableBody,
  type RequestOptions,
  type RequestPlan,
} from './request-plan.js'
import { checkObject, describeValue, validateLastEventId, validateMaxBuffer, validateStallTimeout } from './option-checks.js'
import { parseRetryAfter } from './retry-after.js'
import { resolveRetryOn, type RetryOnOptions, type RetryPolicy } from './retry-policy.js'
import { createStallTimer, type StallTimer } from './stall-timer.js'

/** The options of an {@link EventSource}: the standard `withCredentials`, and Herald's extras. Every field is optional. */
export interface EventSourceInit extends RequestOptions {
  /**
   * [spec] Send credentials (cookies, HTTP authentication) to other origins too: the request's credentials mode
   * becomes `'include'`.
   * @defaultValue `false`
   */
  withCredentials?: boolean
  /**
   * The request body, sent again on each reconnection (so it cannot be a stream). Needs a `method` other than GET.
   * @defaultValue none
   */
  body?: ReplayableBody | null
  /**
   * The last event ID to start from: sent as `Last-Event-ID` on the first request already, as if an event with this
   * id had been received. May not contain CR, LF or NULL.
   * @defaultValue `''` (none)
   */
  lastEventId?: string
  /** How reconnections back off after failures. See {@link BackoffOptions}. */
  backoff?: BackoffOptions
  /**
   * Which failures reconnect instead of closing the source. By default, as the spec says, network errors and ended
   * streams reconnect and every status other than 200 closes it; `{ status: true }` also retries 429 and 5xx,
   * honouring `Retry-After`.
   */
  retryOn?: RetryOnOptions
  /**
   * Abort and reconnect when no byte (not even a keep-alive comment) arrived for this long, including while waiting
   * for the response headers. Set it above the server's keep-alive interval. `null` never times out.
   * @defaultValue `null`
   */
  stallTimeoutMs?: number | null
  /**
   * The most one line, or one event's data, may hold (UTF-16 code units). Past it the connection is dropped with
   * `ERR_CLIENT_BUFFER_OVERFLOW` and the source reconnects. `null` removes the cap.
   * @defaultValue 16 MiB (the parser's `DEFAULT_MAX_BUFFER_BYTES`)
   */
  maxBufferBytes?: number | null
  /** Closes the source when aborted, like `close()`. */
  signal?: AbortSignal
  /**
   * How many events may wait for each `for await` loop over the source. When a loop falls further behind, the source
   * closes with `ERR_CLIENT_QUEUE_OVERFLOW` (after the loop has received the queued events) rather than grow.
   * @defaultValue {@link DEFAULT_MAX_QUEUED_EVENTS} (1000)
   */
  maxQueuedEvents?: number
  /**
   * Turns each event's data into what listeners see as `event.data`, for example `(data) => JSON.parse(data)`. An
   * event whose data it throws on is not dispatched; an `error` event with `ERR_CLIENT_DECODE_FAILED` is, and the
   * connection stays open.
   * @defaultValue none: `data` is the string received
   */
  decode?: (data: string, type: string) => unknown
}

type ReadyState = 0 | 1 | 2

/** The init object reused for every message event (see `#deliver`). */
const MESSAGE_INIT: { data: unknown; lastEventId: string; origin: string } = { data: undefined, lastEventId: '', origin: '' }
const CONNECTING = 0
const OPEN = 1
const CLOSED = 2

/** One connection attempt and what happened on it. */
interface Connection {
  readonly controller: AbortController
  /** The stall timer fired. */
  stalled: boolean
  /** The parser gave up on an over-long line or event. */
  overflow: ProtocolError | undefined
  /**
   * The connection made progress (an event, or a new last event ID): the backoff starts over after it. Comments and
   * `retry` fields do not count: a server that sends them and then closes is backed off from like one that fails.
   */
  productive: boolean
}

type Handler = ((this: never, event: never) => unknown) | null
interface HandlerSlot {
  handler: Handler
  readonly listener: (event: Event) => void
}

/**
 * A WHATWG-compatible `EventSource` built on `fetch`, for browsers and Node 20+.
 *
 * It behaves as the HTML standard's "Server-sent events" section says: it sends `Accept: text/event-stream` and
 * `Cache-Control: no-store`, follows redirects (the final URL's origin is each event's `origin`), reconnects after
 * the server's `retry` delay with `Last-Event-ID` when a stream ends or the network fails, and closes for good on a
 * status other than 200 or a content type other than `text/event-stream`.
 *
 * Beyond the standard: request `headers`, `method` and `body`, a custom `fetch`, an initial `lastEventId`,
 * exponential `backoff` with full jitter, a `retryOn` policy for 429 and 5xx, `stallTimeoutMs`, `maxBufferBytes`, a
 * `signal`, `decode`, typed events, async iteration, and `error` events that carry a coded {@link ClientError}.
 *
 * @typeParam Events - event names and their payload types, for typed listeners and iteration
 *
 * @example
 * ```ts
 * const source = new EventSource<{ task: { id: string } }>('/events', {
 *   headers: { authorization: `Bearer ${token}` },
 *   decode: (data) => JSON.parse(data),
 *   backoff: { maxMs: 30_000 },
 * })
 * source.addEventListener('task', (event) => console.log(event.data.id))
 * source.onerror = (event) => console.warn(event.error.code)
 *
 * for await (const event of new EventSource('/ticks')) console.log(event.data) // break closes the source
 * ```
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html
 */
export class EventSource<Events extends object = DefaultEventMap> extends EventTarget {
  /** [spec] The connection has not yet been established, or it was closed and the user agent is reconnecting. */
  static readonly CONNECTING = CONNECTING
  /** [spec] The user agent has an open connection and is dispatching events as it receives them. */
  static readonly OPEN = OPEN
  /** [spec] The connection is not open, and the user agent is not trying to reconnect. */
  static readonly CLOSED = CLOSED

  /** The absolute URL of the source, as given (before any redirect). */
  readonly url: string
  /** Whether the source was created with `withCredentials: true`. */
  readonly withCredentials: boolean

  readonly #plan: RequestPlan
  readonly #backoff: ResolvedBackoff
  readonly #retryOn: RetryPolicy
  readonly #stallTimeoutMs: number | null
  readonly #maxBufferBytes: number | null
  readonly #maxQueuedEvents: number
  readonly #decode: ((data: string, type: string) => unknown) | undefined
  readonly #signal: AbortSignal | undefined
  readonly #onAbort = (): void => this.close()

  #readyState: ReadyState = CONNECTING
  #lastEventId: string
  /** [spec] The event source's reconnection time, in milliseconds. */
  #reconnectionTimeMs: number
  /** Consecutive reconnection attempts since the last productive connection. */
  #failures = 0
  #connection: Connection | undefined
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined
  #origin: string
  #iterators: Set<EventQueue<EventSourceMessage<Events>>> | undefined
  #failure: ClientError | undefined
  readonly #handlers = new Map<string, HandlerSlot>()
  readonly #listeners = new ListenerRegistry(this, {
    add: (type, listener, options) => super.addEventListener(type, listener, options),
    remove: (type, listener, options) => super.removeEventListener(type, listener, options),
  })

  /**
   * Creates the source and starts connecting.
   *
   * @throws {@link ClientError} `ERR_CLIENT_INVALID_URL` when `url` does not parse, `ERR_CLIENT_INVALID_OPTION` for a
   * bad option.
   */
  constructor(url: string | URL, init: EventSourceInit = {}) {
    super()
    checkObject('init', init)
    const urlRecord = resolveUrl(url)
    this.url = urlRecord.href
    this.withCredentials = init.withCredentials === true
    this.#plan = planRequest(urlRecord, init, true)
    this.#backoff = resolveBackoff(init.backoff, null)
    this.#retryOn = resolveRetryOn(init.retryOn, true)
    this.#stallTimeoutMs = validateStallTimeout(init.stallTimeoutMs)
    this.#maxBufferBytes = validateMaxBuffer(init.maxBufferBytes)
    this.#lastEventId = validateLastEventId(init.lastEventId)
    const maxQueued = init.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS
    if (!Number.isInteger(maxQueued) || maxQueued < 1) {
      throw new ClientError('ERR_CLIENT_INVALID_OPTION', `maxQueuedEvents must be a positive integer, not ${describeValue(maxQueued)}`)
    }
    this.#maxQueuedEvents = maxQueued
    if (init.decode !== undefined && typeof init.decode !== 'function') {
      throw new ClientError('ERR_CLIENT_INVALID_OPTION', 'decode must be a function')
    }
    this.#decode = init.decode
    this.#reconnectionTimeMs = this.#backoff.initialMs
    this.#origin = urlRecord.origin
    const signal = init.signal
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new ClientError('ERR_CLIENT_INVALID_OPTION', 'signal must be an AbortSignal')
    }
    this.#signal = signal
    if (signal?.aborted === true) {
      this.#readyState = CLOSED
      return
    }
    signal?.addEventListener('abort', this.#onAbort, { once: true })
    this.#connect()
  }

  /** [spec] The state of the connection: {@link EventSource.CONNECTING}, {@link EventSource.OPEN} or {@link EventSource.CLOSED}. */
  get readyState(): ReadyState {
    return this.#readyState
  }

  /** The source's last event ID string: sent as `Last-Event-ID` when it reconnects. */
  get lastEventId(): string {
    return this.#lastEventId
  }

  /** [spec] {@link EventSource.CONNECTING} (0), on instances too. */
  get CONNECTING(): 0 {
    return CONNECTING
  }

  /** [spec] {@link EventSource.OPEN} (1), on instances too. */
  get OPEN(): 1 {
    return OPEN
  }

  /** [spec] {@link EventSource.CLOSED} (2), on instances too. */
  get CLOSED(): 2 {
    return CLOSED
  }

  /** [spec] The `open` event handler. */
  get onopen(): ((this: EventSource<Events>, event: Event) => unknown) | null {
    return this.#getHandler('open') as ((this: EventSource<Events>, event: Event) => unknown) | null
  }

  set onopen(handler: ((this: EventSource<Events>, event: Event) => unknown) | null) {
    this.#setHandler('open', handler)
  }

  /** [spec] The `message` event handler: events without an `event` field. */
  get onmessage(): ((this: EventSource<Events>, event: EventSourceEvent<Events, 'message'>) => unknown) | null {
    return this.#getHandler('message') as ((this: EventSource<Events>, event: EventSourceEvent<Events, 'message'>) => unknown) | null
  }

  set onmessage(handler: ((this: EventSource<Events>, event: EventSourceEvent<Events, 'message'>) => unknown) | null) {
    this.#setHandler('message', handler)
  }

  /** [spec] The `error` event handler; the event carries the {@link ClientError} as `event.error`. */
  get onerror(): ((this: EventSource<Events>, event: ClientErrorEvent) => unknown) | null {
    return this.#getHandler('error') as ((this: EventSource<Events>, event: ClientErrorEvent) => unknown) | null
  }

  set onerror(handler: ((this: EventSource<Events>, event: ClientErrorEvent) => unknown) | null) {
    this.#setHandler('error', handler)
  }

  /**
   * Adds a listener. The event type follows the name: `Event` for `open`, {@link ClientErrorEvent} for `error`, a
   * `MessageEvent` typed by the event map for any other name.
   */
  override addEventListener<Type extends string>(
    type: Type,
    listener: EventSourceListener<this, Events, Type> | null,
    options?: boolean | AddEventListenerOptions,
  ): void
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void {
    this.#listeners.add(type, listener, options)
  }

  /** Removes a listener added with {@link EventSource.addEventListener}. */
  override removeEventListener<Type extends string>(
    type: Type,
    listener: EventSourceListener<this, Events, Type> | null,
    options?: boolean | EventListenerOptions,
  ): void
  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void {
    this.#listeners.remove(type, listener, options)
  }

  /**
   * [spec] "Abort any instances of the fetch algorithm started for this EventSource object, and set the readyState
   * attribute to CLOSED." Also cancels a pending reconnection and ends every `for await` loop over the source. No
   * event fires.
   */
  close(): void {
    if (this.#readyState === CLOSED) return
    this.#shutDown()
    if (this.#iterators !== undefined) for (const queue of this.#iterators) queue.end()
    this.#iterators = undefined
  }

  /**
   * Iterates over the message events of every type, in order, until the source closes. Events wait in a bounded
   * queue (`maxQueuedEvents`); reconnections are invisible to the loop. The loop ends when `close()` is called, and
   * throws the {@link ClientError} when the source fails. Leaving the loop early (`break`, `return`, a throw) closes
   * the source.
   *
   * @example
   * ```ts
   * for await (const event of source) {
   *   if (event.type === 'done') break
   *   render(event.data)
   * }
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<EventSourceMessage<Events>, undefined> {
    const queue = new EventQueue<EventSourceMessage<Events>>(this.#maxQueuedEvents, () => {
      this.#iterators?.delete(queue)
      this.close()
    })
    if (this.#readyState === CLOSED) {
      if (this.#failure === undefined) queue.end()
      else queue.fail(this.#failure)
    } else {
      ;(this.#iterators ??= new Set()).add(queue)
    }
    return queue
  }

  #connect(): void {
    const connection: Connection = { controller: new AbortController(), stalled: false, overflow: undefined, productive: false }
    this.#connection = connection
    let stall: StallTimer | undefined
    if (this.#stallTimeoutMs !== null) {
      stall = createStallTimer(this.#stallTimeoutMs, () => {
        connection.stalled = true
        connection.controller.abort()
      })
      stall.start()
    }
    this.#run(connection, stall).then(
      () => stall?.stop(),
      // #run handles its own errors; this catches only a bug in it, which must not go unnoticed.
      (error: unknown) => {
        stall?.stop()
        if (this.#connection === connection) this.#fail(new ClientError('ERR_CLIENT_NETWORK', 'the connection failed unexpectedly', { cause: error }))
      },
    )
  }

  async #run(connection: Connection, stall: StallTimer | undefined): Promise<void> {
    let response: Response
    try {
      response = await sendRequest(this.#plan, this.#lastEventId, connection.controller.signal)
    } catch (cause) {
      if (this.#connection !== connection) return
      if (connection.stalled) {
        this.#reestablish(connection, stalledError(this.#stallTimeoutMs, cause))
        return
      }
      // [spec] "Otherwise, if res is a network error, then reestablish the connection, unless the user agent knows
      // that to be futile, in which case the user agent may fail the connection."
      const error = networkError(cause, 'connect')
      if (this.#retryOn.network) this.#reestablish(connection, error)
      else this.#fail(error)
      return
    }
    if (this.#connection !== connection) {
      discardBody(response)
      return
    }
    const status = response.status
    // [spec] "Otherwise, if res's status is not 200, or if res's `Content-Type` is not `text/event-stream`, then fail
    // the connection."
    if (status !== 200) {
      discardBody(response)
      const error = statusError(response, undefined)
      if (status !== 204 && this.#retryOn.retriesStatus(status)) {
        this.#reestablish(connection, error, parseRetryAfter(response.headers.get('retry-after'), Date.now()))
      } else {
        this.#fail(error)
      }
      return
    }
    if (!isEventStreamType(response.headers.get('content-type'))) {
      discardBody(response)
      this.#fail(contentTypeError(response, undefined))
      return
    }
    // [spec] The origin of "the event stream's final URL (i.e., the URL after redirects)".
    this.#origin = originOf(response.url, this.url)
    // [spec] "When a user agent is to announce the connection, the user agent must queue a task which, if the
    // readyState attribute is set to a value other than CLOSED, sets the readyState attribute to OPEN and fires an
    // event named open at the EventSource object."
    this.#readyState = OPEN
    this.dispatchEvent(new Event('open'))
    if (this.#connection !== connection) {
      discardBody(response)
      return
    }
    await this.#read(connection, response, stall)
  }

  async #read(connection: Connection, response: Response, stall: StallTimer | undefined): Promise<void> {
    const body = response.body
    let ended: ClientError
    if (body === null) {
      ended = new ClientError('ERR_CLIENT_STREAM_ENDED', 'the server sent no body', { status: 200 })
    } else {
      const parser = this.#createParser(connection)
      const reader = body.getReader()
      try {
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          stall?.touch()
          parser.feed(value)
          if (this.#connection !== connection || connection.overflow !== undefined) {
            reader.cancel().catch(() => undefined)
            break
          }
        }
      } catch (cause) {
        if (this.#connection !== connection) return
        this.#reestablish(connection, connection.stalled ? stalledError(this.#stallTimeoutMs, cause) : networkError(cause, 'read'))
        return
      }
      if (this.#connection !== connection) return
      const overflow = connection.overflow
      if (overflow !== undefined) {
        connection.controller.abort()
        this.#reestablish(connection, new ClientError('ERR_CLIENT_BUFFER_OVERFLOW', overflow.message, { cause: overflow }))
        return
      }
      // [spec] "Once the end of the file is reached, any pending data must be discarded."
      parser.end()
      ended = new ClientError('ERR_CLIENT_STREAM_ENDED', 'the server ended the stream', { status: 200 })
    }
    // [spec] "Let processEventSourceEndOfBody given response res be the following step: if res is not a network
    // error, then reestablish the connection."
    this.#reestablish(connection, ended)
  }

  #createParser(connection: Connection): ConnectionParser {
    // The last event ID before the current event's block changed it: where a new source must resume if this event
    // cannot be delivered.
    let before: string | undefined
    return createConnectionParser(
      {
        onEvent: (event) => {
          connection.productive = true
          const previous = before ?? this.#lastEventId
          before = undefined
          if (this.#connection !== connection) return
          this.#lastEventId = event.lastEventId
          if (!this.#deliver(event.type, event.data, event.lastEventId, previous)) this.#lastEventId = previous
        },
        onRetry: (ms) => {
          // [spec] "set the event stream's reconnection time to that integer"
          if (this.#connection === connection) this.#reconnectionTimeMs = ms
        },
        onLastEventId: (id) => {
          connection.productive = true
          if (this.#connection !== connection) return
          before = this.#lastEventId
          this.#lastEventId = id
        },
        onError: (error) => {
          connection.overflow = error
        },
      },
      this.#maxBufferBytes,
      this.#lastEventId,
    )
  }

  /**
   * Dispatches one message event, to listeners and to every `for await` loop. Returns `false` when the event could
   * not be delivered because a loop's queue is full (the source then failed).
   */
  #deliver(type: string, data: string, lastEventId: string, previousLastEventId: string): boolean {
    const iterators = this.#iterators
    // One lookup per event: the listeners as they are now (the DOM's rule: one added during the dispatch waits).
    const listeners = this.#listeners.of(type)
    // Nobody would see the event: it is not even created.
    if (listeners === undefined && iterators === undefined) return true
    let value: unknown = data
    if (this.#decode !== undefined) {
      try {
        value = this.#decode(data, type)
      } catch (cause) {
        this.dispatchEvent(new ClientErrorEvent(new ClientError('ERR_CLIENT_DECODE_FAILED', `decode threw on a ${JSON.stringify(type)} event: ${describe(cause)}`, { cause })))
        return true
      }
    }
    if (iterators !== undefined) {
      // Nobody gets an event that one loop cannot take: all consumers see the same sequence, and the last event ID
      // each saw is where a new source resumes.
      for (const queue of iterators) {
        if (queue.full) {
          const resumeFrom = JSON.stringify(previousLastEventId)
          this.#fail(new ClientError('ERR_CLIENT_QUEUE_OVERFLOW', `more than ${this.#maxQueuedEvents} events waited for a for-await loop; resume from lastEventId ${resumeFrom}`))
          return false
        }
      }
    }
    // [spec] "Initialize event's type attribute to "message", its data attribute to data, its origin attribute to the
    // serialization of the origin of the event stream's final URL (i.e., the URL after redirects), and its
    // lastEventId attribute to the last event ID string of the event source."
    // One init object for every event: the constructor copies its fields, and one allocation less per event shows
    // in the garbage collector's share (bench/client.bench.mjs).
    const init = MESSAGE_INIT
    init.data = value
    init.lastEventId = lastEventId
    init.origin = this.#origin
    const event = new SourceMessageEvent(type, init)
    init.data = undefined
    if (iterators !== undefined) for (const queue of iterators) queue.offer(event as unknown as EventSourceMessage<Events>)
    if (listeners !== undefined) this.#listeners.dispatch(event, listeners)
    return true
  }

  /**
   * [spec] "When a user agent is to reestablish the connection": set `readyState` to CONNECTING, fire `error`, wait
   * the reconnection time (plus backoff after failures), then connect again with `Last-Event-ID`.
   */
  #reestablish(connection: Connection, error: ClientError, retryAfterMs?: number): void {
    if (this.#connection !== connection || this.#readyState === CLOSED) return
    this.#connection = undefined
    if (connection.productive && connection.overflow === undefined) this.#failures = 0
    this.#failures++
    const maxAttempts = this.#backoff.maxAttempts
    if (maxAttempts !== null && this.#failures > maxAttempts) {
      this.#fail(new ClientError('ERR_CLIENT_RETRIES_EXHAUSTED', `gave up after ${maxAttempts} failed reconnection attempts: ${error.message}`, { cause: error, ...(error.status !== undefined && { status: error.status }) }))
      return
    }
    let delay = backoffDelay(this.#failures, this.#reconnectionTimeMs, this.#backoff.maxMs, Math.random())
    if (retryAfterMs !== undefined) delay = Math.max(delay, Math.min(retryAfterMs, this.#retryOn.maxRetryAfterMs))
    this.#readyState = CONNECTING
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined
      // [spec] "If the EventSource object's readyState attribute is not set to CONNECTING, then return."
      if (this.#readyState === CONNECTING) this.#connect()
    }, delay)
    this.dispatchEvent(new ClientErrorEvent(error))
  }

  /**
   * [spec] "When a user agent is to fail the connection, the user agent must queue a task which, if the readyState
   * attribute is set to a value other than CLOSED, sets the readyState attribute to CLOSED and fires an event named
   * error at the EventSource object. Once the user agent has failed the connection, it does not attempt to
   * reconnect."
   */
  #fail(error: ClientError): void {
    if (this.#readyState === CLOSED) return
    this.#shutDown()
    this.#failure = error
    if (this.#iterators !== undefined) for (const queue of this.#iterators) queue.fail(error)
    this.#iterators = undefined
    this.dispatchEvent(new ClientErrorEvent(error))
  }

  #shutDown(): void {
    this.#readyState = CLOSED
    const connection = this.#connection
    this.#connection = undefined
    connection?.controller.abort()
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer)
    this.#reconnectTimer = undefined
    this.#signal?.removeEventListener('abort', this.#onAbort)
  }

  #getHandler(type: string): Handler {
    return this.#handlers.get(type)?.handler ?? null
  }

  #setHandler(type: string, handler: unknown): void {
    const value = typeof handler === 'function' ? (handler as Handler) : null
    let slot = this.#handlers.get(type)
    if (value === null) {
      // Like a DOM event handler set to null: the listener goes, and a later handler is added again at the end.
      if (slot !== undefined) {
        this.#listeners.remove(type, slot.listener, false)
        this.#handlers.delete(type)
      }
      return
    }
    if (slot === undefined) {
      const created: HandlerSlot = {
        handler: value,
        listener: (event) => {
          const current = created.handler as ((this: EventSource<Events>, event: Event) => unknown) | null
          current?.call(this, event)
        },
      }
      slot = created
      this.#handlers.set(type, slot)
      this.#listeners.add(type, slot.listener, false)
    } else {
      slot.handler = value
    }
  }
}
