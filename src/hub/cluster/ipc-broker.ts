import type { Broker, Unsubscribe } from '../broker/broker.js'
import { HubError } from '../errors.js'
import type { HubMessage } from '../update.js'
import type { IpcChannel } from './ipc-channel.js'

/** Options of {@link IpcBroker}. */
export interface IpcBrokerOptions {
  /** The pipe to the primary, whose {@link ClusterRelay} hands every message to every worker. */
  channel: IpcChannel
  /** Receives errors thrown by listeners. @defaultValue ignore them */
  onError?: (error: HubError) => void
}

/**
 * The broker of a worker process under `herald serve --workers N`: publishes go to the primary, which relays each
 * message to every worker, this one included, in the order it received them. At-most-once; order preserved per
 * publishing worker.
 */
export class IpcBroker implements Broker {
  readonly #channel: IpcChannel
  readonly #onError: (error: HubError) => void
  /** One entry per subscription: the same function subscribed twice is called twice. */
  readonly #listeners = new Set<{ readonly listener: (m: HubMessage) => unknown }>()
  readonly #acks = new Map<number, { resolve: () => void; reject: (error: Error) => void }>()
  #nextId = 0
  #stop: (() => void) | undefined
  #closed = false

  constructor(options: IpcBrokerOptions) {
    this.#channel = options.channel
    this.#onError = options.onError ?? (() => undefined)
  }

  /**
   * Resolves once the primary has relayed the message to every worker and this worker's listeners have had it (the
   * copy the primary sends back acknowledges the publish), so a publisher that awaits each publish has at most one
   * message in flight: memory stays bounded however slow the primary is.
   */
  publish(message: HubMessage): Promise<void> {
    if (this.#closed) return Promise.reject(new HubError('ERR_HUB_BROKER_CLOSED', 'the broker is closed'))
    this.#listen()
    const id = ++this.#nextId
    return new Promise<void>((resolve, reject) => {
      this.#acks.set(id, { resolve, reject })
      this.#channel.send({ herald: 'broker-publish', id, message })
    })
  }

  subscribe(onMessage: (m: HubMessage) => void): Promise<Unsubscribe> {
    if (this.#closed) return Promise.reject(new HubError('ERR_HUB_BROKER_CLOSED', 'the broker is closed'))
    const entry = { listener: onMessage }
    this.#listeners.add(entry)
    this.#listen()
    return Promise.resolve(() => {
      this.#listeners.delete(entry)
      return Promise.resolve()
    })
  }

  #listen(): void {
    this.#stop ??= this.#channel.onMessage((m) => {
      if (m.herald !== 'broker-message') return
      for (const { listener } of this.#listeners) {
        try {
          const result = listener(m.message as HubMessage)
          if (result instanceof Promise) result.catch((cause: unknown) => this.#failed(cause))
        } catch (cause) {
          this.#failed(cause)
        }
      }
      if (m.ack !== undefined) {
        this.#acks.get(m.ack)?.resolve()
        this.#acks.delete(m.ack)
      }
    })
  }

  #failed(cause: unknown): void {
    this.#onError(new HubError('ERR_HUB_BROKER_LISTENER_FAILED', 'a broker listener failed', { cause }))
  }

  close(): Promise<void> {
    this.#closed = true
    this.#listeners.clear()
    for (const ack of this.#acks.values()) ack.reject(new HubError('ERR_HUB_BROKER_CLOSED', 'the broker closed before the primary acknowledged'))
    this.#acks.clear()
    this.#stop?.()
    this.#stop = undefined
    return Promise.resolve()
  }
}
