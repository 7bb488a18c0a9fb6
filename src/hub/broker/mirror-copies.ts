// The copies a stream broker sends to a pub/sub broker without waiting. Internal: not re-exported from index.ts.
import { HubError, messageOf } from '../errors.js'
import type { HubMessage } from '../update.js'

/**
 * Follows the copies of published messages that a stream broker (`RedisStreamBroker`, `NatsStreamBroker`) forwards
 * to the pub/sub broker of nodes that do not tail the history, without making `publish` wait for them.
 *
 * - {@link MirrorCopies.send} takes the promise of one copy: a copy that fails is reported once, naming the update,
 *   with the pub/sub broker's error as `cause` and its code (`ERR_HUB_BROKER_UNAVAILABLE` for anything else).
 * - {@link MirrorCopies.settled} resolves once every copy sent so far has settled, so that `close()` ends no copy
 *   half-way. How many are under way at once is bounded by the pub/sub broker's own timeout: each settles within it.
 *
 * @example
 * ```ts
 * const copies = new MirrorCopies('RedisStreamBroker', 'channel herald:broker', (error) => subscriptions.report(error))
 * copies.send(pubsub.publish(message), message)
 * // close():
 * await copies.settled()
 * ```
 */
export class MirrorCopies {
  readonly #owner: string
  readonly #target: string
  readonly #report: (error: HubError) => void
  #pending = 0
  #waiters: (() => void)[] = []

  /**
   * @param owner - The broker's class name, which starts each error message.
   * @param target - Where the copies go, as error messages name it (`'channel herald:broker'`).
   * @param report - Receives each failed copy.
   */
  constructor(owner: string, target: string, report: (error: HubError) => void) {
    this.#owner = owner
    this.#target = target
    this.#report = report
  }

  /** Follows one copy of `message` until it settles. */
  send(copy: Promise<void>, message: HubMessage): void {
    this.#pending++
    copy.then(
      () => this.#settle(),
      (cause: unknown) => {
        this.#report(
          new HubError(
            cause instanceof HubError ? cause.code : 'ERR_HUB_BROKER_UNAVAILABLE',
            `${this.#owner}: the copy of update ${message.update.id} for ${this.#target} failed: ${messageOf(cause)}`,
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
