import { afterEach, describe, expect, it } from 'vitest'
import type { Broker, SubscribeOptions, Unsubscribe } from './broker/broker.js'
import { MemoryHistory } from './history/memory-history.js'
import type { ReadQuery, ReadResult } from './history/history-store.js'
import { sampleUpdate } from './history/testing/history-suite.js'
import { createHub, type Hub } from './hub.js'
import type { StreamPosition } from './stream-position.js'
import type { HubMessage } from './update.js'

/** A pub/sub bus that the brokers of several nodes share, as Redis pub/sub or core NATS is. */
class Bus {
  readonly brokers = new Set<BusBroker>()
}

/**
 * One node's broker on a {@link Bus}. Its "connection" can drop: while down, the messages sent on the bus are lost
 * to its listeners, and on reconnect it calls `onMissed`, as the engines do. Its publishes can be held, as on a slow
 * network to the broker: they reach the bus, in order, once released.
 */
class BusBroker implements Broker {
  #down = false
  #held: (() => void)[] | undefined
  readonly #listeners = new Set<(message: HubMessage) => void>()
  readonly #missed: (() => void)[] = []

  constructor(readonly bus: Bus = new Bus()) {
    bus.brokers.add(this)
  }
  disconnect(): void {
    this.#down = true
  }
  reconnect(): void {
    this.#down = false
    for (const notify of this.#missed) notify()
  }
  hold(): void {
    this.#held = []
  }
  release(): void {
    const held = this.#held ?? []
    this.#held = undefined
    for (const send of held) send()
  }
  publish(message: HubMessage): Promise<void> {
    const held = this.#held
    if (held === undefined) return Promise.resolve(this.#send(message))
    return new Promise((resolve) => held.push(() => resolve(this.#send(message))))
  }
  subscribe(onMessage: (m: HubMessage) => void, options?: SubscribeOptions): Promise<Unsubscribe> {
    const onMissed = options?.onMissed
    if (onMissed !== undefined) this.#missed.push(() => onMissed({ reason: 'reconnect', disconnectedAt: Date.now() }))
    this.#listeners.add(onMessage)
    return Promise.resolve(() => {
      this.#listeners.delete(onMessage)
      return Promise.resolve()
    })
  }
  close(): Promise<void> {
    this.bus.brokers.delete(this)
    return Promise.resolve()
  }
  #send(message: HubMessage): void {
    for (const broker of this.bus.brokers) {
      if (broker.#down) continue
      queueMicrotask(() => {
        for (const listener of broker.#listeners) listener(message)
      })
    }
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
const controllers: AbortController[] = []
afterEach(async () => {
  for (const controller of controllers.splice(0)) controller.abort()
  await Promise.all(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 50 })))
})

/** Starts a hub with anonymous subscribers and no heartbeat, closed after the test. */
async function startHub(broker: Broker, history: MemoryHistory): Promise<{ hub: Hub; url: string }> {
  const hub = createHub({ broker, history, anonymous: true, heartbeatMs: null })
  hubs.push(hub)
  const { url } = await hub.listen({ port: 0 })
  return { hub, url }
}

/** A subscriber of topic `t` on the hub at `url`. */
async function subscribe(url: string): Promise<{ data: () => string[]; text: () => string; until: (data: string) => Promise<void> }> {
  const controller = new AbortController()
  controllers.push(controller)
  const response = await fetch(`${url}/.well-known/mercure?topic=t`, { signal: controller.signal })
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  const data = (): string[] => [...text.matchAll(/^data: (.*)$/gm)].map((m) => m[1] ?? '')
  return {
    data,
    text: () => text,
    /** Reads until an update with this data arrived. */
    until: async (value) => {
      while (!data().includes(value)) {
        const { value: chunk, done } = await reader.read()
        if (done) throw new Error(`the stream ended before ${value}`)
        text += decoder.decode(chunk, { stream: true })
      }
    },
  }
}

/** Resolves once `history` holds `count` entries. */
async function untilStored(history: MemoryHistory, count: number): Promise<void> {
  while ((await history.size()) < count) await new Promise((resolve) => setTimeout(resolve, 1))
}

/**
 * Two nodes on one pub/sub bus and one history, and a subscriber on the second: `slowNode` is slow to reach the
 * broker when `slowFirst()` runs.
 */
async function twoNodes() {
  const history = new SharedMemoryHistory()
  const slowBroker = new BusBroker()
  const subscriberBroker = new BusBroker(slowBroker.bus)
  const slowNode = await startHub(slowBroker, history)
  const subscriberNode = await startHub(subscriberBroker, history)
  const stream = await subscribe(subscriberNode.url)
  return {
    slowBroker,
    subscriberBroker,
    slowNode,
    subscriberNode,
    stream,
    /**
     * The slow node stores `slow` and holds its broker publish; the other node then stores `fast` and delivers it.
     * Resolves with the slow node's publish, which completes once the held publish is released.
     */
    slowFirst: async (): Promise<{ slow: Promise<string> }> => {
      const stored = await history.size()
      slowBroker.hold()
      const slow = slowNode.hub.publish({ topics: 't', data: 'slow' })
      await untilStored(history, stored + 1)
      await subscriberNode.hub.publish({ topics: 't', data: 'fast' })
      await stream.until('fast')
      return { slow }
    },
  }
}

describe('hub: broker reconnect', () => {
  it('re-reads history after the last dispatched update when the broker may have missed messages', async () => {
    const broker = new BusBroker()
    const { hub, url } = await startHub(broker, new SharedMemoryHistory())
    const stream = await subscribe(url)
    await hub.publish({ topics: 't', data: 'before' })
    await stream.until('before')
    broker.disconnect()
    await hub.publish({ topics: 't', data: 'lost-1' })
    await hub.publish({ topics: 't', data: 'lost-2' })
    broker.reconnect()
    await hub.publish({ topics: 't', data: 'after' })
    await stream.until('after')
    expect(stream.data()).toEqual(['before', 'lost-1', 'lost-2', 'after'])
  })

  it('starts a node from the newest entry of a shared history without reading the history, and recovers after it', async () => {
    const broker = new BusBroker()
    const history = new CountingHistory()
    for (let n = 0; n < 3; n++) await history.append(sampleUpdate(n, { topics: ['t'] }))
    const { hub, url } = await startHub(broker, history)
    const stream = await subscribe(url)
    // This node delivered nothing yet when its broker drops: the recovery reads after the newest entry at its start.
    broker.disconnect()
    await hub.publish({ topics: 't', data: 'lost' })
    broker.reconnect()
    await hub.publish({ topics: 't', data: 'after' })
    await stream.until('after')
    expect(stream.data()).toEqual(['lost', 'after'])
    // One read, the recovery's: finding the start took newest(), not a read through the history.
    expect(history.reads).toBe(1)
  })

  // docs/scale-out.md: with a pub/sub broker, an update of a node slow to reach the broker can arrive after a newer
  // one; when it is sent during this node's outage, recovery must still find it, though it is older than the last
  // update this node delivered.
  it('recovers an update of a node slow to reach the broker, older than the updates delivered before the outage', async () => {
    const { slowBroker, subscriberBroker, slowNode, subscriberNode, stream, slowFirst } = await twoNodes()
    await slowNode.hub.publish({ topics: 't', data: 'first' })
    await stream.until('first')
    const { slow } = await slowFirst()
    // `slow` reaches the broker while the subscriber node's connection is down.
    subscriberBroker.disconnect()
    slowBroker.release()
    await slow
    subscriberBroker.reconnect()
    await subscriberNode.hub.publish({ topics: 't', data: 'after' })
    await stream.until('after')
    expect(stream.data()).toEqual(['first', 'fast', 'slow', 'after'])
  })

  it('does not deliver again, after a broker reconnect, updates that arrived out of history order', async () => {
    const { slowBroker, subscriberBroker, slowNode, subscriberNode, stream, slowFirst } = await twoNodes()
    const { slow } = await slowFirst()
    // Live, the older update arrives last: it is the last one this node delivered.
    slowBroker.release()
    await slow
    await stream.until('slow')
    subscriberBroker.disconnect()
    await slowNode.hub.publish({ topics: 't', data: 'lost' })
    subscriberBroker.reconnect()
    await subscriberNode.hub.publish({ topics: 't', data: 'after' })
    await stream.until('after')
    expect(stream.data()).toEqual(['fast', 'slow', 'lost', 'after'])
  })

  it('sends no gap event when only deliveries before the last one left the history during the outage', async () => {
    const broker = new BusBroker()
    const { hub, url } = await startHub(broker, new SharedMemoryHistory({ maxEntries: 3 }))
    const stream = await subscribe(url)
    for (let n = 1; n <= 5; n++) await hub.publish({ topics: 't', data: `u${n}` })
    await stream.until('u5')
    broker.disconnect()
    await hub.publish({ topics: 't', data: 'lost' })
    broker.reconnect()
    await hub.publish({ topics: 't', data: 'after' })
    await stream.until('after')
    expect(stream.data()).toEqual(['u1', 'u2', 'u3', 'u4', 'u5', 'lost', 'after'])
    expect(stream.text()).not.toContain('event: herald-gap')
  })

  it('sends the gap event once when updates the node did not deliver left the history during the outage', async () => {
    const broker = new BusBroker()
    const { hub, url } = await startHub(broker, new SharedMemoryHistory({ maxEntries: 3 }))
    const stream = await subscribe(url)
    await hub.publish({ topics: 't', data: 'before' })
    await stream.until('before')
    broker.disconnect()
    for (let n = 1; n <= 5; n++) await hub.publish({ topics: 't', data: `lost-${n}` })
    broker.reconnect()
    await hub.publish({ topics: 't', data: 'after' })
    await stream.until('after')
    // lost-1 and lost-2 were evicted before the node read them back, and lost-3 too when `after` was appended first;
    // what history kept is delivered once, in order.
    const updates = stream.data().filter((data) => !data.startsWith('{'))
    const recovered = updates.slice(1, -1)
    expect([updates[0], updates.at(-1)]).toEqual(['before', 'after'])
    expect(recovered).toEqual(['lost-3', 'lost-4', 'lost-5'].slice(-recovered.length))
    expect(recovered.length).toBeGreaterThanOrEqual(2)
    expect(stream.text().match(/^event: herald-gap$/gm)).toHaveLength(1)
  })
})
