import {
  MAX_CODE_POINT,
  alt,
  charSet,
  negateRanges,
  normalizeRanges,
  repeat,
  seq,
  type PatternNode,
} from './pattern-node.js'

/**
 * Parses the regular expression of a URL-pattern regexp group (`:id(\d+)`) into a {@link PatternNode}, with the
 * semantics of a JavaScript `RegExp` in Unicode mode (the flag URL patterns use).
 *
 * Supported: literals, `.`, escapes (`\d \D \w \W \s \S \n \r \t \v \f \0 \cX \xHH \uHHHH \u{H…}` and escaped syntax
 * characters), classes `[…]`/`[^…]` with ranges, non-capturing groups `(?:…)`, alternation and the quantifiers
 * `* + ? {n} {n,} {n,m}` (greedy or lazy, which does not change what matches). Rejected, because they cannot be
 * matched in linear time or are not regular: lookarounds, backreferences, anchors and word boundaries inside the
 * group; also Unicode property escapes (`\p{…}`), which this parser does not model.
 *
 * Returns the node, or a sentence saying what is not supported.
 *
 * @internal
 */
export function parseRegExpSource(source: string): PatternNode | string {
  const parser = new RegExpParser(source)
  try {
    const node = parser.disjunction()
    if (parser.pos < source.length) return `unexpected ${JSON.stringify(source.charAt(parser.pos))} in regular expression`
    return node
  } catch (error) {
    if (error instanceof RegExpSyntaxProblem) return error.message
    throw error
  }
}

class RegExpSyntaxProblem extends Error {}

const DIGIT = [0x30, 0x39]
const WORD = [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a]
// ECMA-262 WhiteSpace and LineTerminator code points.
const SPACE = [
  0x09, 0x0d, 0x20, 0x20, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f, 0x205f, 0x205f,
  0x3000, 0x3000, 0xfeff, 0xfeff,
]
const LINE_TERMINATORS = [0x0a, 0x0a, 0x0d, 0x0d, 0x2028, 0x2029]
const SYNTAX = '^$\\.*+?()[]{}|/'

class RegExpParser {
  pos = 0
  constructor(private readonly src: string) {}

  private fail(message: string): never {
    throw new RegExpSyntaxProblem(message)
  }

  private peek(offset = 0): string {
    return this.src.charAt(this.pos + offset)
  }

  disjunction(): PatternNode {
    const branches = [this.alternative()]
    while (this.peek() === '|') {
      this.pos++
      branches.push(this.alternative())
    }
    return alt(...branches)
  }

  private alternative(): PatternNode {
    const items: PatternNode[] = []
    while (this.pos < this.src.length && this.peek() !== '|' && this.peek() !== ')') {
      items.push(this.term())
    }
    return seq(...items)
  }

  private term(): PatternNode {
    const c = this.peek()
    if (c === '^' || c === '$') this.fail('anchors are not supported inside a URL pattern regular expression')
    if (c === '\\' && (this.peek(1) === 'b' || this.peek(1) === 'B')) {
      this.fail('word boundaries are not supported: URL pattern regular expressions must be matchable in linear time')
    }
    const atom = this.atom()
    return this.quantifier(atom)
  }

  private quantifier(atom: PatternNode): PatternNode {
    let min: number
    let max: number
    const c = this.peek()
    if (c === '*') {
      min = 0
      max = Infinity
      this.pos++
    } else if (c === '+') {
      min = 1
      max = Infinity
      this.pos++
    } else if (c === '?') {
      min = 0
      max = 1
      this.pos++
    } else if (c === '{') {
      const m = /^\{(\d+)(?:(,)(\d*))?\}/.exec(this.src.slice(this.pos))
      if (m === null) this.fail('lone "{" in regular expression')
      min = Number(m[1])
      max = m[2] === undefined ? min : m[3] === '' || m[3] === undefined ? Infinity : Number(m[3])
      if (max < min) this.fail('numbers out of order in {} quantifier')
      this.pos += m[0].length
    } else {
      return atom
    }
    if (this.peek() === '?') this.pos++ // lazy: same language
    return repeat(atom, min, max)
  }

  private atom(): PatternNode {
    const c = this.peek()
    if (c === '(') {
      if (this.src.startsWith('(?:', this.pos)) {
        this.pos += 3
        const inner = this.disjunction()
        if (this.peek() !== ')') this.fail('unterminated group in regular expression')
        this.pos++
        return inner
      }
      this.fail(
        'only non-capturing groups "(?:…)" are supported: lookarounds, named and capturing groups are not allowed in URL pattern regular expressions',
      )
    }
    if (c === ')') this.fail('unmatched ")" in regular expression')
    if (c === '[') return this.characterClass()
    if (c === '.') {
      this.pos++
      return charSet(negateRanges(LINE_TERMINATORS))
    }
    if (c === '*' || c === '+' || c === '?' || c === '{' || c === '}' || c === ']') {
      this.fail(`nothing to repeat or lone ${JSON.stringify(c)} in regular expression`)
    }
    if (c === '\\') {
      this.pos++
      return charSet(this.escape(false))
    }
    const cp = this.src.codePointAt(this.pos) ?? 0
    this.pos += cp > 0xffff ? 2 : 1
    return charSet([cp, cp])
  }

