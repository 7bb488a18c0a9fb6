// How the Redis engines write updates and messages. Internal: not re-exported from index.ts.
import { encodeMessageJson, messageFromWire, parseJson, parseWireJson } from '../broker/message-json.js'
import type { HubMessage, HubUpdate } from '../update.js'
import { validateHubUpdate } from '../update.js'

/**
 * The fields of a stream entry: `id` first (the eviction script reads it to keep the id index exact), then `topics`
 * (a JSON array), `data` (raw, no escaping), `private` (`1` or `0`) and, when present, `type` and `retry`.
 */
export function updateToFields(update: HubUpdate): string[] {
  const fields = ['id', update.id, 'topics', JSON.stringify(update.topics), 'data', update.data, 'private', update.private ? '1' : '0']
  if (update.type !== undefined) fields.push('type', update.type)
  if (update.retry !== undefined) fields.push('retry', String(update.retry))
  return fields
}

/** Reads the fields written by {@link updateToFields}. Throws an `Error` saying what is wrong with foreign data. */
export function updateFromFields(fields: unknown): HubUpdate {
  if (!Array.isArray(fields)) throw new Error('the entry has no fields')
  const values = new Map<string, unknown>()
  for (let i = 0; i + 1 < fields.length; i += 2) values.set(String(fields[i]), fields[i + 1])
  const topics = values.get('topics')
  const retry = values.get('retry')
  const update: Record<string, unknown> = {
    id: values.get('id'),
    topics: typeof topics === 'string' ? parseJson(topics) : topics,
    data: values.get('data'),
    private: values.get('private') === '1' ? true : values.get('private') === '0' ? false : values.get('private'),
  }
  if (values.has('type')) update.type = values.get('type')
  if (retry !== undefined) update.retry = typeof retry === 'string' && /^(0|[1-9]\d*)$/.test(retry) ? Number(retry) : retry
  const problem = validateHubUpdate(update)
  if (problem !== undefined) throw new Error(problem)
  return update as unknown as HubUpdate
}

/**
 * Encodes a broker message as JSON, once per publish. Throws an `Error` saying what is wrong when `message` breaks
 * the `HubMessage` contract, so that nothing undecodable reaches other nodes.
 */
export const encodeMessage: (message: HubMessage) => string = encodeMessageJson

/** Decodes a message written by {@link encodeMessage}, frozen. Throws an `Error` for anything else. */
export function decodeMessage(text: string): HubMessage {
  return messageFromWire(parseWireJson(text))
}

/**
 * A stream entry as `RedisHistory`'s append script publishes it on the history's notification channel (see
 * `redis-history-scripts.ts`): a broker message in the format of {@link encodeMessage}, plus `prev`, the id of the
 * entry appended before it (`0-0` for the first of an epoch), by which a reader tells whether it missed one.
 */
export interface EntryNotice {
  readonly message: HubMessage
  readonly prev: string
}

/** Decodes a notice of the append script, its message frozen. Throws an `Error` for anything else. */
export function decodeEntryNotice(text: string): EntryNotice {
  const wire = parseWireJson(text)
  const { prev } = wire
  if (typeof prev !== 'string' || !STREAM_ID.test(prev)) throw new Error('a stream entry notice needs the previous entry id')
  return { message: messageFromWire(wire), prev }
}

/** A Redis stream id as the history issues them: `ms-seq`, decimal. */
const STREAM_ID = /^\d+-\d+$/
