import { ProtocolError } from './errors.js'

/**
 * The default cap on a single line, and on one event's data, in the parser's buffers: 16 MiB.
 *
 * Measured in UTF-16 code units of decoded text, which is never more than the number of UTF-8 bytes received.
 */
export const DEFAULT_MAX_BUFFER_BYTES = 16 * 1024 * 1024

/** One event dispatched by the parser. */
export interface ParsedEvent {
  /** The event type: the `event` field of this event, or `'message'` when it had none. */
  type: string
  /** The data: every `data` field of the event joined by LF. */
  data: string
  /**
   * The WHATWG "last event ID string" at dispatch: the most recent `id` field of the stream, which persists across
   * events until another `id` field (an empty one resets it) replaces it.
   */
  lastEventId: string
  /** The `id` field seen in this event's own block, if any. */
  id: string | undefined
}

/** What the parser calls as the stream is interpreted. */
export interface ParserCallbacks {
  /** An event was dispatched (a blank line ended a block whose data buffer was not empty). */
  onEvent: (event: ParsedEvent) => void
  /** A `retry` field made only of ASCII digits set the reconnection time, in milliseconds. */
  onRetry?: (ms: number) => void
  /** A comment line (`:` first); the text after the colon, with one leading space removed. */
  onComment?: (text: string) => void
  /**
   * The last event ID string changed at a dispatch point. Called before `onEvent`, and also for a block without
   * data (`id: 7` then a blank line), which sets the last event ID without dispatching an event.
   */
  onLastEventId?: (lastEventId: string) => void
  /** A data error, such as `ERR_PROTOCOL_BUFFER_OVERFLOW`. The parser never throws for bad input. */
  onError?: (error: ProtocolError) => void
}

/** Options of {@link createParser}. */
export interface ParserOptions {
  /**
   * The most a single line, or one event's data, may hold (UTF-16 code units of decoded text). Past it the parser
   * reports `ERR_PROTOCOL_BUFFER_OVERFLOW` through `onError` and ignores all input until `reset()`. `null` removes
   * the cap.
   * @defaultValue {@link DEFAULT_MAX_BUFFER_BYTES} (16 MiB)
   */
  maxBufferBytes?: number | null
}

/** A streaming event-stream parser. */
export interface Parser {
  /** Feeds the next chunk: bytes (decoded as streaming UTF-8) or text. Chunks may be split anywhere. */
  feed(chunk: Uint8Array | string): void
  /** Forgets everything, including the last event ID and an overflow, ready for a new stream. */
  reset(): void
  /**
   * Ends the stream. [spec] "Once the end of the file is reached, any pending data must be discarded. (If the file
   * ends in the middle of an event, before the final empty line, the incomplete event is not dispatched.)" The
   * parser is then ready for a new stream; an overflow stays in force until `reset()`.
   */
  end(): void
}

const LF = 0x0a
const CR = 0x0d
const SPACE = 0x20
const COLON = 0x3a
const BOM = 0xfeff
const ZERO = 0x30
const NINE = 0x39
/** Byte chunks without a line end are held back, undecoded, up to this many bytes. */
const STASH_BYTES = 4096
/** Decodes complete UTF-8 text; invalid sequences become U+FFFD. */
const utf8 = new TextDecoder()
/** The same, keeping a leading BOM for the parser to judge. */
const utf8KeepBom = new TextDecoder('utf-8', { ignoreBOM: true })

