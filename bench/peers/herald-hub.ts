/**
 * System modules: Herald's hub (`herald serve` from `dist/cli/main.js`) in production mode, in these set-ups:
 *
 * | name | processes | history | broker |
 * |---|---|---|---|
 * | `herald-hub` | 1 | memory | memory |
 * | `herald-hub-sqlite` | 1 | SQLite file in the run's temp dir (the default engine) | memory |
 * | `herald-hub-workers-2` | 1 primary + 2 workers sharing the port (`--workers 2`) | SQLite file | built-in (between workers) |
 * | `herald-hub-redis-1` | 1 node | Redis | Redis |
 * | `herald-hub-redis-2` | 2 nodes on 2 ports | Redis | Redis |
 * | `herald-hub-nats-1` | 1 node | NATS JetStream | NATS |
 * | `herald-hub-nats-2` | 2 nodes on 2 ports | NATS JetStream | NATS |
 *
 * Every node gets freshly generated HS256 keys (32 random bytes, hex), anonymous subscribers and the default
 * heartbeat. Subscribers `GET /.well-known/mercure?topic=<topic>`; in the two-node set-ups they are spread
 * over both nodes (`subscribeUrls`) and every update is published to the first node, so that half of the
 * deliveries cross the engine. The server cost is every hub process plus, for Redis and NATS, the engine's
 * own server process (`redis-server`, `nats-server`, found in /proc by name). Each run starts on an empty bench
 * history (its keys or stream deleted first), so that runs compare. Those engines are shared with
 * whatever else runs on the machine, so their CPU is only meaningful when nothing else uses them during the
 * run (the harness waits for a quiet machine first).
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { createConnection } from 'node:net'
import { join } from 'node:path'
import { startChildService, type ChildService } from '../harness/child-service.js'
import { findFreePort } from '../harness/free-port.js'
import type { Availability, RunningSystem, SystemDefinition, SystemStartOptions } from '../harness/system.js'
import { waitForPort } from '../harness/wait-for-port.js'
import { heraldNodeFlags, heraldRoot, heraldVersion } from './herald-server-system.js'
import { resetBenchHistory } from './reset-bench-history.js'

/** Time allowed for a hub node to listen and answer `/readyz` with 200. @defaultValue 20,000 ms */
export const HUB_START_TIMEOUT_MS = 20_000

/**
 * Redis used by `herald-hub-redis-2`: database 11 and its own key prefix and channel, so a run never touches the
 * names the tests or an application use. Override with `HERALD_BENCH_REDIS_URL`.
 */
export const BENCH_REDIS_URL = process.env.HERALD_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/11?keyPrefix=herald-bench:history:&channel=herald-bench:broker'
/**
 * NATS used by `herald-hub-nats-2`: its own stream and subjects (see above). Override with `HERALD_BENCH_NATS_URL`.
 */
export const BENCH_NATS_URL =
  process.env.HERALD_BENCH_NATS_URL ?? 'nats://127.0.0.1:4222?stream=HERALD_BENCH_HISTORY&subjectPrefix=herald-bench.history&subject=herald-bench.broker'

interface HubVariant {
  readonly name: string
  readonly description: string
  /** Hub nodes (separate `herald serve` processes on their own ports). */
  readonly nodes: number
  /** `--history` and `--broker` for a run directory. */
  engine(workDir: string): { readonly history: string; readonly broker: string }
  readonly extraArgs?: readonly string[]
  /** Name (`/proc/<pid>/comm`) of the engine's server process whose CPU counts as server cost. */
  readonly engineProcess?: string
  /** Host and port that must accept TCP connections for the variant to run. */
  readonly engineAddress?: { readonly url: string; readonly defaultPort: number }
  /** Empties the engine's bench history before the nodes start (see `reset-bench-history.ts`). */
  reset?(): Promise<void>
}

/** PIDs of processes whose `/proc/<pid>/comm` is `name`. */
export function pidsByName(name: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) pids.push(Number(entry))
    } catch {
      // the process ended while listing
    }
  }
  return pids
}

