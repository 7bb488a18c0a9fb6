// The publish of a stream broker and the copies it forwards without waiting. Internal: not re-exported from index.ts.
import { HubError, messageOf } from '../errors.js'
import type { HubMessage } from '../update.js'
import { encodeToPublish } from './encode-to-publish.js'

const RESOLVED = Promise.resolve()

/** Options of {@link MirrorCopies}. */
export interface MirrorCopiesOptions<Payload> {
  /** The broker's class name, which starts each error message. */
  readonly owner: string
  /** Where the copies go, as error messages name it (`'channel herald:broker'`). */
  readonly target: string
  /** The pub/sub engine's encoder, which throws for a message that breaks the `HubMessage` contract. */
  readonly encode: (message: HubMessage) => Payload
  /** Sends one copy to the pub/sub broker; `undefined` when this broker sends none. */
  readonly forward: ((payload: Payload) => Promise<void>) | undefined
  /** Receives each failed copy. */
  readonly report: (error: HubError) => void
}

/**
 * The `publish` of a stream broker (`RedisStreamBroker`, `NatsStreamBroker`), whose listeners get each update from
 * the history, and the copies it forwards to the pub/sub broker of nodes that do not tail the history, without making
 * `publish` wait for them.
 *
 * - {@link MirrorCopies.publish} checks a message by encoding it, forwards the payload as a copy, and resolves at once.
 * - {@link MirrorCopies.send} takes the promise of one copy: a copy that fails is reported once, naming the update,
 *   with the pub/sub broker's error as `cause` and its code (`ERR_HUB_BROKER_UNAVAILABLE` for anything else).
 * - {@link MirrorCopies.settled} resolves once every copy sent so far has settled, so that `close()` ends no copy
 *   half-way. How many are under way at once is bounded by the pub/sub broker's own timeout: each settles within it.
 *
 * @example
 * ```ts
 * const copies = new MirrorCopies({
 *   owner: 'RedisStreamBroker',
 *   target: 'channel herald:broker',
 *   encode: encodeMessage,
 *   forward: (payload) => pubsub.publishEncoded(payload),
 *   report: (error) => subscriptions.report(error),
 * })
 * // publish(message):
 * return copies.publish(message)
 * // close():
 * await copies.settled()
 * ```
 */
export class MirrorCopies<Payload> {
  readonly #options: MirrorCopiesOptions<Payload>
  #pending = 0
  #waiters: (() => void)[] = []

  constructor(options: MirrorCopiesOptions<Payload>) {
    this.#options = options
  }

  /**
   * Checks `message` by encoding it and forwards the payload, if this broker forwards copies, without waiting for it.
   *
   * @returns a promise resolved at once, or rejected with `ERR_HUB_BROKER_MESSAGE_INVALID` for a message that breaks
   *   the `HubMessage` contract (nothing is forwarded then).
   */
  publish(message: HubMessage): Promise<void> {
    const { owner, encode, forward } = this.#options
    return encodeToPublish(owner, message, encode, (payload) => {
      // The copy carries the payload that validated the message.
      if (forward !== undefined) this.send(forward(payload), message)
      return RESOLVED
    })
  }

  /** Follows one copy of `message` until it settles. */
  send(copy: Promise<void>, message: HubMessage): void {
    this.#pending++
    copy.then(
      () => this.#settle(),
      (cause: unknown) => {
        this.#options.report(
          new HubError(
            cause instanceof HubError ? cause.code : 'ERR_HUB_BROKER_UNAVAILABLE',
            `${this.#options.owner}: the copy of update ${message.update.id} for ${this.#options.target} failed: ${messageOf(cause)}`,
            { cause },
          ),
        )
        this.#settle()
      },
    )
  }

  /** Resolves once no copy is under way (at once when none is), failed ones reported. */
  settled(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  #settle(): void {
    if (--this.#pending > 0) return
    const waiters = this.#waiters
    this.#waiters = []
    for (const resolve of waiters) resolve()
  }
}
