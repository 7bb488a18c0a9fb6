import { ClientError } from './errors.js'
import { checkObject, describeValue } from './option-checks.js'

/** The longest `Retry-After` the client honours by default: 10 minutes. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 600_000

/**
 * Which failed connection attempts are retried rather than final. Statuses that [spec] "fail the connection" are
 * final unless listed here; a 4xx other than 429 is always final, and so are 204 (the server's "stop reconnecting")
 * and every 1xx, 2xx and 3xx that reaches the client.
 */
export interface RetryOnOptions {
  /**
   * HTTP statuses to retry: `true` for 429 and every 5xx, or a list of statuses among 429 and 500–599 (any other
   * status in the list throws `ERR_CLIENT_INVALID_OPTION`). A `Retry-After` header (seconds or an HTTP-date) on such a
   * response sets the least delay before the next attempt, up to `maxRetryAfterMs`.
   * @defaultValue `false`
   */
  status?: boolean | readonly number[]
  /**
   * Retry after a network error: a refused or reset connection, a DNS failure, a TLS error.
   * @defaultValue `true` for `EventSource` (the spec reconnects), `false` for `fetchEventStream` (the request may not
   * be safe to send twice)
   */
  network?: boolean
  /**
   * The longest `Retry-After` honoured; a longer one waits this long instead.
   * @defaultValue {@link DEFAULT_MAX_RETRY_AFTER_MS} (600000)
   */
  maxRetryAfterMs?: number
}

/** {@link RetryOnOptions} with every default applied; frozen. */
export interface RetryPolicy {
  /** Whether a response with this status is retried. */
  retriesStatus(status: number): boolean
  /** Whether any status is retried. */
  readonly anyStatus: boolean
  readonly network: boolean
  readonly maxRetryAfterMs: number
}

/** Whether a status may ever be retried: 429 Too Many Requests and the 5xx server errors. */
function isTransientStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599)
}

/** Validates `retryOn` and applies the defaults. Throws `ERR_CLIENT_INVALID_OPTION` for a bad value. */
export function resolveRetryOn(options: RetryOnOptions | undefined, defaultNetwork: boolean): RetryPolicy {
  checkObject('retryOn', options)
  const status = options?.status ?? false
  const network = options?.network ?? defaultNetwork
  const maxRetryAfterMs = options?.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS
  if (typeof network !== 'boolean') throw new ClientError('ERR_CLIENT_INVALID_OPTION', 'retryOn.network must be a boolean')
  if (typeof maxRetryAfterMs !== 'number' || !Number.isFinite(maxRetryAfterMs) || maxRetryAfterMs < 0) {
    throw new ClientError('ERR_CLIENT_INVALID_OPTION', `retryOn.maxRetryAfterMs must be a non-negative number, not ${describeValue(maxRetryAfterMs)}`)
  }
  let retriesStatus: (status: number) => boolean
  let anyStatus: boolean
  if (typeof status === 'boolean') {
    retriesStatus = status ? isTransientStatus : () => false
    anyStatus = status
  } else if (Array.isArray(status)) {
    const listed = new Set<number>()
    for (const s of status as readonly unknown[]) {
      if (typeof s !== 'number' || !Number.isInteger(s) || !isTransientStatus(s)) {
        throw new ClientError('ERR_CLIENT_INVALID_OPTION', `retryOn.status may list only 429 and 500-599, not ${describeValue(s)}`)
      }
      listed.add(s)
    }
    retriesStatus = (s) => listed.has(s)
    anyStatus = listed.size > 0
  } else {
    throw new ClientError('ERR_CLIENT_INVALID_OPTION', 'retryOn.status must be a boolean or an array of statuses')
  }
  return Object.freeze({ retriesStatus, anyStatus, network, maxRetryAfterMs })
}
