import { EMPTY, alt, charsOf, literal, optional, repeat, seq, star, type PatternNode } from './pattern-node.js'

/** One variable of an expression: `{name}`, `{name*}` or `{name:3}`. */
export interface UriTemplateVariable {
  readonly name: string
  readonly explode: boolean
  /** The prefix modifier's max-length (1–9999), when present. */
  readonly prefix: number | undefined
}

/** A parsed URI template: literal runs and expressions, in order. */
export type UriTemplatePart =
  | { readonly type: 'literal'; readonly value: string }
  | { readonly type: 'expression'; readonly operator: Operator; readonly variables: readonly UriTemplateVariable[] }

/** RFC 6570 §2.2 operators (levels 2 and 3); `''` is simple string expansion. */
export type Operator = '' | '+' | '#' | '.' | '/' | ';' | '?' | '&'

/** The result of {@link parseUriTemplate}: the parts, or why the string is not a URI template. */
export type ParsedUriTemplate =
  | { readonly ok: true; readonly parts: readonly UriTemplatePart[] }
  | { readonly ok: false; readonly reason: string }

const OPERATORS = new Set<string>(['+', '#', '.', '/', ';', '?', '&'])
// RFC 6570 §2.2: "op-reserve" characters are reserved for future extensions; templates using them are invalid.
const RESERVED_OPERATORS = new Set<string>(['=', ',', '!', '@', '|'])

/**
 * Parses an RFC 6570 URI template (levels 1–4).
 *
 * The grammar is RFC 6570 §2: literals are any Unicode character except CTL, SP, DQUOTE, "'", "%" (aside from
 * pct-encoded), "<", ">", "\", "^", "`", "{", "|", "}"; expressions are `{` [operator] varspec *( "," varspec ) `}`
 * with varspec = varname [ ":" max-length / "*" ].
 *
 * @internal
 */
export function parseUriTemplate(template: string): ParsedUriTemplate {
  const parts: UriTemplatePart[] = []
  let text = ''
  let i = 0
  while (i < template.length) {
    const c = template.charCodeAt(i)
    if (c === 0x7b /* { */) {
      const end = template.indexOf('}', i + 1)
      if (end < 0) return { ok: false, reason: `unclosed expression at offset ${i}` }
      const parsed = parseExpression(template.slice(i + 1, end))
      if (typeof parsed === 'string') return { ok: false, reason: `${parsed} in expression at offset ${i}` }
      if (text !== '') parts.push({ type: 'literal', value: text })
      text = ''
      parts.push(parsed)
      i = end + 1
      continue
    }
    if (c === 0x25 /* % */) {
      if (!isHex(template.charCodeAt(i + 1)) || !isHex(template.charCodeAt(i + 2))) {
        return { ok: false, reason: `"%" not followed by two hex digits at offset ${i}` }
      }
      text += template.slice(i, i + 3)
      i += 3
      continue
    }
    const cp = template.codePointAt(i) ?? 0
    if (!isLiteralChar(cp)) {
      return { ok: false, reason: `character ${JSON.stringify(String.fromCodePoint(cp))} at offset ${i} is not allowed` }
    }
    text += String.fromCodePoint(cp)
    i += cp > 0xffff ? 2 : 1
  }
  if (text !== '') parts.push({ type: 'literal', value: text })
  return { ok: true, parts }
}

function parseExpression(body: string): UriTemplatePart | string {
  let operator: Operator = ''
  let rest = body
  const first = body.charAt(0)
  if (OPERATORS.has(first)) {
    operator = first as Operator
    rest = body.slice(1)
  } else if (RESERVED_OPERATORS.has(first)) {
    return `reserved operator "${first}"`
  }
  if (rest === '') return 'empty variable list'
  const variables: UriTemplateVariable[] = []
  for (const spec of rest.split(',')) {
    const match = /^((?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2})(?:\.?(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2}))*)(?:(\*)|:([1-9][0-9]{0,3}))?$/.exec(
      spec,
    )
    if (match === null) return `invalid varspec ${JSON.stringify(spec)}`
    variables.push({
      name: match[1] as string,
      explode: match[2] !== undefined,
      prefix: match[3] === undefined ? undefined : Number(match[3]),
    })
  }
  return { type: 'expression', operator, variables }
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}

