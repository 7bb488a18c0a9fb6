import { randomUUID } from 'node:crypto'
import { HubError } from '../errors.js'
import type { StreamPosition } from '../stream-position.js'
import type { HubMessage, HubUpdate } from '../update.js'
import { checkLocateId, checkReadQuery, copyUpdate } from './check-arguments.js'
import type { HistoryCapabilities, HistoryStore, ReadQuery, ReadResult } from './history-store.js'
import { checkOptionsObject, functionOption, integerOption, nullableIntegerOption } from './option-checks.js'
import { planSequenceRead } from './sequence-read.js'
import { settle } from './settle.js'

/** How many updates a {@link MemoryHistory} keeps by default. */
export const DEFAULT_MEMORY_HISTORY_MAX_ENTRIES = 10_000
/** How long a {@link MemoryHistory} keeps an update by default: 24 hours. */
export const DEFAULT_MEMORY_HISTORY_MAX_AGE_MS = 24 * 60 * 60 * 1000
/** The approximate memory a {@link MemoryHistory} may hold by default: 64 MiB. */
export const DEFAULT_MEMORY_HISTORY_MAX_BYTES = 64 * 1024 * 1024
/** The most entries one {@link MemoryHistory.readAfter} call examines by default. */
export const DEFAULT_MEMORY_HISTORY_MAX_SCAN = 10_000

/** Options of {@link MemoryHistory}. Every field is optional. */
export interface MemoryHistoryOptions {
  /**
   * The most updates kept; appending beyond it evicts the oldest. Also the ring's final capacity (it grows by
   * doubling up to this, so a small history costs little).
   *
   * @defaultValue {@link DEFAULT_MEMORY_HISTORY_MAX_ENTRIES} (10,000)
   */
  readonly maxEntries?: number
  /**
   * How long an update is kept, in milliseconds; older ones are evicted. `null` keeps updates until the count or
   * size bound evicts them.
   *
   * @defaultValue {@link DEFAULT_MEMORY_HISTORY_MAX_AGE_MS} (24 h)
   */
  readonly maxAgeMs?: number | null
  /**
   * The most memory the retained updates may take, estimated as two bytes per UTF-16 code unit of id, topics, type
   * and data plus a fixed overhead per entry; the oldest are evicted beyond it. An update larger than this on its own
   * is evicted at once (readers see a gap). `null` bounds by count and age only.
   *
   * @defaultValue {@link DEFAULT_MEMORY_HISTORY_MAX_BYTES} (64 MiB)
   */
  readonly maxBytes?: number | null
  /**
   * The most entries one `readAfter` call examines; a query's `scanLimit` is capped at this.
   *
   * @defaultValue {@link DEFAULT_MEMORY_HISTORY_MAX_SCAN} (10,000)
   */
  readonly maxScan?: number
  /**
   * The clock, in milliseconds since the epoch, used to stamp and expire updates. Inject one in tests instead of
   * sleeping.
   *
   * @defaultValue `Date.now`
   */
  readonly now?: () => number
}

interface Entry {
  readonly message: HubMessage
  readonly appendedAt: number
  readonly bytes: number
}

const OWNER = 'MemoryHistory'
/** Bytes counted per entry besides its strings: the entry, message, position and update objects and the ring slot. */
const ENTRY_OVERHEAD_BYTES = 256
const TOPIC_OVERHEAD_BYTES = 16
const INITIAL_CAPACITY = 64
const CAPABILITIES: HistoryCapabilities = Object.freeze({ durable: false, sharedAcrossNodes: false })

/**
 * History kept in this process's memory: a bounded ring of the newest updates, for a single hub node or for tests.
 * Lost when the process exits; each instance has a new random epoch, so positions from a previous run report a gap.
 *
 * Append is O(1) (amortised over the ring's doubling), `locate` is O(1) through an id index, and `readAfter` starts
 * in O(1) and examines at most `scanLimit` entries. Bounded by count, age and estimated bytes (see
 * {@link MemoryHistoryOptions} for the defaults). Expired updates are evicted when the store is next used, never by
 * a timer.
 *
 * @example
 * ```ts
 * const history = new MemoryHistory({ maxEntries: 1_000, maxAgeMs: 60 * 60_000 })
 * const position = await history.append({ id: 'urn:uuid:…', topics: ['/books/1'], data: '{}', private: false })
 * const page = await history.readAfter('earliest', { match: () => true, limit: 100 })
 * ```
 */
export class MemoryHistory implements HistoryStore {
  readonly capabilities: HistoryCapabilities = CAPABILITIES

  readonly #epoch = randomUUID()
  readonly #maxEntries: number
  readonly #maxAgeMs: number | null
  readonly #maxBytes: number | null
  readonly #maxScan: number
  readonly #now: () => number

  /** Ring of retained entries; the oldest is at `#head`. Entry `i` (0 = oldest) has sequence `#last - #count + 1 + i`. */
  #ring: (Entry | undefined)[] = []
  #head = 0
  #count = 0
  /** The highest sequence number issued; sequences are contiguous, so the floor (highest gone) is `#last - #count`. */
  #last = 0
  #bytes = 0
  /** id → sequence of the most recent retained update with that id. */
  readonly #ids = new Map<string, number>()
  #closed = false

