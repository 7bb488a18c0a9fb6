import { DEFAULT_CONFIG } from '../../hub/index.js'
import { EXIT_OK, type CliIo } from '../cli-io.js'
import { parseFlags, wantsHelp } from '../parse-flags.js'
import { reportError } from '../report-error.js'

/** One line for `herald --help`. */
export const summary = 'print the default configuration as JSON (a starting herald.json)'

/** `herald default-config --help`. */
export const help = `Usage: herald default-config

Prints every setting with its default value as JSON, ready to save as herald.json and edit:
  herald default-config > herald.json
`

/**
 * `herald default-config`: prints `DEFAULT_CONFIG` as JSON.
 *
 * @example
 * ```ts
 * await run([], io)
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
    return Promise.resolve(reportError(io, 'default-config', error))
  }
  io.stdout.write(`${JSON.stringify(DEFAULT_CONFIG, null, 2)}\n`)
  return Promise.resolve(EXIT_OK)
}
