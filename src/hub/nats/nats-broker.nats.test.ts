import { describe, expect, it, vi } from 'vitest'
import { brokerConformance, sampleMessage } from '../broker/testing/broker-suite.js'
import { pubsubBrokerConformance, type PubsubBrokerEngine } from '../broker/testing/pubsub-broker-suite.js'
import type { HubError } from '../errors.js'
import { closeAfterEach } from '../testing/close-after-each.js'
import type { HubMessage } from '../update.js'
import { DEFAULT_NATS_BROKER_SUBJECT, NatsBroker, type NatsBrokerOptions } from './nats-broker.js'
import { NatsHistory } from './nats-history.js'
import { adminConnection, deleteStreams, NATS_URL, natsUrlThrough, QUICK_RECONNECT, requireNats, startNatsProxy, uniqueName } from './testing/nats-service.js'

const hasNats = await requireNats()
const streams: string[] = []
const closing = closeAfterEach(() => deleteStreams(streams.splice(0)))

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
  function open(options: NatsBrokerOptions = {}): NatsBroker {
    return closing(new NatsBroker({ url: NATS_URL, subject: uniqueName('broker'), ...options }))
  }

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

/** Opens what the tests need on the NATS at `NATS_URL`, closing it and deleting its streams after each test. */
const natsPubsub: PubsubBrokerEngine = {
  proxy: async () => closing(await startNatsProxy()),
  busName: (kind) => uniqueName(`${kind}_subject`),
  storeName(kind) {
    const stream = uniqueName(kind)
    streams.push(stream)
    return stream
  },
  history: (stream, maxEntries) =>
    closing(new NatsHistory({ url: NATS_URL, stream, subjectPrefix: stream, ...(maxEntries !== undefined && { maxEntries }) })),
  broker: (subject, { through, failFast = false, unreachable = false, onError } = {}) =>
    closing(
      new NatsBroker({
        url: through === undefined ? NATS_URL : natsUrlThrough(through),
        subject,
        ...(through !== undefined && { connectionOptions: QUICK_RECONNECT }),
        ...(failFast && { requestTimeoutMs: 300 }),
        ...(unreachable && { url: 'nats://127.0.0.1:1', requestTimeoutMs: 200, connectionOptions: { maxReconnectAttempts: 0 } }),
        ...(onError !== undefined && { onError }),
      }),
    ),
  async sendForeign(subject, payloads) {
    const nc = await adminConnection()
    try {
      for (const payload of payloads) nc.publish(subject, payload)
      await nc.flush()
    } finally {
      await nc.close()
    }
  },
  async publishingNode(stream, subject) {
    const network = await natsPubsub.proxy()
    return {
      history: natsPubsub.history(stream),
      broker: natsPubsub.broker(subject, { through: network }),
      // The broker connection is cut while the node publishes; its history connection stays up.
      async breakWhilePublishing({ publish, publishMany, acknowledged }) {
        const publishing = publishMany(201, 100)
        await vi.waitFor(() => expect(acknowledged.length).toBeGreaterThanOrEqual(220))
        network.cut()
        await publishing
        await vi.waitFor(() => publish(400).then((message) => expect(message).toBeDefined()), { timeout: 5_000, interval: 20 })
        await publishMany(401, 20)
      },
    }
  },
  reportsConnectFailures: false,
  reconnectWithinMs: 5_000,
  buffersUnnoticedPublishes: true,
}

if (hasNats) pubsubBrokerConformance('NatsBroker', natsPubsub)

describe.runIf(hasNats)('NatsBroker under faults', () => {
  it('holds a publish made during a short outage until the connection is back, then delivers it in order', async () => {
    const subject = natsPubsub.busName('blip')
    const network = await natsPubsub.proxy()
    const errors: HubError[] = []
    const publisher = natsPubsub.broker(subject, { through: network, onError: (error) => errors.push(error) })
    const listener = natsPubsub.broker(subject)
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
})
