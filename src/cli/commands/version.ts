import { EXIT_OK, type CliIo } from '../cli-io.js'
import { packageVersion } from '../package-version.js'
import { parseFlags, wantsHelp } from '../parse-flags.js'
import { reportError } from '../report-error.js'

/** One line for `herald --help`. */
export const summary = 'print the version'

/** `herald version --help`. */
export const help = `Usage: herald version

Prints the version of herald-sse (also: herald --version).
`

/**
 * `herald version`: prints `herald-sse <version>`.
 *
 * @example
 * ```ts
 * await run([], io) // herald-sse 0.1.0
 * ```
 */
export function run(args: readonly string[], io: CliIo): Promise<number> {
  if (wantsHelp(args)) {
    io.stdout.write(help)
    return Promise.resolve(EXIT_OK)
  }
  try {
    parseFlags(args, {})
  } catch (error) {
    return Promise.resolve(reportError(io, 'version', error))
  }
  io.stdout.write(`herald-sse ${packageVersion()}\n`)
  return Promise.resolve(EXIT_OK)
}
