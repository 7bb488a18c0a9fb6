import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { checkEngineNames, parseEngineUrl, redactEngineUrl, type EngineSetting, type EngineUrl } from '../engines-url.js'
import { HubError } from '../errors.js'
import { CONFIG_FIELDS, type ConfigField, DEFAULT_CONFIG, type HubConfig } from './config-schema.js'

/**
 * The JWT key development mode uses when none is set. Production mode refuses to start with it.
 * Publishers and subscribers in development sign with it (HS256); `herald serve` prints a ready token.
 */
export const DEVELOPMENT_JWT_KEY = 'herald-development-key-do-not-use-in-production'

/** Where each setting's value came from. */
export type ConfigSource = 'default' | 'mode' | 'file' | 'env' | 'flag'

/** What {@link loadConfig} reads. Each part is optional. */
export interface LoadConfigInput {
  /** Command-line flags (`--port 3000`, `--port=3000`, `--anonymous`, `--no-anonymous`, `--config herald.json`). */
  argv?: readonly string[]
  /** Environment variables (`HERALD_PORT`, …, `HERALD_CONFIG` for the config file). */
  env?: Readonly<Record<string, string | undefined>>
  /** Directory a relative config file path is resolved against, and where `herald.json` is looked for. */
  cwd?: string
}

/** A loaded, validated configuration. */
export interface LoadedConfig {
  /** The settings, frozen. */
  readonly config: Readonly<HubConfig>
  /** Where each value came from. */
  readonly sources: Readonly<Record<keyof HubConfig, ConfigSource>>
  /** The config file that was read, if any. */
  readonly file: string | undefined
  /** True when a JWT key is the development key (development mode without keys of its own). */
  readonly developmentKeys: boolean
}

const FIELDS_BY_KEY = new Map<string, ConfigField>(CONFIG_FIELDS.map((f) => [f.key, f]))
const FIELDS_BY_FLAG = new Map<string, ConfigField>(CONFIG_FIELDS.map((f) => [f.flag, f]))

/**
 * Reads the hub configuration from defaults, then the config file, then the environment, then flags (each later
 * source wins), and validates it once. Every problem found is reported at once in one `ERR_HUB_CONFIG_INVALID`
 * error whose message lists them, one per line, naming the source.
 *
 * Development mode fills in what a local try-out needs: anonymous subscribers, demos, subscriptions, and the
 * {@link DEVELOPMENT_JWT_KEY} for keys left unset. Production mode requires both keys and refuses the development key.
 *
 * @example
 * ```ts
 * const { config } = loadConfig({ argv: ['--port', '8080'], env: process.env })
 * ```
 */
