import { HubError } from '../errors.js'

/**
 * The parts of an HTTP request token extraction and authorization read: a fetch `Request` fits, and so does what
 * the HTTP layer builds from a Node request.
 */
export interface AuthRequest {
  readonly headers: Headers
  readonly url: URL
}

/** Where a token was found. */
export type TokenSource = 'header' | 'query' | 'cookie'

/** A token found in a request. */
export interface ExtractedToken {
  /** The token itself (a compact JWS, not yet verified). */
  readonly token: string
  /** The mechanism that carried it. */
  readonly source: TokenSource
  /** The header, query parameter or cookie name it came from. */
  readonly name: string
}

/** Options of {@link extractToken}. Every field is optional. */
export interface TokenExtractionOptions {
  /**
   * Cookie names that may carry the token, tried in order; `null` turns cookie authorization off.
   * @defaultValue {@link DEFAULT_TOKEN_COOKIE_NAMES}
   */
  readonly cookieNames?: readonly string[] | null | undefined
  /**
   * Query parameters that may carry the token, tried in order; `null` turns the (discouraged) URI query method off.
   * @defaultValue {@link DEFAULT_TOKEN_QUERY_PARAMETERS}
   */
  readonly queryParameters?: readonly string[] | null | undefined
}

/**
 * The default token cookie names: `mercureAuthorization` (the name the protocol recommended with the `mercure`
 * claim) and `mercureAccessToken` (the current draft's).
 */
export const DEFAULT_TOKEN_COOKIE_NAMES: readonly string[] = Object.freeze(['mercureAuthorization', 'mercureAccessToken'])

/**
 * The default token query parameters: `access_token` (RFC 6750 §2.3, the current draft) and `authorization` (the
 * revision with the `mercure` claim).
 */
export const DEFAULT_TOKEN_QUERY_PARAMETERS: readonly string[] = Object.freeze(['access_token', 'authorization'])

/** RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/

/**
 * Finds the access token of a request, applying the Mercure precedence: the `Authorization: Bearer` header, else the
 * token query parameter, else the token cookie. The token of the chosen mechanism is used and the others are
 * ignored, even when they differ ([spec] "if an Authorization HTTP header is present, its token MUST be used and
 * the access_token query parameter and the cookie MUST be ignored; otherwise, if an access_token query parameter is
 * present, it MUST be used and the cookie MUST be ignored").
 *
 * An `Authorization` header with another scheme (`Basic`, for a proxy in front of the hub) presents no bearer token
 * and is passed over. Empty query parameters and cookies count as absent (a cleared cookie must not lock a browser
 * out).
 *
 * Returns `null` when the request presents no token. Throws `ERR_HUB_AUTH_INVALID_REQUEST` (400, RFC 6750
 * `invalid_request`) when a `Bearer` header does not hold exactly one token or a token query parameter is repeated.
 *
 * @example
 * ```ts
 * const found = extractToken(request)
 * if (found?.source === 'cookie') checkPublishOrigin(request)
 * ```
 * @see https://mercure.rocks/spec#presenting-the-access-token
 */
export function extractToken(request: AuthRequest, options: TokenExtractionOptions = {}): ExtractedToken | null {
  const header = request.headers.get('authorization')
  if (header !== null && header.trim() !== '') {
    const match = /^\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:\s+(.*?))?\s*$/.exec(header)
    // RFC 7235 §2.1: the auth-scheme is case-insensitive.
    if (match?.[1]?.toLowerCase() === 'bearer') {
      const token = match[2] ?? ''
      if (!B64TOKEN.test(token)) {
        throw new HubError('ERR_HUB_AUTH_INVALID_REQUEST', 'the Authorization header must be "Bearer" followed by one token')
      }
      return { token, source: 'header', name: 'authorization' }
    }
  }

  for (const name of options.queryParameters === undefined ? DEFAULT_TOKEN_QUERY_PARAMETERS : (options.queryParameters ?? [])) {
    const values = request.url.searchParams.getAll(name)
    // RFC 6750 §3.1: a request that "repeats the same parameter" is an invalid_request.
    if (values.length > 1) {
      throw new HubError('ERR_HUB_AUTH_INVALID_REQUEST', `the ${name} query parameter is repeated`)
    }
    const value = values[0]
    if (value !== undefined && value !== '') return { token: value, source: 'query', name }
  }

  const names = options.cookieNames === undefined ? DEFAULT_TOKEN_COOKIE_NAMES : (options.cookieNames ?? [])
  if (names.length > 0) {
    const cookies = parseCookies(request.headers.get('cookie'))
    for (const name of names) {
      const value = cookies.get(name)
      if (value !== undefined && value !== '') return { token: value, source: 'cookie', name }
    }
  }
  return null
}

/**
 * Parses a `Cookie` header (RFC 6265 §4.2.1) into the first value of each name. `Headers` joins repeated `Cookie`
 * headers with ", "; cookie values cannot contain commas (RFC 6265 §4.1.1 cookie-octet), so both separators split.
 */
function parseCookies(header: string | null): Map<string, string> {
  const cookies = new Map<string, string>()
  if (header === null) return cookies
  for (const pair of header.split(/[;,]/)) {
    const eq = pair.indexOf('=')
    if (eq < 0) continue
    const name = pair.slice(0, eq).trim()
    let value = pair.slice(eq + 1).trim()
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    // With the same name sent twice (different paths), the first is the most specific (RFC 6265 §5.4).
    if (name !== '' && !cookies.has(name)) cookies.set(name, value)
  }
  return cookies
}
