import { parseArgs } from 'node:util'
import { CliError } from './errors.js'

/** How one flag is read: a string value or a switch, possibly repeated. */
export interface FlagSpec {
  readonly type: 'string' | 'boolean'
  /** The flag may be given several times; its value is then an array. */
  readonly multiple?: boolean
  /** One-letter alias (`-t`). */
  readonly short?: string
}

/** The values {@link parseFlags} returns: a string, a boolean or a string array per flag given. */
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>

/**
 * Reads `--name value`, `--name=value` and switches from `args` with `node:util`'s `parseArgs` (strict: an unknown
 * flag or a positional argument is an error). Throws `ERR_CLI_USAGE` naming the problem.
 *
 * @example
 * ```ts
 * const flags = parseFlags(args, { url: { type: 'string' }, private: { type: 'boolean' } })
 * ```
 */
export function parseFlags(args: readonly string[], specs: Readonly<Record<string, FlagSpec>>): FlagValues {
  try {
    const { values } = parseArgs({ args: [...args], options: { ...specs, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false })
    return values
  } catch (error) {
    throw new CliError('ERR_CLI_USAGE', (error as Error).message, { cause: error })
  }
}

/** A string flag's value, or `undefined` when it is absent. */
export function optionalString(values: FlagValues, name: string): string | undefined {
  const value = values[name]
  return typeof value === 'string' ? value : undefined
}

/** A string flag's value. Throws `ERR_CLI_USAGE` when it is absent. */
export function requiredString(values: FlagValues, name: string): string {
  const value = optionalString(values, name)
  if (value === undefined) throw new CliError('ERR_CLI_USAGE', `--${name} is required`)
  return value
}

/** A repeated string flag's values (empty when absent). */
export function listFlag(values: FlagValues, name: string): string[] {
  const value = values[name]
  if (value === undefined) return []
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string')
}

/** Whether `args` asks for help (`--help` or `-h`). */
export function wantsHelp(args: readonly string[]): boolean {
  return args.includes('--help') || args.includes('-h')
}
