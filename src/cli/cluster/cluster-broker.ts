import { HubError, MemoryBroker, type Broker, type HubMessage, type Unsubscribe } from '../../hub/index.js'
import type { PrimaryPacket, WorkerPacket } from './cluster-packet.js'

/** Publishes sent to the primary and not yet acknowledged, at most, by default. */
export const DEFAULT_CLUSTER_MAX_IN_FLIGHT = 1024

/** The worker's end of the IPC channel to the primary (`process.send` / `process.on('message')`). */
export interface ClusterPort {
  /** Sends a packet to the primary. May throw when the channel is closed. */
  send(packet: WorkerPacket): void
  /** Calls `listener` for every packet from the primary; returns a function that stops it. */
  onPacket(listener: (packet: PrimaryPacket) => void): () => void
}

/** Options of {@link ClusterBroker}. */
export interface ClusterBrokerOptions {
  /** The channel to the primary. */
  readonly port: ClusterPort
  /**
   * Publishes sent and not yet acknowledged by the primary, at most; `publish` waits (in order) beyond it, which
   * bounds the memory the IPC channels hold. @defaultValue {@link DEFAULT_CLUSTER_MAX_IN_FLIGHT}
   */
  readonly maxInFlight?: number
  /** Receives listener errors (`ERR_HUB_BROKER_LISTENER_FAILED`) and a send that failed. @defaultValue ignore */
  readonly onError?: (error: HubError) => void
}

/**
 * A broker for the worker processes of one machine (`herald serve --workers N` with the memory broker): a message
 * published in one worker reaches that worker's listeners at once, and the other workers' through the primary
 * process, which relays it over the IPC channels (see `ClusterRelay`).
 *
 * Meets the broker contract: at most once, per-publisher order at every listener (IPC channels are ordered, and local
 * delivery happens before the message is sent on), isolated listeners, closed state. Memory is bounded by
 * `maxInFlight` unacknowledged messages per worker: the primary acknowledges a message once it has handed it to every
 * other worker's channel.
 *
 * @example
 * ```ts
 * const broker = new ClusterBroker({ port: processPort() })
 * const hub = createHub({ history: new SqliteHistory({ path: './herald.db' }), broker })
 * ```
 */
export class ClusterBroker implements Broker {
  readonly #port: ClusterPort
  readonly #local: MemoryBroker
  readonly #maxInFlight: number
  readonly #onError: (error: HubError) => void
  readonly #detach: () => void
  #inFlight = 0
  #seq = 0
  /** Publishes waiting for a slot, oldest first; each is handed a slot when an ack frees one. */
  #waiting: { resolve: () => void; reject: (error: Error) => void }[] = []
  #closed = false

  constructor(options: ClusterBrokerOptions) {
    const { port, maxInFlight = DEFAULT_CLUSTER_MAX_IN_FLIGHT, onError = () => undefined } = options
    if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) {
      throw new HubError('ERR_HUB_INVALID_OPTION', `ClusterBroker: maxInFlight must be a positive integer, not ${String(maxInFlight)}`)
    }
    this.#port = port
    this.#maxInFlight = maxInFlight
    this.#onError = onError
    this.#local = new MemoryBroker({ onError })
    this.#detach = port.onPacket((packet) => this.#receive(packet))
  }

  async publish(message: HubMessage): Promise<void> {
    if (this.#closed) throw closedError()
    await this.#local.publish(message)
    if (this.#inFlight >= this.#maxInFlight || this.#waiting.length > 0) {
      // The slot is handed over by #receive: no later publish can overtake this one.
      await new Promise<void>((resolve, reject) => this.#waiting.push({ resolve, reject }))
    } else {
      this.#inFlight++
    }
    const seq = ++this.#seq
    try {
      this.#port.send({ herald: 'publish', seq, message })
    } catch (error) {
      this.#release()
      this.#onError(new HubError('ERR_HUB_BROKER_CLOSED', 'could not send a message to the primary process', { cause: error }))
    }
  }

  subscribe(onMessage: (message: HubMessage) => void): Promise<Unsubscribe> {
    return this.#local.subscribe(onMessage)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#detach()
    for (const waiter of this.#waiting.splice(0)) waiter.reject(closedError())
    await this.#local.close()
  }

  #receive(packet: PrimaryPacket): void {
    if (this.#closed) return
    if (packet.herald === 'deliver') {
      this.#local.publish(packet.message).catch(() => undefined)
    } else if (packet.herald === 'ack') {
      this.#release()
    }
  }

  /** Frees one slot: hands it to the oldest waiting publish, if any. */
  #release(): void {
    const next = this.#waiting.shift()
    if (next !== undefined) next.resolve()
    else this.#inFlight = Math.max(0, this.#inFlight - 1)
  }
}

function closedError(): HubError {
  return new HubError('ERR_HUB_BROKER_CLOSED', 'the broker is closed')
}
