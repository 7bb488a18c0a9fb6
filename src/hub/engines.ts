import { isAbsolute, resolve } from 'node:path'
import type { Broker } from './broker/broker.js'
import { MemoryBroker } from './broker/memory-broker.js'
import {
  brokerOptions,
  brokerTailsHistory,
  checkEngineNames,
  historyCopyChannel,
  historyOptions,
  parseEngineUrl,
  redactEngineUrl,
  type EngineUrl,
  type UrlEngine,
} from './engines-url.js'
import { HubError } from './errors.js'
import type { HistoryStore } from './history/history-store.js'
import { MemoryHistory } from './history/memory-history.js'
import { SqliteHistory } from './history/sqlite-history.js'

/** What {@link createEngines} reads: the engine settings of the hub configuration (`HubConfig` fits). */
export interface EngineSettings {
  /**
   * `sqlite:PATH` (SQLite file), `memory`, `redis://…` / `rediss://…` (`?keyPrefix=…` names the keys) or `nats://…`
   * (`?stream=…&subjectPrefix=…` names the stream and its subjects).
   */
  readonly history: string
  /**
   * `memory`, `redis://…` / `rediss://…` (`?channel=…` names the pub/sub channel) or `nats://…` (`?subject=…` names
   * the subject).
   */
  readonly broker: string
  /** The most updates history keeps. @defaultValue the engine's own default */
  readonly historySize?: number
  /** How long history keeps an update, in milliseconds. @defaultValue the engine's own default */
  readonly historyMaxAgeMs?: number
}

/** Options of {@link createEngines}. Every field is optional. */
export interface CreateEnginesOptions {
  /** The directory a relative `sqlite:PATH` is resolved against. @defaultValue `process.cwd()` */
  readonly cwd?: string
  /**
   * Receives errors the engines report without failing a call (a failed batch deletion in SQLite, a broker listener
   * that threw). @defaultValue a function that ignores them
   */
  readonly onError?: (error: HubError) => void
}

/** Options of {@link createBroker}. Every field is optional. */
export interface CreateBrokerOptions extends CreateEnginesOptions {
  /**
   * The history setting the broker goes with (`EngineSettings.history`). When it is a Redis or NATS URL of the same
   * server as the broker URL, naming the same history, the broker is a `RedisStreamBroker` or `NatsStreamBroker`,
   * which delivers updates by tailing the history's stream, in history order; otherwise a `RedisBroker` or
   * `NatsBroker` (pub/sub). See {@link createEngines} for the rule.
   *
   * @defaultValue none: a `redis://` broker is a `RedisBroker`, a `nats://` one a `NatsBroker`
   */
  readonly history?: string
}

/** A history store and a broker, ready to hand to `createHub`. */
export interface Engines {
  readonly history: HistoryStore
  readonly broker: Broker
}

/** The optional engines, loaded on demand so that their packages stay optional peers. */
interface OptionalEngine {
  readonly name: string
  /** The engine module, relative to this file. */
  readonly module: string
  /** The packages it needs, for the error message. */
  readonly packages: readonly string[]
  readonly history: string
  readonly broker: string
  /** The broker that tails the history, used when broker and history are the same server. */
  readonly streamBroker: string
}

const REDIS: OptionalEngine = { name: 'Redis', module: './redis/index.js', packages: ['redis'], history: 'RedisHistory', broker: 'RedisBroker', streamBroker: 'RedisStreamBroker' }
const NATS: OptionalEngine = {
  name: 'NATS',
  module: './nats/index.js',
  packages: ['@nats-io/transport-node', '@nats-io/jetstream'],
  history: 'NatsHistory',
  broker: 'NatsBroker',
  streamBroker: 'NatsStreamBroker',
}

const OPTIONAL_ENGINES: Readonly<Record<UrlEngine, OptionalEngine>> = { redis: REDIS, nats: NATS }

type EngineConstructor<T> = new (options: Record<string, unknown>) => T