  /** Parses after a backslash; returns ranges. */
  private escape(inClass: boolean): number[] {
    const c = this.peek()
    this.pos++
    switch (c) {
      case 'd':
        return [...DIGIT]
      case 'D':
        return negateRanges(DIGIT)
      case 'w':
        return [...WORD]
      case 'W':
        return negateRanges(WORD)
      case 's':
        return [...SPACE]
      case 'S':
        return negateRanges(SPACE)
      case 'n':
        return [0x0a, 0x0a]
      case 'r':
        return [0x0d, 0x0d]
      case 't':
        return [0x09, 0x09]
      case 'v':
        return [0x0b, 0x0b]
      case 'f':
        return [0x0c, 0x0c]
      case 'b':
        if (inClass) return [0x08, 0x08]
        break
      case '0':
        if (!/[0-9]/.test(this.peek())) return [0, 0]
        break
      case 'c': {
        const letter = this.peek()
        if (/^[A-Za-z]$/.test(letter)) {
          this.pos++
          const cp = letter.charCodeAt(0) % 32
          return [cp, cp]
        }
        break
      }
      case 'x': {
        const m = /^[0-9A-Fa-f]{2}/.exec(this.src.slice(this.pos))
        if (m !== null) {
          this.pos += 2
          const cp = parseInt(m[0], 16)
          return [cp, cp]
        }
        break
      }
      case 'u': {
        const braced = /^\{([0-9A-Fa-f]+)\}/.exec(this.src.slice(this.pos))
        if (braced !== null) {
          const cp = parseInt(braced[1] as string, 16)
          if (cp > MAX_CODE_POINT) this.fail('Unicode escape out of range')
          this.pos += braced[0].length
          return [cp, cp]
        }
        const m = /^[0-9A-Fa-f]{4}/.exec(this.src.slice(this.pos))
        if (m !== null) {
          this.pos += 4
          let cp = parseInt(m[0], 16)
          // A surrogate pair written as two \u escapes is one code point in Unicode mode.
          const low = /^\\u(d[c-f][0-9a-f]{2})/i.exec(this.src.slice(this.pos))
          if (cp >= 0xd800 && cp <= 0xdbff && low !== null) {
            cp = ((cp - 0xd800) << 10) + (parseInt(low[1] as string, 16) - 0xdc00) + 0x10000
            this.pos += 6
          }
          return [cp, cp]
        }
        break
      }
      case 'p':
      case 'P':
        this.fail('Unicode property escapes (\\p{…}) are not supported in URL pattern regular expressions')
        break
      case 'k':
        this.fail('backreferences are not supported: URL pattern regular expressions must be matchable in linear time')
        break
      default:
        if (/[1-9]/.test(c)) {
          this.fail('backreferences are not supported: URL pattern regular expressions must be matchable in linear time')
        }
        if (SYNTAX.includes(c) || (inClass && c === '-')) {
          const cp = c.charCodeAt(0)
          return [cp, cp]
        }
    }
    // Unicode mode allows no other identity escapes.
    return this.fail(`invalid escape \\${c} in regular expression`)
  }

  private characterClass(): PatternNode {
    this.pos++ // [
    let negate = false
    if (this.peek() === '^') {
      negate = true
      this.pos++
    }
    const ranges: number[] = []
    while (this.peek() !== ']') {
      if (this.pos >= this.src.length) this.fail('unterminated character class')
      const from = this.classAtom()
      if (this.peek() === '-' && this.peek(1) !== ']' && this.pos + 1 < this.src.length) {
        this.pos++
        const to = this.classAtom()
        if (from.length !== 2 || to.length !== 2 || from[0] !== from[1] || to[0] !== to[1]) {
          this.fail('invalid character class range')
        }
        if ((to[0] as number) < (from[0] as number)) this.fail('range out of order in character class')
        ranges.push(from[0] as number, to[0] as number)
      } else {
        ranges.push(...from)
      }
    }
    this.pos++ // ]
    const normalized = normalizeRanges(ranges)
    return charSet(negate ? negateRanges(normalized) : normalized)
  }

  private classAtom(): number[] {
    if (this.peek() === '\\') {
      this.pos++
      return this.escape(true)
    }
    const cp = this.src.codePointAt(this.pos) ?? 0
    this.pos += cp > 0xffff ? 2 : 1
    return [cp, cp]
  }
}
