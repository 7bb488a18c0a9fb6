import { describe, expect, it, vi } from 'vitest'
import type { HubError } from '../../errors.js'
import type { HistoryStore } from '../../history/history-store.js'
import { sampleUpdate } from '../../history/testing/history-suite.js'
import { ResumingSubscriber } from '../../redis/testing/resuming-subscriber.js'
import type { TcpProxy } from '../../redis/testing/tcp-proxy.js'
import { compareOffsets } from '../../stream-position.js'
import type { HubMessage } from '../../update.js'
import type { Broker, MissedMessages } from '../broker.js'
import { sampleMessage } from './broker-suite.js'

/** How the suite asks for a broker. */
export interface PubsubBrokerOpenOptions {
  /** Connect through this proxy, and reconnect at once after it breaks the connection; without it, connect directly. */
  readonly through?: TcpProxy
  /** Give up on a request after a short timeout (a few hundred milliseconds), for tests that expect it to fail. */
  readonly failFast?: boolean
  /** Connect to a port where nothing listens, giving up on a request after a short timeout, without retrying. */
  readonly unreachable?: boolean
  /** Must receive the engine's errors (map it onto the engine's `onError` option). */
  readonly onError?: (error: HubError) => void
}

/** What the resume test's publishing run offers to {@link PubsubFaultNode.breakWhilePublishing}. */
export interface PubsubFaultPublishing {
  /** Appends then publishes update `n`, as the hub does; resolves with the message once both were acknowledged, else undefined. */
  readonly publish: (n: number) => Promise<HubMessage | undefined>
  /** Publishes updates `from` to `from + count - 1` in turn, recording the acknowledged ones in {@link acknowledged}. */
  readonly publishMany: (from: number, count: number) => Promise<void>
  /** The messages acknowledged so far by {@link publishMany}, in call order. */
  readonly acknowledged: readonly HubMessage[]
}

/** The publishing node of the resume test: a history and a broker whose connections the engine knows how to break. */
export interface PubsubFaultNode {
  /** The history the node appends to, on the test's store. */
  readonly history: HistoryStore
  /** The broker the node publishes on, on the test's bus. */
  readonly broker: Broker
  /**
   * Breaks this node's connections while it publishes updates from 201 on (through `publishing.publishMany`), as a
   * network failure or a restarted server would, and publishes some more once it works again.
   */
  breakWhilePublishing(publishing: PubsubFaultPublishing): Promise<void>
}

/**
 * How the suite reaches one engine. Every resource it opens must be closed, and every store it names deleted, by the
 * engine's test file after each test.
 */
export interface PubsubBrokerEngine {
  /** Starts a TCP proxy in front of the engine's server. */
  proxy(): Promise<TcpProxy>
  /** A bus (channel, subject) no other test uses. */
  busName(kind: string): string
  /** A history store (key prefix, stream) no other test uses. */
  storeName(kind: string): string
  /** Opens a history on `store`, bounded to `maxEntries` when given. */
  history(store: string, maxEntries?: number): HistoryStore
  /** Opens a broker on `bus`. */
  broker(bus: string, options?: PubsubBrokerOpenOptions): Broker
  /** Sends `payloads` on `bus` as another client would, bypassing the broker, and returns once the server has them. */
  sendForeign(bus: string, payloads: readonly string[]): Promise<void>
  /** Opens the publishing node of the resume test, on `store` and `bus`. */
  publishingNode(store: string, bus: string): Promise<PubsubFaultNode>
  /** The broker reports each failed connection attempt to `onError` (the Redis client does; nats.js does not). */
  readonly reportsConnectFailures: boolean
  /** How long a broker may take to publish again once its server is reachable again (a correctness bound). */
  readonly reconnectWithinMs: number
  /**
   * A publish made after the connection broke but before the broker noticed is written once the connection is back
   * (as nats.js does): the suite then waits for the broker to report the loss before the publish that must fail.
   */
  readonly buffersUnnoticedPublishes: boolean
}

