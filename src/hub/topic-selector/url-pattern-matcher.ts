import { URLPattern as PolyfillURLPattern } from 'urlpattern-polyfill/urlpattern'
import { compileAutomaton, type Automaton } from './automaton.js'
import { LruCache } from '../lru-cache.js'
import {
  DEFAULT_COMPONENT_OPTIONS,
  HOSTNAME_OPTIONS,
  PATHNAME_OPTIONS,
  PatternSyntaxProblem,
  componentToPattern,
  type ComponentOptions,
} from './url-pattern-parts.js'

/** The `URLPattern` class: the runtime's own when it has one (Node ≥ 23.8, browsers), else the polyfill. */
const URLPatternClass: typeof PolyfillURLPattern =
  (globalThis as { URLPattern?: typeof PolyfillURLPattern }).URLPattern ?? PolyfillURLPattern

const COMPONENTS = ['protocol', 'username', 'password', 'hostname', 'port', 'pathname', 'search', 'hash'] as const
type Component = (typeof COMPONENTS)[number]
/** [spec] "special schemes" of the URL Standard, which get hierarchical pathname options. */
const SPECIAL_SCHEMES = ['ftp', 'file', 'http', 'https', 'ws', 'wss']

/** A compiled URL pattern. @internal */
export interface UrlPatternMatcher {
  /** Whether `topic`, parsed as a URL (against the base URL when relative), matches the pattern. */
  test(topic: string): boolean
  /** The NFA size summed over components. */
  readonly size: number
}

/** Options of {@link compileUrlPattern}. @internal */
export interface CompileUrlPatternOptions {
  readonly baseURL: string | undefined
  readonly maxStates: number
  readonly maxCachedStates: number
}

/** Why a URL pattern was refused. @internal */
export class UrlPatternProblem extends Error {}

/**
 * Compiles a URL pattern (URL Pattern Standard) into a linear-time matcher.
 *
 * The runtime's `URLPattern` (or the polyfill) parses, validates and canonicalizes the pattern, resolving a relative
 * pattern against `baseURL`; each component pattern string is then compiled into an {@link Automaton} that matches
 * exactly what the standard's generated regular expression matches (case-sensitively: `ignoreCase` is never set, as
 * Mercure requires). Components whose pattern is `*` are not checked at all.
 *
 * Throws {@link UrlPatternProblem} for an invalid pattern, and `ERR_HUB_TOPIC_SELECTOR_LIMIT` when it is too complex.
 *
 * @internal
 */
export function compileUrlPattern(value: string, options: CompileUrlPatternOptions): UrlPatternMatcher {
  let pattern: PolyfillURLPattern
  try {
    pattern = options.baseURL === undefined ? new URLPatternClass(value) : new URLPatternClass(value, options.baseURL)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const relative = options.baseURL === undefined && /base URL/i.test(message)
    throw new UrlPatternProblem(
      relative ? 'a relative URL pattern needs the hub URL as base URL' : `not a valid URL pattern (${message})`,
    )
  }
  const checks: { index: number; automaton: Automaton }[] = []
  let size = 0
  let protocol: Automaton | undefined
  for (let index = 0; index < COMPONENTS.length; index++) {
    const component = COMPONENTS[index] as Component
    const source = pattern[component]
    if (source === '*') continue
    let componentOptions: ComponentOptions = DEFAULT_COMPONENT_OPTIONS
    if (component === 'hostname') componentOptions = HOSTNAME_OPTIONS
    // [spec] "If the result of running protocol component matches a special scheme … is true, then set
    // compileOptions to … pathname options"; a "*" protocol matches every special scheme.
    if (component === 'pathname' && (protocol === undefined || SPECIAL_SCHEMES.some((s) => protocol?.test(s)))) {
      componentOptions = PATHNAME_OPTIONS
    }
    let automaton: Automaton
    try {
      automaton = compileAutomaton(componentToPattern(source, componentOptions), {
        maxStates: Math.max(1, options.maxStates - size),
        maxCachedStates: options.maxCachedStates,
        description: `URL pattern ${JSON.stringify(value)}`,
      })
    } catch (error) {
      if (error instanceof PatternSyntaxProblem) {
        throw new UrlPatternProblem(`unsupported ${component} in URL pattern: ${error.message}`)
      }
      throw error
    }
    size += automaton.size
    if (component === 'protocol') protocol = automaton
    checks.push({ index, automaton })
  }
  const base = options.baseURL
  return {
    size,
    test(topic: string): boolean {
      const components = urlComponents(topic, base)
      if (components === null) return false
      for (const { index, automaton } of checks) {
        if (!automaton.test(components[index] as string)) return false
      }
      return true
    },
  }
}

/**
 * Topics split into URL components, shared by every URL-pattern selector: during fan-out one topic is tested
 * against many subscribers' patterns, and parsing a URL costs more than matching it.
 */
const parsedTopics = new LruCache<string, readonly string[] | null>(1024)

/** The last topic parsed: fan-out tests one topic against every URL-pattern subscriber in a row. */
let lastTopic: string | undefined
let lastBase: string | undefined
let lastComponents: readonly string[] | null = null

/** [spec] URLPattern "match" for a string input: parse it as a URL (with the base URL) and read its components. */
function urlComponents(topic: string, base: string | undefined): readonly string[] | null {
  if (topic === lastTopic && base === lastBase) return lastComponents
  // A base URL never contains NUL (the URL serializer percent-encodes it), so the first NUL ends the base.
  const key = base === undefined ? `\u0000${topic}` : `${base}\u0000${topic}`
  const cached = parsedTopics.get(key)
  if (cached !== undefined) return remember(topic, base, cached)
  let components: readonly string[] | null
  try {
    const url = base === undefined ? new URL(topic) : new URL(topic, base)
    components = [
      url.protocol.slice(0, -1),
      url.username,
      url.password,
      url.hostname,
      url.port,
      url.pathname,
      url.search.startsWith('?') ? url.search.slice(1) : url.search,
      url.hash.startsWith('#') ? url.hash.slice(1) : url.hash,
    ]
  } catch {
    components = null
  }
  parsedTopics.set(key, components)
  return remember(topic, base, components)
}

function remember(topic: string, base: string | undefined, components: readonly string[] | null): readonly string[] | null {
  lastTopic = topic
  lastBase = base
  lastComponents = components
  return components
}
