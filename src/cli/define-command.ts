import { EXIT_OK, type CliIo } from './cli-io.js'
import { wantsHelp } from './parse-flags.js'
import { reportError } from './report-error.js'

/** What every `cli/commands/<verb>.ts` exports as `run`. */
export type CommandRun = (args: readonly string[], io: CliIo) => Promise<number>

/**
 * Makes a command's `run`: `--help` (or `-h`) prints `help` and exits 0; otherwise `body` runs, and an error it
 * throws is reported on stderr with its code, as `herald <name>: …`, and turned into the exit status (2 for usage and
 * configuration errors, 1 otherwise).
 *
 * @example
 * ```ts
 * export const run = defineCommand('version', help, (args, io) => {
 *   parseFlags(args, {})
 *   io.stdout.write('herald-sse 1.0.0\n')
 *   return EXIT_OK
 * })
 * ```
 */
export function defineCommand(name: string, help: string, body: (args: readonly string[], io: CliIo) => number | Promise<number>): CommandRun {
  return async (args, io) => {
    if (wantsHelp(args)) {
      io.stdout.write(help)
      return EXIT_OK
    }
    try {
      return await body(args, io)
    } catch (error) {
      return reportError(io, name, error)
    }
  }
}
