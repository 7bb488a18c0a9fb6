// The reading loop of the brokers that tail a history (RedisStreamBroker, NatsStreamBroker). Internal: not
// re-exported from index.ts.
import type { HubError } from '../errors.js'
import type { HubMessage } from '../update.js'
import { brokerClosedError } from './broker-closed-error.js'
import type { SubscribeOptions, Unsubscribe } from './broker.js'
import type { SubscriptionSet } from './subscription-set.js'

/** What a {@link TailLoop} runs: the engine's part of a stream broker. */
export interface TailLoopOptions {
  /** The broker's subscriptions: the loop adds to them, closes them, and tells them of missed messages. */
  readonly subscriptions: SubscriptionSet
  /** How long the loop waits for {@link TailLoop.signal} before it reads again anyway. */
  readonly pollMs: number
  /** The most entries one read returns: a read that returned as many reads again at once. */
  readonly batchSize: number
  /**
   * Finds where delivery starts (the newest entry), at the first `subscribe`; the loop runs once it resolved. A
   * rejection fails that `subscribe` (as `ERR_HUB_BROKER_CLOSED` once the loop was closed), and the next `subscribe`
   * calls it again.
   */
  readonly start: () => Promise<void>
  /** Reads and delivers the entries after the last one delivered, at most `batchSize`; resolves with how many it read. */
  readonly read: () => Promise<number>
  /** Runs after a read that returned less than a batch, before the wait; a rejection fails the round. */
  readonly beforeWait?: () => Promise<void>
  /**
   * Called with what made a round fail; returns the error to report. Reported once per outage: until a round
   * succeeds again, or {@link TailLoop.reportDown} reported it first.
   */
  readonly onFailure: (error: unknown) => HubError
  /**
   * Whether an outage the reads do not see is still under way (a notice connection that is down, say): while it is,
   * a round that succeeds keeps the outage's date for the next {@link TailLoop.notifyMissed}.
   *
   * @defaultValue a function that returns `false`
   */
  readonly outageUnderWay?: () => boolean
}

const RESOLVED = Promise.resolve()

/** The pause after a failed round before the next read, while the engine's client reconnects: 100 ms. */
export const TAIL_RETRY_DELAY_MS = 100

/**
 * The loop that keeps a stream broker reading its history, and the broker's lifecycle around it.
 *
 * - **Rounds.** A round calls `read`; when it read less than a batch, `beforeWait`, then waits for
 *   {@link TailLoop.signal} or `pollMs`. A signal given while a round is under way makes the next round start at
 *   once, so no signal is lost between a read and the wait.
 * - **Failures.** A failed round is reported through `onFailure` once per outage, dated when the outage began (the
 *   date {@link TailLoop.notifyMissed} gives `onMissed`); the next round starts {@link TAIL_RETRY_DELAY_MS} later. The first round
 *   that succeeds ends the outage.
 * - **Lifecycle.** {@link TailLoop.subscribe} finds the start once, then runs the loop until {@link TailLoop.close},
 *   whether or not anyone listens.
 *
 * @example
 * ```ts
 * const loop = new TailLoop({
 *   subscriptions, pollMs: 2_000, batchSize: 256,
 *   start: () => findNewestEntry(),
 *   read: () => readAfterCursor(),
 *   onFailure: (error) => new HubError('ERR_HUB_BROKER_UNAVAILABLE', `lost the engine: ${messageOf(error)}`, { cause: error }),
 * })
 * // Broker.subscribe:
 * return loop.subscribe(onMessage, options)
 * // when the engine announces a new entry:
 * loop.signal()
 * ```
 */
export class TailLoop {
  readonly #options: TailLoopOptions
  /** Resolves once the start is known and the loop runs; reset when finding the start failed. */
  #started: Promise<void> | undefined
  /** A signal came since the current round started. */
  #signalled = false
  /** Ends the current wait. */
  #wake: (() => void) | undefined
  /** A round failed, or {@link TailLoop.reportDown} was called, since the last round that succeeded. */
  #failing = false
  /** When the outage under way began (`Date.now()` time; 0 when none). */
  #outageSince = 0
  #closed = false

