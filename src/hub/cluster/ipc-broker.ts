import { brokerClosedError } from '../broker/broker-closed-error.js'
import type { Broker, SubscribeOptions, Unsubscribe } from '../broker/broker.js'
import { SubscriptionSet } from '../broker/subscription-set.js'
import { HubError } from '../errors.js'
import { integerOption } from '../history/option-checks.js'
import type { HubMessage } from '../update.js'
import type { IpcChannel } from './ipc-channel.js'
import { DEFAULT_IPC_CALL_TIMEOUT_MS } from './ipc-history.js'

/** Options of {@link IpcBroker}. */
export interface IpcBrokerOptions {
  /** The pipe to the primary, whose {@link ClusterRelay} hands every message to every worker. */
  channel: IpcChannel
  /**
   * Receives the errors of listeners (`ERR_HUB_BROKER_LISTENER_FAILED`, the listener's error as `cause`): a throw, or
   * a rejection of a promise the listener returned. Delivery goes on regardless. An error thrown by `onError` itself
   * is rethrown from a microtask.
   *
   * @defaultValue a function that ignores the error
   */
  onError?: (error: HubError) => void
  /**
   * How long a publish waits for the primary to relay it before it rejects with `ERR_HUB_BROKER_UNAVAILABLE` (a
   * primary that is alive but stuck, or a pipe that lost the message). The publish is then forgotten: a relay that
   * comes later still reaches the listeners, but settles nothing.
   *
   * @defaultValue {@link DEFAULT_IPC_CALL_TIMEOUT_MS} (10 s)
   */
  callTimeoutMs?: number
}

const OWNER = 'IpcBroker'

/**
 * The broker of a worker process under `herald serve --workers N`: publishes go to the primary, which relays each
 * message to every worker, this one included, in the order it received them. At-most-once; order preserved per
 * publishing worker.
 */
export class IpcBroker implements Broker {
  readonly #channel: IpcChannel
  /** One entry per subscription: the same function subscribed twice is called twice. */
  readonly #subscriptions: SubscriptionSet
  readonly #acks = new Map<number, { resolve: () => void; reject: (error: Error) => void; timer: ReturnType<typeof setTimeout> }>()
  readonly #callTimeoutMs: number
  #nextId = 0
  #stop: (() => void) | undefined
  #closed = false

  /** @throws `ERR_HUB_INVALID_OPTION` for a `callTimeoutMs` that is not an integer >= 1, or an `onError` that is not a function. */
  constructor(options: IpcBrokerOptions) {
    this.#channel = options.channel
    this.#subscriptions = new SubscriptionSet(OWNER, options.onError)
    this.#callTimeoutMs = integerOption(OWNER, 'callTimeoutMs', options.callTimeoutMs, DEFAULT_IPC_CALL_TIMEOUT_MS, 1)
  }

  /**
   * Resolves once the primary has relayed the message to every worker and this worker's listeners have had it (the
   * copy the primary sends back acknowledges the publish), so a publisher that awaits each publish has at most one
   * message in flight: memory stays bounded however slow the primary is, and a publish waits at most
   * `callTimeoutMs`.
   */
  publish(message: HubMessage): Promise<void> {
    if (this.#closed) return Promise.reject(brokerClosedError())
    this.#listen()
    const id = ++this.#nextId
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#acks.delete(id)
        reject(new HubError('ERR_HUB_BROKER_UNAVAILABLE', `${OWNER}: the primary process did not relay the publish within ${this.#callTimeoutMs} ms`))
      }, this.#callTimeoutMs)
      this.#acks.set(id, { resolve, reject, timer })
      this.#channel.send({ herald: 'broker-publish', id, message })
    })
  }

  /**
   * Subscribes a listener; see {@link Broker.subscribe}. `options.onMissed`, when given, is checked but never called:
   * the pipe to the primary loses nothing while both processes live.
   *
   * @throws `ERR_HUB_INVALID_OPTION` (rejects) when `onMessage`, or `options.onMissed`, is not a function;
   *   `ERR_HUB_BROKER_CLOSED` after `close()`.
   */
  // eslint-disable-next-line @typescript-eslint/require-await -- async, so that a failed check rejects
  async subscribe(onMessage: (m: HubMessage) => void, options: SubscribeOptions = {}): Promise<Unsubscribe> {
    if (this.#closed) throw brokerClosedError()
    this.#subscriptions.check(onMessage, options)
    const unsubscribe = this.#subscriptions.add(onMessage, undefined)
    this.#listen()
    return unsubscribe
  }

  #listen(): void {
    this.#stop ??= this.#channel.onMessage((m) => {
      if (m.herald !== 'broker-message') return
      this.#subscriptions.deliver(m.message as HubMessage)
      if (m.ack !== undefined) {
        const ack = this.#acks.get(m.ack)
        this.#acks.delete(m.ack)
        if (ack !== undefined) {
          clearTimeout(ack.timer)
          ack.resolve()
        }
      }
    })
  }

  close(): Promise<void> {
    this.#closed = true
    this.#subscriptions.close()
    for (const ack of this.#acks.values()) {
      clearTimeout(ack.timer)
      ack.reject(new HubError('ERR_HUB_BROKER_CLOSED', 'the broker closed before the primary acknowledged'))
    }
    this.#acks.clear()
    this.#stop?.()
    this.#stop = undefined
    return Promise.resolve()
  }
}
