// The JetStream push consumer a NatsStreamBroker reads new messages from. Internal: not re-exported from index.ts.
import { AckPolicy, DeliverPolicy, ReplayPolicy, type JetStreamManager } from '@nats-io/jetstream'
import { Empty, nanos, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import { connectionInbox } from './nats-connection.js'

/** What a {@link PushTail} reports to its owner. Each callback receives the tail, so that a replaced one is ignored. */
export interface PushTailEvents {
  /** A stored message, with its stream sequence, in stream order. */
  readonly onMessage: (tail: PushTail, message: Msg, sequence: number) => void
  /**
   * The consumer was idle and says it delivered up to `lastSequence`: a message the owner has not read may have been
   * lost on the way (the connection dropped meanwhile).
   */
  readonly onIdle: (tail: PushTail, lastSequence: number) => void
  /** The consumer is gone (deleted with its stream, or by an operator), or its subscription failed. */
  readonly onGone: (tail: PushTail) => void
}

/** How a {@link PushTail} is set up. */
export interface PushTailSettings {
  readonly nc: NatsConnection
  readonly jsm: JetStreamManager
  readonly stream: string
  /** The stream's creation time when the tail was opened: the epoch its messages belong to once verified. */
  readonly epoch: string
  /** How often an idle consumer sends a heartbeat. */
  readonly heartbeatMs: number
  readonly events: PushTailEvents
}

/** How long the server keeps a consumer nobody listens to: the tail's connection is lost or its node gone. */
const INACTIVE_THRESHOLD_MS = 10_000
/** A tail that heard nothing for this many heartbeats counts as lost. */
const SILENT_HEARTBEATS = 3

/**
 * An ephemeral JetStream push consumer (no acknowledgements, flow control, heartbeats, kept in memory) that delivers
 * the stream's messages from a start sequence to a fresh inbox, so a hub node learns of each stored update with one
 * message from the server instead of a wake-up signal, a `STREAM.INFO` and a `STREAM.MSG.GET`. It only delivers: the
 * owner decides what to do with a message (deliver it when it is the next one of the verified epoch, read by sequence
 * otherwise), so a lost or reordered push never turns into a wrong delivery.
 */
export class PushTail {
  /** The epoch its messages belong to; the owner trusts it only once {@link PushTail.verified} is set. */
  readonly epoch: string
  /**
   * Set by the owner once the stream's state read after the consumer was created still had `epoch`: the consumer was
   * then created on that stream, not on a deleted and recreated one.
   */
  verified = false
  readonly #settings: PushTailSettings
  readonly #subscription: Subscription
  #name: string | undefined
  #heard = false
  #checkedAt = Date.now()
  #closed = false

  constructor(settings: PushTailSettings) {
    this.#settings = settings
    this.epoch = settings.epoch
    this.#subscription = settings.nc.subscribe(connectionInbox(settings.nc), {
      callback: (error, message) => {
        if (error !== null) settings.events.onGone(this)
        else this.#receive(message)
      },
    })
  }

  /** Creates the consumer, delivering from `startSequence` on. */
  async start(startSequence: number): Promise<void> {
    const { jsm, stream, heartbeatMs } = this.#settings
    const info = await jsm.consumers.add(stream, {
      description: 'herald stream broker tail',
      deliver_subject: this.#subscription.getSubject(),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: startSequence,
      ack_policy: AckPolicy.None,
      replay_policy: ReplayPolicy.Instant,
      flow_control: true,
      idle_heartbeat: nanos(heartbeatMs),
      inactive_threshold: nanos(Math.max(INACTIVE_THRESHOLD_MS, SILENT_HEARTBEATS * heartbeatMs)),
      mem_storage: true,
      num_replicas: 1,
    })
    this.#name = info.name
    if (this.#closed) this.#delete()
  }

  /**
   * Whether nothing (message or heartbeat) arrived for {@link SILENT_HEARTBEATS} heartbeats: the consumer was lost
   * with a server, say. Called on each of the owner's rounds.
   */
  isSilent(now: number): boolean {
    if (this.#heard) {
      this.#heard = false
      this.#checkedAt = now
      return false
    }
    return now - this.#checkedAt > SILENT_HEARTBEATS * this.#settings.heartbeatMs
  }

  /** Stops listening and deletes the consumer without waiting (the server also drops it once nobody listens). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#subscription.unsubscribe()
    this.#delete()
  }

  #delete(): void {
    const { nc, jsm, stream } = this.#settings
    if (this.#name === undefined || nc.isClosed()) return
    jsm.consumers.delete(stream, this.#name).catch(() => {
      // Already gone, or the connection is: the inactivity threshold removes it.
    })
  }

  #receive(message: Msg): void {
    if (this.#closed) return
    this.#heard = true
    const { events, nc } = this.#settings
    const reply = message.reply ?? ''
    const sequence = pushedStreamSequence(reply)
    if (sequence > 0) {
      events.onMessage(this, message, sequence)
      return
    }
    const headers = message.headers
    if (headers?.code === 100) {
      if (reply !== '') {
        // A flow-control request: answered once every message before it was handled, which the callback order gives.
        message.respond(Empty)
        return
      }
      // An idle heartbeat. One naming a subject means the server waits for a flow-control answer that was lost.
      const stalled = headers.get('Nats-Consumer-Stalled')
      if (stalled !== '') nc.publish(stalled, Empty)
      events.onIdle(this, Number(headers.get('Nats-Last-Stream')) || 0)
      return
    }
    // Any other status (409 consumer deleted, for one) ends the consumer's delivery.
    events.onGone(this)
  }
}

/**
 * The stream sequence of a message a push consumer delivered, from its reply subject, or 0 when the subject is not a
 * JetStream acknowledgement subject. The subject is `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.…` (9
 * tokens), or with a domain and an account hash after `$JS.ACK` (11 tokens or more).
 */
export function pushedStreamSequence(reply: string): number {
  if (!reply.startsWith('$JS.ACK.')) return 0
  const tokens = reply.split('.')
  const sequence = Number(tokens.length === 9 ? tokens[5] : tokens.length >= 11 ? tokens[7] : undefined)
  return Number.isSafeInteger(sequence) && sequence > 0 ? sequence : 0
}
