import { encodeBytes } from '../protocol/encode.js'
import type { HeraldError } from '../protocol/errors.js'
import { checkBoolean, checkFunction, checkMilliseconds, checkMillisecondsOrNull, checkPositiveInteger } from './check-option.js'
import { concatBytes } from './concat-bytes.js'
import { ServerError } from './errors.js'
import { DEFAULT_KEEP_ALIVE_MS, defaultKeepAliveScheduler, type KeepAliveScheduler, type KeepAliveTarget } from './keep-alive.js'
import { silentLogger, type Logger } from './logger.js'
import type { Sink, SseRequest } from './sink.js'
import { encodeSseEvent, serializeJson, type EventMap, type Serializer, type SseEvent } from './sse-event.js'
import { WriteFlusher } from './write-flusher.js'
import { WritePacer } from './write-pacer.js'

/** The most bytes a session holds for a client that is not reading, before it closes as a slow consumer: 1 MiB. */
export const DEFAULT_MAX_QUEUE_BYTES = 1024 * 1024

/** The most events a session holds for a client that is not reading, before it closes as a slow consumer: 1000. */
export const DEFAULT_MAX_QUEUE_EVENTS = 1000

/**
 * With `coalesceWrites`, what a session holds back at most before it writes at once: 16 KiB (or half of
 * `maxQueueEvents` events). A chunk this large is written as it comes.
 */
export const COALESCE_MAX_BYTES = 16 * 1024

/** The longest `writeDelayMs` or `writeIntervalMs` a session accepts: 60 000 ms. */
export const MAX_WRITE_DELAY_MS = 60_000

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
   * Hold each event back until the I/O callbacks that are ready have run, and write it from a queue shared by every
   * such session in the process, together with whatever else the session received meanwhile. When many sessions get
   * events at a high rate (fan-out of a busy topic to thousands of subscribers), a subscriber then gets the updates
   * of several publishes in one write instead of one write each, and the CPU the kernel spends per delivery drops
   * accordingly. The delay is the time the process needs for its current work, never a timer: nothing when it is
   * idle; when it is busy, the writes of the sessions ahead in the queue, in turns of 16 sessions (doubling up to
   * 1024 while no write merges anything), with the I/O that is ready handled between turns. A session holds at most
   * {@link COALESCE_MAX_BYTES} or half of `maxQueueEvents` events; past that it writes at once. `whenDrained()`
   * resolves once held events are written; `stream()` does not wait for them.
   * @defaultValue `false`: every event is written as it is sent
   */
  coalesceWrites?: boolean
  /**
   * Hold each event at least this many milliseconds, and write it with whatever else the session receives meanwhile:
   * {@link SessionOptions.coalesceWrites} (which a delay implies) with a wait of its own. Where a subscriber gets
   * events more often than once per delay (a busy topic, a token stream), a write carries several of them, and the
   * kernel's CPU per delivery drops with the number of writes; each event arrives up to the delay later. In the hub
   * benchmark's scenario A (`npm run bench:hub -- --systems herald-hub,herald-hub-delay-20 --scenarios A`: 100
   * updates/s to each of 1,000 subscribers, where writing at once can merge nothing), 20 ms cut the CPU per delivery
   * by 30 % and added about 10 ms to the median latency. One timer per distinct delay serves every session in
   * the process; no session has a timer of its own. The bounds of `coalesceWrites` apply: past
   * {@link COALESCE_MAX_BYTES} or half of `maxQueueEvents` events a session writes at once.
   * @defaultValue `0`: no wait beyond `coalesceWrites`
   */
  writeDelayMs?: number
  /**
   * The least time between two writes of the session, in milliseconds: {@link SessionOptions.coalesceWrites} (which
   * an interval implies) that waits only after a write. An event that comes when the session wrote nothing for this
   * long is written as `coalesceWrites` writes it, with no wait; one that comes sooner is held until the interval
   * since the last write is over, and written with everything else that came meanwhile. So a session writes at most
   * once per interval: a subscriber whose events come further apart sees no delay at all, and one that gets them often (a
   * busy topic, a token stream) gets them in fewer, larger writes, each event at most an interval later. Compared
   * with `writeDelayMs` of the same length, the wait is shorter (an event waits from 0 to the interval, never more)
   * and merges a little less. In the hub benchmark's scenario A (`npm run bench:hub -- --systems
   * herald-hub,herald-hub-interval-0,herald-hub-delay-40 --scenarios A`: 100 updates/s to each of 1,000
   * subscribers, the hub's default interval of 40 ms), 40 ms cut the CPU per delivery from 8.0 to 5.0 µs, and
   * raised the median latency from 8 to 23 ms (a 40 ms delay: 3.7 µs, 24 ms). One timer per distinct interval
   * serves every session in the process. The bounds of `coalesceWrites` apply.
   * @defaultValue `0`: no interval
   */
  writeIntervalMs?: number
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
  /**
   * Called once when the session closes, for any reason, with the close reason, right after {@link SessionHandle.signal}
   * aborts. Lighter than a listener on `signal`: a session creates its `AbortSignal` only when `signal` is read, and
   * one costs about 0.7 KB of heap, which counts when a process holds tens of thousands of idle sessions. A listener
   * that throws is reported to `logger`.
   * @defaultValue undefined
   */
  onClose?: ((reason: HeraldError) => void) | undefined
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
   * Calls `listener` once when the session closes, with the close reason, right after {@link SessionHandle.signal}
   * aborts; at once when the session is closed already. Returns a function that removes the listener. Lighter than
   * listening on `signal`, whose `AbortSignal` is made only when `signal` is first read: channels use it.
   *
   * @throws `ERR_SERVER_INVALID_OPTION` when `listener` is not a function.
   */
  onClose(listener: (reason: HeraldError) => void): () => void
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
  return new SinkSession<Events>(sink, request, options)
}

