import type { HeraldError } from '../protocol/errors.js'
import { checkFunction } from './check-option.js'
import { concatBytes } from './concat-bytes.js'
import { ServerError } from './errors.js'
import { encodeGapEvent } from './gap-event.js'
import { silentLogger, type Logger } from './logger.js'
import type { ReplayEntry, ReplayResult, ReplayStore } from './replay.js'
import { isClosed, type SessionHandle } from './session.js'
import { encodeSseEvent, serializeJson, type EncodedEvent, type EventMap, type Serializer, type SseEvent, type SseMessage } from './sse-event.js'

/** Options of {@link createChannel}. */
export interface ChannelOptions {
  /**
   * The history replayed to sessions that join with a `Last-Event-ID`. With a store, every broadcast event carries an
   * id (the store makes one when the event has none). `null` keeps no history.
   * @defaultValue `null`
   */
  replay?: ReplayStore | null
  /**
   * Turns event data into text, once per broadcast.
   * @defaultValue {@link serializeJson}
   */
  serialize?: Serializer
  /**
   * Receives replay store failures.
   * @defaultValue a logger that drops everything
   */
  logger?: Logger
}

/** Options of {@link Channel.add}. */
export interface ChannelAddOptions<Events extends object = EventMap> {
  /** Sends the session only the events this returns `true` for, replayed ones included. Called once per event. */
  filter?: (message: SseMessage<Events>) => boolean
  /**
   * Where to resume from. `null` joins live only.
   * @defaultValue `session.lastEventId`
   */
  lastEventId?: string | null
}

/** Options of {@link Channel.broadcast}. */
export interface BroadcastOptions {
  /** Sends only to the sessions this returns `true` for (for example, all but the sender). The history keeps the event. */
  to?: (session: SessionHandle) => boolean
}

/** What {@link Channel.broadcast} did. */
export interface BroadcastResult {
  /** The event's id: the one given, the one the replay store made, or `undefined`. */
  readonly id: string | undefined
  /** How many sessions the event was sent to (or held for, while they catch up). */
  readonly delivered: number
}

/**
 * A group of sessions that receive the same events. `broadcast` encodes an event once and hands the same bytes to
 * every member; sessions leave by themselves when they close.
 *
 * With a replay store, a session that joins with a `Last-Event-ID` gets the events it missed first, then live ones,
 * with no gap and no duplicate even while events are being broadcast. An id the store cannot resume from gets a
 * {@link GAP_EVENT} first, then everything the store holds.
 *
 * @example
 * ```ts
 * const channel = createChannel<{ tick: { n: number } }>({ replay: createMemoryReplay() })
 * http.createServer((req, res) => channel.add(sse(req, res)))
 * setInterval(() => channel.broadcast({ event: 'tick', data: { n: Date.now() } }), 1000)
 * ```
 */
export interface Channel<Events extends object = EventMap> {
  /**
   * Adds a session, replaying what it missed if the channel has a history and the session asks to resume. Returns
   * the function that removes it. Adding a closed session does nothing; adding to a closed channel closes the session
   * with `ERR_SERVER_CHANNEL_CLOSED`; adding a member again changes nothing.
   */
  add(session: SessionHandle, options?: ChannelAddOptions<Events>): () => void
  /** Removes a session without closing it. Returns whether it was a member. */
  remove(session: SessionHandle): boolean
  /** Whether the session is a member. */
  has(session: SessionHandle): boolean
  /**
   * Encodes the event once, records it in the history, and sends the same bytes to every member whose filters accept
   * it. An event the stream cannot carry throws at once. On a closed channel, does nothing.
   */
  broadcast(event: SseEvent<Events>, options?: BroadcastOptions): BroadcastResult
  /** The members. */
  sessions(): IterableIterator<SessionHandle>
  /** How many sessions are members. */
  readonly size: number
  /** The replay store, or `null`. */
  readonly replay: ReplayStore | null
  /** Whether {@link Channel.close} was called. */
  readonly closed: boolean
  /**
   * Closes every member session and refuses new ones.
   * @defaultValue `reason`: a `ServerError` with code `ERR_SERVER_CHANNEL_CLOSED`
   */
  close(reason?: HeraldError): void
}

interface Member<Events extends object> {
  readonly session: SessionHandle
  readonly filter: ((message: SseMessage<Events>) => boolean) | undefined
  /** Removes the session's close listener that takes it out of the channel. */
  readonly stopListening: () => void
  /** Live events held while a replay read is in flight; `null` once caught up. */
  pending: EncodedEvent<Events>[] | null
  /** How many of `pending` were still being recorded when the session joined (not counted against its bound). */
  held: number
}

/**
 * Creates a {@link Channel}.
 *
 * @example
 * ```ts
 * const channel = createChannel({ replay: createMemoryReplay({ maxEvents: 500 }) })
 * channel.broadcast({ event: 'update', data: { id: 1 } })
 * ```
 */