/**
 * Builds the history store and the broker a configuration names:
 *
 * - `sqlite:PATH` → {@link SqliteHistory} on that file (relative to `cwd`; `sqlite::memory:` for a private in-memory
 *   database), bounded by `historySize` and `historyMaxAgeMs`;
 * - `memory` → {@link MemoryHistory} / {@link MemoryBroker} (one process);
 * - `redis://…`, `rediss://…` → `RedisHistory` / `RedisBroker`, `nats://…` → `NatsHistory` / `NatsBroker`, loaded
 *   with a dynamic `import()` so their packages (`redis`, `@nats-io/*`) are needed only when used. Query parameters
 *   set the engines' names and are removed before the URL reaches the client library: `keyPrefix` and `channel` on
 *   Redis (`redis://cache:6379/0?keyPrefix=myapp:&channel=myapp:broker`), `stream`, `subjectPrefix` and `subject`
 *   on NATS (`nats://nats:4222?stream=MYAPP&subjectPrefix=myapp.history&subject=myapp.broker`). Both settings
 *   accept every parameter of their engine, so one URL can serve as both; the history reads its names (`keyPrefix`;
 *   `stream`, `subjectPrefix`), the broker its own (`channel`; `subject`);
 * - a Redis or NATS broker URL that reaches the same server as the history URL (same scheme, credentials, host as
 *   written, port and, on Redis, database, defaults filled in) and names no other history (a `keyPrefix`, `stream`
 *   or `subjectPrefix` on the broker URL, if any, is the history's) → `RedisStreamBroker` / `NatsStreamBroker`,
 *   which deliver updates in history order (see `docs/scale-out.md`). The same URL given twice always qualifies. On
 *   Redis, the history's append script then sends the copies for nodes of the cluster on `RedisBroker` (its
 *   `copyChannel` is the broker's channel) and the stream broker sends none (`channel: null`): a publish costs one
 *   round trip to Redis.
 *
 * When the broker cannot be built, the history already opened is closed before the error propagates.
 *
 * @throws `ERR_HUB_INVALID_OPTION` for a string that names no engine, an unknown, repeated or invalid query parameter
 * (the message names it and the accepted ones), or a NATS broker subject inside the history's subjects, before
 * anything is opened; `ERR_HUB_ENGINE_UNAVAILABLE` when the optional package of a Redis or NATS engine is not
 * installed (the message names it); the engines' own construction errors (`ERR_HUB_HISTORY_OPEN_FAILED`, …).
 * @example
 * ```ts
 * const { config } = loadConfig({ argv: process.argv.slice(2), env: process.env })
 * const { history, broker } = await createEngines(config)
 * const hub = createHub({ history, broker })
 * ```
 */
export async function createEngines(settings: EngineSettings, options: CreateEnginesOptions = {}): Promise<Engines> {
  // Every URL problem is found before anything connects.
  checkEngineNames(parseEngineUrl('history', settings.history), parseEngineUrl('broker', settings.broker))
  const history = await createHistory(settings, options)
  try {
    return { history, broker: await createBroker(settings.broker, { ...options, history: settings.history }) }
  } catch (error) {
    await history.close().catch(() => undefined)
    throw error
  }
}

/**
 * Builds the history store named by `settings.history` (see {@link createEngines}); a Redis or NATS URL's query
 * parameters set its names (`keyPrefix`; `stream`, `subjectPrefix`). When `settings.broker` is a Redis broker that
 * tails this Redis history, the history copies each update to the broker's channel, for pub/sub nodes (its
 * `copyChannel`): pair it with the broker {@link createBroker} builds from the same settings, which sends no copies.
 *
 * @throws `ERR_HUB_INVALID_OPTION` for a setting that names no engine or an unknown, repeated or invalid query
 *   parameter; `ERR_HUB_ENGINE_UNAVAILABLE`; the engine's own construction errors.
 * @example
 * ```ts
 * const history = await createHistory({ history: 'sqlite:./herald.db', broker: 'memory', historySize: 50_000 })
 * const named = await createHistory({ history: 'redis://cache:6379/0?keyPrefix=myapp:', broker: 'memory' })
 * ```
 */
export async function createHistory(settings: EngineSettings, options: CreateEnginesOptions = {}): Promise<HistoryStore> {
  const spec = settings.history
  const bounds = {
    ...(settings.historySize !== undefined && { maxEntries: settings.historySize }),
    ...(settings.historyMaxAgeMs !== undefined && { maxAgeMs: settings.historyMaxAgeMs }),
  }
  if (spec.startsWith('sqlite:')) {
    const file = spec.slice('sqlite:'.length)
    if (file === '') throw new HubError('ERR_HUB_INVALID_OPTION', 'history "sqlite:" needs a file path, e.g. sqlite:./herald.db')
    const path = file === ':memory:' || isAbsolute(file) ? file : resolve(options.cwd ?? process.cwd(), file)
    return new SqliteHistory({ path, ...bounds, ...(options.onError !== undefined && { onError: options.onError }) })
  }
  if (spec === 'memory') return new MemoryHistory(bounds)
  const parsed = parseEngineUrl('history', spec)
  if (parsed === undefined) throw new HubError('ERR_HUB_INVALID_OPTION', `history "${redactEngineUrl(spec)}" is not sqlite:PATH, memory, redis://… or nats://…`)
  const engine = OPTIONAL_ENGINES[parsed.engine]
  const History = await loadEngine<HistoryStore>(engine, engine.history)
  const copyChannel = historyCopyChannel(parsed, brokerUrlOf(settings.broker))
  return new History({
    url: parsed.url,
    ...historyOptions(parsed),
    ...bounds,
    ...(copyChannel !== undefined && { copyChannel }),
    ...(options.onError !== undefined && { onError: options.onError }),
  })
}

