import { charSet, literal, negateRanges, optional, repeat, seq, star, type PatternNode } from './pattern-node.js'
import { parseRegExpSource } from './regexp-syntax.js'

/**
 * The part list of one URL pattern component, per the URL Pattern Standard's "parse a pattern string", and its
 * translation into a {@link PatternNode} per "generate a regular expression and name list".
 *
 * The input is the component's pattern string as a `URLPattern` object reports it (`pattern.pathname`, …): the
 * constructor has already split, validated and canonicalized it, so this parser only has to rebuild the parts.
 *
 * @see https://urlpattern.spec.whatwg.org/#parse-a-pattern-string
 * @internal
 */
export interface ComponentOptions {
  /** The delimiter code point: "/" for paths, "." for hostnames, "" otherwise. */
  readonly delimiter: string
  /** The prefix code point: "/" for paths, "" otherwise. */
  readonly prefix: string
}

/** Options for components other than hostname and (hierarchical) pathname. */
export const DEFAULT_COMPONENT_OPTIONS: ComponentOptions = { delimiter: '', prefix: '' }
/** Options for the hostname component. */
export const HOSTNAME_OPTIONS: ComponentOptions = { delimiter: '.', prefix: '' }
/** Options for the pathname component of URLs with a special scheme. */
export const PATHNAME_OPTIONS: ComponentOptions = { delimiter: '/', prefix: '/' }

type Modifier = '' | '?' | '*' | '+'

interface Part {
  readonly type: 'fixed-text' | 'regexp' | 'segment-wildcard' | 'full-wildcard'
  /** The fixed text, or the regular expression source for `regexp` parts. */
  readonly value: string
  readonly modifier: Modifier
  readonly prefix: string
  readonly suffix: string
}

type TokenType =
  | 'open'
  | 'close'
  | 'regexp'
  | 'name'
  | 'char'
  | 'escaped-char'
  | 'other-modifier'
  | 'asterisk'
  | 'end'

interface Token {
  readonly type: TokenType
  readonly value: string
}

/** Thrown for a pattern string this parser cannot rebuild; the caller reports it as an invalid selector. */
export class PatternSyntaxProblem extends Error {}

const ID_START = /[\p{ID_Start}$_]/u
const ID_PART = /[\p{ID_Continue}$\u200C\u200D]/u

function tokenize(input: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  const next = (): string => {
    const cp = input.codePointAt(i) ?? 0
    const char = String.fromCodePoint(cp)
    i += char.length
    return char
  }
  while (i < input.length) {
    const c = next()
    if (c === '*') tokens.push({ type: 'asterisk', value: c })
    else if (c === '+' || c === '?') tokens.push({ type: 'other-modifier', value: c })
    else if (c === '\\') {
      if (i >= input.length) throw new PatternSyntaxProblem('pattern ends with a lone backslash')
      tokens.push({ type: 'escaped-char', value: next() })
    } else if (c === '{') tokens.push({ type: 'open', value: c })
    else if (c === '}') tokens.push({ type: 'close', value: c })
    else if (c === ':') {
      let name = ''
      while (i < input.length) {
        const cp = input.codePointAt(i) ?? 0
        const char = String.fromCodePoint(cp)
        if (!(name === '' ? ID_START : ID_PART).test(char)) break
        name += char
        i += char.length
      }
      if (name === '') throw new PatternSyntaxProblem('":" not followed by a group name')
      tokens.push({ type: 'name', value: name })
    } else if (c === '(') {
      let depth = 1
      let source = ''
      while (i < input.length) {
        const char = next()
        if (char === '\\') {
          if (i >= input.length) throw new PatternSyntaxProblem('regular expression ends with a backslash')
          source += char + next()
          continue
        }
        if (char === ')') {
          depth--
          if (depth === 0) break
        } else if (char === '(') {
          depth++
          if (input.charAt(i) !== '?') throw new PatternSyntaxProblem('capturing groups are not allowed in a regexp group')
        }
        source += char
      }
      if (depth !== 0 || source === '') throw new PatternSyntaxProblem('unterminated or empty regexp group')
      tokens.push({ type: 'regexp', value: source })
    } else tokens.push({ type: 'char', value: c })
  }
  tokens.push({ type: 'end', value: '' })
  return tokens
}

