import { HeraldError } from '../protocol/errors.js'

/**
 * Every code the client can raise. Codes are `ERR_CLIENT_<WHAT>`, never renamed or reused; `docs/errors.md` lists
 * each one and says whether the client reconnects after it.
 */
export const CLIENT_ERROR_CODES = [
  'ERR_CLIENT_INVALID_OPTION',
  'ERR_CLIENT_INVALID_URL',
  'ERR_CLIENT_HTTP_STATUS',
  'ERR_CLIENT_CONTENT_TYPE',
  'ERR_CLIENT_NETWORK',
  'ERR_CLIENT_STREAM_ENDED',
  'ERR_CLIENT_STALLED',
  'ERR_CLIENT_BUFFER_OVERFLOW',
  'ERR_CLIENT_RETRIES_EXHAUSTED',
  'ERR_CLIENT_QUEUE_OVERFLOW',
  'ERR_CLIENT_DECODE_FAILED',
  'ERR_CLIENT_ABORTED',
] as const

/** A code raised by the client. */
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number]

/** What a {@link ClientError} may carry besides its code and message. */
export interface ClientErrorDetails {
  /** The HTTP status of the response that caused the error, when there was one. */
  status?: number
  /** The start of the response body (bounded), for an HTTP error answered by `fetchEventStream`. */
  body?: string
  /** The error behind this one: a network error, a `ProtocolError`, the last failure before giving up, … */
  cause?: unknown
}

/**
 * An error raised by the client (`EventSource`, `fetchEventStream`).
 *
 * Programmer errors (`ERR_CLIENT_INVALID_OPTION`, `ERR_CLIENT_INVALID_URL`) are thrown at construction. Connection
 * errors reach an `EventSource` as the `error` property of its `error` events, and are thrown by the iteration of a
 * `fetchEventStream`.
 *
 * @example
 * ```ts
 * source.onerror = (event) => {
 *   if (event.error.code === 'ERR_CLIENT_HTTP_STATUS' && event.error.status === 401) refreshToken()
 * }
 * ```
 */
export class ClientError extends HeraldError<ClientErrorCode> {
  /** The HTTP status of the response that caused the error, when there was one. */
  readonly status: number | undefined
  /** The start of the response body (at most `maxErrorBodyBytes`), when it was read. */
  readonly body: string | undefined

  constructor(code: ClientErrorCode, message: string, details: ClientErrorDetails = {}) {
    super(code, message, 'cause' in details ? { cause: details.cause } : undefined)
    this.name = 'ClientError'
    this.status = details.status
    this.body = details.body
  }
}
