import { encodeBytes } from '../protocol/encode.js'
import type { HeraldError } from '../protocol/errors.js'
import { encodeGapEvent, type GapReason } from '../server/gap-event.js'
import type { Logger } from '../server/logger.js'
import type { Session } from '../server/session.js'
import type { Authorizer } from './auth/authorizer.js'
import type { Broker, Unsubscribe } from './broker/broker.js'
import { HubError } from './errors.js'
import { ExpiryScheduler } from './expiry-scheduler.js'
import type { HistoryStore } from './history/history-store.js'
import { createHubMetrics, type HubMetrics } from './hub-metrics.js'
import type { HubRequest } from './hub-request.js'
import { HubSubscriber } from './hub-subscriber.js'
import { HUB_PATH } from './http/publish-request.js'
import { parseSubscribeRequest } from './http/subscribe-request.js'
import { RecentPositions } from './recent-positions.js'
import { compareOffsets, type StreamPosition } from './stream-position.js'
import { SubscriberRegistry } from './subscriber-registry.js'
import { createTopicSelector, type TopicSelectorSpec } from './topic-selector.js'
import type { HubMessage, HubUpdate } from './update.js'

/** The settings the core runs with (validated by `createHub`). */
export interface HubCoreSettings {
  readonly history: HistoryStore
  readonly broker: Broker
  readonly authorizer: Authorizer
  readonly heartbeatMs: number | null
  readonly maxQueueBytes: number
  /** Subscriber sessions write from the process's shared queue (the session option `coalesceWrites`). */
  readonly coalesceWrites: boolean
  /** Subscriber sessions hold updates this long at least (the session option `writeDelayMs`). */
  readonly writeDelayMs: number
  /** The least time between two writes to a subscriber (the session option `writeIntervalMs`). */
  readonly writeIntervalMs: number
  readonly subscriptions: boolean
  readonly replayPageSize: number
  readonly logger: Logger
}

/** The subscription document of the subscriptions API and of subscription events. */
export interface SubscriptionDocument {
  '@context'?: string
  id: string
  type: 'Subscription'
  topic: string
  subscriber: string
  active: boolean
  payload?: unknown
}

const CONTEXT = 'https://mercure.rocks/'
/** Live messages held while recovering after a broker reconnect; past it they are read back from history. */
const RECOVERY_BUFFER = 10_000
/** How many times recovery reads history again after its hold overflowed, before it gives up. */
const MAX_RECOVERY_ROUNDS = 10
/** Failed history reads a recovery retries before it gives up and sends the gap event. */
const MAX_RECOVERY_FAILURES = 12
/** The first delay between recovery attempts; it doubles up to the maximum (about a minute in all). */
const RECOVERY_RETRY_MS = 100
const RECOVERY_RETRY_MAX_MS = 10_000
/** Entries examined per read while finding the history's newest position at start. */
const HEAD_SCAN_PAGE = 1000
/**
 * How many of its last deliveries a node remembers, for recovery to read history from the earliest of them and skip
 * those (see {@link RecentPositions}): an update of a node slow to reach a pub/sub broker is found when fewer than
 * this many updates were delivered between its append and the broker outage.
 */
const RECOVERY_LOOK_BACK = 1_000

/** Whether `position` is at or before `mark` in the same epoch. */
function isAtOrBefore(position: StreamPosition, mark: StreamPosition | undefined): boolean {
  return mark !== undefined && mark.epoch === position.epoch && compareOffsets(position.offset, mark.offset) <= 0
}

/**
 * The hub's state and behaviour, independent of the transport: publishing through history then broker, fan-out to
 * subscribers, resuming with no gap and no duplicate, token expiry, draining.
 */
