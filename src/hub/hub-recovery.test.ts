import { afterEach, describe, expect, it } from 'vitest'
import type { Broker, SubscribeOptions, Unsubscribe } from './broker/broker.js'
import { MemoryBroker } from './broker/memory-broker.js'
import { MemoryHistory } from './history/memory-history.js'
import type { ReadQuery, ReadResult } from './history/history-store.js'
import { sampleUpdate } from './history/testing/history-suite.js'
import { createHub, type Hub } from './hub.js'
import type { StreamPosition } from './stream-position.js'
import type { HubMessage } from './update.js'

/**
 * A broker whose "connection" can drop: while down, published messages are lost for the listeners (as Redis
 * pub/sub or core NATS lose them); on reconnect it calls `onMissed` first, as the engines do.
 */
class FlakyBroker implements Broker {
  readonly #inner = new MemoryBroker()
  #down = false
  #missed: (() => void)[] = []
  disconnect(): void {
    this.#down = true
  }
  reconnect(): void {
    this.#down = false
    for (const notify of this.#missed) notify()
  }
  publish(message: HubMessage): Promise<void> {
    return this.#down ? Promise.resolve() : this.#inner.publish(message)
  }
  subscribe(onMessage: (m: HubMessage) => void, options?: SubscribeOptions): Promise<Unsubscribe> {
    if (options?.onMissed !== undefined) {
      const onMissed = options.onMissed
      this.#missed.push(() => onMissed({ reason: 'reconnect', disconnectedAt: Date.now() }))
    }
    return this.#inner.subscribe(onMessage)
  }
  close(): Promise<void> {
    return this.#inner.close()
  }
}

/** A memory history that declares itself shared, as Redis and NATS histories do. */
class SharedMemoryHistory extends MemoryHistory {
  override readonly capabilities = Object.freeze({ durable: false, sharedAcrossNodes: true })
}

/** A shared memory history that counts its reads. */
class CountingHistory extends SharedMemoryHistory {
  reads = 0
  override readAfter(from: StreamPosition | 'earliest', query: ReadQuery): Promise<ReadResult> {
    this.reads++
    return super.readAfter(from, query)
  }
}

const hubs: Hub[] = []
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 50 })))
})

describe('hub: broker reconnect', () => {
  it('re-reads history after the last dispatched update when the broker may have missed messages', async () => {
    const broker = new FlakyBroker()
    const hub = createHub({ broker, history: new SharedMemoryHistory(), anonymous: true, heartbeatMs: null })
    hubs.push(hub)
    const { url } = await hub.listen({ port: 0 })
    const controller = new AbortController()
    const response = await fetch(`${url}/.well-known/mercure?topic=t`, { signal: controller.signal })
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    let text = ''
    const readUntil = async (count: number) => {
      while ((text.match(/^data: /gm) ?? []).length < count) {
        const { value, done } = await reader.read()
        if (done) throw new Error('stream ended')
        text += new TextDecoder().decode(value)
      }
    }
    await hub.publish({ topics: 't', data: 'before' })
    await readUntil(1)
    broker.disconnect()
    await hub.publish({ topics: 't', data: 'lost-1' })
    await hub.publish({ topics: 't', data: 'lost-2' })
    broker.reconnect()
    await hub.publish({ topics: 't', data: 'after' })
    await readUntil(4)
    expect([...text.matchAll(/^data: (.*)$/gm)].map((m) => m[1])).toEqual(['before', 'lost-1', 'lost-2', 'after'])
    controller.abort()
  })

  it('starts a node from the newest entry of a shared history without reading the history, and recovers after it', async () => {
    const broker = new FlakyBroker()
    const history = new CountingHistory()
    for (let n = 0; n < 3; n++) await history.append(sampleUpdate(n, { topics: ['t'] }))
    const hub = createHub({ broker, history, anonymous: true, heartbeatMs: null })
    hubs.push(hub)
    const { url } = await hub.listen({ port: 0 })
    const controller = new AbortController()
    const response = await fetch(`${url}/.well-known/mercure?topic=t`, { signal: controller.signal })
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    // This node delivered nothing yet when its broker drops: the recovery reads after the newest entry at its start.
    broker.disconnect()
    await hub.publish({ topics: 't', data: 'lost' })
    broker.reconnect()
    await hub.publish({ topics: 't', data: 'after' })
    let text = ''
    while ((text.match(/^data: /gm) ?? []).length < 2) {
      const { value, done } = await reader.read()
      if (done) throw new Error('stream ended')
      text += new TextDecoder().decode(value)
    }
    expect([...text.matchAll(/^data: (.*)$/gm)].map((m) => m[1])).toEqual(['lost', 'after'])
    // One read, the recovery's: finding the start took newest(), not a read through the history.
    expect(history.reads).toBe(1)
    controller.abort()
  })
})
