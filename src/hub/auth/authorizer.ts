import { HubError } from '../errors.js'
import type { TopicSelectorCache } from '../topic-selector.js'
import { checkPublishOrigin } from './check-publish-origin.js'
import { extractToken, type AuthRequest, type TokenExtractionOptions } from './extract-token.js'
import type { Grant, TokenProfile } from './grant.js'
import { createTokenVerifier, type TokenVerifier } from './token-verifier.js'
import type { VerificationKeyOptions } from './verification-key.js'

/** Options of {@link createAuthorizer}. Every field is optional. */
export interface AuthorizerOptions extends TokenExtractionOptions {
  /**
   * The key that verifies publishers' tokens. Without it, every publish request is refused (401).
   * @defaultValue undefined
   */
  readonly publisherKey?: VerificationKeyOptions | undefined
  /**
   * The key that verifies subscribers' tokens; the spec recommends another key than the publishers'. Without it,
   * only anonymous subscriptions are possible.
   * @defaultValue undefined
   */
  readonly subscriberKey?: VerificationKeyOptions | undefined
  /**
   * Let subscribers connect without a token (they then receive public updates only). A token that is presented is
   * still verified, and a bad one refused.
   * @defaultValue false
   */
  readonly anonymous?: boolean | undefined
  /**
   * Accepted `iss` value(s): required of `at+jwt` tokens, checked on `mercure`-claim tokens that have an `iss`.
   * @defaultValue undefined (not checked)
   */
  readonly issuer?: string | readonly string[] | undefined
  /**
   * The hub's resource identifier(s), which `aud` must name: required to accept `at+jwt` tokens, checked on
   * `mercure`-claim tokens that have an `aud`.
   * @defaultValue undefined
   */
  readonly audience?: string | readonly string[] | undefined
  /** Leeway for `exp` and `nbf`, in milliseconds. @defaultValue 0 */
  readonly clockToleranceMs?: number | undefined
  /** The token formats accepted. @defaultValue `['mercure', 'at+jwt']` */
  readonly profiles?: readonly TokenProfile[] | undefined
  /**
   * Origins allowed to publish with a cookie-borne token (CSRF protection); `'*'` allows any. Tokens in the
   * `Authorization` header or the query are not concerned.
   * @defaultValue the origin of the request URL (same origin only)
   */
  readonly publishOrigins?: readonly string[] | undefined
  /** The hub's URL: the base of relative URL patterns in claims. @defaultValue undefined */
  readonly baseURL?: string | URL | undefined
  /** Cache for compiled claim selectors. @defaultValue the process-wide topic selector cache */
  readonly selectorCache?: TopicSelectorCache | null | undefined
  /** The longest token accepted. @defaultValue `DEFAULT_MAX_TOKEN_LENGTH` (16 384) */
  readonly maxTokenLength?: number | undefined
  /** The most `mercure` authorization details per token. @defaultValue `DEFAULT_MAX_AUTHORIZATION_DETAILS` (32) */
  readonly maxAuthorizationDetails?: number | undefined
  /** The most selectors per claim array. @defaultValue `DEFAULT_MAX_CLAIM_SELECTORS` (256) */
  readonly maxClaimSelectors?: number | undefined
  /** The longest selector in a claim. @defaultValue `DEFAULT_MAX_SELECTOR_LENGTH` (2048) */
  readonly maxSelectorLength?: number | undefined
  /** The clock, in milliseconds since the epoch. @defaultValue `Date.now` */
  readonly now?: (() => number) | undefined
  /**
   * How many verified tokens each role remembers, so that a token sent again is not verified again while its `exp`
   * and `nbf` hold (never for a `jwksUrl` key set); 0 disables this.
   * @defaultValue `DEFAULT_TOKEN_CACHE_SIZE` (1,000 tokens of at most 4,096 characters per role)
   */
  readonly tokenCacheSize?: number | undefined
}

/** What {@link Authorizer.canReceive} needs to know of an update. */
export interface ReceivableUpdate {
  readonly topics: readonly string[]
  readonly private?: boolean | undefined
}

/**
 * The hub's authorization decisions. Every method that takes a request rejects with a coded {@link HubError} the
 * HTTP layer maps to a status: 400 `ERR_HUB_AUTH_INVALID_REQUEST`; 401 `…_TOKEN_MISSING`, `…_TOKEN_MALFORMED`,
 * `…_TOKEN_INVALID`, `…_TOKEN_EXPIRED`, `…_TOKEN_NOT_YET_VALID`, `…_CLAIMS_INVALID`; 403 `…_INSUFFICIENT_SCOPE`,
 * `…_ORIGIN_REJECTED`; 503 `…_KEYS_UNAVAILABLE`.
 */
export interface Authorizer {
  /**
   * Checks a publish request: it needs a valid publisher token whose publish selectors match every topic of the
   * update ([spec] "If the publisher is not authorized for all the topics of an update, the hub MUST NOT dispatch the
   * update … and MUST return a 403"). A token from a cookie must also pass {@link checkPublishOrigin}.
   */
  authorizePublish(request: AuthRequest, topics: readonly string[]): Promise<Grant>
  /**
   * Checks a subscribe request and returns the subscriber's grant, or `null` for an anonymous subscriber (allowed
   * only with `anonymous: true`). The hub should close the stream at `grant.expiresAt`.
   */
  authorizeSubscribe(request: AuthRequest): Promise<Grant | null>
  /**
   * Checks a request to the subscriptions API for `topic`, the requested URL's path: it needs a subscriber token whose
   * subscribe selectors match it ([spec] "If no detail grants subscribe on the requested URL, the hub MUST answer 403").
   */
  authorizeSubscriptionsApi(request: AuthRequest, topic: string): Promise<Grant>
  /**
   * Whether a subscriber may receive an update: public updates always; private ones only when its grant's subscribe
   * selectors match at least one of the update's topics and the grant has not expired. Call it for live and
   * replayed updates alike.
   */
  canReceive(grant: Grant | null, update: ReceivableUpdate): boolean
}

