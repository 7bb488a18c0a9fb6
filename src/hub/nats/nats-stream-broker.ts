import { JetStreamApiError, jetstreamManager, type JetStreamManager, type StoredMsg, type StreamInfo } from '@nats-io/jetstream'
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node'
import { brokerClosedError } from '../broker/broker-closed-error.js'
import type { Broker, SubscribeOptions, Unsubscribe } from '../broker/broker.js'
import { MirrorCopies } from '../broker/mirror-copies.js'
import { SubscriptionSet } from '../broker/subscription-set.js'
import { TailLoop } from '../broker/tail-loop.js'
import { HubError } from '../errors.js'
import { checkOptionsObject, integerOption, objectOption } from '../history/option-checks.js'
import type { HubMessage, HubUpdate } from '../update.js'
import { DEFAULT_NATS_BROKER_SUBJECT, NatsBroker } from './nats-broker.js'
import {
  ConnectionWatch,
  DEFAULT_NATS_REQUEST_TIMEOUT_MS,
  messageOf,
  openNatsConnection,
  streamNameOption,
  subjectOption,
  urlOption,
  withTimeout,
  type NatsEngineConnectionOptions,
} from './nats-connection.js'
import { decodeUpdate, encodeMessage } from './message-codec.js'
import { DEFAULT_NATS_HISTORY_STREAM, DEFAULT_NATS_HISTORY_SUBJECT_PREFIX } from './nats-history.js'
import { PushTail } from './push-tail.js'

/**
 * How long a {@link NatsStreamBroker} waits for a sign of a new message before it looks at the stream again: 2 seconds.
 */
export const DEFAULT_NATS_STREAM_BROKER_POLL_MS = 2_000
/** The most stream messages a {@link NatsStreamBroker} reads (and holds) per round. */
export const DEFAULT_NATS_STREAM_BROKER_BATCH_SIZE = 256

/** Options of {@link NatsStreamBroker}. Every field is optional. */
export interface NatsStreamBrokerOptions {
  /**
   * The NATS server of the {@link NatsHistory} to tail, or several separated by commas: the same as the history's.
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
   * The JetStream stream of the {@link NatsHistory} to tail: the same as the history's `stream`.
   *
   * @defaultValue `DEFAULT_NATS_HISTORY_STREAM` (`'HERALD_HISTORY'`)
   */
  readonly stream?: string
  /**
   * The `subjectPrefix` of the {@link NatsHistory} to tail: the same as the history's. The broker listens on
   * `<subjectPrefix>.>` to learn at once that a message was stored.
   *
   * @defaultValue `DEFAULT_NATS_HISTORY_SUBJECT_PREFIX` (`'herald.history'`)
   */
  readonly subjectPrefix?: string
  /**
   * A core NATS subject each published message is also sent to, so that hub nodes of the same cluster that run a
   * {@link NatsBroker} (configured with a broker URL other than their history URL) still receive it. The copy is handed
   * to the connection without waiting for the server (see `publish`); `null` sends nothing. Listeners of this broker
   * never read the subject. It must lie outside `<subjectPrefix>.>`, or JetStream would store the forwarded messages in the history.
   *
   * @defaultValue `DEFAULT_NATS_BROKER_SUBJECT` (`'herald.broker'`, the {@link NatsBroker} default)
   */
  readonly subject?: string | null
  /**
   * How long one request may take, waiting for a lost connection to come back included: `subscribe` fails with
   * `ERR_HUB_BROKER_UNAVAILABLE` past it, and a copy for `subject` that waited that long for the connection is reported
   * to `onError`.
   *
   * @defaultValue `DEFAULT_NATS_REQUEST_TIMEOUT_MS` (5 s)
   */
  readonly requestTimeoutMs?: number
  /**
   * How long the tail waits for a sign of a new message before it looks at the stream again (which is also how soon
   * a recreated stream, a new epoch, is noticed when nothing is stored, and a message whose sign was lost is read),
   * and the push consumer's heartbeat interval (at least 100 ms, at most 30 s).
   *
   * @defaultValue {@link DEFAULT_NATS_STREAM_BROKER_POLL_MS} (2 s)
   */
  readonly pollMs?: number
  /**
   * The most messages read per round; this bounds the memory the tail holds.
   *
   * @defaultValue {@link DEFAULT_NATS_STREAM_BROKER_BATCH_SIZE} (256)
   */
  readonly batchSize?: number
  /**
   * Receives errors that do not fail a call: a listener that threw (`ERR_HUB_BROKER_LISTENER_FAILED`), a stream
   * message Herald did not write, skipped (`ERR_HUB_BROKER_MESSAGE_INVALID`), a lost connection
   * (`ERR_HUB_BROKER_UNAVAILABLE`, once per outage; it reconnects on its own), a push consumer the server refused to
   * create (`ERR_HUB_BROKER_UNAVAILABLE`, for lack of permission, say; delivery goes on by rounds, and it tries again
   * 30 s later). An error thrown by `onError` itself is rethrown from a microtask.
   *
   * @defaultValue a function that ignores the error
   */
  readonly onError?: (error: HubError) => void
}

