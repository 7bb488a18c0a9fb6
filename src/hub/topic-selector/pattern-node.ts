/**
 * The small regular-language syntax tree that URI templates, URL patterns and URL-pattern regular expressions
 * compile to, before {@link compileAutomaton} turns it into a linear-time matcher.
 *
 * Character sets are flat, sorted, non-overlapping lists of inclusive code point ranges: `[lo0, hi0, lo1, hi1, …]`.
 *
 * @internal
 */
export type PatternNode =
  | { readonly type: 'set'; readonly ranges: readonly number[] }
  | { readonly type: 'seq'; readonly items: readonly PatternNode[] }
  | { readonly type: 'alt'; readonly items: readonly PatternNode[] }
  /** `item` repeated between `min` and `max` times (`max` may be `Infinity`). */
  | { readonly type: 'repeat'; readonly item: PatternNode; readonly min: number; readonly max: number }
  /**
   * A run of `units` whose weights add up to at most `max` (and to at least 1 when `nonEmpty`). Models RFC 6570
   * prefix modifiers, where one value character may expand to one character or to several percent-encoded ones.
   */
  | {
      readonly type: 'counted'
      readonly max: number
      readonly nonEmpty: boolean
      readonly units: readonly { readonly node: PatternNode; readonly weight: number }[]
    }

/** The largest Unicode code point. */
export const MAX_CODE_POINT = 0x10ffff

/** Matches the empty string only. */
export const EMPTY: PatternNode = { type: 'seq', items: [] }

/** A set of code points given as inclusive ranges, in any order and possibly overlapping. */
export function charSet(ranges: readonly number[]): PatternNode {
  return { type: 'set', ranges: normalizeRanges(ranges) }
}

/** A set of the given characters (each string is one code point). */
export function charsOf(chars: string): PatternNode {
  const ranges: number[] = []
  for (const char of chars) {
    const cp = char.codePointAt(0) ?? 0
    ranges.push(cp, cp)
  }
  return charSet(ranges)
}

/** The complement of a set of ranges within [0, {@link MAX_CODE_POINT}]. */
export function negateRanges(ranges: readonly number[]): number[] {
  const sorted = normalizeRanges(ranges)
  const out: number[] = []
  let next = 0
  for (let i = 0; i < sorted.length; i += 2) {
    const lo = sorted[i] ?? 0
    const hi = sorted[i + 1] ?? 0
    if (lo > next) out.push(next, lo - 1)
    next = hi + 1
  }
  if (next <= MAX_CODE_POINT) out.push(next, MAX_CODE_POINT)
  return out
}

/** Sorts and merges inclusive ranges. */
export function normalizeRanges(ranges: readonly number[]): number[] {
  const pairs: [number, number][] = []
  for (let i = 0; i + 1 < ranges.length; i += 2) pairs.push([ranges[i] ?? 0, ranges[i + 1] ?? 0])
  pairs.sort((a, b) => a[0] - b[0])
  const out: number[] = []
  for (const [lo, hi] of pairs) {
    const last = out.length - 1
    if (last > 0 && lo <= (out[last] ?? 0) + 1) out[last] = Math.max(out[last] ?? 0, hi)
    else out.push(lo, hi)
  }
  return out
}

/** Matches exactly `text`. */
export function literal(text: string): PatternNode {
  const items: PatternNode[] = []
  for (const char of text) {
    const cp = char.codePointAt(0) ?? 0
    items.push({ type: 'set', ranges: [cp, cp] })
  }
  return items.length === 1 ? (items[0] ?? EMPTY) : { type: 'seq', items }
}

/** Matches the items one after another. */
export function seq(...items: PatternNode[]): PatternNode {
  return items.length === 1 ? (items[0] ?? EMPTY) : { type: 'seq', items }
}

/** Matches any one of the items. */
export function alt(...items: PatternNode[]): PatternNode {
  return items.length === 1 ? (items[0] ?? EMPTY) : { type: 'alt', items }
}

/** Matches `item` between `min` and `max` times. */
export function repeat(item: PatternNode, min: number, max: number): PatternNode {
  return { type: 'repeat', item, min, max }
}

/** `item?` */
export function optional(item: PatternNode): PatternNode {
  return repeat(item, 0, 1)
}

/** `item*` */
export function star(item: PatternNode): PatternNode {
  return repeat(item, 0, Infinity)
}

/** `item+` */
export function plus(item: PatternNode): PatternNode {
  return repeat(item, 1, Infinity)
}
