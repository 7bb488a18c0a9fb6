import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterEach, describe, expect, it } from 'vitest'
import { startTcpProxy, type TcpProxy } from '../redis/testing/tcp-proxy.js'
import { ConnectionWatch } from './nats-connection.js'
import { NATS_URL, requireNats } from './testing/nats-service.js'

const hasNats = await requireNats()

/** A full garbage collection, made available to this test file only. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc')
  ;(runInNewContext('gc') as () => void)()
}

describe.runIf(hasNats)('ConnectionWatch', () => {
  const closing: { close(): Promise<void> }[] = []
  const watches: ConnectionWatch[] = []

  afterEach(async () => {
    for (const watch of watches.splice(0)) watch.stop()
    for (const resource of closing.splice(0).reverse()) await resource.close()
  })

  async function watched(url: string = NATS_URL): Promise<{ nc: NatsConnection; watch: ConnectionWatch }> {
    const nc = await connect({ servers: url, reconnectTimeWait: 20, reconnectJitter: 0, maxReconnectAttempts: -1 })
    closing.push(nc)
    const watch = new ConnectionWatch(nc)
    watches.push(watch)
    return { nc, watch }
  }

  async function proxy(): Promise<TcpProxy> {
    const target = new URL(NATS_URL)
    const started = await startTcpProxy({ host: target.hostname, port: Number(target.port || 4222) })
    closing.push(started)
    return started
  }

  it('settles a guarded request as the request settles', async () => {
    const { watch } = await watched()
    await expect(watch.guard(Promise.resolve('answer'))).resolves.toBe('answer')
    const failure = new Error('refused by the server')
    await expect(watch.guard(Promise.reject(failure))).rejects.toBe(failure)
  })

  it('keeps nothing of a request once it settled, however many were guarded on one connection', async () => {
    const { watch } = await watched()
    /** Guards 100 requests that resolve and 100 that fail, one after the other, and follows their outcomes. */
    async function guardMany(): Promise<WeakRef<object>[]> {
      const outcomes: WeakRef<object>[] = []
      for (let i = 0; i < 100; i++) {
        const answer = { i }
        outcomes.push(new WeakRef(answer))
        await watch.guard(Promise.resolve(answer))
        const failure = new Error(`failure ${i}`)
        outcomes.push(new WeakRef(failure))
        await watch.guard(Promise.reject(failure)).catch(() => undefined)
      }
      return outcomes
    }
    const outcomes = await guardMany()
    // WeakRef targets stay alive until the job that made them ended.
    await new Promise((resolve) => setImmediate(resolve))
    collectGarbage()
    expect(outcomes.filter((outcome) => outcome.deref() !== undefined)).toEqual([])
  })

  it('fails the requests under way when the connection is lost, and guards those sent after the reconnection', async () => {
    const network = await proxy()
    const { nc, watch } = await watched(`nats://127.0.0.1:${network.port}`)
    const unanswered = watch.guard(new Promise<never>(() => undefined))
    const answered = watch.guard(nc.flush().then(() => 'flushed'))
    await expect(answered).resolves.toBe('flushed')
    network.cut()
    await expect(unanswered).rejects.toThrow(/lost the connection/)
    await watch.whenUp(5_000)
    expect(watch.up).toBe(true)
    // A request made on the new connection is failed by its next loss, not by the one before.
    const next = watch.guard(new Promise<never>(() => undefined))
    await expect(watch.guard(nc.flush().then(() => 'flushed again'))).resolves.toBe('flushed again')
    network.cut()
    await expect(next).rejects.toThrow(/lost the connection/)
  })
})
