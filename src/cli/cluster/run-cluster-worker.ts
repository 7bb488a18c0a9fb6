import cluster from 'node:cluster'
import type { LoadedConfig } from '../../hub/index.js'
import { EXIT_OK, whenAborted, type CliIo } from '../cli-io.js'
import { errorCode, reportError } from '../report-error.js'
import { startWorker, type RunningWorker } from '../start-worker.js'
import { createTextLogger } from '../stderr-logger.js'
import { ClusterBroker, type ClusterPort } from './cluster-broker.js'
import { isHeraldPacket, type PrimaryPacket, type WorkerPacket } from './cluster-packet.js'

/** The environment variable the primary sets in each worker: its slot number, from 1. */
export const CLUSTER_WORKER_ENV = 'HERALD_CLUSTER_WORKER'

/** What a worker process knows about its place in the group. */
export interface ClusterWorkerSettings {
  /** The worker's slot, from 1 (a restarted worker keeps its slot). */
  readonly worker: number
}

/** This process's worker settings when it is a `herald serve --workers N` worker, else `undefined`. */
export function clusterWorkerSettings(env: CliIo['env']): ClusterWorkerSettings | undefined {
  const raw = env[CLUSTER_WORKER_ENV]
  if (!cluster.isWorker || raw === undefined || !/^[1-9]\d*$/.test(raw)) return undefined
  return { worker: Number(raw) }
}

/** The worker's end of the IPC channel, over `process.send` and `process.on('message')`. */
export function processPort(): ClusterPort {
  return {
    send(packet: WorkerPacket) {
      process.send?.(packet)
    },
    onPacket(listener) {
      const onMessage = (packet: unknown): void => {
        if (isHeraldPacket(packet)) listener(packet as PrimaryPacket)
      }
      process.on('message', onMessage)
      return () => process.off('message', onMessage)
    },
  }
}

/**
 * Runs one worker of `herald serve --workers N`: starts a hub with {@link startWorker} (with a {@link ClusterBroker}
 * when the configured broker is `memory`), tells the primary it listens (or why it could not start), then serves
 * until the primary asks it to stop, the primary goes away, or `io.signal` aborts; then drains.
 */
export async function runClusterWorker(loaded: LoadedConfig, io: CliIo, settings: ClusterWorkerSettings): Promise<number> {
  const { config } = loaded
  const port = processPort()
  const logger = createTextLogger(io.stderr, { prefix: `herald[worker ${settings.worker}]` })
  const broker = config.broker === 'memory' ? new ClusterBroker({ port, onError: (error) => logger.error?.('broker error', { error }) }) : undefined
  const stop = new AbortController()
  const detach = port.onPacket((packet) => {
    if (packet.herald === 'shutdown') stop.abort()
  })
  const onDisconnect = (): void => stop.abort()
  process.once('disconnect', onDisconnect)
  io.signal.addEventListener('abort', () => stop.abort(), { once: true })
  try {
    let worker: RunningWorker
    try {
      worker = await startWorker({ config, logger, cwd: io.cwd, worker: settings.worker, clock: settings.worker === 1, ...(broker !== undefined && { broker }) })
    } catch (error) {
      const code = errorCode(error) ?? null
      // Waits for the packet to leave: the process exits right after.
      await new Promise<void>((resolve) => {
        const packet: WorkerPacket = { herald: 'failed', code, message: error instanceof Error ? error.message : String(error) }
        if (process.send === undefined) resolve()
        else process.send(packet, undefined, {}, () => resolve())
      })
      await broker?.close()
      return reportError(io, 'serve', error)
    }
    port.send({ herald: 'listening', port: worker.address.port })
    await whenAborted(stop.signal)
    await worker.close()
    return EXIT_OK
  } finally {
    detach()
    process.off('disconnect', onDisconnect)
  }
}
