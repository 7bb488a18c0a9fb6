import { brokerClosedError } from '../broker/broker-closed-error.js'
import type { Broker, SubscribeOptions, Unsubscribe } from '../broker/broker.js'
import { encodeToPublish } from '../broker/encode-to-publish.js'
import { SubscriptionSet } from '../broker/subscription-set.js'
import { HubError } from '../errors.js'
import { checkOptionsObject, integerOption, objectOption, stringOption } from '../history/option-checks.js'
import type { HubMessage } from '../update.js'
import { decodeMessage, encodeMessage } from './message-codec.js'
import { RedisChannelSubscriber } from './redis-channel-subscriber.js'
import {
  createRedisClient,
  DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
  DEFAULT_REDIS_URL,
  destroyRedisClient,
  messageOf,
  sendRedisCommand,
  type RedisClient,
  type RedisEngineClientOptions,
} from './redis-connection.js'

/** The pub/sub channel a {@link RedisBroker} uses by default. */
export const DEFAULT_REDIS_BROKER_CHANNEL = 'herald:broker'

/** Options of {@link RedisBroker}. Every field is optional. */
export interface RedisBrokerOptions {
  /**
   * The Redis server, as a `redis://` or `rediss://` (TLS) URL with optional credentials. Pub/sub ignores the
   * database index: every database of a server shares the channels.
   *
   * @defaultValue `'redis://127.0.0.1:6379'`
   */
  readonly url?: string
  /**
   * Further node-redis client settings: TLS, socket, credentials, reconnect strategy. A `name` is given to both
   * connections with `:publish` and `:subscribe` appended (default `herald-broker`), as `CLIENT LIST` shows them.
   */
  readonly clientOptions?: RedisEngineClientOptions
  /**
   * The pub/sub channel. Every hub node of one cluster uses the same; give other clusters on the same Redis their
   * own.
   *
   * @defaultValue {@link DEFAULT_REDIS_BROKER_CHANNEL} (`'herald:broker'`)
   */
  readonly channel?: string
  /**
   * How long `publish` and `subscribe` wait for Redis, waiting in the queue while the connection is re-established
   * included, before they fail with `ERR_HUB_BROKER_UNAVAILABLE`.
   *
   * @defaultValue `DEFAULT_REDIS_COMMAND_TIMEOUT_MS` (5 s)
   */
  readonly commandTimeoutMs?: number
  /**
   * Receives errors that do not fail a call: a listener that threw (`ERR_HUB_BROKER_LISTENER_FAILED`), a message on
   * the channel that is not Herald's (`ERR_HUB_BROKER_MESSAGE_INVALID`), a lost connection
   * (`ERR_HUB_BROKER_UNAVAILABLE`, once per outage; it reconnects on its own). An error thrown by `onError` itself is
   * rethrown from a microtask.
   *
   * @defaultValue a function that ignores the error
   */
  readonly onError?: (error: HubError) => void
}

const OWNER = 'RedisBroker'
const RESOLVED = Promise.resolve()

/**
 * A broker on Redis pub/sub, for hub nodes that share one Redis: a message published on any node reaches the
 * listeners of every node.
 *
 * - **One channel, two connections.** Every message goes to one channel (`channel`), JSON-encoded once per publish.
 *   Publishes go out on one connection, in call order (node-redis pipelines them); a dedicated connection holds the
 *   subscription, as Redis requires. Redis delivers a channel's messages in the order it executed the `PUBLISH`es,
 *   so each publisher's order (and so each topic's order) holds at every listener. One channel rather than one per
 *   topic keeps that order across topics too; every node needs every message anyway.
 * - **Acknowledgement.** `publish` resolves once Redis has executed the `PUBLISH`, that is handed the message to
 *   every subscribed connection. It rejects with `ERR_HUB_BROKER_UNAVAILABLE` when Redis does not answer within
 *   `commandTimeoutMs` (while the connection is down, publishes wait in the queue for it to come back, up to that
 *   bound). A rejected publish was not acknowledged; it may still be delivered if Redis got it just before the
 *   connection broke, never the reverse.
 * - **At most once, and reconnects.** Pub/sub keeps nothing: messages published while the subscriber connection is
 *   down are lost to this node. node-redis reconnects and re-subscribes on its own; once it has, the broker calls the
 *   `onMissed` callback of every subscription that was active (see `SubscribeOptions.onMissed`), so the hub
 *   re-reads history. The same happens when Redis drops a subscriber that fell behind
 *   (`client-output-buffer-limit pubsub`).
 * - **Listeners** are called one message at a time, in order, on the subscriber connection's event; the same frozen
 *   message object goes to every listener of this node. The Redis subscription stays open until `close()`, even
 *   with no listener.
 *
 * @example
 * ```ts
 * const broker = new RedisBroker({ url: 'redis://cache.internal:6379', onError: (error) => log.warn(error) })
 * await broker.subscribe((message) => node.dispatch(message), { onMissed: () => node.resyncFromHistory() })
 * await broker.publish({ update, position })
 * ```
 * @see https://redis.io/docs/latest/develop/interact/pubsub/
 */
