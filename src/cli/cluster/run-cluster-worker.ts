import cluster from 'node:cluster'
import { IpcBroker, IpcHistory, processChannel } from '../../hub/cluster/index.js'
import type { LoadedConfig } from '../../hub/index.js'
import { EXIT_OK, whenAborted, type CliIo } from '../cli-io.js'
import { errorCode, reportError } from '../report-error.js'
import { startWorker, type RunningWorker } from '../start-worker.js'
import { createTextLogger } from '../stderr-logger.js'
import { isProcessPrivateHistory, isServeClusterMessage, type ServeClusterMessage } from './cluster-messages.js'

/** Whether this process is a worker of `herald serve --workers N` (the hub's cluster primary marks its workers). */
export function isClusterWorker(env: CliIo['env']): boolean {
  return cluster.isWorker && env.HERALD_WORKER === '1'
}

function sendToPrimary(message: ServeClusterMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) resolve()
    else process.send(message, undefined, {}, () => resolve())
  })
}

/**
 * Runs one worker of `herald serve --workers N`: a whole hub started by {@link startWorker}, whose broker (when the
 * configured one is `memory`) and history (when it is private to a process) go through the primary over IPC. Tells
 * the primary it listens, or why it could not start; publishes the demo clock when the primary says so; drains when
 * `io.signal` aborts (the primary sends SIGTERM) or the primary goes away.
 */
export async function runClusterWorker(loaded: LoadedConfig, io: CliIo): Promise<number> {
  const { config } = loaded
  const id = cluster.worker?.id ?? 1
  const logger = createTextLogger(io.stderr, { prefix: `herald[worker ${id}]` })
  const channel = processChannel()
  const stop = new AbortController()
  const onDisconnect = (): void => stop.abort()
  process.once('disconnect', onDisconnect)
  io.signal.addEventListener('abort', () => stop.abort(), { once: true })
  let worker: RunningWorker | undefined
  let clock = false
  const onMessage = (message: unknown): void => {
    if (!isServeClusterMessage(message, 'clock')) return
    clock = message.on
    worker?.setClock(clock)
  }
  process.on('message', onMessage)
  try {
    try {
      worker = await startWorker({
        config,
        logger,
        cwd: io.cwd,
        worker: id,
        clock,
        ...(isProcessPrivateHistory(config.history) && { history: new IpcHistory({ channel }) }),
        ...(config.broker === 'memory' && { broker: new IpcBroker({ channel, onError: (error) => logger.error?.('broker error', { error }) }) }),
      })
    } catch (error) {
      // Waits for the message to leave: the process exits right after.
      await sendToPrimary({ herald: 'failed', code: errorCode(error) ?? null, message: error instanceof Error ? error.message : String(error) })
      return reportError(io, 'serve', error)
    }
    worker.setClock(clock)
    await sendToPrimary({ herald: 'listening', port: worker.address.port })
    await whenAborted(stop.signal)
    await worker.close()
    return EXIT_OK
  } finally {
    process.off('message', onMessage)
    process.off('disconnect', onDisconnect)
  }
}
