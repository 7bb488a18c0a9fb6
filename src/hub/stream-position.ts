/**
 * Where an update sits in a history: which life of the history (`epoch`) and where in that life (`offset`).
 *
 * - `epoch` names one life of a history. A store that is created, emptied or lost starts a new epoch, so a position
 *   from an earlier life is recognised as foreign (a gap) instead of being replayed against unrelated entries.
 * - `offset` orders entries within one epoch. Every engine writes offsets in one canonical form (see
 *   {@link isStreamOffset}) so that {@link compareOffsets} orders the offsets of any engine: a plain sequence number
 *   (`"42"`: memory, SQLite, NATS JetStream) or dash-joined numbers (`"1700000000000-3"`: Redis Streams).
 *
 * Positions are plain data: compare two of them only when their epochs are equal.
 *
 * @example
 * ```ts
 * const position: StreamPosition = { epoch: '0b7e…', offset: '42' }
 * ```
 */
export interface StreamPosition {
  /** The life of the history this position belongs to. Opaque; compare with `===` only. */
  readonly epoch: string
  /** The place within the epoch, in canonical offset form (see {@link isStreamOffset}). */
  readonly offset: string
}

const DIGIT_0 = 0x30
const DIGIT_9 = 0x39
const DASH = 0x2d

/**
 * Tells whether `value` is an offset in canonical form: one or more non-negative decimal integers without leading
 * zeros, joined by `-` (`"0"`, `"42"`, `"1700000000000-3"`). Engines only ever issue canonical offsets.
 *
 * @example
 * ```ts
 * isStreamOffset('42') // true
 * isStreamOffset('1700000000000-3') // true
 * isStreamOffset('042') // false: leading zero
 * ```
 */
export function isStreamOffset(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0) return false
  let componentStart = 0
  for (let i = 0; i <= value.length; i++) {
    const code = i < value.length ? value.charCodeAt(i) : DASH
    if (code === DASH) {
      const length = i - componentStart
      if (length === 0) return false
      // A component of several digits must not start with 0: one spelling per number keeps comparison textual.
      if (length > 1 && value.charCodeAt(componentStart) === DIGIT_0) return false
      componentStart = i + 1
    } else if (code < DIGIT_0 || code > DIGIT_9) {
      return false
    }
  }
  return true
}

/**
 * Orders two canonical offsets of the same epoch: negative when `a` comes first, `0` when equal, positive when `a`
 * comes after `b`.
 *
 * Offsets compare component by component (split on `-`) as unbounded integers; a missing component counts as `0`,
 * so `"5"` equals `"5-0"`. Works on numbers of any size (no precision is lost beyond 2^53). Non-canonical input
 * gives an unspecified order; check it with {@link isStreamOffset} first.
 *
 * @example
 * ```ts
 * compareOffsets('9', '10') // < 0
 * compareOffsets('1700000000000-3', '1700000000000-12') // < 0
 * messages.sort((x, y) => compareOffsets(x.position.offset, y.position.offset))
 * ```
 */
export function compareOffsets(a: string, b: string): number {
  if (a === b) return 0
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    let endA = a.indexOf('-', i)
    if (endA === -1) endA = a.length
    let endB = b.indexOf('-', j)
    if (endB === -1) endB = b.length
    const order = compareComponents(a, i, endA, b, j, endB)
    if (order !== 0) return order
    i = endA + 1
    j = endB + 1
  }
  return 0
}

/** Compares the decimal integers `a[startA, endA)` and `b[startB, endB)`; an empty range counts as 0. */
function compareComponents(a: string, startA: number, endA: number, b: string, startB: number, endB: number): number {
  // Canonical numbers have no leading zeros, so a longer number is a larger one ("0" and "" both mean zero).
  const lengthA = startA >= endA || (endA - startA === 1 && a.charCodeAt(startA) === DIGIT_0) ? 0 : endA - startA
  const lengthB = startB >= endB || (endB - startB === 1 && b.charCodeAt(startB) === DIGIT_0) ? 0 : endB - startB
  if (lengthA !== lengthB) return lengthA - lengthB
  for (let k = 0; k < lengthA; k++) {
    const diff = a.charCodeAt(startA + k) - b.charCodeAt(startB + k)
    if (diff !== 0) return diff
  }
  return 0
}
