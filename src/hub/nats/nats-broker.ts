import type { NatsConnection, Subscription } from '@nats-io/transport-node'
import { brokerClosedError } from '../broker/broker-closed-error.js'
import type { Broker, SubscribeOptions, Unsubscribe } from '../broker/broker.js'
import { encodeToPublish } from '../broker/encode-to-publish.js'
import { SubscriptionSet } from '../broker/subscription-set.js'
import { HubError } from '../errors.js'
import { checkOptionsObject, integerOption, objectOption } from '../history/option-checks.js'
import type { HubMessage } from '../update.js'
import { decodeMessage, encodeMessage } from './message-codec.js'
import {
  ConnectionWatch,
  DEFAULT_NATS_REQUEST_TIMEOUT_MS,
  messageOf,
  openNatsConnection,
  subjectOption,
  urlOption,
  withTimeout,
  type NatsEngineConnectionOptions,
} from './nats-connection.js'

/** The subject a {@link NatsBroker} publishes on by default. */
export const DEFAULT_NATS_BROKER_SUBJECT = 'herald.broker'

/** Options of {@link NatsBroker}. Every field is optional. */
export interface NatsBrokerOptions {
  /**
   * The NATS server, or several separated by commas (`nats://a:4222,nats://b:4222`). Ignored when `connection` is
   * given.
   *
   * @defaultValue `'nats://127.0.0.1:4222'`
   */
  readonly url?: string
  /** Further `connect()` settings: credentials, TLS, `name`, reconnect behaviour. Ignored when `connection` is given. */
  readonly connectionOptions?: NatsEngineConnectionOptions
  /** A connection to use instead of opening one; the application keeps owning it (`close()` leaves it open). */
  readonly connection?: NatsConnection
  /**
   * The core NATS subject. Every hub node of one cluster uses the same; give other clusters their own.
   *
   * @defaultValue {@link DEFAULT_NATS_BROKER_SUBJECT} (`'herald.broker'`)
   */
  readonly subject?: string
  /**
   * How long `publish` waits for the server to confirm it processed the message, and `subscribe` for the
   * subscription to be in place, waiting for a lost connection to come back included, before failing with
   * `ERR_HUB_BROKER_UNAVAILABLE`.
   *
   * @defaultValue `DEFAULT_NATS_REQUEST_TIMEOUT_MS` (5 s)
   */
  readonly requestTimeoutMs?: number
  /**
   * Receives errors that do not fail a call: a listener that threw (`ERR_HUB_BROKER_LISTENER_FAILED`), a message on
   * the subject that is not Herald's (`ERR_HUB_BROKER_MESSAGE_INVALID`), a lost connection
   * (`ERR_HUB_BROKER_UNAVAILABLE`, once per outage; it reconnects on its own). An error thrown by `onError` itself is
   * rethrown from a microtask.
   *
   * @defaultValue a function that ignores the error
   */
  readonly onError?: (error: HubError) => void
}

const OWNER = 'NatsBroker'
const RESOLVED = Promise.resolve()
/** Bytes of the `PUB` line besides subject and payload: a generous bound for the size check. */
const PROTOCOL_OVERHEAD_BYTES = 128

/**
 * A broker on core NATS, for hub nodes connected to the same NATS (cluster): a message published on any node reaches
 * the listeners of every node.
 *
 * - **One subject.** Every message goes to one subject (`subject`), JSON-encoded once per publish. NATS delivers the
 *   messages of one publishing connection to each subscriber in the order they were sent, so each publisher's order
 *   (and each topic's) holds at every listener; one subject keeps it across topics too.
 * - **Acknowledgement.** Core NATS has no per-message acknowledgement, so `publish` resolves once the server answered
 *   a `PING` sent after the message (one flush shared by the publishes of the same tick): by then the server has
 *   processed the message and handed it to every subscribed connection. While the connection is down, publishes
 *   wait for it to come back, in call order, rather than go into nats.js's buffer (which it discards on reconnecting).
 *   A publish rejects with `ERR_HUB_BROKER_UNAVAILABLE` when the connection stays down, or the server does not
 *   answer, for `requestTimeoutMs`, or when the connection is lost before the answer (the message may then have
 *   been delivered, never the reverse); a message too large for the server's `max_payload` rejects with
 *   `ERR_HUB_BROKER_MESSAGE_TOO_LARGE`.
 * - **At most once, and reconnects.** Messages published while this node's connection is down are lost to it.
 *   nats.js reconnects and re-subscribes on its own; once it has, the broker calls the `onMissed` callback of every
 *   subscription that was active (see `SubscribeOptions.onMissed`), so the hub re-reads history. The same
 *   happens when the server cuts a slow consumer.
 * - **Listeners** are called one message at a time, in order; the same frozen message object goes to every listener
 *   of this node. The NATS subscription stays open until `close()`, even with no listener.
 *
 * @example
 * ```ts
 * const broker = new NatsBroker({ url: 'nats://nats.internal:4222', onError: (error) => log.warn(error) })
 * await broker.subscribe((message) => node.dispatch(message), { onMissed: () => node.resyncFromHistory() })
 * await broker.publish({ update, position })
 * ```
 * @see https://docs.nats.io/nats-concepts/core-nats/pubsub
 */
