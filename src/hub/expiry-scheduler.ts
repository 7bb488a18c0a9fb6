/** How finely expiries are grouped: all expiring within the same second fire together. */
const GRANULARITY_MS = 1000

/**
 * Fires callbacks at absolute times (token expiries) with one timer for all of them, never one per connection.
 * Entries are grouped in one-second buckets; the timer is armed for the earliest bucket only, and unref'd so it never
 * keeps the process alive.
 */
export class ExpiryScheduler {
  readonly #buckets = new Map<number, Set<() => void>>()
  readonly #now: () => number
  #timer: ReturnType<typeof setTimeout> | undefined
  #armedFor = Infinity

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  /** The number of pending callbacks. */
  get size(): number {
    let n = 0
    for (const set of this.#buckets.values()) n += set.size
    return n
  }

  /** Calls `fire` at `atMs` (epoch milliseconds, rounded up to the second). Returns a function that cancels it. */
  schedule(atMs: number, fire: () => void): () => void {
    const key = Math.ceil(atMs / GRANULARITY_MS)
    let set = this.#buckets.get(key)
    if (set === undefined) {
      set = new Set()
      this.#buckets.set(key, set)
    }
    set.add(fire)
    if (key < this.#armedFor) this.#arm(key)
    return () => {
      const bucket = this.#buckets.get(key)
      bucket?.delete(fire)
      if (bucket?.size === 0) this.#buckets.delete(key)
      if (this.#buckets.size === 0) this.#disarm()
    }
  }

  /** Drops every pending callback and the timer. */
  clear(): void {
    this.#buckets.clear()
    this.#disarm()
  }

  #arm(key: number): void {
    this.#disarm()
    this.#armedFor = key
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, key * GRANULARITY_MS - this.#now()))
    this.#timer.unref()
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#armedFor = Infinity
  }

  #tick(): void {
    this.#timer = undefined
    this.#armedFor = Infinity
    const now = Math.floor(this.#now() / GRANULARITY_MS)
    const due = [...this.#buckets.keys()].filter((k) => k <= now).sort((a, b) => a - b)
    for (const key of due) {
      const set = this.#buckets.get(key)
      this.#buckets.delete(key)
      if (set !== undefined) for (const fire of set) fire()
    }
    let next = Infinity
    for (const key of this.#buckets.keys()) if (key < next) next = key
    if (next !== Infinity) this.#arm(next)
  }
}
