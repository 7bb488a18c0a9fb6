// The subscription bookkeeping of the brokers (memory, IPC, Redis, NATS and their stream variants). Internal: not
// re-exported from index.ts.
import { HubError, messageOf } from '../errors.js'
import { functionOption } from '../history/option-checks.js'
import type { HubMessage } from '../update.js'
import type { MissedMessages, SubscribeOptions, Unsubscribe } from './broker.js'

interface Subscription {
  readonly onMessage: (message: HubMessage) => void
  readonly onMissed: ((event: MissedMessages) => void) | undefined
  active: boolean
}

/** The subscriptions of a {@link SubscriptionSet} at one moment (see {@link SubscriptionSet.current}). */
export type Subscriptions = readonly Subscription[]

const RESOLVED = Promise.resolve()

/**
 * The subscriptions of one broker and what the {@link Broker} contract asks of them: a broker engine composes one and
 * keeps only its transport.
 *
 * - **Checks.** {@link SubscriptionSet.check} validates the arguments of `subscribe` (`ERR_HUB_INVALID_OPTION`), and
 *   the constructor the engine's `onError` option.
 * - **Delivery.** {@link SubscriptionSet.deliver} hands one message to every active subscription, in subscription
 *   order. A listener that throws, or returns a promise that rejects, is reported to `onError` as
 *   `ERR_HUB_BROKER_LISTENER_FAILED` (its error as `cause`) and delivery goes on. The set of subscriptions is
 *   replaced, never mutated (copy on write), so a delivery keeps the subscriptions it started with; one unsubscribed
 *   meanwhile is skipped.
 * - **Missed messages.** {@link SubscriptionSet.markMissed} records that messages may have been lost (the first mark
 *   of an outage wins); {@link SubscriptionSet.notifyMissed} then calls each `onMissed` once with that outage, and
 *   does nothing until the next mark. An engine calls it before it delivers the next message.
 * - **Lifecycle.** The {@link Unsubscribe} of {@link SubscriptionSet.add} removes its subscription once; again, or
 *   after {@link SubscriptionSet.close}, it does nothing. `close()` deactivates every subscription, so a delivery
 *   under way reaches no one further.
 * - **Reporting.** {@link SubscriptionSet.report} passes an error to `onError`; an error thrown by `onError` itself is
 *   rethrown from a microtask (an uncaught exception), as a broken error reporter is a bug to surface.
 *
 * @example
 * ```ts
 * const subscriptions = new SubscriptionSet('RedisBroker', options.onError)
 * // subscribe(onMessage, options):
 * const onMissed = subscriptions.check(onMessage, options)
 * await connected
 * return subscriptions.add(onMessage, onMissed)
 * // on a lost connection, then on each message received:
 * subscriptions.markMissed(Date.now())
 * subscriptions.notifyMissed()
 * subscriptions.deliver(message)
 * ```
 */
export class SubscriptionSet {
  readonly #owner: string
  readonly #onError: (error: HubError) => void
  /** Replaced, never mutated, so a delivery can keep the array it started with (copy on write). */
  #subscriptions: readonly Subscription[] = []
  /** When the outage to report to `onMissed` was noticed; `undefined` when none is due. */
  #missedAt: number | undefined

  /**
   * @param owner - The engine's class name, which starts the messages of option errors.
   * @param onError - The engine's `onError` option: receives listener failures and whatever {@link report} is given.
   *   Anything but `undefined` or a function throws `ERR_HUB_INVALID_OPTION`.
   *   @defaultValue a function that ignores the error
   */
  constructor(owner: string, onError: ((error: HubError) => void) | undefined) {
    this.#onError = functionOption(owner, 'onError', onError, ignoreError)
    this.#owner = owner
  }

  /** How many subscriptions are active. */
  get size(): number {
    return this.#subscriptions.length
  }

  /**
   * The subscriptions active now, for a message to be delivered later to these and no others (a broker that queues
   * the messages published while it delivers): one added meanwhile does not get it, one removed meanwhile is skipped.
   */
  get current(): Subscriptions {
    return this.#subscriptions
  }

