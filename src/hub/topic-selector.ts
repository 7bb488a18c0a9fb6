import { HubError } from './errors.js'
import { compileAutomaton } from './topic-selector/automaton.js'
import { LruCache } from './lru-cache.js'
import { UrlPatternProblem, compileUrlPattern } from './topic-selector/url-pattern-matcher.js'
import { parseUriTemplate, percentEncode, uriTemplateToPattern } from './topic-selector/uri-template.js'

/**
 * How a selector string is interpreted.
 *
 * - `'topic'`: a Mercure topic selector as in the protocol revision that subscribes with `topic=` and authorizes
 *   with the `mercure` JWT claim: `*`, a string compared exactly, or an RFC 6570 URI template (levels 1–4) that
 *   matches every topic its expansion can produce. Any string is a valid `'topic'` selector; one that is not a valid
 *   URI template only matches itself.
 * - `'exact'`: the `Exact` matcher type of the current Mercure draft (`match=`, `matchType: "Exact"`): `*`, or a
 *   case-sensitive, byte-for-byte comparison (no template syntax, no normalization).
 * - `'urlpattern'`: the `URLPattern` matcher type (`matchURLPattern=`, `matchType: "URLPattern"`): `*`, or a WHATWG
 *   URL pattern; relative patterns and relative topics are resolved against `baseURL` (the hub's URL).
 *
 * @see https://mercure.rocks/spec#matcher-types
 */
export type TopicSelectorKind = 'topic' | 'exact' | 'urlpattern'

/**
 * One selector and its kind, as given by a subscriber (query parameter) or a token (claim).
 *
 * @example
 * ```ts
 * const specs: TopicSelectorSpec[] = [
 *   { kind: 'topic', value: 'https://example.com/books/{id}' },
 *   { kind: 'urlpattern', value: 'https://example.com/authors/:id' },
 * ]
 * ```
 */
export interface TopicSelectorSpec {
  /** How `value` is interpreted. */
  readonly kind: TopicSelectorKind
  /** The selector string. `*` matches every topic, whatever the kind. */
  readonly value: string
}

/**
 * A compiled list of selectors: the matcher the hub runs for every update and every subscriber.
 *
 * Exact selectors sit in a `Set`; URI templates and URL patterns run as linear-time automata, so no selector can
 * make matching slow (no backtracking).
 *
 * @example
 * ```ts
 * const selector = createTopicSelector([{ kind: 'topic', value: 'https://example.com/books/{id}' }])
 * selector.matchesTopic('https://example.com/books/1') // true
 * selector.matches(['https://example.com/authors/1', 'https://example.com/books/1']) // true: one topic matches
 * ```
 */
export interface TopicSelector {
  /** The selectors this matcher was built from, in order. */
  readonly specs: readonly TopicSelectorSpec[]
  /** True when a selector is `*`: every topic matches. */
  readonly matchesAll: boolean
  /** Whether `topic` matches at least one selector. */
  matchesTopic(topic: string): boolean
  /** Whether at least one of `topics` matches at least one selector (an update matches through any of its topics). */
  matches(topics: readonly string[]): boolean
}

/**
 * A bounded cache of compiled selectors, shared across subscribers: many subscribers use the same few selectors,
 * and compiling a template or pattern costs far more than looking it up. It also keeps up to `maxEntries` whole
 * selector lists, so that {@link createTopicSelector} returns the same frozen {@link TopicSelector} for the same list.
 */
export interface TopicSelectorCache {
  /** The most compiled selectors kept (least recently used ones are dropped). */
  readonly maxEntries: number
  /** The number of compiled selectors held. */
  readonly size: number
  /** Drops every compiled selector and selector list. */
  clear(): void
}

