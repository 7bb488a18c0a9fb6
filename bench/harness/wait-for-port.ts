/** Waits until a TCP port accepts connections. */
import net from 'node:net'

/** Delay between attempts. @defaultValue 50 ms */
const RETRY_MS = 50

/**
 * Resolves once `host:port` accepts a TCP connection; rejects after `timeoutMs`, or as soon as
 * `stillStarting()` returns false (the process meant to listen has died).
 *
 * @example
 * await waitForPort('127.0.0.1', port, { timeoutMs: 10_000, stillStarting: () => service.isRunning() })
 */
export async function waitForPort(
  host: string,
  port: number,
  options: { readonly timeoutMs: number; readonly stillStarting?: () => boolean },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port })
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => {
        socket.destroy()
        resolve(false)
      })
    })
    if (ok) return
    if (options.stillStarting && !options.stillStarting()) throw new Error(`${host}:${port}: the server exited before listening`)
    if (Date.now() >= deadline) throw new Error(`${host}:${port} not listening after ${options.timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS))
  }
}