/**
 * Creates a parser that interprets a `text/event-stream` exactly as the WHATWG HTML standard's "Interpreting an
 * event stream" section says.
 *
 * Bytes are decoded as streaming UTF-8: invalid sequences become U+FFFD, and one leading byte order mark is dropped
 * only at the very start of the stream. Lines end with CR, LF or CRLF, including a CR at the end of one chunk and an
 * LF at the start of the next. Memory is bounded by `maxBufferBytes`.
 *
 * @example
 * ```ts
 * const parser = createParser({ onEvent: (e) => console.log(e.type, e.data, e.lastEventId) })
 * parser.feed('id: 1\ndata: hello\n\n') // logs "message hello 1"
 * ```
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
export function createParser(callbacks: ParserCallbacks, options: ParserOptions = {}): Parser {
  const maxBuffer = validateMaxBuffer(options.maxBufferBytes)
  const { onEvent, onRetry, onComment, onLastEventId, onError } = validateCallbacks(callbacks)

  // The first bytes of a UTF-8 sequence that the previous chunk left unfinished.
  let carry: Uint8Array | undefined
  // Small byte chunks without a line end wait here undecoded: no event can complete before a line end arrives, and
  // one decode call for several chunks is cheaper than one each (bench/parse.bench.mjs, "16-byte reads").
  let stash: Uint8Array | undefined
  let stashed = 0
  let atStart = true
  let skipLF = false
  let failed = false
  // The unfinished line carried over from earlier chunks.
  let pending = ''
  // [spec] "When a stream is parsed, a data buffer, an event type buffer, and a last event ID buffer must be
  // associated with it. They must be initialized to the empty string."
  let data = ''
  let hasData = false
  let eventType = ''
  let idBuffer = ''
  let idInBlock: string | undefined
  // The event source's "last event ID string", set from the buffer at each dispatch.
  let lastEventId = ''

  function fail(message: string): void {
    failed = true
    pending = ''
    data = ''
    hasData = false
    onError?.(new ProtocolError('ERR_PROTOCOL_BUFFER_OVERFLOW', message))
  }

  function dispatch(): void {
    // [spec] "Set the last event ID string of the event source to the value of the last event ID buffer. The
    // buffer does not get reset, so the last event ID string of the event source remains set to this value until
    // the next time it is set by the server."
    if (idBuffer !== lastEventId) {
      lastEventId = idBuffer
      onLastEventId?.(lastEventId)
    }
    const id = idInBlock
    idInBlock = undefined
    // [spec] "If the data buffer is an empty string, set the data buffer and the event type buffer to the empty
    // string and return."
    if (!hasData) {
      eventType = ''
      return
    }
    // The data buffer is kept without its trailing LF ([spec] "If the data buffer's last character is a U+000A LINE
    // FEED (LF) character, then remove the last character from the data buffer.").
    const event: ParsedEvent = { type: eventType === '' ? 'message' : eventType, data, lastEventId, id }
    data = ''
    hasData = false
    eventType = ''
    onEvent(event)
  }

  /** Whether the parser gave up (read through a call, so that checks after `text` see its effect). */
  function hasFailed(): boolean {
    return failed
  }

  function appendData(value: string): void {
    if (hasData) {
      if (maxBuffer !== null && data.length + value.length + 1 > maxBuffer) {
        fail(`event data exceeds maxBufferBytes (${maxBuffer})`)
        return
      }
      data = data + '\n' + value
    } else {
      data = value
      hasData = true
    }
  }

  /** Processes the line `s[start, end)` (without its line end). */
  function line(s: string, start: number, end: number): void {
    if (start === end) {
      // [spec] "If the line is empty (a blank line): Dispatch the event, as defined below."
      dispatch()
      return
    }
    const first = s.charCodeAt(start)
    if (first === COLON) {
      // [spec] "If the line starts with a U+003A COLON character (:): Ignore the line."
      if (onComment !== undefined) {
        const from = start + 1 < end && s.charCodeAt(start + 1) === SPACE ? start + 2 : start + 1
        onComment(s.slice(from, end))
      }
      return
    }
    // [spec] "If the line contains a U+003A COLON character (:): Collect the characters on the line before the first
    // U+003A COLON character (:), and let field be that string. Collect the characters on the line after the first
    // U+003A COLON character (:), and let value be that string. If value starts with a U+0020 SPACE character,
    // remove it from value." Otherwise "using the whole line as the field name, and the empty string as the field
    // value."
    // A bounded scan, not indexOf: a line without a colon must not search the rest of the chunk.
    let nameEnd = start + 1
    while (nameEnd < end && s.charCodeAt(nameEnd) !== COLON) nameEnd++
    let valueStart = nameEnd + 1
    if (valueStart < end && s.charCodeAt(valueStart) === SPACE) valueStart++
    // Field names are compared by length and char codes: no substring is made for the name (bench/parse.bench.mjs).
    switch (nameEnd - start) {
      case 4:
        // "data": [spec] "Append the field value to the data buffer, then append a single U+000A LINE FEED (LF)
        // character to the data buffer." The LF is added before the next value instead, which leaves the buffer
        // exactly as the spec's after its trailing LF is removed at dispatch.
        if (first === 0x64 && s.charCodeAt(start + 1) === 0x61 && s.charCodeAt(start + 2) === 0x74 && s.charCodeAt(start + 3) === 0x61) {
          appendData(valueStart < end ? s.slice(valueStart, end) : '')
        }
        return
      case 5:
        if (first === 0x65) {
          // "event": [spec] "Set the event type buffer to field value."
          if (s.charCodeAt(start + 1) === 0x76 && s.charCodeAt(start + 2) === 0x65 && s.charCodeAt(start + 3) === 0x6e && s.charCodeAt(start + 4) === 0x74) {
            eventType = valueStart < end ? s.slice(valueStart, end) : ''
          }
        } else if (first === 0x72 && s.charCodeAt(start + 1) === 0x65 && s.charCodeAt(start + 2) === 0x74 && s.charCodeAt(start + 3) === 0x72 && s.charCodeAt(start + 4) === 0x79) {
          // "retry": [spec] "If the field value consists of only ASCII digits, then interpret the field value as an
          // integer in base ten, and set the event stream's reconnection time to that integer. Otherwise, ignore the
          // field."
          if (valueStart >= end) return
          for (let i = valueStart; i < end; i++) {
            const c = s.charCodeAt(i)
            if (c < ZERO || c > NINE) return
          }
          onRetry?.(Number(s.slice(valueStart, end)))
        }
        return
      case 2:
        // "id": [spec] "If the field value does not contain U+0000 NULL, then set the last event ID buffer to the
        // field value. Otherwise, ignore the field."
        if (first === 0x69 && s.charCodeAt(start + 1) === 0x64) {
          const value = valueStart < end ? s.slice(valueStart, end) : ''
          if (!value.includes('\0')) {
            idBuffer = value
            idInBlock = value
          }
        }
        return
      default:
        // [spec] "Otherwise: The field is ignored."
        return
    }
  }

  /** Splits decoded text into lines; keeps the unfinished last line in `pending`. */
  function text(t: string): void {
    let pos = 0
    const len = t.length
    if (len === 0) return
    if (atStart) {
      atStart = false
      // [spec] "The UTF-8 decode algorithm strips one leading UTF-8 Byte Order Mark (BOM), if any."
      if (t.charCodeAt(0) === BOM) pos = 1
    }
    if (skipLF) {
      // A CR ended the previous chunk; an LF starting this one belongs to the same CRLF.
      skipLF = false
      if (pos < len && t.charCodeAt(pos) === LF) pos++
    }
    if (pending !== '') {
      pos = finishPending(t, pos)
      if (pos < 0) return
    }
    // Most streams use LF only: one indexOf per line, and data lines handled in the loop itself
    // (bench/parse.bench.mjs, "many tiny events").
    if (t.indexOf('\r', pos) === -1) {
      let lf = t.indexOf('\n', pos)
      while (lf !== -1) {
        if (lf === pos) {
          dispatch()
        } else if (maxBuffer !== null && lf - pos > maxBuffer) {
          fail(`a line exceeds maxBufferBytes (${maxBuffer})`)
          return
        } else if (t.charCodeAt(pos) === 0x64 && t.charCodeAt(pos + 1) === 0x61 && t.charCodeAt(pos + 2) === 0x74 && t.charCodeAt(pos + 3) === 0x61 && t.charCodeAt(pos + 4) === COLON) {
          const from = t.charCodeAt(pos + 5) === SPACE ? pos + 6 : pos + 5
          appendData(from < lf ? t.slice(from, lf) : '')
          if (hasFailed()) return
          // The commonest event, a single data line then a blank line: dispatch it without another search.
          if (t.charCodeAt(lf + 1) === LF) {
            dispatch()
            lf++
          }
        } else if (t.charCodeAt(pos) === 0x69 && t.charCodeAt(pos + 1) === 0x64 && t.charCodeAt(pos + 2) === COLON) {
          // "id:" — the next commonest line, also handled here without the general field scan.
          const from = t.charCodeAt(pos + 3) === SPACE ? pos + 4 : pos + 3
          const value = from < lf ? t.slice(from, lf) : ''
          if (!value.includes('\0')) {
            idBuffer = value
            idInBlock = value
          }
        } else if (t.charCodeAt(pos) === 0x65 && t.charCodeAt(pos + 5) === COLON && t.charCodeAt(pos + 1) === 0x76 && t.charCodeAt(pos + 2) === 0x65 && t.charCodeAt(pos + 3) === 0x6e && t.charCodeAt(pos + 4) === 0x74) {
          // "event:"
          const from = t.charCodeAt(pos + 6) === SPACE ? pos + 7 : pos + 6
          eventType = from < lf ? t.slice(from, lf) : ''
        } else {
          line(t, pos, lf)
        }
        if (failed) return
        pos = lf + 1
        lf = t.indexOf('\n', pos)
      }
    } else {
      // Positions of the next LF and CR at or after `pos`, or `len` when there is none. Each is searched again only
      // once `pos` has passed it, so the chunk is scanned in linear time whatever its line ends.
      let lfAt = -1
      let crAt = -1
      while (pos < len) {
        if (lfAt < pos) {
          lfAt = t.indexOf('\n', pos)
          if (lfAt === -1) lfAt = len
        }
        if (crAt < pos) {
          crAt = t.indexOf('\r', pos)
          if (crAt === -1) crAt = len
        }
        const end = lfAt < crAt ? lfAt : crAt
        if (end === len) break
        if (maxBuffer !== null && end - pos > maxBuffer) {
          fail(`a line exceeds maxBufferBytes (${maxBuffer})`)
          return
        }
        line(t, pos, end)
        if (failed) return
        if (end === crAt) {
          if (end + 1 === len) {
            skipLF = true
            return
          }
          pos = t.charCodeAt(end + 1) === LF ? end + 2 : end + 1
        } else {
          pos = end + 1
        }
      }
    }
    if (pos < len) {
      const rest = pos === 0 ? t : t.slice(pos)
      if (maxBuffer !== null && pending.length + rest.length > maxBuffer) {
        fail(`a line exceeds maxBufferBytes (${maxBuffer})`)
        return
      }
      // String concatenation makes a rope; it is flattened once, when the line ends, so a long line arriving in
      // many chunks costs linear time.
      pending = pending === '' ? rest : pending + rest
    }
  }

  /**
   * Completes the line carried over from earlier chunks with the start of `t`. Returns the position after its line
   * end, or -1 when `t` holds no line end (then all of `t` joined the pending line) or the parser failed.
   */
  function finishPending(t: string, pos: number): number {
    const len = t.length
    let end = t.indexOf('\n', pos)
    if (end === -1) end = len
    const cr = t.indexOf('\r', pos)
    if (cr !== -1 && cr < end) end = cr
    if (end === len) {
      if (maxBuffer !== null && pending.length + len - pos > maxBuffer) {
        fail(`a line exceeds maxBufferBytes (${maxBuffer})`)
        return -1
      }
      pending += pos === 0 ? t : t.slice(pos)
      return -1
    }
    const whole = pending + t.slice(pos, end)
    pending = ''
    if (maxBuffer !== null && whole.length > maxBuffer) {
      fail(`a line exceeds maxBufferBytes (${maxBuffer})`)
      return -1
    }
    line(whole, 0, whole.length)
    if (failed) return -1
    if (t.charCodeAt(end) === LF) return end + 1
    if (end + 1 === len) {
      skipLF = true
      return -1
    }
    return t.charCodeAt(end + 1) === LF ? end + 2 : end + 1
  }

  function decode(bytes: Uint8Array): string {
    if (carry !== undefined) bytes = joinCarry(bytes)
    // Node's TextDecoder leaves its fast path (about 3x faster on ASCII) for good once `stream: true` is passed, so
    // the stream is decoded here: each complete prefix in one non-streaming call, and the last bytes of an
    // unfinished sequence carried to the next chunk (bench/parse.bench.mjs, "1 KiB reads" and "16-byte reads").
    const complete = completePrefixLength(bytes)
    if (complete < bytes.length) {
      carry = bytes.slice(complete)
      bytes = bytes.subarray(0, complete)
    }
    // A non-streaming decoder drops a BOM at the start of every call; `text` alone decides (only at the very start
    // of the stream), so a chunk that starts with one goes to a decoder that keeps it.
    return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? utf8KeepBom.decode(bytes) : utf8.decode(bytes)
  }

  /** Prepends the carried bytes of an unfinished sequence to `bytes`. */
  function joinCarry(bytes: Uint8Array): Uint8Array {
    const held = carry as Uint8Array
    carry = undefined
    const joined = new Uint8Array(held.length + bytes.length)
    joined.set(held)
    joined.set(bytes, held.length)
    return joined
  }

  function flushCarry(): string {
    if (carry === undefined) return ''
    const held = carry
    carry = undefined
    // [encoding] an unfinished sequence at the end of the input decodes to one U+FFFD.
    return utf8KeepBom.decode(held)
  }

  return {
    feed(chunk) {
      if (typeof chunk === 'string') {
        if (failed) return
        if (stashed > 0) {
          const held = (stash as Uint8Array).subarray(0, stashed)
          stashed = 0
          text(decode(held))
          if (hasFailed()) return
        }
        // Bytes left unfinished before a string chunk can never be completed: flush them as U+FFFD.
        const rest = flushCarry()
        if (rest !== '') text(rest)
        text(chunk)
      } else if (chunk instanceof Uint8Array) {
        if (failed) return
        const n = chunk.length
        // A decoded line never has more UTF-16 code units than its UTF-8 bytes, so while the pending line and the held
        // bytes (carried and stashed) stay within maxBufferBytes the line does too; past it they are decoded and the
        // bound is checked at once.
        if (stashed + n <= (maxBuffer === null ? STASH_BYTES : Math.min(STASH_BYTES, maxBuffer - pending.length - (carry?.length ?? 0))) && !hasLineEnd(chunk)) {
          stash ??= new Uint8Array(STASH_BYTES)
          stash.set(chunk, stashed)
          stashed += n
          return
        }
        if (stashed > 0) {
          const held = (stash as Uint8Array).subarray(0, stashed)
          stashed = 0
          if (held.length + n <= STASH_BYTES) {
            ;(stash as Uint8Array).set(chunk, held.length)
            text(decode((stash as Uint8Array).subarray(0, held.length + n)))
            return
          }
          text(decode(held))
          if (hasFailed()) return
        }
        text(decode(chunk))
      } else {
        throw new ProtocolError('ERR_PROTOCOL_INVALID_CHUNK', `feed() takes a Uint8Array or a string, not ${describe(chunk)}`)
      }
    },
    reset() {
      failed = false
      clearStream()
      lastEventId = ''
    },
    end() {
      clearStream()
    },
  }

  function clearStream(): void {
    carry = undefined
    stashed = 0
    atStart = true
    skipLF = false
    pending = ''
    data = ''
    hasData = false
    eventType = ''
    idBuffer = ''
    idInBlock = undefined
  }
}

