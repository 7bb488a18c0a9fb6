import type { Logger } from '../server/logger.js'
import type { TextOutput } from './cli-io.js'

/**
 * A {@link Logger} that writes one line per entry to `output` (the command's stderr): `herald: <level>: <message>`
 * followed by the details, errors shown by code and message. `debug` entries are dropped unless `debug` is set.
 *
 * @example
 * ```ts
 * const hub = createHub({ logger: createTextLogger(io.stderr) })
 * ```
 */
export function createTextLogger(output: TextOutput, options: { debug?: boolean; prefix?: string } = {}): Logger {
  const prefix = options.prefix ?? 'herald'
  const line = (level: string) => (message: string, details?: Record<string, unknown>) => {
    output.write(`${prefix}: ${level}: ${message}${details === undefined ? '' : ` ${formatDetails(details)}`}\n`)
  }
  return { ...(options.debug === true && { debug: line('debug') }), warn: line('warn'), error: line('error') }
}

function formatDetails(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([key, value]) => `${key}=${formatValue(value)}`)
    .join(' ')
}

function formatValue(value: unknown): string {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code
    const cause = value.cause instanceof Error ? ` (cause: ${value.cause.message})` : ''
    return `${typeof code === 'string' ? `${code}: ` : ''}${value.message}${cause}`
  }
  if (typeof value === 'string') return JSON.stringify(value)
  // JSON has no spelling for these; JSON.stringify would return undefined.
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return String(value)
  try {
    return JSON.stringify(value)
  } catch {
    // A BigInt or a cycle.
    return typeof value === 'bigint' ? `${value}n` : '(unserialisable)'
  }
}
