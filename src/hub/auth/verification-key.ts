import { createPublicKey, createSecretKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose'
import { HubError } from '../errors.js'
import {
  ASYMMETRIC_ALGORITHMS,
  algorithmsForKey,
  hmacAlgorithmsFor,
  isPem,
  restrictAlgorithms,
  type JwsAlgorithm,
} from './key-algorithms.js'

/** Fields every kind of verification key accepts. */
interface KeyAlgorithms {
  /**
   * The algorithms accepted, a subset of those the key's type allows (which is the default). A token signed with any
   * other algorithm, `none` included, is refused.
   * @defaultValue every algorithm the key type allows
   */
  readonly algorithms?: readonly JwsAlgorithm[] | undefined
}

/**
 * How the hub checks token signatures, for one role (publishers or subscribers). One of:
 *
 * - `{ secret }`: an HMAC secret (UTF-8 string or bytes), for HS256 / HS384 / HS512. RFC 7518 §3.2 requires a
 *   secret at least as long as the hash: 32 bytes for HS256, 48 for HS384, 64 for HS512.
 * - `{ publicKey }`: a PEM public key (SPKI or PKCS#1), X.509 certificate, or `KeyObject`. RSA keys (≥ 2048 bits)
 *   verify RS256–RS512 and PS256–PS512, EC keys the ES algorithm of their curve, Ed25519 keys EdDSA.
 * - `{ jwk }`: one public JSON Web Key (or an `oct` key, treated as a secret).
 * - `{ jwksUrl }`: a JSON Web Key Set URL, fetched on demand, cached and refetched when a token names an unknown
 *   `kid` (key rotation). Accepts the asymmetric algorithms only.
 *
 * The accepted algorithms derive from the key's type, never from the token, so `alg: none` and algorithm confusion
 * (an HS256 token whose "secret" is the RSA public key) are refused.
 *
 * @example
 * ```ts
 * const publisherKey: VerificationKeyOptions = { secret: process.env.PUBLISHER_SECRET! }
 * const subscriberKey: VerificationKeyOptions = { jwksUrl: 'https://auth.example.com/.well-known/jwks.json' }
 * ```
 */
export type VerificationKeyOptions =
  | (KeyAlgorithms & { readonly secret: string | Uint8Array })
  | (KeyAlgorithms & { readonly publicKey: string | KeyObject })
  | (KeyAlgorithms & { readonly jwk: JsonWebKey })
  | (KeyAlgorithms & {
      readonly jwksUrl: string | URL
      /**
       * How long a fetch of the key set may take.
       * @defaultValue {@link DEFAULT_JWKS_TIMEOUT_MS}
       */
      readonly timeoutMs?: number | undefined
      /**
       * The least time between two fetches triggered by unknown `kid`s.
       * @defaultValue {@link DEFAULT_JWKS_COOLDOWN_MS}
       */
      readonly cooldownMs?: number | undefined
      /**
       * How long a fetched key set is used before it is fetched again.
       * @defaultValue {@link DEFAULT_JWKS_CACHE_MAX_AGE_MS}
       */
      readonly cacheMaxAgeMs?: number | undefined
    })

/** The default time limit of one JWKS fetch. */
export const DEFAULT_JWKS_TIMEOUT_MS = 5_000
/** The default least time between two JWKS fetches. */
export const DEFAULT_JWKS_COOLDOWN_MS = 30_000
/** The default time a fetched JWKS is trusted. */
export const DEFAULT_JWKS_CACHE_MAX_AGE_MS = 600_000

/** A verification key ready for `jwtVerify`. @internal */
export interface ResolvedVerificationKey {
  readonly algorithms: readonly JwsAlgorithm[]
  readonly key: KeyObject | Uint8Array | JWTVerifyGetKey
  /** True for a JWKS URL: fetch failures are the hub's problem (503), not the token's. */
  readonly remote: boolean
}

/**
 * Reads the usual textual form of a key (environment variable, config file): a PEM document becomes
 * `{ publicKey }`, an `http(s)://` URL `{ jwksUrl }`, anything else `{ secret }`.
 *
 * @example
 * ```ts
 * createAuthorizer({ publisherKey: verificationKeyFromString(process.env.HERALD_PUBLISHER_JWT_KEY!, ['HS256']) })
 * ```
 */
export function verificationKeyFromString(
  text: string,
  algorithms?: readonly JwsAlgorithm[],
): VerificationKeyOptions {
  const extra = algorithms === undefined ? {} : { algorithms }
  if (isPem(text)) return { publicKey: text, ...extra }
  if (/^https?:\/\//i.test(text)) return { jwksUrl: text, ...extra }
  return { secret: text, ...extra }
}

/**
 * Validates a {@link VerificationKeyOptions} and prepares it. Throws `ERR_HUB_AUTH_KEY_INVALID`.
 *
 * @internal
 */
export function resolveVerificationKey(options: VerificationKeyOptions, what: string): ResolvedVerificationKey {
  if (typeof options !== 'object' || (options as unknown) === null) {
    throw new HubError('ERR_HUB_AUTH_KEY_INVALID', `${what} must be an object with secret, publicKey, jwk or jwksUrl`)
  }
  const kinds = ['secret', 'publicKey', 'jwk', 'jwksUrl'].filter((k) => k in options)
  if (kinds.length !== 1) {
    throw new HubError(
      'ERR_HUB_AUTH_KEY_INVALID',
      `${what} must have exactly one of secret, publicKey, jwk or jwksUrl (got ${kinds.join(', ') || 'none'})`,
    )
  }
  if ('secret' in options) return secretKey(options.secret, options.algorithms, what)
  if ('publicKey' in options) {
    let key: KeyObject
    try {
      key = typeof options.publicKey === 'string' ? createPublicKey(options.publicKey) : options.publicKey
      // A private key (PEM or KeyObject) still verifies through its public half.
      if (key.type === 'private') key = createPublicKey(key)
    } catch (error) {
      throw new HubError('ERR_HUB_AUTH_KEY_INVALID', `${what} is not a PEM public key or certificate`, { cause: error })
    }
    const algorithms = restrictAlgorithms(algorithmsForKey(key, what), options.algorithms, what)
    return { algorithms, key, remote: false }
  }
  if ('jwk' in options) {
    const jwk = options.jwk
    if (jwk.kty === 'oct') {
      if (typeof jwk.k !== 'string') throw new HubError('ERR_HUB_AUTH_KEY_INVALID', `${what} is an oct JWK without k`)
      return secretKey(Buffer.from(jwk.k, 'base64url'), options.algorithms, what)
    }
    let key: KeyObject
    try {
      key = createPublicKey({ key: jwk, format: 'jwk' })
    } catch (error) {
      throw new HubError('ERR_HUB_AUTH_KEY_INVALID', `${what} is not a valid public JWK`, { cause: error })
    }
    let allowed = algorithmsForKey(key, what)
    // A JWK that names its algorithm is used with that algorithm only (RFC 7517 §4.4).
    if (typeof jwk.alg === 'string') allowed = restrictAlgorithms(allowed, [jwk.alg], what)
    return { algorithms: restrictAlgorithms(allowed, options.algorithms, what), key, remote: false }
  }
  const url = jwksUrl(options.jwksUrl, what)
  const algorithms = restrictAlgorithms(ASYMMETRIC_ALGORITHMS, options.algorithms, `${what} (a JWKS)`)
  const key = createRemoteJWKSet(url, {
    timeoutDuration: duration(options.timeoutMs, DEFAULT_JWKS_TIMEOUT_MS, 'timeoutMs', what),
    cooldownDuration: duration(options.cooldownMs, DEFAULT_JWKS_COOLDOWN_MS, 'cooldownMs', what),
    cacheMaxAge: duration(options.cacheMaxAgeMs, DEFAULT_JWKS_CACHE_MAX_AGE_MS, 'cacheMaxAgeMs', what),
  })
  return { algorithms, key, remote: true }
}

function secretKey(
  secret: string | Uint8Array,
  requested: readonly JwsAlgorithm[] | undefined,
  what: string,
): ResolvedVerificationKey {
  if (typeof secret === 'string' && isPem(secret)) {
    // Using a public key's PEM text as an HMAC secret is exactly the key-confusion attack; refuse it up front.
    throw new HubError('ERR_HUB_AUTH_KEY_INVALID', `${what} is a PEM document; pass it as publicKey, not as secret`)
  }
  if (typeof secret !== 'string' && !(secret instanceof Uint8Array)) {
    throw new HubError('ERR_HUB_AUTH_KEY_INVALID', `the secret of ${what} must be a string or a Uint8Array`)
  }
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : Uint8Array.from(secret)
  const allowed = hmacAlgorithmsFor(bytes.length)
  if (allowed.length === 0) {
    throw new HubError(
      'ERR_HUB_AUTH_KEY_INVALID',
      `the secret of ${what} is ${bytes.length} bytes; HS256 needs at least 32 (RFC 7518 §3.2)`,
    )
  }
  if (requested !== undefined) {
    for (const alg of requested) {
      if (/^HS(256|384|512)$/.test(alg) && !allowed.includes(alg)) {
        throw new HubError(
          'ERR_HUB_AUTH_KEY_INVALID',
          `the secret of ${what} is ${bytes.length} bytes, too short for ${alg} (RFC 7518 §3.2)`,
        )
      }
    }
  }
  // A KeyObject, made once: given raw bytes, jose imports a new key on every verification (publisher JWTs are
  // verified on every publish; measured here: 118 µs → 104 µs per HS256 verification).
  return { algorithms: restrictAlgorithms(allowed, requested, what), key: createSecretKey(bytes), remote: false }
}

function jwksUrl(value: string | URL, what: string): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch (error) {
    throw new HubError('ERR_HUB_AUTH_KEY_INVALID', `the JWKS URL of ${what} is not a URL`, { cause: error })
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new HubError('ERR_HUB_AUTH_KEY_INVALID', `the JWKS URL of ${what} must be http(s), got ${url.protocol}`)
  }
  return url
}

function duration(value: number | undefined, fallback: number, name: string, what: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(value >= 0)) {
    throw new HubError('ERR_HUB_INVALID_OPTION', `${name} of ${what} must be a non-negative number of milliseconds`)
  }
  return value
}
