import { CONFIG_FIELDS, DEVELOPMENT_JWT_KEY, loadConfig, type HubConfig } from '../../hub/index.js'
import { EXIT_OK } from '../cli-io.js'
import { formatConfigFlags } from '../config-help.js'
import { defineCommand } from '../define-command.js'

/** One line for `herald --help`. */
export const summary = 'validate the configuration and print every setting with its source'

/** `herald check-config --help`. */
export const help = `Usage: herald check-config [--json] [--config herald.json] [settings]

Reads the configuration exactly as 'herald serve' would (defaults, config file, HERALD_* environment, flags),
validates it, and prints every setting with where its value came from: default, mode (filled in by development
mode), file, env or flag. Secret keys are shown masked. Exit status 2 when the configuration is invalid; every
problem is listed.

  --json    print {"config":…,"sources":…,"file":…} instead of a table (keys masked the same way)

Settings (flag, environment variable, meaning):
${formatConfigFlags()}`

/**
 * `herald check-config`: validates the configuration and prints it with sources. Exit 2 on errors.
 *
 * @example
 * ```ts
 * await run(['--mode', 'development'], io)
 * ```
 */
export const run = defineCommand('check-config', help, (args, io) => {
  const json = args.includes('--json')
  const loaded = loadConfig({ argv: args.filter((a) => a !== '--json'), env: io.env, cwd: io.cwd })
  const shown = Object.fromEntries(CONFIG_FIELDS.map((f) => [f.key, display(f.key, loaded.config[f.key])]))
  if (json) {
    io.stdout.write(`${JSON.stringify({ config: shown, sources: loaded.sources, file: loaded.file ?? null }, null, 2)}\n`)
    return EXIT_OK
  }
  const rows = CONFIG_FIELDS.map((f) => [f.key, JSON.stringify(shown[f.key]), loaded.sources[f.key]] as const)
  const keyWidth = Math.max(...rows.map((r) => r[0].length))
  const valueWidth = Math.min(60, Math.max(...rows.map((r) => r[1].length)))
  io.stdout.write(`configuration is valid${loaded.file === undefined ? '' : ` (file: ${loaded.file})`}\n`)
  for (const [key, value, source] of rows) io.stdout.write(`  ${key.padEnd(keyWidth)}  ${value.padEnd(valueWidth)}  ${source}\n`)
  if (loaded.developmentKeys) io.stdout.write('note: the development key is in use; production mode refuses it\n')
  return EXIT_OK
})

/** A setting as shown: secrets masked; JWKS URLs, PEM public keys and the published development key are shown. */
function display(key: keyof HubConfig, value: HubConfig[keyof HubConfig]): unknown {
  if ((key !== 'publisherJwtKey' && key !== 'subscriberJwtKey') || typeof value !== 'string') return value
  if (value === DEVELOPMENT_JWT_KEY || /^https?:\/\//i.test(value)) return value
  if (value.includes('-----BEGIN')) return value.includes('PRIVATE KEY') ? '(private key: use the public key here)' : `(PEM, ${value.length} characters)`
  return `(secret, ${value.length} characters)`
}
