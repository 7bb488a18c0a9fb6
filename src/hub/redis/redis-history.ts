import { randomUUID } from 'node:crypto'
import { HubError } from '../errors.js'
import { checkLocateId, checkReadQuery, copyUpdate } from '../history/check-arguments.js'
import type { HistoryCapabilities, HistoryStore, ReadQuery, ReadResult } from '../history/history-store.js'
import { booleanOption, checkOptionsObject, functionOption, integerOption, nullableIntegerOption, objectOption, stringOption } from '../history/option-checks.js'
import { isStreamOffset, type StreamPosition } from '../stream-position.js'
import type { HubMessage, HubUpdate } from '../update.js'
import { updateFromFields, updateToFields } from './message-codec.js'
import {
  createRedisClient,
  DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
  DEFAULT_REDIS_URL,
  destroyRedisClient,
  entryNoticeChannel,
  isNoScript,
  messageOf,
  sendRedisCommand,
  untagReply,
  type RedisClient,
  type RedisEngineClientOptions,
} from './redis-connection.js'
import { SCRIPTS, type LuaScript } from './redis-history-scripts.js'

/** How many updates a {@link RedisHistory} keeps by default. */
export const DEFAULT_REDIS_HISTORY_MAX_ENTRIES = 100_000
/** How long a {@link RedisHistory} keeps an update by default: 24 hours. */
export const DEFAULT_REDIS_HISTORY_MAX_AGE_MS = 24 * 60 * 60 * 1000
/** How many bytes of updates a {@link RedisHistory} keeps by default: 64 MiB. */
export const DEFAULT_REDIS_HISTORY_MAX_BYTES = 64 * 1024 * 1024
/** The most entries one {@link RedisHistory.readAfter} call examines by default. */
export const DEFAULT_REDIS_HISTORY_MAX_SCAN = 1_000
/** The prefix of the keys a {@link RedisHistory} uses by default. */
export const DEFAULT_REDIS_HISTORY_KEY_PREFIX = 'herald:history:'

/** Options of {@link RedisHistory}. Every field is optional. */
export interface RedisHistoryOptions {
  /**
   * The Redis server, as a `redis://` or `rediss://` (TLS) URL with optional credentials and database index
   * (`redis://:secret@cache.internal:6379/2`). Redis 7.0 or newer.
   *
   * @defaultValue `'redis://127.0.0.1:6379'`
   */
  readonly url?: string
  /**
   * Further node-redis client settings: TLS, socket, credentials, reconnect strategy, and the connection `name`
   * `CLIENT LIST` shows (default `herald-history`).
   */
  readonly clientOptions?: RedisEngineClientOptions
  /**
   * The prefix of the four keys the history uses: `<prefix>epoch`, `<prefix>meta`, `<prefix>stream` and
   * `<prefix>ids`. Give each hub cluster its own prefix (or database). The keys are used together in Lua scripts; in
   * front of a Redis Cluster proxy, put a hash tag in the prefix (`'herald:{history}:'`) so they share a slot.
   *
   * @defaultValue {@link DEFAULT_REDIS_HISTORY_KEY_PREFIX} (`'herald:history:'`)
   */
  readonly keyPrefix?: string
  /**
   * A `RedisBroker` channel on which the append script also publishes each update, as a `RedisBroker` message, in
   * the order of the stream: for hub nodes of the same cluster that receive updates through pub/sub (`RedisBroker`)
   * while this node's broker, a `RedisStreamBroker`, does not send them copies of its own (its `channel: null`).
   * Sent by Redis in the same script as the append, the copies cost no round trip of their own. `createHistory` and
   * `createEngines` set it to the broker's channel when the broker tails this history (see `docs/scale-out.md`).
   *
   * @defaultValue `null`: no copies
   */
  readonly copyChannel?: string | null
  /**
   * The most updates kept; each append beyond it deletes the oldest, exactly (not the approximate `MAXLEN ~`, see
   * the class notes).
   *
   * @defaultValue {@link DEFAULT_REDIS_HISTORY_MAX_ENTRIES} (100,000)
   */
  readonly maxEntries?: number
  /**
   * How long an update is kept, in milliseconds, measured on the clock of the Redis server (or `now`). Expired
   * updates are deleted by the next operation on the store, whichever node runs it. `null` bounds by count and size.
   *
   * @defaultValue {@link DEFAULT_REDIS_HISTORY_MAX_AGE_MS} (24 h)
   */
  readonly maxAgeMs?: number | null
  /**
   * The most bytes the retained updates may take, counted as the UTF-8 length of their stored fields plus 64 bytes
   * each (Redis's own overhead per entry comes on top). The oldest are deleted beyond it; an update larger than this
   * on its own is deleted at once (readers see a gap). `null` bounds by count and age only.
   *
   * @defaultValue {@link DEFAULT_REDIS_HISTORY_MAX_BYTES} (64 MiB)
   */
  readonly maxBytes?: number | null
  /**
   * The most entries one `readAfter` call examines; a query's `scanLimit` is capped at this.
   *
   * @defaultValue {@link DEFAULT_REDIS_HISTORY_MAX_SCAN} (1,000)
   */
  readonly maxScan?: number
  /**
   * How long one Redis command may take, waiting in the queue while the connection is re-established included,
   * before the operation fails with `ERR_HUB_HISTORY_UNAVAILABLE`.
   *
   * @defaultValue `DEFAULT_REDIS_COMMAND_TIMEOUT_MS` (5 s)
   */
  readonly commandTimeoutMs?: number
  /**
   * Declares that the Redis server persists writes before acknowledging them well enough to survive a crash: AOF
   * with `appendfsync always` or `everysec` (the last second may be lost on a power cut), or a replica acknowledging
   * via `WAIT` in front of it. Herald cannot check this from a client, so it is your statement; it sets
   * `capabilities.durable`. A Redis without persistence loses the history on restart; the store then starts a new
   * epoch and readers get a gap, never a wrong replay.
   *
   * @defaultValue `false`
   */
  readonly durable?: boolean
  /**
   * The clock, in milliseconds since the epoch, used to stamp and expire updates. By default the Redis server's clock
   * (`TIME`), so that every hub node agrees on one clock; inject one only in tests.
   *
   * @defaultValue the Redis server clock
   */
  readonly now?: () => number
  /**
   * Receives errors that do not fail a call: the connection was lost (`ERR_HUB_HISTORY_UNAVAILABLE`, once per outage;
   * node-redis reconnects on its own), or a stored entry could not be decoded and was skipped
   * (`ERR_HUB_HISTORY_ENTRY_INVALID`). Never throw from it.
   *
   * @defaultValue a function that ignores the error
   */
  readonly onError?: (error: HubError) => void
}