  /**
   * Validates the arguments of `subscribe`; returns the `onMissed` callback (or `undefined`).
   *
   * @throws `ERR_HUB_INVALID_OPTION` when `onMessage` is not a function, or `options.onMissed` is given and is not one.
   */
  check(onMessage: unknown, options: SubscribeOptions): ((event: MissedMessages) => void) | undefined {
    if (typeof onMessage !== 'function') {
      throw new HubError('ERR_HUB_INVALID_OPTION', `${this.#owner}: a listener must be a function, not ${typeof onMessage}`)
    }
    const { onMissed } = options
    if (onMissed !== undefined && typeof onMissed !== 'function') {
      throw new HubError('ERR_HUB_INVALID_OPTION', `${this.#owner}: onMissed must be a function, not ${typeof onMissed}`)
    }
    return onMissed
  }

  /** Adds a subscription (arguments already {@link check}ed); it receives the messages delivered from now on. */
  add(onMessage: (message: HubMessage) => void, onMissed: ((event: MissedMessages) => void) | undefined): Unsubscribe {
    const subscription: Subscription = { onMessage, onMissed, active: true }
    this.#subscriptions = [...this.#subscriptions, subscription]
    return () => {
      if (subscription.active) {
        subscription.active = false
        this.#subscriptions = this.#subscriptions.filter((other) => other !== subscription)
      }
      return RESOLVED
    }
  }

  /**
   * Calls the listener of every subscription still active, of `subscriptions` (by default those active now), with
   * `message`; see the class notes for errors.
   */
  deliver(message: HubMessage, subscriptions: Subscriptions = this.#subscriptions): void {
    for (const subscription of subscriptions) {
      if (!subscription.active) continue
      try {
        const result: unknown = subscription.onMessage(message)
        if (isThenable(result)) result.then(undefined, (error: unknown) => this.#reportListenerFailure(error))
      } catch (error) {
        this.#reportListenerFailure(error)
      }
    }
  }

  /**
   * Hands a payload received from the engine to the listeners: first the `onMissed` notice that is due (once per
   * outage, before any message of the new connection), then, when anyone listens, the message `decode` makes of it.
   * A payload that does not decode is reported as `ERR_HUB_BROKER_MESSAGE_INVALID` and dropped.
   */
  receive<Payload>(payload: Payload, decode: (payload: Payload) => HubMessage): void {
    this.notifyMissed()
    if (this.#subscriptions.length === 0) return
    let message: HubMessage
    try {
      message = decode(payload)
    } catch (cause) {
      this.report(new HubError('ERR_HUB_BROKER_MESSAGE_INVALID', `${this.#owner}: dropped a message that is not Herald's: ${messageOf(cause)}`, { cause }))
      return
    }
    this.deliver(message)
  }

  /**
   * Records that messages may have been missed since `disconnectedAt` (milliseconds since the epoch). While a mark is
   * due (not yet passed on by {@link notifyMissed}), later marks are ignored: one outage, one notice, dated when it began.
   */
  markMissed(disconnectedAt: number): void {
    this.#missedAt ??= disconnectedAt
  }

  /** Whether a {@link markMissed} mark waits for {@link notifyMissed}. */
  get missedPending(): boolean {
    return this.#missedAt !== undefined
  }

  /**
   * When a mark is due, clears it and calls the `onMissed` callback of every active subscription with one frozen
   * {@link MissedMessages} event; a callback that throws is reported as `ERR_HUB_BROKER_LISTENER_FAILED`. Otherwise
   * does nothing.
   */
  notifyMissed(): void {
    const disconnectedAt = this.#missedAt
    if (disconnectedAt === undefined) return
    this.#missedAt = undefined
    const event: MissedMessages = Object.freeze({ reason: 'reconnect', disconnectedAt })
    for (const subscription of this.#subscriptions) {
      if (!subscription.active || subscription.onMissed === undefined) continue
      try {
        subscription.onMissed(event)
      } catch (error) {
        this.#reportListenerFailure(error)
      }
    }
  }

  /** Ends every subscription: none receives anything more, and their {@link Unsubscribe}s do nothing. */
  close(): void {
    for (const subscription of this.#subscriptions) subscription.active = false
    this.#subscriptions = []
    this.#missedAt = undefined
  }

  /** Passes `error` to `onError`; an error thrown there is rethrown from a microtask. */
  report(error: HubError): void {
    try {
      this.#onError(error)
    } catch (reporterError) {
      queueMicrotask(() => {
        throw reporterError
      })
    }
  }

  #reportListenerFailure(cause: unknown): void {
    this.report(new HubError('ERR_HUB_BROKER_LISTENER_FAILED', `a broker listener failed: ${messageOf(cause)}`, { cause }))
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

function ignoreError(): void {}
