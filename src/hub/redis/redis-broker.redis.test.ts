import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Broker, MissedMessages } from '../broker/broker.js'
import { brokerConformance, sampleMessage } from '../broker/testing/broker-suite.js'
import type { HubError } from '../errors.js'
import type { HistoryStore } from '../history/history-store.js'
import { sampleUpdate } from '../history/testing/history-suite.js'
import { compareOffsets } from '../stream-position.js'
import type { HubMessage } from '../update.js'
import { DEFAULT_REDIS_BROKER_CHANNEL, RedisBroker, type RedisBrokerOptions } from './redis-broker.js'
import { RedisHistory } from './redis-history.js'
import { adminClient, deleteKeys, killConnections, REDIS_URL, requireRedis, uniquePrefix } from './testing/redis-service.js'
import { ResumingSubscriber } from './testing/resuming-subscriber.js'
import { startTcpProxy, type TcpProxy } from './testing/tcp-proxy.js'

const hasRedis = await requireRedis()

if (hasRedis) {
  brokerConformance(
    'RedisBroker',
    () => {
      const channel = uniquePrefix('broker')
      return { open: ({ onError }) => new RedisBroker({ url: REDIS_URL, channel, onError }) }
    },
    { sharedAcrossInstances: true },
  )
}

describe.runIf(hasRedis)('RedisBroker', () => {
  const opened: RedisBroker[] = []

  function open(options: RedisBrokerOptions = {}): RedisBroker {
    const broker = new RedisBroker({ url: REDIS_URL, channel: uniquePrefix('broker'), ...options })
    opened.push(broker)
    return broker
  }

  afterEach(async () => {
    for (const broker of opened.splice(0)) await broker.close()
  })

  it('documents its default channel', () => {
    expect(DEFAULT_REDIS_BROKER_CHANNEL).toBe('herald:broker')
  })

  it('validates its options at construction with ERR_HUB_INVALID_OPTION, without connecting', () => {
    const invalid: unknown[] = [null, 'x', { url: '' }, { channel: '' }, { channel: 7 }, { commandTimeoutMs: 0 }, { onError: 'log' }]
    for (const options of invalid) {
      expect(() => new RedisBroker(options as RedisBrokerOptions), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }),
      )
    }
  })

  it('rejects a message that breaks the HubMessage contract with ERR_HUB_BROKER_MESSAGE_INVALID', async () => {
    const broker = open()
    const bad: unknown[] = [
      null,
      { update: { id: '', topics: ['/a'], data: '', private: false }, position: { epoch: 'e', offset: '1' } },
      { ...sampleMessage(1), position: { epoch: 'e', offset: '01' } },
      { ...sampleMessage(1), position: undefined },
    ]
    for (const message of bad) {
      await expect(broker.publish(message as HubMessage)).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_MESSAGE_INVALID' })
    }
  })

  it('drops a foreign message on its channel, reporting it, and keeps delivering', async () => {
    const channel = uniquePrefix('foreign')
    const errors: HubError[] = []
    const broker = open({ channel, onError: (error) => errors.push(error) })
    const received: HubMessage[] = []
    await broker.subscribe((message) => received.push(message))
    const admin = await adminClient()
    try {
      await admin.publish(channel, 'hello')
      await admin.publish(channel, JSON.stringify({ v: 2 }))
    } finally {
      admin.destroy()
    }
    const message = sampleMessage(1)
    await broker.publish(message)
    await vi.waitFor(() => expect(received).toHaveLength(1))
    expect(received[0]).toStrictEqual(message)
    expect(errors.map((e) => e.code)).toEqual(['ERR_HUB_BROKER_MESSAGE_INVALID', 'ERR_HUB_BROKER_MESSAGE_INVALID'])
  })

  it('hands every listener of a node the same frozen message', async () => {
    const broker = open()
    const received: HubMessage[] = []
    await broker.subscribe((message) => received.push(message))
    await broker.subscribe((message) => received.push(message))
    await broker.publish(sampleMessage(1))
    await vi.waitFor(() => expect(received).toHaveLength(2))
    expect(received[0]).toBe(received[1])
    expect(Object.isFrozen(received[0])).toBe(true)
    expect(Object.isFrozen(received[0]!.update)).toBe(true)
  })

  it('rejects an onMissed that is not a function', async () => {
    const broker = open()
    await expect(broker.subscribe(() => {}, { onMissed: 'x' as unknown as () => void })).rejects.toMatchObject({
      code: 'ERR_HUB_INVALID_OPTION',
    })
  })

  it('fails publish and subscribe with ERR_HUB_BROKER_UNAVAILABLE when Redis does not answer in time', async () => {
    const errors: HubError[] = []
    // Nothing listens on port 1: every connection attempt is refused.
    const broker = open({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 200, onError: (error) => errors.push(error) })
    await expect(broker.publish(sampleMessage(1))).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_UNAVAILABLE' })
    await expect(broker.subscribe(() => {})).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_UNAVAILABLE' })
    expect(errors.length).toBeGreaterThan(0)
    expect(errors.every((e) => e.code === 'ERR_HUB_BROKER_UNAVAILABLE')).toBe(true)
  })
})