const OWNER = 'RedisHistory'
/** The most entries one script deletes; a larger backlog is deleted over several calls, so no call blocks Redis long. */
const EVICTION_BUDGET = 500
/** The most entries one round trip of a read fetches. */
const MAX_READ_BATCH = 256
const MIN_READ_BATCH = 16

type ScriptReply = readonly unknown[]

/**
 * History in Redis Streams, shared by every hub node connected to the same Redis: a node that resumes a subscriber
 * reads the updates any node appended.
 *
 * - **Layout**: four keys under `keyPrefix`: `epoch` (a random id written with `SET NX` when the stream is
 *   created), `stream` (one entry per update, id `<append ms>-<n>`, fields `id`, `topics`, `data`, `private`,
 *   `type`, `retry`), `ids` (a hash from update id to the newest entry id, for {@link RedisHistory.locate}) and
 *   `meta` (the highest id deleted, the highest id issued and a byte count). Offsets are the stream ids
 *   (`"1700000000000-0"`), which {@link compareOffsets} orders.
 * - **Atomicity**: each operation is one Lua script (EVALSHA), so the epoch check, the eviction and the operation
 *   see one state; appends sent on the connection without awaiting are applied, and numbered, in call order.
 * - **Bounds**: count, age and size, checked by every script. Eviction is exact and deletes the oldest entries with
 *   `XDEL`, removing their ids from the index in the same script, and records the highest deleted id, so that a
 *   reader positioned exactly there is told nothing is missing while one further behind gets a gap. `XADD MAXLEN ~`
 *   would be cheaper per entry but removes an unknown number of entries, which would leave stale ids in the index
 *   and make the gap report approximate; the exact deletion costs one `XRANGE` + `XDEL` per evicted entry. At most
 *   500 entries are deleted per script, so a large expiry backlog is cleared over several calls without blocking
 *   Redis.
 * - **Epoch**: a new or flushed database, a Redis restarted without persistence, or any of the keys lost on its own
 *   (eviction under `maxmemory`: run Redis with `maxmemory-policy noeviction` or a `volatile-*` policy) starts a new
 *   epoch, so an old `Last-Event-ID` is answered with a gap, never with unrelated entries.
 * - **Connection**: commands issued while the connection is down wait in node-redis's offline queue while it
 *   reconnects, each for at most `commandTimeoutMs`, then fail with `ERR_HUB_HISTORY_UNAVAILABLE`. An append that
 *   fails this way was not acknowledged; it may still have been applied if Redis received it just before the
 *   connection broke, so a publisher that retries may store the update twice (under two positions), never lose it.
 * - **Notices**: the append script publishes each update it keeps on `<keyPrefix>appended@<database>`, with its
 *   position and the id of the entry before it, in stream order; `RedisStreamBroker` delivers from these. With
 *   `copyChannel`, it publishes the same message there too, for nodes on `RedisBroker`. A Redis user restricted by
 *   ACLs needs `PUBLISH` on those channels.
 * - **Durability**: `capabilities.durable` is the `durable` option (see there); `sharedAcrossNodes` is true.
 *
 * @example
 * ```ts
 * const history = new RedisHistory({ url: 'redis://cache.internal:6379', maxEntries: 50_000, durable: true })
 * const position = await history.append({ id: 'urn:uuid:…', topics: ['/books/1'], data: '{}', private: false })
 * await history.close()
 * ```
 * @see https://redis.io/docs/latest/develop/data-types/streams/
 */
