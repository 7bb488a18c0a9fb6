import type { StreamPosition } from './stream-position.js'

/**
 * One update, as a publisher posted it to the hub (Mercure: form fields `topic`, `data`, `private`, `id`, `type`,
 * `retry`).
 *
 * Engines store and carry updates exactly: optional fields that are absent stay absent, strings keep every
 * character (line breaks and non-ASCII included). Engines hand out frozen or copied updates; treat them as
 * read-only.
 *
 * @example
 * ```ts
 * const update: HubUpdate = {
 *   id: 'urn:uuid:6f1c4c3e-2f6b-4a55-9d2f-3f0a1f2b9c11',
 *   topics: ['https://example.com/books/1'],
 *   data: '{"title":"Dune"}',
 *   private: false,
 * }
 * ```
 * @see https://mercure.rocks/spec#publication
 */
export interface HubUpdate {
  /**
   * The update's id: an IRI the hub generated (`urn:uuid:…`) or the publisher's own. Subscribers send it back as
   * `Last-Event-ID`. Non-empty, without CR, LF or NULL (it is written as the SSE `id:` field).
   */
  readonly id: string
  /** The topics, at least one. The first is the canonical topic; the others are alternates. */
  readonly topics: readonly string[]
  /** The payload, sent as the SSE `data:` field. May be empty. */
  readonly data: string
  /** When true, only subscribers whose claims match one of the topics receive it. */
  readonly private: boolean
  /** The SSE event type (`event:` field), without CR or LF. Absent means `message`. */
  readonly type?: string
  /** The reconnection time to send with it (SSE `retry:` field), in whole milliseconds. */
  readonly retry?: number
}

/**
 * What the broker carries: an update and the position history gave it.
 *
 * The position is assigned by `HistoryStore.append`, before the message is published, so a subscriber that reads
 * history and then live messages can drop a live message whose position it already saw (same epoch, offset not
 * greater; see `compareOffsets`).
 *
 * @example
 * ```ts
 * const position = await history.append(update)
 * await broker.publish({ update, position })
 * ```
 */
export interface HubMessage {
  /** The update. */
  readonly update: HubUpdate
  /** Where history stored it. */
  readonly position: StreamPosition
}

/**
 * Checks that `value` meets the {@link HubUpdate} contract, for engines and callers that take updates from outside.
 * Returns `undefined` when it does, or a sentence saying what is wrong.
 *
 * An optional field set to `undefined` counts as absent.
 *
 * @example
 * ```ts
 * const problem = validateHubUpdate(update)
 * if (problem !== undefined) throw new HubError('ERR_HUB_HISTORY_INVALID_UPDATE', problem)
 * ```
 */
export function validateHubUpdate(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'an update must be an object'
  const update = value as Record<string, unknown>
  const { id, topics, data, type, retry } = update
  if (typeof id !== 'string' || id.length === 0) return 'an update needs a non-empty string id'
  if (hasLineBreakOrNull(id)) return `an update id must not contain CR, LF or NULL: ${JSON.stringify(id)}`
  if (!Array.isArray(topics) || topics.length === 0) return 'an update needs at least one topic'
  for (const topic of topics as unknown[]) {
    if (typeof topic !== 'string' || topic.length === 0) return 'every topic must be a non-empty string'
  }
  if (typeof data !== 'string') return 'an update needs string data (serialise objects first)'
  if (typeof update.private !== 'boolean') return 'an update needs a boolean private flag'
  if (type !== undefined) {
    if (typeof type !== 'string') return 'an update type must be a string'
    if (type.includes('\n') || type.includes('\r')) return `an update type must not contain CR or LF: ${JSON.stringify(type)}`
  }
  if (retry !== undefined && (typeof retry !== 'number' || !Number.isSafeInteger(retry) || retry < 0)) {
    return `retry must be a non-negative integer of milliseconds, not ${typeof retry === 'number' ? retry : typeof retry}`
  }
  return undefined
}

function hasLineBreakOrNull(text: string): boolean {
  return text.includes('\n') || text.includes('\r') || text.includes('\0')
}
