import { checkPositiveInteger } from './check-option.js'
import type { ReplayEntry, ReplayResult, ReplayStore } from './replay.js'

/** The most events a {@link MemoryReplay} keeps: 1000. */
export const DEFAULT_REPLAY_MAX_EVENTS = 1000

/** The most encoded bytes a {@link MemoryReplay} keeps: 4 MiB. */
export const DEFAULT_REPLAY_MAX_BYTES = 4 * 1024 * 1024

/** Options of {@link createMemoryReplay}. */
export interface MemoryReplayOptions {
  /**
   * The most events kept; the oldest are evicted first.
   * @defaultValue {@link DEFAULT_REPLAY_MAX_EVENTS} (1000)
   */
  maxEvents?: number
  /**
   * The most encoded bytes kept; the oldest events are evicted first. An event larger than this on its own is not
   * kept, and evicts everything before it, so a client resuming from before it is told of the gap.
   * @defaultValue {@link DEFAULT_REPLAY_MAX_BYTES} (4 MiB)
   */
  maxBytes?: number
}

/**
 * A bounded in-memory history: a ring buffer of the latest events, indexed by id. Synchronous, so a resuming client
 * is caught up in the same tick it joins.
 *
 * Ids it makes ({@link MemoryReplay.createId}) are `<epoch>-<n>`, the epoch being random per instance: an id from
 * before a restart is reported as `'unknown'`, one this instance issued but has evicted as `'expired'`.
 *
 * @example
 * ```ts
 * const replay = new MemoryReplay({ maxEvents: 100 })
 * const channel = createChannel({ replay })
 * channel.broadcast({ data: 'a' })   // id "<epoch>-0"
 * ```
 */
export class MemoryReplay implements ReplayStore {
  /** The random prefix of the ids this instance makes. */
  readonly epoch: string
  /** The event bound. */
  readonly maxEvents: number
  /** The byte bound. */
  readonly maxBytes: number
  /** Slot `seq % maxEvents` holds the event of sequence number `seq`, for `seq` in `[firstSeq, nextSeq)`. */
  #slots: (ReplayEntry | undefined)[] = []
  #firstSeq = 0
  #nextSeq = 0
  #bytes = 0
  #ids = new Map<string, number>()
  #issued = 0

  constructor(options: MemoryReplayOptions = {}) {
    this.maxEvents = checkPositiveInteger(options.maxEvents, 'maxEvents', DEFAULT_REPLAY_MAX_EVENTS)
    this.maxBytes = checkPositiveInteger(options.maxBytes, 'maxBytes', DEFAULT_REPLAY_MAX_BYTES)
    this.epoch = Date.now().toString(36) + Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, '0')
  }

  /** How many events are kept. */
  get size(): number {
    return this.#nextSeq - this.#firstSeq
  }

  /** How many encoded bytes are kept. */
  get bytes(): number {
    return this.#bytes
  }

  /** The id of the oldest event kept, or `null`. */
  get oldestId(): string | null {
    return this.#at(this.#firstSeq)?.id ?? null
  }

  /** The id of the newest event kept, or `null`. */
  get newestId(): string | null {
    return this.#at(this.#nextSeq - 1)?.id ?? null
  }

  createId(): string {
    return `${this.epoch}-${this.#issued++}`
  }

  append(entry: ReplayEntry): void {
    const length = entry.bytes.byteLength
    if (length > this.maxBytes) {
      // Too big to keep: forget everything before it too, so nobody is told "found" and then misses it.
      this.clear()
      return
    }
    while (this.size > 0 && (this.size >= this.maxEvents || this.#bytes + length > this.maxBytes)) this.#evictOldest()
    const seq = this.#nextSeq++
    this.#slots[seq % this.maxEvents] = entry
    this.#bytes += length
    this.#ids.set(entry.id, seq)
  }

  readAfter(lastEventId: string): ReplayResult {
    const seq = this.#ids.get(lastEventId)
    if (seq !== undefined) return { status: 'found', entries: this.#range(seq + 1) }
    return {
      status: 'gap',
      reason: this.#issuedHere(lastEventId) ? 'expired' : 'unknown',
      entries: this.#range(this.#firstSeq),
      oldestId: this.oldestId,
      newestId: this.newestId,
    }
  }

  /** Forgets every event. Ids made afterwards keep counting up. */
  clear(): void {
    this.#slots = []
    this.#ids.clear()
    this.#firstSeq = this.#nextSeq
    this.#bytes = 0
  }

  #at(seq: number): ReplayEntry | undefined {
    return seq >= this.#firstSeq && seq < this.#nextSeq ? this.#slots[seq % this.maxEvents] : undefined
  }

  #range(from: number): ReplayEntry[] {
    const out: ReplayEntry[] = []
    for (let seq = from; seq < this.#nextSeq; seq++) {
      const entry = this.#at(seq)
      if (entry !== undefined) out.push(entry)
    }
    return out
  }

  #evictOldest(): void {
    const seq = this.#firstSeq++
    const slot = seq % this.maxEvents
    const entry = this.#slots[slot]
    this.#slots[slot] = undefined
    if (entry === undefined) return
    this.#bytes -= entry.bytes.byteLength
    // A later event may reuse the id; only forget the mapping if it still points here.
    if (this.#ids.get(entry.id) === seq) this.#ids.delete(entry.id)
  }

  #issuedHere(id: string): boolean {
    const prefix = `${this.epoch}-`
    if (!id.startsWith(prefix)) return false
    const n = id.slice(prefix.length)
    return /^(0|[1-9]\d*)$/.test(n) && Number(n) < this.#issued
  }
}

/**
 * Creates a {@link MemoryReplay}.
 *
 * @example
 * ```ts
 * const channel = createChannel({ replay: createMemoryReplay({ maxEvents: 1000, maxBytes: 4 * 1024 * 1024 }) })
 * ```
 */
export function createMemoryReplay(options: MemoryReplayOptions = {}): MemoryReplay {
  return new MemoryReplay(options)
}
