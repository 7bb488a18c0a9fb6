import { DEFAULT_MAX_BUFFER_BYTES, type ParserOptions } from '../index.js'
import type { Chunk, Trace } from './parse-all-ways.js'

/**
 * A literal, unoptimised transcription of the WHATWG "Interpreting an event stream" steps, run on a whole input at
 * once, used as the oracle that `createParser` is checked against. Written for clarity, not speed: it splits with a
 * regular expression and keeps the data buffer with its trailing LF, exactly as the spec words it.
 *
 * It also models Herald's `maxBufferBytes` bound as documented: a line longer than the bound (terminated or not), or
 * an event's data (without its trailing LF) longer than the bound, reports `ERR_PROTOCOL_BUFFER_OVERFLOW` and nothing
 * more is reported.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
export function referenceParse(input: Chunk, options: ParserOptions = {}): Trace {
  const max = options.maxBufferBytes === undefined ? DEFAULT_MAX_BUFFER_BYTES : options.maxBufferBytes
  const exceeds = (length: number): boolean => max !== null && length > max
  // "Streams must be decoded using the UTF-8 decode algorithm." "The UTF-8 decode algorithm strips one leading UTF-8
  // Byte Order Mark (BOM), if any." (TextDecoder's defaults do both.)
  let text = typeof input === 'string' ? input : new TextDecoder().decode(input)
  if (typeof input === 'string' && text.startsWith('\uFEFF')) text = text.slice(1)
  // "…a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF) character pair, a single U+000A LINE FEED (LF) character not
  // preceded by a U+000D CARRIAGE RETURN (CR) character, and a single U+000D CARRIAGE RETURN (CR) character not
  // followed by a U+000A LINE FEED (LF) character being the ways in which a line can end."
  const lines = text.split(/\r\n|\r|\n/)
  // The last piece has no line end: it is pending data, discarded at the end of the file.
  const unterminated = lines.pop()!

  const trace: Trace = []
  // "When a stream is parsed, a data buffer, an event type buffer, and a last event ID buffer must be associated
  // with it. They must be initialized to the empty string."
  let dataBuffer = ''
  let eventTypeBuffer = ''
  let lastEventIdBuffer = ''
  let lastEventIdString = ''
  let idInBlock: string | undefined

  const dispatch = (): void => {
    // 1. "Set the last event ID string of the event source to the value of the last event ID buffer."
    if (lastEventIdString !== lastEventIdBuffer) {
      lastEventIdString = lastEventIdBuffer
      trace.push({ lastEventId: lastEventIdString })
    }
    const id = idInBlock
    idInBlock = undefined
    // 2. "If the data buffer is an empty string, set the data buffer and the event type buffer to the empty string
    // and return."
    if (dataBuffer === '') {
      eventTypeBuffer = ''
      return
    }
    // 3. "If the data buffer's last character is a U+000A LINE FEED (LF) character, then remove the last character
    // from the data buffer." (It always is: each data field appends one.)
    const data = dataBuffer.slice(0, -1)
    // 5-6. type "message", or the event type buffer when it is not empty.
    const type = eventTypeBuffer === '' ? 'message' : eventTypeBuffer
    trace.push({ event: { type, data, lastEventId: lastEventIdString, id } })
    // 7. "Set the data buffer and the event type buffer to the empty string."
    dataBuffer = ''
    eventTypeBuffer = ''
  }

  /** Processes one field; returns false when the data buffer overflowed. */
  const processField = (field: string, value: string): boolean => {
    if (field === 'event') {
      eventTypeBuffer = value
    } else if (field === 'data') {
      dataBuffer += value + '\n'
      if (exceeds(dataBuffer.length - 1)) return false
    } else if (field === 'id') {
      if (!value.includes('\0')) {
        lastEventIdBuffer = value
        idInBlock = value
      }
    } else if (field === 'retry') {
      if (/^[0-9]+$/.test(value)) trace.push({ retry: Number(value) })
    }
    return true
  }

  for (const line of lines) {
    if (exceeds(line.length)) {
      trace.push({ error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' })
      return trace
    }
    if (line === '') {
      dispatch()
    } else if (line.startsWith(':')) {
      const comment = line.slice(1)
      trace.push({ comment: comment.startsWith(' ') ? comment.slice(1) : comment })
    } else {
      const colon = line.indexOf(':')
      let field = line
      let value = ''
      if (colon !== -1) {
        field = line.slice(0, colon)
        value = line.slice(colon + 1)
        if (value.startsWith(' ')) value = value.slice(1)
      }
      if (!processField(field, value)) {
        trace.push({ error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' })
        return trace
      }
    }
  }
  if (exceeds(unterminated.length)) trace.push({ error: 'ERR_PROTOCOL_BUFFER_OVERFLOW' })
  return trace
}