export class RedisHistory implements HistoryStore {
  readonly capabilities: HistoryCapabilities

  readonly #url: string
  readonly #clientOptions: RedisEngineClientOptions | undefined
  readonly #keys: readonly [string, string, string, string]
  /** Where the append script announces each entry (see {@link entryNoticeChannel}). */
  readonly #noticeChannel: string
  /** The `RedisBroker` channel the append script copies each entry to, `''` for none. */
  readonly #copyChannel: string
  readonly #maxEntries: number
  readonly #maxAgeMs: number | null
  readonly #maxBytes: number | null
  readonly #maxScan: number
  readonly #commandTimeoutMs: number
  readonly #now: (() => number) | undefined
  readonly #onError: (error: HubError) => void
  #client: RedisClient | undefined
  /** Scripts known to be in this connection's script cache: EVALSHA is safe for them (see `#eval`). */
  readonly #loaded = new Set<string>()
  readonly #inFlight = new Set<Promise<unknown>>()
  #closed = false

  constructor(options: RedisHistoryOptions = {}) {
    checkOptionsObject(OWNER, options)
    this.#url = stringOption(OWNER, 'url', options.url, DEFAULT_REDIS_URL)
    this.#clientOptions = objectOption(OWNER, 'clientOptions', options.clientOptions)
    const prefix = stringOption(OWNER, 'keyPrefix', options.keyPrefix, DEFAULT_REDIS_HISTORY_KEY_PREFIX)
    this.#keys = [`${prefix}epoch`, `${prefix}meta`, `${prefix}stream`, `${prefix}ids`]
    this.#noticeChannel = entryNoticeChannel(prefix, this.#url, this.#clientOptions)
    this.#copyChannel = options.copyChannel === null ? '' : stringOption(OWNER, 'copyChannel', options.copyChannel, '')
    this.#maxEntries = integerOption(OWNER, 'maxEntries', options.maxEntries, DEFAULT_REDIS_HISTORY_MAX_ENTRIES, 1)
    this.#maxAgeMs = nullableIntegerOption(OWNER, 'maxAgeMs', options.maxAgeMs, DEFAULT_REDIS_HISTORY_MAX_AGE_MS, 1)
    this.#maxBytes = nullableIntegerOption(OWNER, 'maxBytes', options.maxBytes, DEFAULT_REDIS_HISTORY_MAX_BYTES, 1)
    this.#maxScan = integerOption(OWNER, 'maxScan', options.maxScan, DEFAULT_REDIS_HISTORY_MAX_SCAN, 1)
    this.#commandTimeoutMs = integerOption(OWNER, 'commandTimeoutMs', options.commandTimeoutMs, DEFAULT_REDIS_COMMAND_TIMEOUT_MS, 1)
    const durable = booleanOption(OWNER, 'durable', options.durable, false)
    this.#now = options.now === undefined ? undefined : functionOption(OWNER, 'now', options.now, Date.now)
    this.#onError = functionOption(OWNER, 'onError', options.onError, ignoreError)
    this.capabilities = Object.freeze({ durable, sharedAcrossNodes: true })
  }

