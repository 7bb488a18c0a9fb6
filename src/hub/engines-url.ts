// Engine URLs with names: `redis://host:6379/0?keyPrefix=myapp:&channel=myapp:broker`,
// `nats://host:4222?stream=MYAPP&subjectPrefix=myapp.history&subject=myapp.broker`. Read by createEngines and by
// loadConfig (so that `herald check-config` reports a bad parameter). No dependency on the engines' packages: the
// engine modules are loaded only when configured.
import { HubError } from './errors.js'

/** The engines whose settings are URLs: their packages are optional and loaded on demand. */
export type UrlEngine = 'redis' | 'nats'

/** Which setting a URL is: `history` (`--history`) or `broker` (`--broker`). */
export type EngineSetting = 'history' | 'broker'

/**
 * The query parameters an engine URL accepts, by engine, with what each sets. Each name is the option of the engine
 * classes it is handed to. Both settings accept every parameter of their engine, so that one URL can be given as
 * history and as broker; each engine reads the ones it has an option for (see {@link EngineUrl.history} and
 * {@link EngineUrl.broker}).
 */
export const ENGINE_URL_PARAMETERS: Readonly<Record<UrlEngine, Readonly<Record<string, string>>>> = Object.freeze({
  redis: Object.freeze({
    keyPrefix: 'the prefix of the history keys',
    channel: "the broker's pub/sub channel",
  }),
  nats: Object.freeze({
    stream: "the history's JetStream stream",
    subjectPrefix: "the history's subjects, <subjectPrefix>.>",
    subject: "the broker's subject",
  }),
})

/**
 * The names the engines use when a URL sets none: the same values as `DEFAULT_REDIS_HISTORY_KEY_PREFIX`,
 * `DEFAULT_REDIS_BROKER_CHANNEL`, `DEFAULT_NATS_HISTORY_STREAM`, `DEFAULT_NATS_HISTORY_SUBJECT_PREFIX` and
 * `DEFAULT_NATS_BROKER_SUBJECT` (repeated here so that this module does not load the engines; a test keeps them
 * equal).
 */
export const ENGINE_DEFAULT_NAMES = Object.freeze({
  redis: Object.freeze({ keyPrefix: 'herald:history:', channel: 'herald:broker' }),
  nats: Object.freeze({ stream: 'HERALD_HISTORY', subjectPrefix: 'herald.history', subject: 'herald.broker' }),
})

/** The parameters that name the history, by engine: a broker that tails the history must name the same. */
const HISTORY_NAMES: Readonly<Record<UrlEngine, readonly string[]>> = { redis: ['keyPrefix'], nats: ['stream', 'subjectPrefix'] }
/** The parameters that name the broker's own channel or subject, by engine. */
const BROKER_NAMES: Readonly<Record<UrlEngine, readonly string[]>> = { redis: ['channel'], nats: ['subject'] }

const DEFAULT_PORTS: Readonly<Record<UrlEngine, string>> = { redis: '6379', nats: '4222' }

/** A Redis or NATS engine URL, read: where to connect, and the names its query sets. */
export interface EngineUrl {
  readonly engine: UrlEngine
  /** The setting as written (query included), for messages. */
  readonly spec: string
  /** The URL without its query: what the client library connects to. */
  readonly url: string
  /**
   * Who the URL reaches, spelled one way: scheme, credentials, host (lower case, not resolved), port (the default
   * filled in) and, for Redis, the database (0 when none); for NATS, the set of servers. Two URLs with the same
   * `server` reach the same server as far as can be told without connecting.
   */
  readonly server: string
  /** The names the query sets, by option name (only those present). */
  readonly names: Readonly<Record<string, string>>
}

/** Which of the URL engines `spec` names, from its scheme, or `undefined` for any other setting. */
export function urlEngineOf(spec: string): UrlEngine | undefined {
  if (spec.startsWith('redis://') || spec.startsWith('rediss://')) return 'redis'
  if (spec.startsWith('nats://')) return 'nats'
  return undefined
}

/** Whether `value` is a JetStream stream name: no whitespace, `.`, `*`, `>`, `/`, `\` or control characters. */
export function isNatsStreamName(value: string): boolean {
  return /^[^\s.*>/\\\p{Cc}]+$/u.test(value)
}

/** Whether `value` is a literal NATS subject (or subject prefix): dot-separated tokens without whitespace, `*` or `>`. */
export function isNatsSubject(value: string): boolean {
  return /^[^\s.*>]+(\.[^\s.*>]+)*$/.test(value)
}

/**
 * The setting with the password of each URL in it hidden (`redis://user:***@host`; a user name alone, which NATS
 * takes as a token, is hidden too), for messages and logs.
 *
 * @example
 * ```ts
 * redactEngineUrl('redis://:secret@cache:6379/0') // 'redis://:***@cache:6379/0'
 * ```
 */
