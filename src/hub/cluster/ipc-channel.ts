/**
 * A message pipe between a worker process and the primary: `process` in a worker, a `cluster.Worker` in the
 * primary, or an in-memory pair in tests. Messages are plain JSON-compatible objects.
 */
export interface IpcChannel {
  /** Sends one message. Messages arrive in the order sent. */
  send(message: IpcMessage): void
  /** Registers a listener for incoming messages; returns a function that removes it. */
  onMessage(listener: (message: IpcMessage) => void): () => void
}

/** Every message Herald sends over an {@link IpcChannel}, told apart by `herald`. */
export type IpcMessage =
  | { readonly herald: 'broker-publish'; readonly id: number; readonly message: unknown }
  /** A relayed message; the copy for the worker that published it carries the id of that publish in `ack`. */
  | { readonly herald: 'broker-message'; readonly message: unknown; readonly ack?: number }
  | { readonly herald: 'history-call'; readonly id: number; readonly method: string; readonly args: readonly unknown[] }
  | { readonly herald: 'history-result'; readonly id: number; readonly ok: boolean; readonly value?: unknown; readonly error?: { code: string; message: string } }

/** Whether `value` is one of Herald's IPC messages (other messages on the same pipe are left alone). */
export function isIpcMessage(value: unknown): value is IpcMessage {
  return typeof value === 'object' && value !== null && typeof (value as { herald?: unknown }).herald === 'string'
}

/** The channel of a process started with an IPC pipe (a cluster worker or a `fork`ed child). */
export function processChannel(proc: NodeJS.Process = process): IpcChannel {
  return {
    send(message) {
      proc.send?.(message)
    },
    onMessage(listener) {
      const handler = (value: unknown): void => {
        if (isIpcMessage(value)) listener(value)
      }
      proc.on('message', handler)
      return () => proc.off('message', handler)
    },
  }
}

/** Two connected in-memory channels, delivering asynchronously and in order, like a process pipe. */
export function createChannelPair(): [IpcChannel, IpcChannel] {
  const listeners: [Set<(m: IpcMessage) => void>, Set<(m: IpcMessage) => void>] = [new Set(), new Set()]
  const end = (mine: 0 | 1): IpcChannel => ({
    send(message) {
      // Structured like a real pipe: the receiver gets a copy, later.
      const copy = JSON.parse(JSON.stringify(message)) as IpcMessage
      setImmediate(() => {
        for (const listener of listeners[mine === 0 ? 1 : 0]) listener(copy)
      })
    },
    onMessage(listener) {
      listeners[mine].add(listener)
      return () => listeners[mine].delete(listener)
    },
  })
  return [end(0), end(1)]
}
