import type { PrimaryPacket, WorkerPacket } from './cluster-packet.js'

/** Sends a packet to one worker; `callback` runs once it is written to the channel (or failed). */
export type SendToWorker = (packet: PrimaryPacket, callback: (error: Error | null) => void) => void

/**
 * The primary's side of the {@link ClusterBroker}: it forwards every message a worker publishes to every other
 * worker, and acknowledges it to the sender once each forward was written to its channel (so each worker's window of
 * unacknowledged publishes bounds what the channels hold). Transport-agnostic: the primary connects it to
 * `cluster` workers, tests to in-memory channels.
 *
 * @example
 * ```ts
 * const relay = new ClusterRelay()
 * relay.add(worker.id, (packet, callback) => worker.send(packet, undefined, callback))
 * worker.on('message', (packet) => relay.receive(worker.id, packet))
 * ```
 */
export class ClusterRelay {
  readonly #workers = new Map<number, SendToWorker>()

  /** Connects a worker. */
  add(id: number, send: SendToWorker): void {
    this.#workers.set(id, send)
  }

  /** Disconnects a worker: it receives nothing more. */
  remove(id: number): void {
    this.#workers.delete(id)
  }

  /** Connected workers. */
  get size(): number {
    return this.#workers.size
  }

  /** Handles a packet from worker `from`. Packets other than `publish` are not the relay's and are ignored. */
  receive(from: number, packet: WorkerPacket): void {
    if (packet.herald !== 'publish') return
    const sender = this.#workers.get(from)
    const ack = (): void => sender?.({ herald: 'ack', seq: packet.seq }, () => undefined)
    const targets = [...this.#workers].filter(([id]) => id !== from)
    let pending = targets.length
    if (pending === 0) {
      ack()
      return
    }
    const deliver: PrimaryPacket = { herald: 'deliver', message: packet.message }
    for (const [, send] of targets) {
      // A worker whose channel failed misses the message (at most once); its subscribers resume from history.
      send(deliver, () => {
        if (--pending === 0) ack()
      })
    }
  }
}