/** True when `bytes` holds a CR or LF. */
function hasLineEnd(bytes: Uint8Array): boolean {
  const n = bytes.length
  // A plain loop beats two TypedArray indexOf calls on the small chunks that get here (bench/parse.bench.mjs,
  // "16-byte reads").
  if (n > 64) return bytes.indexOf(LF) !== -1 || bytes.indexOf(CR) !== -1
  for (let i = 0; i < n; i++) {
    const b = bytes[i] as number
    if (b === LF || b === CR) return true
  }
  return false
}

/**
 * The length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence: everything but a trailing
 * lead byte still waiting for its continuation bytes. Invalid bytes count as complete (they decode to U+FFFD).
 */
function completePrefixLength(bytes: Uint8Array): number {
  const n = bytes.length
  // A sequence is at most 4 bytes long: only the last 3 can belong to an unfinished one.
  for (let back = 1; back <= 3 && back <= n; back++) {
    const b = bytes[n - back] as number
    if ((b & 0xc0) === 0x80) continue // a continuation byte: look for its lead byte
    if (b < 0xc2 || b > 0xf4) return n // ASCII or a byte that never starts a sequence
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2
    return back < need ? n - back : n
  }
  return n
}

function validateCallbacks(callbacks: ParserCallbacks): ParserCallbacks {
  if (typeof callbacks !== 'object' || (callbacks as unknown) === null) {
    throw new ProtocolError('ERR_PROTOCOL_INVALID_OPTION', `createParser takes an object of callbacks, not ${describe(callbacks)}`)
  }
  for (const name of ['onEvent', 'onRetry', 'onComment', 'onLastEventId', 'onError'] as const) {
    const value: unknown = callbacks[name]
    if (value === undefined && name !== 'onEvent') continue
    if (typeof value !== 'function') {
      throw new ProtocolError('ERR_PROTOCOL_INVALID_OPTION', `${name} must be a function, not ${describe(value)}`)
    }
  }
  return callbacks
}

function validateMaxBuffer(value: number | null | undefined): number | null {
  if (value === undefined) return DEFAULT_MAX_BUFFER_BYTES
  if (value === null) return null
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new ProtocolError('ERR_PROTOCOL_INVALID_OPTION', `maxBufferBytes must be a positive integer or null, not ${describe(value)}`)
  }
  return value
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'object') return Object.prototype.toString.call(value)
  return typeof value === 'string' ? JSON.stringify(value) : typeof value
}
