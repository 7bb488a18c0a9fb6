import { LruCache } from '../lru-cache.js'
import type { Grant } from './grant.js'

/** The default number of verified tokens a verifier remembers. */
export const DEFAULT_TOKEN_CACHE_SIZE = 1_000

/** Tokens longer than this are verified every time, so that the cache holds at most `size` × 4 KiB of tokens. */
export const MAX_CACHED_TOKEN_LENGTH = 4_096

/**
 * A bounded, least-recently-used memory of tokens whose signature and claims were verified, with the grant each one
 * gave.
 *
 * Why: publishers send the same token with every update (`npm run bench:hub`, scenario S: one token, 2,000
 * publishes), and verifying an HS256 token with jose took 162 µs of CPU per call on the benchmark machine, as much as
 * writing one update to some twenty subscribers; a hit took 1.3 µs (5,000 calls of `verify` on one token, with and
 * without the cache).
 *
 * A hit is only returned while the token's own time claims still hold, with the same arithmetic as the full check
 * (whole seconds, `exp` exclusive, the clock tolerance applied to both sides); otherwise the entry is dropped and the
 * caller verifies the token again, which then fails with the usual coded error. Failures are never remembered.
 *
 * @internal
 */
export class VerifiedTokenCache {
  readonly #entries: LruCache<string, Grant>
  readonly #toleranceSeconds: number

  /**
   * @param size - The most tokens remembered; 0 disables the cache.
   * @param clockToleranceMs - The leeway given to `exp` and `nbf`, as in the full check.
   */
  constructor(size: number, clockToleranceMs: number) {
    this.#entries = new LruCache(size)
    this.#toleranceSeconds = clockToleranceMs / 1000
  }

  /** The grant `token` gave, when it was verified before and its `exp` and `nbf` still hold at `nowMs`. */
  get(token: string, nowMs: number): Grant | undefined {
    const grant = this.#entries.get(token)
    if (grant === undefined || this.#timely(grant, nowMs)) return grant
    this.#entries.delete(token)
    return undefined
  }

  /** Remembers a token that was just verified, evicting the least recently used one when full. */
  set(token: string, grant: Grant): void {
    if (token.length <= MAX_CACHED_TOKEN_LENGTH) this.#entries.set(token, grant)
  }

  /** How many tokens are remembered. */
  get size(): number {
    return this.#entries.size
  }

  /** The checks of RFC 7519 §4.1.4 and §4.1.5, exactly as jose applies them (`epoch()` floors to seconds). */
  #timely(grant: Grant, nowMs: number): boolean {
    const now = Math.floor(nowMs / 1000)
    const { exp, nbf } = grant.claims
    if (typeof exp === 'number' && exp <= now - this.#toleranceSeconds) return false
    if (typeof nbf === 'number' && nbf > now + this.#toleranceSeconds) return false
    return true
  }
}
