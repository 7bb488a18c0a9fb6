import type { Broker, Unsubscribe } from '../broker/broker.js'
import { HubError } from '../errors.js'
import { integerOption } from '../history/option-checks.js'
import type { HubMessage } from '../update.js'
import type { IpcChannel } from './ipc-channel.js'
import { DEFAULT_IPC_CALL_TIMEOUT_MS } from './ipc-history.js'

/** Options of {@link IpcBroker}. */
export interface IpcBrokerOptions {
  /** The pipe to the primary, whose {@link ClusterRelay} hands every message to every worker. */
  channel: IpcChannel
  /** Receives errors thrown by listeners. @defaultValue ignore them */
  onError?: (error: HubError) => void
  /**
   * How long a publish waits for the primary to relay it before it rejects with `ERR_HUB_BROKER_UNAVAILABLE` (a
   * primary that is alive but stuck, or a pipe that lost the message). The publish is then forgotten: a relay that
   * comes later still reaches the listeners, but settles nothing.
   *
   * @defaultValue {@link DEFAULT_IPC_CALL_TIMEOUT_MS} (10 s)
   */
  callTimeoutMs?: number
}

const OWNER = 'IpcBroker'

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
  readonly #acks = new Map<number, { resolve: () => void; reject: (error: Error) => void; timer: ReturnType<typeof setTimeout> }>()
  readonly #callTimeoutMs: number
  #nextId = 0
  #stop: (() => void) | undefined
  #closed = false

  /** @throws `ERR_HUB_INVALID_OPTION` for a `callTimeoutMs` that is not an integer >= 1. */
  constructor(options: IpcBrokerOptions) {
    this.#channel = options.channel
    this.#onError = options.onError ?? (() => undefined)
    this.#callTimeoutMs = integerOption(OWNER, 'callTimeoutMs', options.callTimeoutMs, DEFAULT_IPC_CALL_TIMEOUT_MS, 1)
  }

  /**
   * Resolves once the primary has relayed the message to every worker and this worker's listeners have had it (the
   * copy the primary sends back acknowledges the publish), so a publisher that awaits each publish has at most one
   * message in flight: memory stays bounded however slow the primary is, and a publish waits at most
   * `callTimeoutMs`.
   */
  publish(message: HubMessage): Promise<void> {
    if (this.#closed) return Promise.reject(new HubError('ERR_HUB_BROKER_CLOSED', 'the broker is closed'))
    this.#listen()
    const id = ++this.#nextId
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#acks.delete(id)
        reject(new HubError('ERR_HUB_BROKER_UNAVAILABLE', `${OWNER}: the primary process did not relay the publish within ${this.#callTimeoutMs} ms`))
      }, this.#callTimeoutMs)
      this.#acks.set(id, { resolve, reject, timer })
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
        const ack = this.#acks.get(m.ack)
        this.#acks.delete(m.ack)
        if (ack !== undefined) {
          clearTimeout(ack.timer)
          ack.resolve()
        }
      }
    })
  }

  #failed(cause: unknown): void {
    this.#onError(new HubError('ERR_HUB_BROKER_LISTENER_FAILED', 'a broker listener failed', { cause }))
  }

  close(): Promise<void> {
    this.#closed = true
    this.#listeners.clear()
    for (const ack of this.#acks.values()) {
      clearTimeout(ack.timer)
      ack.reject(new HubError('ERR_HUB_BROKER_CLOSED', 'the broker closed before the primary acknowledged'))
    }
    this.#acks.clear()
    this.#stop?.()
    this.#stop = undefined
    return Promise.resolve()
  }
}
