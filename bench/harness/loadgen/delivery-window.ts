/**
 * Per-subscriber bookkeeping that classifies each received message as new, duplicate, out of order or
 * unexpected, in memory bounded by a fixed window.
 *
 * Message `seq` (1…M) is published to topic `(seq − 1) mod T`, so a subscriber of topic `t` expects the
 * ordinals `0, 1, 2, …` where `seq = 1 + t + ordinal × T`. A ring of bits over the last `windowSize`
 * ordinals below the newest one seen detects duplicates exactly within that window.
 *
 * Ordering is judged only where the publisher made a promise: a payload carries `floor`, the highest
 * number below which every message had been acknowledged when it was sent. Once a subscriber has seen a
 * message with floor `f`, a later arrival of any message `≤ f` is provably out of order. Messages that were
 * in flight together may legitimately arrive in either order and are not flagged.
 */

/** Largest window, in messages per subscriber (1 KB of bits). @defaultValue 8192 */
export const MAX_DELIVERY_WINDOW = 8192

/** Classification of one received message. */
export const Delivery = {
  /** First arrival, in order. */
  New: 0,
  /** First arrival, but after a message that was published only once this one had been acknowledged. */
  OutOfOrder: 1,
  /** Already received on this stream. */
  Duplicate: 2,
  /** Not a message of this subscriber's topic, or beyond the number of messages published. */
  Unexpected: 3,
} as const
/** One of the {@link Delivery} values. */
export type Delivery = (typeof Delivery)[keyof typeof Delivery]

/** Duplicate/order tracking for one subscriber stream. */
export class DeliveryWindow {
  /** Distinct expected messages received so far. */
  unique = 0
  private readonly bits: Uint32Array
  private readonly windowSize: number
  private newestOrdinal = -1
  private maxFloorSeen = 0

  /**
   * @param topicIndex - This subscriber's topic index `t`.
   * @param topicCount - Number of topics `T` the messages rotate over.
   * @param expected - Messages this subscriber should receive (ordinals `0 … expected − 1`).
   */
  constructor(
    private readonly topicIndex: number,
    private readonly topicCount: number,
    private readonly expected: number,
  ) {
    this.windowSize = Math.max(32, Math.ceil(Math.min(expected, MAX_DELIVERY_WINDOW) / 32) * 32)
    this.bits = new Uint32Array(this.windowSize / 32)
  }

  /** Classifies message `seq` carrying `floor`, and records it. */
  accept(seq: number, floor: number): Delivery {
    const offset = seq - 1 - this.topicIndex
    if (offset < 0 || offset % this.topicCount !== 0) return Delivery.Unexpected
    const ordinal = offset / this.topicCount
    if (ordinal >= this.expected) return Delivery.Unexpected

    let tooOld = false
    if (ordinal > this.newestOrdinal) {
      // Slide the window: slots of the ordinals skipped between the old newest and this one become empty.
      if (ordinal - this.newestOrdinal >= this.windowSize) this.bits.fill(0)
      else for (let o = this.newestOrdinal + 1; o < ordinal; o++) this.flip(o, false)
      this.newestOrdinal = ordinal
    } else if (ordinal > this.newestOrdinal - this.windowSize) {
      if (this.has(ordinal)) return Delivery.Duplicate
    } else {
      // Older than the window: its slot now belongs to a newer ordinal, so it cannot be told apart from a
      // duplicate. It is counted once, as out of order, and the window is left alone.
      tooOld = true
    }
    if (!tooOld) this.flip(ordinal, true)
    this.unique++
    const late = tooOld || seq <= this.maxFloorSeen
    if (floor > this.maxFloorSeen) this.maxFloorSeen = floor
    return late ? Delivery.OutOfOrder : Delivery.New
  }

  private has(ordinal: number): boolean {
    const bit = ordinal % this.windowSize
    return ((this.bits[bit >>> 5] ?? 0) & (1 << (bit & 31))) !== 0
  }

  private flip(ordinal: number, on: boolean): void {
    const bit = ordinal % this.windowSize
    const word = bit >>> 5
    const mask = 1 << (bit & 31)
    this.bits[word] = on ? (this.bits[word] ?? 0) | mask : (this.bits[word] ?? 0) & ~mask
  }
}
