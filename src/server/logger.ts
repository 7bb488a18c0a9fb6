/**
 * Where the server layer reports what it cannot throw: a failing sink, a replay store that rejected, an iterator
 * whose `return()` threw. Every method is optional; `console` and pino-style loggers fit. The default logs nothing.
 *
 * @example
 * ```ts
 * createChannel({ logger: console })
 * ```
 */
export interface Logger {
  debug?(message: string, details?: Record<string, unknown>): void
  warn?(message: string, details?: Record<string, unknown>): void
  error?(message: string, details?: Record<string, unknown>): void
}

/** The logger used when none is given: it drops everything. */
export const silentLogger: Logger = Object.freeze({})
