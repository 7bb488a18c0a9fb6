import { ProtocolError } from './errors.js'

/** An event to write to a `text/event-stream`. Every field is optional. */
export interface EncodableEvent {
  /** The data. CR, LF and CRLF split it into several `data:` lines; the receiver joins them with LF. */
  data?: string
  /** The event type (`event:` field). Must not contain CR or LF. */
  event?: string
  /** The event id (`id:` field). Must not contain CR, LF or NULL. An empty string resets the client's last id. */
  id?: string
  /** The reconnection time in milliseconds (`retry:` field): a non-negative integer. */
  retry?: number
  /** A comment, written first as one `:` line per line of text. Receivers ignore it; proxies see traffic. */
  comment?: string
}

const LF = 0x0a
const CR = 0x0d
const encoder = new TextEncoder()

/**
 * Encodes one event as `text/event-stream` text, ending with the blank line that dispatches it.
 *
 * Fields are written in the order comment, `id`, `event`, `data`, `retry`. Invalid values throw a coded
 * {@link ProtocolError} at once, before anything is written: an `id` with CR, LF or NULL
 * (`ERR_PROTOCOL_INVALID_ID`), an `event` with CR or LF (`ERR_PROTOCOL_INVALID_EVENT`), a `retry` that is not a
 * non-negative integer (`ERR_PROTOCOL_INVALID_RETRY`), a field of the wrong type (`ERR_PROTOCOL_INVALID_FIELD`).
 *
 * @example
 * ```ts
 * encode({ id: '42', event: 'update', data: 'a\nb', retry: 3000 })
 * // "id: 42\nevent: update\ndata: a\ndata: b\nretry: 3000\n\n"
 * ```
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream
 */
export function encode(event: EncodableEvent): string {
  const { data, event: type, id, retry, comment } = event
  let out = ''
  if (comment !== undefined) out += lines(':', checkString(comment, 'comment'))
  if (id !== undefined) {
    checkString(id, 'id')
    if (id.includes('\n') || id.includes('\r') || id.includes('\0')) {
      throw new ProtocolError('ERR_PROTOCOL_INVALID_ID', `an event id must not contain CR, LF or NULL: ${JSON.stringify(id)}`)
    }
    out += id === '' ? 'id\n' : `id: ${id}\n`
  }
  if (type !== undefined) {
    checkString(type, 'event')
    if (type.includes('\n') || type.includes('\r')) {
      throw new ProtocolError('ERR_PROTOCOL_INVALID_EVENT', `an event type must not contain CR or LF: ${JSON.stringify(type)}`)
    }
    out += `event: ${type}\n`
  }
  if (data !== undefined) out += lines('data:', checkString(data, 'data'))
  if (retry !== undefined) {
    if (typeof retry !== 'number' || !Number.isSafeInteger(retry) || retry < 0) {
      throw new ProtocolError('ERR_PROTOCOL_INVALID_RETRY', `retry must be a non-negative integer of milliseconds, not ${String(retry)}`)
    }
    out += `retry: ${retry}\n`
  }
  return out + '\n'
}

/**
 * Encodes one event as UTF-8 bytes, for servers that encode once and write the same bytes to many subscribers.
 * Same rules and errors as {@link encode}.
 *
 * @example
 * ```ts
 * const bytes = encodeBytes({ data: 'tick' })
 * for (const socket of subscribers) socket.write(bytes)
 * ```
 */
export function encodeBytes(event: EncodableEvent): Uint8Array {
  return encoder.encode(encode(event))
}

/** Writes `text` as one `prefix value` line per line of text (split on CR, LF and CRLF). */
function lines(prefix: string, text: string): string {
  // Fast path: one line, no search beyond the two indexOf calls.
  if (!text.includes('\n') && !text.includes('\r')) return text === '' ? `${prefix}\n` : `${prefix} ${text}\n`
  let out = ''
  let start = 0
  const n = text.length
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c !== LF && c !== CR) continue
    out += i === start ? `${prefix}\n` : `${prefix} ${text.slice(start, i)}\n`
    if (c === CR && text.charCodeAt(i + 1) === LF) i++
    start = i + 1
  }
  return out + (start === n ? `${prefix}\n` : `${prefix} ${text.slice(start)}\n`)
}

function checkString(value: unknown, field: string): string {
  if (typeof value !== 'string') {
    throw new ProtocolError('ERR_PROTOCOL_INVALID_FIELD', `the ${field} field must be a string, not ${value === null ? 'null' : typeof value}`)
  }
  return value
}
