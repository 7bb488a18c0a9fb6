export { createAuthorizer } from './authorizer.js'
export type { Authorizer, AuthorizerOptions, ReceivableUpdate } from './authorizer.js'
export { checkPublishOrigin } from './check-publish-origin.js'
export { DEFAULT_TOKEN_COOKIE_NAMES, DEFAULT_TOKEN_QUERY_PARAMETERS, extractToken } from './extract-token.js'
export type { AuthRequest, ExtractedToken, TokenExtractionOptions, TokenSource } from './extract-token.js'
export { DEFAULT_MAX_AUTHORIZATION_DETAILS, DEFAULT_MAX_CLAIM_SELECTORS, grantFromClaims } from './grant.js'
export type { Grant, GrantOptions, TokenProfile } from './grant.js'
export { ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS, MIN_RSA_MODULUS_BITS } from './key-algorithms.js'
export type { JwsAlgorithm } from './key-algorithms.js'
export { signToken } from './sign-token.js'
export type { SignTokenOptions, TokenTopicMatcher } from './sign-token.js'
export { DEFAULT_MAX_TOKEN_LENGTH, createTokenVerifier } from './token-verifier.js'
export { DEFAULT_TOKEN_CACHE_SIZE } from './verified-token-cache.js'
export type { TokenVerifier, TokenVerifierOptions } from './token-verifier.js'
export {
  DEFAULT_JWKS_CACHE_MAX_AGE_MS,
  DEFAULT_JWKS_COOLDOWN_MS,
  DEFAULT_JWKS_TIMEOUT_MS,
  verificationKeyFromString,
} from './verification-key.js'
export type { VerificationKeyOptions } from './verification-key.js'