/** Options of {@link createTopicSelector}. Every field is optional. */
export interface TopicSelectorOptions {
  /**
   * The hub's URL, against which relative URL patterns and relative topics are resolved for `'urlpattern'`
   * selectors (the Mercure draft: "the hub MUST use the hub's URL as the base URL"). Without it, a relative URL
   * pattern is an invalid selector and a relative topic matches no URL pattern.
   * @defaultValue undefined
   */
  readonly baseURL?: string | URL | undefined
  /**
   * The cache compiled selectors are kept in; `null` compiles every selector anew.
   * @defaultValue a process-wide cache of {@link DEFAULT_TOPIC_SELECTOR_CACHE_SIZE} entries
   */
  readonly cache?: TopicSelectorCache | null | undefined
  /**
   * The longest selector accepted, in UTF-16 code units; longer ones throw `ERR_HUB_TOPIC_SELECTOR_LIMIT`.
   * @defaultValue {@link DEFAULT_MAX_SELECTOR_LENGTH}
   */
  readonly maxSelectorLength?: number | undefined
  /**
   * The most automaton states one template or pattern may compile to; more throws `ERR_HUB_TOPIC_SELECTOR_LIMIT`.
   * Bounds compile time, memory, and the per-character cost of matching.
   * @defaultValue {@link DEFAULT_MAX_SELECTOR_STATES}
   */
  readonly maxStates?: number | undefined
  /**
   * When true, a `'topic'` selector containing `{` or `}` that is not a valid RFC 6570 template throws
   * `ERR_HUB_TOPIC_INVALID_SELECTOR` instead of being compared exactly (the Mercure spec's behaviour, the default).
   * @defaultValue false
   */
  readonly strictTemplates?: boolean | undefined
}

/** The default size of the shared compiled-selector cache. */
export const DEFAULT_TOPIC_SELECTOR_CACHE_SIZE = 1024
/** The default longest selector, in UTF-16 code units. */
export const DEFAULT_MAX_SELECTOR_LENGTH = 2048
/** The default most automaton states per template or pattern. */
export const DEFAULT_MAX_SELECTOR_STATES = 4096
/**
 * The most lazily built DFA states each compiled template or pattern keeps; when full, they are dropped and built
 * again on demand. Each state costs 4 bytes per character class of the pattern (typically 10–40 classes).
 */
const MAX_CACHED_DFA_STATES = 256

/** A compiled selector: matches everything, a set of exact strings, and/or a predicate. */
interface Compiled {
  readonly all: boolean
  readonly exact: readonly string[]
  readonly test: ((topic: string) => boolean) | undefined
}

/** A cache's two LRUs: compiled selectors, and whole selector lists (so that subscribers with the same topics share one). */
interface CacheParts {
  readonly compiled: LruCache<string, Compiled>
  readonly lists: LruCache<string, TopicSelector>
}

const compiledCaches = new WeakMap<TopicSelectorCache, CacheParts>()

/**
 * Creates a cache for compiled selectors, to pass as the `cache` option (for example one per hub instead of the
 * process-wide default).
 *
 * @param options.maxEntries - The most compiled selectors kept. @defaultValue {@link DEFAULT_TOPIC_SELECTOR_CACHE_SIZE}
 * @example
 * ```ts
 * const cache = createTopicSelectorCache({ maxEntries: 10_000 })
 * const selector = createTopicSelector(specs, { cache })
 * ```
 */
export function createTopicSelectorCache(options: { readonly maxEntries?: number } = {}): TopicSelectorCache {
  const maxEntries = options.maxEntries ?? DEFAULT_TOPIC_SELECTOR_CACHE_SIZE
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) {
    throw new HubError('ERR_HUB_INVALID_OPTION', `maxEntries must be a non-negative integer, got ${String(maxEntries)}`)
  }
  const parts: CacheParts = { compiled: new LruCache<string, Compiled>(maxEntries), lists: new LruCache<string, TopicSelector>(maxEntries) }
  const cache: TopicSelectorCache = {
    maxEntries,
    get size() {
      return parts.compiled.size
    },
    clear() {
      parts.compiled.clear()
      parts.lists.clear()
    },
  }
  compiledCaches.set(cache, parts)
  return cache
}

const defaultCache = createTopicSelectorCache()

const ALL: Compiled = { all: true, exact: [], test: undefined }

