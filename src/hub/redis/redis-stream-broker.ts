import { randomUUID } from 'node:crypto'
import type { Broker, SubscribeOptions, Unsubscribe } from '../broker/broker.js'
import { MirrorCopies } from '../broker/mirror-copies.js'
import { SubscriptionSet } from '../broker/subscription-set.js'
import { HubError } from '../errors.js'
import { checkOptionsObject, integerOption } from '../history/option-checks.js'
import type { HubMessage, HubUpdate } from '../update.js'
import { encodeMessage, updateFromFields } from './message-codec.js'
import { DEFAULT_REDIS_BROKER_CHANNEL, RedisBroker } from './redis-broker.js'
import {
  createRedisClient,
  DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
  DEFAULT_REDIS_URL,
  destroyRedisClient,
  isNoScript,
  messageOf,
  objectOption,
  sendRedisCommand,
  stringOption,
  untagReply,
  type RedisClient,
  type RedisEngineClientOptions,
} from './redis-connection.js'
import { DEFAULT_REDIS_HISTORY_KEY_PREFIX } from './redis-history.js'
import { SCRIPTS } from './redis-history-scripts.js'

/** How long one `XREAD BLOCK` of a {@link RedisStreamBroker} waits for a new entry before it looks again: 2 seconds. */
export const DEFAULT_REDIS_STREAM_BROKER_BLOCK_MS = 2_000
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
   * sent without waiting for Redis (see `publish`); `null` sends nothing. Listeners of this broker never read the
   * channel.
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
   * How long one `XREAD BLOCK` waits for a new entry before the tail looks at the store again (which is also how
   * soon a store recreated with lower ids, a new epoch, is noticed when nothing is appended).
   *
   * @defaultValue {@link DEFAULT_REDIS_STREAM_BROKER_BLOCK_MS} (2 s)
   */
  readonly blockMs?: number
  /**
   * The most entries read per round trip; this bounds the memory the tail holds.
   *
   * @defaultValue {@link DEFAULT_REDIS_STREAM_BROKER_BATCH_SIZE} (256)
   */
  readonly batchSize?: number
  /**
   * Receives errors that do not fail a call: a listener that threw (`ERR_HUB_BROKER_LISTENER_FAILED`), a stream
   * entry Herald did not write, skipped (`ERR_HUB_BROKER_MESSAGE_INVALID`), a lost connection
   * (`ERR_HUB_BROKER_UNAVAILABLE`, once per outage; it reconnects on its own), a copy for `channel` that Redis did
   * not acknowledge (`ERR_HUB_BROKER_UNAVAILABLE`). An error thrown by `onError` itself is rethrown from a microtask.
   *
   * @defaultValue a function that ignores the error
   */
  readonly onError?: (error: HubError) => void
}

/** Where the tail stands: the epoch it reads (`''` while the store does not exist yet) and the last id it read. */
interface Cursor {
  epoch: string
  id: string
}

type TailReply = readonly ['none'] | readonly ['ok', string, number, string, readonly (readonly [string, unknown])[]]

const OWNER = 'RedisStreamBroker'
const RESOLVED = Promise.resolve()
/** The pause before the tail tries again after a failed round trip (node-redis reconnects meanwhile). */
const RETRY_DELAY_MS = 100

/**
 * A broker that delivers the updates of a {@link RedisHistory} by reading its stream, for hub nodes whose history and
 * broker are the same Redis: listeners receive the updates of every node in history order, which is the order a
 * subscriber resuming with `Last-Event-ID` reads them in. (With pub/sub, two nodes publishing at once can reach the
 * broker in the other order than they reached history; a subscriber that resumes after the newer update would then
 * never get the older one.)
 *
 * - **Delivery.** One dedicated connection per broker waits with `XREAD BLOCK` for entries after the last id read,
 *   then reads them, at most `batchSize` per round trip, with a read-only script that also checks the epoch and the
 *   eviction floor; each entry is decoded with the history's codec and handed to every listener as a frozen
 *   {@link HubMessage} whose position is the one `RedisHistory.append` returned for it. The tail starts at the newest
 *   entry when the first `subscribe` is made (`$`), so an update appended after `subscribe` resolved is delivered.
 * - **Publish.** `history.append` already put the update in the stream, so listeners get it from there, whoever
 *   called `publish`. `publish` checks the message, sends a copy to the pub/sub `channel` (for nodes on a
 *   {@link RedisBroker}, which a cluster may mix in, during a move from one broker to the other say) and resolves at
 *   once; copies leave in call order on one connection, and one Redis does not acknowledge in time is reported to
 *   `onError`. `close()` waits for the copies under way. A message that was not appended to the history reaches no
 *   listener.
 * - **Reconnects.** After the connection drops, the tail goes on from the last id read: nothing retained is missed,
 *   and `onMissed` is not called. It is called (see `SubscribeOptions.onMissed`) before the next message when entries
 *   after that id were evicted before they were read (a long outage), or when the store was recreated (a flushed or
 *   restarted Redis, a new epoch): the hub then re-reads history and announces the gap.
 * - **Listeners** are called one message at a time, in stream order; the same frozen message goes to every listener
 *   of this node. The tail runs until `close()`, even with no listener.
 *
 * @example
 * ```ts
 * const history = new RedisHistory({ url: 'redis://cache.internal:6379' })
 * const broker = new RedisStreamBroker({ url: 'redis://cache.internal:6379', onError: (error) => log.warn(error) })
 * await broker.subscribe((message) => node.dispatch(message), { onMissed: () => node.resyncFromHistory() })
 * const position = await history.append(update)
 * await broker.publish({ update, position })
 * ```
 * @see https://redis.io/docs/latest/commands/xread/
 */
