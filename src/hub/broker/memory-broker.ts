import { HubError } from '../errors.js'
import { checkOptionsObject } from '../history/option-checks.js'
import type { HubMessage } from '../update.js'
import { brokerClosedError } from './broker-closed-error.js'
import type { Broker, SubscribeOptions, Unsubscribe } from './broker.js'
import { SubscriptionSet, type Subscriptions } from './subscription-set.js'

/** Options of {@link MemoryBroker}. Every field is optional. */
export interface MemoryBrokerOptions {
  /**
   * Receives the errors of listeners (`ERR_HUB_BROKER_LISTENER_FAILED`, the listener's error as `cause`): a throw,
   * or a rejection of a promise the listener returned. Delivery goes on regardless. An error thrown by `onError`
   * itself is rethrown from a microtask (an uncaught exception), as a broken error reporter is a bug to surface.
   *
   * @defaultValue a function that ignores the error
   */
  readonly onError?: (error: HubError) => void
}

interface Pending {
  readonly message: HubMessage
  readonly subscriptions: Subscriptions
}

const OWNER = 'MemoryBroker'
const RESOLVED = Promise.resolve()

/**
 * A broker within one process: the default for a single hub node, and the reference engine of the broker contract.
 *
 * `publish` calls every listener synchronously, in subscription order, before its promise resolves; the same message
 * object goes to every listener (nothing is copied or serialised). A message published from inside a listener is
 * queued and delivered once the current message has reached every listener, so all listeners see one global order.
 * The listeners of a message are those subscribed when `publish` was called. A listener's error is reported to
 * `onError` and does not stop delivery.
 *
 * @example
 * ```ts
 * const broker = new MemoryBroker({ onError: (error) => logger.error(error) })
 * const unsubscribe = await broker.subscribe((message) => console.log(message.update.topics[0]))
 * await broker.publish({ update, position })
 * ```
 */
export class MemoryBroker implements Broker {
  readonly #subscriptions: SubscriptionSet
  /** Messages published by listeners while a delivery is under way. */
  #pending: Pending[] = []
  #delivering = false
  #closed = false

  constructor(options: MemoryBrokerOptions = {}) {
    checkOptionsObject(OWNER, options)
    this.#subscriptions = new SubscriptionSet(OWNER, options.onError)
  }

  publish(message: HubMessage): Promise<void> {
    if (this.#closed) return Promise.reject(brokerClosedError())
    const subscriptions = this.#subscriptions.current
    if (subscriptions.length === 0) return RESOLVED
    if (this.#delivering) {
      this.#pending.push({ message, subscriptions })
      return RESOLVED
    }
    this.#delivering = true
    try {
      this.#subscriptions.deliver(message, subscriptions)
      // Indexing rather than shift(): the queue is drained in one pass, then dropped.
      for (let i = 0; i < this.#pending.length; i++) {
        const next = this.#pending[i] as Pending
        this.#subscriptions.deliver(next.message, next.subscriptions)
      }
    } finally {
      this.#pending = []
      this.#delivering = false
    }
    return RESOLVED
  }

  /**
   * Subscribes a listener; see {@link Broker.subscribe}. `options.onMissed`, when given, is checked but never called:
   * nothing is lost within one process.
   *
   * @throws `ERR_HUB_INVALID_OPTION` (rejects) when `onMessage`, or `options.onMissed`, is not a function;
   *   `ERR_HUB_BROKER_CLOSED` after `close()`.
   */
  // eslint-disable-next-line @typescript-eslint/require-await -- async, so that a failed check rejects
  async subscribe(onMessage: (message: HubMessage) => void, options: SubscribeOptions = {}): Promise<Unsubscribe> {
    if (this.#closed) throw brokerClosedError()
    this.#subscriptions.check(onMessage, options)
    return this.#subscriptions.add(onMessage, undefined)
  }

  close(): Promise<void> {
    if (this.#closed) return RESOLVED
    this.#closed = true
    this.#subscriptions.close()
    this.#pending = []
    return RESOLVED
  }
}