/**
 * Compiles a list of topic selectors once into a {@link TopicSelector}.
 *
 * Matching follows the Mercure spec: a topic matches the list when it matches at least one selector; `*` matches
 * every topic; a `'topic'` selector also matches a string identical to it (so a template in a token's claims
 * authorizes a subscription to that same template); a URI template matches every string some expansion of it can
 * produce (variables undefined, strings, lists or associative arrays; percent-encoded octets in either hex case).
 *
 * Compiled selectors, and whole lists, are shared through a bounded LRU cache (`cache` option): the same list of the same
 * options gives the same frozen selector. Throws `ERR_HUB_TOPIC_INVALID_SELECTOR`
 * for a selector that cannot be compiled and `ERR_HUB_TOPIC_SELECTOR_LIMIT` for one too long or too complex; the
 * HTTP layer answers 400.
 *
 * @example
 * ```ts
 * const selector = createTopicSelector([
 *   { kind: 'topic', value: 'https://example.com/books/{id}' },
 *   { kind: 'urlpattern', value: '/.well-known/mercure/subscriptions/:type/:match/:subscriber' },
 * ], { baseURL: 'https://hub.example.com/.well-known/mercure' })
 * selector.matchesTopic('https://example.com/books/1') // true
 * ```
 * @see https://mercure.rocks/spec#topic-selectors
 */
export function createTopicSelector(
  selectors: readonly TopicSelectorSpec[],
  options: TopicSelectorOptions = {},
): TopicSelector {
  const list: unknown = selectors
  if (!Array.isArray(list)) throw new HubError('ERR_HUB_TOPIC_INVALID_SELECTOR', 'selectors must be an array')
  const baseURL = options.baseURL === undefined ? undefined : absoluteURL(options.baseURL)
  const maxSelectorLength = positiveInteger(options.maxSelectorLength, DEFAULT_MAX_SELECTOR_LENGTH, 'maxSelectorLength')
  const maxStates = positiveInteger(options.maxStates, DEFAULT_MAX_SELECTOR_STATES, 'maxStates')
  const strict = options.strictTemplates === true
  const parts = options.cache === null ? undefined : compiledCaches.get(options.cache ?? defaultCache)
  if (options.cache !== undefined && options.cache !== null && parts === undefined) {
    throw new HubError('ERR_HUB_INVALID_OPTION', 'cache must come from createTopicSelectorCache()')
  }

  const specs: TopicSelectorSpec[] = []
  const keys: string[] = []
  for (const spec of selectors) {
    const { kind, value } = checkSpec(spec, maxSelectorLength)
    specs.push(Object.freeze({ kind, value }))
    keys.push(`${kind}\u0000${value}\u0000${kind === 'urlpattern' ? (baseURL ?? '') : ''}\u0000${maxStates}\u0000${strict ? 1 : 0}`)
  }
  // The same list gets the same frozen selector. Why: every subscriber holds one, and a selector of its own cost
  // about 0.7 KB per idle connection (heap snapshots of 2,000 idle subscribers of one topic; the hub benchmark's
  // scenario C, `npm run bench:hub -- --systems herald-hub --scenarios C`, measures memory per connection).
  const listKey = keys.join('\u0001')
  const shared = parts?.lists.get(listKey)
  if (shared !== undefined) return shared

  const exact = new Set<string>()
  const tests: ((topic: string) => boolean)[] = []
  let all = false
  for (const [index, spec] of specs.entries()) {
    const key = keys[index] as string
    let compiled = parts?.compiled.get(key)
    if (compiled === undefined) {
      compiled = compile(spec.kind, spec.value, baseURL, maxStates, strict)
      parts?.compiled.set(key, compiled)
    }
    if (compiled.all) all = true
    for (const s of compiled.exact) exact.add(s)
    if (compiled.test !== undefined) tests.push(compiled.test)
  }

  const matchesTopic = (topic: string): boolean => {
    if (all || exact.has(topic)) return true
    for (const test of tests) if (test(topic)) return true
    return false
  }
  const selector: TopicSelector = Object.freeze({
    specs: Object.freeze(specs),
    matchesAll: all,
    matchesTopic,
    matches(topics: readonly string[]): boolean {
      for (const topic of topics) if (matchesTopic(topic)) return true
      return false
    },
  })
  parts?.lists.set(listKey, selector)
  return selector
}

function absoluteURL(value: string | URL): string {
  try {
    return new URL(value).href
  } catch {
    throw new HubError('ERR_HUB_INVALID_OPTION', `baseURL must be an absolute URL, got ${JSON.stringify(String(value))}`)
  }
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new HubError('ERR_HUB_INVALID_OPTION', `${name} must be a positive integer, got ${String(value)}`)
  }
  return value
}

