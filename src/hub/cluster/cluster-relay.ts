import { HubError, messageOf } from '../errors.js'
import type { HistoryStore } from '../history/history-store.js'
import type { IpcChannel, IpcMessage } from './ipc-channel.js'

/** The primary side of multi-process serving: relays broker messages and serves a shared history. */
export interface ClusterRelay {
  /** Connects a worker's channel; returns a function that disconnects it. */
  attach(channel: IpcChannel): () => void
  /** The number of connected workers. */
  readonly workers: number
}

/**
 * Creates the primary's relay: each `broker-publish` from a worker goes to every connected worker (itself included),
 * in arrival order, and the publishing worker's copy acknowledges the publish; each `history-call` runs on `history`
 * (when the primary keeps one) and its result goes back to the caller.
 */
export function createClusterRelay(options: { history?: HistoryStore } = {}): ClusterRelay {
  const channels = new Set<IpcChannel>()
  const { history } = options

  async function call(method: string, args: readonly unknown[]): Promise<unknown> {
    if (history === undefined) throw new HubError('ERR_HUB_HISTORY_UNAVAILABLE', 'the primary keeps no history')
    switch (method) {
      case 'append':
        return history.append(args[0] as Parameters<HistoryStore['append']>[0])
      case 'locate':
        return (await history.locate(args[0] as string)) ?? null
      case 'readAfter': {
        const scan = args[1] as number
        const page = await history.readAfter(args[0] as Parameters<HistoryStore['readAfter']>[0], { match: () => true, limit: scan, scanLimit: scan })
        return { ...page, next: page.next ?? null }
      }
      case 'size':
        return history.size()
      case 'newest':
        return (await history.newest?.()) ?? null
      default:
        throw new HubError('ERR_HUB_HISTORY_INVALID_QUERY', `unknown history method ${method}`)
    }
  }

  return {
    attach(channel) {
      channels.add(channel)
      const stop = channel.onMessage((m: IpcMessage) => {
        if (m.herald === 'broker-publish') {
          // The publishing worker's copy is its acknowledgement too: one message less per update on its pipe.
          const copy = { herald: 'broker-message', message: m.message } as const
          for (const target of channels) target.send(target === channel ? { ...copy, ack: m.id } : copy)
        } else if (m.herald === 'history-call') {
          const { id } = m
          call(m.method, m.args).then(
            (value) => channel.send({ herald: 'history-result', id, ok: true, value }),
            (error: unknown) => {
              const code = error instanceof HubError ? error.code : 'ERR_HUB_HISTORY_UNAVAILABLE'
              channel.send({ herald: 'history-result', id, ok: false, error: { code, message: messageOf(error) } })
            },
          )
        }
      })
      return () => {
        stop()
        channels.delete(channel)
      }
    },
    get workers() {
      return channels.size
    },
  }
}
