import { randomUUID } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { Agent, request } from 'node:http'
import { connect, createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { signToken } from '../../src/hub/auth/sign-token.js'
import { DEVELOPMENT_JWT_KEY } from '../../src/hub/index.js'
import { DEFAULT_NATS_HISTORY_STREAM } from '../../src/hub/nats/index.js'
import { deleteStreams, NATS_URL, requireNats } from '../../src/hub/nats/testing/nats-service.js'
import { adminClient, redisUrlWithDatabase, requireRedis } from '../../src/hub/redis/testing/redis-service.js'
import { startTcpProxy, type TcpProxy } from '../../src/hub/redis/testing/tcp-proxy.js'
import { cleanEnv, startServe, type HeraldServer } from '../cli-process.js'
import { afterAll, beforeAll } from 'vitest'
import { openEventStream, type EventStreamClient } from './event-stream-client.js'

/**
 * The Redis logical database the scale-out tests give `herald serve` (`--history` / `--broker redis://…/10`). These
 * tests keep the engines' default names: the key prefix (`herald:history:`), the broker channel (`herald:broker`), the
 * NATS stream (`HERALD_HISTORY`) and subjects (`herald.history.>`, `herald.broker`). They
 * empty database 10 and delete the `HERALD_HISTORY` stream before and after each test, and take a lock so that two
 * of them never use an engine at the same time.
 */
export const SCALE_OUT_REDIS_DATABASE = 10

/** A shared engine the hub nodes of a test run on. */
export interface ScaleOutEngine {
  readonly name: 'Redis' | 'NATS'
  /** Whether the server answers (otherwise the tests are skipped with a notice, or fail under `CI=true`). */
  readonly available: boolean
  /** The URL the nodes use for `--history` and `--broker`. */
  readonly url: string
  /** Where the server listens, for a {@link TcpProxy} in front of it. */
  readonly address: { readonly host: string; readonly port: number }
  /** The same engine URL through a proxy listening on `port` of 127.0.0.1. */
  urlThrough(port: number): string
  /** Removes everything the nodes stored: the test database (Redis) or the history stream (NATS). */
  reset(): Promise<void>
}

/**
 * The two shared engines, Redis and NATS, for `describe.each`. Call once per test file, at collection time: each
 * missing server prints a notice (or throws under `CI=true`).
 *
 * @example
 * ```ts
 * const ENGINES = await scaleOutEngines()
 * describe.each(ENGINES)('on $name', (engine) => { … })
 * ```
 */
export async function scaleOutEngines(): Promise<ScaleOutEngine[]> {
  const [hasRedis, hasNats] = await Promise.all([requireRedis(), requireNats()])
  const redisUrl = new URL(redisUrlWithDatabase(SCALE_OUT_REDIS_DATABASE))
  const natsUrl = new URL(NATS_URL)
  const redis: ScaleOutEngine = {
    name: 'Redis',
    available: hasRedis,
    url: redisUrl.toString(),
    address: { host: redisUrl.hostname, port: Number(redisUrl.port || 6379) },
    urlThrough(port) {
      const url = new URL(redisUrl)
      url.hostname = '127.0.0.1'
      url.port = String(port)
      return url.toString()
    },
    async reset() {
      const client = await adminClient(redisUrl.toString())
      try {
        await client.flushDb()
      } finally {
        client.destroy()
      }
    },
  }
  const nats: ScaleOutEngine = {
    name: 'NATS',
    available: hasNats,
    url: natsUrl.toString(),
    address: { host: natsUrl.hostname, port: Number(natsUrl.port || 4222) },
    urlThrough(port) {
      const url = new URL(natsUrl)
      url.hostname = '127.0.0.1'
      url.port = String(port)
      return url.toString()
    },
    reset: () => deleteStreams([DEFAULT_NATS_HISTORY_STREAM]),
  }
  return [redis, nats]
}

/**
 * Where the engine locks live: the machine's temporary directory, not the checkout, so that test runs from two
 * checkouts of the project on one machine (sharing its Redis and NATS) also take turns.
 */
const LOCK_DIR = tmpdir()
/** A lock older than this is taken over even when its owner still runs (a hung run). */
const STALE_LOCK_MS = 5 * 60_000

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Holds `engine` for the tests of the enclosing `describe` block: {@link claimEngine} before the first, the release
 * after the last.
 */
export function holdEngine(engine: ScaleOutEngine): void {
  let release: (() => Promise<void>) | undefined
  beforeAll(async () => {
    release = await claimEngine(engine)
  }, 180_000)
  afterAll(async () => {
    await release?.()
  })
}

/**
 * Takes the engine for this test file alone: test files run in parallel, and `herald serve` cannot be told a key
 * prefix or a stream name, so the nodes of two files would share one history and one broker channel. Waits for the
 * lock (a directory in the machine's temporary directory, one per engine server, taken over when its owner process
 * is gone), then empties the engine. Resolves with the release function, which empties the engine again and drops
 * the lock. Hubs started by anything else with the default names on the same servers (a benchmark run, a local
 * `herald serve`) are not covered: run the tests while none runs.
 *
 * @example
 * ```ts
 * const release = await claimEngine(engine)
 * try {
 *   // … the test's work on the engine
 * } finally {
 *   await release()
 * }
 * ```
 */
export async function claimEngine(engine: ScaleOutEngine, timeoutMs = 170_000): Promise<() => Promise<void>> {
  mkdirSync(LOCK_DIR, { recursive: true })
  const server = `${engine.address.host}-${engine.address.port}`
  const lock = join(LOCK_DIR, `herald-scale-out-${engine.name.toLowerCase()}-${server}.lock`)
  const owner = join(lock, 'owner')
  const token = `${process.pid} ${randomUUID()}`
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      mkdirSync(lock)
      writeFileSync(owner, token)
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    try {
      const pid = Number(readFileSync(owner, 'utf8').split(' ')[0])
      if (!isRunning(pid) || Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true })
    } catch {
      // Taken or released meanwhile; a lock without its owner file yet is being taken right now.
    }
    if (Date.now() > deadline) throw new Error(`the ${engine.name} scale-out lock stayed taken for ${timeoutMs} ms (${lock})`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  await engine.reset()
  return async () => {
    try {
      await engine.reset()
    } finally {
      try {
        if (readFileSync(owner, 'utf8') === token) rmSync(lock, { recursive: true, force: true })
      } catch {
        // Already taken over.
      }
    }
  }
}

/** A publisher token for the development key (publish to every topic). */
export function publisherToken(): Promise<string> {
  return signToken({ key: DEVELOPMENT_JWT_KEY, publish: ['*'] })
}

/** The outcome of one `POST /.well-known/mercure`. */
export interface PublishResult {
  /** The HTTP status, or 0 when no response came (connection refused or reset, timeout). */
  readonly status: number
  /** The response body: the update's id on 200, an `application/problem+json` document otherwise. */
  readonly body: string
  readonly contentType: string | undefined
  /** The problem document's `code`, on an error status. */
  readonly code: string | undefined
  /** The network error, when no response came. */
  readonly error: Error | undefined
}

/** Options of {@link publishUpdate}. */
export interface PublishOptions {
  /** The token, as `Authorization: Bearer`. */
  readonly token: string
  /** One topic or several. */
  readonly topic: string | readonly string[]
  readonly data: string
  /** The update's id. @defaultValue none: the hub makes one */
  readonly id?: string
  /** The connection pool; `false` opens a new connection (so a cluster spreads requests over its workers). */
  readonly agent?: Agent | false
  /** Abort after this long. @defaultValue 20000 */
  readonly timeoutMs?: number
}

/**
 * Publishes one update with a form POST, as any Mercure publisher does, and reports what the hub answered. Never
 * rejects: a connection failure is a result with status 0.
 *
 * @example
 * ```ts
 * const result = await publishUpdate(node.hubUrl, { token, topic: 'a', data: 'hello' })
 * expect(result.status).toBe(200)
 * ```
 */
export function publishUpdate(hubUrl: string, options: PublishOptions): Promise<PublishResult> {
  const form = new URLSearchParams()
  for (const topic of typeof options.topic === 'string' ? [options.topic] : options.topic) form.append('topic', topic)
  form.set('data', options.data)
  if (options.id !== undefined) form.set('id', options.id)
  const body = form.toString()
  return new Promise((resolve) => {
    let settled = false
    const finish = (result: Omit<PublishResult, 'code'> & { code?: string | undefined }): void => {
      if (settled) return
      settled = true
      resolve({ code: undefined, ...result })
    }
    const req = request(
      hubUrl,
      {
        method: 'POST',
        agent: options.agent ?? false,
        timeout: options.timeoutMs ?? 20_000,
        headers: {
          authorization: `Bearer ${options.token}`,
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
        res.once('error', (error) => finish({ status: 0, body: text, contentType: undefined, error }))
        res.once('end', () => {
          const status = res.statusCode ?? 0
          let code: string | undefined
          if (status !== 200) {
            try {
              code = (JSON.parse(text) as { code?: string }).code
            } catch {
              code = undefined
            }
          }
          finish({ status, body: text, contentType: res.headers['content-type'], code, error: undefined })
        })
      },
    )
    req.once('timeout', () => req.destroy(new Error(`no answer from ${hubUrl} within ${options.timeoutMs ?? 20_000} ms`)))
    req.once('error', (error) => finish({ status: 0, body: '', contentType: undefined, error }))
    req.end(body)
  })
}

/** Options of a {@link HubCluster} node. */
export interface NodeOptions {
  /** `--history`. @defaultValue the cluster's engine URL */
  readonly history?: string
  /** `--broker`. @defaultValue the cluster's engine URL */
  readonly broker?: string
  /** More `herald serve` arguments (`--history-size 10`, `--workers 2`, …). */
  readonly args?: readonly string[]
  /** Serve the demos (and their clock and dashboard publishers). @defaultValue false */
  readonly demos?: boolean
}

/**
 * Hub nodes: `herald serve --mode development` processes sharing one engine, stopped together by {@link stopAll}.
 * Demos and the subscriptions API are off unless asked for, so the only updates are the test's own.
 */
export class HubCluster {
  readonly nodes: HeraldServer[] = []
  readonly #proxies: TcpProxy[] = []

  constructor(readonly engine: ScaleOutEngine) {}

  /** Starts one node and resolves once it listens. */
  async start(options: NodeOptions = {}): Promise<HeraldServer> {
    const args = [
      '--mode',
      'development',
      options.demos === true ? '--demos' : '--no-demos',
      '--no-subscriptions',
      '--history',
      options.history ?? this.engine.url,
      '--broker',
      options.broker ?? this.engine.url,
      ...(options.args ?? []),
    ]
    const node = await startServe(args, { env: cleanEnv() })
    this.nodes.push(node)
    return node
  }

  /** Starts a {@link TcpProxy} in front of the engine; {@link stopAll} closes it. */
  async proxy(): Promise<TcpProxy> {
    const proxy = await startTcpProxy(this.engine.address)
    this.#proxies.push(proxy)
    return proxy
  }

  /** Kills every node (SIGKILL: nothing is left to drain) and closes the proxies. */
  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.splice(0).map((node) => node.stop('SIGKILL')))
    await Promise.all(this.#proxies.splice(0).map((proxy) => proxy.close()))
  }
}

/** Event streams opened by a test, closed together. */
export class StreamSet {
  readonly #streams: EventStreamClient[] = []

  /**
   * Opens `GET hubUrl?topic=…` and checks that the stream is open. With `lastEventId`, resumes: with the
   * `Last-Event-ID` header, or the `lastEventID` query parameter when `via` is `'query'`.
   */
  async open(hubUrl: string, topics: readonly string[], lastEventId?: string, via: 'header' | 'query' = 'header'): Promise<EventStreamClient> {
    const query = new URLSearchParams()
    for (const topic of topics) query.append('topic', topic)
    if (lastEventId !== undefined && via === 'query') query.set('lastEventID', lastEventId)
    const headers: Record<string, string> = lastEventId !== undefined && via === 'header' ? { 'last-event-id': lastEventId } : {}
    const stream = await openEventStream(`${hubUrl}?${query.toString()}`, { headers })
    this.#streams.push(stream)
    if (stream.status !== 200) throw new Error(`subscribing at ${hubUrl} answered ${stream.status}`)
    return stream
  }

  closeAll(): void {
    for (const stream of this.#streams.splice(0)) stream.close()
  }
}

/** The ids of the updates a stream received, in order (gap events and other named events left out). */
export function receivedIds(stream: EventStreamClient): string[] {
  return stream.events.filter((event) => event.type === 'message').map((event) => event.lastEventId)
}

/** The `herald-gap` events a stream received, parsed. */
export function gapEvents(stream: EventStreamClient): { lastEventId: string; reason: string; oldestId: string | null; newestId: string | null }[] {
  return stream.events.filter((event) => event.type === 'herald-gap').map((event) => JSON.parse(event.data) as { lastEventId: string; reason: string; oldestId: string | null; newestId: string | null })
}

/** A TCP load balancer in front of hub nodes, as a deployment puts one. */
export interface TcpBalancer {
  /** The port clients connect to, on 127.0.0.1. */
  readonly port: number
  /** How many connections went to each target, by index. */
  readonly connections: readonly number[]
  /** Closes the listener and every connection. */
  close(): Promise<void>
}

/**
 * Starts a balancer that hands each connection to the first target, in the order given, that accepts it: a node
 * that is down (connection refused) is skipped, the way a load balancer's health check takes it out. When no target
 * accepts, the client's connection is closed.
 *
 * @example
 * ```ts
 * const balancer = await startTcpBalancer([{ host: '127.0.0.1', port: a.port }, { host: '127.0.0.1', port: b.port }])
 * new EventSource(`http://127.0.0.1:${balancer.port}/.well-known/mercure?topic=x`)
 * ```
 */
export async function startTcpBalancer(targets: readonly { host: string; port: number }[]): Promise<TcpBalancer> {
  const sockets = new Set<Socket>()
  const connections = targets.map(() => 0)
  const track = (socket: Socket): void => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
  }
  const server = createServer((client) => {
    track(client)
    client.pause()
    const attempt = (index: number): void => {
      const target = targets[index]
      if (target === undefined || client.destroyed) {
        client.destroy()
        return
      }
      const upstream = connect(target)
      const refused = (): void => {
        upstream.destroy()
        attempt(index + 1)
      }
      upstream.once('error', refused)
      upstream.once('connect', () => {
        upstream.off('error', refused)
        connections[index]!++
        track(upstream)
        client.pipe(upstream)
        upstream.pipe(client)
        client.resume()
        client.on('close', () => upstream.destroy())
        upstream.on('close', () => client.destroy())
      })
    }
    attempt(0)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the balancer has no TCP address')
  return {
    port: address.port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

/** A keep-alive connection pool for publishing to one node, `maxSockets` requests at a time. */
export function publishAgent(maxSockets = 10): Agent {
  return new Agent({ keepAlive: true, maxSockets })
}

/** A topic no other test run uses. */
export function uniqueTopic(name: string): string {
  return `https://herald.test/scale-out/${randomUUID()}/${name}`
}

/** How a subscriber's received ids compare with the ids it should have received, for one readable assertion. */
export interface DeliveryCheck {
  /** Ids received more than once (each repeat listed). */
  readonly duplicates: string[]
  /** Expected ids never received. */
  readonly missing: string[]
  /** Received ids that were not expected. */
  readonly unexpected: string[]
  /** Whether the expected ids arrived in the expected order (first arrivals). */
  readonly inOrder: boolean
}

/** The {@link DeliveryCheck} of a subscriber that got every expected update exactly once, in order. */
export const EXACTLY_ONCE_IN_ORDER: DeliveryCheck = Object.freeze({ duplicates: [], missing: [], unexpected: [], inOrder: true })

/**
 * Compares what a subscriber received with what it should have received.
 *
 * @example
 * ```ts
 * expect(checkDelivery(receivedIds(stream), acknowledged)).toEqual(EXACTLY_ONCE_IN_ORDER)
 * ```
 */
export function checkDelivery(received: readonly string[], expected: readonly string[]): DeliveryCheck {
  const wanted = new Set(expected)
  const seen = new Set<string>()
  const duplicates: string[] = []
  const firsts: string[] = []
  for (const id of received) {
    if (seen.has(id)) duplicates.push(id)
    else {
      seen.add(id)
      if (wanted.has(id)) firsts.push(id)
    }
  }
  return {
    duplicates,
    missing: expected.filter((id) => !seen.has(id)),
    unexpected: [...seen].filter((id) => !wanted.has(id)),
    inOrder: firsts.join('\n') === expected.filter((id) => seen.has(id)).join('\n'),
  }
}

/** The pids of the processes whose parent is `parent` (the workers of a `herald serve --workers N`), from /proc. */
export async function childPids(parent: number): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8')
      // Field 4, after the parenthesised command name, is the parent's pid.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) pids.push(Number(entry))
    } catch {
      // The process ended meanwhile.
    }
  }
  return pids
}
