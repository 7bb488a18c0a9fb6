import { HubError } from '../errors.js'
import type { AuthRequest } from './extract-token.js'

/**
 * Guards the publish endpoint against cross-site request forgery when the publisher authenticated with a cookie.
 *
 * The Mercure spec: "The publish endpoint of the hub may be targeted by Cross-Site Request Forgery (CSRF) attacks
 * when the cookie-based authorization mechanism is used. Therefore, implementations supporting this mechanism MUST
 * mitigate such attacks … hub implementations SHOULD use the Origin and Referer HTTP headers set by web browsers to
 * verify that the source origin matches the target origin. If none of these headers are available, the hub SHOULD
 * discard the request."
 *
 * The source origin is the `Origin` header, else the origin of the `Referer`. It must be one of `allowedOrigins`
 * (`'*'` allows any), or, when that list is not given, the request's own origin. Throws
 * `ERR_HUB_AUTH_ORIGIN_REJECTED` (403) otherwise, including for `Origin: null` and when neither header is present.
 *
 * @param allowedOrigins - Origins allowed to publish with a cookie, such as `https://app.example.com`.
 * @example
 * ```ts
 * if (found.source === 'cookie') checkPublishOrigin(request, ['https://app.example.com'])
 * ```
 * @see https://mercure.rocks/spec#security-considerations
 */
export function checkPublishOrigin(request: AuthRequest, allowedOrigins?: readonly string[]): void {
  let source = request.headers.get('origin')
  if (source === null) {
    const referer = request.headers.get('referer')
    if (referer !== null) source = originOf(referer) ?? 'null'
  }
  if (source === null) {
    throw new HubError(
      'ERR_HUB_AUTH_ORIGIN_REJECTED',
      'a publish request authorized by cookie must carry an Origin or Referer header',
    )
  }
  const allowed = allowedOrigins ?? [request.url.origin]
  if (allowed.includes('*') && source !== 'null') return
  const normalized = originOf(source)
  if (normalized !== undefined && allowed.some((origin) => originOf(origin) === normalized)) return
  throw new HubError(
    'ERR_HUB_AUTH_ORIGIN_REJECTED',
    `publishing with a cookie is not allowed from origin ${JSON.stringify(source)}`,
  )
}

/** The serialized origin of a URL, or `undefined` when it is not a URL or has an opaque origin. */
function originOf(value: string): string | undefined {
  try {
    const origin = new URL(value).origin
    return origin === 'null' ? undefined : origin
  } catch {
    return undefined
  }
}
