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
  #stop: (() => void) | undefined
  #closed = false

  constructor(options: IpcBrokerOptions) {
    this.#channel = options.channel
    this.#onError = options.onError ?? (() => undefined)
  }

  publish(message: HubMessage): Promise<void> {
    if (this.#closed) return Promise.reject(new HubError('ERR_HUB_BROKER_CLOSED', 'the broker is closed'))
    this.#channel.send({ herald: 'broker-publish', message })
    return Promise.resolve()
  }

  subscribe(onMessage: (m: HubMessage) => void): Promise<Unsubscribe> {
    if (this.#closed) return Promise.reject(new HubError('ERR_HUB_BROKER_CLOSED', 'the broker is closed'))
    const entry = { listener: onMessage }
    this.#listeners.add(entry)
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
    })
    return Promise.resolve(() => {
      this.#listeners.delete(entry)
      return Promise.resolve()
    })
  }

  #failed(cause: unknown): void {
    this.#onError(new HubError('ERR_HUB_BROKER_LISTENER_FAILED', 'a broker listener failed', { cause }))
  }

  close(): Promise<void> {
    this.#closed = true
    this.#listeners.clear()
    this.#stop?.()
    this.#stop = undefined
    return Promise.resolve()
  }
}
