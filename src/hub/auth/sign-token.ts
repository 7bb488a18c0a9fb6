import { createPrivateKey, randomUUID, type JsonWebKey, type KeyObject } from 'node:crypto'
import { SignJWT } from 'jose'
import { HubError } from '../errors.js'
import type { TokenProfile } from './grant.js'
import { algorithmsForKey, hmacAlgorithmsFor, isPem, type JwsAlgorithm } from './key-algorithms.js'

/** A topic matcher of an `at+jwt` token: a string is an `Exact` matcher. */
export type TokenTopicMatcher = string | { readonly match: string; readonly matchType?: 'Exact' | 'URLPattern' }

/** Options of {@link signToken}. Only `key` is required. */
export interface SignTokenOptions {
  /**
   * The signing key: an HMAC secret (string or bytes), or a private key (PEM text, `KeyObject` or JWK).
   */
  readonly key: string | Uint8Array | KeyObject | JsonWebKey
  /**
   * The algorithm.
   * @defaultValue HS256 for a secret; RS256 (RSA), ES256, ES384 or ES512 (by curve), EdDSA (Ed25519)
   */
  readonly alg?: JwsAlgorithm | undefined
  /**
   * The token format: `'mercure'` puts the selectors in the `mercure` claim; `'at+jwt'` makes an RFC 9068 access
   * token with `authorization_details` (the current Mercure draft).
   * @defaultValue 'mercure'
   */
  readonly profile?: TokenProfile | undefined
  /** Topic selectors the holder may publish to (`['*']` for all). @defaultValue none */
  readonly publish?: readonly TokenTopicMatcher[] | undefined
  /** Topic selectors whose private updates the holder may receive. @defaultValue none */
  readonly subscribe?: readonly TokenTopicMatcher[] | undefined
  /**
   * Data attached to the holder's subscriptions (`mercure.payload`; with `'at+jwt'`, the `payload` of the subscribe
   * entry, which must then be a JSON object).
   * @defaultValue none
   */
  readonly payload?: unknown
  /**
   * Lifetime: seconds from now, or a time span such as `'15m'`, `'2h'`, `'7d'`; `null` for no `exp` (`'mercure'`
   * tokens only).
   * @defaultValue null for `'mercure'`, `'1h'` for `'at+jwt'` (which must expire)
   */
  readonly expiresIn?: number | string | null | undefined
  /** The `aud` claim; required for `'at+jwt'` (the hub's resource identifier). @defaultValue none */
  readonly audience?: string | readonly string[] | undefined
  /** The `iss` claim. @defaultValue none */
  readonly issuer?: string | undefined
  /** The `sub` claim. @defaultValue none; for `'at+jwt'`, the client id */
  readonly subject?: string | undefined
  /** The `client_id` claim of an `'at+jwt'` token (RFC 9068 §2.2). @defaultValue 'herald' */
  readonly clientId?: string | undefined
  /** The `kid` header, to pick a key from a key set. @defaultValue none */
  readonly keyId?: string | undefined
}

/**
 * Signs a token for the hub, for development, tests and `herald gen-token`.
 *
 * @example
 * ```ts
 * const token = await signToken({ key: secret, publish: ['*'], subscribe: ['https://example.com/books/{id}'], expiresIn: '1h' })
 * const accessToken = await signToken({
 *   key: privateKeyPem, profile: 'at+jwt', audience: 'https://hub.example.com/.well-known/mercure',
 *   subscribe: [{ match: 'https://example.com/books/:id', matchType: 'URLPattern' }],
 * })
 * ```
 * Rejects with `ERR_HUB_AUTH_KEY_INVALID` for a key that cannot sign with `alg` (a secret shorter than the hash, a
 * public key, an RSA key under 2048 bits) and `ERR_HUB_INVALID_OPTION` for inconsistent options.
 */