export function loadConfig(input: LoadConfigInput = {}): LoadedConfig {
  const { argv = [], env = {}, cwd = process.cwd() } = input
  const problems: string[] = []
  const values: Record<string, unknown> = {}
  const sources: Record<string, ConfigSource> = {}

  const flags = readFlags(argv, problems)
  const explicitFile = flags.config ?? env.HERALD_CONFIG
  const file = explicitFile === undefined ? (existsSync(resolve(cwd, 'herald.json')) ? resolve(cwd, 'herald.json') : undefined) : resolve(cwd, explicitFile)
  if (file !== undefined) {
    for (const [key, raw] of Object.entries(readConfigFile(file, problems))) {
      const f = FIELDS_BY_KEY.get(key)
      if (f === undefined) {
        problems.push(`${file}: unknown setting "${key}"`)
        continue
      }
      set(f, raw, 'file', `${file}: ${key}`)
    }
  }
  for (const f of CONFIG_FIELDS) {
    const raw = env[f.env]
    if (raw !== undefined && raw !== '') set(f, raw, 'env', f.env)
  }
  for (const [flag, raw] of flags.settings) {
    const f = FIELDS_BY_FLAG.get(flag)
    if (f === undefined) problems.push(`unknown flag ${flag}`)
    else set(f, raw, 'flag', flag)
  }

  function set(f: ConfigField, raw: unknown, source: ConfigSource, where: string): void {
    const value = coerce(f, raw, where, problems)
    if (value === undefined) return
    values[f.key] = value
    sources[f.key] = source
  }

  const config: Record<string, unknown> = {}
  for (const f of CONFIG_FIELDS) {
    config[f.key] = f.key in values ? values[f.key] : DEFAULT_CONFIG[f.key]
    sources[f.key] ??= 'default'
  }
  const hub = config as unknown as HubConfig

  let developmentKeys = false
  if (hub.mode === 'development') {
    for (const key of ['anonymous', 'demos', 'subscriptions'] as const) {
      if (sources[key] === 'default') {
        hub[key] = true
        sources[key] = 'mode'
      }
    }
    for (const key of ['publisherJwtKey', 'subscriberJwtKey'] as const) {
      if (hub[key] === null) {
        hub[key] = DEVELOPMENT_JWT_KEY
        sources[key] = 'mode'
        developmentKeys = true
      }
    }
    if (hub.jwtAlg !== 'HS256' && developmentKeys) problems.push('jwtAlg: the development key is an HS256 secret; set your own keys for other algorithms')
  } else {
    for (const key of ['publisherJwtKey', 'subscriberJwtKey'] as const) {
      const f = FIELDS_BY_KEY.get(key) as ConfigField
      if (hub[key] === null) problems.push(`${key}: required in production mode (${f.env} or ${f.flag}); use --mode development to try Herald locally`)
      else if (hub[key] === DEVELOPMENT_JWT_KEY) problems.push(`${key}: production mode refuses the development key; generate a secret of your own`)
    }
  }
  checkEngine('history', hub.history, ['sqlite:', 'memory', 'redis://', 'rediss://', 'nats://'], problems)
  checkEngine('broker', hub.broker, ['memory', 'redis://', 'rediss://', 'nats://'], problems)
  checkEngineUrls(hub.history, hub.broker, problems)
  for (const origin of hub.corsOrigins) {
    if (origin !== '*' && !/^https?:\/\/[^/]+$/.test(origin)) problems.push(`corsOrigins: "${origin}" is not an origin (scheme://host[:port]) or *`)
  }

  if (problems.length > 0) {
    throw new HubError('ERR_HUB_CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`)
  }
  return Object.freeze({ config: Object.freeze(hub), sources: Object.freeze(sources as Record<keyof HubConfig, ConfigSource>), file, developmentKeys })
}

function checkEngine(key: string, value: string, prefixes: readonly string[], problems: string[]): void {
  if (!prefixes.some((p) => (p.endsWith(':') || p.endsWith('//') ? value.startsWith(p) : value === p))) {
    problems.push(`${key}: "${redactEngineUrl(value)}" is not one of ${prefixes.map((p) => (p.endsWith(':') ? `${p}PATH` : p.endsWith('//') ? `${p}…` : p)).join(', ')}`)
  }
}

/** The query parameters of Redis and NATS URLs (`?keyPrefix=…`, `?stream=…`, …), checked as `createEngines` will. */
function checkEngineUrls(historySpec: string, brokerSpec: string, problems: string[]): void {
  const read = (setting: EngineSetting, spec: string): EngineUrl | null | undefined => {
    try {
      return parseEngineUrl(setting, spec)
    } catch (error) {
      problems.push((error as Error).message)
      return null
    }
  }
  const history = read('history', historySpec)
  const broker = read('broker', brokerSpec)
  if (history === null || broker === null) return
  try {
    checkEngineNames(history, broker)
  } catch (error) {
    problems.push((error as Error).message)
  }
}

function readFlags(argv: readonly string[], problems: string[]): { config: string | undefined; settings: [string, unknown][] } {
  const settings: [string, unknown][] = []
  let config: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (!arg.startsWith('--')) {
      problems.push(`unexpected argument "${arg}"`)
      continue
    }
    const eq = arg.indexOf('=')
    let name = eq === -1 ? arg : arg.slice(0, eq)
    let value: unknown = eq === -1 ? undefined : arg.slice(eq + 1)
    if (name === '--config') {
      config = (value as string | undefined) ?? argv[++i]
      if (config === undefined) problems.push('--config needs a file path')
      continue
    }
    let f = FIELDS_BY_FLAG.get(name)
    if (f === undefined && name.startsWith('--no-')) {
      const positive = FIELDS_BY_FLAG.get(`--${name.slice(5)}`)
      if (positive?.kind === 'boolean' && value === undefined) {
        f = positive
        name = positive.flag
        value = false
      }
    }
    if (f?.kind === 'boolean' && value === undefined) value = true
    if (value === undefined) {
      const next = argv[i + 1]
      if (next === undefined || next.startsWith('--')) {
        problems.push(`${name} needs a value`)
        continue
      }
      value = next
      i++
    }
    settings.push([name, value])
  }
  return { config, settings }
}

function readConfigFile(file: string, problems: string[]): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    problems.push(`${file}: cannot read the config file (${(error as Error).message})`)
    return {}
  }
  try {
    const parsed: unknown = JSON.parse(text)
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      problems.push(`${file}: the config file must hold a JSON object`)
      return {}
    }
    return parsed as Record<string, unknown>
  } catch (error) {
    problems.push(`${file}: not valid JSON (${(error as Error).message})`)
    return {}
  }
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Turns a raw value (a string from env or flags, or a JSON value from the file) into the field's type. */
function coerce(f: ConfigField, raw: unknown, where: string, problems: string[]): unknown {
  const bad = (what: string): undefined => {
    problems.push(`${where}: ${what} (got ${JSON.stringify(raw)})`)
    return undefined
  }
  switch (f.kind) {
    case 'string': {
      if (raw === null && f.key !== 'mode' && f.key !== 'history' && f.key !== 'broker') return null
      if (typeof raw !== 'string') return bad('expected a string')
      if (f.choices !== undefined && !f.choices.includes(raw)) return bad(`expected one of ${f.choices.join(', ')}`)
      return raw
    }
    case 'integer': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN
      if (!Number.isSafeInteger(n)) return bad('expected a whole number')
      if (f.min !== undefined && n < f.min) return bad(`expected at least ${f.min}`)
      if (f.max !== undefined && n > f.max) return bad(`expected at most ${f.max}`)
      return n
    }
    case 'duration': {
      let n = NaN
      if (typeof raw === 'number') n = raw
      else if (typeof raw === 'string') {
        const m = DURATION.exec(raw.trim())
        if (m !== null) n = Math.round(Number(m[1]) * (UNIT_MS[m[2] ?? 'ms'] as number))
      }
      if (!Number.isSafeInteger(n)) return bad('expected milliseconds or a duration such as 30s, 5m, 24h')
      if (f.min !== undefined && n < f.min) return bad(`expected at least ${f.min} ms`)
      if (f.max !== undefined && n > f.max) return bad(`expected at most ${f.max} ms`)
      return n
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw
      if (typeof raw === 'string') {
        const v = raw.trim().toLowerCase()
        if (['1', 'true', 'yes', 'on'].includes(v)) return true
        if (['0', 'false', 'no', 'off'].includes(v)) return false
      }
      return bad('expected true or false')
    }
    case 'list': {
      if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) return raw
      if (typeof raw === 'string') return raw.split(',').map((s) => s.trim()).filter((s) => s !== '')
      return bad('expected a list of strings')
    }
  }
}
