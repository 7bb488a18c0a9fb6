import { randomUUID } from 'node:crypto'
import { brokerClosedError } from '../broker/broker-closed-error.js'
import type { Broker, SubscribeOptions, Unsubscribe } from '../broker/broker.js'
import { MirrorCopies } from '../broker/mirror-copies.js'
import { SubscriptionSet } from '../broker/subscription-set.js'
import { TailLoop } from '../broker/tail-loop.js'
import { HubError } from '../errors.js'
import { checkOptionsObject, integerOption, objectOption, stringOption } from '../history/option-checks.js'
import { compareOffsets } from '../stream-position.js'
import type { HubMessage, HubUpdate } from '../update.js'
import { decodeEntryNotice, encodeMessage, updateFromFields, type EntryNotice } from './message-codec.js'
import { RedisChannelSubscriber } from './redis-channel-subscriber.js'
import { DEFAULT_REDIS_BROKER_CHANNEL, RedisBroker } from './redis-broker.js'
import {
  createRedisClient,
  DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
  DEFAULT_REDIS_URL,
  destroyRedisClient,
  entryNoticeChannel,
  isNoScript,
  messageOf,
  sendRedisCommand,
  untagReply,
  type RedisClient,
  type RedisEngineClientOptions,
} from './redis-connection.js'
import { DEFAULT_REDIS_HISTORY_KEY_PREFIX } from './redis-history.js'
import { SCRIPTS } from './redis-history-scripts.js'

/**
 * How long a {@link RedisStreamBroker} goes without reading the stream when no notice asks it to: 2 seconds. It reads
 * after every notice it cannot deliver, and after its notice connection came back, so this only bounds how late it
 * finds an entry appended by a node that does not announce its entries (an older Herald).
 */
export const DEFAULT_REDIS_STREAM_BROKER_POLL_MS = 2_000
/** The most stream entries a {@link RedisStreamBroker} reads (and holds) per round trip. */
export const DEFAULT_REDIS_STREAM_BROKER_BATCH_SIZE = 256

/** Options of {@link RedisStreamBroker}. Every field is optional. */
export interface RedisStreamBrokerOptions {
  /**
   * The Redis server of the {@link RedisHistory} to tail, as a `redis://` or `rediss://` URL with optional
   * credentials and database index: the same URL as the history's.
   *
   * @defaultValue `'redis://127.0.0.1:6379'`
   */
  readonly url?: string
  /**
   * Further node-redis client settings: TLS, socket, credentials, reconnect strategy. A `name` is given to the
   * tailing connection with `:tail` appended (default `herald-stream-broker`), as `CLIENT LIST` shows it.
   */
  readonly clientOptions?: RedisEngineClientOptions
  /**
   * The `keyPrefix` of the {@link RedisHistory} to tail: the same as the history's.
   *
   * @defaultValue `DEFAULT_REDIS_HISTORY_KEY_PREFIX` (`'herald:history:'`)
   */
  readonly keyPrefix?: string
  /**
   * A pub/sub channel each published message is also sent to, so that hub nodes of the same cluster that run a
   * {@link RedisBroker} (configured with a broker URL other than their history URL) still receive it. The copy is
   * sent without waiting for Redis (see `publish`); `null` sends nothing, for a cluster with no such node or whose
   * history sends the copies itself (`RedisHistory`'s `copyChannel`, as `createEngines` builds them). Listeners of
   * this broker never read the channel.
   *
   * @defaultValue `DEFAULT_REDIS_BROKER_CHANNEL` (`'herald:broker'`, the {@link RedisBroker} default)
   */
  readonly channel?: string | null
  /**
   * How long one command may take, waiting in the queue while the connection is re-established included: `subscribe`
   * fails with `ERR_HUB_BROKER_UNAVAILABLE` past it, and a copy for `channel` is reported to `onError` past it.
   *
   * @defaultValue `DEFAULT_REDIS_COMMAND_TIMEOUT_MS` (5 s)
   */
  readonly commandTimeoutMs?: number
  /**
   * The longest time between two reads of the stream while notices deliver everything (see the class notes).
   *
   * @defaultValue {@link DEFAULT_REDIS_STREAM_BROKER_POLL_MS} (2 s)
   */
  readonly pollMs?: number
  /**
   * The most entries read per round trip; this bounds the memory the tail holds.
   *
   * @defaultValue {@link DEFAULT_REDIS_STREAM_BROKER_BATCH_SIZE} (256)
   */
  readonly batchSize?: number
  /**
   * Receives errors that do not fail a call: a listener that threw (`ERR_HUB_BROKER_LISTENER_FAILED`), a stream
   * entry or a notice Herald did not write, skipped (`ERR_HUB_BROKER_MESSAGE_INVALID`), a lost connection
   * (`ERR_HUB_BROKER_UNAVAILABLE`, once per outage of each connection; it reconnects on its own), a copy for
   * `channel` that Redis did not acknowledge (`ERR_HUB_BROKER_UNAVAILABLE`). An error thrown by `onError` itself is
   * rethrown from a microtask.
   *
   * @defaultValue a function that ignores the error
   */
  readonly onError?: (error: HubError) => void
}

