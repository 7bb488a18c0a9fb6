import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Broker, MissedMessages } from '../broker/broker.js'
import { brokerConformance, sampleMessage } from '../broker/testing/broker-suite.js'
import type { HubError } from '../errors.js'
import type { HistoryStore } from '../history/history-store.js'
import { sampleUpdate } from '../history/testing/history-suite.js'
import { ResumingSubscriber } from '../redis/testing/resuming-subscriber.js'
import { startTcpProxy, type TcpProxy } from '../redis/testing/tcp-proxy.js'
import { compareOffsets } from '../stream-position.js'
import type { HubMessage } from '../update.js'
import { DEFAULT_NATS_BROKER_SUBJECT, NatsBroker, type NatsBrokerOptions } from './nats-broker.js'
import { NatsHistory } from './nats-history.js'
import { adminConnection, deleteStreams, NATS_URL, requireNats, uniqueName } from './testing/nats-service.js'

const hasNats = await requireNats()

if (hasNats) {
  brokerConformance(
    'NatsBroker',
    () => {
      const subject = uniqueName('broker')
      return { open: ({ onError }) => new NatsBroker({ url: NATS_URL, subject, onError }) }
    },
    { sharedAcrossInstances: true },
  )
}

describe.runIf(hasNats)('NatsBroker', () => {
  const opened: NatsBroker[] = []

  function open(options: NatsBrokerOptions = {}): NatsBroker {
    const broker = new NatsBroker({ url: NATS_URL, subject: uniqueName('broker'), ...options })
    opened.push(broker)
    return broker
  }

  afterEach(async () => {
    for (const broker of opened.splice(0)) await broker.close()
  })

  it('documents its default subject', () => {
    expect(DEFAULT_NATS_BROKER_SUBJECT).toBe('herald.broker')
  })

  it('validates its options at construction with ERR_HUB_INVALID_OPTION, without connecting', () => {
    const invalid: unknown[] = [null, 'x', { url: '' }, { subject: 'a.>' }, { subject: '' }, { requestTimeoutMs: 0 }, { onError: 'log' }, { connection: 1 }]
    for (const options of invalid) {
      expect(() => new NatsBroker(options as NatsBrokerOptions), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }),
      )
    }
  })

  it('rejects a message that breaks the HubMessage contract with ERR_HUB_BROKER_MESSAGE_INVALID', async () => {
    const broker = open()
    const bad: unknown[] = [null, { ...sampleMessage(1), position: { epoch: '', offset: '1' } }, { ...sampleMessage(1), update: { id: 'x' } }]
    for (const message of bad) {
      await expect(broker.publish(message as HubMessage)).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_MESSAGE_INVALID' })
    }
  })

  it('rejects a message larger than the server max_payload with ERR_HUB_BROKER_MESSAGE_TOO_LARGE', async () => {
    const broker = open()
    await broker.publish(sampleMessage(1))
    await expect(broker.publish(sampleMessage(2, { data: 'x'.repeat(2 * 1024 * 1024) }))).rejects.toMatchObject({
      code: 'ERR_HUB_BROKER_MESSAGE_TOO_LARGE',
    })
  })

  it('drops a foreign message on its subject, reporting it, and keeps delivering', async () => {
    const subject = uniqueName('foreign')
    const errors: HubError[] = []
    const broker = open({ subject, onError: (error) => errors.push(error) })
    const received: HubMessage[] = []
    await broker.subscribe((message) => received.push(message))
    const nc = await adminConnection()
    try {
      nc.publish(subject, 'hello')
      nc.publish(subject, JSON.stringify({ v: 2 }))
      await nc.flush()
    } finally {
      await nc.close()
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
    expect(Object.isFrozen(received[0]!.update)).toBe(true)
  })

  it('fails publish and subscribe with ERR_HUB_BROKER_UNAVAILABLE when NATS cannot be reached', async () => {
    const broker = open({ url: 'nats://127.0.0.1:1', requestTimeoutMs: 200, connectionOptions: { maxReconnectAttempts: 0 } })
    await expect(broker.publish(sampleMessage(1))).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_UNAVAILABLE' })
    await expect(broker.subscribe(() => {})).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_UNAVAILABLE' })
  })

  it('works on a connection the application lends it, and leaves it open', async () => {
    const nc = await adminConnection()
    try {
      const subject = uniqueName('lent')
      const broker = new NatsBroker({ connection: nc, subject })
      const received: HubMessage[] = []
      await broker.subscribe((message) => received.push(message))
      await broker.publish(sampleMessage(1))
      await vi.waitFor(() => expect(received).toHaveLength(1))
      await broker.close()
      expect(nc.isClosed()).toBe(false)
    } finally {
      await nc.close()
    }
  })
})

