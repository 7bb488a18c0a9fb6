import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { sse as fetchSse } from '../server/adapters/fetch.js'
import { sse as nodeSse } from '../server/adapters/node.js'
import { silentLogger, type Logger } from '../server/logger.js'
import { MAX_WRITE_DELAY_MS } from '../server/session.js'
import { createAuthorizer, type Authorizer } from './auth/authorizer.js'
import type { VerificationKeyOptions } from './auth/verification-key.js'
import type { Broker } from './broker/broker.js'
import { MemoryBroker } from './broker/memory-broker.js'
import { HubError } from './errors.js'
import type { HistoryStore } from './history/history-store.js'
import { MemoryHistory } from './history/memory-history.js'
import { HubCore } from './hub-core.js'
import { readBounded, type HubRequest } from './hub-request.js'
import type { HubMetrics } from './hub-metrics.js'
import { handleRequest } from './http/handle-request.js'
import type { HubResponse } from './http/problem.js'
import { HUB_PATH, toHubUpdate, type PublishFields } from './http/publish-request.js'

/** The heartbeat comment interval when none is set: 15 s. */
export const DEFAULT_HEARTBEAT_MS = 15_000
/**
 * The least time between two writes to a subscriber when none is set: 40 ms (`writeIntervalMs`). A subscriber that
 * gets an update after 40 ms without one receives it at once; one that gets them more often receives them in one
 * write per 40 ms. Why 40: in the hub benchmark's scenario A (`npm run bench:hub -- --systems
 * nchan,herald-hub,herald-hub-interval-0,herald-hub-interval-20 --scenarios A`: 100 updates/s to each of 1,000
 * subscribers), no interval cost 1.12× nchan's CPU per delivery, 20 ms 0.98× and 40 ms 0.71×, with a p99 of 47 ms
 * against nchan's 98 (medians of 3); a subscriber whose updates come more than 40 ms apart waits for nothing.
 */
export const DEFAULT_WRITE_INTERVAL_MS = 40
/** The largest publish body when none is set: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024
/** The per-subscriber queue bound when none is set: 4 MiB. */
export const DEFAULT_HUB_MAX_QUEUE_BYTES = 4 * 1024 * 1024
/** Updates read from history per page when a subscriber resumes. */
export const DEFAULT_REPLAY_PAGE_SIZE = 200
/** The most updates one batch publish may carry. */
export const DEFAULT_MAX_BATCH_SIZE = 1000

