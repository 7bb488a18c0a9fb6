/**
 * How many targets one turn of the flusher writes before it lets the event loop poll for I/O again: 16. At 5–10 µs
 * per write a turn takes about 0.1 ms, so a request (a publish, a new subscriber, an engine's reply) waits at most
 * that long, and what it brings joins the writes of the targets not yet written in this round. Why 16: in the hub
 * benchmark's scenario S (`npm run bench:hub -- --systems herald-hub --scenarios S`, interleaved builds, 2 runs each)
 * turns of 256, 64, 16 and 8 targets cost 4.0, 1.8, 1.3 and 1.3 µs per delivery: the sooner a publish is taken and
 * acknowledged, the more updates a round merges. Scenario A (a steady 100 updates/s) cost the same with each.
 */
export const FLUSH_SLICE = 16

/**
 * The longest turn: 1024 targets. Turns double up to it while no write of the previous turn merged anything, and
 * fall back to {@link FLUSH_SLICE} when one does. Why: each turn costs a pass of the event loop, and where nothing
 * can merge (one update to 19,000 idle subscribers, scenario C of `npm run bench:hub`) turns of 16 made a delivery
 * cost 5–15 % more than writing at once; growing turns brought the median latency in C from 143 to 130 ms, with S,
 * A and B unchanged (interleaved builds, 2 runs each).
 */
export const MAX_FLUSH_SLICE = 1024

/**
 * Writes the held events of many sessions from one queue, in turns of {@link FLUSH_SLICE} targets (growing to
 * {@link MAX_FLUSH_SLICE} while nothing merges), each turn in a `setImmediate` callback: after the event loop has
 * handled the I/O that was ready. Under fan-out to many subscribers this is what merges events: while a round of
 * writes is under way, the updates that arrive meanwhile are appended to the sessions not written yet, and leave in
 * the same write. When the process is idle a held event waits only for the current I/O callbacks to end.
 *
 * Why: the hub benchmark's scenario S (`npm run bench:hub -- --systems herald-hub --scenarios S`) spent about 90 % of
 * the hub's time in the kernel's send path, one send per event and subscriber; fewer, larger sends are the only way to
 * cut it, and unlike Nagle's algorithm this adds no wait for an acknowledgement.
 *
 * With a delay, a target is written no sooner than `delayMs` after it was added: what it receives meanwhile joins
 * the same write. The queue is in order of adding, so it is in order of due time too, and one timer (for the first
 * target not yet due) serves every target. Why: at a steady rate where updates to a subscriber come further apart
 * than a fan-out takes (scenario A of `npm run bench:hub`, 100 updates/s), nothing merges without a wait; with
 * 20 ms (`herald-hub-delay-20`) the hub's CPU per delivery fell from 5.51 to 3.87 µs.
 */
export class WriteFlusher<Target> {
  #targets: (Target | undefined)[] = []
  /** With a delay: when each target of {@link WriteFlusher.#targets} is due, on the `performance.now()` clock. */
  #dueAt: number[] = []
  #head = 0
  #scheduled = false
  #slice = FLUSH_SLICE
  readonly #flush: (target: Target) => boolean
  readonly #delayMs: number
  readonly #turn = (): void => this.#run()

  /**
   * @param flush - Writes what a target holds, if it still can; called once per {@link WriteFlusher.add}. Returns
   *   whether the write joined what several sends held (which keeps turns short).
   * @param delayMs - How long a target waits in the queue at least, in milliseconds; `0` writes it in the next turn.
   */
  constructor(flush: (target: Target) => boolean, delayMs = 0) {
    this.#flush = flush
    this.#delayMs = delayMs
  }

  /** How many targets wait for their turn. */
  get size(): number {
    return this.#targets.length - this.#head
  }

  /** Queues a target for a write in a later turn. A target must not be added again before its `flush` ran. */
  add(target: Target): void {
    this.#targets.push(target)
    if (this.#delayMs > 0) this.#dueAt.push(performance.now() + this.#delayMs)
    if (!this.#scheduled) this.#schedule()
  }

  /** Schedules the next turn: at once, or when the first target is due. */
  #schedule(): void {
    this.#scheduled = true
    const wait = this.#delayMs > 0 ? (this.#dueAt[this.#head] as number) - performance.now() : 0
    if (wait > 0) setTimeout(this.#turn, Math.ceil(wait))
    else defer(this.#turn)
  }

  #run(): void {
    this.#scheduled = false
    const targets = this.#targets
    let end = Math.min(targets.length, this.#head + this.#slice)
    if (this.#delayMs > 0) {
      // Only the targets that are due: the queue is in due order, so they are the first ones.
      const now = performance.now()
      let due = this.#head
      while (due < end && (this.#dueAt[due] as number) <= now) due++
      end = due
    }
    // A timer that fired before the first target was due wrote nothing, and says nothing about merging.
    const wrote = end > this.#head
    let merged = false
    while (this.#head < end) {
      const target = targets[this.#head] as Target
      targets[this.#head++] = undefined
      if (this.#flush(target)) merged = true
    }
    if (wrote) this.#slice = merged ? FLUSH_SLICE : Math.min(this.#slice * 2, MAX_FLUSH_SLICE)
    if (this.#head === targets.length) {
      this.#targets = []
      this.#dueAt = []
      this.#head = 0
      this.#slice = FLUSH_SLICE
      return
    }
    // Drop the written part now and then, so that a queue that never empties does not grow.
    if (this.#head >= 1024 && this.#head * 2 >= targets.length) {
      this.#targets = targets.slice(this.#head)
      if (this.#delayMs > 0) this.#dueAt = this.#dueAt.slice(this.#head)
      this.#head = 0
    }
    this.#schedule()
  }
}

/**
 * Runs `callback` after the I/O callbacks that are ready: `setImmediate` where the runtime has it (Node, Bun, Deno),
 * else a zero-delay timer (browsers' workers, edge runtimes).
 */
const defer: (callback: () => void) => void =
  typeof globalThis.setImmediate === 'function' ? (callback) => setImmediate(callback) : (callback) => setTimeout(callback, 0)
