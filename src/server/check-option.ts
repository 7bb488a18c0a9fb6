import { ServerError } from './errors.js'

/**
 * Reads an optional positive safe integer option, throwing `ERR_SERVER_INVALID_OPTION` for anything else.
 * @internal
 */
export function checkPositiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ServerError('ERR_SERVER_INVALID_OPTION', `${name} must be a positive integer, not ${describe(value)}`)
  }
  return value
}

/**
 * Reads an optional option that is a positive number of milliseconds or `null` (off).
 * @internal
 */
export function checkMillisecondsOrNull(value: unknown, name: string, fallback: number | null): number | null {
  if (value === undefined) return fallback
  if (value === null) return null
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ServerError('ERR_SERVER_INVALID_OPTION', `${name} must be a positive number of milliseconds or null, not ${describe(value)}`)
  }
  return value
}

/**
 * Reads an optional option that is a number of milliseconds from `0` to `max`.
 * @internal
 */
export function checkMilliseconds(value: unknown, name: string, fallback: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new ServerError('ERR_SERVER_INVALID_OPTION', `${name} must be a number of milliseconds from 0 to ${max}, not ${describe(value)}`)
  }
  return value
}

/**
 * Reads an optional boolean option.
 * @internal
 */
export function checkBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new ServerError('ERR_SERVER_INVALID_OPTION', `${name} must be a boolean, not ${describe(value)}`)
  return value
}

/**
 * Reads an optional function option.
 * @internal
 */
export function checkFunction<T>(value: T | undefined, name: string, fallback: T): T {
  if (value === undefined) return fallback
  if (typeof value !== 'function') throw new ServerError('ERR_SERVER_INVALID_OPTION', `${name} must be a function, not ${describe(value)}`)
  return value
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return value === null ? 'null' : typeof value
}