/**
 * A session's last write time and its keep-alive write, for {@link SessionKeepAlive}: set by the static block of
 * {@link SinkSession}, the one place that can reach its private state, so that a session needs no closures for them.
 */
let lastWriteOf: <Events extends object>(session: SinkSession<Events>) => number
let keepAliveOf: <Events extends object>(session: SinkSession<Events>) => void
/** Writes what a session with `coalesceWrites` held back (its turn in {@link sessionFlusher}). */
let flushOf: <Events extends object>(session: SinkSession<Events>) => boolean
/** Whether `stream()` must wait before it sends more: the client is behind (held events do not count). */
let mustWaitOf: <Events extends object>(session: SinkSession<Events>) => boolean

// Only sessions are added; the check gives back the class without a cast (the event map plays no part).
const flushSession = (session: object): boolean => session instanceof SinkSession && flushOf(session)

/** The queue every session with `coalesceWrites` and no `writeDelayMs` in the process writes from. */
const sessionFlusher = new WriteFlusher<object>(flushSession)

/** The queues of sessions with a `writeDelayMs`, one per delay (so each is in due order), made when first needed. */
const delayedFlushers = new Map<number, WriteFlusher<object>>()

function flusherFor(delayMs: number): WriteFlusher<object> {
  if (delayMs === 0) return sessionFlusher
  let flusher = delayedFlushers.get(delayMs)
  if (flusher === undefined) delayedFlushers.set(delayMs, (flusher = new WriteFlusher<object>(flushSession, delayMs)))
  return flusher
}

/** Hands a session that waited out its `writeIntervalMs` to its flusher's queue. */
let releaseOf: <Events extends object>(session: SinkSession<Events>) => void

// Only sessions are added, as for flushSession.
const releaseSession = (session: object): void => {
  if (session instanceof SinkSession) releaseOf(session)
}

/** The sessions that wait out a `writeIntervalMs`, one pacer per interval, made when first needed. */
const pacers = new Map<number, WritePacer<object>>()

function pacerFor(intervalMs: number): WritePacer<object> | undefined {
  if (intervalMs === 0) return undefined
  let pacer = pacers.get(intervalMs)
  if (pacer === undefined) pacers.set(intervalMs, (pacer = new WritePacer<object>(releaseSession)))
  return pacer
}

/**
 * The keep-alive scheduler's view of a session: when it last wrote, and the keep-alive write. It holds the session
 * only; two closures per session cost about 0.1 KB more per idle connection (`heapUsed` after GC with 3,000 idle hub
 * subscribers; `npm run bench:hub -- --systems herald-hub --scenarios C` measures memory per connection).
 */
class SessionKeepAlive<Events extends object> implements KeepAliveTarget {
  readonly #session: SinkSession<Events>

  constructor(session: SinkSession<Events>) {
    this.#session = session
  }