/**
 * Creates the hub's {@link Authorizer}: token extraction, verification with the publisher and subscriber keys, and
 * the Mercure authorization rules. Throws `ERR_HUB_AUTH_KEY_INVALID` for an unusable key.
 *
 * @example
 * ```ts
 * const authorizer = createAuthorizer({
 *   publisherKey: { secret: process.env.PUBLISHER_SECRET! },
 *   subscriberKey: { jwksUrl: 'https://auth.example.com/.well-known/jwks.json' },
 *   anonymous: true,
 *   baseURL: 'https://hub.example.com/.well-known/mercure',
 * })
 * const grant = await authorizer.authorizeSubscribe(request)
 * if (authorizer.canReceive(grant, update)) send(update)
 * ```
 * @see https://mercure.rocks/spec#authorization
 */
export function createAuthorizer(options: AuthorizerOptions = {}): Authorizer {
  const now = options.now ?? Date.now
  const shared = {
    issuer: options.issuer,
    audience: options.audience,
    clockToleranceMs: options.clockToleranceMs,
    profiles: options.profiles,
    maxTokenLength: options.maxTokenLength,
    baseURL: options.baseURL,
    selectorCache: options.selectorCache,
    maxAuthorizationDetails: options.maxAuthorizationDetails,
    maxClaimSelectors: options.maxClaimSelectors,
    maxSelectorLength: options.maxSelectorLength,
    cacheSize: options.tokenCacheSize,
    now,
  }
  const publisher: TokenVerifier | undefined =
    options.publisherKey === undefined
      ? undefined
      : createTokenVerifier({ ...shared, key: options.publisherKey, description: 'the publisher key' })
  const subscriber: TokenVerifier | undefined =
    options.subscriberKey === undefined
      ? undefined
      : createTokenVerifier({ ...shared, key: options.subscriberKey, description: 'the subscriber key' })
  const anonymous = options.anonymous === true
  const extraction: TokenExtractionOptions = { cookieNames: options.cookieNames, queryParameters: options.queryParameters }
  const publishOrigins = options.publishOrigins === undefined ? undefined : [...options.publishOrigins]

  const verifySubscriber = async (request: AuthRequest, required: boolean): Promise<Grant | null> => {
    const found = extractToken(request, extraction)
    if (found === null) {
      if (required) throw new HubError('ERR_HUB_AUTH_TOKEN_MISSING', 'this request needs a subscriber access token')
      return null
    }
    if (subscriber === undefined) {
      throw new HubError('ERR_HUB_AUTH_TOKEN_INVALID', 'this hub accepts no subscriber tokens (no subscriber key)')
    }
    return subscriber.verify(found.token)
  }

  return Object.freeze({
    async authorizePublish(request: AuthRequest, topics: readonly string[]): Promise<Grant> {
      const found = extractToken(request, extraction)
      if (found === null) throw new HubError('ERR_HUB_AUTH_TOKEN_MISSING', 'publishing needs a publisher access token')
      // CSRF is checked before the token: a forged request learns nothing about it.
      if (found.source === 'cookie') checkPublishOrigin(request, publishOrigins)
      if (publisher === undefined) {
        throw new HubError('ERR_HUB_AUTH_TOKEN_INVALID', 'this hub accepts no publisher tokens (no publisher key)')
      }
      const grant = await publisher.verify(found.token)
      if (grant.publish === null) {
        throw new HubError('ERR_HUB_AUTH_INSUFFICIENT_SCOPE', 'the token grants no right to publish')
      }
      for (const topic of topics) {
        if (!grant.publish.matchesTopic(topic)) {
          throw new HubError('ERR_HUB_AUTH_INSUFFICIENT_SCOPE', `the token does not allow publishing to ${JSON.stringify(topic)}`)
        }
      }
      return grant
    },

    async authorizeSubscribe(request: AuthRequest): Promise<Grant | null> {
      return verifySubscriber(request, !anonymous)
    },

    async authorizeSubscriptionsApi(request: AuthRequest, topic: string): Promise<Grant> {
      const grant = (await verifySubscriber(request, true)) as Grant
      if (grant.subscribe?.matchesTopic(topic) !== true) {
        throw new HubError('ERR_HUB_AUTH_INSUFFICIENT_SCOPE', `the token does not allow reading ${JSON.stringify(topic)}`)
      }
      return grant
    },

    canReceive(grant: Grant | null, update: ReceivableUpdate): boolean {
      if (update.private !== true) return true
      // [spec] "If the subscriber is not authorized to receive an update marked as private, it MUST NOT receive it."
      if (grant === null || grant.subscribe === null) return false
      if (grant.expiresAt !== undefined && grant.expiresAt <= now()) return false
      return grant.subscribe.matches(update.topics)
    },
  })
}
