import { compareOffsets, type StreamPosition } from './stream-position.js'

/**
 * The positions of the last updates a hub node delivered, in delivery order, at most `capacity` of them: where the
 * recovery after a broker reconnect starts reading history, and which of the updates it reads were delivered already.
 *
 * Delivery order is not always history order: with a pub/sub broker, an update of a node slow to reach the broker
 * arrives after a newer one from another node. So recovery cannot start after the last update delivered, nor skip
 * everything at or before it: it reads from the oldest position kept here and delivers what this set does not hold.
 *
 * @internal
 */
export class RecentPositions {
  /** Keyed by epoch and offset; a `Map` keeps insertion order, so the first key is the oldest delivery. */
  readonly #positions = new Map<string, StreamPosition>()
  #latest: StreamPosition | undefined

  /** @param capacity - The most positions kept; adding one more forgets the oldest delivery. */
  constructor(readonly capacity: number) {}

  /** The number of positions held. */
  get size(): number {
    return this.#positions.size
  }

  /** Whether `capacity` positions are held, so deliveries older than the ones held were forgotten. */
  get full(): boolean {
    return this.#positions.size >= this.capacity
  }

  /** Records a delivery. */
  add(position: StreamPosition): void {
    if (this.capacity <= 0) return
    this.#latest = position
    this.#positions.set(keyOf(position), position)
    if (this.#positions.size > this.capacity) {
      const oldest = this.#positions.keys().next()
      if (oldest.done !== true) this.#positions.delete(oldest.value)
    }
  }

  /** Whether the update at `position` is among the deliveries held. */
  has(position: StreamPosition): boolean {
    return this.#positions.has(keyOf(position))
  }

  /**
   * The first position in history order among those held of the epoch of the latest delivery (older epochs are
   * another life of the history, which a read cannot start from); `undefined` when none is held.
   */
  earliest(): StreamPosition | undefined {
    return this.#extreme(-1)
  }

  /** The last position in history order among those held of the epoch of the latest delivery. */
  furthest(): StreamPosition | undefined {
    return this.#extreme(1)
  }

  #extreme(sign: 1 | -1): StreamPosition | undefined {
    const latest = this.#latest
    if (latest === undefined || this.#positions.size === 0) return undefined
    let best = latest
    for (const position of this.#positions.values()) {
      if (position.epoch === latest.epoch && sign * compareOffsets(position.offset, best.offset) > 0) best = position
    }
    return best
  }
}

function keyOf(position: StreamPosition): string {
  return `${position.epoch} ${position.offset}`
}