/** Where delivery stands: the epoch it reads (`''` while the store does not exist yet) and the last id delivered. */
interface Cursor {
  epoch: string
  id: string
}

type TailReply = readonly ['none'] | readonly ['ok', string, number, string, readonly (readonly [string, unknown])[]]

const OWNER = 'RedisStreamBroker'

/**
 * A broker that delivers the updates of a {@link RedisHistory} in the order of its stream, for hub nodes whose history
 * and broker are the same Redis: listeners receive the updates of every node in history order, which is the order a
 * subscriber resuming with `Last-Event-ID` reads them in. (With pub/sub, two nodes publishing at once can reach the
 * broker in the other order than they reached history; a subscriber that resumes after the newer update would then
 * never get the older one.)
 *
 * - **Delivery.** The history's append script publishes each entry it appends on the history's notice channel
 *   (`<keyPrefix>appended@<database>`), inside the script: the notices of every node leave in stream order, each
 *   carrying the update, its position and the id of the entry before it. One connection per broker listens to that
 *   channel. A notice whose previous id is the last one this broker delivered is delivered at once, as a frozen
 *   {@link HubMessage} whose position is the one `RedisHistory.append` returned for it: one pushed message per update
 *   and node, with no command sent. Any other notice (one lost on the way, a new epoch) wakes the *tail*, which reads
 *   the entries after the last one delivered, at most `batchSize` per round trip, with a read-only script that also
 *   checks the epoch and the eviction floor. The tail also reads at the first `subscribe` (the newest entry, where
 *   delivery starts, so an update appended after `subscribe` resolved is delivered), after the notice connection came
 *   back, and every `pollMs`.
 * - **Publish.** `history.append` already put the update in the stream and announced it, so listeners get it from
 *   there, whoever called `publish`. `publish` checks the message, sends a copy to the pub/sub `channel` (for nodes on
 *   a {@link RedisBroker}, which a cluster may mix in, during a move from one broker to the other say) and resolves at
 *   once; copies leave in call order on one connection, and one Redis does not acknowledge in time is reported to
 *   `onError`. `close()` waits for the copies under way. With `channel: null` it sends none: the history's append
 *   script can send them instead, at no round trip (`RedisHistory`'s `copyChannel`, which `createEngines` uses). A
 *   message that was not appended to the history reaches no listener.
 * - **Reconnects.** Notices published while the notice connection is down are lost to it; when it is back, the tail
 *   goes on from the last entry delivered: nothing retained is missed, and `onMissed` is not called. It is called
 *   (see `SubscribeOptions.onMissed`) before the next message when entries after that one were evicted before they
 *   were read (a long outage), or when the store was recreated (a flushed or restarted Redis, a new epoch): the hub
 *   then re-reads history and announces the gap.
 * - **Listeners** are called one message at a time, in stream order; the same frozen message goes to every listener
 *   of this node. The broker listens until `close()`, even with no listener.
 *
 * @example
 * ```ts
 * const history = new RedisHistory({ url: 'redis://cache.internal:6379' })
 * const broker = new RedisStreamBroker({ url: 'redis://cache.internal:6379', onError: (error) => log.warn(error) })
 * await broker.subscribe((message) => node.dispatch(message), { onMissed: () => node.resyncFromHistory() })
 * const position = await history.append(update)
 * await broker.publish({ update, position })
 * ```
 * @see https://redis.io/docs/latest/develop/interact/pubsub/
 */
