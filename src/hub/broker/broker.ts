import type { HubMessage } from '../update.js'

/**
 * Stops one subscription. Resolves once no further message reaches its listener. Calling it again, or after the
 * broker closed, does nothing and resolves.
 */
export type Unsubscribe = () => Promise<void>

/** Why a subscription may have missed messages. */
export interface MissedMessages {
  /** The engine's connection was lost and is back. */
  readonly reason: 'reconnect'
  /** When the loss was noticed, in milliseconds since the epoch (this process's clock). */
  readonly disconnectedAt: number
}

/** Options of {@link Broker.subscribe}. */
export interface SubscribeOptions {
  /**
   * Called when messages published since the last delivered one may not have reached this subscription (the
   * engine's connection was lost and is back). Called before any message received after the loss reaches the
   * listener, so the caller can hold live messages, re-read history, then release the held ones, dropping those
   * already read. A pub/sub broker does not deliver in history order across publishers, so the hub re-reads from
   * before the last position it saw and skips what it delivered (see `docs/scale-out.md`). Engines that cannot lose
   * messages (memory, IPC) never call it.
   */
  readonly onMissed?: (event: MissedMessages) => void
}

/**
 * Fan-out of published messages to every subscribed listener, within one process (memory) or across hub nodes
 * (Redis, NATS).
 *
 * Guarantees, for every engine (checked by `brokerConformance` in `testing/broker-suite.ts`):
 * - **At most once.** A listener receives each message once or not at all (a subscriber that was not connected, or
 *   a transport failure, loses messages; history fills such gaps when the subscriber resumes).
 * - **Order.** Messages published from one publisher (one broker instance), in the order their `publish` calls were
 *   made, reach each listener in that order; in particular the order is preserved per topic.
 * - **Listeners are isolated.** A listener that throws or returns a rejected promise does not stop delivery to the
 *   others, nor later deliveries to itself; the error goes to the engine's `onError` option with the code
 *   `ERR_HUB_BROKER_LISTENER_FAILED`.
 * - **Content.** A listener receives a message equal to the one published: same update (absent optional fields stay
 *   absent) and same position. Treat it as read-only: in-process engines hand the same object to every listener.
 * - **Lifecycle.** `subscribe` resolves once the subscription is active: a message published after that reaches it.
 *   After its {@link Unsubscribe} resolves, the listener receives nothing more. After `close()`, `publish` and
 *   `subscribe` reject with `ERR_HUB_BROKER_CLOSED` and no listener receives anything; `close()` may be called
 *   again.
 *
 * @example
 * ```ts
 * const unsubscribe = await broker.subscribe((message) => hubNode.dispatch(message))
 * const position = await history.append(update)
 * await broker.publish({ update, position })
 * await unsubscribe()
 * await broker.close()
 * ```
 */
export interface Broker {
  /**
   * Sends a message to every active subscription. Resolves once the engine has accepted the message for delivery
   * (in-process engines: once every listener was called), which does not mean remote listeners have received it.
   *
   * @throws `ERR_HUB_BROKER_CLOSED` (rejects) after `close()`.
   */
  publish(message: HubMessage): Promise<void>

  /**
   * Calls `onMessage` for every message published after the returned promise resolves, until unsubscribed or
   * closed. Listeners are called one message at a time, in order; a listener should return quickly (queue work
   * elsewhere) since it delays the messages behind it. Each call is a subscription of its own, even with a function
   * already subscribed (it is then called once per subscription).
   *
   * @throws `ERR_HUB_BROKER_CLOSED` (rejects) after `close()`.
   */
  subscribe(onMessage: (message: HubMessage) => void, options?: SubscribeOptions): Promise<Unsubscribe>

  /** Stops every subscription and releases connections. Messages not yet delivered are dropped. */
  close(): Promise<void>
}
