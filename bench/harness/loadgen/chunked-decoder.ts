/**
 * Incremental decoder for HTTP/1.1 `Transfer-Encoding: chunked` bodies (RFC 9112 §7.1).
 *
 * It hands out the chunk data as ranges of the buffers it is given (no copies), keeps its state between
 * reads so chunk-size lines and CRLFs may be split anywhere, and ignores chunk extensions and trailers.
 */

const CR = 0x0d
const LF = 0x0a
const SEMICOLON = 0x3b
/** Chunk sizes above 2^32 − 1 (8 hex digits) are refused: far beyond anything an SSE server sends. */
const MAX_SIZE_DIGITS = 8

/** Called with each piece of chunk data, as a range of the buffer given to {@link ChunkedDecoder.push}. */
export type ChunkDataHandler = (bytes: Uint8Array, start: number, end: number) => void

/** What {@link ChunkedDecoder.push} found. */
export type ChunkedStatus = 'more' | 'done' | 'invalid'

/** Decoder state for one response body. */
export interface ChunkedDecoder {
  /** Decodes `bytes[start, end)`; returns `'done'` after the last chunk, `'invalid'` on a framing error. */
  push(bytes: Uint8Array, start: number, end: number): ChunkedStatus
}

// Decoder states (plain numbers: the loop compares them per byte).
const SIZE = 0
const EXTENSION = 1
const SIZE_LF = 2
const DATA = 3
const DATA_CR = 4
const DATA_LF = 5
const DONE = 6
const INVALID = 7

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10
  return -1
}

/**
 * Creates a decoder for one chunked body.
 *
 * @example
 * const decoder = createChunkedDecoder((bytes, start, end) => scanner.push(bytes, start, end))
 * socket.on('data', (chunk) => { if (decoder.push(chunk, 0, chunk.length) !== 'more') socket.destroy() })
 */
export function createChunkedDecoder(onData: ChunkDataHandler): ChunkedDecoder {
  let state: number = SIZE
  let size = 0
  let sizeDigits = 0
  let remaining = 0

  const afterSizeLine = (): void => {
    if (sizeDigits === 0) state = INVALID
    else if (size === 0) state = DONE // last-chunk; trailers are not needed
    else {
      remaining = size
      state = DATA
    }
  }

  return {
    push(bytes, start, end) {
      let i = start
      while (i < end && state !== DONE && state !== INVALID) {
        if (state === DATA) {
          const take = Math.min(remaining, end - i)
          onData(bytes, i, i + take)
          i += take
          remaining -= take
          if (remaining === 0) state = DATA_CR
          continue
        }
        const byte = bytes[i++] ?? 0
        switch (state) {
          case SIZE: {
            const digit = hexValue(byte)
            if (digit >= 0 && sizeDigits < MAX_SIZE_DIGITS) {
              size = size * 16 + digit
              sizeDigits++
            } else if (byte === CR) state = SIZE_LF
            else if (byte === LF) afterSizeLine() // tolerate a bare LF
            else if (byte === SEMICOLON && sizeDigits > 0) state = EXTENSION
            else state = INVALID
            break
          }
          case EXTENSION:
            if (byte === CR) state = SIZE_LF
            else if (byte === LF) afterSizeLine()
            break
          case SIZE_LF:
            if (byte === LF) afterSizeLine()
            else state = INVALID
            break
          case DATA_CR:
            if (byte === CR) state = DATA_LF
            else if (byte === LF) state = SIZE // tolerate a bare LF
            else state = INVALID
            if (state === SIZE) {
              size = 0
              sizeDigits = 0
            }
            break
          case DATA_LF:
            if (byte === LF) {
              state = SIZE
              size = 0
              sizeDigits = 0
            } else state = INVALID
            break
        }
      }
      return state === DONE ? 'done' : state === INVALID ? 'invalid' : 'more'
    },
  }
}