  get lastWriteAt(): number {
    return lastWriteOf(this.#session)
  }

  keepAlive(): void {
    keepAliveOf(this.#session)
  }
}

type FailCode = 'ERR_SERVER_WRITE_FAILED' | 'ERR_SERVER_SLOW_CONSUMER' | 'ERR_SERVER_CLIENT_GONE' | 'ERR_SERVER_SOURCE_FAILED'

/**
 * The session {@link createSession} returns. A class, so that its methods live once on the prototype: a session made
 * of closures cost about 1.6 KB more heap per connection (heap snapshots of 3,000 idle sessions), and memory per idle
 * connection is what the hub benchmark's scenario C measures (`npm run bench:hub -- --systems herald-hub --scenarios
 * C`: 18.3 → 16.0 KB per connection with this and the lazy request of the node adapter).
 */
class SinkSession<Events extends object> implements Session<Events> {
  readonly request: SseRequest
  readonly lastEventId: string | null
  readonly maxQueueBytes: number
  readonly maxQueueEvents: number
  readonly #sink: Sink
  readonly #coalesce: boolean
  /** The queue held events wait in: {@link sessionFlusher}, or the one of `writeDelayMs`. */
  readonly #flusher: WriteFlusher<object>
  /** With `writeIntervalMs`: the interval, and where a session that wrote more recently waits it out. */
  readonly #intervalMs: number
  readonly #pacer: WritePacer<object> | undefined
  /** Waiting in {@link SinkSession.#flusher}'s queue (with `coalesceWrites`). */
  #held = false
  /** Made when `signal` is first read (see {@link SessionOptions.onClose}). */
  #controller: AbortController | undefined
  readonly #onClose: ((reason: HeraldError) => void) | undefined
  /** Listeners added with `onClose()`, made with the first. */
  #closeListeners: ((reason: HeraldError) => void)[] | undefined
  /** The sink told of the client going away. */
  #sinkGone = false
  readonly #serialize: Serializer
  readonly #logger: Logger
  readonly #scheduler: KeepAliveScheduler
  #closeReason: HeraldError | undefined
  /** The sink is busy: a write returned `false` (waiting for drain) or a promise that has not settled. */
  #writing = false
  #queue: Uint8Array[] = []
  #queuedBytes = 0
  #queuedEvents = 0
  /** The part of the queue sent with `bounded: false`, left out of the bounds. */
  #unboundedBytes = 0
  #unboundedEvents = 0
  #drainWaiters: (() => void)[] | undefined
  #lastWriteAt: number
  /** When the session last wrote events (not its opening comment or a keep-alive): what `writeIntervalMs` counts from. */
  #eventsWrittenAt = Number.NEGATIVE_INFINITY
  #stopKeepAlive: (() => void) | undefined
  readonly #onGone = (): void => {
    this.#sinkGone = true
    this.#fail('ERR_SERVER_CLIENT_GONE', 'the client went away')
  }
  readonly #onDrain = (): void => this.#drained()

  constructor(sink: Sink, request: SseRequest, options: SessionOptions) {
    const keepAliveMs = checkMillisecondsOrNull(options.keepAliveMs, 'keepAliveMs', DEFAULT_KEEP_ALIVE_MS)
    const retry = options.retry ?? null
    if (retry !== null && (typeof retry !== 'number' || !Number.isSafeInteger(retry) || retry < 0)) {
      throw new ServerError('ERR_SERVER_INVALID_OPTION', `retry must be a non-negative integer of milliseconds or null, not ${String(retry)}`)
    }
    this.maxQueueBytes = checkPositiveInteger(options.maxQueueBytes, 'maxQueueBytes', DEFAULT_MAX_QUEUE_BYTES)
    this.maxQueueEvents = checkPositiveInteger(options.maxQueueEvents, 'maxQueueEvents', DEFAULT_MAX_QUEUE_EVENTS)
    this.#serialize = checkFunction(options.serialize, 'serialize', serializeJson)
    this.#scheduler = options.keepAliveScheduler ?? defaultKeepAliveScheduler
    this.#logger = options.logger ?? silentLogger
    this.#onClose = checkFunction(options.onClose, 'onClose', undefined)
    const writeDelayMs = checkMilliseconds(options.writeDelayMs, 'writeDelayMs', 0, MAX_WRITE_DELAY_MS)
    this.#intervalMs = checkMilliseconds(options.writeIntervalMs, 'writeIntervalMs', 0, MAX_WRITE_DELAY_MS)
    this.#coalesce = checkBoolean(options.coalesceWrites, 'coalesceWrites', false) || writeDelayMs > 0 || this.#intervalMs > 0
    this.#flusher = flusherFor(writeDelayMs)
    this.#pacer = pacerFor(this.#intervalMs)
    this.#sink = sink
    this.request = request
    this.lastEventId = request.lastEventId
    this.#lastWriteAt = this.#scheduler.now()

    // A sink with onAbort calls the listener at once when the client is gone already.
    if (sink.onAbort !== undefined) sink.onAbort(this.#onGone)
    else if (sink.signal.aborted) this.#onGone()
    else sink.signal.addEventListener('abort', this.#onGone, { once: true })
    if (isClosed(this)) return
    sink.onDrain?.(this.#onDrain)
    this.#writeToSink(encodeBytes(retry === null ? { comment: '' } : { comment: '', retry }), false)
    if (keepAliveMs !== null && this.#closeReason === undefined) {
      this.#stopKeepAlive = this.#scheduler.add(new SessionKeepAlive(this), keepAliveMs)
    }
  }

  static {
    lastWriteOf = <Events extends object>(session: SinkSession<Events>): number => session.#lastWriteAt
    keepAliveOf = <Events extends object>(session: SinkSession<Events>): void => {
      // Bytes still waiting for the client keep the connection busy already.
      if (session.#closeReason === undefined && !session.#busy()) session.#writeToSink(KEEP_ALIVE_BYTES, false)
    }
    flushOf = <Events extends object>(session: SinkSession<Events>): boolean => {
      session.#held = false
      // Closing wrote what was held; a sink that is still busy takes the queue when it drains.
      if (session.#closeReason !== undefined || session.#writing) return false
      const merged = session.#queue.length > 1
      session.#writeQueued()
      return merged
    }
    releaseOf = <Events extends object>(session: SinkSession<Events>): void => {
      session.#flusher.add(session)
    }
    // A queue that is not held exists only while the sink is busy: it is written the moment the sink drains.
    mustWaitOf = <Events extends object>(session: SinkSession<Events>): boolean => session.#writing
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#closeReason !== undefined) this.#controller.abort(this.#closeReason)
    }
    return this.#controller.signal
  }

  get closed(): boolean {
    return this.#closeReason !== undefined
  }

  onClose(listener: (reason: HeraldError) => void): () => void {
    if (typeof listener !== 'function') throw new ServerError('ERR_SERVER_INVALID_OPTION', 'an onClose listener must be a function')
    if (this.#closeReason !== undefined) {
      listener(this.#closeReason)
      return () => undefined
    }
    const listeners = (this.#closeListeners ??= [])
    listeners.push(listener)
    return () => {
      const index = listeners.indexOf(listener)
      if (index !== -1) listeners.splice(index, 1)
    }
  }

  get closeReason(): HeraldError | undefined {
    return this.#closeReason
  }

  get queuedBytes(): number {
    return this.#queuedBytes
  }

  get queuedEvents(): number {
    return this.#queuedEvents
  }

  send(event: SseEvent<Events>): boolean {
    if (this.#closeReason !== undefined) return false
    return this.#push(encodeSseEvent(event, this.#serialize).bytes, 1, true)
  }

  sendBytes(bytes: Uint8Array, options?: SendBytesOptions): boolean {
    if (!(bytes instanceof Uint8Array)) throw new ServerError('ERR_SERVER_INVALID_EVENT', 'sendBytes takes a Uint8Array')
    return this.#push(bytes, options?.events ?? 1, options?.bounded ?? true)
  }

  comment(text: string): boolean {
    if (this.#closeReason !== undefined) return false
    return this.#push(encodeBytes({ comment: text }), 1, true)
  }

  stream(source: AsyncIterable<SseEvent<Events>> | Iterable<SseEvent<Events>>): Promise<void> {
    return pump(this, source, this.#logger)
  }

  whenDrained(): Promise<void> {
    if (this.#closeReason !== undefined || !this.#busy()) return Promise.resolve()
    return new Promise((resolve) => (this.#drainWaiters ??= []).push(resolve))
  }

  close(reason?: HeraldError): void {
    this.#finish(reason ?? new ServerError('ERR_SERVER_SESSION_CLOSED', 'the server closed the session'), true)
  }

  /** Writes a chunk to the sink; `events` is false for the opening comment and keep-alives. */
  #writeToSink(chunk: Uint8Array, events = true): void {
    this.#lastWriteAt = this.#scheduler.now()
    if (events) this.#eventsWrittenAt = this.#lastWriteAt
    let result: boolean | Promise<void>
    try {
      result = this.#sink.write(chunk)
    } catch (cause) {
      this.#fail('ERR_SERVER_WRITE_FAILED', 'the sink threw on write', cause)
      return
    }
    if (result === false) {
      // Without a drain notification the sink cannot tell us when it has room again: treat it as drained.
      if (this.#sink.onDrain !== undefined) this.#writing = true
    } else if (typeof result === 'object') {
      this.#writing = true
      result.then(this.#onDrain, (cause: unknown) => this.#fail('ERR_SERVER_WRITE_FAILED', 'the sink rejected a write', cause))
    }
  }

  #drained(): void {
    if (this.#closeReason !== undefined || !this.#writing) return
    this.#writing = false
    this.#writeQueued()
  }

  /** Writes what is queued, if anything, and tells the drain waiters when nothing is left waiting. */
  #writeQueued(): void {
    if (this.#queue.length > 0) this.#writeToSink(this.#takeQueue())
    if (!this.#busy()) this.#notifyDrained()
  }

  #takeQueue(): Uint8Array {
    // Coalesce: one write for everything the client fell behind on.
    const chunk = concatBytes(this.#queue)
    this.#clearQueue()
    return chunk
  }

  #clearQueue(): void {
    this.#queue = []
    this.#queuedBytes = this.#queuedEvents = this.#unboundedBytes = this.#unboundedEvents = 0
  }

  /** Whether bytes are waiting, in the queue or in the sink. */
  #busy(): boolean {
    return this.#writing || this.#queue.length > 0
  }

  #notifyDrained(): void {
    const waiters = this.#drainWaiters
    if (waiters === undefined) return
    this.#drainWaiters = undefined
    for (const resolve of waiters) resolve()
  }

  #push(bytes: Uint8Array, events: number, bounded: boolean): boolean {
    if (this.#closeReason !== undefined) return false
    if (!this.#busy() && (!this.#coalesce || bytes.byteLength >= COALESCE_MAX_BYTES)) {
      this.#writeToSink(bytes)
      return !isClosed(this)
    }
    this.#queue.push(bytes)
    this.#queuedBytes += bytes.byteLength
    this.#queuedEvents += events
    if (this.#coalesce && !this.#writing) {
      // Held, not behind: written by the flusher, or now once it is worth a write of its own (so the held part never
      // reaches the queue bounds, which are for clients that do not read).
      if (this.#queuedBytes >= COALESCE_MAX_BYTES || this.#queuedEvents * 2 >= this.maxQueueEvents) {
        this.#writeToSink(this.#takeQueue())
        return !isClosed(this)
      }
      if (!this.#held) {
        this.#held = true
        const pacer = this.#pacer
        const wait = pacer === undefined ? 0 : this.#eventsWrittenAt + this.#intervalMs - this.#scheduler.now()
        if (pacer !== undefined && wait > 0) pacer.add(this, wait)
        else this.#flusher.add(this)
      }
      return true
    }
    if (!bounded) {
      this.#unboundedBytes += bytes.byteLength
      this.#unboundedEvents += events
    } else if (this.#queuedBytes - this.#unboundedBytes > this.maxQueueBytes || this.#queuedEvents - this.#unboundedEvents > this.maxQueueEvents) {
      this.#fail('ERR_SERVER_SLOW_CONSUMER', `the client fell behind by more than ${this.maxQueueEvents} events or ${this.maxQueueBytes} bytes`)
      return false
    }
    return true
  }

  #fail(code: FailCode, message: string, cause?: unknown): void {
    if (this.#closeReason !== undefined) return
    if (code === 'ERR_SERVER_WRITE_FAILED') this.#logger.warn?.('closing an SSE session: write failed', { cause })
    this.#finish(new ServerError(code, message, cause === undefined ? undefined : { cause }), false)
  }

  #finish(reason: HeraldError, flush: boolean): void {
    if (this.#closeReason !== undefined) return
    this.#closeReason = reason
    this.#stopKeepAlive?.()
    const sink = this.#sink
    if (sink.onAbort === undefined) sink.signal.removeEventListener('abort', this.#onGone)
    if (flush && this.#queue.length > 0 && !this.#sinkGone) {
      try {
        void Promise.resolve(sink.write(this.#takeQueue())).catch(() => undefined)
      } catch {
        // The client went away while we flushed; the close below still runs.
      }
    }
    this.#clearQueue()
    try {
      sink.close()
    } catch (cause) {
      this.#logger.warn?.('an SSE sink threw on close', { cause })
    }
    this.#controller?.abort(reason)
    const listeners = this.#closeListeners === undefined ? [] : this.#closeListeners.splice(0)
    if (this.#onClose !== undefined) listeners.unshift(this.#onClose)
    for (const listener of listeners) {
      try {
        listener(reason)
      } catch (cause) {
        this.#logger.warn?.('an SSE session onClose listener threw', { cause })
      }
    }
    this.#notifyDrained()
  }
}

/** Feeds a source into a session, one event per drain, calling the iterator's `return()` when the session closes. */
async function pump<Events extends object>(
  session: SinkSession<Events>,
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
      if (mustWaitOf(session)) await session.whenDrained()
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