/** RFC 6570 §2.1 `literals` (minus pct-encoded, handled by the caller). */
function isLiteralChar(cp: number): boolean {
  if (cp < 0x80) {
    return (
      cp === 0x21 ||
      cp === 0x23 ||
      cp === 0x24 ||
      cp === 0x26 ||
      (cp >= 0x28 && cp <= 0x3b) ||
      cp === 0x3d ||
      (cp >= 0x3f && cp <= 0x5b) ||
      cp === 0x5d ||
      cp === 0x5f ||
      (cp >= 0x61 && cp <= 0x7a) ||
      cp === 0x7e
    )
  }
  return isUcsChar(cp) || isIPrivate(cp)
}

/** RFC 3987 `ucschar`. */
function isUcsChar(cp: number): boolean {
  if ((cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xf900 && cp <= 0xfdcf) || (cp >= 0xfdf0 && cp <= 0xffef)) return true
  if (cp >= 0x10000 && cp <= 0xefffd) return (cp & 0xffff) <= 0xfffd
  return false
}

/** RFC 3987 `iprivate`. */
function isIPrivate(cp: number): boolean {
  return (cp >= 0xe000 && cp <= 0xf8ff) || (cp >= 0xf0000 && cp <= 0xffffd) || (cp >= 0x100000 && cp <= 0x10fffd)
}

/** RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~'
/** RFC 3986 reserved: gen-delims / sub-delims. */
const RESERVED = ":/?#[]@!$&'()*+,;="
const HEX = '0123456789ABCDEFabcdef'

const hexDigit = charsOf(HEX)
const percent = literal('%')
/** Any percent-encoded octet; hex digits in either case (RFC 3986 §2.1: they are equivalent). */
const anyTriplet = seq(percent, hexDigit, hexDigit)
/**
 * The percent-encoded UTF-8 form of one non-ASCII code point: a lead octet (C0–FF) and one to three continuation
 * octets (80–BF). Kept deliberately small (it is copied once per prefix position), so it does not reject overlong
 * or out-of-range sequences.
 */
const encodedNonAscii = seq(percent, charsOf('CDEFcdef'), hexDigit, repeat(seq(percent, charsOf('89ABab'), hexDigit), 1, 3))

/** The percent-encoded form of one ASCII character that is not in `allowed`, grouped by high nibble. */
function encodedAscii(allowed: string): PatternNode {
  const byLowNibbles = new Map<string, string>()
  for (let hi = 0; hi < 8; hi++) {
    let lows = ''
    for (let lo = 0; lo < 16; lo++) {
      if (!allowed.includes(String.fromCharCode(hi * 16 + lo))) lows += lo.toString(16)
    }
    if (lows !== '') byLowNibbles.set(lows, (byLowNibbles.get(lows) ?? '') + hi.toString(16))
  }
  const options: PatternNode[] = []
  for (const [lows, his] of byLowNibbles) {
    options.push(seq(percent, charsOf(his), charsOf(lows + lows.toUpperCase())))
  }
  return alt(...options)
}

/** What one expression type may put in its output for a value (RFC 6570 §3.2.1). */
interface ValueAlphabet {
  /** One character of a value's expansion (weight 1 in prefix counting). */
  readonly units: readonly { readonly node: PatternNode; readonly weight: number }[]
  /** Any sequence of expanded value characters. */
  readonly text: PatternNode
}

function valueAlphabet(allowReserved: boolean): ValueAlphabet {
  const allowed = allowReserved ? UNRESERVED + RESERVED : UNRESERVED
  const chars = charsOf(allowed)
  if (!allowReserved) {
    // Simple expansion: unreserved characters pass; every other character is percent-encoded as UTF-8.
    const units = [
      { node: chars, weight: 1 },
      { node: encodedAscii(allowed), weight: 1 },
      { node: encodedNonAscii, weight: 1 },
    ]
    return { units, text: star(alt(...units.map((u) => u.node))) }
  }
  // Reserved expansion (+, #): unreserved and reserved characters pass, and so do pct-encoded triplets already in
  // the value ("…allow … pct-encoded to be passed through"); each passed-through triplet is three value characters.
  const units = [
    { node: chars, weight: 1 },
    { node: encodedAscii(allowed), weight: 1 },
    { node: encodedNonAscii, weight: 1 },
    { node: anyTriplet, weight: 3 },
  ]
  return { units, text: star(alt(chars, anyTriplet)) }
}

const SIMPLE = valueAlphabet(false)
const RESERVED_ALPHABET = valueAlphabet(true)