/** Appends then publishes, as the hub does; resolves with the message once both were acknowledged, else undefined. */
async function publishUpdate(store: HistoryStore, publisher: Broker, n: number): Promise<HubMessage | undefined> {
  const update = sampleUpdate(n)
  try {
    const position = await store.append(update)
    const message = { update, position }
    await publisher.publish(message)
    return message
  } catch (error) {
    expect((error as HubError).code).toMatch(/^ERR_HUB_(HISTORY|BROKER)_UNAVAILABLE$/)
    return undefined
  }
}

/**
 * Registers the tests every broker on a server's pub/sub (`RedisBroker`, `NatsBroker`) must pass beyond
 * `brokerConformance`: what it does with foreign messages and unreachable servers, and, when its connections break,
 * what a hub node subscribed through it misses, how history fills it in, and how publishes fail.
 *
 * @example
 * ```ts
 * if (hasRedis) pubsubBrokerConformance('RedisBroker', redisPubsub)
 * ```
 */
export function pubsubBrokerConformance(name: string, engine: PubsubBrokerEngine): void {
  describe(`Pub/sub broker conformance: ${name}`, () => {
    it('drops a foreign message on its bus, reporting it, and keeps delivering', async () => {
      const bus = engine.busName('foreign')
      const errors: HubError[] = []
      const broker = engine.broker(bus, { onError: (error) => errors.push(error) })
      const received: HubMessage[] = []
      await broker.subscribe((message) => received.push(message))
      await engine.sendForeign(bus, ['hello', JSON.stringify({ v: 2 })])
      const message = sampleMessage(1)
      await broker.publish(message)
      await vi.waitFor(() => expect(received).toHaveLength(1))
      expect(received[0]).toStrictEqual(message)
      expect(errors.map((e) => e.code)).toEqual(['ERR_HUB_BROKER_MESSAGE_INVALID', 'ERR_HUB_BROKER_MESSAGE_INVALID'])
    })

    it('hands every listener of a node the same frozen message', async () => {
      const broker = engine.broker(engine.busName('frozen'))
      const received: HubMessage[] = []
      await broker.subscribe((message) => received.push(message))
      await broker.subscribe((message) => received.push(message))
      await broker.publish(sampleMessage(1))
      await vi.waitFor(() => expect(received).toHaveLength(2))
      expect(received[0]).toBe(received[1])
      expect(Object.isFrozen(received[0])).toBe(true)
      expect(Object.isFrozen(received[0]!.update)).toBe(true)
    })

    it('fails publish and subscribe with ERR_HUB_BROKER_UNAVAILABLE when the engine cannot be reached', async () => {
      const errors: HubError[] = []
      const broker = engine.broker(engine.busName('unreachable'), { unreachable: true, onError: (error) => errors.push(error) })
      await expect(broker.publish(sampleMessage(1))).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_UNAVAILABLE' })
      await expect(broker.subscribe(() => {})).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_UNAVAILABLE' })
      if (engine.reportsConnectFailures) expect(errors.length).toBeGreaterThan(0)
      expect(errors.every((e) => e.code === 'ERR_HUB_BROKER_UNAVAILABLE')).toBe(true)
    })
  })

  describe(`${name} under faults`, () => {
    it('delivers every acknowledged update to a subscriber whose connection broke, re-reading history after the reconnect', async () => {
      const store = engine.storeName('resume')
      const bus = engine.busName('resume')
      const node = await engine.publishingNode(store, bus)
      const subscriberNetwork = await engine.proxy()
      const subscriberBroker = engine.broker(bus, { through: subscriberNetwork })
      const first = await publishUpdate(node.history, node.broker, 0)
      const subscriber = new ResumingSubscriber(engine.history(store), first!.position)
      await subscriber.attach(subscriberBroker)

      const acknowledged: HubMessage[] = []
      const publishing: PubsubFaultPublishing = {
        acknowledged,
        publish: (n) => publishUpdate(node.history, node.broker, n),
        publishMany: async (from, count) => {
          for (let n = from; n < from + count; n++) {
            const message = await publishUpdate(node.history, node.broker, n)
            if (message !== undefined) acknowledged.push(message)
          }
        },
      }
      await publishing.publishMany(1, 100)
      // The subscriber's connection breaks and stays down while 100 updates are published: pub/sub loses them.
      subscriberNetwork.down()
      await publishing.publishMany(101, 100)
      subscriberNetwork.up()
      // Meanwhile the publishing node loses its own connections while it publishes.
      await node.breakWhilePublishing(publishing)

      await vi.waitFor(() => expect(subscriber.seen.at(-1)?.position).toEqual(acknowledged.at(-1)!.position), { timeout: 15_000, interval: 20 })
      const seen = new Map(subscriber.seen.map((m) => [m.position.offset, m.update.id]))
      for (const message of acknowledged) expect(seen.get(message.position.offset)).toBe(message.update.id)
      for (let i = 1; i < subscriber.seen.length; i++) {
        expect(compareOffsets(subscriber.seen[i - 1]!.position.offset, subscriber.seen[i]!.position.offset)).toBeLessThan(0)
      }
      expect(subscriber.missedEvents.length).toBeGreaterThanOrEqual(1)
      expect(subscriber.missedEvents[0]!.reason).toBe('reconnect')
      expect(subscriber.recovered).toBeGreaterThanOrEqual(100)
      expect(subscriber.gaps).toBe(0)
    })

    it('reports a gap to a subscriber that was away longer than the history reaches', async () => {
      const store = engine.storeName('gap')
      const bus = engine.busName('gap')
      const history = engine.history(store, 20)
      const publisher = engine.broker(bus)
      const subscriberNetwork = await engine.proxy()
      const subscriberBroker = engine.broker(bus, { through: subscriberNetwork })
      const first = await publishUpdate(history, publisher, 0)
      const subscriber = new ResumingSubscriber(engine.history(store, 20), first!.position)
      await subscriber.attach(subscriberBroker)

      subscriberNetwork.down()
      const acknowledged: HubMessage[] = []
      for (let n = 1; n <= 50; n++) acknowledged.push((await publishUpdate(history, publisher, n))!)
      subscriberNetwork.up()
      await vi.waitFor(() => expect(subscriber.gaps).toBe(1), { timeout: 15_000, interval: 20 })
      // What history still holds (the newest 20) arrives, in order, after the gap.
      await vi.waitFor(() => expect(subscriber.seen.map((m) => m.position)).toEqual(acknowledged.slice(30).map((m) => m.position)))
    })

    it('fails a publish with ERR_HUB_BROKER_UNAVAILABLE while the engine is unreachable, and never delivers it later', async () => {
      const bus = engine.busName('down')
      const network = await engine.proxy()
      const errors: HubError[] = []
      const publisher = engine.broker(bus, { through: network, failFast: true, onError: (error) => errors.push(error) })
      const listener = engine.broker(bus)
      const received: HubMessage[] = []
      await listener.subscribe((message) => received.push(message))
      await publisher.publish(sampleMessage(1))
      network.down()
      if (engine.buffersUnnoticedPublishes) {
        await vi.waitFor(() => expect(errors.map((e) => e.code)).toContain('ERR_HUB_BROKER_UNAVAILABLE'))
      }
      await expect(publisher.publish(sampleMessage(2))).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_UNAVAILABLE' })
      network.up()
      await vi.waitFor(() => publisher.publish(sampleMessage(3)), { timeout: engine.reconnectWithinMs, interval: 20 })
      await vi.waitFor(() => expect(received.at(-1)?.position.offset).toBe('3'))
      expect(received.map((m) => m.position.offset)).toEqual(['1', '3'])
      expect(errors.map((e) => e.code)).toContain('ERR_HUB_BROKER_UNAVAILABLE')
    })

    it('does not report missed messages to a subscription made after the reconnect', async () => {
      const bus = engine.busName('late')
      const network = await engine.proxy()
      const subscriberBroker = engine.broker(bus, { through: network })
      const early: MissedMessages[] = []
      await subscriberBroker.subscribe(() => {}, { onMissed: (event) => early.push(event) })
      network.cut()
      await vi.waitFor(() => expect(early).toHaveLength(1), { timeout: 10_000, interval: 20 })
      expect(early[0]).toMatchObject({ reason: 'reconnect' })
      expect(early[0]!.disconnectedAt).toBeGreaterThan(0)
      const late: MissedMessages[] = []
      await subscriberBroker.subscribe(() => {}, { onMissed: (event) => late.push(event) })
      expect(late).toEqual([])
    })
  })
}