  append(update: HubUpdate): Promise<StreamPosition> {
    // No await before the script is queued: appends started together are sent, and numbered, in call order.
    return this.#run(() => {
      const fields = updateToFields(copyUpdate(update))
      return this.#eval(SCRIPTS.append, [this.#noticeChannel, this.#copyChannel, ...fields]).then((reply) => {
        const [epoch, id] = reply as [string, string]
        return { epoch, offset: id }
      })
    })
  }

  locate(id: string): Promise<StreamPosition | undefined> {
    return this.#run(async () => {
      checkLocateId(id)
      const reply = await this.#evalSettled(SCRIPTS.locate, [id])
      const [, epoch, offset] = reply as [string, string, string | undefined]
      return offset === undefined ? undefined : { epoch, offset }
    })
  }

  readAfter(from: StreamPosition | 'earliest', query: ReadQuery): Promise<ReadResult> {
    return this.#run(async () => {
      const scanLimit = checkReadQuery(query, this.#maxScan)
      const start = readStart(from)
      const messages: HubMessage[] = []
      let examined = 0
      let batch = Math.min(MAX_READ_BATCH, Math.max(MIN_READ_BATCH, query.limit))
      let cursor = start
      let epoch: string | undefined
      let gap = false
      let next: StreamPosition | undefined
      for (;;) {
        this.#checkOpen()
        const want = Math.min(scanLimit - examined, batch)
        // One entry more than may be examined tells whether the history goes on (`done`).
        const reply = await this.#evalSettled(SCRIPTS.read, [...cursor, String(want + 1)])
        if (reply[0] === 'invalid') {
          throw new HubError('ERR_HUB_HISTORY_INVALID_QUERY', `${OWNER}: offset ${JSON.stringify((from as StreamPosition).offset)} was not issued by this store`)
        }
        const [, pageEpoch, pageGap, pageStart, entries] = reply as [string, string, number, string, unknown[][]]
        if (epoch === undefined) {
          epoch = pageEpoch
          gap = pageGap === 1
          next = { epoch, offset: pageStart }
        } else if (pageEpoch !== epoch || pageGap === 1) {
          // The history moved past this read between two round trips (evicted, or lost): stop here; the next read
          // from `next` reports the gap.
          return { messages, next, done: false, gap }
        }
        let i = 0
        for (; i < entries.length; i++) {
          if (examined === scanLimit || messages.length === query.limit) break
          examined++
          const [entryId, fields] = entries[i] as [string, unknown]
          next = { epoch, offset: entryId }
          const update = this.#decode(entryId, fields)
          if (update !== undefined && query.match(update)) messages.push({ update, position: next })
        }
        if (i < entries.length) return { messages, next, done: false, gap }
        if (entries.length <= want) return { messages, next, done: true, gap }
        cursor = ['after', epoch, (next as StreamPosition).offset]
        batch = Math.min(MAX_READ_BATCH, batch * 2)
      }
    })
  }

  size(): Promise<number> {
    return this.#run(async () => {
      const reply = await this.#evalSettled(SCRIPTS.size, [])
      return Number(reply[1])
    })
  }

  /** The position of the newest retained update, from one script call. */
  newest(): Promise<StreamPosition | undefined> {
    return this.#run(async () => {
      const [, epoch, offset] = (await this.#evalSettled(SCRIPTS.newest, [])) as [string, string, string | undefined]
      return offset === undefined ? undefined : { epoch, offset }
    })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    // Let the operations under way finish; each command is bounded by commandTimeoutMs.
    await Promise.allSettled([...this.#inFlight])
    if (this.#client !== undefined) destroyRedisClient(this.#client)
  }

  #checkOpen(): void {
    if (this.#closed) throw new HubError('ERR_HUB_HISTORY_CLOSED', `this ${OWNER} is closed`)
  }

  /** Runs an operation: rejects at once after close, and tracks it so that `close()` can wait for it. */
  #run<T>(operation: () => Promise<T>): Promise<T> {
    // The executor runs at once: an operation's first command is queued before `#run` returns (call order).
    const promise = new Promise<T>((resolve) => {
      this.#checkOpen()
      resolve(operation())
    })
    this.#inFlight.add(promise)
    const untrack = (): void => {
      this.#inFlight.delete(promise)
    }
    promise.then(untrack, untrack)
    return promise
  }

  /** A Redis failure (an error reply, a lost socket, a timeout, a full queue) as a coded error. */
  #failure(cause: unknown): HubError {
    if (this.#closed) return new HubError('ERR_HUB_HISTORY_CLOSED', `this ${OWNER} was closed during the operation`, { cause })
    return new HubError('ERR_HUB_HISTORY_UNAVAILABLE', `${OWNER}: Redis failed: ${messageOf(cause)}`, { cause })
  }

  /** Runs a script that answers `'again'` while an eviction backlog remains, until it answers. */
  async #evalSettled(script: LuaScript, args: readonly string[]): Promise<ScriptReply> {
    for (;;) {
      const reply = await this.#eval(script, args)
      if (reply[0] !== 'again') return reply
      this.#checkOpen()
    }
  }

  /**
   * Sends a script. EVALSHA once the script is known to be in this connection's cache, EVAL otherwise: after a
   * (re)connect the server may have lost its cache (a restart), and falling back from a failed EVALSHA would re-send
   * a command behind later ones, reordering appends. Commands queued while disconnected are therefore sent as EVAL.
   */
  #eval(script: LuaScript, args: readonly string[]): Promise<ScriptReply> {
    const client = this.#connection()
    // The layout of COMMON_ARGUMENTS (see redis-history-scripts.ts).
    const common: string[] = [
      randomUUID(),
      this.#now === undefined ? '' : clockValue(this.#now()),
      String(this.#maxEntries),
      this.#maxAgeMs === null ? '' : String(this.#maxAgeMs),
      this.#maxBytes === null ? '' : String(this.#maxBytes),
      String(EVICTION_BUDGET),
    ]
    const tail = [String(this.#keys.length), ...this.#keys, ...common, ...args]
    const send = (useSha: boolean): Promise<ScriptReply> =>
      sendRedisCommand<unknown>(client, useSha ? ['EVALSHA', script.sha, ...tail] : ['EVAL', script.source, ...tail]).then((reply) => {
        // Each reply carries the call's fresh UUID (common[0]).
        const result = untagReply(client, common[0] as string, reply) as ScriptReply
        this.#loaded.add(script.sha)
        return result
      })
    const sent = this.#loaded.has(script.sha)
      ? send(true).catch((error: unknown) => {
          // An administrator flushed the script cache (SCRIPT FLUSH) while connected: load it again.
          if (!isNoScript(error)) throw error
          this.#loaded.delete(script.sha)
          return send(false)
        })
      : send(false)
    return sent.catch((error: unknown) => {
      throw this.#failure(error)
    })
  }

  #connection(): RedisClient {
    this.#client ??= createRedisClient({
      url: this.#url,
      clientOptions: this.#clientOptions,
      commandTimeoutMs: this.#commandTimeoutMs,
      name: this.#clientOptions?.name ?? 'herald-history',
      onDown: (cause) => {
        this.#loaded.clear()
        if (this.#closed) return
        this.#onError(new HubError('ERR_HUB_HISTORY_UNAVAILABLE', `${OWNER}: lost the connection to Redis: ${messageOf(cause)}`, { cause }))
      },
      onReady: () => {
        this.#loaded.clear()
      },
    })
    return this.#client
  }

  #decode(entryId: string, fields: unknown): HubUpdate | undefined {
    try {
      return updateFromFields(fields)
    } catch (cause) {
      this.#onError(
        new HubError('ERR_HUB_HISTORY_ENTRY_INVALID', `${OWNER}: skipped stream entry ${entryId}, which Herald did not write: ${messageOf(cause)}`, {
          cause,
        }),
      )
      return undefined
    }
  }
}