/** Options of {@link createHub}. Every field is optional. */
export interface HubOptions {
  /** Where updates are kept for resuming subscribers. @defaultValue a `MemoryHistory` */
  history?: HistoryStore
  /** How updates reach every hub node. @defaultValue a `MemoryBroker` (one node) */
  broker?: Broker
  /** A ready authorizer; overrides the key options below. */
  authorizer?: Authorizer
  /** The key that verifies publisher JWTs (secret, PEM public key, or JWKS URL). Without one, publishing over HTTP is refused. */
  publisherKey?: VerificationKeyOptions
  /** The key that verifies subscriber JWTs. */
  subscriberKey?: VerificationKeyOptions
  /** Allow subscribers without a token (public updates only). @defaultValue false */
  anonymous?: boolean
  /** Accepted `iss` claim. */
  issuer?: string
  /** The hub's resource identifier, checked against `aud` (needed for `at+jwt` tokens). */
  audience?: string
  /** Allowed CORS origins; `*` for any (without credentials). @defaultValue `[]` (no CORS) */
  corsOrigins?: readonly string[]
  /** Heartbeat comment interval in ms, `null` to turn off. @defaultValue {@link DEFAULT_HEARTBEAT_MS} */
  heartbeatMs?: number | null
  /** Largest publish body in bytes. @defaultValue {@link DEFAULT_MAX_BODY_BYTES} */
  maxBodyBytes?: number
  /** Per-subscriber queue bound in bytes; a subscriber past it is disconnected and resumes. @defaultValue {@link DEFAULT_HUB_MAX_QUEUE_BYTES} */
  maxQueueBytes?: number
  /**
   * Turn Nagle's algorithm on for subscriber connections (node:http only; off means `TCP_NODELAY`, Node's default).
   * The kernel then merges updates written to a stream while its previous segment is unacknowledged: under burst
   * fan-out about half the CPU per delivery, at the cost of up to a round trip more latency for the later updates of
   * a burst, or a client's delayed-acknowledgement time (see the node adapter's `noDelay`). @defaultValue false
   */
  nagle?: boolean
  /**
   * Write each subscriber's updates from a queue shared by the whole process, after the I/O callbacks that are ready,
   * so that a subscriber gets every update that arrived meanwhile in one write (the session option
   * `coalesceWrites`). Under burst fan-out this cuts the CPU per delivery several times over without waiting for a
   * timer or an acknowledgement; an idle hub writes as soon as the current callbacks end. @defaultValue true
   */
  coalesceWrites?: boolean
  /**
   * Hold each subscriber's updates at least this many milliseconds and write them together (the session option
   * `writeDelayMs`, which implies `coalesceWrites`). For subscribers that get updates more often than once per delay:
   * fewer, larger writes, so less CPU per delivery, for up to the delay more latency. `0` writes as soon as
   * `coalesceWrites` does; at most 60 000. Ignored (no delay) with `coalesceWrites: false`. @defaultValue 0
   */
  writeDelayMs?: number
  /**
   * The least time between two writes to a subscriber, in milliseconds (the session option `writeIntervalMs`). An
   * update to a subscriber that got nothing for this long is written at once; sooner ones wait until the interval
   * since the last write is over and leave together. A subscriber of a rare topic sees no delay; one of a busy topic
   * gets fewer, larger writes, each update at most the interval later. `0` sets no interval; at most 60 000.
   * Ignored (no interval) with `coalesceWrites: false`. @defaultValue {@link DEFAULT_WRITE_INTERVAL_MS} (40)
   */
  writeIntervalMs?: number
  /** Serve the subscriptions API and publish subscription events. @defaultValue false */
  subscriptions?: boolean
  /** Serve Prometheus metrics at `/metrics`. @defaultValue true */
  metrics?: boolean
  /** Receives what cannot be answered to a client. @defaultValue a silent logger */
  logger?: Logger
}

/** What {@link Hub.publish} takes: the publish form's fields, typed. */
export interface PublishInput {
  /** One topic or several (the first is canonical). */
  topics: string | readonly string[]
  data?: string
  private?: boolean
  /** The update id; a `urn:uuid:` is generated when absent. */
  id?: string
  /** The SSE event type. */
  type?: string
  /** The SSE reconnection time, in ms. */
  retry?: number
}

/** Where a hub listens. */
export interface HubAddress {
  readonly port: number
  readonly host: string
  /** The hub's base URL, e.g. `http://127.0.0.1:3000`. */
  readonly url: string
}

/** A Mercure-protocol hub. */
export interface Hub {
  /** Serves a fetch-style request (Deno, Bun, workers, Hono…). Resolves to 404 for paths outside the hub. */
  fetch(request: Request): Promise<Response>
  /**
   * Serves a `node:http` request. Returns `false` (having sent nothing) for paths outside the hub, so an embedding
   * server can handle them. An HTTP/1.1 event stream is taken away from the server once open (see
   * `NodeSseOptions.detach`): `server.closeAllConnections()` does not see it, and `close()` ends it.
   */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>
  /** Starts an HTTP server on `port` (0 for a free one) and `host`. */
  listen(options?: { port?: number; host?: string; server?: Server }): Promise<HubAddress>
  /** Publishes an update from the application itself (no token needed). Resolves with its id once it is durable. */
  publish(input: PublishInput): Promise<string>
  /** Resolves once the hub is connected to its broker. */
  ready(): Promise<void>
  /** Prometheus metrics. */
  readonly metrics: HubMetrics
  /** Open subscriber connections. */
  readonly connections: number
  /**
   * Stops gracefully: refuses new subscribers and updates (503), closes every stream so clients resume elsewhere with
   * Last-Event-ID, waits up to `drainTimeoutMs` for them to leave, stops the server, then closes the engines.
   */
  close(options?: { drainTimeoutMs?: number }): Promise<void>
}