describe.runIf(hasRedis)('RedisBroker under faults', () => {
  const closing: (Broker | HistoryStore | TcpProxy)[] = []
  const prefixes: string[] = []
  const target = new URL(REDIS_URL)

  afterEach(async () => {
    for (const resource of closing.splice(0).reverse()) await resource.close()
    for (const prefix of prefixes.splice(0)) await deleteKeys(REDIS_URL, prefix)
  })

  async function proxy(): Promise<TcpProxy> {
    const started = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) })
    closing.push(started)
    return started
  }

  function history(keyPrefix: string, options: { name?: string; maxEntries?: number } = {}): RedisHistory {
    const store = new RedisHistory({
      url: REDIS_URL,
      keyPrefix,
      ...(options.maxEntries !== undefined && { maxEntries: options.maxEntries }),
      ...(options.name !== undefined && { clientOptions: { name: options.name } }),
    })
    closing.push(store)
    return store
  }

  function broker(options: RedisBrokerOptions): RedisBroker {
    const opened = new RedisBroker(options)
    closing.push(opened)
    return opened
  }

  /** Appends then publishes, as the hub does; resolves with the message once both were acknowledged, else undefined. */
  async function publishUpdate(store: HistoryStore, publisher: RedisBroker, n: number): Promise<HubMessage | undefined> {
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

  it('delivers every acknowledged update to a subscriber whose connection broke, re-reading history after the reconnect', async () => {
    const keyPrefix = uniquePrefix('resume')
    prefixes.push(keyPrefix)
    const channel = uniquePrefix('resume-channel')
    const publisherName = `herald-test-${randomUUID()}`
    const historyName = `herald-test-${randomUUID()}`
    const publisherHistory = history(keyPrefix, { name: historyName })
    const publisher = broker({ url: REDIS_URL, channel, clientOptions: { name: publisherName } })
    const subscriberProxy = await proxy()
    const subscriberBroker = broker({ url: `redis://127.0.0.1:${subscriberProxy.port}`, channel })
    const first = await publishUpdate(publisherHistory, publisher, 0)
    const subscriber = new ResumingSubscriber(history(keyPrefix), first!.position)
    await subscriber.attach(subscriberBroker)

    const acknowledged: HubMessage[] = []
    const publishMany = async (from: number, count: number): Promise<void> => {
      for (let n = from; n < from + count; n++) {
        const message = await publishUpdate(publisherHistory, publisher, n)
        if (message !== undefined) acknowledged.push(message)
      }
    }
    await publishMany(1, 100)
    // The subscriber's connection breaks and stays down while 100 updates are published: pub/sub loses them.
    subscriberProxy.down()
    await publishMany(101, 100)
    subscriberProxy.up()
    // Meanwhile the publishing node loses its own connections, from the server side, while it publishes.
    const kills = Promise.all([killConnections(`${publisherName}:publish`), killConnections(historyName)])
    await publishMany(201, 100)
    expect(await kills).toEqual([1, 1])
    await publishMany(301, 20)

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
    expect(acknowledged.length).toBeGreaterThan(300)
  })

  it('reports a gap to a subscriber that was away longer than the history reaches', async () => {
    const keyPrefix = uniquePrefix('gap')
    prefixes.push(keyPrefix)
    const channel = uniquePrefix('gap-channel')
    const store = history(keyPrefix, { maxEntries: 20 })
    const publisher = broker({ url: REDIS_URL, channel })
    const subscriberProxy = await proxy()
    const subscriberBroker = broker({ url: `redis://127.0.0.1:${subscriberProxy.port}`, channel })
    const first = await publishUpdate(store, publisher, 0)
    const subscriber = new ResumingSubscriber(history(keyPrefix, { maxEntries: 20 }), first!.position)
    await subscriber.attach(subscriberBroker)

    subscriberProxy.down()
    const acknowledged: HubMessage[] = []
    for (let n = 1; n <= 50; n++) acknowledged.push((await publishUpdate(store, publisher, n))!)
    subscriberProxy.up()
    await vi.waitFor(() => expect(subscriber.gaps).toBe(1), { timeout: 15_000, interval: 20 })
    // What history still holds (the newest 20) arrives, in order, after the gap.
    await vi.waitFor(() => expect(subscriber.seen.map((m) => m.position)).toEqual(acknowledged.slice(30).map((m) => m.position)))
  })

  it('fails a publish with ERR_HUB_BROKER_UNAVAILABLE while Redis is unreachable, and never delivers it later', async () => {
    const channel = uniquePrefix('down')
    const publisherProxy = await proxy()
    const errors: HubError[] = []
    const publisher = broker({
      url: `redis://127.0.0.1:${publisherProxy.port}`,
      channel,
      commandTimeoutMs: 200,
      onError: (error) => errors.push(error),
    })
    const listener = broker({ url: REDIS_URL, channel })
    const received: HubMessage[] = []
    await listener.subscribe((message) => received.push(message))
    await publisher.publish(sampleMessage(1))
    publisherProxy.down()
    await expect(publisher.publish(sampleMessage(2))).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_UNAVAILABLE' })
    publisherProxy.up()
    await vi.waitFor(() => publisher.publish(sampleMessage(3)), { timeout: 10_000, interval: 100 })
    await vi.waitFor(() => expect(received.at(-1)?.position.offset).toBe('3'))
    expect(received.map((m) => m.position.offset)).not.toContain('2')
    expect(errors.some((e) => e.code === 'ERR_HUB_BROKER_UNAVAILABLE')).toBe(true)
  })

  it('does not report missed messages to a subscription made after the reconnect', async () => {
    const channel = uniquePrefix('late')
    const subscriberProxy = await proxy()
    const subscriberBroker = broker({ url: `redis://127.0.0.1:${subscriberProxy.port}`, channel })
    const early: MissedMessages[] = []
    await subscriberBroker.subscribe(() => {}, { onMissed: (event) => early.push(event) })
    subscriberProxy.cut()
    await vi.waitFor(() => expect(early).toHaveLength(1), { timeout: 10_000, interval: 20 })
    expect(early[0]!.disconnectedAt).toBeGreaterThan(0)
    const late: MissedMessages[] = []
    await subscriberBroker.subscribe(() => {}, { onMissed: (event) => late.push(event) })
    expect(late).toEqual([])
  })
})
