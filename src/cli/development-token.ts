import { signToken, type JwsAlgorithm } from '../hub/auth/index.js'
import type { HubConfig } from '../hub/index.js'

/** What a development token may do. */
export interface DevelopmentTokenScope {
  /** Topic selectors it may publish to. */
  readonly publish: readonly string[]
  /** Topic selectors whose private updates it may receive. */
  readonly subscribe: readonly string[]
}

/** The topics the demo pages publish to, and nothing else. */
export const DEMO_PUBLISH_TOPICS: readonly string[] = Object.freeze(['chat', 'tasks'])

/**
 * Signs a token with the configured publisher key, in development mode only, for the startup banner (publish and
 * subscribe `*`) and for the demo pages (publish {@link DEMO_PUBLISH_TOPICS}).
 *
 * The token does not expire (it is for local use, and the key is public); it carries `iss` and `aud` when the hub
 * is configured to check them. Returns `null` in production mode, and when the publisher key is not an HMAC secret (a PEM public key or a JWKS
 * URL cannot sign): such tokens come from the application's own issuer.
 *
 * @example
 * ```ts
 * const token = await signDevelopmentToken(config, { publish: ['*'], subscribe: ['*'] })
 * ```
 */
export async function signDevelopmentToken(config: Readonly<HubConfig>, scope: DevelopmentTokenScope): Promise<string | null> {
  const key = config.publisherJwtKey
  if (config.mode !== 'development' || key === null) return null
  if (key.includes('-----BEGIN') || /^https?:\/\//i.test(key) || !config.jwtAlg.startsWith('HS')) return null
  return signToken({
    key,
    alg: config.jwtAlg as JwsAlgorithm,
    publish: scope.publish.length > 0 ? scope.publish : undefined,
    subscribe: scope.subscribe.length > 0 ? scope.subscribe : undefined,
    // The hub checks these claims when they are configured.
    issuer: config.jwtIssuer ?? undefined,
    audience: config.jwtAudience ?? undefined,
  })
}
