import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTVerifyOptions } from 'jose'
import { HubError } from '../errors.js'
import { grantFromClaims, type Grant, type GrantOptions, type TokenProfile } from './grant.js'
import { resolveVerificationKey, type VerificationKeyOptions } from './verification-key.js'
import { DEFAULT_TOKEN_CACHE_SIZE, VerifiedTokenCache } from './verified-token-cache.js'

/** Options of {@link createTokenVerifier}. Only `key` is required. */
export interface TokenVerifierOptions extends GrantOptions {
  /** The key that checks signatures, and the algorithms it accepts. */
  readonly key: VerificationKeyOptions
  /**
   * The accepted `iss` value(s). `'at+jwt'` tokens must carry one of them; a `'mercure'` token is checked when it has
   * an `iss` (tokens of that revision are usually self-issued and have none).
   * @defaultValue undefined (not checked)
   */
  readonly issuer?: string | readonly string[] | undefined
  /**
   * The hub's resource identifier(s), which must appear in `aud`. Required for `'at+jwt'` tokens (the draft: "Hubs
   * MUST be configured with their resource identifier and MUST verify that it appears in the token aud claim"), which
   * are refused while it is unset. A `'mercure'` token is checked when it has an `aud`, so enabling access tokens does
   * not lock out publishers and subscribers of the older revision; accept `profiles: ['at+jwt']` only to require it.
   * @defaultValue undefined
   */
  readonly audience?: string | readonly string[] | undefined
  /**
   * Leeway for `exp` and `nbf`, in milliseconds, for clocks that disagree a little.
   * @defaultValue 0
   */
  readonly clockToleranceMs?: number | undefined
  /**
   * The token formats accepted.
   * @defaultValue `['mercure', 'at+jwt']`
   */
  readonly profiles?: readonly TokenProfile[] | undefined
  /**
   * The longest token accepted, in characters; longer ones are refused before any parsing.
   * @defaultValue {@link DEFAULT_MAX_TOKEN_LENGTH}
   */
  readonly maxTokenLength?: number | undefined
  /**
   * The clock, in milliseconds since the epoch.
   * @defaultValue `Date.now`
   */
  readonly now?: (() => number) | undefined
  /** Names the role in error messages ("publisher key"). @defaultValue `'key'` */
  readonly description?: string | undefined
  /**
   * How many verified tokens (of at most 4,096 characters) are remembered with their grant, so that a token sent
   * again is not verified again while its `exp` and `nbf` still hold; 0 disables this. Failures are never
   * remembered, and tokens checked against a `jwksUrl` key set are always verified again, so that a key removed from
   * the set stops being accepted when the set is refetched.
   * @defaultValue {@link DEFAULT_TOKEN_CACHE_SIZE} (1,000 tokens: at most 4 MiB)
   */
  readonly cacheSize?: number | undefined
}

/** Checks tokens of one role. */
export interface TokenVerifier {
  /**
   * Verifies `token` and returns what it grants. Rejects with a coded {@link HubError}: `ERR_HUB_AUTH_TOKEN_MALFORMED`,
   * `…_TOKEN_INVALID`, `…_TOKEN_EXPIRED`, `…_TOKEN_NOT_YET_VALID`, `…_CLAIMS_INVALID` (all 401) or
   * `ERR_HUB_AUTH_KEYS_UNAVAILABLE` (503, the JWKS could not be fetched).
   */
  verify(token: string): Promise<Grant>
}

/** The default longest token, in characters. */
export const DEFAULT_MAX_TOKEN_LENGTH = 16_384

/** RFC 9068 §4: "typ" must be "at+jwt" or "application/at+jwt" (media types are case-insensitive). */
function isAccessTokenType(typ: unknown): boolean {
  return typeof typ === 'string' && /^(application\/)?at\+jwt$/i.test(typ)
}

