import {
  DiscardPolicy,
  JetStreamApiError,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StoredMsg,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream'
import { nanos, type NatsConnection } from '@nats-io/transport-node'
import { HubError } from '../errors.js'
import { checkLocateId, checkReadQuery, copyUpdate } from '../history/check-arguments.js'
import type { HistoryCapabilities, HistoryStore, ReadQuery, ReadResult } from '../history/history-store.js'
import { checkOptionsObject, functionOption, integerOption, nullableIntegerOption, objectOption } from '../history/option-checks.js'
import { planSequenceRead } from '../history/sequence-read.js'
import type { StreamPosition } from '../stream-position.js'
import type { HubMessage, HubUpdate } from '../update.js'
import { decodeUpdate, encodeUpdate } from './message-codec.js'
import { StreamPublisher } from './stream-publisher.js'
import {
  ConnectionWatch,
  DEFAULT_NATS_REQUEST_TIMEOUT_MS,
  messageOf,
  openNatsConnection,
  streamNameOption,
  subjectOption,
  subjectToken,
  urlOption,
  type NatsEngineConnectionOptions,
} from './nats-connection.js'

/** How many updates a {@link NatsHistory} keeps by default. */
export const DEFAULT_NATS_HISTORY_MAX_ENTRIES = 100_000
/** How long a {@link NatsHistory} keeps an update by default: 24 hours. */
export const DEFAULT_NATS_HISTORY_MAX_AGE_MS = 24 * 60 * 60 * 1000
/** How many bytes the stream of a {@link NatsHistory} holds by default: 256 MiB. */
export const DEFAULT_NATS_HISTORY_MAX_BYTES = 256 * 1024 * 1024
/** The most entries one {@link NatsHistory.readAfter} call examines by default. */
export const DEFAULT_NATS_HISTORY_MAX_SCAN = 1_000
/** The JetStream stream a {@link NatsHistory} uses by default. */
export const DEFAULT_NATS_HISTORY_STREAM = 'HERALD_HISTORY'
/** The subjects of a {@link NatsHistory} start with this by default. */
export const DEFAULT_NATS_HISTORY_SUBJECT_PREFIX = 'herald.history'

/** Options of {@link NatsHistory}. Every field is optional. */
export interface NatsHistoryOptions {
  /**
   * The NATS server, or several separated by commas (`nats://a:4222,nats://b:4222`), with JetStream enabled.
   * Ignored when `connection` is given.
   *
   * @defaultValue `'nats://127.0.0.1:4222'`
   */
  readonly url?: string
  /** Further `connect()` settings: credentials, TLS, `name`, reconnect behaviour. Ignored when `connection` is given. */
  readonly connectionOptions?: NatsEngineConnectionOptions
  /** A connection to use instead of opening one; the application keeps owning it (`close()` leaves it open). */
  readonly connection?: NatsConnection
  /**
   * The JetStream stream. Created when missing, with the limits below; when it exists, its limits are updated to
   * these (give every hub node the same options).
   *
   * @defaultValue {@link DEFAULT_NATS_HISTORY_STREAM} (`'HERALD_HISTORY'`)
   */
  readonly stream?: string
  /**
   * The first tokens of the stream's subjects (`<prefix>.>`). Give each hub cluster its own prefix and stream.
   *
   * @defaultValue {@link DEFAULT_NATS_HISTORY_SUBJECT_PREFIX} (`'herald.history'`)
   */
  readonly subjectPrefix?: string
  /**
   * The most updates kept (`max_msgs`); JetStream discards the oldest beyond it.
   *
   * @defaultValue {@link DEFAULT_NATS_HISTORY_MAX_ENTRIES} (100,000)
   */
  readonly maxEntries?: number
  /**
   * How long an update is kept, in milliseconds (`max_age`), on the servers' clock. `null` keeps updates until the
   * count or size bound removes them.
   *
   * @defaultValue {@link DEFAULT_NATS_HISTORY_MAX_AGE_MS} (24 h)
   */
  readonly maxAgeMs?: number | null
  /**
   * The most bytes the stream holds (`max_bytes`, counting subjects and headers too). `null` bounds by count and age.
   *
   * @defaultValue {@link DEFAULT_NATS_HISTORY_MAX_BYTES} (256 MiB)
   */
  readonly maxBytes?: number | null
  /**
   * The most entries one `readAfter` call examines; a query's `scanLimit` is capped at this.
   *
   * @defaultValue {@link DEFAULT_NATS_HISTORY_MAX_SCAN} (1,000)
   */
  readonly maxScan?: number
  /**
   * Where the servers keep the stream when this store creates it: `'file'` survives a restart of the NATS servers
   * (`capabilities.durable` is then true), `'memory'` does not. An existing stream keeps its storage.
   *
   * @defaultValue `'file'`
   */
  readonly storage?: 'file' | 'memory'
  /**
   * How many servers of a JetStream cluster hold the stream (1, 3 or 5) when this store creates it.
   *
   * @defaultValue 1
   */
  readonly replicas?: number
  /**
   * How long to wait for the server to answer one request (a publish acknowledgement, a read) before failing with
   * `ERR_HUB_HISTORY_UNAVAILABLE`.
   *
   * @defaultValue `DEFAULT_NATS_REQUEST_TIMEOUT_MS` (5 s)
   */
  readonly requestTimeoutMs?: number
  /**
   * Receives errors that do not fail a call: the connection was lost (`ERR_HUB_HISTORY_UNAVAILABLE`, once per outage;
   * nats.js reconnects on its own), or a message in the stream that Herald did not write was skipped by a read
   * (`ERR_HUB_HISTORY_ENTRY_INVALID`). Never throw from it.
   *
   * @defaultValue a function that ignores the error
   */
  readonly onError?: (error: HubError) => void
}

interface Connected {
  readonly nc: NatsConnection
  readonly publisher: StreamPublisher
  readonly jsm: JetStreamManager
  readonly watch: ConnectionWatch
}

/** The live range of the stream at one moment: sequences `floor + 1 … last` of `epoch`. */
interface Range {
  readonly epoch: string
  readonly floor: number
  readonly last: number
}

const OWNER = 'NatsHistory'
const MAX_READ_BATCH = 128
const MIN_READ_BATCH = 8
/** Bytes of the `PUB`/`HPUB` line besides subject and payload: a generous bound for the size check. */
const PROTOCOL_OVERHEAD_BYTES = 256

/**
 * History in a NATS JetStream stream, shared by every hub node connected to the same NATS (cluster).
 *
 * - **Stream and subjects**: one stream (`stream`) with limits `max_msgs` / `max_age` / `max_bytes` and discard
 *   `old`, holding subjects `<subjectPrefix>.>`. Each update is published on
 *   `<subjectPrefix>.<id token>.<topic token>`, where a token is 22 base64url characters of the SHA-256 of the
 *   update's id, or of its first topic (IRIs cannot be subject tokens); the payload is the update as JSON, so the real
 *   id and topics travel with it. Offsets are stream sequence numbers (`"42"`).
 * - **Epoch**: the stream's creation time (`created`). A deleted and recreated stream, or one the servers lost, has a
 *   new one, so an old `Last-Event-ID` reads as a gap. A purge keeps the numbering going, so positions before it read
 *   as a gap as well.
 * - **Appends** are JetStream publishes that name the stream they expect (`Nats-Expected-Stream`) and whose
 *   acknowledgement is awaited (`requestTimeoutMs`), each on a reply subject of one inbox subscription made per
 *   connection; sent on one connection without awaiting one another, they are numbered in call order. A publish whose
 *   acknowledgement did not come fails with `ERR_HUB_HISTORY_UNAVAILABLE`; it may still have been stored, never the
 *   reverse. An update too large for the servers' `max_payload` fails with `ERR_HUB_HISTORY_UPDATE_TOO_LARGE`.
 * - **Connection**: nats.js reconnects on its own. While the connection is down, operations wait for it to come back
 *   (up to `requestTimeoutMs`, in call order) instead of sending requests nats.js would drop on reconnecting; a
 *   request whose connection is lost before the answer fails at once with `ERR_HUB_HISTORY_UNAVAILABLE`.
 * - **Reads** take the stream's state (one `STREAM.INFO`), then get the messages by sequence from the stream leader
 *   (`STREAM.MSG.GET`, pipelined in batches), so no consumer is created or left behind, and every read is
 *   consistent with the leader.
 * - **locate** asks the stream for the last message on `<subjectPrefix>.<id token>.*` (one request), so ids need no
 *   separate index; the decoded id is checked, so a token collision answers `undefined`, never a wrong position.
 * - **Bounds** are enforced by the servers, on their clock: the age bound cannot follow an injected clock.
 *
 * The stream is created (or its limits updated) on first use. `capabilities.durable` is true for `storage: 'file'`
 * (the servers write to disk before acknowledging); `sharedAcrossNodes` is true.
 *
 * @example
 * ```ts
 * const history = new NatsHistory({ url: 'nats://nats.internal:4222', maxEntries: 50_000, replicas: 3 })
 * const position = await history.append({ id: 'urn:uuid:…', topics: ['/books/1'], data: '{}', private: false })
 * await history.close()
 * ```
 * @see https://docs.nats.io/nats-concepts/jetstream/streams
 */
export class NatsHistory implements HistoryStore {
  readonly capabilities: HistoryCapabilities

  readonly #url: string
  readonly #connectionOptions: NatsEngineConnectionOptions | undefined
  readonly #lent: NatsConnection | undefined
  readonly #stream: string
  readonly #prefix: string
  readonly #maxEntries: number
  readonly #maxAgeMs: number | null
  readonly #maxBytes: number | null
  readonly #maxScan: number
  readonly #storage: 'file' | 'memory'
  readonly #replicas: number
  readonly #requestTimeoutMs: number
  readonly #onError: (error: HubError) => void
  /** The connection being opened, or open. */
  #connection: Promise<Connected> | undefined
  /** The status watch of the open connection. */
  #watch: ConnectionWatch | undefined
  /** The connection with the stream checked (created, or its limits applied); reset when the stream goes missing. */
  #ready: Promise<Connected> | undefined
  /** The epoch of the last stream state seen. */
  #epoch: string | undefined
  /**
   * The highest sequence acknowledged to this store (or seen when the stream was checked) in that epoch: an
   * acknowledgement at or below it means the stream was recreated meanwhile. Reads do not raise it, since they may
   * see the sequence of an append whose acknowledgement is still on its way.
   */
  #lastSequence = 0
  readonly #inFlight = new Set<Promise<unknown>>()
  #closed = false

  constructor(options: NatsHistoryOptions = {}) {
    checkOptionsObject(OWNER, options)
    this.#url = urlOption(OWNER, options.url)
    this.#connectionOptions = objectOption(OWNER, 'connectionOptions', options.connectionOptions)
    this.#lent = objectOption(OWNER, 'connection', options.connection)
    this.#stream = streamNameOption(OWNER, options.stream, DEFAULT_NATS_HISTORY_STREAM)
    this.#prefix = subjectOption(OWNER, 'subjectPrefix', options.subjectPrefix, DEFAULT_NATS_HISTORY_SUBJECT_PREFIX)
    this.#maxEntries = integerOption(OWNER, 'maxEntries', options.maxEntries, DEFAULT_NATS_HISTORY_MAX_ENTRIES, 1)
    this.#maxAgeMs = nullableIntegerOption(OWNER, 'maxAgeMs', options.maxAgeMs, DEFAULT_NATS_HISTORY_MAX_AGE_MS, 1)
    this.#maxBytes = nullableIntegerOption(OWNER, 'maxBytes', options.maxBytes, DEFAULT_NATS_HISTORY_MAX_BYTES, 1)
    this.#maxScan = integerOption(OWNER, 'maxScan', options.maxScan, DEFAULT_NATS_HISTORY_MAX_SCAN, 1)
    const storage: unknown = options.storage ?? 'file'
    if (storage !== 'file' && storage !== 'memory') {
      throw new HubError('ERR_HUB_INVALID_OPTION', `${OWNER}: storage must be 'file' or 'memory', not ${String(storage)}`)
    }
    this.#storage = storage
    this.#replicas = integerOption(OWNER, 'replicas', options.replicas, 1, 1)
    this.#requestTimeoutMs = integerOption(OWNER, 'requestTimeoutMs', options.requestTimeoutMs, DEFAULT_NATS_REQUEST_TIMEOUT_MS, 1)
    this.#onError = functionOption(OWNER, 'onError', options.onError, ignoreError)
    this.capabilities = Object.freeze({ durable: storage === 'file', sharedAcrossNodes: true })
  }

  append(update: HubUpdate): Promise<StreamPosition> {
    return this.#run(async () => {
      const stored = copyUpdate(update)
      const payload = encodeUpdate(stored)
      const subject = `${this.#prefix}.${subjectToken(stored.id)}.${subjectToken(stored.topics[0] as string)}`
      // Every append awaits the same promise once, so their publishes leave in call order.
      const { nc, publisher } = await this.#whenUsable()
      const maxPayload = nc.info?.max_payload ?? Number.POSITIVE_INFINITY
      if (payload.byteLength + subject.length + PROTOCOL_OVERHEAD_BYTES > maxPayload) {
        throw new HubError(
          'ERR_HUB_HISTORY_UPDATE_TOO_LARGE',
          `${OWNER}: the update takes ${payload.byteLength} bytes, more than the server's max_payload of ${maxPayload}`,
        )
      }
      const ack = await this.#request(publisher.publish(subject, payload))
      let epoch = this.#epoch
      if (epoch === undefined || ack.seq <= this.#lastSequence) {
        // The sequence went back: the stream was deleted and created again since we last looked. Label the position
        // with the new stream's epoch.
        epoch = (await this.#range()).epoch
      }
      this.#lastSequence = Math.max(this.#lastSequence, ack.seq)
      return { epoch, offset: String(ack.seq) }
    })
  }

  locate(id: string): Promise<StreamPosition | undefined> {
    return this.#run(async () => {
      checkLocateId(id)
      const { jsm } = await this.#whenUsable()
      const [range, stored] = await Promise.all([
        this.#range(),
        this.#request(jsm.streams.getMessage(this.#stream, { last_by_subj: `${this.#prefix}.${subjectToken(id)}.*` })),
      ])
      if (stored === null || stored.seq <= range.floor) return undefined
      const update = this.#decode(stored)
      // Two ids with one token (a SHA-256 collision on 132 bits) would land here: answer "unknown", not a wrong place.
      if (update?.id !== id) return undefined
      return { epoch: range.epoch, offset: String(stored.seq) }
    })
  }

  readAfter(from: StreamPosition | 'earliest', query: ReadQuery): Promise<ReadResult> {
    return this.#run(async () => {
      const scanLimit = checkReadQuery(query, this.#maxScan)
      const { jsm } = await this.#whenUsable()
      const { epoch, floor, last } = await this.#range()
      const plan = planSequenceRead(from, epoch, floor, last)
      const messages: HubMessage[] = []
      let sequence = plan.after
      let next: StreamPosition = { epoch, offset: String(sequence) }
      let examined = 0
      let batch = Math.min(MAX_READ_BATCH, Math.max(MIN_READ_BATCH, query.limit))
      while (sequence < last && examined < scanLimit && messages.length < query.limit) {
        this.#checkOpen()
        const count = Math.min(batch, last - sequence, scanLimit - examined)
        // Pipelined: the requests leave together and are answered in order by the stream leader.
        const requests: Promise<StoredMsg | null>[] = []
        for (let i = 1; i <= count; i++) requests.push(this.#request(jsm.streams.getMessage(this.#stream, { seq: sequence + i })))
        const stored = await Promise.all(requests)
        for (const entry of stored) {
          if (messages.length === query.limit) break
          if (entry === null) {
            // Evicted since the stream state was read: stop here; the next read from `next` reports the gap.
            return { messages, next, done: false, gap: plan.gap }
          }
          examined++
          sequence = entry.seq
          next = { epoch, offset: String(sequence) }
          const update = this.#decode(entry)
          if (update !== undefined && query.match(update)) messages.push({ update, position: next })
        }
        batch = Math.min(MAX_READ_BATCH, batch * 2)
      }
      return { messages, next, done: sequence >= last, gap: plan.gap }
    })
  }

  size(): Promise<number> {
    return this.#run(async () => {
      const info = await this.#info()
      return info.state.messages
    })
  }

  /** The position of the newest retained update: the stream's last sequence, from one `STREAM.INFO`. */
  newest(): Promise<StreamPosition | undefined> {
    return this.#run(async () => {
      const { epoch, floor, last } = await this.#range()
      return last > floor ? { epoch, offset: String(last) } : undefined
    })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([...this.#inFlight])
    const connection = this.#connection
    this.#connection = undefined
    this.#ready = undefined
    const connected = await connection?.catch(() => undefined)
    connected?.watch.stop()
    connected?.publisher.close()
    if (this.#lent === undefined && connected !== undefined && !connected.nc.isClosed()) await connected.nc.close()
  }

  #checkOpen(): void {
    if (this.#closed) throw new HubError('ERR_HUB_HISTORY_CLOSED', `this ${OWNER} is closed`)
  }

  /** Runs an operation: rejects at once after close, tracks it for `close()`, and codes NATS failures. */
  #run<T>(operation: () => Promise<T>): Promise<T> {
    const promise = new Promise<T>((resolve) => {
      this.#checkOpen()
      resolve(operation())
    }).catch((error: unknown) => {
      throw this.#failure(error)
    })
    this.#inFlight.add(promise)
    const untrack = (): void => {
      this.#inFlight.delete(promise)
    }
    promise.then(untrack, untrack)
    return promise
  }

  /** Leaves Herald's errors and the query's own (a throwing `match`) as they are; codes NATS failures. */
  #failure(error: unknown): unknown {
    if (error instanceof HubError) return error
    if (!(error instanceof NatsFailure)) return error
    if (this.#closed) return new HubError('ERR_HUB_HISTORY_CLOSED', `this ${OWNER} was closed during the operation`, { cause: error.cause })
    // Check the stream again before the next operation: it may have been deleted (a publish then has no responder).
    this.#ready = undefined
    return new HubError('ERR_HUB_HISTORY_UNAVAILABLE', `${OWNER}: NATS failed: ${messageOf(error.cause)}`, { cause: error.cause })
  }

  /**
   * Marks a NATS call, so that its failure is told apart from one of the caller's `match`; once connected, fails it
   * as soon as the connection it went out on is lost.
   */
  #request<T>(promise: Promise<T>): Promise<T> {
    const watch = this.#watch
    return (watch === undefined ? promise : watch.guard(promise)).catch((cause: unknown) => {
      throw new NatsFailure(cause)
    })
  }

  /**
   * The connection, ready and up. While it is down, waits for it to come back (up to `requestTimeoutMs`) rather than
   * send requests that nats.js would drop on reconnecting; callers resume in the order they came.
   */
  #whenUsable(): Promise<Connected> {
    return this.#whenReady().then((connected) => this.#request(connected.watch.whenUp(this.#requestTimeoutMs)).then(() => connected))
  }

  /** The connection, with the stream checked. Connects again after a failed attempt, or once the connection closed. */
  #whenReady(): Promise<Connected> {
    this.#ready ??= this.#prepare().catch((error: unknown) => {
      this.#ready = undefined
      throw error
    })
    return this.#ready
  }

  async #prepare(): Promise<Connected> {
    this.#connection ??= this.#request(
      openNatsConnection({
        url: this.#url,
        connectionOptions: this.#connectionOptions,
        connection: this.#lent,
        requestTimeoutMs: this.#requestTimeoutMs,
        name: 'herald-history',
      }).then(async (nc): Promise<Connected> => {
        const jsm = await jetstreamManager(nc, { timeout: this.#requestTimeoutMs, checkAPI: false })
        const watch = new ConnectionWatch(nc, {
          onDown: (server) => {
            if (!this.#closed) this.#onError(new HubError('ERR_HUB_HISTORY_UNAVAILABLE', `${OWNER}: lost the connection to NATS (${server})`))
          },
        })
        return { nc, jsm, publisher: new StreamPublisher(nc, this.#stream, this.#requestTimeoutMs), watch }
      }),
    ).catch((error: unknown) => {
      this.#connection = undefined
      throw error
    })
    const connected = await this.#connection
    if (connected.nc.isClosed() && this.#lent === undefined) {
      connected.watch.stop()
      connected.publisher.close()
      this.#connection = undefined
      return this.#prepare()
    }
    this.#watch = connected.watch
    await this.#ensureStream(connected.jsm)
    return connected
  }

  /** Creates the stream, or checks the existing one and applies this store's limits to it. */
  async #ensureStream(jsm: JetStreamManager): Promise<void> {
    const wanted = {
      max_msgs: this.#maxEntries,
      max_age: this.#maxAgeMs === null ? 0 : nanos(this.#maxAgeMs),
      max_bytes: this.#maxBytes ?? -1,
      discard: DiscardPolicy.Old,
    }
    const subjects = `${this.#prefix}.>`
    let info = await this.#existingStream(jsm)
    if (info === undefined) {
      const config: Partial<StreamConfig> & { name: string } = {
        name: this.#stream,
        subjects: [subjects],
        retention: RetentionPolicy.Limits,
        storage: this.#storage === 'file' ? StorageType.File : StorageType.Memory,
        num_replicas: this.#replicas,
        max_msgs_per_subject: -1,
        ...wanted,
      }
      try {
        info = await this.#request(jsm.streams.add(config))
      } catch (error) {
        // Another node created it first: use theirs. Anything else (subjects taken by another stream) is a conflict.
        info = await this.#existingStream(jsm)
        if (info === undefined) throw this.#conflict(`cannot create stream ${this.#stream}: ${messageOf((error as NatsFailure).cause)}`)
      }
    }
    if (!info.config.subjects.includes(subjects)) {
      throw this.#conflict(`stream ${this.#stream} exists with subjects ${JSON.stringify(info.config.subjects)}, not ${subjects}`)
    }
    const current = info.config
    if (current.max_msgs !== wanted.max_msgs || current.max_age !== wanted.max_age || current.max_bytes !== wanted.max_bytes || current.discard !== wanted.discard) {
      info = await this.#request(jsm.streams.update(this.#stream, { ...current, ...wanted }))
    }
    this.#observe(info)
    this.#lastSequence = Math.max(this.#lastSequence, info.state.last_seq)
  }

  async #existingStream(jsm: JetStreamManager): Promise<StreamInfo | undefined> {
    try {
      return await this.#request(jsm.streams.info(this.#stream))
    } catch (error) {
      if (error instanceof NatsFailure && isStreamNotFound(error.cause)) return undefined
      throw error
    }
  }

  #conflict(detail: string): HubError {
    return new HubError('ERR_HUB_HISTORY_STREAM_CONFLICT', `${OWNER}: ${detail}`)
  }

  async #info(): Promise<StreamInfo> {
    const { jsm } = await this.#whenUsable()
    const existing = await this.#existingStream(jsm)
    if (existing !== undefined) return this.#observe(existing)
    // The stream was deleted: create it again, as a new epoch.
    this.#ready = undefined
    await this.#whenReady()
    return this.#observe(await this.#request(jsm.streams.info(this.#stream)))
  }

  /** The stream's live range now. */
  async #range(): Promise<Range> {
    const { created, state } = await this.#info()
    // An empty stream reports first_seq = last_seq + 1 after a purge, and 0 when it never held a message.
    const floor = state.messages === 0 ? state.last_seq : state.first_seq - 1
    return { epoch: created, floor, last: state.last_seq }
  }

  #observe(info: StreamInfo): StreamInfo {
    if (info.created !== this.#epoch) {
      this.#epoch = info.created
      this.#lastSequence = 0
    }
    return info
  }

  #decode(stored: StoredMsg): HubUpdate | undefined {
    try {
      return decodeUpdate(stored.data)
    } catch (cause) {
      this.#onError(
        new HubError('ERR_HUB_HISTORY_ENTRY_INVALID', `${OWNER}: skipped message ${stored.seq} (${stored.subject}), which Herald did not write: ${messageOf(cause)}`, {
          cause,
        }),
      )
      return undefined
    }
  }
}

/** A failed NATS request, wrapped until `#failure` codes it. */
class NatsFailure extends Error {
  constructor(override readonly cause: unknown) {
    super(messageOf(cause))
    this.name = 'NatsFailure'
  }
}

function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === 10059
}

function ignoreError(): void {}
