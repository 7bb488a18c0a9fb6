import type { GapReason } from './gap-event.js'
import type { SseMessage } from './sse-event.js'

/** One event as a replay store keeps it: its id, what filters see, and the bytes every client is sent. */
export interface ReplayEntry {
  /** The event id. */
  readonly id: string
  /** The event as filters see it. */
  readonly message: SseMessage
  /** The encoded event, written as it is to resuming clients. Never mutate. */
  readonly bytes: Uint8Array
}

/** What a replay store holds after a resume point. */
export type ReplayResult =
  | {
      /** The id was found: `entries` are the events after it, oldest first (possibly none). */
      readonly status: 'found'
      readonly entries: readonly ReplayEntry[]
    }
  | {
      /**
       * The id cannot be resumed from: the client gets a gap event, then `entries` (every event the store still
       * holds, oldest first), then live events.
       */
      readonly status: 'gap'
      readonly reason: GapReason
      readonly entries: readonly ReplayEntry[]
      readonly oldestId: string | null
      readonly newestId: string | null
    }

/**
 * The history a channel replays to clients that resume with `Last-Event-ID`.
 *
 * Guarantees a store must give: `append` calls become visible to `readAfter` in call order, and a `readAfter` that
 * starts after an `append` settled sees that event. The channel does the rest: it buffers live events while a read is
 * in flight and drops those the read returned, so a resuming client gets each event once, in order. Ids must be
 * unique within the store. Both methods may be synchronous (as {@link MemoryReplay} is) or return promises.
 *
 * @example
 * ```ts
 * const channel = createChannel({ replay: createMemoryReplay({ maxEvents: 500 }) })
 * ```
 */
export interface ReplayStore {
  /** Makes an id for an event broadcast without one. */
  createId(): string
  /** Records an event. A rejection is logged; the event was still delivered live. */
  append(entry: ReplayEntry): void | Promise<void>
  /** Reads the events after `lastEventId`, or reports a gap. */
  readAfter(lastEventId: string): ReplayResult | Promise<ReplayResult>
}