  constructor(options: MemoryHistoryOptions = {}) {
    checkOptionsObject(OWNER, options)
    this.#maxEntries = integerOption(OWNER, 'maxEntries', options.maxEntries, DEFAULT_MEMORY_HISTORY_MAX_ENTRIES, 1)
    this.#maxAgeMs = nullableIntegerOption(OWNER, 'maxAgeMs', options.maxAgeMs, DEFAULT_MEMORY_HISTORY_MAX_AGE_MS, 1)
    this.#maxBytes = nullableIntegerOption(OWNER, 'maxBytes', options.maxBytes, DEFAULT_MEMORY_HISTORY_MAX_BYTES, 1)
    this.#maxScan = integerOption(OWNER, 'maxScan', options.maxScan, DEFAULT_MEMORY_HISTORY_MAX_SCAN, 1)
    this.#now = functionOption(OWNER, 'now', options.now, Date.now)
  }

  append(update: HubUpdate): Promise<StreamPosition> {
    return settle(() => {
      // No await before the ring is updated: appends started together get positions in call order.
      this.#checkOpen()
      const stored = copyUpdate(update)
      const now = this.#now()
      this.#evictExpired(now)
      if (this.#count === this.#maxEntries) this.#evictOldest()
      const sequence = ++this.#last
      const position: StreamPosition = Object.freeze({ epoch: this.#epoch, offset: String(sequence) })
      const entry: Entry = { message: Object.freeze({ update: stored, position }), appendedAt: now, bytes: estimateBytes(stored) }
      this.#push(entry)
      this.#ids.set(stored.id, sequence)
      if (this.#maxBytes !== null) {
        while (this.#count > 0 && this.#bytes > this.#maxBytes) this.#evictOldest()
      }
      return position
    })
  }

  locate(id: string): Promise<StreamPosition | undefined> {
    return settle(() => {
      this.#checkOpen()
      checkLocateId(id)
      this.#evictExpired(this.#now())
      const sequence = this.#ids.get(id)
      return sequence === undefined ? undefined : this.#entry(sequence).message.position
    })
  }

  readAfter(from: StreamPosition | 'earliest', query: ReadQuery): Promise<ReadResult> {
    return settle(() => {
      this.#checkOpen()
      const scanLimit = checkReadQuery(query, this.#maxScan)
      this.#evictExpired(this.#now())
      const last = this.#last
      const plan = planSequenceRead(from, this.#epoch, last - this.#count, last)
      const messages: HubMessage[] = []
      let sequence = plan.after
      let next: StreamPosition | undefined
      for (let examined = 0; sequence < last && examined < scanLimit && messages.length < query.limit; examined++) {
        sequence++
        const { message } = this.#entry(sequence)
        if (query.match(message.update)) messages.push(message)
        next = message.position
      }
      next ??= { epoch: this.#epoch, offset: String(sequence) }
      return { messages, next, done: sequence >= last, gap: plan.gap }
    })
  }

  size(): Promise<number> {
    return settle(() => {
      this.#checkOpen()
      this.#evictExpired(this.#now())
      return this.#count
    })
  }

  newest(): Promise<StreamPosition | undefined> {
    return settle(() => {
      this.#checkOpen()
      this.#evictExpired(this.#now())
      return this.#count === 0 ? undefined : { epoch: this.#epoch, offset: String(this.#last) }
    })
  }

  close(): Promise<void> {
    return settle(() => {
      if (this.#closed) return
      this.#closed = true
      this.#ring = []
      this.#ids.clear()
      this.#count = 0
      this.#bytes = 0
    })
  }

  #checkOpen(): void {
    if (this.#closed) throw new HubError('ERR_HUB_HISTORY_CLOSED', 'this MemoryHistory is closed')
  }

  /** The retained entry with this sequence number (the caller checks it is retained). */
  #entry(sequence: number): Entry {
    const index = sequence - (this.#last - this.#count) - 1
    return this.#ring[(this.#head + index) % this.#ring.length] as Entry
  }

  #push(entry: Entry): void {
    if (this.#count === this.#ring.length) this.#grow()
    this.#ring[(this.#head + this.#count) % this.#ring.length] = entry
    this.#count++
    this.#bytes += entry.bytes
  }

  /** Doubles the ring, up to `maxEntries`, laying entries out from index 0. */
  #grow(): void {
    const capacity = Math.min(this.#maxEntries, Math.max(INITIAL_CAPACITY, this.#ring.length * 2))
    const ring = new Array<Entry | undefined>(capacity)
    for (let i = 0; i < this.#count; i++) ring[i] = this.#ring[(this.#head + i) % this.#ring.length]
    this.#ring = ring
    this.#head = 0
  }

  #evictOldest(): void {
    const entry = this.#ring[this.#head] as Entry
    this.#ring[this.#head] = undefined
    this.#head = (this.#head + 1) % this.#ring.length
    const sequence = this.#last - this.#count + 1
    this.#count--
    this.#bytes -= entry.bytes
    const { id } = entry.message.update
    if (this.#ids.get(id) === sequence) this.#ids.delete(id)
  }

  /** Evicts the oldest entries while they are older than `maxAgeMs`. Amortised O(1): each entry is evicted once. */
  #evictExpired(now: number): void {
    if (this.#maxAgeMs === null) return
    const oldestAllowed = now - this.#maxAgeMs
    while (this.#count > 0 && (this.#ring[this.#head] as Entry).appendedAt < oldestAllowed) this.#evictOldest()
  }
}

function estimateBytes(update: HubUpdate): number {
  let units = update.id.length + update.data.length + (update.type?.length ?? 0)
  for (const topic of update.topics) units += topic.length + TOPIC_OVERHEAD_BYTES / 2
  return ENTRY_OVERHEAD_BYTES + 2 * units
}