export function createChannel<Events extends object = EventMap>(options: ChannelOptions = {}): Channel<Events> {
  const replay = options.replay ?? null
  if (replay !== null && (typeof replay.append !== 'function' || typeof replay.readAfter !== 'function' || typeof replay.createId !== 'function')) {
    throw new ServerError('ERR_SERVER_INVALID_OPTION', 'replay must be a ReplayStore (createId, append, readAfter)')
  }
  const serialize = checkFunction(options.serialize, 'serialize', serializeJson)
  const logger = options.logger ?? silentLogger
  const members = new Map<SessionHandle, Member<Events>>()
  /** Events whose `append` has not settled yet: a read started now may not see them. */
  const inFlight = new Set<EncodedEvent<Events>>()
  let closed = false

  function deliver(member: Member<Events>, event: EncodedEvent<Events>): boolean {
    const { session, filter, pending } = member
    if (pending !== null) {
      pending.push(event)
      if (pending.length - member.held > session.maxQueueEvents) {
        session.close(new ServerError('ERR_SERVER_SLOW_CONSUMER', `more than ${session.maxQueueEvents} live events arrived while the session was being caught up`))
      }
      return true
    }
    if (filter !== undefined && !filter(event.message)) return false
    session.sendBytes(event.bytes)
    return true
  }

  function record(store: ReplayStore, id: string, event: EncodedEvent<Events>): void {
    const entry: ReplayEntry = { id, message: event.message, bytes: event.bytes }
    let result: void | Promise<void>
    try {
      result = store.append(entry)
    } catch (cause) {
      logger.error?.('a replay store failed to record an event', { id: entry.id, cause })
      return
    }
    if (!isPromiseLike(result)) return
    inFlight.add(event)
    result.then(
      () => inFlight.delete(event),
      (cause: unknown) => {
        inFlight.delete(event)
        logger.error?.('a replay store failed to record an event', { id: entry.id, cause })
      },
    )
  }

  function catchUp(member: Member<Events>, store: ReplayStore, lastEventId: string): void {
    const held = [...inFlight]
    // The client already has an event whose recording is still in flight: resume right after it.
    const index = held.findIndex((event) => event.message.id === lastEventId)
    if (index !== -1) {
      member.pending = held.slice(index + 1)
      finishCatchUp(member, lastEventId, { status: 'found', entries: [] })
      return
    }
    member.pending = held
    member.held = held.length
    let result: ReplayResult | Promise<ReplayResult>
    try {
      result = store.readAfter(lastEventId)
    } catch (cause) {
      replayFailed(member, cause)
      return
    }
    if (!isPromiseLike(result)) {
      finishCatchUp(member, lastEventId, result)
      return
    }
    result.then(
      (read) => finishCatchUp(member, lastEventId, read),
      (cause: unknown) => replayFailed(member, cause),
    )
  }

  function finishCatchUp(member: Member<Events>, lastEventId: string, read: ReplayResult): void {
    const pending = member.pending ?? []
    member.pending = null
    const { session, filter } = member
    if (members.get(session) !== member || session.closed) return
    // Everything the client missed goes out as one chunk.
    const parts: Uint8Array[] = []
    if (read.status === 'gap') {
      parts.push(encodeGapEvent({ lastEventId, reason: read.reason, oldestId: read.oldestId, newestId: read.newestId }))
    }
    for (const entry of read.entries) {
      if (filter === undefined || filter(entry.message as SseMessage<Events>)) parts.push(entry.bytes)
    }
    if (parts.length > 0) session.sendBytes(concatBytes(parts), { events: parts.length, bounded: false })
    // Live events held meanwhile: those up to the last one the read returned are already sent.
    const head = read.entries.at(-1)?.id ?? (read.status === 'found' ? lastEventId : null)
    const start = head === null ? 0 : pending.findLastIndex((event) => event.message.id === head) + 1
    for (const event of pending.slice(start)) {
      if (isClosed(session)) break
      deliver(member, event)
    }
  }

  function replayFailed(member: Member<Events>, cause: unknown): void {
    member.pending = null
    logger.error?.('a replay store failed to read', { cause })
    if (members.get(member.session) !== member) return
    member.session.close(new ServerError('ERR_SERVER_REPLAY_FAILED', 'the history could not be read; reconnect to retry', { cause }))
  }

  const channel: Channel<Events> = {
    add(session, addOptions = {}) {
      const remove = (): void => {
        channel.remove(session)
      }
      if (session.closed || members.has(session)) return remove
      if (closed) {
        session.close(new ServerError('ERR_SERVER_CHANNEL_CLOSED', 'the channel is closed'))
        return remove
      }
      const filter = checkFunction(addOptions.filter, 'filter', undefined)
      // onClose, not a listener on session.signal: the session then never makes its AbortSignal. Heap per session of a
      // channel, 3,000 node sessions, after GC: 9.01 -> 8.43 KB (bench/RESULTS.md, fourth round).
      const member: Member<Events> = { session, filter, stopListening: session.onClose(remove), pending: null, held: 0 }
      members.set(session, member)
      const lastEventId = addOptions.lastEventId === undefined ? session.lastEventId : addOptions.lastEventId
      if (replay !== null && lastEventId !== null) catchUp(member, replay, lastEventId)
      return remove
    },
    remove(session) {
      const member = members.get(session)
      if (member === undefined) return false
      members.delete(session)
      member.pending = null
      member.stopListening()
      return true
    },
    has(session) {
      return members.has(session)
    },
    broadcast(event, broadcastOptions = {}) {
      const id = replay !== null && event.id === undefined ? replay.createId() : event.id
      const encoded = encodeSseEvent<Events>(id === event.id ? event : { ...event, id }, serialize)
      if (closed) return { id, delivered: 0 }
      if (replay !== null && id !== undefined) record(replay, id, encoded)
      const to = broadcastOptions.to
      let delivered = 0
      // Copy first: a send may close a session, which leaves the map.
      for (const member of [...members.values()]) {
        if (to !== undefined && !to(member.session)) continue
        if (deliver(member, encoded)) delivered++
      }
      return { id, delivered }
    },
    sessions() {
      return members.keys()
    },
    get size() {
      return members.size
    },
    replay,
    get closed() {
      return closed
    },
    close(reason) {
      if (closed) return
      closed = true
      const why = reason ?? new ServerError('ERR_SERVER_CHANNEL_CLOSED', 'the channel closed')
      for (const session of [...members.keys()]) {
        channel.remove(session)
        session.close(why)
      }
    },
  }
  return channel
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}
