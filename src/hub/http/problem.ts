import { HeraldError } from '../../protocol/errors.js'
import type { HubErrorCode } from '../errors.js'

/**
 * The one table from hub error code to HTTP status. Codes not listed here answer 500. The statuses that stop an
 * `EventSource` for good are 204, 401, 403 and every non-200 status without `text/event-stream`; 503 invites a retry.
 */
export const HUB_ERROR_STATUS: Readonly<Partial<Record<HubErrorCode, number>>> = Object.freeze({
  ERR_HUB_HISTORY_CLOSED: 503,
  ERR_HUB_HISTORY_UNAVAILABLE: 503,
  ERR_HUB_HISTORY_INVALID_UPDATE: 400,
  ERR_HUB_HISTORY_UPDATE_TOO_LARGE: 413,
  ERR_HUB_HISTORY_STREAM_CONFLICT: 503,
  ERR_HUB_BROKER_CLOSED: 503,
  ERR_HUB_BROKER_UNAVAILABLE: 503,
  ERR_HUB_BROKER_MESSAGE_TOO_LARGE: 413,
  ERR_HUB_ENGINE_UNAVAILABLE: 503,
  ERR_HUB_TOPIC_INVALID_SELECTOR: 400,
  ERR_HUB_TOPIC_SELECTOR_LIMIT: 400,
  ERR_HUB_AUTH_TOKEN_MISSING: 401,
  ERR_HUB_AUTH_TOKEN_MALFORMED: 401,
  ERR_HUB_AUTH_TOKEN_INVALID: 401,
  ERR_HUB_AUTH_TOKEN_EXPIRED: 401,
  ERR_HUB_AUTH_TOKEN_NOT_YET_VALID: 401,
  ERR_HUB_AUTH_CLAIMS_INVALID: 401,
  ERR_HUB_AUTH_INSUFFICIENT_SCOPE: 403,
  ERR_HUB_AUTH_ORIGIN_REJECTED: 403,
  ERR_HUB_AUTH_INVALID_REQUEST: 400,
  ERR_HUB_AUTH_KEYS_UNAVAILABLE: 503,
  ERR_HUB_HTTP_TOPIC_MISSING: 400,
  ERR_HUB_HTTP_TOPIC_RESERVED: 403,
  ERR_HUB_HTTP_UPDATE_INVALID: 400,
  ERR_HUB_HTTP_BODY_TOO_LARGE: 413,
  ERR_HUB_HTTP_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_HUB_HTTP_NOT_FOUND: 404,
  ERR_HUB_HTTP_METHOD_NOT_ALLOWED: 405,
  ERR_HUB_HTTP_SHUTTING_DOWN: 503,
  ERR_HUB_HTTP_QUERY_INVALID: 400,
})

/** The `WWW-Authenticate` error attribute (RFC 6750 §3.1) for each 401/403/400 auth code. */
const BEARER_ERROR: Readonly<Partial<Record<HubErrorCode, string>>> = {
  ERR_HUB_AUTH_TOKEN_MALFORMED: 'invalid_token',
  ERR_HUB_AUTH_TOKEN_INVALID: 'invalid_token',
  ERR_HUB_AUTH_TOKEN_EXPIRED: 'invalid_token',
  ERR_HUB_AUTH_TOKEN_NOT_YET_VALID: 'invalid_token',
  ERR_HUB_AUTH_CLAIMS_INVALID: 'invalid_token',
  ERR_HUB_AUTH_INSUFFICIENT_SCOPE: 'insufficient_scope',
  ERR_HUB_AUTH_INVALID_REQUEST: 'invalid_request',
}

/** A response the hub's HTTP layer sends: status, headers and a complete body. */
export interface HubResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/**
 * Turns an error into an RFC 9457 `application/problem+json` response with the error's code. Errors that are not
 * Herald's become a 500 without details (the cause goes to the logger, never to the client).
 */
export function problemResponse(error: unknown): HubResponse {
  const code = error instanceof HeraldError ? (error.code as HubErrorCode) : undefined
  const status = (code !== undefined ? HUB_ERROR_STATUS[code] : undefined) ?? 500
  const headers: Record<string, string> = { 'content-type': 'application/problem+json', 'cache-control': 'no-store' }
  if (status === 401 || (code !== undefined && BEARER_ERROR[code] !== undefined)) {
    const attribute = code !== undefined ? BEARER_ERROR[code] : undefined
    headers['www-authenticate'] = attribute === undefined ? 'Bearer realm="herald"' : `Bearer realm="herald", error="${attribute}"`
  }
  if (status === 503) headers['retry-after'] = '1'
  const body =
    status === 500 || code === undefined
      ? { type: 'about:blank', title: 'Internal Server Error', status: 500, code: 'ERR_HUB_HTTP_INTERNAL' }
      : { type: 'about:blank', title: TITLES[status] ?? 'Error', status, code, detail: (error as Error).message }
  return { status: body.status, headers, body: JSON.stringify(body) }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  503: 'Service Unavailable',
}