/**
 * Creates a verifier for one role's tokens (publishers' or subscribers').
 *
 * Validation follows RFC 8725 and, for `at+jwt` tokens, RFC 9068 as the Mercure draft requires: the algorithm must be
 * one the configured key allows (never `none`, never chosen by the token), the signature must verify, `exp` and `nbf`
 * are enforced, `typ: at+jwt` tokens must name the hub in `aud` and carry `exp`, and `iss` / `aud` are checked when
 * configured. The claims then become a {@link Grant}. Throws `ERR_HUB_AUTH_KEY_INVALID` at construction for an
 * unusable key.
 *
 * @example
 * ```ts
 * const verifier = createTokenVerifier({ key: { secret: process.env.SUBSCRIBER_SECRET! } })
 * const grant = await verifier.verify(token)
 * ```
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const what = options.description ?? 'key'
  const resolved = resolveVerificationKey(options.key, what)
  const profiles = new Set<TokenProfile>(options.profiles ?? ['mercure', 'at+jwt'])
  for (const profile of profiles) {
    if (!(['mercure', 'at+jwt'] as const).includes(profile)) {
      throw new HubError('ERR_HUB_INVALID_OPTION', `unknown token profile ${JSON.stringify(profile)}`)
    }
  }
  const maxTokenLength = options.maxTokenLength ?? DEFAULT_MAX_TOKEN_LENGTH
  const clockToleranceMs = options.clockToleranceMs ?? 0
  if (!Number.isSafeInteger(maxTokenLength) || maxTokenLength < 1) {
    throw new HubError('ERR_HUB_INVALID_OPTION', 'maxTokenLength must be a positive integer')
  }
  if (typeof clockToleranceMs !== 'number' || !(clockToleranceMs >= 0)) {
    throw new HubError('ERR_HUB_INVALID_OPTION', 'clockToleranceMs must be a non-negative number')
  }
  const cacheSize = options.cacheSize ?? DEFAULT_TOKEN_CACHE_SIZE
  if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) {
    throw new HubError('ERR_HUB_INVALID_OPTION', 'cacheSize must be a non-negative integer')
  }
  const cache = resolved.remote ? undefined : new VerifiedTokenCache(cacheSize, clockToleranceMs)
  const now = options.now ?? Date.now
  const issuer = options.issuer === undefined ? undefined : toList(options.issuer)
  const audience = options.audience === undefined ? undefined : toList(options.audience)

  return {
    async verify(token: string): Promise<Grant> {
      if (typeof token !== 'string' || token.length === 0) throw malformed('the token is empty')
      if (token.length > maxTokenLength) {
        throw malformed(`the token is ${token.length} characters long, more than the ${maxTokenLength} accepted`)
      }
      const cached = cache?.get(token, now())
      if (cached !== undefined) return cached
      // A JWS in compact serialization has exactly three base64url segments (RFC 7515 §7.1); five would be a JWE.
      if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) {
        throw malformed('the token is not a JWS in compact serialization')
      }
      let header: ReturnType<typeof decodeProtectedHeader>
      try {
        header = decodeProtectedHeader(token)
      } catch (error) {
        throw malformed('the token header is not valid base64url-encoded JSON', error)
      }
      const profile: TokenProfile = isAccessTokenType(header.typ) ? 'at+jwt' : 'mercure'
      if (!profiles.has(profile)) {
        throw new HubError(
          'ERR_HUB_AUTH_TOKEN_INVALID',
          profile === 'at+jwt'
            ? 'at+jwt access tokens are not accepted by this hub'
            : 'the token must be a JWT access token (typ: at+jwt)',
        )
      }
      const verifyOptions: JWTVerifyOptions = {
        algorithms: [...resolved.algorithms],
        clockTolerance: clockToleranceMs / 1000,
        currentDate: new Date(now()),
      }
      if (profile === 'at+jwt') {
        if (audience === undefined) {
          throw new HubError(
            'ERR_HUB_AUTH_TOKEN_INVALID',
            'at+jwt access tokens need the hub resource identifier to check aud; configure the audience option',
          )
        }
        verifyOptions.typ = 'at+jwt'
        verifyOptions.requiredClaims = ['exp']
        verifyOptions.audience = audience
        if (issuer !== undefined) verifyOptions.issuer = issuer
      }
      let payload: Record<string, unknown>
      try {
        const result =
          typeof resolved.key === 'function'
            ? await jwtVerify(token, resolved.key, verifyOptions)
            : await jwtVerify(token, resolved.key, verifyOptions)
        payload = result.payload
      } catch (error) {
        throw translate(error, resolved.remote)
      }
      if (profile === 'mercure') checkOptionalClaims(payload, issuer, audience)
      const grant = grantFromClaims(payload, profile, options)
      cache?.set(token, grant)
      return grant
    },
  }
}

/** `iss` and `aud` of a `'mercure'` token: checked against the configuration when the token has them. */
function checkOptionalClaims(
  payload: Record<string, unknown>,
  issuer: readonly string[] | undefined,
  audience: readonly string[] | undefined,
): void {
  if (issuer !== undefined && payload.iss !== undefined && !issuer.includes(payload.iss as string)) {
    throw new HubError('ERR_HUB_AUTH_TOKEN_INVALID', `the token's iss ${JSON.stringify(payload.iss)} is not accepted`)
  }
  if (audience !== undefined && payload.aud !== undefined) {
    // RFC 7519 §4.1.3: aud is a string or an array of strings; one of them must identify the hub.
    const values: unknown[] = Array.isArray(payload.aud) ? payload.aud : [payload.aud]
    if (!values.some((value) => typeof value === 'string' && audience.includes(value))) {
      throw new HubError('ERR_HUB_AUTH_TOKEN_INVALID', "the token's aud does not name this hub")
    }
  }
}

