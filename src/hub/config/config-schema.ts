/** How one setting is read from a string (an environment variable or a flag) and checked. */
type Kind = 'string' | 'integer' | 'boolean' | 'list' | 'duration'

/** One hub setting: its name in code and in the config file, its environment variable and flag, its default. */
export interface ConfigField {
  /** The key in code and in the config file (camelCase). */
  readonly key: keyof HubConfig
  /** The environment variable (`HERALD_…`). */
  readonly env: string
  /** The command-line flag (`--kebab-case`). */
  readonly flag: string
  readonly kind: Kind
  /** What the setting does, for `herald check-config --help` and docs/configuration.md. */
  readonly doc: string
  /** Allowed values, for string settings with a closed set. */
  readonly choices?: readonly string[]
  /** Lower bound for integers and durations. */
  readonly min?: number
  /** Upper bound for integers and durations. */
  readonly max?: number
}

/**
 * The hub's whole configuration: one shape in code, in the config file (JSON), in the environment (`HERALD_…`) and
 * in command-line flags, read by {@link loadConfig}.
 */
export interface HubConfig {
  /** `development` (development keys, anonymous subscribers, demos) or `production` (refuses development keys). */
  mode: 'development' | 'production'
  /** TCP port. */
  port: number
  /** Interface to listen on. */
  host: string
  /** Worker processes sharing the port (`1`: a single process). */
  workers: number
  /** Key that verifies publisher JWTs: an HMAC secret, a PEM public key, or a JWKS URL (`https://…/jwks.json`). */
  publisherJwtKey: string | null
  /** Key that verifies subscriber JWTs (same forms as the publisher key). */
  subscriberJwtKey: string | null
  /** JWT algorithm of the keys (HS256, HS384, HS512, RS256, …, ES256, …). */
  jwtAlg: string
  /** Expected `iss` claim, if any. */
  jwtIssuer: string | null
  /** Expected `aud` claim, if any. */
  jwtAudience: string | null
  /**
   * History engine: `sqlite:PATH`, `memory`, `redis://…` (`?keyPrefix=…` sets the key prefix) or `nats://…`
   * (`?stream=…&subjectPrefix=…` set the stream and its subjects).
   */
  history: string
  /**
   * Broker engine: `memory`, `redis://…` (`?channel=…` sets the pub/sub channel) or `nats://…` (`?subject=…` sets the
   * subject). On the history's server, naming the same history, it tails the history (see `createEngines`).
   */
  broker: string
  /** Updates kept in history (count bound). */
  historySize: number
  /** How long history keeps an update, in milliseconds. */
  historyMaxAgeMs: number
  /** Allowed CORS origins (`*` for any, without credentials). */
  corsOrigins: string[]
  /** Allow subscribers without a JWT (public updates only). */
  anonymous: boolean
  /** Heartbeat comment interval in milliseconds, `0` to turn off. */
  heartbeatMs: number
  /** Nagle's algorithm on subscriber connections: the kernel merges bursts (less CPU, more latency). */
  nagle: boolean
  /** Write each subscriber's updates from the process's shared queue, merging what arrives meanwhile into one write. */
  coalesceWrites: boolean
  /** How long each subscriber's updates are held at least, in milliseconds, to leave in fewer writes. */
  writeDelayMs: number
  /** The least time between two writes to a subscriber, in milliseconds: updates that come sooner leave together. */
  writeIntervalMs: number
  /** Largest accepted publish body, in bytes. */
  maxBodyBytes: number
  /** Publish subscription events and serve the subscriptions API. */
  subscriptions: boolean
  /** Serve the demo pages at `/`. */
  demos: boolean
  /** Serve Prometheus metrics at `/metrics`. */
  metrics: boolean
  /** Per-subscriber queue bound in bytes before a slow subscriber is disconnected. */
  maxQueueBytes: number
  /** How long a graceful shutdown waits for subscribers to leave, in milliseconds. */
  drainTimeoutMs: number
}

