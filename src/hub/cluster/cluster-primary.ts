import cluster, { type Worker } from 'node:cluster'
import type { Logger } from '../../server/logger.js'
import type { HistoryStore } from '../history/history-store.js'
import { createClusterRelay, type ClusterRelay } from './cluster-relay.js'
import { isIpcMessage, type IpcChannel } from './ipc-channel.js'

/** A worker that exits sooner than this after it started counts as failing to start. */
const EARLY_EXIT_MS = 5_000
/** The first restart delay of a worker that fails to start; it doubles each time, up to the maximum. */
const MIN_RESTART_DELAY_MS = 1_000
const MAX_RESTART_DELAY_MS = 30_000

/** Options of {@link startClusterPrimary}. */
export interface ClusterPrimaryOptions {
  /** How many worker processes to run. */
  workers: number
  /** The history the primary keeps for all workers (`history: memory`); none when workers share SQLite or a server. */
  history?: HistoryStore
  /** Environment variables added to each worker's. */
  env?: Record<string, string>
  /** How long a graceful stop waits for workers, in ms. @defaultValue 15 000 */
  stopTimeoutMs?: number
  /** Reports worker exits and restarts. */
  logger?: Logger
}

/** The running primary. */
export interface ClusterPrimary {
  readonly relay: ClusterRelay
  /** Resolves once every worker listens (each sends `{ herald: 'listening' }`). */
  readonly listening: Promise<void>
  /** Asks every worker to drain and exit (SIGTERM), kills those still running after the timeout. */
  stop(): Promise<void>
}

/**
 * Runs the primary of `herald serve --workers N`: forks the workers (node:cluster shares the listening port between
 * them, so one machine holds more connections than one process's open-files limit and uses every core), relays
 * broker messages and history calls between them, and replaces a worker that dies unexpectedly.
 */
export function startClusterPrimary(options: ClusterPrimaryOptions): ClusterPrimary {
  const relay = createClusterRelay(options.history === undefined ? {} : { history: options.history })
  const detach = new Map<Worker, () => void>()
  let stopping = false
  const restarts = new Set<ReturnType<typeof setTimeout>>()
  let ready = 0
  let resolveListening: () => void = () => undefined
  const listening = new Promise<void>((resolve) => (resolveListening = resolve))

  // A worker that dies soon after it started is restarted after a delay that doubles while it keeps doing so, so a
  // worker that cannot start (a corrupt file, an unreachable key server) does not spin in a tight fork loop.
  let restartDelayMs = 0

  function fork(): void {
    const worker = cluster.fork({ ...options.env, HERALD_WORKER: '1' })
    const startedAt = Date.now()
    const channel: IpcChannel = {
      send(message) {
        if (worker.isConnected()) worker.send(message)
      },
      onMessage(listener) {
        const handler = (value: unknown): void => {
          if (isIpcMessage(value)) listener(value)
        }
        worker.on('message', handler)
        return () => worker.off('message', handler)
      },
    }
    detach.set(worker, relay.attach(channel))
    worker.on('message', (value: unknown) => {
      if ((value as { herald?: unknown } | null)?.herald === 'listening' && ++ready === options.workers) resolveListening()
    })
    worker.on('exit', (code, signal) => {
      detach.get(worker)?.()
      detach.delete(worker)
      if (stopping) return
      restartDelayMs = Date.now() - startedAt < EARLY_EXIT_MS ? Math.min(MAX_RESTART_DELAY_MS, Math.max(MIN_RESTART_DELAY_MS, restartDelayMs * 2)) : 0
      options.logger?.warn?.('worker exited; starting another', { pid: worker.process.pid, code, signal, delayMs: restartDelayMs })
      const timer = setTimeout(() => {
        restarts.delete(timer)
        if (!stopping) fork()
      }, restartDelayMs)
      restarts.add(timer)
    })
  }

  for (let i = 0; i < options.workers; i++) fork()

  return {
    relay,
    listening,
    async stop() {
      stopping = true
      for (const timer of restarts) clearTimeout(timer)
      restarts.clear()
      const workers = [...detach.keys()]
      const exits = workers.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))))
      for (const w of workers) w.process.kill('SIGTERM')
      let timer: ReturnType<typeof setTimeout> | undefined
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, options.stopTimeoutMs ?? 15_000)))
      await Promise.race([Promise.all(exits), timeout])
      clearTimeout(timer)
      for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL')
      await options.history?.close()
    },
  }
}