function toList(value: string | readonly string[]): string[] {
  return typeof value === 'string' ? [value] : [...value]
}

function malformed(message: string, cause?: unknown): HubError {
  return new HubError('ERR_HUB_AUTH_TOKEN_MALFORMED', message, cause === undefined ? undefined : { cause })
}

/** Maps jose's errors onto the hub's codes. */
function translate(error: unknown, remote: boolean): HubError {
  if (error instanceof HubError) return error
  const options = { cause: error }
  if (error instanceof joseErrors.JWTExpired) {
    return new HubError('ERR_HUB_AUTH_TOKEN_EXPIRED', 'the token has expired (exp)', options)
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') {
      return new HubError('ERR_HUB_AUTH_TOKEN_NOT_YET_VALID', 'the token is not valid yet (nbf)', options)
    }
    if (error.claim === 'exp' && error.reason === 'missing') {
      return new HubError('ERR_HUB_AUTH_CLAIMS_INVALID', 'an at+jwt access token must have an exp claim', options)
    }
    return new HubError('ERR_HUB_AUTH_TOKEN_INVALID', `the token's ${error.claim} is not accepted: ${error.message}`, options)
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new HubError('ERR_HUB_AUTH_TOKEN_INVALID', 'the token signature does not verify', options)
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed || error instanceof joseErrors.JOSENotSupported) {
    return new HubError('ERR_HUB_AUTH_TOKEN_INVALID', `the token's algorithm is not accepted: ${error.message}`, options)
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return new HubError('ERR_HUB_AUTH_TOKEN_INVALID', 'no key of the key set verifies the token', options)
  }
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) {
    return new HubError('ERR_HUB_AUTH_TOKEN_MALFORMED', `the token is malformed: ${error.message}`, options)
  }
  if (remote) {
    // Timeouts, network failures, non-200 answers, a body that is not a key set: the hub cannot check the token.
    return new HubError('ERR_HUB_AUTH_KEYS_UNAVAILABLE', 'the JSON Web Key Set could not be fetched', options)
  }
  return new HubError('ERR_HUB_AUTH_TOKEN_INVALID', 'the token could not be verified', options)
}
