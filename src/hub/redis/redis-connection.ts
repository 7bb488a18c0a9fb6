// Connections of the Redis engines. Internal: not re-exported from index.ts.
import { createClient, type RedisClientOptions } from 'redis'
import { HubError } from '../errors.js'

/** The Redis server the engines connect to when no `url` is given. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379'
/** How long a Redis engine waits for one command, queueing included, before failing it: 5 seconds. */
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 5_000
/** The most commands one Redis connection queues (while reconnecting, or pipelined) before failing new ones. */
export const DEFAULT_REDIS_MAX_QUEUED_COMMANDS = 10_000

/**
 * Settings passed through to node-redis `createClient` (TLS and socket options, credentials, `database`, `name`,
 * `pingInterval`, the reconnect strategy in `socket.reconnectStrategy`, …). The engines set the URL, the protocol
 * (RESP2), the command timeout and the offline queue themselves.
 *
 * @see https://github.com/redis/node-redis/blob/master/docs/client-configuration.md
 */
export type RedisEngineClientOptions = Omit<
  RedisClientOptions,
  'url' | 'RESP' | 'commandOptions' | 'disableOfflineQueue' | 'modules' | 'functions' | 'scripts' | 'clientSideCache'
>

/** A node-redis client as the engines create it. */
export type RedisClient = ReturnType<typeof createRedisClient>

/** How to open one engine connection. */
export interface RedisClientSettings {
  readonly url: string
  readonly clientOptions: RedisEngineClientOptions | undefined
  readonly commandTimeoutMs: number
  /** Connection name shown by `CLIENT LIST` (it overrides `clientOptions.name`). */
  readonly name: string
  /** Called once per outage with the first error (a failed connect, a lost socket). */
  readonly onDown: (cause: unknown) => void
  /** Called each time the connection is ready: `reconnected` is false the first time. */
  readonly onReady: (reconnected: boolean) => void
}

/**
 * Creates a client and starts connecting it. Commands issued before it is ready wait in the offline queue (bounded by
 * `commandsQueueMaxLength`), each for at most `commandTimeoutMs`; node-redis reconnects on its own, with its
 * back-off, and re-subscribes pub/sub channels before it reports `ready`.
 */
export function createRedisClient(settings: RedisClientSettings): ReturnType<typeof createClient> {
  const { clientOptions } = settings
  const client = createClient({
    commandsQueueMaxLength: DEFAULT_REDIS_MAX_QUEUED_COMMANDS,
    ...clientOptions,
    name: settings.name,
    url: settings.url,
    RESP: 2,
    commandOptions: { timeout: settings.commandTimeoutMs },
    disableOfflineQueue: false,
  })
  let readyCount = 0
  let down = false
  // node-redis emits 'error' for every failed attempt while it reconnects; without a listener it would crash the
  // process. One report per outage is enough to log it.
  client.on('error', (cause: unknown) => {
    if (down) return
    down = true
    settings.onDown(cause)
  })
  client.on('ready', () => {
    down = false
    settings.onReady(readyCount++ > 0)
  })
  // Rejects only when the reconnect strategy gives up; commands then fail on their own.
  client.connect().catch((cause: unknown) => {
    if (down) return
    down = true
    settings.onDown(cause)
  })
  return client
}

/** Closes a client at once: queued commands are rejected. Safe on a client that is already closed. */
export function destroyRedisClient(client: RedisClient): void {
  if (client.isOpen) client.destroy()
}

export { messageOf } from '../errors.js'

/** Throws `ERR_HUB_INVALID_OPTION` unless `value` is undefined or a non-empty string. */
export function stringOption(owner: string, name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || value.length === 0) {
    throw new HubError('ERR_HUB_INVALID_OPTION', `${owner}: ${name} must be a non-empty string`)
  }
  return value
}

/** Throws `ERR_HUB_INVALID_OPTION` unless `value` is undefined or an object. */
export function objectOption<T extends object>(owner: string, name: string, value: T | undefined): T | undefined {
  if (value !== undefined && (typeof value !== 'object' || (value as unknown) === null)) {
    throw new HubError('ERR_HUB_INVALID_OPTION', `${owner}: ${name} must be an object`)
  }
  return value
}

/** Throws `ERR_HUB_INVALID_OPTION` unless `value` is undefined or a boolean. */
export function booleanOption(owner: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new HubError('ERR_HUB_INVALID_OPTION', `${owner}: ${name} must be a boolean`)
  return value
}