/** RFC 6570 Appendix A: first, sep, named, ifemp and allow per operator. */
const OPERATOR_TABLE: Record<Operator, { first: string; sep: string; named: boolean; ifemp: string; reserved: boolean }> =
  {
    '': { first: '', sep: ',', named: false, ifemp: '', reserved: false },
    '+': { first: '', sep: ',', named: false, ifemp: '', reserved: true },
    '#': { first: '#', sep: ',', named: false, ifemp: '', reserved: true },
    '.': { first: '.', sep: '.', named: false, ifemp: '', reserved: false },
    '/': { first: '/', sep: '/', named: false, ifemp: '', reserved: false },
    ';': { first: ';', sep: ';', named: true, ifemp: '', reserved: false },
    '?': { first: '?', sep: '&', named: true, ifemp: '=', reserved: false },
    '&': { first: '&', sep: '&', named: true, ifemp: '=', reserved: false },
  }

/**
 * Builds the language of every string the template can expand to: for each variable, any value of any type (string,
 * list, associative array) or undefined.
 *
 * A literal character that a URI cannot carry (non-ASCII) matches both its percent-encoded UTF-8 form, which is what
 * RFC 6570 §3.1 expansion produces, and itself, so IRI topics match IRI templates.
 *
 * @internal
 */
export function uriTemplateToPattern(parts: readonly UriTemplatePart[]): PatternNode {
  return seq(...parts.map((part) => (part.type === 'literal' ? literalPattern(part.value) : expressionPattern(part))))
}

function literalPattern(text: string): PatternNode {
  const items: PatternNode[] = []
  for (const char of text) {
    const cp = char.codePointAt(0) ?? 0
    items.push(cp < 0x80 ? literal(char) : alt(literal(char), literal(percentEncode(char))))
  }
  return seq(...items)
}

/** The RFC 3986 percent-encoded UTF-8 form of `text`, with uppercase hex digits. */
export function percentEncode(text: string): string {
  let out = ''
  for (const byte of new TextEncoder().encode(text)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  return out
}

function expressionPattern(part: Extract<UriTemplatePart, { type: 'expression' }>): PatternNode {
  const op = OPERATOR_TABLE[part.operator]
  const languages = part.variables.map((variable) => variablePattern(part.operator, variable))
  const sep = literal(op.sep)
  // Undefined variables are skipped, so any non-empty subsequence of the variables (in order) can appear, joined
  // by sep; when every variable is undefined the expression expands to nothing (RFC 6570 §3.2.1).
  const choices: PatternNode[] = []
  for (let i = 0; i < languages.length; i++) {
    const tail = languages.slice(i + 1).map((language) => optional(seq(sep, language)))
    choices.push(seq(languages[i] as PatternNode, ...tail))
  }
  return alt(EMPTY, seq(literal(op.first), alt(...choices)))
}

function variablePattern(operator: Operator, variable: UriTemplateVariable): PatternNode {
  const op = OPERATOR_TABLE[operator]
  const alphabet = op.reserved ? RESERVED_ALPHABET : SIMPLE
  const text = alphabet.text
  const nonEmptyText = seq(alt(...alphabet.units.map((u) => u.node)), text)
  const name = literal(variable.name)
  const equals = literal('=')

  if (variable.prefix !== undefined) {
    // Prefix modifiers apply to string values only (RFC 6570 §2.4.1): at most max-length value characters.
    const upTo = (nonEmpty: boolean): PatternNode => ({
      type: 'counted',
      max: variable.prefix ?? 0,
      nonEmpty,
      units: alphabet.units,
    })
    if (!op.named) return upTo(false)
    if (op.ifemp === '') return seq(name, optional(seq(equals, upTo(true))))
    return seq(name, equals, upTo(false))
  }

  if (!variable.explode) {
    // A string, or a list / associative array joined with "," (pairs flattened): "a", "a,b", "k1,v1,k2,v2".
    const joined = seq(text, star(seq(literal(','), text)))
    if (!op.named) return joined
    if (op.ifemp === '') return seq(name, optional(seq(equals, joined)))
    return seq(name, equals, joined)
  }

  // Explode: list members or "key=value" pairs joined by the operator's separator.
  const sep = literal(op.sep)
  if (!op.named) {
    const pair = seq(text, equals, text)
    return alt(seq(text, star(seq(sep, text))), seq(pair, star(seq(sep, pair))))
  }
  // Named explode: each member is "name=value" (lists) or "key=value" (associative arrays); with ifemp "" an empty
  // value drops "=value". Any key is a text, so the list and string forms are included.
  const pair = op.ifemp === '' ? seq(text, optional(seq(equals, nonEmptyText))) : seq(text, equals, text)
  return seq(pair, star(seq(sep, pair)))
}