interface Connected {
  readonly nc: NatsConnection
  readonly jsm: JetStreamManager
  readonly watch: ConnectionWatch
}

/** Where the tail stands: the epoch it reads (`''` while the stream does not exist yet) and the last sequence read. */
interface Cursor {
  epoch: string
  sequence: number
}

const OWNER = 'NatsStreamBroker'
/** Bounds of the push consumer's heartbeat interval, which follows `pollMs`. */
const MIN_HEARTBEAT_MS = 100
const MAX_HEARTBEAT_MS = 30_000
/** How long the tail goes without a push consumer after the server refused to create one. */
const PUSH_RETRY_MS = 30_000

/**
 * A broker that delivers the updates of a {@link NatsHistory} by reading its JetStream stream, for hub nodes whose
 * history and broker are the same NATS: listeners receive the updates of every node in history order, which is the
 * order a subscriber resuming with `Last-Event-ID` reads them in. (With core NATS pub/sub, two nodes publishing at
 * once can reach the broker in the other order than they reached history; a subscriber that resumes after the newer
 * update would then never get the older one.)
 *
 * - **Delivery.** New messages come from an ephemeral JetStream push consumer of the stream (no acknowledgements,
 *   flow control, heartbeats every `pollMs`, kept in memory, deleted on `close()` and by the server once nobody
 *   listens to it), created from the sequence after the last one read: one message per update and node. The message
 *   after the last one read is decoded with the history's codec and handed to every listener as a frozen
 *   {@link HubMessage} whose position is the one `NatsHistory.append` returned for it. The consumer is trusted only once
 *   the stream's state read after its creation still has the epoch read before it (so it is not on a deleted and
 *   recreated stream); until then, and whenever a pushed message is not the next one (one lost on the way), the
 *   message only wakes a round. A round reads the stream's state (one `STREAM.INFO`: creation time and sequence
 *   range), then gets the messages after the last sequence read by sequence from the stream leader
 *   (`STREAM.MSG.GET`, pipelined, at most `batchSize`). Rounds also run at the first `subscribe`, every `pollMs`, after
 *   a reconnection (which replaces the consumer), and when the consumer fell silent for three heartbeats (which
 *   replaces it too). While there is no consumer (no stream yet), a core subscription on `<subjectPrefix>.>` wakes the
 *   rounds instead. The tail starts after the stream's last sequence when the first `subscribe` is made, so an update
 *   appended after `subscribe` resolved is delivered.
 * - **Publish.** `history.append` already put the update in the stream, so listeners get it from there, whoever
 *   called `publish`. `publish` checks the message, sends a copy to the core `subject` (for nodes on a
 *   {@link NatsBroker}, which a cluster may mix in, during a move from one broker to the other say) and resolves at
 *   once; copies leave in call order, without a flush to confirm each (a copy that waits longer than
 *   `requestTimeoutMs` for a lost connection is reported to `onError`, as the outage itself is). `close()` waits for
 *   the copies under way. A message that was not appended to the history reaches no listener.
 * - **Reconnects.** After the connection drops, the tail goes on from the last sequence read: nothing retained is
 *   missed, and `onMissed` is not called. It is called (see `SubscribeOptions.onMissed`) before the next message when
 *   messages after that sequence were discarded before they were read (a long outage, a purge), or when the stream
 *   was recreated (a different creation time, a new epoch): the hub then re-reads history and announces the gap.
 * - **Listeners** are called one message at a time, in stream order; the same frozen message goes to every listener
 *   of this node. The tail runs until `close()`, even with no listener.
 *
 * @example
 * ```ts
 * const history = new NatsHistory({ url: 'nats://nats.internal:4222' })
 * const broker = new NatsStreamBroker({ url: 'nats://nats.internal:4222', onError: (error) => log.warn(error) })
 * await broker.subscribe((message) => node.dispatch(message), { onMissed: () => node.resyncFromHistory() })
 * const position = await history.append(update)
 * await broker.publish({ update, position })
 * ```
 * @see https://docs.nats.io/nats-concepts/jetstream/streams
 */
