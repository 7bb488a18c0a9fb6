import { HubError, messageOf } from '../errors.js'
import type { HubMessage } from '../update.js'
import type { Broker, Unsubscribe } from './broker.js'

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

interface Listener {
  readonly onMessage: (message: HubMessage) => void
  active: boolean
}

interface Pending {
  readonly message: HubMessage
  readonly listeners: readonly Listener[]
}

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
  readonly #onError: (error: HubError) => void
  /** Replaced, never mutated, so a publish can keep the array it started with (copy on write). */
  #listeners: readonly Listener[] = []
  /** Messages published by listeners while a delivery is under way. */
  #pending: Pending[] = []
  #delivering = false
  #closed = false

  constructor(options: MemoryBrokerOptions = {}) {
    if (typeof options !== 'object' || (options as unknown) === null) {
      throw new HubError('ERR_HUB_INVALID_OPTION', 'MemoryBroker: options must be an object')
    }
    const { onError = ignoreError } = options
    if (typeof onError !== 'function') {
      throw new HubError('ERR_HUB_INVALID_OPTION', `MemoryBroker: onError must be a function, not ${typeof onError}`)
    }
    this.#onError = onError
  }

  publish(message: HubMessage): Promise<void> {
    if (this.#closed) return Promise.reject(closedError())
    const listeners = this.#listeners
    if (listeners.length === 0) return RESOLVED
    if (this.#delivering) {
      this.#pending.push({ message, listeners })
      return RESOLVED
    }
    this.#delivering = true
    try {
      this.#deliver(message, listeners)
      // Indexing rather than shift(): the queue is drained in one pass, then dropped.
      for (let i = 0; i < this.#pending.length; i++) {
        const next = this.#pending[i] as Pending
        this.#deliver(next.message, next.listeners)
      }
    } finally {
      this.#pending = []
      this.#delivering = false
    }
    return RESOLVED
  }

  subscribe(onMessage: (message: HubMessage) => void): Promise<Unsubscribe> {
    if (this.#closed) return Promise.reject(closedError())
    if (typeof onMessage !== 'function') {
      const message = `MemoryBroker: a listener must be a function, not ${typeof onMessage}`
      return Promise.reject(new HubError('ERR_HUB_INVALID_OPTION', message))
    }
    const listener: Listener = { onMessage, active: true }
    this.#listeners = [...this.#listeners, listener]
    const unsubscribe: Unsubscribe = () => {
      if (listener.active) {
        listener.active = false
        this.#listeners = this.#listeners.filter((other) => other !== listener)
      }
      return RESOLVED
    }
    return Promise.resolve(unsubscribe)
  }

  close(): Promise<void> {
    if (this.#closed) return RESOLVED
    this.#closed = true
    for (const listener of this.#listeners) listener.active = false
    this.#listeners = []
    this.#pending = []
    return RESOLVED
  }

  #deliver(message: HubMessage, listeners: readonly Listener[]): void {
    for (const listener of listeners) {
      if (!listener.active) continue
      try {
        const result: unknown = listener.onMessage(message)
        if (isThenable(result)) result.then(undefined, (error: unknown) => this.#report(error))
      } catch (error) {
        this.#report(error)
      }
    }
  }

  #report(cause: unknown): void {
    const error = new HubError('ERR_HUB_BROKER_LISTENER_FAILED', `a broker listener failed: ${messageOf(cause)}`, { cause })
    try {
      this.#onError(error)
    } catch (reporterError) {
      queueMicrotask(() => {
        throw reporterError
      })
    }
  }
}

function closedError(): HubError {
  return new HubError('ERR_HUB_BROKER_CLOSED', 'this broker is closed')
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

function ignoreError(): void {}
