import { HeraldError } from '../protocol/errors.js'
import { EXIT_FAILURE, EXIT_USAGE, type CliIo } from './cli-io.js'

/** Codes that mean the command was asked for something it cannot do as given: exit status 2. */
const USAGE_CODES: ReadonlySet<string> = new Set([
  'ERR_CLI_USAGE',
  'ERR_HUB_CONFIG_INVALID',
  'ERR_HUB_ENGINE_UNAVAILABLE',
  'ERR_HUB_INVALID_OPTION',
  'ERR_HUB_AUTH_KEY_INVALID',
])

/**
 * Prints `error` to stderr as `herald <verb>: <CODE>: <message>` (with its cause, when it has one) and returns the
 * exit status it maps to: 2 for usage and configuration errors, 1 for everything else.
 *
 * @example
 * ```ts
 * try { … } catch (error) { return reportError(io, 'publish', error) }
 * ```
 */
export function reportError(io: Pick<CliIo, 'stderr'>, verb: string, error: unknown): number {
  const code = errorCode(error)
  const message = error instanceof Error ? error.message : String(error)
  const cause = error instanceof Error && error.cause instanceof Error && !message.includes(error.cause.message) ? ` (${error.cause.message})` : ''
  io.stderr.write(`herald ${verb}: ${code === undefined ? '' : `${code}: `}${message}${cause}\n`)
  return exitStatusFor(code)
}

/** The exit status an error code maps to: 2 for usage and configuration errors, 1 for any other (or no) code. */
export function exitStatusFor(code: string | null | undefined): number {
  return typeof code === 'string' && USAGE_CODES.has(code) ? EXIT_USAGE : EXIT_FAILURE
}

/** The `code` of an error (a `HeraldError`'s, or a Node.js error's such as `EADDRINUSE`), if it has one. */
export function errorCode(error: unknown): string | undefined {
  if (error instanceof HeraldError) return error.code as string
  const code: unknown = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined
  return typeof code === 'string' ? code : undefined
}
