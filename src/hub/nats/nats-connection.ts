// Connections and names of the NATS engines. Internal: not re-exported from index.ts.
import { createHash } from 'node:crypto'
import { connect, createInbox, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node'
import { isNatsStreamName, isNatsSubject } from '../engines-url.js'
import { HubError } from '../errors.js'

/** The NATS server the engines connect to when no `url` is given. */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222'
/** How long a NATS engine waits for the server to answer one request (a publish acknowledgement, a read). */
export const DEFAULT_NATS_REQUEST_TIMEOUT_MS = 5_000

/**
 * Settings passed through to `connect()` of `@nats-io/transport-node`: credentials (`user`/`pass`, `token`,
 * `authenticator`), TLS, `name`, reconnect behaviour. The engines set `servers` from `url`.
 *
 * @see https://github.com/nats-io/nats.js/blob/main/core/README.md#connecting-to-a-nats-server
 */
export type NatsEngineConnectionOptions = Omit<NodeConnectionOptions, 'servers'>

/** Where a NATS engine gets its connection: one it opens and owns, or one the application lends it. */
export interface NatsConnectionSettings {
  readonly url: string
  readonly connectionOptions: NatsEngineConnectionOptions | undefined
  /** A connection the application owns: used as is and never closed by the engine. */
  readonly connection: NatsConnection | undefined
  readonly requestTimeoutMs: number
  readonly name: string
}

/** Opens the engine's connection, or returns the lent one. */
export async function openNatsConnection(settings: NatsConnectionSettings): Promise<NatsConnection> {
  if (settings.connection !== undefined) return settings.connection
  return connect({
    name: settings.name,
    timeout: settings.requestTimeoutMs,
    // Keep trying: a hub outlives a NATS restart. Requests made meanwhile fail after their timeout.
    maxReconnectAttempts: -1,
    // No stack trace captured for every request, publish acknowledgement included, to enrich an error that rarely
    // comes: nats.js made two `Error`s per JetStream publish, about a tenth of the publishing node's NATS client time
    // in the two-node benchmark's profile (`npm run bench:hub -- --systems herald-hub-nats-2 --scenarios A`). The
    // engines' errors say what failed; `connectionOptions` can turn the traces back on.
    noAsyncTraces: true,
    ...settings.connectionOptions,
    servers: settings.url
      .split(',')
      .map((server) => server.trim())
      .filter((server) => server.length > 0),
  })
}

/**
 * A new inbox subject under the connection's own inbox prefix (its `inboxPrefix` option, for accounts whose
 * permissions name the subjects they may subscribe to; `_INBOX` by default).
 */
export function connectionInbox(nc: NatsConnection): string {
  // nats.js keeps the options on the connection, outside the declared type.
  const { options } = nc as NatsConnection & { readonly options?: { readonly inboxPrefix?: string } }
  return createInbox(options?.inboxPrefix)
}

/**
 * A subject token for an arbitrary string (a topic IRI, an update id): 22 characters of base64url SHA-256, 132 bits.
 * Subject tokens cannot hold `.`, `*`, `>` or whitespace, and IRIs can; the real value travels in the payload.
 */
export function subjectToken(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22)
}

/** Throws `ERR_HUB_INVALID_OPTION` unless `value` is undefined or a subject prefix: dot-separated literal tokens. */
export function subjectOption(owner: string, name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !isNatsSubject(value)) {
    throw new HubError('ERR_HUB_INVALID_OPTION', `${owner}: ${name} must be dot-separated subject tokens without spaces, * or >`)
  }
  return value
}

/**
 * Throws `ERR_HUB_INVALID_OPTION` unless `value` is undefined or a JetStream stream name (no spaces, `.`, `*`, `>`,
 * `/`, ``, control characters).
 */
export function streamNameOption(owner: string, value: unknown, fallback: string): string {
  const stream = value ?? fallback
  if (typeof stream !== 'string' || !isNatsStreamName(stream)) {
    throw new HubError('ERR_HUB_INVALID_OPTION', `${owner}: stream must be a name without spaces, '.', '*', '>', '/', '\\' or control characters`)
  }
  return stream
}

