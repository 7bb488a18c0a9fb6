import type { HubResponse } from './problem.js'

const ALLOWED_HEADERS = 'authorization, content-type, last-event-id, cache-control'
const MAX_AGE_SECONDS = '600'

/**
 * CORS response headers for a request from `origin`: the origin is echoed with credentials allowed (browsers send
 * the `mercureAuthorization` cookie cross-origin only then) when it is in `allowed`; `*` allows any origin without
 * credentials. No headers for an origin not allowed, or a same-origin request.
 */
export function corsHeaders(origin: string | null, allowed: readonly string[]): Record<string, string> {
  if (origin === null || allowed.length === 0) return {}
  if (allowed.includes(origin)) {
    return { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'last-event-id, link', vary: 'Origin' }
  }
  if (allowed.includes('*')) return { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'last-event-id, link' }
  return {}
}

/** Whether the request is a CORS preflight. */
export function isPreflight(method: string, headers: Headers): boolean {
  return method === 'OPTIONS' && headers.has('access-control-request-method')
}

/** The answer to a preflight: 204 with the allowed methods and headers for an allowed origin, 403 otherwise. */
export function preflightResponse(origin: string | null, allowed: readonly string[]): HubResponse {
  const cors = corsHeaders(origin, allowed)
  if (cors['access-control-allow-origin'] === undefined) return { status: 403, headers: { vary: 'Origin' }, body: '' }
  return {
    status: 204,
    headers: { ...cors, 'access-control-allow-methods': 'GET, POST, OPTIONS', 'access-control-allow-headers': ALLOWED_HEADERS, 'access-control-max-age': MAX_AGE_SECONDS },
    body: '',
  }
}
