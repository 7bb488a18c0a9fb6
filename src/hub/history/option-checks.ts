// Construction-time option checks shared by the engines. Internal: not re-exported from index.ts.
import { HubError } from '../errors.js'

/** Reads an integer option: `undefined` gives `fallback`; anything but a safe integer >= `min` throws. */
export function integerOption(owner: string, name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new HubError('ERR_HUB_INVALID_OPTION', `${owner}: ${name} must be an integer >= ${min}, not ${String(value)}`)
  }
  return value
}

/** Like {@link integerOption}, and `null` is accepted: it switches the feature off. */
export function nullableIntegerOption(
  owner: string,
  name: string,
  value: number | null | undefined,
  fallback: number | null,
  min: number,
): number | null {
  if (value === null) return null
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new HubError('ERR_HUB_INVALID_OPTION', `${owner}: ${name} must be an integer >= ${min} or null, not ${String(value)}`)
  }
  return value
}

/** Reads an optional function option; `undefined` gives `fallback`. */
export function functionOption<F extends (...args: never[]) => unknown>(
  owner: string,
  name: string,
  value: F | undefined,
  fallback: F,
): F {
  if (value === undefined) return fallback
  if (typeof value !== 'function') {
    throw new HubError('ERR_HUB_INVALID_OPTION', `${owner}: ${name} must be a function, not ${typeof value}`)
  }
  return value
}

/** Throws `ERR_HUB_INVALID_OPTION` when `options` is neither `undefined` nor an object. */
export function checkOptionsObject(owner: string, options: unknown): void {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new HubError('ERR_HUB_INVALID_OPTION', `${owner}: options must be an object`)
  }
}

/** Throws `ERR_HUB_INVALID_OPTION` unless `value` is undefined or a non-empty string. */
export function stringOption(owner: string, name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || value.length === 0) {
    throw new HubError('ERR_HUB_INVALID_OPTION', `${owner}: ${name} must be a non-empty string`)
  }
  return value
}

/** Throws `ERR_HUB_INVALID_OPTION` unless `value` is undefined or an object. */
export function objectOption<T extends object>(owner: string, name: string, value: T | undefined): T | undefined {
  if (value !== undefined && (typeof value !== 'object' || (value as unknown) === null)) {
    throw new HubError('ERR_HUB_INVALID_OPTION', `${owner}: ${name} must be an object`)
  }
  return value
}

/** Throws `ERR_HUB_INVALID_OPTION` unless `value` is undefined or a boolean. */
export function booleanOption(owner: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new HubError('ERR_HUB_INVALID_OPTION', `${owner}: ${name} must be a boolean`)
  return value
}