export class NatsBroker implements Broker {
  readonly #url: string
  readonly #connectionOptions: NatsEngineConnectionOptions | undefined
  readonly #lent: NatsConnection | undefined
  readonly #subject: string
  readonly #requestTimeoutMs: number
  readonly #subscriptions: SubscriptionSet
  #connection: Promise<NatsConnection> | undefined
  #nc: NatsConnection | undefined
  #watch: ConnectionWatch | undefined
  #subscription: Promise<Subscription> | undefined
  /** Publishes waiting for the connection: later ones queue behind them to keep call order. */
  #waiting = 0
  /** The flush that will confirm the publishes of this tick. */
  #flush: Promise<void> | undefined
  #closed = false

  constructor(options: NatsBrokerOptions = {}) {
    checkOptionsObject(OWNER, options)
    this.#url = urlOption(OWNER, options.url)
    this.#connectionOptions = objectOption(OWNER, 'connectionOptions', options.connectionOptions)
    this.#lent = objectOption(OWNER, 'connection', options.connection)
    this.#subject = subjectOption(OWNER, 'subject', options.subject, DEFAULT_NATS_BROKER_SUBJECT)
    this.#requestTimeoutMs = integerOption(OWNER, 'requestTimeoutMs', options.requestTimeoutMs, DEFAULT_NATS_REQUEST_TIMEOUT_MS, 1)
    this.#subscriptions = new SubscriptionSet(OWNER, options.onError)
  }