/** Parses one component pattern string into its part list. */
function parsePatternString(input: string, options: ComponentOptions): Part[] {
  const tokens = tokenize(input)
  const parts: Part[] = []
  const segmentWildcard = segmentWildcardSource(options)
  let pending = ''
  let index = 0

  const tryConsume = (type: TokenType): Token | undefined => {
    const token = tokens[index]
    if (token?.type !== type) return undefined
    index++
    return token
  }
  const tryConsumeModifier = (): Token | undefined => tryConsume('other-modifier') ?? tryConsume('asterisk')
  const tryConsumeRegexpOrWildcard = (name: Token | undefined): Token | undefined => {
    const token = tryConsume('regexp')
    if (token === undefined && name === undefined) return tryConsume('asterisk')
    return token
  }
  const consumeText = (): string => {
    let text = ''
    for (;;) {
      const token = tryConsume('char') ?? tryConsume('escaped-char')
      if (token === undefined) return text
      text += token.value
    }
  }
  const flushPending = (): void => {
    if (pending === '') return
    parts.push({ type: 'fixed-text', value: pending, modifier: '', prefix: '', suffix: '' })
    pending = ''
  }
  const addPart = (
    prefix: string,
    name: Token | undefined,
    regexpOrWildcard: Token | undefined,
    suffix: string,
    modifierToken: Token | undefined,
  ): void => {
    const modifier = (modifierToken?.value ?? '') as Modifier
    if (name === undefined && regexpOrWildcard === undefined && modifier === '') {
      pending += prefix
      return
    }
    flushPending()
    if (name === undefined && regexpOrWildcard === undefined) {
      if (prefix !== '') parts.push({ type: 'fixed-text', value: prefix, modifier, prefix: '', suffix: '' })
      return
    }
    let source: string
    if (regexpOrWildcard === undefined) source = segmentWildcard
    else if (regexpOrWildcard.type === 'asterisk') source = '.*'
    else source = regexpOrWildcard.value
    const type: Part['type'] =
      source === segmentWildcard ? 'segment-wildcard' : source === '.*' ? 'full-wildcard' : 'regexp'
    parts.push({ type, value: type === 'regexp' ? source : '', modifier, prefix, suffix })
  }

  while (index < tokens.length) {
    const charToken = tryConsume('char')
    const nameToken = tryConsume('name')
    const regexpOrWildcard = tryConsumeRegexpOrWildcard(nameToken)
    if (nameToken !== undefined || regexpOrWildcard !== undefined) {
      let prefix = charToken?.value ?? ''
      if (prefix !== '' && prefix !== options.prefix) {
        pending += prefix
        prefix = ''
      }
      flushPending()
      addPart(prefix, nameToken, regexpOrWildcard, '', tryConsumeModifier())
      continue
    }
    const fixed = charToken ?? tryConsume('escaped-char')
    if (fixed !== undefined) {
      pending += fixed.value
      continue
    }
    if (tryConsume('open') !== undefined) {
      const prefix = consumeText()
      const name = tryConsume('name')
      const regexp = tryConsumeRegexpOrWildcard(name)
      const suffix = consumeText()
      if (tryConsume('close') === undefined) throw new PatternSyntaxProblem('"{" without a matching "}"')
      addPart(prefix, name, regexp, suffix, tryConsumeModifier())
      continue
    }
    flushPending()
    if (tryConsume('end') === undefined) {
      throw new PatternSyntaxProblem(`unexpected ${JSON.stringify(tokens[index]?.value ?? '')} in pattern`)
    }
  }
  return parts
}

function segmentWildcardSource(options: ComponentOptions): string {
  // "[^" + escape(delimiter) + "]+?"; with no delimiter this is "[^]+?", any character.
  return `[^${options.delimiter.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')}]+?`
}

/**
 * Translates one component pattern string into a {@link PatternNode} matching the same component values as the
 * regular expression the URL Pattern Standard generates for it.
 *
 * Throws {@link PatternSyntaxProblem} when the pattern uses a regular expression feature that cannot be matched in
 * linear time.
 *
 * @internal
 */
export function componentToPattern(patternString: string, options: ComponentOptions): PatternNode {
  const segment: PatternNode = charSet(
    options.delimiter === '' ? [0, 0x10ffff] : negateRanges([options.delimiter.charCodeAt(0), options.delimiter.charCodeAt(0)]),
  )
  // "." in a Unicode-mode RegExp without the s flag: anything but line terminators.
  const anyChar = charSet(negateRanges([0x0a, 0x0a, 0x0d, 0x0d, 0x2028, 0x2029]))
  const items: PatternNode[] = []
  for (const part of parsePatternString(patternString, options)) {
    if (part.type === 'fixed-text') {
      items.push(applyModifier(literal(part.value), part.modifier))
      continue
    }
    let value: PatternNode
    if (part.type === 'segment-wildcard') value = repeat(segment, 1, Infinity)
    else if (part.type === 'full-wildcard') value = star(anyChar)
    else {
      const parsed = parseRegExpSource(part.value)
      if (typeof parsed === 'string') throw new PatternSyntaxProblem(parsed)
      value = parsed
    }
    const prefix = literal(part.prefix)
    const suffix = literal(part.suffix)
    if (part.prefix === '' && part.suffix === '') {
      items.push(applyModifier(value, part.modifier))
    } else if (part.modifier === '' || part.modifier === '?') {
      items.push(applyModifier(seq(prefix, value, suffix), part.modifier))
    } else {
      // "(?:" prefix "((?:" value ")(?:" suffix prefix "(?:" value "))*)" suffix ")" ["?"]
      const repeated = seq(prefix, value, star(seq(suffix, prefix, value)), suffix)
      items.push(part.modifier === '*' ? optional(repeated) : repeated)
    }
  }
  return seq(...items)
}

function applyModifier(node: PatternNode, modifier: Modifier): PatternNode {
  switch (modifier) {
    case '':
      return node
    case '?':
      return optional(node)
    case '*':
      return star(node)
    case '+':
      return repeat(node, 1, Infinity)
  }
}
