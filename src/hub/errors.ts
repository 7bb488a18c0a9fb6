import { HeraldError } from '../protocol/errors.js'

/**
 * Every code the hub can raise. Codes are `ERR_HUB_<WHAT>`, never renamed or reused; `docs/errors.md` lists each one
 * with the HTTP status it maps to.
 */
export const HUB_ERROR_CODES = [
  'ERR_HUB_INVALID_OPTION',
  'ERR_HUB_CONFIG_INVALID',
  'ERR_HUB_HISTORY_INVALID_UPDATE',
  'ERR_HUB_HISTORY_INVALID_QUERY',
  'ERR_HUB_HISTORY_CLOSED',
  'ERR_HUB_HISTORY_UNAVAILABLE',
  'ERR_HUB_HISTORY_OPEN_FAILED',
  'ERR_HUB_HISTORY_SCHEMA_UNSUPPORTED',
  'ERR_HUB_HISTORY_SCHEMA_INVALID',
  'ERR_HUB_HISTORY_ENTRY_INVALID',
  'ERR_HUB_HISTORY_UPDATE_TOO_LARGE',
  'ERR_HUB_HISTORY_STREAM_CONFLICT',
  'ERR_HUB_BROKER_CLOSED',
  'ERR_HUB_BROKER_LISTENER_FAILED',
  'ERR_HUB_BROKER_UNAVAILABLE',
  'ERR_HUB_BROKER_MESSAGE_INVALID',
  'ERR_HUB_BROKER_MESSAGE_TOO_LARGE',
  'ERR_HUB_ENGINE_UNAVAILABLE',
  'ERR_HUB_TOPIC_INVALID_SELECTOR',
  'ERR_HUB_TOPIC_SELECTOR_LIMIT',
  'ERR_HUB_AUTH_TOKEN_MISSING',
  'ERR_HUB_AUTH_TOKEN_MALFORMED',
  'ERR_HUB_AUTH_TOKEN_INVALID',
  'ERR_HUB_AUTH_TOKEN_EXPIRED',
  'ERR_HUB_AUTH_TOKEN_NOT_YET_VALID',
  'ERR_HUB_AUTH_CLAIMS_INVALID',
  'ERR_HUB_AUTH_INSUFFICIENT_SCOPE',
  'ERR_HUB_AUTH_ORIGIN_REJECTED',
  'ERR_HUB_AUTH_INVALID_REQUEST',
  'ERR_HUB_AUTH_KEYS_UNAVAILABLE',
  'ERR_HUB_AUTH_KEY_INVALID',
  'ERR_HUB_HTTP_TOPIC_MISSING',
  'ERR_HUB_HTTP_TOPIC_RESERVED',
  'ERR_HUB_HTTP_UPDATE_INVALID',
  'ERR_HUB_HTTP_BODY_TOO_LARGE',
  'ERR_HUB_HTTP_UNSUPPORTED_MEDIA_TYPE',
  'ERR_HUB_HTTP_NOT_FOUND',
  'ERR_HUB_HTTP_METHOD_NOT_ALLOWED',
  'ERR_HUB_HTTP_SHUTTING_DOWN',
  'ERR_HUB_HTTP_QUERY_INVALID',
  'ERR_HUB_HTTP_INTERNAL',
] as const

/** A code raised by the hub. */
export type HubErrorCode = (typeof HUB_ERROR_CODES)[number]

/** An error raised by the hub, its engines or its HTTP API. */
export class HubError extends HeraldError<HubErrorCode> {
  constructor(code: HubErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options)
    this.name = 'HubError'
  }
}

/**
 * The message of an error of unknown type: `error.message` for an `Error`, else the value as a string. For messages
 * that quote a cause.
 *
 * @example
 * ```ts
 * new HubError('ERR_HUB_HISTORY_UNAVAILABLE', `could not read: ${messageOf(cause)}`, { cause })
 * ```
 */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
