import { HUB_ERROR_CODES, HubError, type HubErrorCode } from '../errors.js'
import type { HistoryCapabilities, HistoryStore, ReadQuery, ReadResult } from '../history/history-store.js'
import { checkOptionsObject, integerOption } from '../history/option-checks.js'
import type { StreamPosition } from '../stream-position.js'
import type { HubMessage, HubUpdate } from '../update.js'
import type { IpcChannel } from './ipc-channel.js'

/** The most entries one remote page examines when the query names no `scanLimit`. */
export const DEFAULT_IPC_SCAN = 1000
/** How long an {@link IpcHistory} waits for the primary to answer one call by default: 10 seconds. */
export const DEFAULT_IPC_CALL_TIMEOUT_MS = 10_000

/** Options of {@link IpcHistory}. */
export interface IpcHistoryOptions {
  /** The pipe to the primary, whose {@link ClusterRelay} runs each call on the history it keeps. */
  readonly channel: IpcChannel
  /**
   * How long one call waits for the primary's answer before it rejects with `ERR_HUB_HISTORY_UNAVAILABLE` (a primary
   * that is alive but stuck, or a pipe that lost the message). The call is then forgotten: an answer that comes later
   * is ignored. A timed-out `append` may still have been stored by the primary, as with the other engines.
   *
   * @defaultValue {@link DEFAULT_IPC_CALL_TIMEOUT_MS} (10 s)
   */
  readonly callTimeoutMs?: number
}

interface PendingCall {
  readonly resolve: (value: unknown) => void
  readonly reject: (error: Error) => void
  readonly timer: ReturnType<typeof setTimeout>
}

const OWNER = 'IpcHistory'

/**
 * The history of a worker process when the primary keeps it in memory (`herald serve --workers N` with
 * `history: memory`): every call goes to the primary's store over IPC, so all workers share one history and a
 * subscriber resumes on any worker. `readAfter` fetches a page of up to `scanLimit` entries and filters it here (the
 * query's `match` function cannot cross processes).
 *
 * Each call waits at most `callTimeoutMs` for the primary's answer, then rejects with `ERR_HUB_HISTORY_UNAVAILABLE`
 * and is forgotten, so a stuck primary neither holds a request forever nor makes the calls waiting for it pile up.
 *
 * @example
 * ```ts
 * const history = new IpcHistory({ channel: processChannel(), callTimeoutMs: 5_000 })
 * ```
 */
export class IpcHistory implements HistoryStore {
  readonly capabilities: HistoryCapabilities = Object.freeze({ durable: false, sharedAcrossNodes: false })
  readonly #channel: IpcChannel
  readonly #callTimeoutMs: number
  readonly #pending = new Map<number, PendingCall>()
  readonly #stop: () => void
  #next = 0
  #closed = false

  /** @throws `ERR_HUB_INVALID_OPTION` for a missing channel or a `callTimeoutMs` that is not an integer >= 1. */
  constructor(options: IpcHistoryOptions) {
    checkOptionsObject(OWNER, options)
    const channel = (options as IpcHistoryOptions | undefined)?.channel
    if (typeof channel?.send !== 'function' || typeof channel.onMessage !== 'function') {
      throw new HubError('ERR_HUB_INVALID_OPTION', `${OWNER}: channel must be an IpcChannel (send and onMessage)`)
    }
    this.#channel = channel
    this.#callTimeoutMs = integerOption(OWNER, 'callTimeoutMs', options.callTimeoutMs, DEFAULT_IPC_CALL_TIMEOUT_MS, 1)
    this.#stop = this.#channel.onMessage((m) => {
      if (m.herald !== 'history-result') return
      const call = this.#pending.get(m.id)
      // Timed out (or closed) already: the answer comes too late and is dropped.
      if (call === undefined) return
      this.#pending.delete(m.id)
      clearTimeout(call.timer)
      if (m.ok) call.resolve(m.value)
      else call.reject(toHubError(m.error))
    })
  }

  /** How many calls are waiting for the primary's answer; at most the calls made in the last `callTimeoutMs`. */
  get pendingCalls(): number {
    return this.#pending.size
  }

  #call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this.#closed) return Promise.reject(new HubError('ERR_HUB_HISTORY_CLOSED', 'the history store is closed'))
    const id = ++this.#next
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new HubError('ERR_HUB_HISTORY_UNAVAILABLE', `${OWNER}: the primary process did not answer ${method} within ${this.#callTimeoutMs} ms`))
      }, this.#callTimeoutMs)
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer })
      try {
        this.#channel.send({ herald: 'history-call', id, method, args })
      } catch (cause) {
        // The pipe is gone (the primary exited): no answer can come.
        this.#pending.delete(id)
        clearTimeout(timer)
        reject(new HubError('ERR_HUB_HISTORY_UNAVAILABLE', `${OWNER}: cannot reach the primary process`, { cause }))
      }
    })
  }

  append(update: HubUpdate): Promise<StreamPosition> {
    return this.#call('append', update)
  }

  locate(id: string): Promise<StreamPosition | undefined> {
    return this.#call<StreamPosition | null>('locate', id).then((p) => p ?? undefined)
  }

  async readAfter(from: StreamPosition | 'earliest', query: ReadQuery): Promise<ReadResult> {
    if (typeof query.match !== 'function' || !Number.isSafeInteger(query.limit) || query.limit < 1) {
      throw new HubError('ERR_HUB_HISTORY_INVALID_QUERY', 'a query needs a match function and a positive integer limit')
    }
    const scan = query.scanLimit ?? DEFAULT_IPC_SCAN
    const page = await this.#call<{ messages: HubMessage[]; next: StreamPosition | null; done: boolean; gap: boolean }>('readAfter', from, scan)
    const messages: HubMessage[] = []
    for (const message of page.messages) {
      if (!query.match(message.update)) continue
      messages.push(message)
      if (messages.length === query.limit) {
        // Stop at the limit: the next page starts after the last message returned.
        const last = page.messages[page.messages.length - 1]
        const done = page.done && last === message
        return { messages, next: message.position, done, gap: page.gap }
      }
    }
    return { messages, next: page.next ?? undefined, done: page.done, gap: page.gap }
  }

  size(): Promise<number> {
    return this.#call('size')
  }

  newest(): Promise<StreamPosition | undefined> {
    return this.#call<StreamPosition | null>('newest').then((p) => p ?? undefined)
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve()
    this.#closed = true
    this.#stop()
    for (const call of this.#pending.values()) {
      clearTimeout(call.timer)
      call.reject(new HubError('ERR_HUB_HISTORY_CLOSED', 'the history store is closed'))
    }
    this.#pending.clear()
    return Promise.resolve()
  }
}

function toHubError(error: { code: string; message: string } | undefined): HubError {
  const code = (HUB_ERROR_CODES as readonly string[]).includes(error?.code ?? '') ? (error?.code as HubErrorCode) : 'ERR_HUB_HISTORY_UNAVAILABLE'
  return new HubError(code, error?.message ?? 'the primary process failed to answer')
}