  publish(message: HubMessage): Promise<void> {
    if (this.#closed) return Promise.reject(brokerClosedError())
    return encodeToPublish(OWNER, message, encodeMessage, (payload) => this.publishEncoded(payload))
  }

  /**
   * {@link NatsBroker.publish} for a message that `encodeMessage` of `message-codec.ts` encoded already: a
   * `NatsStreamBroker` validates each message by encoding it, and forwards that payload here.
   *
   * @param confirm - `false` resolves once nats.js took the message on an open connection, without the flush that
   *   confirms it (the copies of a `NatsStreamBroker`, which nothing waits for).
   * @internal
   */
  publishEncoded(payload: Uint8Array, confirm = true): Promise<void> {
    if (this.#closed) return Promise.reject(brokerClosedError())
    const nc = this.#nc
    // Connected and up: send at once, so that publishes leave in call order. Otherwise wait for the connection (up to
    // requestTimeoutMs) behind the publishes already waiting; they resume in the order they came.
    if (nc !== undefined && this.#waiting === 0 && this.#watch?.up === true) return this.#send(nc, payload, confirm)
    this.#waiting++
    return this.#connect()
      .then(async (connected) => {
        await (this.#watch as ConnectionWatch).whenUp(this.#requestTimeoutMs)
        return connected
      })
      .then(
        (connected) => {
          this.#waiting--
          return this.#send(connected, payload, confirm)
        },
        (cause: unknown) => {
          this.#waiting--
          throw this.#closed ? brokerClosedError(cause) : this.#unavailable(cause)
        },
      )
  }

  /**
   * Subscribes a listener; see {@link Broker.subscribe}. Resolves once the server has processed the subscription
   * (at once when this node already subscribed and the connection is up).
   *
   * @throws `ERR_HUB_BROKER_UNAVAILABLE` (rejects) when the server cannot be reached within `requestTimeoutMs`;
   *   `ERR_HUB_BROKER_CLOSED` after `close()`.
   */
  async subscribe(onMessage: (message: HubMessage) => void, options: SubscribeOptions = {}): Promise<Unsubscribe> {
    this.#checkOpen()
    const onMissed = this.#subscriptions.check(onMessage, options)
    try {
      const nc = await this.#connect()
      await (this.#watch as ConnectionWatch).whenUp(this.#requestTimeoutMs)
      this.#subscription ??= this.#subscribe(nc)
      await this.#subscription
      // The server has processed every SUB sent before this PING's answer.
      await withTimeout(nc.flush(), this.#requestTimeoutMs, () => new Error(`no answer within ${this.#requestTimeoutMs} ms`))
    } catch (cause) {
      this.#checkOpen()
      throw this.#unavailable(cause)
    }
    // close() may have run while waiting.
    this.#checkOpen()
    return this.#subscriptions.add(onMessage, onMissed)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#subscriptions.close()
    this.#watch?.stop()
    const subscription = await this.#subscription?.catch(() => undefined)
    subscription?.unsubscribe()
    const connection = await this.#connection?.catch(() => undefined)
    if (this.#lent === undefined && connection !== undefined && !connection.isClosed()) await connection.close()
  }

  #checkOpen(): void {
    if (this.#closed) throw brokerClosedError()
  }

  #send(nc: NatsConnection, payload: Uint8Array, confirm: boolean): Promise<void> {
    if (this.#closed) return Promise.reject(brokerClosedError())
    if (nc.isClosed()) return Promise.reject(this.#unavailable(new Error('the connection to NATS is closed')))
    const maxPayload = nc.info?.max_payload ?? Number.POSITIVE_INFINITY
    if (payload.byteLength + this.#subject.length + PROTOCOL_OVERHEAD_BYTES > maxPayload) {
      return Promise.reject(
        new HubError(
          'ERR_HUB_BROKER_MESSAGE_TOO_LARGE',
          `${OWNER}: the message takes ${payload.byteLength} bytes, more than the server's max_payload of ${maxPayload}`,
        ),
      )
    }
    try {
      nc.publish(this.#subject, payload)
    } catch (cause) {
      return Promise.reject(this.#unavailable(cause))
    }
    return confirm ? this.#flushSoon(nc) : RESOLVED
  }

  /** One PING for every publish of the current tick: its answer confirms them all. */
  #flushSoon(nc: NatsConnection): Promise<void> {
    this.#flush ??= RESOLVED.then(() => {
      this.#flush = undefined
      const flushed = withTimeout(nc.flush(), this.#requestTimeoutMs, () => new Error(`no answer within ${this.#requestTimeoutMs} ms`))
      return this.#watch === undefined ? flushed : this.#watch.guard(flushed)
    }).catch((cause: unknown) => {
      throw this.#closed ? brokerClosedError(cause) : this.#unavailable(cause)
    })
    return this.#flush
  }

  #connect(): Promise<NatsConnection> {
    this.#connection ??= openNatsConnection({
      url: this.#url,
      connectionOptions: this.#connectionOptions,
      connection: this.#lent,
      requestTimeoutMs: this.#requestTimeoutMs,
      name: 'herald-broker',
    }).then(
      (nc) => {
        if (this.#closed && this.#lent === undefined) {
          void nc.close()
          throw brokerClosedError()
        }
        this.#nc = nc
        this.#watch = new ConnectionWatch(nc, {
          onDown: (server) => this.#onDown(server),
          // nats.js sent the SUBs again before reporting; the answer to this PING proves the server processed them.
          onUp: () => {
            nc.flush().then(
              () => this.#subscriptions.notifyMissed(),
              () => undefined,
            )
          },
        })
        return nc
      },
      (cause: unknown) => {
        // Try again on the next call.
        this.#connection = undefined
        throw cause
      },
    )
    return this.#connection
  }

  #subscribe(nc: NatsConnection): Promise<Subscription> {
    return Promise.resolve(
      nc.subscribe(this.#subject, {
        callback: (error, message) => {
          if (error !== null) {
            this.#subscriptions.report(new HubError('ERR_HUB_BROKER_UNAVAILABLE', `${OWNER}: the subscription failed: ${error.message}`, { cause: error }))
            return
          }
          this.#receive(message.data)
        },
      }),
    )
  }

  #onDown(server: string): void {
    // Subscribed: messages published until the connection is back are lost to this node.
    if (this.#subscription !== undefined) this.#subscriptions.markMissed(Date.now())
    if (!this.#closed) this.#subscriptions.report(new HubError('ERR_HUB_BROKER_UNAVAILABLE', `${OWNER}: lost the connection to NATS (${server})`))
  }

  #receive(payload: Uint8Array): void {
    this.#subscriptions.receive(payload, decodeMessage)
  }

  #unavailable(cause: unknown): HubError {
    if (cause instanceof HubError) return cause
    return new HubError('ERR_HUB_BROKER_UNAVAILABLE', `${OWNER}: the message was not acknowledged: ${messageOf(cause)}`, { cause })
  }
}