export function redactEngineUrl(spec: string): string {
  return spec.replace(/\/\/([^/?#@,]*)@/g, (_, userinfo: string) => {
    const colon = userinfo.indexOf(':')
    return colon === -1 ? '//***@' : `//${userinfo.slice(0, colon)}:***@`
  })
}

/**
 * Reads a Redis or NATS engine URL: splits off its query, checks every parameter (a known name, given once, with a
 * valid value) and spells the server one way for comparisons. Returns `undefined` for settings that are not URLs
 * (`sqlite:PATH`, `memory`).
 *
 * The query comes last (after the last server of a NATS list); values are percent-decoded (`%26` for `&`, `%23` for
 * `#`), and `+` stands for itself.
 *
 * @throws `ERR_HUB_INVALID_OPTION` for an unknown or repeated parameter (the message names it and the accepted ones),
 *   an empty or invalid value (a stream name NATS refuses, a subject with wildcards), a malformed query, or a Redis
 *   URL that does not parse.
 * @example
 * ```ts
 * const parsed = parseEngineUrl('history', 'redis://cache:6379/0?keyPrefix=myapp:')
 * // parsed.url === 'redis://cache:6379/0', parsed.names.keyPrefix === 'myapp:'
 * ```
 */
export function parseEngineUrl(setting: EngineSetting, spec: string): EngineUrl | undefined {
  const engine = urlEngineOf(spec)
  if (engine === undefined) return undefined
  const fail = (problem: string): never => {
    throw new HubError('ERR_HUB_INVALID_OPTION', `${setting} "${redactEngineUrl(spec)}": ${problem}`)
  }
  const accepted = ENGINE_URL_PARAMETERS[engine]
  const acceptedList = Object.entries(accepted)
    .map(([name, what]) => `${name} (${what})`)
    .join(', ')
  const mark = spec.indexOf('?')
  const url = mark === -1 ? spec : spec.slice(0, mark)
  const query = mark === -1 ? '' : spec.slice(mark + 1)
  if (query.includes('#')) fail('a URL fragment (#) is not accepted; write # in a value as %23')
  // A ',' in the query of a NATS URL is most likely a server list with the query in the middle.
  if (engine === 'nats' && query.includes(',')) fail("the query parameters go at the end of the URL, after the last server (write ',' in a value as %2C)")
  const names: Record<string, string> = {}
  for (const pair of query.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    if (eq === -1) fail(`query parameter "${pair}" has no value (write name=value)`)
    const name = decodeComponent(pair.slice(0, eq), fail)
    const value = decodeComponent(pair.slice(eq + 1), fail)
    if (!Object.hasOwn(accepted, name)) {
      fail(`unknown query parameter "${name}"; a ${engine}:// URL accepts ${acceptedList}`)
    }
    if (Object.hasOwn(names, name)) fail(`query parameter ${name} is given twice`)
    const problem = valueProblem(name, value)
    if (problem !== undefined) fail(`query parameter ${name}: ${problem} (got ${JSON.stringify(value)})`)
    names[name] = value
  }
  return Object.freeze({ engine, spec, url, server: engine === 'redis' ? redisServer(url, fail) : natsServers(url), names: Object.freeze(names) })
}

/** The options a history store gets from its URL: `keyPrefix` (Redis) or `stream` and `subjectPrefix` (NATS). */
export function historyOptions(history: EngineUrl): Record<string, string> {
  return pick(history.names, HISTORY_NAMES[history.engine])
}

/**
 * The options a broker gets from its URL. A pub/sub broker (`tails` false) gets its `channel` (Redis) or `subject`
 * (NATS). A stream broker (`tails` true: see {@link brokerTailsHistory}) gets those too, plus the names of the
 * history it tails, taken from the history URL.
 */
export function brokerOptions(broker: EngineUrl, history: EngineUrl | undefined, tails: boolean): Record<string, string> {
  const own = pick(broker.names, BROKER_NAMES[broker.engine])
  return tails && history !== undefined ? { ...historyOptions(history), ...own } : own
}

/**
 * Whether the broker should tail the history (`RedisStreamBroker`, `NatsStreamBroker`) rather than use pub/sub:
 * both are URLs of the same engine that reach the same server (see {@link EngineUrl.server}), and every history name
 * the broker URL sets (`keyPrefix`; `stream`, `subjectPrefix`) is the history's, with the defaults filled in. History
 * names the broker URL leaves out are the history's. So the same URL given twice tails, and so do
 * `redis://h/0?keyPrefix=a:` with `redis://h?channel=a:broker`; another database, host, port, scheme or user, or
 * another key prefix on the broker URL, gives pub/sub.
 */
export function brokerTailsHistory(broker: EngineUrl, history: EngineUrl | undefined): boolean {
  if (history === undefined || history.engine !== broker.engine || history.server !== broker.server) return false
  const defaults: Readonly<Record<string, string>> = ENGINE_DEFAULT_NAMES[history.engine]
  return HISTORY_NAMES[history.engine].every((name) => {
    const wanted = broker.names[name]
    return wanted === undefined || wanted === (history.names[name] ?? defaults[name])
  })
}

/**
 * The `RedisBroker` channel a Redis history's append script copies each update to: the broker's channel (its
 * `channel` parameter, else the default) when that broker tails the history, since a `RedisStreamBroker` built from
 * the same settings sends no copies of its own (see `createBroker`). `undefined` when the broker does not tail the
 * history, or the engines are not Redis.
 */
export function historyCopyChannel(history: EngineUrl | undefined, broker: EngineUrl | undefined): string | undefined {
  if (history?.engine !== 'redis' || broker === undefined || !brokerTailsHistory(broker, history)) return undefined
  return broker.names.channel ?? ENGINE_DEFAULT_NAMES.redis.channel
}

/**
 * Checks that the history and the broker settings do not step on each other: a NATS broker subject inside the
 * history's subjects (`<subjectPrefix>.>`) would have JetStream store every broker message in the history.
 *
 * @throws `ERR_HUB_INVALID_OPTION` naming both settings.
 */
export function checkEngineNames(history: EngineUrl | undefined, broker: EngineUrl | undefined): void {
  if (history?.engine !== 'nats' || broker?.engine !== 'nats') return
  const defaults = ENGINE_DEFAULT_NAMES.nats
  const prefix = history.names.subjectPrefix ?? defaults.subjectPrefix
  const subject = broker.names.subject ?? defaults.subject
  if (subject.startsWith(`${prefix}.`)) {
    throw new HubError(
      'ERR_HUB_INVALID_OPTION',
      `broker "${redactEngineUrl(broker.spec)}": the broker subject ${subject} is one of the history's subjects (${prefix}.>), so JetStream would store every broker message in the history; set subject (on the broker URL) or subjectPrefix (on both URLs) so that the subject is outside ${prefix}.>`,
    )
  }
}

function pick(names: Readonly<Record<string, string>>, keys: readonly string[]): Record<string, string> {
  const picked: Record<string, string> = {}
  for (const key of keys) if (names[key] !== undefined) picked[key] = names[key]
  return picked
}

function decodeComponent(text: string, fail: (problem: string) => never): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return fail(`"${text}" is not percent-encoded correctly`)
  }
}