/** The value of every setting when nothing sets it. */
export const DEFAULT_CONFIG: Readonly<HubConfig> = Object.freeze({
  mode: 'production',
  port: 3000,
  host: '0.0.0.0',
  workers: 1,
  publisherJwtKey: null,
  subscriberJwtKey: null,
  jwtAlg: 'HS256',
  jwtIssuer: null,
  jwtAudience: null,
  history: 'sqlite:./herald.db',
  broker: 'memory',
  historySize: 100_000,
  historyMaxAgeMs: 24 * 60 * 60 * 1000,
  corsOrigins: [],
  anonymous: false,
  heartbeatMs: 15_000,
  nagle: false,
  coalesceWrites: true,
  writeDelayMs: 0,
  writeIntervalMs: 40,
  maxBodyBytes: 1024 * 1024,
  subscriptions: false,
  demos: false,
  metrics: true,
  maxQueueBytes: 4 * 1024 * 1024,
  drainTimeoutMs: 10_000,
})

function field(key: keyof HubConfig, kind: Kind, doc: string, extra: Partial<ConfigField> = {}): ConfigField {
  const snake = key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()
  const kebab = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
  return Object.freeze({ key, env: `HERALD_${snake}`, flag: `--${kebab}`, kind, doc, ...extra })
}

/** Every setting, in the order `herald check-config` prints them. */
export const CONFIG_FIELDS: readonly ConfigField[] = Object.freeze([
  field('mode', 'string', 'development: development keys, anonymous subscribers and demos; production refuses development keys', { choices: ['development', 'production'] }),
  field('port', 'integer', 'TCP port', { min: 0 }),
  field('host', 'string', 'interface to listen on'),
  field('workers', 'integer', 'worker processes sharing the port', { min: 1 }),
  field('publisherJwtKey', 'string', 'publisher JWT key: HMAC secret, PEM public key, or JWKS URL'),
  field('subscriberJwtKey', 'string', 'subscriber JWT key: HMAC secret, PEM public key, or JWKS URL'),
  field('jwtAlg', 'string', 'JWT algorithm', { choices: ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'] }),
  field('jwtIssuer', 'string', 'expected iss claim'),
  field('jwtAudience', 'string', 'expected aud claim'),
  field('history', 'string', 'history engine: sqlite:PATH, memory, redis://…[?keyPrefix=…], nats://…[?stream=…&subjectPrefix=…]'),
  field('broker', 'string', 'broker engine: memory, redis://…[?channel=…], nats://…[?subject=…]'),
  field('historySize', 'integer', 'updates kept in history', { min: 1 }),
  field('historyMaxAgeMs', 'duration', 'how long history keeps an update (ms, or 30s, 5m, 24h)', { min: 1 }),
  field('corsOrigins', 'list', 'allowed CORS origins, comma-separated'),
  field('anonymous', 'boolean', 'allow subscribers without a JWT'),
  field('heartbeatMs', 'duration', 'heartbeat comment interval (ms, or 15s; 0 turns it off)', { min: 0 }),
  field('nagle', 'boolean', "Nagle's algorithm on subscriber connections: the kernel merges bursts of updates (less CPU, up to a round trip more latency)"),
  field('coalesceWrites', 'boolean', "write subscribers' updates from one shared queue, merging those that arrive meanwhile into one write (no timer; off writes each update at once)"),
  field('writeDelayMs', 'duration', "hold each subscriber's updates at least this long and write them together: less CPU per delivery, up to this much more latency (ms, or 20ms; 0 turns it off)", { min: 0, max: 60_000 }),
  field('writeIntervalMs', 'duration', "the least time between two writes to a subscriber: an update after a quiet spell leaves at once, sooner ones wait for the interval's end and leave together (ms, or 40ms; 0 writes every update at once)", { min: 0, max: 60_000 }),
  field('maxBodyBytes', 'integer', 'largest publish body in bytes', { min: 1 }),
  field('subscriptions', 'boolean', 'serve the subscriptions API and publish subscription events'),
  field('demos', 'boolean', 'serve the demo pages at /'),
  field('metrics', 'boolean', 'serve Prometheus metrics at /metrics'),
  field('maxQueueBytes', 'integer', 'per-subscriber queue bound in bytes', { min: 1024 }),
  field('drainTimeoutMs', 'duration', 'graceful shutdown wait (ms, or 10s)', { min: 0 }),
])