export class RedisStreamBroker implements Broker {
  readonly #url: string
  readonly #clientOptions: RedisEngineClientOptions | undefined
  readonly #keys: readonly [string, string, string, string]
  readonly #commandTimeoutMs: number
  readonly #batchSize: number
  readonly #subscriptions: SubscriptionSet
  readonly #name: string
  readonly #notices: RedisChannelSubscriber
  readonly #mirror: RedisBroker | undefined
  readonly #copies: MirrorCopies<string>
  readonly #loop: TailLoop
  /** The connection the tail reads on. */
  #client: RedisClient | undefined
  /** The last entry delivered, in its epoch (`''` while the store did not exist). */
  #cursor: Cursor = { epoch: '', id: '0-0' }
  /** The notice connection is down: notices are being lost. */
  #noticesDown = false

  constructor(options: RedisStreamBrokerOptions = {}) {
    checkOptionsObject(OWNER, options)
    this.#url = stringOption(OWNER, 'url', options.url, DEFAULT_REDIS_URL)
    this.#clientOptions = objectOption(OWNER, 'clientOptions', options.clientOptions)
    const prefix = stringOption(OWNER, 'keyPrefix', options.keyPrefix, DEFAULT_REDIS_HISTORY_KEY_PREFIX)
    this.#keys = [`${prefix}epoch`, `${prefix}meta`, `${prefix}stream`, `${prefix}ids`]
    const channel = options.channel === null ? null : stringOption(OWNER, 'channel', options.channel, DEFAULT_REDIS_BROKER_CHANNEL)
    this.#commandTimeoutMs = integerOption(OWNER, 'commandTimeoutMs', options.commandTimeoutMs, DEFAULT_REDIS_COMMAND_TIMEOUT_MS, 1)
    const pollMs = integerOption(OWNER, 'pollMs', options.pollMs, DEFAULT_REDIS_STREAM_BROKER_POLL_MS, 1)
    this.#batchSize = integerOption(OWNER, 'batchSize', options.batchSize, DEFAULT_REDIS_STREAM_BROKER_BATCH_SIZE, 1)
    this.#subscriptions = new SubscriptionSet(OWNER, options.onError)
    this.#name = this.#clientOptions?.name ?? 'herald-stream-broker'
    const noticeChannel = entryNoticeChannel(prefix, this.#url, this.#clientOptions)
    this.#notices = new RedisChannelSubscriber({
      owner: OWNER,
      url: this.#url,
      clientOptions: this.#clientOptions,
      commandTimeoutMs: this.#commandTimeoutMs,
      name: `${this.#name}:notices`,
      channel: noticeChannel,
      onMessage: (payload) => this.#onNotice(payload, noticeChannel),
      onDown: (cause) => {
        this.#noticesDown = true
        this.#loop.markOutage()
        this.#subscriptions.report(unavailable('lost the notice connection', cause))
      },
      // Notices published meanwhile never arrive: read them from the stream.
      onResubscribed: () => {
        this.#noticesDown = false
        this.#loop.signal()
      },
    })
    this.#mirror =
      channel === null
        ? undefined
        : new RedisBroker({
            url: this.#url,
            channel,
            commandTimeoutMs: this.#commandTimeoutMs,
            clientOptions: { ...this.#clientOptions, name: this.#name },
            onError: (error) => this.#subscriptions.report(error),
          })
    const mirror = this.#mirror
    this.#copies = new MirrorCopies({
      owner: OWNER,
      target: `channel ${String(channel)}`,
      encode: encodeMessage,
      forward: mirror === undefined ? undefined : (payload) => mirror.publishEncoded(payload),
      report: (error) => this.#subscriptions.report(error),
    })
    this.#loop = new TailLoop({
      subscriptions: this.#subscriptions,
      pollMs,
      batchSize: this.#batchSize,
      start: () => this.#start(),
      read: () => this.#readBatch(),
      onFailure: (error) => (error instanceof HubError ? error : unavailable('lost the connection to Redis', error)),
      outageUnderWay: () => this.#noticesDown,
    })
  }

  /**
   * Checks the message and sends a copy to `channel` (see the class notes), without waiting for Redis: listeners of
   * stream brokers get the update from the history, which `history.append` wrote before this call.
   *
   * Why not wait: the hub acknowledges a publish after its broker's `publish` resolves, and awaiting the `PUBLISH` put
   * a second round trip to Redis after the append in every acknowledgement: 0.4–0.7 ms at the median in the hub
   * benchmark's scenario S, whose publisher waits for each acknowledgement (`npm run bench:hub -- --systems
   * herald-hub-redis-2 --scenarios S`, see bench/RESULTS.md); without it the acknowledgement's median fell from 5–7
   * to about 3 ms on two busy cores. The copy is not what makes a publish durable; the history is.
   *
   * @throws `ERR_HUB_BROKER_MESSAGE_INVALID` (rejects) for a message that breaks the `HubMessage` contract,
   *   `ERR_HUB_BROKER_CLOSED` after `close()`.
   */
  publish(message: HubMessage): Promise<void> {
    if (this.#loop.isClosed()) return Promise.reject(brokerClosedError())
    return this.#copies.publish(message)
  }

  /**
   * Subscribes a listener; see {@link Broker.subscribe}. The first call subscribes to the history's notices, then finds
   * the stream's newest entry, where delivery starts, and resolves once it has; later calls resolve at once.
   *
   * @throws `ERR_HUB_BROKER_UNAVAILABLE` (rejects) when Redis does not answer within `commandTimeoutMs`;
   *   `ERR_HUB_BROKER_CLOSED` after `close()`.
   */
  subscribe(onMessage: (message: HubMessage) => void, options: SubscribeOptions = {}): Promise<Unsubscribe> {
    return this.#loop.subscribe(onMessage, options)
  }

  async close(): Promise<void> {
    if (!this.#loop.close()) return
    this.#notices.close()
    if (this.#client !== undefined) destroyRedisClient(this.#client)
    await this.#copies.settled()
    await this.#mirror?.close()
  }

  /**
   * Subscribes to the notices, then finds where delivery starts (the newest id issued); the loop runs once it has. In
   * that order, so that every entry after the start is announced to this broker: a notice that came before the start
   * was known is not delivered (the cursor is on no epoch yet) and only asks the tail to read.
   */
  async #start(): Promise<void> {
    await this.#notices.whenSubscribed()
    const reply = await this.#tailScript('head')
    if (reply[0] === 'ok') this.#cursor = { epoch: reply[1], id: reply[3] }
  }

  /**
   * A notice of the history's append script. The one that follows the last entry delivered, in its epoch, is delivered
   * at once; one at or before it was read already; anything else (a notice lost on the way, a new epoch, a notice not
   * Herald's) asks the tail to read the stream.
   *
   * Why notices: the tail used to wait with `XREAD BLOCK` and then read with its script, two commands and a round trip
   * per update and node after the append; CPU profiles of the two-node benchmark (`npm run bench:hub -- --systems
   * herald-hub-redis-2 --scenarios A`) put 0.5–0.8 ms of each node's CPU per update in those commands.
   */
  #onNotice(payload: string, channel: string): void {
    if (this.#loop.isClosed()) return
    let notice: EntryNotice
    try {
      notice = decodeEntryNotice(payload)
    } catch (cause) {
      this.#subscriptions.report(new HubError('ERR_HUB_BROKER_MESSAGE_INVALID', `${OWNER}: a message on ${channel} is not an entry notice: ${messageOf(cause)}`, { cause }))
      this.#loop.signal()
      return
    }
    const cursor = this.#cursor
    const { message, prev } = notice
    const { epoch, offset } = message.position
    if (epoch === cursor.epoch) {
      if (prev === cursor.id) {
        cursor.id = offset
        this.#subscriptions.deliver(message)
        return
      }
      if (compareOffsets(offset, cursor.id) <= 0) return
    }
    this.#loop.signal()
  }

  /**
   * Reads and delivers the entries after the cursor, at most `batchSize`; returns how many it read. Notices may have
   * moved the cursor on while the read was on its way: entries at or before it are skipped.
   */
  async #readBatch(): Promise<number> {
    const reply = await this.#tailScript('after')
    if (reply[0] === 'none' || this.#loop.isClosed()) return 0
    const [, epoch, missed, start, entries] = reply
    if (missed === 1) this.#loop.notifyMissed()
    if (epoch !== this.#cursor.epoch) this.#cursor = { epoch, id: start }
    else if (compareOffsets(start, this.#cursor.id) > 0) this.#cursor.id = start
    for (const [entryId, fields] of entries) {
      if (compareOffsets(entryId, this.#cursor.id) <= 0) continue
      this.#cursor.id = entryId
      const update = this.#decode(entryId, fields)
      if (update !== undefined) this.#subscriptions.deliver(Object.freeze({ update, position: Object.freeze({ epoch, offset: entryId }) }))
      if (this.#loop.isClosed()) break
    }
    return entries.length
  }

  /**
   * Runs the read script by its SHA1, and sends its source only when Redis does not have it (the first call, or after
   * a restart or `SCRIPT FLUSH`). Why: the script is 4 KB, which `EVAL` would send, and Redis hash, on every read. The
   * tail reads only, so sending the script again after `NOSCRIPT` reorders nothing.
   */
  #tailScript(mode: 'head' | 'after'): Promise<TailReply> {
    const { epoch, id } = this.#cursor
    // The reply comes back with this tag, so one meant for another command is refused.
    const tag = randomUUID()
    const args = [String(this.#keys.length), ...this.#keys, tag, mode, epoch, id, String(this.#batchSize)]
    const client = this.#connection()
    return sendRedisCommand<unknown>(client, ['EVALSHA', SCRIPTS.tail.sha, ...args])
      .catch((error: unknown) => {
        if (!isNoScript(error)) throw error
        return sendRedisCommand<unknown>(client, ['EVAL', SCRIPTS.tail.source, ...args])
      })
      .then((reply) => untagReply(client, tag, reply) as TailReply)
      .catch((cause: unknown) => {
        throw unavailable('Redis failed', cause)
      })
  }

  #connection(): RedisClient {
    this.#client ??= createRedisClient({
      url: this.#url,
      clientOptions: this.#clientOptions,
      commandTimeoutMs: this.#commandTimeoutMs,
      name: `${this.#name}:tail`,
      // The tail's own round trips notice and report an outage; nothing to do here.
      onDown: () => undefined,
      onReady: () => undefined,
    })
    return this.#client
  }

  #decode(entryId: string, fields: unknown): HubUpdate | undefined {
    try {
      const update = updateFromFields(fields)
      Object.freeze(update.topics)
      return Object.freeze(update)
    } catch (cause) {
      this.#subscriptions.report(
        new HubError('ERR_HUB_BROKER_MESSAGE_INVALID', `${OWNER}: skipped stream entry ${entryId}, which Herald did not write: ${messageOf(cause)}`, {
          cause,
        }),
      )
      return undefined
    }
  }
}

function unavailable(what: string, cause: unknown): HubError {
  return new HubError('ERR_HUB_BROKER_UNAVAILABLE', `${OWNER}: ${what}: ${messageOf(cause)}`, { cause })
}
