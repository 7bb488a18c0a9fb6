/**
 * Holds targets until a time of their own, then hands each to `release`; one timer serves every target. Targets are
 * kept in buckets of one millisecond, and released at their time or up to a millisecond after it.
 *
 * Why: with a minimum interval between the writes of a session (`writeIntervalMs`), a session that wrote recently
 * waits until the interval since that write is over, and the times to wait for are not in the order the sessions
 * start waiting. In the hub benchmark's scenario A (`npm run bench:hub -- --systems herald-hub --scenarios A`, whose
 * default interval is 40 ms), a session then writes at most once per interval: a write carries three or four of the
 * 100 updates a second.
 */
export class WritePacer<Target> {
  /** Targets by the millisecond they are due in (on the `performance.now()` clock, rounded up). */
  #buckets = new Map<number, Target[]>()
  /** The bucket the timer is set for, or `Infinity` when no timer is set. */
  #timerAt = Number.POSITIVE_INFINITY
  #timer: ReturnType<typeof setTimeout> | undefined
  readonly #release: (target: Target) => void
  readonly #fire = (): void => this.#run()

  /** @param release - Called once per {@link WritePacer.add}, when the target's time has come. */
  constructor(release: (target: Target) => void) {
    this.#release = release
  }

  /** How many targets wait. */
  get size(): number {
    let size = 0
    for (const targets of this.#buckets.values()) size += targets.length
    return size
  }

  /** Holds a target for `waitMs` milliseconds from now. A target must not be added again before it was released. */
  add(target: Target, waitMs: number): void {
    const at = Math.ceil(performance.now() + waitMs)
    const bucket = this.#buckets.get(at)
    if (bucket === undefined) this.#buckets.set(at, [target])
    else bucket.push(target)
    if (at < this.#timerAt) this.#setTimer(at)
  }

  #setTimer(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timerAt = at
    this.#timer = setTimeout(this.#fire, Math.max(0, at - performance.now()))
  }

  #run(): void {
    this.#timer = undefined
    this.#timerAt = Number.POSITIVE_INFINITY
    const now = performance.now()
    let next = Number.POSITIVE_INFINITY
    // At most one bucket per millisecond of the longest wait: a short walk.
    for (const [at, targets] of this.#buckets) {
      // A timer may fire a little early on this clock (it counts from the event loop's cached time): the timer is then
      // set again for what is left.
      if (at > now) {
        if (at < next) next = at
        continue
      }
      this.#buckets.delete(at)
      for (const target of targets) this.#release(target)
    }
    if (next !== Number.POSITIVE_INFINITY) this.#setTimer(next)
  }
}