export async function signToken(options: SignTokenOptions): Promise<string> {
  const profile = options.profile ?? 'mercure'
  if (!(['mercure', 'at+jwt'] as const).includes(profile)) {
    throw new HubError('ERR_HUB_INVALID_OPTION', `unknown token profile ${JSON.stringify(profile)}`)
  }
  const { key, alg } = signingKey(options.key, options.alg)
  const publish = options.publish === undefined ? undefined : matchers(options.publish, 'publish')
  const subscribe = options.subscribe === undefined ? undefined : matchers(options.subscribe, 'subscribe')

  const claims: Record<string, unknown> = {}
  let typ: string | undefined
  if (profile === 'mercure') {
    const mercure: Record<string, unknown> = {}
    for (const [name, list] of [
      ['publish', publish],
      ['subscribe', subscribe],
    ] as const) {
      if (list === undefined) continue
      if (!list.every((m) => typeof m === 'string')) {
        throw new HubError('ERR_HUB_INVALID_OPTION', `${name} of a mercure token must be strings (topic selectors)`)
      }
      mercure[name] = list
    }
    if (options.payload !== undefined) mercure.payload = options.payload
    claims.mercure = mercure
  } else {
    typ = 'at+jwt'
    if (options.audience === undefined) {
      throw new HubError('ERR_HUB_INVALID_OPTION', "an at+jwt token needs an audience (the hub's resource identifier)")
    }
    if (options.expiresIn === null) throw new HubError('ERR_HUB_INVALID_OPTION', 'an at+jwt token must expire')
    const payload = options.payload
    if (payload !== undefined && (typeof payload !== 'object' || payload === null || Array.isArray(payload))) {
      throw new HubError('ERR_HUB_INVALID_OPTION', 'the payload of an at+jwt token must be a JSON object')
    }
    const details: Record<string, unknown>[] = []
    const toTopics = (list: readonly TokenTopicMatcher[]): unknown[] =>
      list.map((m) => (typeof m === 'string' ? { match: m } : { match: m.match, ...(m.matchType === undefined ? {} : { matchType: m.matchType }) }))
    if (publish !== undefined && publish.length > 0) {
      details.push({ type: 'mercure', actions: ['publish'], topics: toTopics(publish) })
    }
    if (subscribe !== undefined && subscribe.length > 0) {
      details.push({ type: 'mercure', actions: ['subscribe'], topics: toTopics(subscribe), ...(payload === undefined ? {} : { payload }) })
    }
    claims.authorization_details = details
    const clientId = options.clientId ?? 'herald'
    claims.client_id = clientId
    claims.jti = randomUUID()
    if (options.subject === undefined) claims.sub = clientId
  }

  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg, ...(typ === undefined ? {} : { typ }), ...(options.keyId === undefined ? {} : { kid: options.keyId }) })
    .setIssuedAt()
  if (options.audience !== undefined) jwt.setAudience(typeof options.audience === 'string' ? options.audience : [...options.audience])
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer)
  if (options.subject !== undefined) jwt.setSubject(options.subject)
  const expiresIn = options.expiresIn === undefined ? (profile === 'at+jwt' ? '1h' : null) : options.expiresIn
  if (expiresIn !== null) {
    if (typeof expiresIn === 'number') {
      if (!Number.isFinite(expiresIn)) throw new HubError('ERR_HUB_INVALID_OPTION', 'expiresIn must be a finite number of seconds')
      // jose reads a number as an absolute time: convert the lifetime.
      jwt.setExpirationTime(Math.floor(Date.now() / 1000) + Math.round(expiresIn))
    } else {
      try {
        jwt.setExpirationTime(expiresIn)
      } catch (error) {
        throw new HubError('ERR_HUB_INVALID_OPTION', `expiresIn ${JSON.stringify(expiresIn)} is not a time span`, { cause: error })
      }
    }
  }
  try {
    return await jwt.sign(key)
  } catch (error) {
    throw new HubError('ERR_HUB_AUTH_KEY_INVALID', `the key cannot sign with ${alg}`, { cause: error })
  }
}

function matchers(list: readonly TokenTopicMatcher[], name: string): TokenTopicMatcher[] {
  const value: unknown = list
  if (!Array.isArray(value)) throw new HubError('ERR_HUB_INVALID_OPTION', `${name} must be an array`)
  for (const m of list as unknown[]) {
    const ok =
      typeof m === 'string' ||
      (typeof m === 'object' &&
        m !== null &&
        typeof (m as { match?: unknown }).match === 'string' &&
        [undefined, 'Exact', 'URLPattern'].includes((m as { matchType?: string }).matchType))
    if (!ok) throw new HubError('ERR_HUB_INVALID_OPTION', `${name} entries must be strings or { match, matchType }`)
  }
  return [...list]
}

function signingKey(
  input: SignTokenOptions['key'],
  requested: JwsAlgorithm | undefined,
): { key: KeyObject | Uint8Array; alg: JwsAlgorithm } {
  const isSecret = input instanceof Uint8Array || (typeof input === 'string' && !isPem(input))
  if (isSecret) {
    const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : Uint8Array.from(input)
    const allowed = hmacAlgorithmsFor(bytes.length)
    const alg = requested ?? 'HS256'
    if (!/^HS(256|384|512)$/.test(alg)) {
      throw new HubError('ERR_HUB_AUTH_KEY_INVALID', `a secret signs HS256, HS384 or HS512, not ${alg}`)
    }
    if (!allowed.includes(alg)) {
      throw new HubError(
        'ERR_HUB_AUTH_KEY_INVALID',
        `the secret is ${bytes.length} bytes, too short for ${alg} (RFC 7518 §3.2)`,
      )
    }
    return { key: bytes, alg }
  }
  let key: KeyObject
  try {
    if (typeof input === 'string') key = createPrivateKey(input)
    else if (isKeyObject(input)) key = input
    else key = createPrivateKey({ key: input, format: 'jwk' })
  } catch (error) {
    throw new HubError('ERR_HUB_AUTH_KEY_INVALID', 'the signing key is not a private key', { cause: error })
  }
  if (key.type !== 'private') throw new HubError('ERR_HUB_AUTH_KEY_INVALID', 'signing needs a private key')
  const allowed = algorithmsForKey(key, 'the signing key')
  const alg = requested ?? allowed[0] ?? 'RS256'
  if (!allowed.includes(alg)) {
    throw new HubError('ERR_HUB_AUTH_KEY_INVALID', `the signing key cannot sign ${alg}; it allows ${allowed.join(', ')}`)
  }
  return { key, alg }
}

function isKeyObject(value: unknown): value is KeyObject {
  return typeof value === 'object' && value !== null && (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'KeyObject'
}