export class RedisStreamBroker implements Broker {
  readonly #url: string
  readonly #clientOptions: RedisEngineClientOptions | undefined
  readonly #keys: readonly [string, string, string, string]
  readonly #commandTimeoutMs: number
  readonly #blockMs: number
  readonly #batchSize: number
  readonly #subscriptions: SubscriptionSet
  readonly #name: string
  readonly #mirror: RedisBroker | undefined
  readonly #copies: MirrorCopies
  #client: RedisClient | undefined
  /** Resolves once the tail's start is known and the tail runs; reset when finding the start failed. */
  #started: Promise<void> | undefined
  #cursor: Cursor = { epoch: '', id: '0-0' }
  /** The tail's last round trip failed: an outage is under way (reported once). */
  #failing = false
  #disconnectedAt = 0
  #closed = false

  constructor(options: RedisStreamBrokerOptions = {}) {
    checkOptionsObject(OWNER, options)
    this.#url = stringOption(OWNER, 'url', options.url, DEFAULT_REDIS_URL)
    this.#clientOptions = objectOption(OWNER, 'clientOptions', options.clientOptions)
    const prefix = stringOption(OWNER, 'keyPrefix', options.keyPrefix, DEFAULT_REDIS_HISTORY_KEY_PREFIX)
    this.#keys = [`${prefix}epoch`, `${prefix}meta`, `${prefix}stream`, `${prefix}ids`]
    const channel = options.channel === null ? null : stringOption(OWNER, 'channel', options.channel, DEFAULT_REDIS_BROKER_CHANNEL)
    this.#commandTimeoutMs = integerOption(OWNER, 'commandTimeoutMs', options.commandTimeoutMs, DEFAULT_REDIS_COMMAND_TIMEOUT_MS, 1)
    this.#blockMs = integerOption(OWNER, 'blockMs', options.blockMs, DEFAULT_REDIS_STREAM_BROKER_BLOCK_MS, 1)
    this.#batchSize = integerOption(OWNER, 'batchSize', options.batchSize, DEFAULT_REDIS_STREAM_BROKER_BATCH_SIZE, 1)
    this.#subscriptions = new SubscriptionSet(OWNER, options.onError)
    this.#name = this.#clientOptions?.name ?? 'herald-stream-broker'
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
    this.#copies = new MirrorCopies(OWNER, `channel ${String(channel)}`, (error) => this.#subscriptions.report(error))
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
    if (this.#closed) return Promise.reject(closedError())
    let payload
    try {
      payload = encodeMessage(message)
    } catch (cause) {
      return Promise.reject(new HubError('ERR_HUB_BROKER_MESSAGE_INVALID', `${OWNER}: cannot publish: ${messageOf(cause)}`, { cause }))
    }
    // The copy carries the payload that validated the message: encoded once.
    if (this.#mirror !== undefined) this.#copies.send(this.#mirror.publishEncoded(payload), message)
    return RESOLVED
  }

  /**
   * Subscribes a listener; see {@link Broker.subscribe}. The first call finds the stream's newest entry, where the
   * tail starts, and resolves once it has; later calls resolve at once.
   *
   * @throws `ERR_HUB_BROKER_UNAVAILABLE` (rejects) when Redis does not answer within `commandTimeoutMs`;
   *   `ERR_HUB_BROKER_CLOSED` after `close()`.
   */
  async subscribe(onMessage: (message: HubMessage) => void, options: SubscribeOptions = {}): Promise<Unsubscribe> {
    if (this.#closed) throw closedError()
    const onMissed = this.#subscriptions.check(onMessage, options)
    this.#started ??= this.#start()
    await this.#started
    // close() may have run while waiting.
    if (this.#isClosed()) throw closedError()
    return this.#subscriptions.add(onMessage, onMissed)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#subscriptions.close()
    if (this.#client !== undefined) destroyRedisClient(this.#client)
    await this.#copies.settled()
    await this.#mirror?.close()
  }

  /** Whether `close()` ran; a method, so that checks after an `await` are not narrowed away. */
  #isClosed(): boolean {
    return this.#closed
  }

  /** Finds where the tail starts (the newest id issued), then runs the tail in the background. */
  async #start(): Promise<void> {
    let reply: TailReply
    try {
      reply = await this.#tailScript('head')
    } catch (error) {
      this.#started = undefined
      throw this.#closed ? closedError(error) : error
    }
    if (reply[0] === 'ok') this.#cursor = { epoch: reply[1], id: reply[3] }
    void this.#tail()
  }

  async #tail(): Promise<void> {
    // The first round, and the one after a failure, read at once: entries may already follow the cursor.
    let readNow = true
    while (!this.#closed) {
      try {
        const read: number = readNow ? await this.#readBatch() : await this.#readBatchAfterWait()
        if (this.#failing) this.#failing = false
        readNow = read >= this.#batchSize
      } catch (error) {
        if (this.#isClosed()) return
        if (!this.#failing) {
          this.#failing = true
          this.#disconnectedAt = Date.now()
          this.#subscriptions.report(error instanceof HubError ? error : unavailable('lost the connection to Redis', error))
        }
        readNow = true
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS))
      }
    }
  }

  /**
   * Waits until an entry follows the cursor (or `blockMs` passed), then reads and delivers the entries after it.
   *
   * Why: the `XREAD BLOCK` and the read script are sent together, pipelined on the tail's own connection, and Redis
   * runs a connection's commands in order, so the script runs as soon as the `XREAD` returns: one round trip per wake-up
   * instead of two (`npm run bench:hub -- --systems herald-hub-redis-2 --scenarios S,A`, see bench/RESULTS.md).
   * Both read after the same cursor, so the script sees at least what woke the `XREAD`, and checks the epoch and the
   * eviction floor as every read does.
   */
  async #readBatchAfterWait(): Promise<number> {
    const [waited, read] = await Promise.allSettled([this.#waitForEntries(), this.#readBatch(this.#blockMs + this.#commandTimeoutMs)])
    if (waited.status === 'rejected') throw waited.reason
    if (read.status === 'rejected') throw read.reason
    return read.value
  }

  /**
   * Reads and delivers the entries after the cursor, at most `batchSize`; returns how many it read.
   *
   * @param timeoutMs - How long the read may take, queued behind a pipelined `XREAD BLOCK` included.
   */
  async #readBatch(timeoutMs?: number): Promise<number> {
    const reply = await this.#tailScript('after', timeoutMs)
    if (reply[0] === 'none' || this.#closed) return 0
    const [, epoch, missed, start, entries] = reply
    if (missed === 1) this.#notifyMissed()
    this.#cursor = { epoch, id: start }
    for (const [entryId, fields] of entries) {
      this.#cursor.id = entryId
      const update = this.#decode(entryId, fields)
      if (update !== undefined) this.#subscriptions.deliver(Object.freeze({ update, position: Object.freeze({ epoch, offset: entryId }) }))
      if (this.#isClosed()) break
    }
    return entries.length
  }

  /** Waits until an entry follows the cursor, or `blockMs` passed. */
  async #waitForEntries(): Promise<void> {
    const client = this.#connection()
    await sendRedisCommand(client, ['XREAD', 'COUNT', '1', 'BLOCK', String(this.#blockMs), 'STREAMS', this.#keys[2], this.#cursor.id], {
      // The command is meant to wait up to blockMs: the timeout bounds queueing and the answer beyond that.
      timeout: this.#blockMs + this.#commandTimeoutMs,
    }).catch((cause: unknown) => {
      throw unavailable('the stream read failed', cause)
    })
  }

  /**
   * Runs the read script by its SHA1, and sends its source only when Redis does not have it (the first call, or after
   * a restart or `SCRIPT FLUSH`). Why: the script is 4 KB, which `EVAL` would send, and Redis hash, on every wake-up of
   * every node; a CPU profile of the two-node benchmark (`npm run bench:hub -- --systems herald-hub-redis-2
   * --scenarios A`) put 0.6 ms per update in the Redis client's writes. The tail reads only, so sending the script
   * again after `NOSCRIPT` reorders nothing.
   */
  #tailScript(mode: 'head' | 'after', timeoutMs?: number): Promise<TailReply> {
    const { epoch, id } = this.#cursor
    // The reply comes back with this tag, so one meant for another command (the XREAD before it) is refused.
    const tag = randomUUID()
    const args = [String(this.#keys.length), ...this.#keys, tag, mode, epoch, id, String(this.#batchSize)]
    const options = timeoutMs === undefined ? undefined : { timeout: timeoutMs }
    const client = this.#connection()
    return sendRedisCommand<unknown>(client, ['EVALSHA', SCRIPTS.tail.sha, ...args], options)
      .catch((error: unknown) => {
        if (!isNoScript(error)) throw error
        return sendRedisCommand<unknown>(client, ['EVAL', SCRIPTS.tail.source, ...args], options)
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

  /** Calls `onMissed` of every subscription now, dated from the outage under way, if any. */
  #notifyMissed(): void {
    this.#subscriptions.markMissed(this.#disconnectedAt || Date.now())
    this.#subscriptions.notifyMissed()
  }
}

function unavailable(what: string, cause: unknown): HubError {
  return new HubError('ERR_HUB_BROKER_UNAVAILABLE', `${OWNER}: ${what}: ${messageOf(cause)}`, { cause })
}

function closedError(cause?: unknown): HubError {
  return new HubError('ERR_HUB_BROKER_CLOSED', 'this broker is closed', cause === undefined ? undefined : { cause })
}