export class NatsStreamBroker implements Broker {
  readonly #url: string
  readonly #connectionOptions: NatsEngineConnectionOptions | undefined
  readonly #lent: NatsConnection | undefined
  readonly #stream: string
  readonly #prefix: string
  readonly #requestTimeoutMs: number
  readonly #batchSize: number
  readonly #heartbeatMs: number
  readonly #subscriptions: SubscriptionSet
  readonly #mirror: NatsBroker | undefined
  readonly #copies: MirrorCopies<Uint8Array>
  readonly #loop: TailLoop
  #connection: Promise<Connected> | undefined
  /** The open connection, once there is one. */
  #nc: NatsConnection | undefined
  #cursor: Cursor = { epoch: '', sequence: 0 }
  /** A sequence the last round found missing although the stream held it: checked again by the next round. */
  #holeAt = 0
  /** The push consumer new messages come from, once the stream exists; `undefined` while there is none. */
  #push: PushTail | undefined
  /**
   * While there is no push consumer: a core subscription to the history's subjects, used only as a wake-up signal
   * that something was stored.
   */
  #signal: Subscription | undefined
  /** When a push consumer may be opened again after one failed or went away (`Date.now()` time). */
  #pushRetryAt = 0

  constructor(options: NatsStreamBrokerOptions = {}) {
    checkOptionsObject(OWNER, options)
    this.#url = urlOption(OWNER, options.url)
    this.#connectionOptions = objectOption(OWNER, 'connectionOptions', options.connectionOptions)
    this.#lent = objectOption(OWNER, 'connection', options.connection)
    this.#stream = streamNameOption(OWNER, options.stream, DEFAULT_NATS_HISTORY_STREAM)
    this.#prefix = subjectOption(OWNER, 'subjectPrefix', options.subjectPrefix, DEFAULT_NATS_HISTORY_SUBJECT_PREFIX)
    const subject = options.subject === null ? null : subjectOption(OWNER, 'subject', options.subject, DEFAULT_NATS_BROKER_SUBJECT)
    if (subject?.startsWith(`${this.#prefix}.`) === true) {
      // JetStream would store every forwarded message in the history, and the tail would read it as an update.
      throw new HubError('ERR_HUB_INVALID_OPTION', `${OWNER}: subject ${subject} must not be one of the history's subjects (${this.#prefix}.>)`)
    }
    this.#requestTimeoutMs = integerOption(OWNER, 'requestTimeoutMs', options.requestTimeoutMs, DEFAULT_NATS_REQUEST_TIMEOUT_MS, 1)
    const pollMs = integerOption(OWNER, 'pollMs', options.pollMs, DEFAULT_NATS_STREAM_BROKER_POLL_MS, 1)
    this.#batchSize = integerOption(OWNER, 'batchSize', options.batchSize, DEFAULT_NATS_STREAM_BROKER_BATCH_SIZE, 1)
    this.#heartbeatMs = Math.min(Math.max(pollMs, MIN_HEARTBEAT_MS), MAX_HEARTBEAT_MS)
    this.#subscriptions = new SubscriptionSet(OWNER, options.onError)
    this.#mirror =
      subject === null
        ? undefined
        : new NatsBroker({
            url: this.#url,
            subject,
            requestTimeoutMs: this.#requestTimeoutMs,
            ...(this.#connectionOptions !== undefined && { connectionOptions: this.#connectionOptions }),
            ...(this.#lent !== undefined && { connection: this.#lent }),
            onError: (error) => this.#subscriptions.report(error),
          })
    const mirror = this.#mirror
    this.#copies = new MirrorCopies({
      owner: OWNER,
      target: `subject ${String(subject)}`,
      encode: encodeMessage,
      forward: mirror === undefined ? undefined : (payload) => mirror.publishEncoded(payload, false),
      report: (error) => this.#subscriptions.report(error),
    })
    this.#loop = new TailLoop({
      subscriptions: this.#subscriptions,
      pollMs,
      batchSize: this.#batchSize,
      start: () => this.#start(),
      read: () => this.#readBatch(),
      beforeWait: () => this.#keepPushTail(),
      onFailure: (error) => {
        this.#dropPushTail()
        return error instanceof HubError ? error : unavailable('lost the connection to NATS', error)
      },
    })
  }

  /**
   * Checks the message and sends a copy to `subject` (see the class notes), without waiting for the server: listeners
   * of stream brokers get the update from the history, which `history.append` wrote before this call.
   *
   * Why not wait: the hub acknowledges a publish after its broker's `publish` resolves, and awaiting the copy's flush
   * put a second round trip to NATS after the append in every acknowledgement, which the publisher of the hub
   * benchmark's scenario S waits for (`npm run bench:hub -- --systems herald-hub-nats-2 --scenarios S`, see
   * bench/RESULTS.md). The copy is not what makes a publish durable; the history is. A copy beyond the server's
   * `max_payload` is reported as `ERR_HUB_BROKER_MESSAGE_TOO_LARGE`.
   *
   * Why no flush for each copy: its answer confirmed only that the server had the copy, which no listener of the
   * pub/sub nodes is the better for, and it cost a PING and a PONG per update; the two-node benchmark's scenario S
   * (`npm run bench:hub -- --systems herald-hub-nats-2 --scenarios S`, bench/RESULTS.md, eleventh round) spent that on
   * the node that takes the publishes.
   *
   * @throws `ERR_HUB_BROKER_MESSAGE_INVALID` (rejects) for a message that breaks the `HubMessage` contract,
   *   `ERR_HUB_BROKER_CLOSED` after `close()`.
   */
  publish(message: HubMessage): Promise<void> {
    if (this.#loop.isClosed()) return Promise.reject(brokerClosedError())
    return this.#copies.publish(message)
  }

  /**
   * Subscribes a listener; see {@link Broker.subscribe}. The first call reads the stream's last sequence, where the
   * tail starts, and resolves once it has; later calls resolve at once.
   *
   * @throws `ERR_HUB_BROKER_UNAVAILABLE` (rejects) when NATS does not answer within `requestTimeoutMs`;
   *   `ERR_HUB_BROKER_CLOSED` after `close()`.
   */
  subscribe(onMessage: (message: HubMessage) => void, options: SubscribeOptions = {}): Promise<Unsubscribe> {
    return this.#loop.subscribe(onMessage, options)
  }

  async close(): Promise<void> {
    if (!this.#loop.close()) return
    this.#dropPushTail()
    this.#signal?.unsubscribe()
    await this.#copies.settled()
    const connected = await this.#connection?.catch(() => undefined)
    if (connected !== undefined) {
      connected.watch.stop()
      if (this.#lent === undefined && !connected.nc.isClosed()) await connected.nc.close()
    }
    await this.#mirror?.close()
  }

  /** Finds where the tail starts (the stream's last sequence); the loop runs once it has. */
  async #start(): Promise<void> {
    try {
      const info = await withTimeout(this.#info(), this.#requestTimeoutMs, () => new Error(`no answer within ${this.#requestTimeoutMs} ms`))
      if (info !== undefined) this.#cursor = { epoch: info.created, sequence: info.state.last_seq }
    } catch (error) {
      throw error instanceof HubError ? error : unavailable('NATS failed', error)
    }
  }

  /** Reads and delivers the messages after the cursor, at most `batchSize`; returns how many it read. */
  async #readBatch(): Promise<number> {
    // The push consumer may move the cursor on while the state is on its way: compare with where it stood before.
    const before = this.#cursor.sequence
    const info = await this.#info()
    if (info === undefined || this.#loop.isClosed()) {
      // No stream (any consumer went with it): the core signal tells when one is written again.
      this.#dropPushTail()
      return 0
    }
    const { created, state } = info
    // An empty stream reports first_seq = last_seq + 1 after a purge, and 0 when it never held a message.
    const floor = state.messages === 0 ? state.last_seq : state.first_seq - 1
    const last = state.last_seq
    if (created !== this.#cursor.epoch || last < before) {
      // A new stream (a new epoch): read it from its start. Only a stream seen before makes a gap.
      if (this.#cursor.epoch !== '') this.#loop.notifyMissed()
      this.#cursor = { epoch: created, sequence: floor }
      this.#holeAt = 0
      this.#dropPushTail()
    } else if (floor > this.#cursor.sequence) {
      // Messages after the last one read were discarded before being read.
      this.#loop.notifyMissed()
      this.#cursor.sequence = floor
      this.#holeAt = 0
    } else if (this.#holeAt === this.#cursor.sequence + 1) {
      // Still in range yet missing again: deleted on its own, so not in history either. Step over it.
      this.#cursor.sequence = this.#holeAt
      this.#holeAt = 0
    }
    const start = this.#cursor.sequence
    const count = Math.min(this.#batchSize, last - start)
    if (count <= 0) return 0
    const { jsm, watch } = await this.#connect()
    const requests: Promise<StoredMsg | null>[] = []
    // Pipelined: the requests leave together and are answered in order by the stream leader.
    for (let i = 1; i <= count; i++) requests.push(this.#request(watch, jsm.streams.getMessage(this.#stream, { seq: start + i })))
    const stored = await Promise.all(requests)
    for (let i = 0; i < count && !this.#loop.isClosed(); i++) {
      const sequence = start + 1 + i
      // The push consumer delivered it meanwhile (see #onPushed).
      if (sequence <= this.#cursor.sequence) continue
      const entry = stored[i] ?? null
      if (entry === null) {
        // Discarded since the state was read (the next round reports the gap), or deleted on its own.
        this.#holeAt = sequence
        break
      }
      this.#deliver(entry.data, sequence, entry.subject)
    }
    return this.#holeAt === 0 ? count : 0
  }

  /**
   * Delivers the stream message at `sequence`, the one after the cursor, and moves the cursor onto it (also when
   * Herald did not write it: it is skipped and reported).
   */
  #deliver(data: Uint8Array, sequence: number, subject: string): void {
    this.#cursor.sequence = sequence
    if (this.#holeAt !== 0 && this.#holeAt <= sequence) this.#holeAt = 0
    const update = this.#decode(data, sequence, subject)
    if (update !== undefined) {
      this.#subscriptions.deliver(Object.freeze({ update, position: Object.freeze({ epoch: this.#cursor.epoch, offset: String(sequence) }) }))
    }
  }

  /**
   * A message from the push consumer. The one after the cursor, from a consumer known to be on the cursor's epoch, is
   * delivered at once. Anything else (not verified yet, a sequence skipped on the way) only wakes the tail, whose
   * round reads by sequence.
   *
   * Why a push consumer: one message per update and node, where a signal, a `STREAM.INFO` and a get were needed (five
   * messages, two round trips after the store), and the signal often arrived before JetStream had stored the message,
   * leaving the update for the next round. Interleaved runs of benchmark S (`npm run bench:hub -- --systems
   * herald-hub,herald-hub-nats-2 --scenarios S`): two nodes went from 1.22× to 1.05× one node's CPU per delivery,
   * and their median latency from 10.7 to 7.8 ms (bench/RESULTS.md, fourth round).
   */
  #onPushed(tail: PushTail, message: Msg, sequence: number): void {
    if (tail !== this.#push || this.#loop.isClosed()) return
    const cursor = this.#cursor
    if (sequence === cursor.sequence + 1 && tail.verified && tail.epoch === cursor.epoch) this.#deliver(message.data, sequence, message.subject)
    else if (sequence > cursor.sequence) this.#loop.signal()
  }

  /** Keeps a verified push consumer in place once the stream exists, opening one from the cursor on when needed. */
  async #keepPushTail(): Promise<void> {
    const now = Date.now()
    const current = this.#push
    if (current !== undefined && !current.isSilent(now)) return
    this.#dropPushTail()
    const epoch = this.#cursor.epoch
    if (epoch === '' || now < this.#pushRetryAt) return
    const { nc, jsm, watch } = await this.#connect()
    if (this.#loop.isClosed()) return
    const tail = new PushTail({
      nc,
      jsm,
      stream: this.#stream,
      epoch,
      heartbeatMs: this.#heartbeatMs,
      events: {
        onMessage: (from, message, sequence) => this.#onPushed(from, message, sequence),
        onIdle: (from, lastSequence) => {
          if (from === this.#push && lastSequence > this.#cursor.sequence) this.#loop.signal()
        },
        onGone: (from) => {
          if (from !== this.#push) return
          this.#dropPushTail()
          // Not at once: a subscription refused by the server's permissions would otherwise fail again in a loop.
          this.#pushRetryAt = Date.now() + this.#heartbeatMs
          this.#loop.signal()
        },
      },
    })
    this.#push = tail
    // The consumer's messages wake the tail from now on.
    this.#signal?.unsubscribe()
    this.#signal = undefined
    try {
      await this.#request(watch, tail.start(this.#cursor.sequence + 1))
    } catch (error) {
      if (tail === this.#push) this.#dropPushTail()
      // A lost connection is an outage like any other; anything else (permissions, the stream's consumer limit) leaves
      // the rounds, woken by the core signal, to deliver until the next try.
      if (!watch.up || this.#loop.isClosed()) throw error
      this.#pushRetryAt = Date.now() + PUSH_RETRY_MS
      this.#subscriptions.report(unavailable(`cannot create its push consumer (tried again in ${PUSH_RETRY_MS / 1000} s)`, error))
      return
    }
    // The stream had this epoch before the consumer was created and still has it: the consumer is on it.
    const info = await this.#info()
    if (tail !== this.#push) return
    if (info?.created === epoch && this.#cursor.epoch === epoch) tail.verified = true
    else this.#dropPushTail()
  }

  /** Closes the push consumer, if any, and listens for the wake-up signal instead. */
  #dropPushTail(): void {
    const tail = this.#push
    if (tail === undefined) return
    this.#push = undefined
    tail.close()
    this.#listenForSignal()
  }

  #listenForSignal(): void {
    const nc = this.#nc
    if (this.#signal !== undefined || this.#push !== undefined || this.#loop.isClosed() || nc === undefined || nc.isClosed()) return
    // Only a signal: what was stored is read from the stream, in sequence order.
    this.#signal = nc.subscribe(`${this.#prefix}.>`, { callback: () => this.#loop.signal() })
  }

  /** The stream's state, or `undefined` while it does not exist. */
  async #info(): Promise<StreamInfo | undefined> {
    const { jsm, watch } = await this.#connect()
    await this.#request(watch, watch.whenUp(this.#requestTimeoutMs))
    try {
      return await this.#request(watch, jsm.streams.info(this.#stream))
    } catch (error) {
      if (error instanceof HubError && isStreamNotFound(error.cause)) return undefined
      throw error
    }
  }

  /** Fails a request as soon as its connection is lost, as `ERR_HUB_BROKER_UNAVAILABLE`. */
  #request<T>(watch: ConnectionWatch, request: Promise<T>): Promise<T> {
    return watch.guard(request).catch((cause: unknown) => {
      throw this.#loop.isClosed() ? brokerClosedError(cause) : unavailable('NATS failed', cause)
    })
  }

  #connect(): Promise<Connected> {
    this.#connection ??= openNatsConnection({
      url: this.#url,
      connectionOptions: this.#connectionOptions,
      connection: this.#lent,
      requestTimeoutMs: this.#requestTimeoutMs,
      name: 'herald-stream-broker',
    })
      .then(async (nc): Promise<Connected> => {
        const jsm = await jetstreamManager(nc, { timeout: this.#requestTimeoutMs, checkAPI: false })
        const watch = new ConnectionWatch(nc, {
          onDown: (server) => this.#loop.reportDown(new HubError('ERR_HUB_BROKER_UNAVAILABLE', `${OWNER}: lost the connection to NATS (${server})`)),
          // What the consumer pushed meanwhile is lost, and a restarted server lost the consumer: read, then reopen it.
          onUp: () => {
            this.#dropPushTail()
            this.#loop.signal()
          },
        })
        if (this.#loop.isClosed()) {
          watch.stop()
          if (this.#lent === undefined) await nc.close()
          throw brokerClosedError()
        }
        this.#nc = nc
        this.#listenForSignal()
        return { nc, jsm, watch }
      })
      .catch((error: unknown) => {
        // Try again on the next call.
        this.#connection = undefined
        throw error
      })
    return this.#connection
  }

  #decode(data: Uint8Array, sequence: number, subject: string): HubUpdate | undefined {
    try {
      const update = decodeUpdate(data)
      Object.freeze(update.topics)
      return Object.freeze(update)
    } catch (cause) {
      this.#subscriptions.report(
        new HubError(
          'ERR_HUB_BROKER_MESSAGE_INVALID',
          `${OWNER}: skipped stream message ${sequence} (${subject}), which Herald did not write: ${messageOf(cause)}`,
          { cause },
        ),
      )
      return undefined
    }
  }
}

function unavailable(what: string, cause: unknown): HubError {
  return new HubError('ERR_HUB_BROKER_UNAVAILABLE', `${OWNER}: ${what}: ${messageOf(cause)}`, { cause })
}


function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === 10059
}
