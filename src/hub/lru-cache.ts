/**
 * A bounded map that forgets its least recently used entry when full.
 *
 * Relies on `Map` keeping insertion order: a hit re-inserts the entry at the end, so the first key is always the
 * least recently used one.
 *
 * @internal
 */
export class LruCache<K, V> {
  readonly #entries = new Map<K, V>()

  /** @param maxEntries - The most entries kept; 0 keeps none. */
  constructor(readonly maxEntries: number) {}

  /** The number of entries held. */
  get size(): number {
    return this.#entries.size
  }

  /** The value for `key`, marking it most recently used; `undefined` when absent. */
  get(key: K): V | undefined {
    const value = this.#entries.get(key)
    if (value === undefined) return undefined
    this.#entries.delete(key)
    this.#entries.set(key, value)
    return value
  }

  /** Stores `value` for `key`, evicting the least recently used entry when full. */
  set(key: K, value: V): void {
    if (this.maxEntries <= 0) return
    this.#entries.delete(key)
    this.#entries.set(key, value)
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
  }

  /** Removes the entry for `key`, if any. */
  delete(key: K): void {
    this.#entries.delete(key)
  }

  /** Removes every entry. */
  clear(): void {
    this.#entries.clear()
  }
}