/**
 * The read script's arguments for a start position: `[mode, epoch, offset]`, the offset as `ms-seq` or `''` when it
 * cannot be a stream id (the script then decides between a gap, for another epoch, and an invalid query).
 */
function readStart(from: StreamPosition | 'earliest'): [string, string, string] {
  if (from === 'earliest') return ['earliest', '', '']
  if (typeof from !== 'object' || (from as unknown) === null || typeof from.epoch !== 'string') {
    throw new HubError('ERR_HUB_HISTORY_INVALID_QUERY', `from must be 'earliest' or a stream position { epoch, offset }, not ${typeof from}`)
  }
  return ['after', from.epoch, toStreamId(from.offset)]
}

/**
 * A canonical offset as a stream id: `"5"` means `"5-0"` (as in `compareOffsets`). Parts beyond 64 bits stay as
 * they are: such an offset lies beyond anything issued, which the script reports as a gap before using it.
 */
function toStreamId(offset: unknown): string {
  if (!isStreamOffset(offset)) return ''
  const parts = offset.split('-')
  if (parts.length > 2) return ''
  return parts.length === 1 ? `${offset}-0` : offset
}

function clockValue(now: number): string {
  if (!Number.isFinite(now) || now < 0) {
    throw new HubError('ERR_HUB_INVALID_OPTION', `${OWNER}: now() must return milliseconds since the epoch, not ${now}`)
  }
  return String(Math.floor(now))
}

function ignoreError(): void {}
