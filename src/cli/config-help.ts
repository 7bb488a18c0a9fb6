import { CONFIG_FIELDS, DEFAULT_CONFIG } from '../hub/index.js'

/**
 * The settings as help text: one line per setting with its flag, environment variable, default and meaning, for
 * `herald serve --help` and `herald check-config --help`.
 *
 * @example
 * ```ts
 * io.stdout.write(`Settings:\n${formatConfigFlags()}`)
 * ```
 */
export function formatConfigFlags(): string {
  const rows = CONFIG_FIELDS.map((f) => {
    const value = DEFAULT_CONFIG[f.key]
    const shown = Array.isArray(value) ? (value.length === 0 ? 'none' : value.join(',')) : value === null ? 'none' : String(value)
    const flag = f.kind === 'boolean' ? `${f.flag}, --no-${f.flag.slice(2)}` : `${f.flag} <${f.kind === 'list' ? 'a,b' : f.kind === 'duration' ? 'ms|30s' : f.kind === 'integer' ? 'n' : 'value'}>`
    return { flag, env: f.env, doc: `${f.doc}${f.choices === undefined || f.choices.length > 4 ? '' : ` (${f.choices.join('|')})`}; default ${shown}` }
  })
  const width = Math.max(...rows.map((r) => r.flag.length))
  const envWidth = Math.max(...rows.map((r) => r.env.length))
  return rows.map((r) => `  ${r.flag.padEnd(width)}  ${r.env.padEnd(envWidth)}  ${r.doc}\n`).join('')
}