function reachable(url: string, defaultPort: number, timeoutMs = 2_000): Promise<boolean> {
  const parsed = new URL(url)
  return new Promise((resolve) => {
    const socket = createConnection({ host: parsed.hostname, port: Number(parsed.port || defaultPort) })
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

async function waitReady(port: number, service: ChildService): Promise<void> {
  const deadline = Date.now() + HUB_START_TIMEOUT_MS
  await waitForPort('127.0.0.1', port, { timeoutMs: HUB_START_TIMEOUT_MS, stillStarting: () => service.isRunning() })
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2_000) })
      await response.arrayBuffer()
      if (response.status === 200) return
    } catch {
      // not yet
    }
    if (!service.isRunning()) throw new Error('exited while starting')
    if (Date.now() > deadline) throw new Error(`/readyz did not answer 200 within ${HUB_START_TIMEOUT_MS} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

function cliPath(): string {
  return join(heraldRoot(), 'dist', 'cli', 'main.js')
}

function defineHub(variant: HubVariant): SystemDefinition {
  return {
    name: variant.name,
    description: variant.description,
    async check(): Promise<Availability> {
      if (heraldVersion() === null) return { available: false, reason: 'dist/ is not built (npm run build)' }
      if (variant.engineAddress && !(await reachable(variant.engineAddress.url, variant.engineAddress.defaultPort))) {
        return { available: false, reason: `${variant.engineAddress.url} does not accept connections` }
      }
      if (variant.engineProcess && pidsByName(variant.engineProcess).length === 0) {
        return { available: false, reason: `no ${variant.engineProcess} process on this machine to measure` }
      }
      return { available: true }
    },
    async start(options: SystemStartOptions): Promise<RunningSystem> {
      const publisherKey = randomBytes(32).toString('hex')
      const subscriberKey = randomBytes(32).toString('hex')
      const token = execFileSync(process.execPath, [cliPath(), 'gen-token', '--key', publisherKey, '--publish', '*'], {
        encoding: 'utf8',
      }).trim()
      const { history, broker } = variant.engine(options.workDir)
      await variant.reset?.()
      const services: ChildService[] = []
      const ports: number[] = []
      const stopAll = async (): Promise<void> => {
        await Promise.all(services.map((service) => service.stop()))
      }
      try {
        for (let node = 0; node < variant.nodes; node++) {
          const port = await findFreePort()
          const service = await startChildService({
            name: `${variant.name}-${node}`,
            command: process.execPath,
            args: [
              ...heraldNodeFlags(),
              cliPath(),
              'serve',
              '--mode', 'production',
              '--host', '127.0.0.1',
              '--port', String(port),
              '--history', history,
              '--broker', broker,
              '--anonymous',
              ...(variant.extraArgs ?? []),
            ],
            env: { HERALD_PUBLISHER_JWT_KEY: publisherKey, HERALD_SUBSCRIBER_JWT_KEY: subscriberKey },
            cwd: options.workDir,
            logFile: join(options.workDir, `${variant.name}-${node}.log`),
          })
          services.push(service)
          try {
            await waitReady(port, service)
          } catch (error) {
            throw new Error(`${service.name}: ${(error as Error).message}\n${service.logTail()}`)
          }
          ports.push(port)
        }
      } catch (error) {
        await stopAll()
        throw error
      }
      const enginePids = variant.engineProcess ? pidsByName(variant.engineProcess) : []
      const hubUrl = (port: number, topic: string): string =>
        `http://127.0.0.1:${port}/.well-known/mercure?topic=${encodeURIComponent(topic)}`
      const publishPort = ports[0] ?? 0
      const engineNote = variant.engineProcess ? ` + ${variant.engineProcess} (${history})` : ` (history ${history.split(':')[0]})`
      return {
        version: `herald-sse ${heraldVersion() ?? '?'} hub × ${variant.nodes} on node ${process.version}${engineNote}${variant.extraArgs ? `, ${variant.extraArgs.join(' ')}` : ''}`,
        subscribeUrl: (topic) => hubUrl(publishPort, topic),
        ...(ports.length > 1 ? { subscribeUrls: (topic: string) => ports.map((port) => hubUrl(port, topic)) } : {}),
        publish: {
          host: '127.0.0.1',
          port: publishPort,
          request: (topic, data) => ({
            method: 'POST',
            path: '/.well-known/mercure',
            headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Bearer ${token}` },
            body: `topic=${encodeURIComponent(topic)}&data=${encodeURIComponent(data)}`,
          }),
        },
        pids: () => [...services.map((service) => service.pid), ...enginePids],
        // One Node process per node (or per worker): about 19,900 descriptors each here.
        limits: { maxConnections: 19_500 * variant.nodes * (variant.extraArgs?.includes('--workers') ? 2 : 1) },
        stop: stopAll,
      }
    },
  }
}

/** One hub process, in-memory history and broker. */
export const heraldHubSystem = defineHub({
  name: 'herald-hub',
  description: 'Herald hub (herald serve, production mode, JWT keys, anonymous subscribers), memory history',
  nodes: 1,
  engine: () => ({ history: 'memory', broker: 'memory' }),
})

/** One hub process, in-memory history and broker, with `--nagle` (Nagle's algorithm on subscriber connections). */
export const heraldHubNagleSystem = defineHub({
  name: 'herald-hub-nagle',
  description: "Herald hub as herald-hub, with --nagle (Nagle's algorithm on subscriber connections)",
  nodes: 1,
  engine: () => ({ history: 'memory', broker: 'memory' }),
  extraArgs: ['--nagle'],
})

/**
 * One hub process, in-memory history and broker, with `--no-coalesce-writes`: each update written to each subscriber
 * as it is published, as the hub did before it coalesced writes; the same run then shows what coalescing changes.
 */
export const heraldHubUncoalescedSystem = defineHub({
  name: 'herald-hub-uncoalesced',
  description: 'Herald hub as herald-hub, with --no-coalesce-writes (one write per update and subscriber)',
  nodes: 1,
  engine: () => ({ history: 'memory', broker: 'memory' }),
  extraArgs: ['--no-coalesce-writes'],
})

function delayedHub(delayMs: number): SystemDefinition {
  return defineHub({
    name: `herald-hub-delay-${delayMs}`,
    description: `Herald hub as herald-hub, with --write-delay-ms ${delayMs} and no interval (updates held ${delayMs} ms per subscriber, written together)`,
    nodes: 1,
    engine: () => ({ history: 'memory', broker: 'memory' }),
    extraArgs: ['--write-delay-ms', String(delayMs), '--write-interval-ms', '0'],
  })
}

/**
 * One hub process, in-memory history and broker, with `--write-delay-ms 20` and `--write-interval-ms 0`: each
 * subscriber's updates held 20 ms from the first one and written together.
 */
export const heraldHubDelay20System = delayedHub(20)

/**
 * As `herald-hub-delay-20`, with `--write-delay-ms 40`: about nchan's own median latency in scenario A on a busy
 * machine (40–50 ms), whose streams run with Nagle's algorithm on.
 */
export const heraldHubDelay40System = delayedHub(40)

function pacedHub(intervalMs: number): SystemDefinition {
  return defineHub({
    name: `herald-hub-interval-${intervalMs}`,
    description:
      intervalMs === 0
        ? 'Herald hub as herald-hub, with --write-interval-ms 0 (each update written as soon as the shared queue reaches it)'
        : `Herald hub as herald-hub, with --write-interval-ms ${intervalMs} (at most one write per ${intervalMs} ms per subscriber)`,
    nodes: 1,
    engine: () => ({ history: 'memory', broker: 'memory' }),
    extraArgs: ['--write-interval-ms', String(intervalMs)],
  })
}

/**
 * One hub process, in-memory history and broker, with `--write-interval-ms 0`: no least interval between two writes
 * to a subscriber, each update leaves as soon as the shared queue reaches it (the hub's default before the interval).
 */
export const heraldHubInterval0System = pacedHub(0)

/**
 * As `herald-hub-interval-0`, with `--write-interval-ms 20` (the default is 40): an update to a subscriber that got
 * nothing for 20 ms leaves at once, sooner ones wait for the interval's end and leave together.
 */
export const heraldHubInterval20System = pacedHub(20)

/** One hub process with the default history engine: a SQLite file (in the run's temp dir). */
export const heraldHubSqliteSystem = defineHub({
  name: 'herald-hub-sqlite',
  description: 'Herald hub as herald-hub, with the default SQLite history (a file in the run directory)',
  nodes: 1,
  engine: (workDir) => ({ history: `sqlite:${join(workDir, 'herald.db')}`, broker: 'memory' }),
})

/** One hub with two worker processes sharing the port. */
export const heraldHubWorkers2System = defineHub({
  name: 'herald-hub-workers-2',
  description: 'Herald hub with --workers 2 (two processes sharing the port), SQLite history',
  nodes: 1,
  engine: (workDir) => ({ history: `sqlite:${join(workDir, 'herald.db')}`, broker: 'memory' }),
  extraArgs: ['--workers', '2'],
})

/** One or more hub nodes sharing an engine server (Redis or NATS) for history and broker; its process counts too. */
function engineHub(engine: 'redis' | 'nats', name: string, url: string, defaultPort: number, nodes: number): SystemDefinition {
  return defineHub({
    name: `herald-hub-${engine}-${nodes}`,
    description: `${nodes === 1 ? 'one Herald hub node' : `${nodes} Herald hub nodes`} on ${name} (${url}) as history and broker; cost includes ${engine}-server`,
    nodes,
    engine: () => ({ history: url, broker: url }),
    engineProcess: `${engine}-server`,
    engineAddress: { url, defaultPort },
    reset: () => resetBenchHistory(engine, url),
  })
}

const redisHub = (nodes: number): SystemDefinition => engineHub('redis', 'Redis', BENCH_REDIS_URL, 6379, nodes)
const natsHub = (nodes: number): SystemDefinition => engineHub('nats', 'NATS', BENCH_NATS_URL, 4222, nodes)

/**
 * One hub node on Redis as history and broker; the cost includes redis-server. Against `herald-hub-redis-2` in the
 * same run it shows what the second node costs, apart from what the engine costs.
 */
export const heraldHubRedis1System = redisHub(1)

/** Two hub nodes sharing Redis as history and broker; the cost includes redis-server. */
export const heraldHubRedis2System = redisHub(2)

/**
 * One hub node on NATS (JetStream history, a broker tailing its stream); the cost includes nats-server. See
 * `herald-hub-redis-1`.
 */
export const heraldHubNats1System = natsHub(1)

/** Two hub nodes sharing NATS (JetStream history, a broker tailing its stream); the cost includes nats-server. */
export const heraldHubNats2System = natsHub(2)
