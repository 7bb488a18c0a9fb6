import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import { verificationKeyFromString, type JwsAlgorithm } from '../hub/auth/index.js'
import type { Broker } from '../hub/broker/index.js'
import type { HistoryStore } from '../hub/history/index.js'
import { createBroker, createHistory } from '../hub/engines.js'
import { createHub, type Hub, type HubAddress, type HubConfig, type HubOptions } from '../hub/index.js'
import type { Logger } from '../server/logger.js'
import { startClockPublisher } from './demos/clock-publisher.js'
import { startDashboardPublisher } from './demos/dashboard-publisher.js'
import { createDemoRoutes } from './demos/demo-routes.js'
import type { RunningPublisher } from './demos/ticker.js'
import { createTokenStreamer } from './demos/token-streamer.js'
import { DEMO_PUBLISH_TOPICS, signDevelopmentToken } from './development-token.js'
import { createStaticHandler } from './static-files.js'

/** Where the demo pages are: `web/` at the package root (next to `dist/` and `src/`). */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url))

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  /** The validated configuration (from `loadConfig`). */
  readonly config: Readonly<HubConfig>
  /** Receives the hub's and the engines' warnings and errors. */
  readonly logger: Logger
  /** The directory a relative `sqlite:PATH` is resolved against. @defaultValue `process.cwd()` */
  readonly cwd?: string
  /**
   * A history store to use instead of the configured one: a worker process whose primary keeps the history passes
   * an `IpcHistory`.
   */
  readonly history?: HistoryStore
  /**
   * A broker to use instead of the configured one: worker processes of one machine pass an `IpcBroker`, relayed by
   * the primary process.
   */
  readonly broker?: Broker
  /** This process's worker number, shown on the dashboard. @defaultValue 1 */
  readonly worker?: number
  /**
   * Whether this process publishes the `clock` topic (one process of a group does); the returned worker's
   * `setClock` changes it later. @defaultValue true
   */
  readonly clock?: boolean
  /** The directory of the demo pages. @defaultValue {@link DEFAULT_WEB_ROOT} */
  readonly webRoot?: string
}

/** A hub serving HTTP, with its demos. */
export interface RunningWorker {
  readonly hub: Hub
  /** Where it listens. */
  readonly address: HubAddress
  /** Starts or stops publishing the demo clock (with demos on); a group of workers keeps one clock running. */
  setClock(on: boolean): void
  /**
   * Drains (subscribers are closed so they resume elsewhere, waiting up to `drainTimeoutMs`), stops the demo
   * publishers, closes the server and the engines. Calling it again returns the same promise.
   */
  close(): Promise<void>
}

/**
 * Starts one hub process: builds the engines the configuration names, creates the hub, and serves it on
 * `config.host:config.port` along with, when `config.demos` is on, the demo pages of `web/` at `/`,
 * `/demo-config.json`, the LLM-style answer streamer (development mode) and the `clock` and `dashboard` publishers.
 *
 * This is the unit `herald serve` runs once, or once per worker process with `--workers N`.
 *
 * @example
 * ```ts
 * const { config } = loadConfig({ argv: ['--mode', 'development', '--port', '0'] })
 * const worker = await startWorker({ config, logger: console })
 * console.log(worker.address.url)
 * await worker.close()
 * ```
 */
