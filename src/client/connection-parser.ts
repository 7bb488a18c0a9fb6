import { createParser, type ParserCallbacks } from '../protocol/parse.js'

/** The parser of one connection's body. */
export interface ConnectionParser {
  /** Feeds the next chunk of the body. */
  feed(chunk: Uint8Array): void
  /** Ends the body: an unfinished event is discarded. */
  end(): void
}

const BOM = [0xef, 0xbb, 0xbf] as const

/**
 * Creates the parser for one connection, whose last event ID buffer starts as the source's last event ID string.
 *
 * The spec gives each parsed stream a last event ID buffer "initialized to the empty string", so an event without an
 * `id` after a reconnection would carry an empty `lastEventId` and the next reconnection would send no
 * `Last-Event-ID`. Browsers do otherwise: Chromium starts each stream's parser from the source's last event ID, so the
 * id survives reconnections until the server replaces it (an empty `id` field still clears it). Herald does what
 * browsers do, so that it behaves like the native `EventSource` on the same server.
 *
 * The buffer is set by feeding the parser a data-less `id` block, which dispatches nothing. The parser strips a byte
 * order mark only at the very start of its input, which is then that block, so the one that may start the body is
 * stripped here.
 */
export function createConnectionParser(callbacks: ParserCallbacks, maxBufferBytes: number | null, lastEventId: string): ConnectionParser {
  // The priming below sets the last event ID the source already has: it must not be reported as news.
  let priming = true
  const { onLastEventId } = callbacks
  const parser = createParser(
    onLastEventId === undefined
      ? callbacks
      : {
          ...callbacks,
          onLastEventId: (id) => {
            if (!priming) onLastEventId(id)
          },
        },
    { maxBufferBytes },
  )
  // Either input also takes the parser past the start of its stream, so that it never strips a BOM itself: a second
  // BOM in the body is data, not the leading one.
  parser.feed(lastEventId === '' ? '\n' : `id: ${lastEventId}\n\n`)
  priming = false
  // The first bytes of the body, held while they may still be the start of a BOM split across chunks.
  let head: Uint8Array | undefined
  let atStart = true
  return {
    feed(chunk) {
      if (atStart) {
        const bytes = head === undefined ? chunk : concat(head, chunk)
        if (bytes.length < BOM.length && isBomPrefix(bytes)) {
          head = bytes
          return
        }
        atStart = false
        head = undefined
        // [spec] "The UTF-8 decode algorithm strips one leading UTF-8 Byte Order Mark (BOM), if any."
        chunk = isBomPrefix(bytes) ? bytes.subarray(BOM.length) : bytes
        if (chunk.length === 0) return
      }
      parser.feed(chunk)
    },
    end() {
      // Fewer than three bytes, all a BOM's: a truncated BOM, which decodes to U+FFFD in an unfinished line.
      if (head !== undefined && head.length > 0) parser.feed(head)
      parser.end()
    },
  }
}

/** Whether `bytes` is the BOM or a prefix of it (the first `bytes.length` bytes only, when it is longer). */
function isBomPrefix(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, BOM.length)
  for (let i = 0; i < n; i++) if (bytes[i] !== BOM[i]) return false
  return true
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length)
  joined.set(a)
  joined.set(b, a.length)
  return joined
}
