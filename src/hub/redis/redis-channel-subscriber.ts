// The pub/sub side of the Redis brokers. Internal: not re-exported from index.ts.
import { brokerClosedError } from '../broker/broker-closed-error.js'
import { HubError } from '../errors.js'
import { createRedisClient, destroyRedisClient, type RedisClient, type RedisEngineClientOptions } from './redis-connection.js'

/** How a {@link RedisChannelSubscriber} connects, and what it tells its owner. */
export interface RedisChannelSubscriberSettings {
  /** The owning class's name, which starts error messages. */
  readonly owner: string
  readonly url: string
  readonly clientOptions: RedisEngineClientOptions | undefined
  /** How long {@link RedisChannelSubscriber.whenSubscribed} waits for Redis to confirm the subscription. */
  readonly commandTimeoutMs: number
  /** Connection name shown by `CLIENT LIST`. */
  readonly name: string
  readonly channel: string
  /** Receives each message published on the channel, in the order Redis executed the `PUBLISH`es. */
  readonly onMessage: (payload: string) => void
  /**
   * Called once per outage with the first error. `wasSubscribed`: the subscription had been confirmed, so messages
   * published until {@link RedisChannelSubscriberSettings.onResubscribed} are lost to this connection.
   */
  readonly onDown: (cause: unknown, wasSubscribed: boolean) => void
  /** Called each time the connection came back with the channel subscribed again (not after the first subscription). */
  readonly onResubscribed: () => void
}

interface Waiter {
  readonly resolve: () => void
  readonly reject: (error: HubError) => void
}

const RESOLVED = Promise.resolve()

/**
 * One channel subscription on a connection of its own, as Redis requires of a subscriber: connected and subscribed
 * on the first {@link RedisChannelSubscriber.whenSubscribed}, subscribed again by node-redis after every reconnect
 * (before it reports `ready`), after which the owner hears {@link RedisChannelSubscriberSettings.onResubscribed}:
 * whatever was published while the connection was down never arrives, and the owner reads it elsewhere or reports it.
 *
 * @example
 * ```ts
 * const subscriber = new RedisChannelSubscriber({ owner: 'RedisBroker', channel: 'herald:broker', onMessage, onDown, onResubscribed, … })
 * await subscriber.whenSubscribed()
 * subscriber.close()
 * ```
 */
export class RedisChannelSubscriber {
  readonly #settings: RedisChannelSubscriberSettings
  #client: RedisClient | undefined
  /** Redis confirmed the SUBSCRIBE (node-redis re-sends it on every reconnect, before `ready`). */
  #subscribed = false
  #subscribing = false
  /** The connection is up. */
  #up = false
  #waiters: Waiter[] = []
  #closed = false

  constructor(settings: RedisChannelSubscriberSettings) {
    this.#settings = settings
  }

  /**
   * Resolves once the subscription is confirmed and its connection is up (at once when it already is); connects and
   * subscribes the first time.
   *
   * @throws `ERR_HUB_BROKER_UNAVAILABLE` (rejects) when Redis does not confirm within `commandTimeoutMs`;
   *   `ERR_HUB_BROKER_CLOSED` when {@link RedisChannelSubscriber.close} runs meanwhile.
   */
  whenSubscribed(): Promise<void> {
    if (this.#closed) return Promise.reject(brokerClosedError())
    if (this.#subscribed && this.#up) return RESOLVED
    const { owner, commandTimeoutMs } = this.#settings
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((other) => other !== waiter)
        reject(new HubError('ERR_HUB_BROKER_UNAVAILABLE', `${owner}: Redis did not confirm the subscription within ${commandTimeoutMs} ms`))
      }, commandTimeoutMs)
      const waiter: Waiter = {
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
        reject: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      }
      this.#waiters.push(waiter)
      if (this.#client === undefined) {
        const { url, clientOptions, name } = this.#settings
        this.#client = createRedisClient({
          url,
          clientOptions,
          commandTimeoutMs,
          name,
          onDown: (cause) => {
            this.#up = false
            if (!this.#closed) this.#settings.onDown(cause, this.#subscribed)
          },
          onReady: () => this.#onReady(),
        })
        this.#sendSubscribe()
      }
    })
  }

  /** Closes the connection; waiting {@link RedisChannelSubscriber.whenSubscribed} calls reject. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const waiter of this.#waiters.splice(0)) waiter.reject(brokerClosedError())
    if (this.#client !== undefined) destroyRedisClient(this.#client)
  }

  #sendSubscribe(): void {
    const client = this.#client
    if (client === undefined || this.#subscribing || this.#subscribed || this.#closed) return
    this.#subscribing = true
    client.subscribe(this.#settings.channel, this.#settings.onMessage).then(
      () => {
        this.#subscribing = false
        this.#subscribed = true
        this.#wakeWaiters()
      },
      () => {
        // The connection broke before Redis answered; the next `ready` sends it again.
        this.#subscribing = false
      },
    )
  }

  #onReady(): void {
    this.#up = true
    if (!this.#subscribed) {
      this.#sendSubscribe()
      return
    }
    // node-redis re-sent SUBSCRIBE and got its answer before reporting `ready`: from here on, messages arrive again.
    if (!this.#closed) this.#settings.onResubscribed()
    this.#wakeWaiters()
  }

  #wakeWaiters(): void {
    if (!this.#subscribed || !this.#up) return
    for (const waiter of this.#waiters.splice(0)) waiter.resolve()
  }
}