/**
 * Builds the broker named by `spec` (see {@link createEngines}); pass the history setting as `options.history` so
 * that a broker on the history's own Redis or NATS tails the history (`RedisStreamBroker`, `NatsStreamBroker`). A
 * Redis or NATS URL's query parameters set its names (`channel`; `subject`); a broker that tails takes the history's
 * names from `options.history`. A `RedisStreamBroker` built here sends no copies for pub/sub nodes: the history
 * {@link createHistory} builds from the same settings does.
 *
 * @throws `ERR_HUB_INVALID_OPTION` for a setting that names no engine, an unknown, repeated or invalid query
 *   parameter (of `spec` or `options.history`), or a NATS broker subject inside the history's subjects;
 *   `ERR_HUB_ENGINE_UNAVAILABLE`; the engine's own construction errors.
 * @example
 * ```ts
 * const broker = await createBroker('redis://127.0.0.1:6379', { history: config.history })
 * ```
 */
export async function createBroker(spec: string, options: CreateBrokerOptions = {}): Promise<Broker> {
  const onError = options.onError !== undefined ? { onError: options.onError } : {}
  if (spec === 'memory') return new MemoryBroker(onError)
  const parsed = parseEngineUrl('broker', spec)
  if (parsed === undefined) throw new HubError('ERR_HUB_INVALID_OPTION', `broker "${redactEngineUrl(spec)}" is not memory, redis://… or nats://…`)
  const history = options.history === undefined ? undefined : parseEngineUrl('history', options.history)
  checkEngineNames(history, parsed)
  const engine = OPTIONAL_ENGINES[parsed.engine]
  const tails = brokerTailsHistory(parsed, history)
  const Broker = await loadEngine<Broker>(engine, tails ? engine.streamBroker : engine.broker)
  // A Redis history built from the same settings copies each update to the broker's channel in its append script.
  const copies = historyCopyChannel(history, parsed) !== undefined ? { channel: null } : {}
  return new Broker({ url: parsed.url, ...brokerOptions(parsed, history, tails), ...copies, ...onError })
}

/** The broker setting as an engine URL, or `undefined` for `memory` and for a setting only `createBroker` should refuse. */
function brokerUrlOf(spec: string): EngineUrl | undefined {
  try {
    return parseEngineUrl('broker', spec)
  } catch {
    // An invalid broker URL is the broker's error to report, when it is built; the history does not depend on it.
    return undefined
  }
}

/** The part of Node's module-not-found message that names what is missing: a package or a file. */
const NOT_FOUND = /Cannot find (?:package|module) '([^']+)'/

async function loadEngine<T>(engine: OptionalEngine, exportName: string): Promise<EngineConstructor<T>> {
  let loaded: Record<string, unknown>
  try {
    // A computed specifier: the engine module and its packages are loaded only when configured.
    const specifier: string = engine.module
    loaded = (await import(specifier)) as Record<string, unknown>
  } catch (error) {
    const missing = notFound(error)
    if (missing === undefined) throw error
    const install = `npm install ${engine.packages.join(' ')}`
    const message = engine.packages.some((name) => missing === name || missing.startsWith(`${name}/`))
      ? `the ${engine.name} engine needs the optional package ${missing}, which is not installed: ${install}`
      : `the ${engine.name} engine is not available in this build of Herald (${missing} not found); it needs ${engine.packages.join(' and ')}`
    throw new HubError('ERR_HUB_ENGINE_UNAVAILABLE', message, { cause: error })
  }
  const constructor = loaded[exportName]
  if (typeof constructor !== 'function') {
    throw new HubError('ERR_HUB_ENGINE_UNAVAILABLE', `the ${engine.name} engine module does not export ${exportName}`)
  }
  return constructor as EngineConstructor<T>
}

/** What a module-not-found error says is missing, or `undefined` for any other error. */
function notFound(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const { code, message } = error as { code?: unknown; message?: unknown }
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND' && !(typeof message === 'string' && message.includes('Failed to load url'))) {
    return undefined
  }
  if (typeof message !== 'string') return 'a module'
  return NOT_FOUND.exec(message)?.[1] ?? /Failed to load url (\S+)/.exec(message)?.[1] ?? 'a module'
}