/**
 * Creates a hub that speaks the Mercure protocol at `/.well-known/mercure`: publish (form POST, JWT-authorised),
 * subscribe (SSE with topic selectors, private updates, resume with Last-Event-ID), the subscriptions API, and
 * Herald's batch publish, `/healthz`, `/readyz` and `/metrics`.
 *
 * @example
 * ```ts
 * const hub = createHub({ publisherKey: { secret }, subscriberKey: { secret }, anonymous: true })
 * const { url } = await hub.listen({ port: 3000 })
 * await hub.publish({ topics: 'https://example.com/books/1', data: '{"title":"Dune"}' })
 * ```
 * @see https://mercure.rocks/spec
 */
export function createHub(options: HubOptions = {}): Hub {
  const heartbeatMs = options.heartbeatMs === undefined ? DEFAULT_HEARTBEAT_MS : options.heartbeatMs
  const maxBodyBytes = positive(options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 'maxBodyBytes')
  const maxQueueBytes = positive(options.maxQueueBytes, DEFAULT_HUB_MAX_QUEUE_BYTES, 'maxQueueBytes')
  if (heartbeatMs !== null) positive(heartbeatMs, DEFAULT_HEARTBEAT_MS, 'heartbeatMs')
  const coalesceWrites = options.coalesceWrites !== false
  // Without coalescing every update is written as it comes: no delay, no interval.
  const writeDelayMs = writeMilliseconds(options.writeDelayMs, 0, 'writeDelayMs', coalesceWrites)
  const writeIntervalMs = writeMilliseconds(options.writeIntervalMs, DEFAULT_WRITE_INTERVAL_MS, 'writeIntervalMs', coalesceWrites)
  const noDelay = options.nagle !== true
  const corsOrigins = [...(options.corsOrigins ?? [])]
  const authorizer =
    options.authorizer ??
    createAuthorizer({
      publisherKey: options.publisherKey,
      subscriberKey: options.subscriberKey,
      anonymous: options.anonymous === true,
      issuer: options.issuer,
      audience: options.audience,
      publishOrigins: corsOrigins.length > 0 ? corsOrigins : undefined,
    })
  const core = new HubCore({
    history: options.history ?? new MemoryHistory(),
    broker: options.broker ?? new MemoryBroker(),
    authorizer,
    heartbeatMs,
    maxQueueBytes,
    coalesceWrites,
    writeDelayMs,
    writeIntervalMs,
    subscriptions: options.subscriptions === true,
    replayPageSize: DEFAULT_REPLAY_PAGE_SIZE,
    logger: options.logger ?? silentLogger,
  })
  const http = { maxBodyBytes, corsOrigins, metrics: options.metrics !== false, maxBatchSize: DEFAULT_MAX_BATCH_SIZE }
  let server: Server | undefined
  /** The connections event streams were opened on (by `listen()`'s server or through `handle`). */
  const sockets = new Set<Socket>()
  const untrack = function (this: Socket): void {
    sockets.delete(this)
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`)
    const headers = new Headers()
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || name.startsWith(':')) continue
      for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item)
    }
    const request: HubRequest = {
      method: req.method ?? 'GET',
      url,
      headers,
      body: (max) => readBounded(req, max, headers.get('content-length')),
      // Detached: an idle subscriber then costs about half the memory (see `NodeSseOptions.detach`); `close()`
      // destroys what is left of such connections itself, as `closeAllConnections()` no longer sees them.
      openStream: (extra, sessionOptions) => {
        const session = nodeSse(req, res, { ...sessionOptions, headers: extra, lastEventIdParam: null, noDelay, detach: true })
        if (!req.socket.destroyed && !sockets.has(req.socket)) {
          sockets.add(req.socket)
          req.socket.once('close', untrack)
        }
        return session
      },
    }
    const response = await handleRequest(core, http, request)
    if (response === null) return false
    if (response !== undefined) {
      res.writeHead(response.status, response.headers)
      res.end(response.body)
    }
    return true
  }

  return {
    async fetch(req) {
      let stream: Response | undefined
      const request: HubRequest = {
        method: req.method,
        url: new URL(req.url),
        headers: req.headers,
        body: (max) => (req.body === null ? Promise.resolve(new Uint8Array(0)) : readBounded(req.body, max, req.headers.get('content-length'))),
        openStream(extra, sessionOptions) {
          const opened = fetchSse(req, { ...sessionOptions, headers: extra, lastEventIdParam: null })
          stream = opened.response
          return opened.session
        },
      }
      const response = await handleRequest(core, http, request)
      if (response === undefined) return stream as Response
      const answer = response ?? notFound()
      return new Response(answer.status === 204 ? null : answer.body, { status: answer.status, headers: answer.headers })
    },
    handle,
    async listen({ port = 0, host = '127.0.0.1', server: existing } = {}) {
      await core.ready()
      server =
        existing ??
        createServer((req, res) => {
          handle(req, res)
            .then((served) => {
              if (!served) {
                const answer = notFound()
                res.writeHead(answer.status, answer.headers)
                res.end(answer.body)
              }
            })
            .catch((error: unknown) => {
              options.logger?.error?.('request failed', { error })
              if (!res.headersSent) res.writeHead(500)
              res.end()
            })
        })
      // Idle SSE connections stay open for hours; node's default request timeouts would cut them.
      server.requestTimeout = 0
      server.headersTimeout = 60_000
      server.keepAliveTimeout = 5_000
      const listening = server
      await new Promise<void>((resolve, reject) => {
        listening.once('error', reject)
        listening.listen(port, host, () => {
          listening.off('error', reject)
          resolve()
        })
      })
      const address = listening.address() as AddressInfo
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
      return { port: address.port, host: address.address, url: `http://${shownHost}:${address.port}` }
    },
    publish(input) {
      const fields: PublishFields = {
        topics: typeof input.topics === 'string' ? [input.topics] : [...input.topics],
        data: input.data,
        private: input.private === true,
        id: input.id,
        type: input.type,
        retry: input.retry,
      }
      try {
        return core.publish(toHubUpdate(fields, new URL(HUB_PATH, 'http://localhost')))
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)))
      }
    },
    ready: () => core.ready(),
    metrics: core.metrics,
    get connections() {
      return core.connections
    },
    async close({ drainTimeoutMs = 10_000 } = {}) {
      const stopping = server
      // Stop accepting first, then close streams so clients go elsewhere.
      const serverClosed = stopping === undefined ? Promise.resolve() : new Promise<void>((resolve) => stopping.close(() => resolve()))
      await core.drain(drainTimeoutMs)
      stopping?.closeAllConnections()
      // Detached streams: what drain did not close in time.
      for (const socket of sockets) socket.destroy()
      await serverClosed
      await core.close()
    },
  }
}

function notFound(): HubResponse {
  return { status: 404, headers: { 'content-type': 'application/problem+json' }, body: JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404, code: 'ERR_HUB_HTTP_NOT_FOUND' }) }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value <= 0) throw new HubError('ERR_HUB_INVALID_OPTION', `${name} must be a positive integer, not ${String(value)}`)
  return value
}

/**
 * A write delay or interval of {@link HubOptions}: whole milliseconds from 0 to 60 000, `fallback` when not given,
 * and `0` when the hub does not coalesce writes.
 */
function writeMilliseconds(value: number | undefined, fallback: number, name: string, coalesceWrites: boolean): number {
  const ms = value ?? fallback
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_WRITE_DELAY_MS) {
    throw new HubError('ERR_HUB_INVALID_OPTION', `${name} must be an integer from 0 to ${MAX_WRITE_DELAY_MS}, not ${String(ms)}`)
  }
  return coalesceWrites ? ms : 0
}
