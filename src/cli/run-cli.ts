import { EXIT_OK, EXIT_USAGE, type CliIo, type Command } from './cli-io.js'
import * as checkConfig from './commands/check-config.js'
import * as defaultConfig from './commands/default-config.js'
import * as genToken from './commands/gen-token.js'
import * as publish from './commands/publish.js'
import * as serve from './commands/serve.js'
import * as subscribe from './commands/subscribe.js'
import * as version from './commands/version.js'

interface CommandModule {
  readonly run: Command
  readonly summary: string
}

/** The verbs of the `herald` command, in the order `herald --help` lists them. */
export const COMMANDS: Readonly<Record<string, CommandModule>> = Object.freeze({
  serve,
  publish,
  subscribe,
  'gen-token': genToken,
  'check-config': checkConfig,
  'default-config': defaultConfig,
  version,
})

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((v) => v.length))
  const verbs = Object.entries(COMMANDS)
    .map(([verb, command]) => `  ${verb.padEnd(width)}  ${command.summary}\n`)
    .join('')
  return `Usage: herald <command> [flags]

Herald: real-time push over Server-Sent Events, with a Mercure-protocol hub.

Commands:
${verbs}
Run 'herald <command> --help' for a command's flags. Start trying it with:
  herald serve --mode development
`
}

/**
 * Runs the `herald` command line: `argv` is what follows the program name (`['serve', '--port', '3000']`).
 * Resolves with the exit status; never exits the process (`main.ts` does).
 *
 * @example
 * ```ts
 * const status = await runCli(['version'], { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), signal })
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [verb, ...args] = argv
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    const topic = verb === 'help' ? args[0] : undefined
    if (topic !== undefined && Object.hasOwn(COMMANDS, topic)) return (COMMANDS[topic] as CommandModule).run(['--help'], io)
    ;(verb === undefined ? io.stderr : io.stdout).write(usage())
    return verb === undefined ? EXIT_USAGE : EXIT_OK
  }
  if (verb === '--version' || verb === '-v') return version.run([], io)
  if (!Object.hasOwn(COMMANDS, verb)) {
    io.stderr.write(`herald: ERR_CLI_USAGE: unknown command ${JSON.stringify(verb)}\n\n${usage()}`)
    return EXIT_USAGE
  }
  return (COMMANDS[verb] as CommandModule).run(args, io)
}
