import { HubError } from '../errors.js'
import {
  createTopicSelector,
  type TopicSelector,
  type TopicSelectorCache,
  type TopicSelectorSpec,
} from '../topic-selector.js'

/**
 * The token formats the hub understands.
 *
 * - `'mercure'`: a JWS with a `mercure` claim `{ publish?: string[], subscribe?: string[], payload?: any }` whose
 *   entries are topic selectors (`*`, exact, URI templates): the protocol revision that subscribes with `topic=`.
 * - `'at+jwt'`: an OAuth 2.0 JWT access token (RFC 9068, header `typ: at+jwt`) with an `aud` naming the hub and an
 *   `authorization_details` claim (RFC 9396) of `mercure` entries `{ type, actions, topics: [{ match, matchType? }],
 *   payload? }`: the current Mercure draft.
 */
export type TokenProfile = 'mercure' | 'at+jwt'

/**
 * What a verified token allows, whatever its format: the hub's single internal view of authorization.
 *
 * @example
 * ```ts
 * const grant = await authorizer.authorizeSubscribe(request)
 * if (grant?.expiresAt !== undefined) closeStreamAt(grant.expiresAt)
 * ```
 */
export interface Grant {
  /** The token format it came from. */
  readonly profile: TokenProfile
  /** Topics the holder may publish to; `null` when it may publish nothing. */
  readonly publish: TopicSelector | null
  /** Topics whose private updates the holder may receive; `null` when it may receive public updates only. */
  readonly subscribe: TopicSelector | null
  /** `mercure.payload` of a `'mercure'` token; `undefined` for `'at+jwt'` tokens (see {@link Grant.payloadFor}). */
  readonly payload: unknown
  /** When the token expires (`exp`), in milliseconds since the epoch: the hub closes the stream then. */
  readonly expiresAt: number | undefined
  /** The `sub` claim, when the token has one (the subscriber's identity in subscription events). */
  readonly subject?: string
  /** Every claim of the token, read-only. */
  readonly claims: Readonly<Record<string, unknown>>
  /**
   * The payload to publish with the subscription whose own selector is `selector`: `mercure.payload` for a
   * `'mercure'` token; for an `'at+jwt'` token, the `payload` of the first `subscribe` entry whose topics match
   * `selector` taken as a topic (the draft: "the first matching authorization detail wins").
   */
  payloadFor(selector: string): unknown
}

/** Options of {@link grantFromClaims}. Every field is optional. */
export interface GrantOptions {
  /**
   * The hub's URL, the base of relative URL patterns in `authorization_details`.
   * @defaultValue undefined (relative URL patterns make the token invalid)
   */
  readonly baseURL?: string | URL | undefined
  /**
   * The compiled-selector cache (see `createTopicSelector`).
   * @defaultValue the process-wide cache
   */
  readonly selectorCache?: TopicSelectorCache | null | undefined
  /**
   * The most `mercure` entries in `authorization_details`; more makes the token invalid.
   * @defaultValue {@link DEFAULT_MAX_AUTHORIZATION_DETAILS}
   */
  readonly maxAuthorizationDetails?: number | undefined
  /**
   * The most selectors in `mercure.publish`, in `mercure.subscribe`, or in one entry's `topics`.
   * @defaultValue {@link DEFAULT_MAX_CLAIM_SELECTORS}
   */
  readonly maxClaimSelectors?: number | undefined
  /**
   * The longest selector in a claim.
   * @defaultValue `DEFAULT_MAX_SELECTOR_LENGTH` (2048)
   */
  readonly maxSelectorLength?: number | undefined
}

/** The default most `mercure` authorization details per token. */
export const DEFAULT_MAX_AUTHORIZATION_DETAILS = 32
/** The default most selectors per claim array. */
export const DEFAULT_MAX_CLAIM_SELECTORS = 256

const MATCH_TYPES: Readonly<Record<string, TopicSelectorSpec['kind']>> = { Exact: 'exact', URLPattern: 'urlpattern' }
const ACTIONS = new Set(['publish', 'subscribe'])

/**
 * Builds the {@link Grant} of a token whose signature and standard claims were already verified.
 *
 * Any malformed Mercure claim refuses the whole token with `ERR_HUB_AUTH_CLAIMS_INVALID` (the draft: "the hub MUST
 * reject the token … and MUST NOT act on the basis of the remaining entries"). A `'mercure'` token without the
 * `mercure` claim, or an `'at+jwt'` token without `mercure` authorization details, is valid and grants nothing.
 *
 * @example
 * ```ts
 * const grant = grantFromClaims({ mercure: { subscribe: ['https://example.com/books/{id}'] } }, 'mercure')
 * grant.subscribe?.matchesTopic('https://example.com/books/1') // true
 * ```
 * @see https://mercure.rocks/spec#authorization
 */
