/** Detects a connection that has gone quiet. */
export interface StallTimer {
  /** Starts watching; the quiet period starts now. */
  start(): void
  /** Notes that bytes arrived. Costs one clock read: no timer is touched. */
  touch(): void
  /** Stops watching. */
  stop(): void
}

/**
 * Creates a timer that calls `onStall` once nothing has called `touch()` for `ms` milliseconds.
 *
 * One `setTimeout` per connection: `touch()` only records the time, and when the timeout fires it re-arms itself
 * for the rest of the quiet period if bytes arrived meanwhile. A busy stream so costs one timer per `ms`, not one per
 * chunk.
 *
 * @example
 * ```ts
 * const stall = createStallTimer(45_000, () => controller.abort())
 * stall.start()
 * for await (const chunk of body) { stall.touch(); parser.feed(chunk) }
 * stall.stop()
 * ```
 */
export function createStallTimer(ms: number, onStall: () => void): StallTimer {
  let last = 0
  let timer: ReturnType<typeof setTimeout> | undefined

  function check(): void {
    timer = undefined
    const quiet = performance.now() - last
    if (quiet >= ms) onStall()
    else timer = setTimeout(check, ms - quiet)
  }

  return {
    start() {
      last = performance.now()
      if (timer === undefined) timer = setTimeout(check, ms)
    },
    touch() {
      last = performance.now()
    },
    stop() {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
    },
  }
}
