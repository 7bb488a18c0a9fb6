// How the NATS engines write updates and messages: UTF-8 JSON (see ../broker/message-json.ts). Internal: not
// re-exported from index.ts.
import { encodeMessageJson, messageFromWire, parseWireJson, updateFromWire, updateToWire } from '../broker/message-json.js'
import type { HubMessage, HubUpdate } from '../update.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** Encodes a (validated) update as the UTF-8 JSON payload of a history message. */
export function encodeUpdate(update: HubUpdate): Uint8Array {
  return encoder.encode(JSON.stringify(updateToWire(update)))
}

/** Decodes a payload written by {@link encodeUpdate}. Throws an `Error` saying what is wrong with anything else. */
export function decodeUpdate(payload: Uint8Array): HubUpdate {
  return updateFromWire(parse(payload))
}

/**
 * Encodes a broker message: the update's fields plus `epoch` and `offset`. Throws an `Error` saying what is wrong
 * when `message` breaks the `HubMessage` contract, so that nothing undecodable reaches other nodes.
 */
export function encodeMessage(message: HubMessage): Uint8Array {
  return encoder.encode(encodeMessageJson(message))
}

/** Decodes a message written by {@link encodeMessage}, frozen. Throws an `Error` for anything else. */
export function decodeMessage(payload: Uint8Array): HubMessage {
  return messageFromWire(parse(payload))
}

function parse(payload: Uint8Array): Record<string, unknown> {
  let text: string
  try {
    text = decoder.decode(payload)
  } catch {
    throw new Error('not UTF-8')
  }
  return parseWireJson(text)
}
