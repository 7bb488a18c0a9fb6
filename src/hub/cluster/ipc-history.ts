import { HUB_ERROR_CODES, HubError, type HubErrorCode } from '../errors.js'
import type { HistoryCapabilities, HistoryStore, ReadQuery, ReadResult } from '../history/history-store.js'
import type { StreamPosition } from '../stream-position.js'
import type { HubMessage, HubUpdate } from '../update.js'
import type { IpcChannel } from './ipc-channel.js'

/** The most entries one remote page examines when the query names no `scanLimit`. */
export const DEFAULT_IPC_SCAN = 1000

/**
 * The history of a worker process when the primary keeps it in memory (`herald serve --workers N` with
 * `history: memory`): every call goes to the primary's store over IPC, so all workers share one history and a
 * subscriber resumes on any worker. `readAfter` fetches a page of up to `scanLimit` entries and filters it here (the
 * query's `match` function cannot cross processes).
 */
export class IpcHistory implements HistoryStore {
  readonly capabilities: HistoryCapabilities = Object.freeze({ durable: false, sharedAcrossNodes: false })
  readonly #channel: IpcChannel
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  readonly #stop: () => void
  #next = 0
  #closed = false

  constructor(options: { channel: IpcChannel }) {
    this.#channel = options.channel
    this.#stop = this.#channel.onMessage((m) => {
      if (m.herald !== 'history-result') return
      const call = this.#pending.get(m.id)
      if (call === undefined) return
      this.#pending.delete(m.id)
      if (m.ok) call.resolve(m.value)
      else call.reject(toHubError(m.error))
    })
  }

  #call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this.#closed) return Promise.reject(new HubError('ERR_HUB_HISTORY_CLOSED', 'the history store is closed'))
    const id = ++this.#next
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.#channel.send({ herald: 'history-call', id, method, args })
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

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve()
    this.#closed = true
    this.#stop()
    for (const call of this.#pending.values()) call.reject(new HubError('ERR_HUB_HISTORY_CLOSED', 'the history store is closed'))
    this.#pending.clear()
    return Promise.resolve()
  }
}

function toHubError(error: { code: string; message: string } | undefined): HubError {
  const code = (HUB_ERROR_CODES as readonly string[]).includes(error?.code ?? '') ? (error?.code as HubErrorCode) : 'ERR_HUB_HISTORY_UNAVAILABLE'
  return new HubError(code, error?.message ?? 'the primary process failed to answer')
}