export async function startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
  const { config, logger } = options
  const onError = (error: unknown): void => logger.error?.('engine error', { error })
  const engineOptions = { ...(options.cwd !== undefined && { cwd: options.cwd }), onError }
  const history = options.history ?? (await createHistory(config, engineOptions))
  let broker: Broker | undefined
  let hub: Hub
  try {
    // The broker tails the history when both are the same Redis: live updates then follow history order.
    broker = options.broker ?? (await createBroker(config.broker, { ...engineOptions, history: config.history }))
    hub = createHub(hubOptions(config, { history, broker, logger }))
  } catch (error) {
    await Promise.allSettled([history.close(), broker?.close()])
    throw error
  }

  const publishers: RunningPublisher[] = []
  let demoRoutes: ((req: IncomingMessage, res: ServerResponse) => Promise<boolean>) | undefined
  let serveStatic: ((req: IncomingMessage, res: ServerResponse) => Promise<boolean>) | undefined
  const streamer = config.demos && config.mode === 'development' ? createTokenStreamer(hub, { onError: (error) => logger.warn?.('answer stream stopped', { error }) }) : null
  if (config.demos) {
    const publisherToken = await signDevelopmentToken(config, { publish: DEMO_PUBLISH_TOPICS, subscribe: [] })
    demoRoutes = createDemoRoutes({
      config: { mode: config.mode, hub: '/.well-known/mercure', publisherToken, generate: streamer !== null, workers: config.workers },
      streamer,
    })
    serveStatic = createStaticHandler(options.webRoot ?? DEFAULT_WEB_ROOT)
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      logger.error?.('request failed', { error, url: req.url })
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
      res.end()
    })
  })
  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (await hub.handle(req, res)) return
    if (demoRoutes !== undefined && (await demoRoutes(req, res))) return
    if (serveStatic !== undefined && (await serveStatic(req, res))) return
    res.writeHead(404, { 'content-type': 'application/problem+json' })
    res.end(JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404, code: 'ERR_HUB_HTTP_NOT_FOUND' }))
  }

  let address: HubAddress
  try {
    address = await hub.listen({ port: config.port, host: config.host, server })
  } catch (error) {
    await hub.close({ drainTimeoutMs: 0 })
    throw error
  }
  const warn = (what: string) => (error: unknown) => logger.warn?.(`${what} publish failed`, { error })
  let clock: RunningPublisher | undefined
  let closing: Promise<void> | undefined
  const setClock = (on: boolean): void => {
    if (!config.demos || closing !== undefined || on === (clock !== undefined)) return
    if (on) clock = startClockPublisher(hub, { onError: warn('clock') })
    else {
      void clock?.stop()
      clock = undefined
    }
  }
  if (config.demos) publishers.push(startDashboardPublisher(hub, { worker: options.worker ?? 1, onError: warn('dashboard') }))
  setClock(options.clock !== false)

  return {
    hub,
    address,
    setClock,
    close() {
      closing ??= (async () => {
        await Promise.all([...publishers.map((p) => p.stop()), clock?.stop(), streamer?.stop()])
        await hub.close({ drainTimeoutMs: config.drainTimeoutMs })
      })()
      return closing
    },
  }
}

/** The `createHub` options a configuration stands for. */
export function hubOptions(config: Readonly<HubConfig>, parts: Pick<HubOptions, 'history' | 'broker' | 'logger'>): HubOptions {
  const algorithms = [config.jwtAlg as JwsAlgorithm]
  return {
    ...parts,
    ...(config.publisherJwtKey !== null && { publisherKey: verificationKeyFromString(config.publisherJwtKey, algorithms) }),
    ...(config.subscriberJwtKey !== null && { subscriberKey: verificationKeyFromString(config.subscriberJwtKey, algorithms) }),
    anonymous: config.anonymous,
    ...(config.jwtIssuer !== null && { issuer: config.jwtIssuer }),
    ...(config.jwtAudience !== null && { audience: config.jwtAudience }),
    corsOrigins: config.corsOrigins,
    heartbeatMs: config.heartbeatMs === 0 ? null : config.heartbeatMs,
    maxBodyBytes: config.maxBodyBytes,
    nagle: config.nagle,
    coalesceWrites: config.coalesceWrites,
    writeDelayMs: config.writeDelayMs,
    writeIntervalMs: config.writeIntervalMs,
    maxQueueBytes: config.maxQueueBytes,
    subscriptions: config.subscriptions,
    metrics: config.metrics,
  }
}
