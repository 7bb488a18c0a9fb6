import cluster, { type Worker } from 'node:cluster'
import { fileURLToPath } from 'node:url'
import type { LoadedConfig } from '../../hub/index.js'
import { EXIT_FAILURE, EXIT_OK, type CliIo } from '../cli-io.js'
import { formatBanner } from '../format-banner.js'
import { CliError } from '../errors.js'
import { exitStatusFor, reportError } from '../report-error.js'
import { ClusterRelay } from './cluster-relay.js'
import { isHeraldPacket, type WorkerPacket } from './cluster-packet.js'
import { CLUSTER_WORKER_ENV } from './run-cluster-worker.js'

/** The `herald` entry point the workers run. */
const MAIN = fileURLToPath(new URL('../main.js', import.meta.url))
/** How long the primary waits before starting a worker again after it died. */
const RESTART_DELAY_MS = 1000
/** Extra time, beyond `drainTimeoutMs`, the primary gives workers to exit before killing them. */
const EXIT_GRACE_MS = 5000

/**
 * Runs `herald serve --workers N` as the primary process: forks N workers (each a whole hub on the shared port,
 * started by `startWorker`), relays the memory broker's messages between them, prints the banner once all listen,
 * starts a worker again when one dies, and on `io.signal` tells every worker to drain and waits for them to exit.
 *
 * The workers must share history: `sqlite:PATH` (one file, several connections), `redis://…` or `nats://…`; a
 * `memory` history is refused with `ERR_CLI_USAGE`, as each process would keep its own. Worker 1 publishes the
 * demo clock; each worker publishes its own dashboard figures.
 *
 * Resolves with the exit status: 0 after a drain, 2 when a worker reported a configuration error at start, 1 when a
 * worker failed to start for another reason.
 */
export async function runCluster(args: readonly string[], loaded: LoadedConfig, io: CliIo): Promise<number> {
  const { config } = loaded
  if (config.history === 'memory' || config.history === 'sqlite::memory:') {
    return reportError(io, 'serve', new CliError('ERR_CLI_USAGE', `--workers ${config.workers} needs a history the processes share (sqlite:PATH, redis://… or nats://…); "${config.history}" is private to each process`))
  }
  const relaying = config.broker === 'memory'
  const relay = new ClusterRelay()
  cluster.setupPrimary({ exec: MAIN, args: ['serve', ...args], serialization: 'json' })

  const slots = new Map<number, Worker>()
  const listening = new Set<number>()
  let port = 0
  let bannerShown = false
  let stopping = false
  let failure: { status: number } | undefined
  let wake: (() => void) | undefined
  const timers = new Set<ReturnType<typeof setTimeout>>()

  const fork = (slot: number): void => {
    const worker = cluster.fork({ [CLUSTER_WORKER_ENV]: String(slot) })
    slots.set(slot, worker)
    if (relaying) relay.add(worker.id, (packet, callback) => send(worker, packet, callback))
    worker.on('message', (packet: unknown) => {
      if (!isHeraldPacket(packet)) return
      const p = packet as WorkerPacket
      if (p.herald === 'publish') relay.receive(worker.id, p)
      else if (p.herald === 'listening') {
        listening.add(slot)
        port = p.port
        if (!bannerShown && listening.size === config.workers) {
          bannerShown = true
          formatBanner(loaded, port).then((text) => io.stdout.write(text), () => undefined)
        }
      } else if (!bannerShown) {
        // A worker that cannot start will not start on a second try either (a bad key, a port in use, …).
        failure ??= { status: exitStatusFor(p.code) }
        wake?.()
      }
    })
    worker.once('exit', (code: number | null, signal: string | null) => {
      relay.remove(worker.id)
      listening.delete(slot)
      if (slots.get(slot) === worker) slots.delete(slot)
      if (stopping || failure !== undefined) {
        wake?.()
        return
      }
      if (!bannerShown) {
        io.stderr.write(`herald: worker ${slot} exited before it was ready (${signal ?? `status ${code}`})\n`)
        failure = { status: EXIT_FAILURE }
        wake?.()
        return
      }
      io.stderr.write(`herald: worker ${slot} exited (${signal ?? `status ${code}`}); starting it again\n`)
      const timer = setTimeout(() => {
        timers.delete(timer)
        if (!stopping) fork(slot)
      }, RESTART_DELAY_MS)
      timers.add(timer)
    })
  }

  for (let slot = 1; slot <= config.workers; slot++) fork(slot)
  await new Promise<void>((resolve) => {
    wake = resolve
    io.signal.addEventListener('abort', () => resolve(), { once: true })
    if (io.signal.aborted) resolve()
  })
  stopping = true
  for (const timer of timers) clearTimeout(timer)
  if (failure === undefined) io.stderr.write(`herald: draining ${slots.size} workers (up to ${config.drainTimeoutMs} ms)\n`)
  await stopWorkers([...slots.values()], config.drainTimeoutMs + EXIT_GRACE_MS)
  if (failure !== undefined) {
    reportError(io, 'serve', new CliError('ERR_CLI_WORKER_FAILED', 'a worker process could not start (see its message above)'))
    return failure.status
  }
  io.stderr.write('herald: stopped\n')
  return EXIT_OK
}

function send(worker: Worker, packet: object, callback: (error: Error | null) => void): void {
  try {
    worker.send(packet, undefined, callback)
  } catch (error) {
    callback(error as Error)
  }
}

/** Asks each worker to drain and exit; kills those still running after `timeoutMs`. */
async function stopWorkers(workers: readonly Worker[], timeoutMs: number): Promise<void> {
  const exits = workers.map(
    (worker) =>
      new Promise<void>((resolve) => {
        if (worker.isDead()) {
          resolve()
          return
        }
        worker.once('exit', () => resolve())
        send(worker, { herald: 'shutdown' }, () => undefined)
      }),
  )
  let timer: ReturnType<typeof setTimeout> | undefined
  const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)))
  if (await Promise.race([Promise.all(exits).then(() => false), timedOut])) {
    for (const worker of workers) if (!worker.isDead()) worker.process.kill('SIGKILL')
    await Promise.all(exits)
  }
  clearTimeout(timer)
}
