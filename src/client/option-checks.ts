import { DEFAULT_MAX_BUFFER_BYTES } from '../protocol/parse.js'
import { ClientError } from './errors.js'

// Options are checked once, at construction, and a bad one throws ERR_CLIENT_INVALID_OPTION. The checks take
// `unknown`: callers in plain JavaScript can pass anything.

/** Throws unless `value` is `undefined` or a non-null object. */
export function checkObject(name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    throw new ClientError('ERR_CLIENT_INVALID_OPTION', `${name} must be an object, not ${describeValue(value)}`)
  }
}

/** Validates `stallTimeoutMs`: a positive number of milliseconds, or `null`/absent for none. */
export function validateStallTimeout(value: unknown): number | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ClientError('ERR_CLIENT_INVALID_OPTION', `stallTimeoutMs must be a positive number of milliseconds or null, not ${describeValue(value)}`)
  }
  return value
}

/** Validates `maxBufferBytes`: a positive integer, or `null` for no cap. Absent means the parser's default. */
export function validateMaxBuffer(value: unknown): number | null {
  if (value === undefined) return DEFAULT_MAX_BUFFER_BYTES
  if (value === null) return null
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new ClientError('ERR_CLIENT_INVALID_OPTION', `maxBufferBytes must be a positive integer or null, not ${describeValue(value)}`)
  }
  return value
}

/**
 * Validates an initial `lastEventId`. It must be one that a stream could have set: no CR or LF (they end a line) and
 * no NULL ([spec] an id field containing U+0000 NULL is ignored).
 */
export function validateLastEventId(value: unknown): string {
  if (value === undefined) return ''
  if (typeof value !== 'string' || /[\r\n\0]/.test(value)) {
    throw new ClientError('ERR_CLIENT_INVALID_OPTION', 'lastEventId must be a string without CR, LF or NULL')
  }
  return value
}

/** Names a bad option value in an error message. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  if (typeof value === 'object') return Object.prototype.toString.call(value)
  return typeof value
}