/** Throws `ERR_HUB_INVALID_OPTION` unless `value` is undefined or a NATS URL (several may be joined by commas). */
export function urlOption(owner: string, value: unknown): string {
  if (value === undefined) return DEFAULT_NATS_URL
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new HubError('ERR_HUB_INVALID_OPTION', `${owner}: url must be a non-empty string such as 'nats://127.0.0.1:4222'`)
  }
  return value
}

export { messageOf } from '../errors.js'

export { withTimeout } from '../with-timeout.js'

interface UpWaiter {
  readonly resolve: () => void
  readonly reject: (error: Error) => void
  readonly timer: ReturnType<typeof setTimeout>
}

/** Callbacks of a {@link ConnectionWatch}. */
export interface ConnectionWatchEvents {
  /** The connection was lost (nats.js now tries to reconnect). */
  readonly onDown?: (server: string) => void
  /** The connection is back; nats.js has re-sent the subscriptions. */
  readonly onUp?: () => void
}

const RESOLVED = Promise.resolve()

/**
 * Follows a connection's status events so that the engines neither send into an outage (nats.js discards what it
 * buffered when it reconnects, so such a request could only time out) nor leave a request waiting for a reply that
 * went down with the connection.
 */
export class ConnectionWatch {
  #up = true
  #stopped = false
  /**
   * How to fail each guarded request still waiting on the current connection when it is lost. A request leaves the
   * set as soon as it settles, so the set holds only the requests under way (a race against one promise per
   * connection would keep a reaction for every request ever made until the connection drops).
   */
  #guarded = new Set<(error: Error) => void>()
  #waiters: UpWaiter[] = []
  readonly #stop: () => void

  constructor(nc: NatsConnection, events: ConnectionWatchEvents = {}) {
    const statuses = nc.status()
    // nats.js's status iterator has stop(), not in its declared type: it ends the loop below.
    const stoppable = statuses as AsyncIterable<unknown> & { stop?: () => void }
    this.#stop = () => stoppable.stop?.()
    void (async () => {
      for await (const status of statuses) {
        if (status.type === 'disconnect') {
          this.#up = false
          const guarded = this.#guarded
          this.#guarded = new Set()
          const error = new Error(`lost the connection to ${status.server}`)
          for (const fail of guarded) fail(error)
          events.onDown?.(status.server)
        } else if (status.type === 'reconnect') {
          this.#up = true
          for (const waiter of this.#waiters.splice(0)) {
            clearTimeout(waiter.timer)
            waiter.resolve()
          }
          events.onUp?.()
        }
      }
    })()
  }

  /** The connection is up, as far as its status events tell. */
  get up(): boolean {
    return this.#up
  }

  /**
   * Resolves once the connection is up: at once when it is (a resolved promise, so callers keep their order), else
   * when it comes back, in the order the callers asked. Rejects after `timeoutMs`.
   */
  whenUp(timeoutMs: number): Promise<void> {
    if (this.#up || this.#stopped) return RESOLVED
    return new Promise<void>((resolve, reject) => {
      const waiter: UpWaiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((other) => other !== waiter)
          reject(new Error(`the connection to NATS stayed down for ${timeoutMs} ms`))
        }, timeoutMs),
      }
      this.#waiters.push(waiter)
    })
  }

  /** Rejects as soon as the connection the request was sent on is lost, rather than at its timeout. */
  guard<T>(request: Promise<T>): Promise<T> {
    let fail: (error: Error) => void = () => undefined
    const lost = new Promise<never>((_, reject) => {
      fail = reject
    })
    const guarded = this.#guarded
    guarded.add(fail)
    const forget = (): void => {
      guarded.delete(fail)
    }
    request.then(forget, forget)
    return Promise.race([request, lost])
  }

  /** Stops following the connection; callers waiting for it are released (their requests then fail on their own). */
  stop(): void {
    this.#stopped = true
    this.#stop()
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer)
      waiter.reject(new Error('the engine was closed'))
    }
  }
}
