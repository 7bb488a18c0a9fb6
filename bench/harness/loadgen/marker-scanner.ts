/**
 * Finds payload markers (`HB.<seq>.<floor>.<sentUs>.`, see `payload.ts`) in an SSE byte stream, with a
 * state machine that carries a partial marker over from one read to the next, so markers split anywhere
 * across TCP reads or HTTP chunks are still found. It allocates nothing per byte or per marker.
 */

const H = 0x48 // 'H'
const B = 0x42 // 'B'
const DOT = 0x2e // '.'
const DIGIT_0 = 0x30
const DIGIT_9 = 0x39
/** Number of numeric fields after `HB.`. */
const FIELDS = 3
/** Longer digit runs are not ours (2^53 has 16 digits). */
const MAX_DIGITS = 16

/** Called once per complete marker. */
export type MarkerHandler = (seq: number, floor: number, sentUs: number) => void

/** Scanner state for one byte stream. */
export interface MarkerScanner {
  /** Scans `bytes[start, end)`; may be called with any split of the stream. */
  push(bytes: Uint8Array, start: number, end: number): void
  /** Forgets a partial marker (for example when the stream ends). */
  reset(): void
}

/**
 * Creates a scanner for one stream.
 *
 * @example
 * const scanner = createMarkerScanner((seq, floor, sentUs) => { … })
 * scanner.push(chunk, 0, chunk.length)
 */
export function createMarkerScanner(onMarker: MarkerHandler): MarkerScanner {
  // matched: bytes of "HB." matched so far (0…3); once 3, field/digits/value describe the number being read.
  let matched = 0
  let field = 0
  let digits = 0
  let value = 0
  let seq = 0
  let floor = 0

  const restart = (): void => {
    matched = 0
    field = 0
    digits = 0
    value = 0
  }

  return {
    reset: restart,
    push(bytes, start, end) {
      let i = start
      while (i < end) {
        if (matched === 0) {
          // Fast path: Buffer#indexOf(byte) is a memchr in native code. It may look past `end`; a hit
          // there is left for the caller's next push, which covers those bytes.
          const at = bytes.indexOf(H, i)
          if (at < 0 || at >= end) return
          matched = 1
          i = at + 1
          continue
        }
        const byte = bytes[i] ?? 0
        if (matched === 1) {
          if (byte === B) {
            matched = 2
            i++
          } else restart() // re-examine this byte as a possible 'H'
          continue
        }
        if (matched === 2) {
          if (byte === DOT) {
            matched = 3
            i++
          } else restart()
          continue
        }
        if (byte >= DIGIT_0 && byte <= DIGIT_9 && digits < MAX_DIGITS) {
          value = value * 10 + (byte - DIGIT_0)
          digits++
          i++
          continue
        }
        if (byte === DOT && digits > 0) {
          i++
          if (field === 0) seq = value
          else if (field === 1) floor = value
          field++
          if (field === FIELDS) {
            const sentUs = value
            restart()
            onMarker(seq, floor, sentUs)
          } else {
            digits = 0
            value = 0
          }
          continue
        }
        restart() // not a marker after all: this byte may start one
      }
    },
  }
}