function valueProblem(name: string, value: string): string | undefined {
  if (value === '') return 'must not be empty'
  if (name === 'stream' && !isNatsStreamName(value)) return "must be a name without spaces, '.', '*', '>', '/', '\\' or control characters"
  if ((name === 'subjectPrefix' || name === 'subject') && !isNatsSubject(value)) {
    return "must be dot-separated subject tokens without spaces, '*' or '>' (and no leading, trailing or double '.')"
  }
  return undefined
}

/** The database a Redis URL names, as node-redis reads it: the number in its path, else 0 (`NaN` for another path). */
export function redisUrlDatabase(url: URL): number {
  return url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0
}

/** A Redis URL spelled one way, the way node-redis reads it: scheme, credentials, host, port, database. */
function redisServer(url: string, fail: (problem: string) => never): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return fail('is not a valid URL (redis[s]://[[user]:password@]host[:port][/database])')
  }
  const database = redisUrlDatabase(parsed)
  if (!Number.isSafeInteger(database) || database < 0) fail(`the database "${parsed.pathname.slice(1)}" is not a number`)
  return JSON.stringify([
    parsed.protocol,
    safeDecode(parsed.username),
    safeDecode(parsed.password),
    parsed.hostname.toLowerCase(),
    parsed.port === '' ? DEFAULT_PORTS.redis : parsed.port,
    database,
  ])
}

/**
 * A NATS server list spelled one way: each server as scheme (default `nats:`), credentials, host and port (default
 * 4222), sorted, duplicates dropped (nats.js picks among the servers in random order). A server that does not parse
 * as a URL is kept as written: nats.js reports it when it connects.
 */
function natsServers(url: string): string {
  const servers = new Set<string>()
  for (const raw of url.split(',')) {
    const server = raw.trim()
    if (server === '') continue
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `nats://${server}`
    try {
      const parsed = new URL(withScheme)
      servers.add(JSON.stringify([parsed.protocol, safeDecode(parsed.username), safeDecode(parsed.password), parsed.hostname.toLowerCase(), parsed.port === '' ? DEFAULT_PORTS.nats : parsed.port]))
    } catch {
      servers.add(JSON.stringify([server]))
    }
  }
  return JSON.stringify([...servers].sort())
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
