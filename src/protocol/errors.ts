/**
 * Every code the protocol layer can raise. Codes are `ERR_<AREA>_<WHAT>`, never renamed or reused; `docs/errors.md`
 * lists each one (a test keeps the two in step).
 */
export const PROTOCOL_ERROR_CODES = [
  'ERR_PROTOCOL_BUFFER_OVERFLOW',
  'ERR_PROTOCOL_INVALID_ID',
  'ERR_PROTOCOL_INVALID_EVENT',
  'ERR_PROTOCOL_INVALID_RETRY',
  'ERR_PROTOCOL_INVALID_FIELD',
  'ERR_PROTOCOL_INVALID_OPTION',
  'ERR_PROTOCOL_INVALID_CHUNK',
] as const

/** A code raised by the protocol layer. */
export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number]

/**
 * The base class of every error Herald raises. `code` is stable and machine-readable; `message` is for people.
 *
 * Each layer narrows `Code` to its own closed union (`ProtocolErrorCode`, `ServerErrorCode`, …) and adds a subclass
 * only when it must carry data.
 *
 * @example
 * ```ts
 * if (error instanceof HeraldError && error.code === 'ERR_PROTOCOL_BUFFER_OVERFLOW') reconnect()
 * ```
 */
export class HeraldError<Code extends string = string> extends Error {
  /** The stable error code, `ERR_<AREA>_<WHAT>`. */
  readonly code: Code

  constructor(code: Code, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'HeraldError'
    this.code = code
  }
}

/** An error raised by the protocol layer (parser or encoder). */
export class ProtocolError extends HeraldError<ProtocolErrorCode> {
  constructor(code: ProtocolErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options)
    this.name = 'ProtocolError'
  }
}