export class RedisBroker implements Broker {
  readonly #url: string
  readonly #clientOptions: RedisEngineClientOptions | undefined
  readonly #channel: string
  readonly #commandTimeoutMs: number
  readonly #subscriptions: SubscriptionSet
  readonly #name: string
  #publisher: RedisClient | undefined
  readonly #subscriber: RedisChannelSubscriber
  #closed = false

  constructor(options: RedisBrokerOptions = {}) {
    checkOptionsObject(OWNER, options)
    this.#url = stringOption(OWNER, 'url', options.url, DEFAULT_REDIS_URL)
    this.#clientOptions = objectOption(OWNER, 'clientOptions', options.clientOptions)
    this.#channel = stringOption(OWNER, 'channel', options.channel, DEFAULT_REDIS_BROKER_CHANNEL)
    this.#commandTimeoutMs = integerOption(OWNER, 'commandTimeoutMs', options.commandTimeoutMs, DEFAULT_REDIS_COMMAND_TIMEOUT_MS, 1)
    this.#subscriptions = new SubscriptionSet(OWNER, options.onError)
    this.#name = this.#clientOptions?.name ?? 'herald-broker'
    this.#subscriber = new RedisChannelSubscriber({
      owner: OWNER,
      url: this.#url,
      clientOptions: this.#clientOptions,
      commandTimeoutMs: this.#commandTimeoutMs,
      name: `${this.#name}:subscribe`,
      channel: this.#channel,
      // The `onMissed` notice goes first: a message can arrive in the same read as the SUBSCRIBE answer, before
      // node-redis reports `ready`.
      onMessage: (payload) => this.#subscriptions.receive(payload, decodeMessage),
      onDown: (cause, wasSubscribed) => {
        // The subscription was confirmed: messages published until it is back are lost to this node.
        if (wasSubscribed) this.#subscriptions.markMissed(Date.now())
        this.#reportDown('subscriber', cause)
      },
      onResubscribed: () => this.#subscriptions.notifyMissed(),
    })
  }

  publish(message: HubMessage): Promise<void> {
    if (this.#closed) return Promise.reject(brokerClosedError())
    return encodeToPublish(OWNER, message, encodeMessage, (payload) => this.publishEncoded(payload))
  }

  /**
   * {@link RedisBroker.publish} for a message that `encodeMessage` of `message-codec.ts` encoded already: a
   * `RedisStreamBroker` validates each message by encoding it, and forwards that payload here.
   * @internal
   */
  publishEncoded(payload: string): Promise<void> {
    if (this.#closed) return Promise.reject(brokerClosedError())
    // Sent at once, without awaiting anything first: publishes go out in call order.
    return sendRedisCommand(this.#publisherClient(), ['PUBLISH', this.#channel, payload]).then(
      () => undefined,
      (cause: unknown) => {
        throw this.#closed
          ? brokerClosedError(cause)
          : new HubError('ERR_HUB_BROKER_UNAVAILABLE', `${OWNER}: the message was not acknowledged: ${messageOf(cause)}`, { cause })
      },
    )
  }

  /**
   * Subscribes a listener; see {@link Broker.subscribe}. Resolves once Redis confirmed the channel subscription (at
   * once when it already has and the connection is up).
   *
   * @throws `ERR_HUB_BROKER_UNAVAILABLE` (rejects) when Redis does not confirm within `commandTimeoutMs`;
   *   `ERR_HUB_BROKER_CLOSED` after `close()`.
   */
  async subscribe(onMessage: (message: HubMessage) => void, options: SubscribeOptions = {}): Promise<Unsubscribe> {
    if (this.#closed) throw brokerClosedError()
    const onMissed = this.#subscriptions.check(onMessage, options)
    await this.#subscriber.whenSubscribed()
    // close() may have run while waiting.
    this.#checkOpen()
    return this.#subscriptions.add(onMessage, onMissed)
  }

  close(): Promise<void> {
    if (this.#closed) return RESOLVED
    this.#closed = true
    this.#subscriptions.close()
    if (this.#publisher !== undefined) destroyRedisClient(this.#publisher)
    this.#subscriber.close()
    return RESOLVED
  }

  #checkOpen(): void {
    if (this.#closed) throw brokerClosedError()
  }

  #publisherClient(): RedisClient {
    this.#publisher ??= createRedisClient({
      url: this.#url,
      clientOptions: this.#clientOptions,
      commandTimeoutMs: this.#commandTimeoutMs,
      name: `${this.#name}:publish`,
      onDown: (cause) => this.#reportDown('publisher', cause),
      onReady: () => undefined,
    })
    return this.#publisher
  }

  #reportDown(connection: string, cause: unknown): void {
    if (this.#closed) return
    this.#subscriptions.report(new HubError('ERR_HUB_BROKER_UNAVAILABLE', `${OWNER}: lost the ${connection} connection to Redis: ${messageOf(cause)}`, { cause }))
  }
}
