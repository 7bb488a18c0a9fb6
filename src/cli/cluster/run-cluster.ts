import cluster, { type Worker } from 'node:cluster'
import { fileURLToPath } from 'node:url'
import { startClusterPrimary } from '../../hub/cluster/index.js'
import { createHistory } from '../../hub/engines.js'
import type { HistoryStore } from '../../hub/history/index.js'
import type { LoadedConfig } from '../../hub/index.js'
import { EXIT_OK, whenAborted, type CliIo } from '../cli-io.js'
import { CliError } from '../errors.js'
import { formatBanner } from '../format-banner.js'
import { exitStatusFor, reportError } from '../report-error.js'
import { createTextLogger } from '../stderr-logger.js'
import { isProcessPrivateHistory, isServeClusterMessage } from './cluster-messages.js'

/** The `herald` entry point the workers run. */
const MAIN = fileURLToPath(new URL('../main.js', import.meta.url))
/** Extra time, beyond `drainTimeoutMs`, the primary gives workers to exit before killing them. */
const EXIT_GRACE_MS = 5000

/**
 * Runs `herald serve --workers N` as the primary process, on the hub's cluster support (`startClusterPrimary`):
 * forks N workers that share the port (each runs `herald serve` again and becomes a hub through `startWorker`), keeps
 * the history itself when the configured one is private to a process (`memory`), relays broker messages, replaces a
 * worker that dies, and picks one worker to publish the demo clock. Prints the banner once every worker listens.
 * When `io.signal` aborts, every worker drains (SIGTERM) and the primary waits for them.
 *
 * Resolves with the exit status: 0 after a drain; when a worker cannot start, the status its error maps to (2 for a
 * configuration problem, 1 otherwise) after `ERR_CLI_WORKER_FAILED` is printed.
 */
export async function runCluster(args: readonly string[], loaded: LoadedConfig, io: CliIo): Promise<number> {
  const { config } = loaded
  const logger = createTextLogger(io.stderr)
  let history: HistoryStore | undefined
  try {
    if (isProcessPrivateHistory(config.history)) history = await createHistory(config, { cwd: io.cwd, onError: (error) => logger.error?.('history error', { error }) })
  } catch (error) {
    return reportError(io, 'serve', error)
  }

  let failure: number | undefined
  let ready = false
  let port = 0
  let clockOwner: Worker | undefined
  const listening = new Set<Worker>()
  let wake: () => void = () => undefined
  const woken = new Promise<void>((resolve) => (wake = resolve))
  const assignClock = (): void => {
    if (!config.demos || clockOwner !== undefined) return
    clockOwner = [...listening].find((w) => w.isConnected())
    // A callback keeps a send to a worker that just went away from becoming an 'error' event.
    clockOwner?.send({ herald: 'clock', on: true }, undefined, () => undefined)
  }
  const onMessage = (worker: Worker, message: unknown): void => {
    if (isServeClusterMessage(message, 'listening')) {
      port = message.port
      listening.add(worker)
      assignClock()
    } else if (isServeClusterMessage(message, 'failed') && failure === undefined && !ready) {
      failure = exitStatusFor(message.code)
      wake()
    }
  }
  const onExit = (worker: Worker): void => {
    listening.delete(worker)
    if (io.signal.aborted) return
    if (!ready) {
      // A worker that cannot start will not start on a second try either (a bad key, a port in use, …).
      failure ??= exitStatusFor(undefined)
      wake()
      return
    }
    if (clockOwner === worker) {
      clockOwner = undefined
      assignClock()
    }
  }
  cluster.setupPrimary({ exec: MAIN, args: ['serve', ...args], serialization: 'json' })
  cluster.on('message', onMessage)
  cluster.on('exit', onExit)
  const primary = startClusterPrimary({
    workers: config.workers,
    ...(history !== undefined && { history }),
    stopTimeoutMs: config.drainTimeoutMs + EXIT_GRACE_MS,
    logger,
  })
  try {
    await Promise.race([primary.listening, woken, whenAborted(io.signal)])
    if (failure === undefined && !io.signal.aborted) {
      ready = true
      io.stdout.write(await formatBanner(loaded, port))
      await whenAborted(io.signal)
    }
    if (failure === undefined) io.stderr.write(`herald: draining ${config.workers} workers (up to ${config.drainTimeoutMs} ms)\n`)
    await primary.stop()
  } finally {
    cluster.off('message', onMessage)
    cluster.off('exit', onExit)
  }
  if (failure !== undefined) {
    reportError(io, 'serve', new CliError('ERR_CLI_WORKER_FAILED', 'a worker process could not start (its error is above)'))
    return failure
  }
  io.stderr.write('herald: stopped\n')
  return EXIT_OK
}
