import { HeraldError } from '../protocol/errors.js'

/**
 * Every code the `herald` command can raise. Codes are `ERR_CLI_<WHAT>`, never renamed or reused; `docs/errors.md`
 * lists each one with the exit status it maps to.
 */
export const CLI_ERROR_CODES = [
  'ERR_CLI_USAGE',
  'ERR_CLI_REQUEST_FAILED',
  'ERR_CLI_STREAM_REFUSED',
  'ERR_CLI_WORKER_FAILED',
] as const

/** A code raised by the `herald` command. */
export type CliErrorCode = (typeof CLI_ERROR_CODES)[number]

/** An error raised by the `herald` command. */
export class CliError extends HeraldError<CliErrorCode> {
  constructor(code: CliErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options)
    this.name = 'CliError'
  }
}
