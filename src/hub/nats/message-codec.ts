// How the NATS engines write updates and messages. Internal: not re-exported from index.ts.
import { isStreamOffset, type StreamPosition } from '../stream-position.js'
import type { HubMessage, HubUpdate } from '../update.js'
import { validateHubUpdate } from '../update.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** The JSON fields of an update, with a format version: the payload of a history message, and part of a broker one. */
interface WireUpdate {
  v: 1
  id: string
  topics: readonly string[]
  data: string
  private: boolean
  type?: string
  retry?: number
}

function wireUpdate(update: HubUpdate): WireUpdate {
  const wire: WireUpdate = { v: 1, id: update.id, topics: update.topics, data: update.data, private: update.private }
  if (update.type !== undefined) wire.type = update.type
  if (update.retry !== undefined) wire.retry = update.retry
  return wire
}

/** Encodes a (validated) update as the UTF-8 JSON payload of a history message. */
export function encodeUpdate(update: HubUpdate): Uint8Array {
  return encoder.encode(JSON.stringify(wireUpdate(update)))
}

/** Decodes a payload written by {@link encodeUpdate}. Throws an `Error` saying what is wrong with anything else. */
export function decodeUpdate(payload: Uint8Array): HubUpdate {
  return readUpdate(parse(payload))
}

/**
 * Encodes a broker message: the update's fields plus `epoch` and `offset`. Throws an `Error` saying what is wrong
 * when `message` breaks the `HubMessage` contract, so that nothing undecodable reaches other nodes.
 */
export function encodeMessage(message: HubMessage): Uint8Array {
  if (typeof message !== 'object' || (message as unknown) === null) throw new Error('a message must be an object')
  const { update, position } = message
  const problem = validateHubUpdate(update)
  if (problem !== undefined) throw new Error(problem)
  checkPosition(position)
  return encoder.encode(JSON.stringify({ ...wireUpdate(update), epoch: position.epoch, offset: position.offset }))
}

/** Decodes a message written by {@link encodeMessage}, frozen. Throws an `Error` for anything else. */
export function decodeMessage(payload: Uint8Array): HubMessage {
  const wire = parse(payload)
  const update = readUpdate(wire)
  const { epoch, offset } = wire
  const position = { epoch, offset }
  checkPosition(position)
  Object.freeze(update.topics)
  return Object.freeze({ update: Object.freeze(update), position: Object.freeze(position) })
}

function parse(payload: Uint8Array): Record<string, unknown> {
  let wire: unknown
  try {
    wire = JSON.parse(decoder.decode(payload))
  } catch {
    throw new Error('not UTF-8 JSON')
  }
  if (typeof wire !== 'object' || wire === null || (wire as { v?: unknown }).v !== 1) {
    throw new Error('not a Herald message (format version 1)')
  }
  return wire as Record<string, unknown>
}

function readUpdate(wire: Record<string, unknown>): HubUpdate {
  const { id, topics, data, type, retry } = wire
  const update: Record<string, unknown> = { id, topics, data, private: wire.private }
  if (type !== undefined) update.type = type
  if (retry !== undefined) update.retry = retry
  const problem = validateHubUpdate(update)
  if (problem !== undefined) throw new Error(problem)
  return update as unknown as HubUpdate
}

function checkPosition(position: unknown): asserts position is StreamPosition {
  if (typeof position !== 'object' || position === null) throw new Error('a message needs a position')
  const { epoch, offset } = position as Record<string, unknown>
  if (typeof epoch !== 'string' || epoch.length === 0) throw new Error('a position needs a non-empty string epoch')
  if (!isStreamOffset(offset)) throw new Error(`a position needs a canonical offset, not ${JSON.stringify(offset)}`)
}
