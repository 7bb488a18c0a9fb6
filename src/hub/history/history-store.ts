import type { StreamPosition } from '../stream-position.js'
import type { HubMessage, HubUpdate } from '../update.js'

/** What a {@link HistoryStore} engine guarantees beyond the common contract. Declared, never probed. */
export interface HistoryCapabilities {
  /** `append` resolves only once the update survives a crash of this process (SQLite: yes; memory: no). */
  readonly durable: boolean
  /** Several hub nodes on several machines may share this store and see each other's appends (Redis, NATS). */
  readonly sharedAcrossNodes: boolean
}

/** Which entries a {@link HistoryStore.readAfter} call returns, and how many. */
export interface ReadQuery {
  /**
   * Chooses the entries to return (topic selectors, private-update authorisation). Called once per examined entry,
   * in order, at most `scanLimit` times per read. It must be synchronous, must not call back into the store, and
   * should not throw: a throw rejects that read, and the store stays usable.
   */
  match(update: HubUpdate): boolean
  /** The most messages one read returns: a positive integer. */
  readonly limit: number
  /**
   * The most entries one read examines, matched or not: a positive integer. A selective query over a long history
   * returns after this many entries with `done: false`, possibly with no messages; pass `next` back to go on.
   * Engines cap it at their own maximum.
   *
   * @defaultValue the engine's `maxScan` option
   */
  readonly scanLimit?: number
}

/** One page of history. */
export interface ReadResult {
  /** The matching messages, oldest first, at most `limit` of them. */
  readonly messages: HubMessage[]
  /**
   * Where to continue: pass it back as `from` to read the entries after this page, with nothing skipped or repeated.
   * It is the position of the last entry the read examined (matched or not) or, when it examined none, the position
   * the read started after. Always defined when `done` is false; engines may leave it undefined only when `done` is
   * true and they cannot name a position (for example an empty store that never had an entry).
   */
  readonly next: StreamPosition | undefined
  /** No retained entry follows `next` at the time of the read: the caller has caught up. */
  readonly done: boolean
  /**
   * Updates after `from` may be missing, so the caller cannot replay exactly: `from` belongs to another epoch (the
   * store was recreated or lost), or entries after it were evicted (count, age or size bound), or it lies beyond
   * the newest entry this store ever issued (the store lost entries the caller saw). The read still returns what is
   * retained after the gap (the whole current epoch for a foreign epoch); the caller decides whether to send it and
   * how to announce the gap. Always false for `'earliest'`. Any page, not only the first, can report a gap when
   * eviction overtakes a slow reader between two reads.
   */
  readonly gap: boolean
}

/**
 * History used to honour `Last-Event-ID`: the hub appends every update before publishing it, and reads it back when
 * a subscriber resumes.
 *
 * Guarantees, for every engine (checked by `historyConformance` in `testing/history-suite.ts`):
 * - Positions are issued in `append` call order, within one store instance: each offset compares greater than the
 *   previous one (`compareOffsets`), even when appends are started concurrently without awaiting. Appends from
 *   several instances sharing one backing store are ordered by the store and never share an offset.
 * - `readAfter` returns entries in offset order, each with the position `append` returned for it, strictly after
 *   `from`; pages are bounded by `limit` and `scanLimit`, so a selective query never loads the whole history.
 * - Retention is bounded (by count, age and, for some engines, size). An evicted entry is never returned again;
 *   reading from a position before it reports `gap: true`. Eviction only ever removes the oldest entries.
 * - A store that is created anew, or has lost its data, has a new epoch; positions of another epoch report a gap.
 * - When `capabilities.durable` is true, an update whose `append` resolved survives a crash of the process and is
 *   read back, with the same position and epoch, by a store reopened on the same backing data.
 * - After `close()`, every method rejects with `ERR_HUB_HISTORY_CLOSED`; `close()` itself may be called again.
 *
 * The hub starts appends in publish order without awaiting the previous ones, and calls `broker.publish` for each
 * update once its append resolved and the previous update's `broker.publish` did, so history order and broker order
 * agree.
 *
 * @example
 * ```ts
 * const position = await history.append(update)
 * await broker.publish({ update, position })
 *
 * // A subscriber resumes after the update it saw last:
 * let from = (await history.locate(lastEventId)) ?? 'earliest'
 * for (;;) {
 *   const page = await history.readAfter(from, { match: (u) => selector.matches(u), limit: 100 })
 *   for (const message of page.messages) send(message)
 *   if (page.done || page.next === undefined) break
 *   from = page.next
 * }
 * ```
 */
export interface HistoryStore {
  /** What this engine guarantees beyond the common contract. */
  readonly capabilities: HistoryCapabilities

  /**
   * Stores an update and returns its position. The stored update is a copy: changing `update` later changes
   * nothing. Ids need not be unique ({@link HistoryStore.locate} finds the most recent).
   *
   * When `capabilities.durable` is true the update is durable before the promise resolves. May evict the oldest
   * entries to keep the store within its bounds.
   *
   * A rejection does not prove the update was not stored: with a network engine the server may have applied the
   * append before the reply was lost. An update is never acknowledged and then lost, but a publisher that retries a
   * rejected append may store it twice, under two positions.
   *
   * @throws `ERR_HUB_HISTORY_INVALID_UPDATE` (rejects) when `update` breaks the {@link HubUpdate} contract,
   *   `ERR_HUB_HISTORY_UNAVAILABLE` when the backing store fails, `ERR_HUB_HISTORY_CLOSED` after `close()`.
   */
  append(update: HubUpdate): Promise<StreamPosition>

  /**
   * The position of the most recent retained update with this id, or `undefined` when no retained update has it
   * (never stored, or evicted). Use it to turn a `Last-Event-ID` into a position for {@link HistoryStore.readAfter}.
   */
  locate(id: string): Promise<StreamPosition | undefined>

  /**
   * Reads the retained entries after `from` that `query.match` accepts, oldest first, one page at a time.
   * `'earliest'` starts before the oldest retained entry. See {@link ReadResult} for `next`, `done` and `gap`.
   *
   * @throws `ERR_HUB_HISTORY_INVALID_QUERY` (rejects) for a malformed query, or a position of this store's epoch
   *   with an offset it never issues.
   */
  readAfter(from: StreamPosition | 'earliest', query: ReadQuery): Promise<ReadResult>

  /** How many entries are retained now (for metrics). Evicts expired entries first. */
  size(): Promise<number>

  /**
   * The position of the newest retained entry, or `undefined` when none is retained, in one request. A hub node asks
   * for it when it starts, where a node that has delivered nothing yet reads from after its broker lost messages.
   * Optional for stores of other packages: without it, the hub pages through the whole history once to find it, so a
   * store shared across nodes should have it. Evicts expired entries first.
   */
  newest?(): Promise<StreamPosition | undefined>

  /** Releases the store's resources (file handles, connections). Safe to call more than once. */
  close(): Promise<void>
}