// [spec] "MUST NOT contain C0 (U+0000–U+001F) or C1 (U+0080–U+009F) control characters or U+007F (DEL)".
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/
/** A lone surrogate: a string that has no UTF-8 encoding. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function checkSpec(spec: TopicSelectorSpec, maxLength: number): TopicSelectorSpec {
  if (typeof spec !== 'object' || (spec as unknown) === null) {
    throw new HubError('ERR_HUB_TOPIC_INVALID_SELECTOR', 'a selector must be an object { kind, value }')
  }
  const { kind, value } = spec as { kind: unknown; value: unknown }
  if (kind !== 'topic' && kind !== 'exact' && kind !== 'urlpattern') {
    throw new HubError('ERR_HUB_TOPIC_INVALID_SELECTOR', `unknown selector kind ${JSON.stringify(kind)}`)
  }
  if (typeof value !== 'string') throw new HubError('ERR_HUB_TOPIC_INVALID_SELECTOR', 'a selector value must be a string')
  if (value.length > maxLength) {
    throw new HubError(
      'ERR_HUB_TOPIC_SELECTOR_LIMIT',
      `a selector is ${value.length} characters long, more than the ${maxLength} allowed`,
    )
  }
  if (kind !== 'topic') {
    // [spec] matcher values "MUST be valid UTF-8 … and MUST NOT contain C0 … or C1 … control characters".
    if (LONE_SURROGATE.test(value) || CONTROL_CHARACTERS.test(value)) {
      throw new HubError(
        'ERR_HUB_TOPIC_INVALID_SELECTOR',
        `selector ${JSON.stringify(value)} contains a control character or is not valid UTF-8`,
      )
    }
  }
  return { kind, value }
}

function compile(
  kind: TopicSelectorKind,
  value: string,
  baseURL: string | undefined,
  maxStates: number,
  strict: boolean,
): Compiled {
  // [spec] "The matcher value * is reserved as a wildcard that matches every topic … regardless of matcher type".
  if (value === '*') return ALL
  if (kind === 'exact') return { all: false, exact: [value], test: undefined }
  if (kind === 'urlpattern') {
    try {
      const matcher = compileUrlPattern(value, { baseURL, maxStates, maxCachedStates: MAX_CACHED_DFA_STATES })
      return { all: false, exact: [], test: (topic) => matcher.test(topic) }
    } catch (error) {
      if (error instanceof UrlPatternProblem) {
        throw new HubError('ERR_HUB_TOPIC_INVALID_SELECTOR', `invalid URL pattern ${JSON.stringify(value)}: ${error.message}`)
      }
      throw error
    }
  }
  // [spec] topic selectors: "2. If the topic selector and the string are exactly the same, the string matches".
  const parsed = parseUriTemplate(value)
  if (!parsed.ok) {
    if (strict && /[{}]/.test(value)) {
      throw new HubError('ERR_HUB_TOPIC_INVALID_SELECTOR', `invalid URI template ${JSON.stringify(value)}: ${parsed.reason}`)
    }
    // [spec] "3. If the topic selector is a valid URI Template …": it is not, so only step 2 applies.
    return { all: false, exact: [value], test: undefined }
  }
  if (parsed.parts.every((part) => part.type === 'literal')) {
    // A template without expressions expands to itself, its non-ASCII characters percent-encoded (RFC 6570 §3.1).
    const encoded = encodeNonAscii(value)
    return { all: false, exact: encoded === value ? [value] : [value, encoded], test: undefined }
  }
  const automaton = compileAutomaton(uriTemplateToPattern(parsed.parts), {
    maxStates,
    maxCachedStates: MAX_CACHED_DFA_STATES,
    description: `URI template ${JSON.stringify(value)}`,
  })
  // Most topics a subscriber sees do not match its selectors: a native prefix comparison turns most of them away
  // before the automaton runs. Only the ASCII run counts (a non-ASCII literal also matches its percent-encoding).
  const first = parsed.parts[0]
  const prefix = first?.type === 'literal' ? (/^[^\u0080-\uffff]*/.exec(first.value)?.[0] ?? '') : ''
  const test =
    prefix === ''
      ? (topic: string) => automaton.test(topic)
      : (topic: string) => topic.startsWith(prefix) && automaton.test(topic)
  return { all: false, exact: [value], test }
}

function encodeNonAscii(text: string): string {
  let out = ''
  for (const char of text) out += (char.codePointAt(0) ?? 0) < 0x80 ? char : percentEncode(char)
  return out
}
