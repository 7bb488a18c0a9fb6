import { encodeBytes } from '../protocol/encode.js'

/**
 * The name of the event that tells a client it missed events: sent in-band, first, when a client resumes from an id
 * the history no longer holds (or never held). A plain `EventSource` sees it with
 * `source.addEventListener('herald-gap', …)`. The hub sends the same event.
 */
export const GAP_EVENT = 'herald-gap'

/**
 * Why a resume point could not be honoured: `'expired'` when the id was issued by this history but has been
 * evicted, `'unknown'` when the history does not recognise it (another server's id, one from before a restart, or
 * garbage), `'unavailable'` when the history could not be read.
 */
export type GapReason = 'expired' | 'unknown' | 'unavailable'

/**
 * The data of a {@link GAP_EVENT}, as JSON.
 *
 * @example
 * ```json
 * {"lastEventId":"lx2k9-12","reason":"expired","oldestId":"lx2k9-540","newestId":"lx2k9-1539"}
 * ```
 */
export interface GapEventData {
  /** The id the client asked to resume after. */
  lastEventId: string
  /** Why it could not be honoured. */
  reason: GapReason
  /**
   * The oldest event the history still holds, or `null` when it holds none. The events from it on follow the gap
   * event, so the client misses only what came between its id and this one.
   */
  oldestId: string | null
  /** The newest event the history holds, or `null` when it holds none. */
  newestId: string | null
}

/**
 * Encodes a {@link GAP_EVENT}: no `id` field (the client keeps its last event id until the replayed events move it
 * on), JSON data.
 *
 * @example
 * ```ts
 * session.sendBytes(encodeGapEvent({ lastEventId: 'x', reason: 'unknown', oldestId: null, newestId: null }))
 * // "event: herald-gap\ndata: {\"lastEventId\":\"x\",\"reason\":\"unknown\",\"oldestId\":null,\"newestId\":null}\n\n"
 * ```
 */
export function encodeGapEvent(data: GapEventData): Uint8Array {
  const { lastEventId, reason, oldestId, newestId } = data
  return encodeBytes({ event: GAP_EVENT, data: JSON.stringify({ lastEventId, reason, oldestId, newestId }) })
}
