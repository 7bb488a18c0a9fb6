import { DEFAULT_CONFIG } from '../../hub/index.js'
import { EXIT_OK } from '../cli-io.js'
import { parseFlags } from '../parse-flags.js'
import { defineCommand } from '../define-command.js'

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
export const run = defineCommand('default-config', help, (args, io) => {
  parseFlags(args, {})
  io.stdout.write(`${JSON.stringify(DEFAULT_CONFIG, null, 2)}\n`)
  return EXIT_OK
})
