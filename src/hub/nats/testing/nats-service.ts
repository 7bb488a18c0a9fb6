import { randomUUID } from 'node:crypto'
import { connect as connectTcp } from 'node:net'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node'
import { requireService } from '../../../../test/helpers/require-service.js'
import { startTcpProxy, type TcpProxy } from '../../redis/testing/tcp-proxy.js'

/** The NATS the tests use: `NATS_URL`, or the one on this machine. */
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'

/**
 * Tells whether a NATS server answers at {@link NATS_URL}. Missing, it prints a notice and returns false, or throws
 * under `CI=true`. Call it once per test file, at collection time.
 */
export async function requireNats(): Promise<boolean> {
  const url = new URL(NATS_URL)
  const reachable = await new Promise<boolean>((resolve) => {
    const socket = connectTcp({ host: url.hostname, port: Number(url.port || 4222) })
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1_000, () => done(false))
    socket.once('error', () => done(false))
    // A NATS server greets every connection with its INFO line.
    socket.once('data', (chunk) => done(chunk.subarray(0, 5).toString() === 'INFO '))
  })
  return requireService('NATS', reachable, `nothing answers at ${NATS_URL}`)
}

/** Connection options that reconnect at once rather than after nats.js's default 2 s, to keep the tests short. */
export const QUICK_RECONNECT = { reconnectTimeWait: 20, reconnectJitter: 0 } as const

/** Starts a TCP proxy in front of the NATS at {@link NATS_URL}, to cut a client's connection or stop the server for it. */
export function startNatsProxy(): Promise<TcpProxy> {
  const url = new URL(NATS_URL)
  return startTcpProxy({ host: url.hostname, port: Number(url.port || 4222) })
}

/** The URL of the NATS at {@link NATS_URL} as reached through `proxy`. */
export function natsUrlThrough(proxy: TcpProxy): string {
  return `nats://127.0.0.1:${proxy.port}`
}

/** A name no other test run uses, valid as a stream name and as a subject token. */
export function uniqueName(kind: string): string {
  return `herald_test_${kind}_${randomUUID().replaceAll('-', '')}`
}

/** A connection for tests to inspect and clean up, or to lend to an engine. */
export function adminConnection(options: Omit<NodeConnectionOptions, 'servers'> = {}): Promise<NatsConnection> {
  return connect({ ...options, servers: NATS_URL })
}

/** Deletes streams by name, ignoring those that do not exist. */
export async function deleteStreams(names: readonly string[]): Promise<void> {
  if (names.length === 0) return
  const nc = await adminConnection()
  try {
    const jsm = await jetstreamManager(nc)
    for (const name of names) await jsm.streams.delete(name).catch(() => false)
  } finally {
    await nc.close()
  }
}