export function grantFromClaims(
  claims: Readonly<Record<string, unknown>>,
  profile: TokenProfile,
  options: GrantOptions = {},
): Grant {
  const limits = {
    details: options.maxAuthorizationDetails ?? DEFAULT_MAX_AUTHORIZATION_DETAILS,
    selectors: options.maxClaimSelectors ?? DEFAULT_MAX_CLAIM_SELECTORS,
  }
  const compile = (specs: readonly TopicSelectorSpec[], where: string): TopicSelector => {
    try {
      return createTopicSelector(specs, {
        baseURL: options.baseURL,
        cache: options.selectorCache,
        maxSelectorLength: options.maxSelectorLength,
      })
    } catch (error) {
      if (error instanceof HubError && error.code.startsWith('ERR_HUB_TOPIC_')) {
        throw new HubError('ERR_HUB_AUTH_CLAIMS_INVALID', `${where}: ${error.message}`, { cause: error })
      }
      throw error
    }
  }
  const base = {
    expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : undefined,
    ...(typeof claims.sub === 'string' ? { subject: claims.sub } : {}),
    claims: Object.freeze({ ...claims }),
  }

  if (profile === 'mercure') {
    const mercure = claims.mercure
    if (mercure !== undefined && !isPlainObject(mercure)) throw invalid('the mercure claim must be an object')
    const read = (key: 'publish' | 'subscribe'): TopicSelector | null => {
      const list = mercure?.[key]
      if (list === undefined) return null
      if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) {
        throw invalid(`mercure.${key} must be an array of strings`)
      }
      if (list.length > limits.selectors) {
        throw invalid(`mercure.${key} has ${list.length} selectors, more than the ${limits.selectors} allowed`)
      }
      // [spec] "If mercure.publish is not defined, or contains an empty array, then the publisher MUST NOT be
      // authorized to dispatch any update."
      if (list.length === 0) return null
      return compile(
        list.map((value: string) => ({ kind: 'topic', value })),
        `mercure.${key}`,
      )
    }
    const publish = read('publish')
    const subscribe = read('subscribe')
    const payload = mercure?.payload
    return Object.freeze({
      profile,
      publish,
      subscribe,
      payload,
      ...base,
      payloadFor: () => payload,
    })
  }

  const details = claims.authorization_details
  const entries: { actions: Set<string>; specs: TopicSelectorSpec[]; payload: unknown; selector: TopicSelector }[] = []
  if (details !== undefined) {
    if (!Array.isArray(details)) throw invalid('authorization_details must be an array')
    for (const [index, detail] of (details as unknown[]).entries()) {
      const where = `authorization_details[${index}]`
      // RFC 9396 §2: every entry is an object with a string "type".
      if (!isPlainObject(detail) || typeof detail.type !== 'string') throw invalid(`${where} must be an object with a type`)
      if (detail.type !== 'mercure') continue
      if (entries.length >= limits.details) {
        throw invalid(`more than ${limits.details} mercure authorization details`)
      }
      const { actions, topics, payload } = detail
      // [spec] "MUST have an actions property: a non-empty JSON array whose values are a subset of
      // ["publish", "subscribe"]".
      if (!Array.isArray(actions) || actions.length === 0 || !actions.every((a) => ACTIONS.has(a as string))) {
        throw invalid(`${where}.actions must be a non-empty array of "publish" and "subscribe"`)
      }
      // [spec] "MUST have a topics property: a non-empty JSON array of topic matcher objects".
      if (!Array.isArray(topics) || topics.length === 0) throw invalid(`${where}.topics must be a non-empty array`)
      if (topics.length > limits.selectors) {
        throw invalid(`${where}.topics has ${topics.length} entries, more than the ${limits.selectors} allowed`)
      }
      const specs = (topics as unknown[]).map((topic, t): TopicSelectorSpec => {
        // [spec] "It MUST be a JSON object with a match property … and MAY have an OPTIONAL matchType property".
        if (!isPlainObject(topic) || typeof topic.match !== 'string') {
          throw invalid(`${where}.topics[${t}] must be an object with a string match`)
        }
        const matchType = topic.matchType ?? 'Exact'
        const kind = typeof matchType === 'string' ? MATCH_TYPES[matchType] : undefined
        if (kind === undefined) {
          throw invalid(`${where}.topics[${t}].matchType must be "Exact" or "URLPattern", got ${JSON.stringify(matchType)}`)
        }
        return { kind, value: topic.match }
      })
      // [spec] "MAY have a payload property (a JSON object)".
      if (payload !== undefined && !isPlainObject(payload)) throw invalid(`${where}.payload must be a JSON object`)
      entries.push({ actions: new Set(actions as string[]), specs, payload, selector: compile(specs, where) })
    }
  }
  const union = (action: string): TopicSelector | null => {
    const withAction = entries.filter((e) => e.actions.has(action))
    if (withAction.length === 0) return null
    return compile(
      withAction.flatMap((e) => e.specs),
      `authorization_details (${action})`,
    )
  }
  const subscribeEntries = entries.filter((e) => e.actions.has('subscribe'))
  return Object.freeze({
    profile,
    publish: union('publish'),
    subscribe: union('subscribe'),
    payload: undefined,
    ...base,
    payloadFor(selector: string): unknown {
      // [spec] "The payload of the first subscribe authorization detail whose topics matches the subscription's own
      // matcher … MUST be included".
      for (const entry of subscribeEntries) if (entry.selector.matchesTopic(selector)) return entry.payload
      return undefined
    },
  })
}

function invalid(message: string): HubError {
  return new HubError('ERR_HUB_AUTH_CLAIMS_INVALID', message)
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
