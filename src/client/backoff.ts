import { ClientError } from './errors.js'
import { checkObject, describeValue } from './option-checks.js'

/**
 * The reconnection time before the server sets one with a `retry` field: 3 s. [spec] "A reconnection time, in
 * milliseconds. This must initially be an implementation-defined value, probably in the region of a few seconds."
 */
export const DEFAULT_INITIAL_RECONNECT_MS = 3_000
/** The default cap on the jittered backoff: 30 s. */
export const DEFAULT_MAX_BACKOFF_MS = 30_000
/** The longest delay a timer can wait (2^31 - 1 ms, about 24.8 days); longer ones fire at once in every runtime. */
const MAX_TIMER_MS = 2_147_483_647
/**
 * The least base the exponential span grows from. A server may ask for `retry: 0`; after repeated failures the span
 * still doubles from here, so a refused connection is never retried in a tight loop for long.
 */
const MIN_GROWTH_MS = 10

/** How reconnections back off after consecutive failures. Every field is optional. */
export interface BackoffOptions {
  /**
   * The reconnection time until the server sends a `retry` field, which then replaces it as the base.
   * @defaultValue {@link DEFAULT_INITIAL_RECONNECT_MS} (3000)
   */
  initialMs?: number
  /**
   * The cap on the jittered backoff. A base (`initialMs` or the server's `retry`) larger than this still wins: the
   * spec's wait of one reconnection time is never cut short.
   * @defaultValue {@link DEFAULT_MAX_BACKOFF_MS} (30000)
   */
  maxMs?: number
  /**
   * The most consecutive reconnection attempts that may fail before the client gives up with
   * `ERR_CLIENT_RETRIES_EXHAUSTED`. An attempt counts as failed unless its connection delivered an event or a new
   * last event ID (comments and `retry` fields do not count). `null` never gives up.
   * @defaultValue `null` for `EventSource` (like a browser's), 3 for `fetchEventStream`
   */
  maxAttempts?: number | null
}

/** {@link BackoffOptions} with every default applied; frozen. */
export interface ResolvedBackoff {
  readonly initialMs: number
  readonly maxMs: number
  readonly maxAttempts: number | null
}

/**
 * Validates backoff options and applies the defaults. Throws `ERR_CLIENT_INVALID_OPTION` for a negative or
 * non-finite time, or a `maxAttempts` that is not a non-negative integer or `null`.
 */
export function resolveBackoff(options: BackoffOptions | undefined, defaultMaxAttempts: number | null): ResolvedBackoff {
  checkObject('backoff', options)
  const initialMs = options?.initialMs ?? DEFAULT_INITIAL_RECONNECT_MS
  const maxMs = options?.maxMs ?? DEFAULT_MAX_BACKOFF_MS
  const maxAttempts = options?.maxAttempts === undefined ? defaultMaxAttempts : options.maxAttempts
  checkMs('backoff.initialMs', initialMs)
  checkMs('backoff.maxMs', maxMs)
  if (maxAttempts !== null && (typeof maxAttempts !== 'number' || !Number.isInteger(maxAttempts) || maxAttempts < 0)) {
    throw new ClientError('ERR_CLIENT_INVALID_OPTION', `backoff.maxAttempts must be a non-negative integer or null, not ${describeValue(maxAttempts)}`)
  }
  return Object.freeze({ initialMs, maxMs, maxAttempts })
}

/**
 * The delay before reconnection attempt number `attempt` (1 for the first reconnection after a working connection,
 * 2 after that one failed too, …).
 *
 * [spec] "Wait a delay equal to the reconnection time of the event source. Optionally, wait some more. In particular,
 * if the previous attempt failed, then user agents might introduce an exponential backoff delay to avoid overloading
 * a potentially already overloaded server." So the delay is the reconnection time `baseMs`, plus full jitter over the
 * exponential span above it: uniform in `[baseMs, min(maxMs, baseMs * 2^(attempt-1))]`. The first attempt waits
 * exactly `baseMs`; a `baseMs` above `maxMs` is waited in full.
 *
 * @param random - a number in `[0, 1)`, normally `Math.random()`
 *
 * @example
 * ```ts
 * backoffDelay(1, 1000, 30_000, Math.random()) // 1000
 * backoffDelay(3, 1000, 30_000, 0.5)           // 2500: half way between 1000 and 4000
 * ```
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: number): number {
  if (attempt <= 1) return Math.min(baseMs, MAX_TIMER_MS)
  // 2^(attempt-1) overflows to Infinity for huge attempt counts; Math.min keeps the span finite.
  const span = Math.min(maxMs, Math.max(baseMs, MIN_GROWTH_MS) * 2 ** (attempt - 1))
  const delay = span > baseMs ? baseMs + random * (span - baseMs) : baseMs
  return Math.min(Math.round(delay), MAX_TIMER_MS)
}

function checkMs(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ClientError('ERR_CLIENT_INVALID_OPTION', `${name} must be a non-negative number of milliseconds, not ${describeValue(value)}`)
  }
}
