import { randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import { createClient } from 'redis'
import { requireService } from '../../../../test/helpers/require-service.js'
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js'

/** The Redis the tests use: `REDIS_URL`, or the one on this machine. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/**
 * Tells whether Redis answers at {@link REDIS_URL}. Missing, it prints a notice and returns false, or throws under
 * `CI=true`. Call it once per test file, at collection time.
 */
export async function requireRedis(): Promise<boolean> {
  const url = new URL(REDIS_URL)
  const reachable = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 6379) })
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1_000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    // +PONG, or -NOAUTH when a password is needed: either way a Redis answers.
    socket.once('data', (chunk) => done(chunk[0] === 0x2b || chunk[0] === 0x2d))
  })
  return requireService('Redis', reachable, `nothing answers at ${REDIS_URL}`)
}

/** Starts a TCP proxy in front of the Redis at {@link REDIS_URL}, to cut a client's connection or stop the server for it. */
export function startRedisProxy(): Promise<TcpProxy> {
  const url = new URL(REDIS_URL)
  return startTcpProxy({ host: url.hostname, port: Number(url.port || 6379) })
}

/** The URL of the Redis at {@link REDIS_URL} as reached through `proxy`. */
export function redisUrlThrough(proxy: TcpProxy): string {
  return `redis://127.0.0.1:${proxy.port}`
}

/** A URL for the same server with another logical database, for tests that flush it. */
export function redisUrlWithDatabase(database: number): string {
  const url = new URL(REDIS_URL)
  url.pathname = `/${database}`
  return url.toString()
}

/** A key prefix (or channel) no other test run uses. */
export function uniquePrefix(kind: string): string {
  return `herald-test:${kind}:${randomUUID()}:`
}

/** An administrative connection for tests: deletes keys, kills connections, flushes a test database. */
export async function adminClient(url: string = REDIS_URL): Promise<ReturnType<typeof createClient>> {
  const client = createClient({ url, RESP: 2 })
  client.on('error', () => {})
  await client.connect()
  return client
}

/** Deletes every key under `prefix` (SCAN, not KEYS, so a large test database stays responsive). */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const client = await adminClient(url)
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await client.del(keys)
    }
  } finally {
    client.destroy()
  }
}

/**
 * Closes, from the server side, every connection whose name is `name` (`CLIENT KILL ID`), as a network failure or
 * a restarted proxy would. Returns how many were closed.
 */
export async function killConnections(name: string, url: string = REDIS_URL): Promise<number> {
  const client = await adminClient(url)
  try {
    const list = await client.sendCommand<string>(['CLIENT', 'LIST', 'TYPE', 'normal'])
    const pubsub = await client.sendCommand<string>(['CLIENT', 'LIST', 'TYPE', 'pubsub'])
    const ids: string[] = []
    for (const line of `${list}\n${pubsub}`.split('\n')) {
      const fields = new Map(line.split(' ').map((pair) => pair.split('=') as [string, string]))
      if (fields.get('name') === name && fields.has('id')) ids.push(fields.get('id')!)
    }
    for (const id of ids) await client.sendCommand(['CLIENT', 'KILL', 'ID', id])
    return ids.length
  } finally {
    client.destroy()
  }
}