  constructor(options: TailLoopOptions) {
    this.#options = options
  }

  /**
   * Adds a listener to the subscriptions, once the start is known (see `Broker.subscribe`).
   *
   * @throws `ERR_HUB_INVALID_OPTION` (rejects) for invalid arguments; what `start` rejected with; `ERR_HUB_BROKER_CLOSED`
   *   after {@link TailLoop.close}.
   */
  async subscribe(onMessage: (message: HubMessage) => void, options: SubscribeOptions): Promise<Unsubscribe> {
    if (this.#closed) throw brokerClosedError()
    const onMissed = this.#options.subscriptions.check(onMessage, options)
    this.#started ??= this.#start()
    await this.#started
    // close() may have run while waiting.
    if (this.isClosed()) throw brokerClosedError()
    return this.#options.subscriptions.add(onMessage, onMissed)
  }

  /** Makes the loop read now, or once its current round is done. */
  signal(): void {
    this.#signalled = true
    this.#wake?.()
  }

  /**
   * Reports an outage that the engine's connection told of before a round failed, as a failed round would: once per
   * outage, dated now unless one is under way.
   */
  reportDown(error: HubError): void {
    if (this.#failing || this.#closed) return
    this.#failing = true
    this.#dateOutage()
    this.#options.subscriptions.report(error)
  }

  /** Dates an outage the caller reports itself (see `outageUnderWay`), unless one is under way. */
  markOutage(): void {
    this.#dateOutage()
  }

  /** Calls `onMissed` of every subscription now, dated from the outage under way, if any, else now. */
  notifyMissed(): void {
    const subscriptions = this.#options.subscriptions
    subscriptions.markMissed(this.#outageSince || Date.now())
    subscriptions.notifyMissed()
  }

  /** Whether {@link TailLoop.close} ran; a method, so that checks after an `await` are not narrowed away. */
  isClosed(): boolean {
    return this.#closed
  }

  /**
   * Stops the loop after its current step and closes the subscriptions.
   *
   * @returns `false` when the loop was closed already.
   */
  close(): boolean {
    if (this.#closed) return false
    this.#closed = true
    this.#options.subscriptions.close()
    this.#wake?.()
    return true
  }

  async #start(): Promise<void> {
    try {
      await this.#options.start()
    } catch (error) {
      this.#started = undefined
      throw this.#closed ? brokerClosedError(error) : error
    }
    void this.#run()
  }

  async #run(): Promise<void> {
    const { read, beforeWait, batchSize } = this.#options
    while (!this.#closed) {
      try {
        this.#signalled = false
        const count = await read()
        this.#failing = false
        // The read delivered what the outage held back, if any: from here on, a gap is dated anew.
        if (this.#options.outageUnderWay?.() !== true) this.#outageSince = 0
        if (count < batchSize && !this.isClosed()) {
          await beforeWait?.()
          if (!this.isClosed()) await this.#waitForSignal()
        }
      } catch (error) {
        if (this.isClosed()) return
        const reported = this.#options.onFailure(error)
        if (!this.#failing) {
          this.#failing = true
          this.#dateOutage()
          this.#options.subscriptions.report(reported)
        }
        await new Promise((resolve) => setTimeout(resolve, TAIL_RETRY_DELAY_MS))
      }
    }
  }

  /** Waits until {@link TailLoop.signal} or `close()` is called, or `pollMs` passed; at once when a signal came. */
  #waitForSignal(): Promise<void> {
    if (this.#signalled) return RESOLVED
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#wake = undefined
        resolve()
      }
      const timer = setTimeout(done, this.#options.pollMs)
      this.#wake = done
    })
  }

  #dateOutage(): void {
    if (this.#outageSince === 0) this.#outageSince = Date.now()
  }
}