export class HubCore {
  readonly registry = new SubscriberRegistry()
  readonly metrics: HubMetrics
  readonly settings: HubCoreSettings
  /** The id of the last update dispatched, for the subscriptions API's `lastEventID`. */
  lastEventId = 'earliest'
  #draining = false
  /** The last messages dispatched (shared histories only): where recovery reads from, and what it skips. */
  readonly #recent = new RecentPositions(RECOVERY_LOOK_BACK)
  /** Live messages held while recovering, or `undefined` when not recovering. */
  #held: HubMessage[] | undefined
  #heldOverflow = false
  /** The last position a recovery read from history: later broker messages at or before it are duplicates. */
  #recoveredUpTo: StreamPosition | undefined
  /** The history's newest position when the node started (shared histories only). */
  readonly #startHead: Promise<StreamPosition | undefined>
  #publishTail: Promise<unknown> = Promise.resolve()
  #unsubscribe: Unsubscribe | undefined
  readonly #ready: Promise<void>
  readonly #expiry = new ExpiryScheduler()
  /** One function for every subscriber's replay deliveries (metrics), not a closure each. */
  readonly #countDeliveries = (count: number): void => this.metrics.deliveries.inc(count)
  readonly #sessions = new Set<Session>()

  constructor(settings: HubCoreSettings) {
    this.settings = settings
    this.metrics = createHubMetrics({
      connections: () => this.#sessions.size,
      subscriptions: () => this.registry.subscriptionCount,
      topics: () => this.registry.indexedTopics,
      historySize: () => settings.history.size(),
    })
    this.#ready = settings.broker.subscribe((message) => this.#dispatch(message), { onMissed: () => void this.#recover() }).then((unsubscribe) => {
      this.#unsubscribe = unsubscribe
    })
    // Reported through ready(); a rejection here must not go unhandled meanwhile.
    this.#ready.catch(() => undefined)
    this.#startHead = settings.history.capabilities.sharedAcrossNodes
      ? (settings.history.newest?.() ?? this.#findHead()).catch(() => undefined)
      : Promise.resolve(undefined)
  }

  /** Resolves once the hub receives updates from its broker. */
  ready(): Promise<void> {
    return this.#ready
  }

  /** Whether the hub is draining (refusing new subscribers and updates). */
  get draining(): boolean {
    return this.#draining
  }

  /** Open subscriber connections. */
  get connections(): number {
    return this.#sessions.size
  }

  /**
   * Publishes an update: appended to history (durable before this resolves when the store is), then handed to the
   * broker. Resolves with the update's id.
   *
   * Appends start in call order without waiting for the ones before them (every store issues positions in `append`
   * call order), and each `broker.publish` waits for the previous one, so history order and broker order agree.
   * Why not one update at a time: a node then took one publish per round trip to its engine, however many publishers
   * waited; with a publisher at a steady rate (`npm run bench:hub -- --systems herald-hub-redis-2 --scenarios A`),
   * an update that came while the previous one was still on its way waited for that round trip before its own.
   */
  publish(update: HubUpdate): Promise<string> {
    if (this.#draining) return Promise.reject(new HubError('ERR_HUB_HTTP_SHUTTING_DOWN', 'the hub is shutting down'))
    // then() callbacks on the same promise run in registration order: the appends start in call order.
    const appended = this.#ready.then(() => this.settings.history.append(update))
    // Awaited below once the previous publish is done; a rejection meanwhile is not unhandled.
    appended.catch(() => undefined)
    const run = async (): Promise<string> => {
      const position = await appended
      await this.settings.broker.publish({ update, position })
      this.metrics.publishes.inc()
      return update.id
    }
    const result = this.#publishTail.then(run, run)
    this.#publishTail = result.catch(() => undefined)
    return result
  }

  #dispatch(message: HubMessage): void {
    if (this.#held !== undefined) {
      // Recovering: the message waits until history has been read up to it (see #recover).
      if (this.#held.length < RECOVERY_BUFFER) this.#held.push(message)
      else this.#heldOverflow = true
      return
    }
    // Read from history by a recovery already: its broker message arrived late (a slow publishing node).
    if (isAtOrBefore(message.position, this.#recoveredUpTo)) return
    this.#deliver(message)
  }

  #deliver(message: HubMessage): void {
    if (this.settings.history.capabilities.sharedAcrossNodes) this.#recent.add(message.position)
    this.lastEventId = message.update.id
    // Counted once per message: a metric update per subscriber showed in the hub benchmark's profile (`npm run
    // bench:hub -- --systems herald-hub --scenarios S`).
    const delivered = this.registry.dispatch(message, encodeUpdate)
    if (delivered > 0) this.metrics.deliveries.inc(delivered)
  }

  /**
   * The broker may have lost messages (its connection dropped and came back): hold live messages, read history from
   * the earliest of the last deliveries (see `#recoveryStart`) and dispatch what was not dispatched yet, then
   * release the held messages that history did not already cover. Reading from before the last delivery finds the
   * update of a node that was slow to reach a pub/sub broker, older than updates delivered before the outage but sent
   * during it. When the outage outlasted the history, every subscriber gets the gap event first. Needs a history
   * shared with the publishing nodes (Redis, NATS); with none, there is nothing to read and the held messages are
   * released.
   */
  async #recover(): Promise<void> {
    if (this.#held !== undefined || !this.settings.history.capabilities.sharedAcrossNodes) return
    this.#held = []
    let failures = 0
    try {
      for (let round = 0; round < MAX_RECOVERY_ROUNDS; ) {
        try {
          const furthest = this.#recent.furthest()
          let from = await this.#recoveryStart()
          for (let first = true; ; first = false) {
            const page = await this.settings.history.readAfter(from, { match: () => true, limit: this.settings.replayPageSize })
            // The start may be gone from history while everything after the furthest delivery is still there: then
            // nothing this node had not delivered is known to be lost.
            const oldest = page.messages[0]
            if (page.gap && !(first && oldest !== undefined && isAtOrBefore(oldest.position, furthest))) this.#announceGap(oldest?.update.id ?? null)
            for (const message of page.messages) {
              this.#recoveredUpTo = message.position
              if (!this.#recent.has(message.position)) this.#deliver(message)
            }
            if (page.done || page.next === undefined) break
            from = page.next
          }
        } catch (error) {
          // History may be down too (the same server as the broker): hold on and read again, with a growing delay.
          if (++failures > MAX_RECOVERY_FAILURES || this.#draining) throw error
          this.settings.logger.warn?.('history unreachable while recovering after a broker reconnect; retrying', { error })
          await new Promise((resolve) => setTimeout(resolve, Math.min(RECOVERY_RETRY_MAX_MS, RECOVERY_RETRY_MS * 2 ** (failures - 1))))
          continue
        }
        round++
        if (!this.#heldOverflow) break
        // Messages were dropped from the hold while reading: they are in history, read again from where we are.
        this.#heldOverflow = false
        this.#held = []
      }
    } catch (error) {
      this.settings.logger.error?.('could not read history after a broker reconnect; updates may be missing', { error })
      this.#announceGap(null)
    } finally {
      const held = this.#held
      this.#held = undefined
      for (const message of held) {
        if (!isAtOrBefore(message.position, this.#recoveredUpTo)) this.#deliver(message)
      }
    }
  }

  /**
   * Where recovery reads history from: the earliest of the last {@link RECOVERY_LOOK_BACK} positions delivered or,
   * while the node has delivered fewer since it started, the history's newest entry at its start, so that it finds
   * every update since then that it missed. A node that delivered nothing yet and has no start position reads from
   * the beginning.
   */
  async #recoveryStart(): Promise<StreamPosition | 'earliest'> {
    const earliest = this.#recent.earliest()
    if (earliest === undefined) return (await this.#startHead) ?? 'earliest'
    if (this.#recent.full) return earliest
    const head = await this.#startHead
    return head !== undefined && isAtOrBefore(head, earliest) ? head : earliest
  }

  /** Tells every subscriber that updates were lost (the broker outage outlasted the history). */
  #announceGap(oldestId: string | null): void {
    const bytes = encodeGapEvent({ lastEventId: this.lastEventId, reason: 'expired', oldestId, newestId: null })
    for (const subscriber of this.registry.subscribers()) subscriber.notify(bytes)
  }

  /**
   * The position of the newest history entry when the node started (`undefined` for an empty history), where a
   * recovery on a node that has dispatched nothing yet starts reading, for a store without `newest()`: found by paging
   * through history once, in the background, only for histories shared across nodes. Every Herald store has
   * `newest()`; this paging read all of a 19,000-entry NATS history at each node's start (70 MB of RSS, benchmark
   * `herald-hub-nats-2`).
   */
  async #findHead(): Promise<StreamPosition | undefined> {
    let from: StreamPosition | 'earliest' = 'earliest'
    let head: StreamPosition | undefined
    for (;;) {
      const page = await this.settings.history.readAfter(from, { match: () => false, limit: 1, scanLimit: HEAD_SCAN_PAGE })
      if (page.next !== undefined) head = page.next
      if (page.done || page.next === undefined) return head
      from = page.next
    }
  }


  /**
   * Serves a subscribe request: checks the query and the token, registers the subscriber, opens the stream (with the
   * Mercure `Last-Event-ID` response header when resuming), replays history after the resume point, then goes live.
   * Throws a coded `HubError` before anything is sent when the request is refused.
   */
  async subscribe(request: HubRequest, responseHeaders: Record<string, string>): Promise<void> {
    if (this.#draining) throw new HubError('ERR_HUB_HTTP_SHUTTING_DOWN', 'the hub is shutting down')
    await this.#ready
    const { selectors, lastEventId } = parseSubscribeRequest(request.url, request.headers)
    const grant = await this.settings.authorizer.authorizeSubscribe(request)
    const baseURL = new URL(HUB_PATH, request.url)
    const selector = createTopicSelector(selectors, { baseURL })
    // The resume point is looked up first. The subscriber registers after that but before history is read, so an
    // update published in between is either read back from history or held in the subscriber's buffer.
    let from: StreamPosition | 'earliest' | undefined
    let gap: GapReason | undefined
    if (lastEventId === 'earliest') from = 'earliest'
    else if (lastEventId !== undefined) {
      from = await this.settings.history.locate(lastEventId)
      if (from === undefined) gap = 'unknown'
    }
    const resuming = lastEventId !== undefined
    const replaying = from !== undefined
    const subscriber = new HubSubscriber({
      selector,
      privateAccess: grant?.subscribe ?? null,
      payload: grant === null ? undefined : (selector.specs[0] === undefined ? grant.payload : grant.payloadFor(selector.specs[0].value)),
      replaying,
    })
    subscriber.onDelivered = this.#countDeliveries
    // No await from here to openStream: a live update cannot arrive before the session exists.
    this.registry.add(subscriber)
    const headers = { ...responseHeaders }
    // Mercure: "When the request contains a Last-Event-ID HTTP header or a lastEventID query parameter the hub MUST
    // set a Last-Event-ID header on the HTTP response": the id preceding the first event sent, or `earliest`.
    if (resuming) headers['last-event-id'] = from === undefined || from === 'earliest' ? 'earliest' : (lastEventId)
    let session: Session | undefined
    const cancelExpiry =
      grant?.expiresAt === undefined
        ? undefined
        : this.#expiry.schedule(grant.expiresAt, () => {
            this.metrics.evictions.inc({ reason: 'token_expired' })
            subscriber.session?.close(new HubError('ERR_HUB_AUTH_TOKEN_EXPIRED', 'the subscriber token expired'))
          })
    // onClose, not a listener on session.signal: the session then never makes its AbortSignal, about 0.7 KB per idle
    // connection (`npm run bench:hub -- --systems herald-hub --scenarios C` measures memory per connection).
    const onClose = (reason: HeraldError): void => {
      this.registry.remove(subscriber)
      if (session !== undefined) this.#sessions.delete(session)
      cancelExpiry?.()
      if (reason.code === 'ERR_SERVER_SLOW_CONSUMER') this.metrics.evictions.inc({ reason: 'slow_consumer' })
      if (this.settings.subscriptions && session !== undefined) this.#announce(subscriber, false)
    }
    try {
      session = request.openStream(headers, {
        keepAliveMs: this.settings.heartbeatMs,
        maxQueueBytes: this.settings.maxQueueBytes,
        coalesceWrites: this.settings.coalesceWrites,
        writeDelayMs: this.settings.writeDelayMs,
        writeIntervalMs: this.settings.writeIntervalMs,
        onClose,
      })
    } catch (error) {
      this.registry.remove(subscriber)
      cancelExpiry?.()
      throw error
    }
    // The client may have left before the stream opened: onClose ran already, and there is nothing to serve.
    if (session.closed) return
    subscriber.session = session
    this.#sessions.add(session)
    if (this.settings.subscriptions) this.#announce(subscriber, true)
    if (gap !== undefined) session.sendBytes(encodeGapEvent({ lastEventId: lastEventId as string, reason: gap, oldestId: null, newestId: this.lastEventId === 'earliest' ? null : this.lastEventId }))
    if (from === undefined) return
    try {
      await this.#replay(subscriber, session, from, lastEventId as string)
      while (!subscriber.finishReplay()) {
        await this.#replay(subscriber, session, subscriber.lastPosition ?? from, lastEventId as string)
      }
    } catch (error) {
      this.settings.logger.error?.('history replay failed', { error })
      session.sendBytes(encodeGapEvent({ lastEventId: lastEventId as string, reason: 'unavailable', oldestId: null, newestId: null }))
      subscriber.finishReplay()
    }
  }

  async #replay(subscriber: HubSubscriber, session: Session, start: StreamPosition | 'earliest', lastEventId: string): Promise<void> {
    let from = start
    const match = (update: HubUpdate): boolean => subscriber.accepts(update.topics, update.private)
    let announcedGap = false
    for (;;) {
      if (session.closed) return
      const page = await this.settings.history.readAfter(from, { match, limit: this.settings.replayPageSize })
      if (page.gap && !announcedGap && from !== 'earliest') {
        announcedGap = true
        const oldest = page.messages[0]?.update.id ?? null
        session.sendBytes(encodeGapEvent({ lastEventId, reason: 'expired', oldestId: oldest, newestId: this.lastEventId === 'earliest' ? null : this.lastEventId }))
      }
      for (const message of page.messages) subscriber.replay(message, encodeUpdate(message.update))
      if (page.done || page.next === undefined) return
      from = page.next
      // Backpressure: read the next page only once the client has taken this one.
      if (session.queuedBytes > 0) await session.whenDrained()
    }
  }

  /** Publishes a subscription event (Mercure "Active Subscriptions") for each selector of `subscriber`. */
  #announce(subscriber: HubSubscriber, active: boolean): void {
    for (const spec of subscriber.selector.specs) {
      const doc = subscriptionDocument(spec, subscriber.id, subscriber.payload, active)
      this.publish({ id: `urn:uuid:${crypto.randomUUID()}`, topics: [doc.id], data: JSON.stringify({ '@context': CONTEXT, ...doc }), private: true }).catch(
        (error: unknown) => this.settings.logger.warn?.('could not publish a subscription event', { error }),
      )
    }
  }

  /**
   * Starts draining: new subscribers and updates get 503, and every open stream is closed so its client reconnects
   * (elsewhere) and resumes with Last-Event-ID. Resolves when all streams are closed or after `timeoutMs`.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#draining = true
    const closing = [...this.#sessions].map(
      (session) =>
        new Promise<void>((resolve) => {
          if (session.closed) resolve()
          else session.signal.addEventListener('abort', () => resolve(), { once: true })
          this.metrics.evictions.inc({ reason: 'drain' })
          session.close(new HubError('ERR_HUB_HTTP_SHUTTING_DOWN', 'the hub is shutting down'))
        }),
    )
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([Promise.all(closing), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))])
    clearTimeout(timer)
  }

  /** Stops receiving from the broker and closes the engines. */
  async close(): Promise<void> {
    this.#draining = true
    this.#expiry.clear()
    await this.#publishTail
    await this.#ready.catch(() => undefined)
    await this.#unsubscribe?.()
    await Promise.allSettled([this.settings.broker.close(), this.settings.history.close()])
  }
}

/** The subscription document for one selector of one subscriber. */
export function subscriptionDocument(spec: TopicSelectorSpec, subscriber: string, payload: unknown, active: boolean): SubscriptionDocument {
  const doc: SubscriptionDocument = {
    id: `${HUB_PATH}/subscriptions/${encodeURIComponent(spec.value)}/${encodeURIComponent(subscriber)}`,
    type: 'Subscription',
    topic: spec.value,
    subscriber,
    active,
  }
  if (payload !== undefined) doc.payload = payload
  return doc
}

/** Encodes an update as one SSE event: `id`, `event` (the type), `retry`, `data`. */
export function encodeUpdate(update: HubUpdate): Uint8Array {
  return encodeBytes({
    id: update.id,
    data: update.data,
    ...(update.type !== undefined && { event: update.type }),
    ...(update.retry !== undefined && { retry: update.retry }),
  })
}