describe.runIf(hasNats)('NatsBroker under faults', () => {
  const closing: (Broker | HistoryStore | TcpProxy)[] = []
  const streams: string[] = []
  const target = new URL(NATS_URL)
  // Reconnect at once rather than after nats.js's default 2 s, to keep the tests short.
  const quickReconnect = { reconnectTimeWait: 20, reconnectJitter: 0 }

  afterEach(async () => {
    for (const resource of closing.splice(0).reverse()) await resource.close()
    await deleteStreams(streams.splice(0))
  })

  async function proxy(): Promise<TcpProxy> {
    const started = await startTcpProxy({ host: target.hostname, port: Number(target.port || 4222) })
    closing.push(started)
    return started
  }

  function history(stream: string, maxEntries?: number): NatsHistory {
    const store = new NatsHistory({ url: NATS_URL, stream, subjectPrefix: stream, ...(maxEntries !== undefined && { maxEntries }) })
    closing.push(store)
    return store
  }

  function broker(options: NatsBrokerOptions): NatsBroker {
    const opened = new NatsBroker(options)
    closing.push(opened)
    return opened
  }

  /** Appends then publishes, as the hub does; resolves with the message once both were acknowledged, else undefined. */
  async function publishUpdate(store: HistoryStore, publisher: NatsBroker, n: number): Promise<HubMessage | undefined> {
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
    const stream = uniqueName('resume')
    streams.push(stream)
    const subject = uniqueName('resume_subject')
    const publisherNetwork = await proxy()
    const publisherHistory = history(stream)
    const publisher = broker({ url: `nats://127.0.0.1:${publisherNetwork.port}`, subject, connectionOptions: quickReconnect })
    const subscriberNetwork = await proxy()
    const subscriberBroker = broker({ url: `nats://127.0.0.1:${subscriberNetwork.port}`, subject, connectionOptions: quickReconnect })
    const first = await publishUpdate(publisherHistory, publisher, 0)
    const subscriber = new ResumingSubscriber(history(stream), first!.position)
    await subscriber.attach(subscriberBroker)

    const acknowledged: HubMessage[] = []
    const publishMany = async (from: number, count: number): Promise<void> => {
      for (let n = from; n < from + count; n++) {
        const message = await publishUpdate(publisherHistory, publisher, n)
        if (message !== undefined) acknowledged.push(message)
      }
    }
    await publishMany(1, 100)
    // The subscriber's connection breaks and stays down while 100 updates are published: core NATS loses them.
    subscriberNetwork.down()
    await publishMany(101, 100)
    subscriberNetwork.up()
    // Meanwhile the publishing node's broker connection is cut while it publishes.
    const publishing = publishMany(201, 100)
    await vi.waitFor(() => expect(acknowledged.length).toBeGreaterThanOrEqual(220))
    publisherNetwork.cut()
    await publishing
    await vi.waitFor(() => publishUpdate(publisherHistory, publisher, 400).then((message) => expect(message).toBeDefined()), {
      timeout: 5_000,
      interval: 20,
    })
    await publishMany(401, 20)

    await vi.waitFor(() => expect(subscriber.seen.at(-1)?.position).toEqual(acknowledged.at(-1)!.position), { timeout: 15_000, interval: 20 })
    const seen = new Map(subscriber.seen.map((m) => [m.position.offset, m.update.id]))
    for (const message of acknowledged) expect(seen.get(message.position.offset)).toBe(message.update.id)
    for (let i = 1; i < subscriber.seen.length; i++) {
      expect(compareOffsets(subscriber.seen[i - 1]!.position.offset, subscriber.seen[i]!.position.offset)).toBeLessThan(0)
    }
    expect(subscriber.missedEvents.length).toBeGreaterThanOrEqual(1)
    expect(subscriber.recovered).toBeGreaterThanOrEqual(100)
    expect(subscriber.gaps).toBe(0)
  })

  it('reports a gap to a subscriber that was away longer than the history reaches', async () => {
    const stream = uniqueName('gap')
    streams.push(stream)
    const subject = uniqueName('gap_subject')
    const store = history(stream, 20)
    const publisher = broker({ url: NATS_URL, subject })
    const subscriberNetwork = await proxy()
    const subscriberBroker = broker({ url: `nats://127.0.0.1:${subscriberNetwork.port}`, subject, connectionOptions: quickReconnect })
    const first = await publishUpdate(store, publisher, 0)
    const subscriber = new ResumingSubscriber(history(stream, 20), first!.position)
    await subscriber.attach(subscriberBroker)

    subscriberNetwork.down()
    const acknowledged: HubMessage[] = []
    for (let n = 1; n <= 50; n++) acknowledged.push((await publishUpdate(store, publisher, n))!)
    subscriberNetwork.up()
    await vi.waitFor(() => expect(subscriber.gaps).toBe(1), { timeout: 15_000, interval: 20 })
    await vi.waitFor(() => expect(subscriber.seen.map((m) => m.position)).toEqual(acknowledged.slice(30).map((m) => m.position)))
  })

  it('holds a publish made during a short outage until the connection is back, then delivers it in order', async () => {
    const subject = uniqueName('blip')
    const network = await proxy()
    const errors: HubError[] = []
    const publisher = broker({
      url: `nats://127.0.0.1:${network.port}`,
      subject,
      connectionOptions: quickReconnect,
      onError: (error) => errors.push(error),
    })
    const listener = broker({ url: NATS_URL, subject })
    const received: HubMessage[] = []
    await listener.subscribe((message) => received.push(message))
    await publisher.publish(sampleMessage(1))
    network.down()
    await vi.waitFor(() => expect(errors.map((e) => e.code)).toEqual(['ERR_HUB_BROKER_UNAVAILABLE']))
    // Made while nats.js reconnects: they wait for it, in call order, and are acknowledged afterwards.
    const held = [publisher.publish(sampleMessage(2)), publisher.publish(sampleMessage(3))]
    network.up()
    await Promise.all(held)
    await vi.waitFor(() => expect(received.map((m) => m.position.offset)).toEqual(['1', '2', '3']))
  })

  it('fails a publish with ERR_HUB_BROKER_UNAVAILABLE while NATS stays unreachable, and never delivers it later', async () => {
    const subject = uniqueName('down')
    const network = await proxy()
    const errors: HubError[] = []
    const publisher = broker({
      url: `nats://127.0.0.1:${network.port}`,
      subject,
      requestTimeoutMs: 300,
      connectionOptions: quickReconnect,
      onError: (error) => errors.push(error),
    })
    const listener = broker({ url: NATS_URL, subject })
    const received: HubMessage[] = []
    await listener.subscribe((message) => received.push(message))
    await publisher.publish(sampleMessage(1))
    network.down()
    await vi.waitFor(() => expect(errors.map((e) => e.code)).toContain('ERR_HUB_BROKER_UNAVAILABLE'))
    await expect(publisher.publish(sampleMessage(2))).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_UNAVAILABLE' })
    network.up()
    await vi.waitFor(() => publisher.publish(sampleMessage(3)), { timeout: 5_000, interval: 20 })
    await vi.waitFor(() => expect(received.at(-1)?.position.offset).toBe('3'))
    expect(received.map((m) => m.position.offset)).toEqual(['1', '3'])
  })

  it('does not report missed messages to a subscription made after the reconnect', async () => {
    const subject = uniqueName('late')
    const network = await proxy()
    const subscriberBroker = broker({ url: `nats://127.0.0.1:${network.port}`, subject, connectionOptions: quickReconnect })
    const early: MissedMessages[] = []
    await subscriberBroker.subscribe(() => {}, { onMissed: (event) => early.push(event) })
    network.cut()
    await vi.waitFor(() => expect(early).toHaveLength(1), { timeout: 10_000, interval: 20 })
    expect(early[0]).toMatchObject({ reason: 'reconnect' })
    const late: MissedMessages[] = []
    await subscriberBroker.subscribe(() => {}, { onMissed: (event) => late.push(event) })
    expect(late).toEqual([])
  })
})
