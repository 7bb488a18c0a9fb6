// The JSON in which the Redis and NATS engines carry updates and broker messages. Internal: not re-exported from index.ts.
import { isStreamOffset, type StreamPosition } from '../stream-position.js'
import { validateHubUpdate, type HubMessage, type HubUpdate } from '../update.js'

/** The JSON fields of an update, with a format version. */
export interface WireUpdate {
  v: 1
  id: string
  topics: readonly string[]
  data: string
  private: boolean
  type?: string
  retry?: number
}

type MutableUpdate = { -readonly [K in keyof HubUpdate]: HubUpdate[K] }

/** The fields of a (validated) update, with the format version: a NATS history message, and part of a broker message. */
export function updateToWire(update: HubUpdate): WireUpdate {
  const wire: WireUpdate = { v: 1, id: update.id, topics: update.topics, data: update.data, private: update.private }
  if (update.type !== undefined) wire.type = update.type
  if (update.retry !== undefined) wire.retry = update.retry
  return wire
}

/**
 * Encodes a broker message as JSON, once per publish: the update's fields (see {@link updateToWire}) plus `epoch` and
 * `offset`, flat. Throws an `Error` saying what is wrong when `message` breaks the `HubMessage` contract, so that
 * nothing undecodable reaches other nodes.
 */
export function encodeMessageJson(message: HubMessage): string {
  if (typeof message !== 'object' || (message as unknown) === null) throw new Error('a message must be an object')
  const { update, position } = message
  const problem = validateHubUpdate(update)
  if (problem !== undefined) throw new Error(problem)
  checkPosition(position)
  return JSON.stringify({ ...updateToWire(update), epoch: position.epoch, offset: position.offset })
}

/** Parses JSON written by {@link updateToWire} or {@link encodeMessageJson}, unchecked beyond its format version. */
export function parseWireJson(text: string): Record<string, unknown> {
  const wire = parseJson(text)
  if (typeof wire !== 'object' || wire === null || (wire as { v?: unknown }).v !== 1) {
    throw new Error('not a Herald message (format version 1)')
  }
  return wire as Record<string, unknown>
}

/** Parses JSON text. Throws an `Error` saying it is malformed rather than `JSON.parse`'s own. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new Error('malformed JSON')
  }
}

/** The update in parsed wire fields. Throws an `Error` saying what is wrong when they do not make one. */
export function updateFromWire(wire: Record<string, unknown>): HubUpdate {
  const { id, topics, data, type, retry } = wire
  const update: Record<string, unknown> = { id, topics, data, private: wire.private }
  if (type !== undefined) update.type = type
  if (retry !== undefined) update.retry = retry
  const problem = validateHubUpdate(update)
  if (problem !== undefined) throw new Error(problem)
  return update as unknown as HubUpdate
}

/** The broker message in parsed wire fields, frozen. Throws an `Error` saying what is wrong when they do not make one. */
export function messageFromWire(wire: Record<string, unknown>): HubMessage {
  const update = updateFromWire(wire)
  const position = { epoch: wire.epoch, offset: wire.offset }
  checkPosition(position)
  Object.freeze(update.topics)
  return Object.freeze({ update: Object.freeze(update as MutableUpdate), position: Object.freeze(position) })
}

function checkPosition(position: unknown): asserts position is StreamPosition {
  if (typeof position !== 'object' || position === null) throw new Error('a message needs a position')
  const { epoch, offset } = position as Record<string, unknown>
  if (typeof epoch !== 'string' || epoch.length === 0) throw new Error('a position needs a non-empty string epoch')
  if (!isStreamOffset(offset)) throw new Error(`a position needs a canonical offset, not ${JSON.stringify(offset)}`)
}
