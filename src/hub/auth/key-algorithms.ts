import type { KeyObject } from 'node:crypto'
import { HubError } from '../errors.js'

/**
 * The JWS algorithms the hub accepts and signs with. `none` is never one of them.
 *
 * `EdDSA` and `Ed25519` both name Ed25519 signatures (RFC 8037; RFC 9864 deprecates the polymorphic `EdDSA`).
 */
export type JwsAlgorithm =
  | 'HS256'
  | 'HS384'
  | 'HS512'
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA'
  | 'Ed25519'

/** Every HMAC algorithm with the shortest secret it accepts, in bytes (RFC 7518 §3.2: at least the hash size). */
export const HMAC_ALGORITHMS: readonly { readonly alg: JwsAlgorithm; readonly minBytes: number }[] = [
  { alg: 'HS256', minBytes: 32 },
  { alg: 'HS384', minBytes: 48 },
  { alg: 'HS512', minBytes: 64 },
]

/** Every asymmetric algorithm, the ones a JWKS may use by default. */
export const ASYMMETRIC_ALGORITHMS: readonly JwsAlgorithm[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]

/** The smallest RSA modulus accepted, in bits (RFC 7518 §3.3 and §3.5: "2048 bits or larger MUST be used"). */
export const MIN_RSA_MODULUS_BITS = 2048

const CURVE_ALGORITHMS: Readonly<Record<string, JwsAlgorithm>> = {
  prime256v1: 'ES256',
  'P-256': 'ES256',
  secp384r1: 'ES384',
  'P-384': 'ES384',
  secp521r1: 'ES512',
  'P-521': 'ES512',
}

/**
 * The HMAC algorithms a secret of `length` bytes may be used with.
 *
 * @internal
 */
export function hmacAlgorithmsFor(length: number): JwsAlgorithm[] {
  return HMAC_ALGORITHMS.filter((h) => length >= h.minBytes).map((h) => h.alg)
}

/**
 * The algorithms an asymmetric key can verify or produce, derived from its type alone, so that a token can never
 * choose how it is checked: RSA keys give RS256–RS512 and PS256–PS512, EC keys the ES algorithm of their curve,
 * Ed25519 keys EdDSA and Ed25519.
 *
 * Throws `ERR_HUB_AUTH_KEY_INVALID` for a secret key, an RSA key under {@link MIN_RSA_MODULUS_BITS} bits, or an
 * unsupported key type (RSA-PSS-typed, Ed448, …) or curve.
 *
 * @internal
 */
export function algorithmsForKey(key: KeyObject, what: string): JwsAlgorithm[] {
  if (key.type === 'secret') {
    throw new HubError('ERR_HUB_AUTH_KEY_INVALID', `${what} is a secret key; pass it as a secret instead`)
  }
  const details = key.asymmetricKeyDetails ?? {}
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      const bits = details.modulusLength ?? 0
      if (bits < MIN_RSA_MODULUS_BITS) {
        throw new HubError(
          'ERR_HUB_AUTH_KEY_INVALID',
          `${what} is a ${bits}-bit RSA key; at least ${MIN_RSA_MODULUS_BITS} bits are required (RFC 7518 §3.3)`,
        )
      }
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
    }
    case 'rsa-pss':
      // Node cannot export RSA-PSS-typed keys to the JWK form WebCrypto (and jose) import them from.
      throw new HubError(
        'ERR_HUB_AUTH_KEY_INVALID',
        `${what} is an RSA-PSS-typed key, which is not supported; use a plain RSA key, which also verifies PS256–PS512`,
      )
    case 'ec': {
      const alg = CURVE_ALGORITHMS[details.namedCurve ?? '']
      if (alg === undefined) {
        throw new HubError(
          'ERR_HUB_AUTH_KEY_INVALID',
          `${what} is an EC key on curve ${String(details.namedCurve)}; supported curves are P-256, P-384 and P-521`,
        )
      }
      return [alg]
    }
    case 'ed25519':
      return ['EdDSA', 'Ed25519']
    default:
      throw new HubError(
        'ERR_HUB_AUTH_KEY_INVALID',
        `${what} is a ${String(key.asymmetricKeyType)} key; supported key types are RSA, EC and Ed25519`,
      )
  }
}

/**
 * Checks an explicit algorithm list against what the key allows; returns the list to use.
 *
 * @internal
 */
export function restrictAlgorithms(
  allowed: readonly JwsAlgorithm[],
  requested: readonly string[] | undefined,
  what: string,
): JwsAlgorithm[] {
  if (requested === undefined) return [...allowed]
  if (!Array.isArray(requested) || requested.length === 0) {
    throw new HubError('ERR_HUB_AUTH_KEY_INVALID', `the algorithms of ${what} must be a non-empty array`)
  }
  for (const alg of requested) {
    if (!allowed.includes(alg as JwsAlgorithm)) {
      throw new HubError(
        'ERR_HUB_AUTH_KEY_INVALID',
        `${what} cannot be used with ${JSON.stringify(alg)}; it allows ${allowed.join(', ')}`,
      )
    }
  }
  return [...new Set(requested as JwsAlgorithm[])]
}

/** Whether `text` looks like a PEM document (a key or certificate). @internal */
export function isPem(text: string): boolean {
  return /-----BEGIN [A-Z0-9 ]+-----/.test(text)
}
