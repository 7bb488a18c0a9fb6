/**
 * How many events may wait for a `for await` loop over an `EventSource` before the source gives up with
 * `ERR_CLIENT_QUEUE_OVERFLOW`: 1000.
 */
export const DEFAULT_MAX_QUEUED_EVENTS = 1000

/**
 * A bounded queue read by one async iterator: the producer `offer`s items, the consumer `await`s them.
 *
 * When the producer ends the queue with `fail(error)`, the items already queued are still delivered, then `next()`
 * rejects with the error once; later calls report done.
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  readonly #max: number
  readonly #onReturn: () => void
  #items: T[] = []
  #head = 0
  #waiting: { resolve: (result: IteratorResult<T, undefined>) => void; reject: (error: unknown) => void } | undefined
  #ended = false
  #error: unknown = undefined
  #hasError = false

  /**
   * @param max - the most items that may wait
   * @param onReturn - called once when the consumer stops early (`break`, `return`, a throw in the loop body)
   */
  constructor(max: number, onReturn: () => void) {
    this.#max = max
    this.#onReturn = onReturn
  }

  /** Whether another item would exceed the bound (a waiting consumer takes it at once, so that never overflows). */
  get full(): boolean {
    return this.#waiting === undefined && !this.#ended && this.#items.length - this.#head >= this.#max
  }

  /** Whether the queue still accepts items. */
  get open(): boolean {
    return !this.#ended
  }

  /** Adds an item, or hands it to a waiting consumer. Ignored once the queue ended. */
  offer(item: T): void {
    if (this.#ended) return
    const waiting = this.#waiting
    if (waiting !== undefined) {
      this.#waiting = undefined
      waiting.resolve({ value: item, done: false })
      return
    }
    this.#items.push(item)
  }

  /** Ends the queue: the consumer gets the queued items, then done. */
  end(): void {
    if (this.#ended) return
    this.#ended = true
    this.#settleWaiting()
  }

  /** Ends the queue with an error: the consumer gets the queued items, then the error. */
  fail(error: unknown): void {
    if (this.#ended) return
    this.#ended = true
    this.#error = error
    this.#hasError = true
    this.#settleWaiting()
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#head < this.#items.length) return Promise.resolve({ value: this.#take(), done: false })
    if (this.#ended) return this.#finish()
    if (this.#waiting !== undefined) return Promise.reject(new TypeError('next() called again before the previous call settled'))
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject }
    })
  }

  return(): Promise<IteratorResult<T, undefined>> {
    const wasOpen = !this.#ended
    this.#ended = true
    this.#hasError = false
    this.#items = []
    this.#head = 0
    this.#settleWaiting()
    if (wasOpen) this.#onReturn()
    return Promise.resolve({ value: undefined, done: true })
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  #take(): T {
    const item = this.#items[this.#head] as T
    this.#head++
    // Drop consumed items in one go once they make up half the array: amortised O(1) per item.
    if (this.#head === this.#items.length) {
      this.#items = []
      this.#head = 0
    } else if (this.#head > 64 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }

  #finish(): Promise<IteratorResult<T, undefined>> {
    if (this.#hasError) {
      this.#hasError = false
      const error = this.#error
      this.#error = undefined
      return Promise.reject(error instanceof Error ? error : new Error(String(error)))
    }
    return Promise.resolve({ value: undefined, done: true })
  }

  #settleWaiting(): void {
    const waiting = this.#waiting
    if (waiting === undefined) return
    this.#waiting = undefined
    // A waiting consumer means the queue was empty.
    this.#finish().then(waiting.resolve, waiting.reject)
  }
}
