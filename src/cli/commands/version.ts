import { EXIT_OK } from '../cli-io.js'
import { packageVersion } from '../package-version.js'
import { parseFlags } from '../parse-flags.js'
import { defineCommand } from '../define-command.js'

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
export const run = defineCommand('version', help, (args, io) => {
  parseFlags(args, {})
  io.stdout.write(`herald-sse ${packageVersion()}\n`)
  return EXIT_OK
})
