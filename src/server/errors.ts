import { HeraldError } from '../protocol/errors.js'

/**
 * Every code the server layer can raise. Codes are `ERR_SERVER_<WHAT>`, never renamed or reused; `docs/errors.md`
 * lists each one (a test keeps the two in step).
 *
 * Some codes are close reasons rather than thrown errors: a closed {@link Session} reports why it closed through
 * `session.closeReason` and `session.signal.reason`, a {@link ServerError} with one of these codes.
 */
export const SERVER_ERROR_CODES = [
  'ERR_SERVER_INVALID_OPTION',
  'ERR_SERVER_INVALID_EVENT',
  'ERR_SERVER_HEADERS_SENT',
  'ERR_SERVER_SESSION_CLOSED',
  'ERR_SERVER_CLIENT_GONE',
  'ERR_SERVER_SLOW_CONSUMER',
  'ERR_SERVER_WRITE_FAILED',
  'ERR_SERVER_SOURCE_FAILED',
  'ERR_SERVER_CHANNEL_CLOSED',
  'ERR_SERVER_REPLAY_FAILED',
] as const

/** A code raised by the server layer. */
export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number]

/**
 * An error raised by the server layer, or the reason a session closed.
 *
 * @example
 * ```ts
 * session.signal.addEventListener('abort', () => {
 *   if (session.closeReason?.code === 'ERR_SERVER_SLOW_CONSUMER') metrics.slowConsumers.inc()
 * })
 * ```
 */
export class ServerError extends HeraldError<ServerErrorCode> {
  constructor(code: ServerErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options)
    this.name = 'ServerError'
  }
}
