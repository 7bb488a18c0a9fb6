// Connections of the Redis engines. Internal: not re-exported from index.ts.
import { createClient, ErrorReply, type RedisClientOptions } from 'redis'
import { redisUrlDatabase } from '../engines-url.js'
import { withTimeout } from '../with-timeout.js'

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
    // No `CLIENT SETINFO` in the handshake: servers before Redis 7.2 answer it with an error, and when the connection
    // was cut while commands waited, node-redis handed those errors to the waiting commands and left the rest of
    // them waiting for good (the history test that kills the connection mid-stream hung in one run of three on
    // Redis 7.0). The information is only shown by `CLIENT LIST`; `name` still is.
    disableClientInfo: true,
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
  const connect = (): void => {
    // Rejects only when the reconnect strategy gives up; commands then fail on their own.
    client.connect().catch((cause: unknown) => {
      if (down) return
      down = true
      settings.onDown(cause)
    })
  }
  replyDeadlines.set(client, {
    commandTimeoutMs: settings.commandTimeoutMs,
    reset: (cause) => {
      // Closed by its owner meanwhile: nothing to reset.
      if (!client.isOpen) return
      if (!down) {
        down = true
        settings.onDown(cause)
      }
      client.destroy()
      connect()
    },
  })
  connect()
  return client
}

/** What {@link sendRedisCommand} needs of each client {@link createRedisClient} made: its timeout, and how to reset it. */
const replyDeadlines = new WeakMap<RedisClient, { readonly commandTimeoutMs: number; readonly reset: (cause: Error) => void }>()

/** Command options for a ready connection: no node-redis timeout (see {@link sendRedisCommand}). */
const WRITTEN_AT_ONCE = Object.freeze({ timeout: 0 })

/** The extra time a written command is given for its reply, past the client's command timeout. */
const REPLY_GRACE_MS = 1_000

/**
 * Sends a command on a client made by {@link createRedisClient}, bounded until its reply arrives: at most the
 * client's `commandTimeoutMs` plus a second. Past that it rejects, and the connection is reset: closed, which rejects
 * every command on it, and opened again.
 *
 * Why: node-redis bounds a command's wait only until the command is written, and when the connection was cut while
 * commands waited, it could keep some of them waiting for replies that never came: the history test that kills the
 * connection in the middle of 300 appends hung in one run of three on Redis 7.0 (247 appends never settled). It
 * could also hand a reply to another command than the one it answered, which is why the scripts tag their replies
 * (see {@link untagReply}).
 */
export function sendRedisCommand<T>(client: RedisClient, args: readonly string[]): Promise<T> {
  const deadline = replyDeadlines.get(client)
  // On a ready connection the command is written in this tick, and node-redis's own timeout (which only bounds the
  // wait until then) would cost an `AbortSignal.timeout` per command: about 60 µs of CPU here, a sixth of a Redis
  // node's whole append (alternating runs of 3,000 appends at 500/s, `EVALSHA` with and without it). The deadline
  // below bounds such a command instead (a client without one keeps node-redis's timeout); node-redis's timeout still
  // fails a command that waits in the offline queue while the connection is down, at its own time.
  const sent = client.sendCommand<T>(args, client.isReady && deadline !== undefined ? WRITTEN_AT_ONCE : undefined)
  if (deadline === undefined) return sent
  const waitMs = deadline.commandTimeoutMs + REPLY_GRACE_MS
  return withTimeout(sent, waitMs, () => {
    const error = new Error(`no reply to ${args[0] ?? 'a command'} within ${waitMs} ms; the connection was reset`)
    deadline.reset(error)
    return error
  })
}

/**
 * Closes a client made by {@link createRedisClient} and opens it again: every command on it is rejected. For a caller
 * that received a reply that cannot be the one to its command, after which no reply on that connection can be trusted.
 */
export function resetRedisClient(client: RedisClient, cause: Error): void {
  replyDeadlines.get(client)?.reset(cause)
}

/**
 * The reply of a tagged script (`{tag, reply}`, see `redis-history-scripts.ts`), once its tag is the call's own.
 * Why: after a cut connection, node-redis was seen to hand a reply to another command than the one it answered (an
 * append acknowledged with the reply of the handshake, in the history test that kills the connection mid-stream); a
 * reply with another tag is refused, and the connection reset, so that nothing is taken for another command's answer.
 *
 * @throws an `Error` for a reply with another tag, after resetting the connection with {@link resetRedisClient}.
 */
export function untagReply(client: RedisClient, tag: string, reply: unknown): unknown {
  if (!Array.isArray(reply) || reply[0] !== tag) {
    const error = new Error('a reply to another command arrived; the connection was reset')
    resetRedisClient(client, error)
    throw error
  }
  return reply[1]
}

/** Whether Redis refused an `EVALSHA` because its script cache does not hold the script (a restart, `SCRIPT FLUSH`). */
export function isNoScript(error: unknown): boolean {
  return error instanceof ErrorReply && error.message.startsWith('NOSCRIPT')
}

/** Closes a client at once: queued commands are rejected. Safe on a client that is already closed. */
export function destroyRedisClient(client: RedisClient): void {
  if (client.isOpen) client.destroy()
}

/**
 * The pub/sub channel on which `RedisHistory` announces each entry it appends, and `RedisStreamBroker` listens:
 * `<keyPrefix>appended@<database>`. Channels are shared by every database of a server, so the database (from
 * `clientOptions.database`, else the URL's path, else 0) is part of the name: two histories with one prefix in two
 * databases do not hear each other.
 *
 * @example
 * entryNoticeChannel('herald:history:', 'redis://cache:6379/2') // 'herald:history:appended@2'
 */
export function entryNoticeChannel(keyPrefix: string, url: string, clientOptions: RedisEngineClientOptions | undefined): string {
  const database = clientOptions?.database ?? (URL.canParse(url) ? redisUrlDatabase(new URL(url)) : 0)
  return `${keyPrefix}appended@${database}`
}

export { messageOf } from '../errors.js'

