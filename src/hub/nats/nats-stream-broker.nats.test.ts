import { AckPolicy, jetstreamManager, StorageType, type JetStreamManager } from '@nats-io/jetstream'
import { describe, expect, it, vi } from 'vitest'
import { brokerConformance, sampleMessage } from '../broker/testing/broker-suite.js'
import { deliveryRecorder } from '../broker/testing/delivery-recorder.js'
import { publishAfterAppend } from '../broker/testing/publish-after-append.js'
import { streamBrokerConformance, type StreamBrokerEngine } from '../broker/testing/stream-broker-suite.js'
import type { HubError } from '../errors.js'
import { sampleUpdate } from '../history/testing/history-suite.js'
import type { StreamPosition } from '../stream-position.js'
import { closeAfterEach } from '../testing/close-after-each.js'
import { NatsBroker } from './nats-broker.js'
import { NatsHistory } from './nats-history.js'
import { DEFAULT_NATS_STREAM_BROKER_POLL_MS, NatsStreamBroker, type NatsStreamBrokerOptions } from './nats-stream-broker.js'
import { adminConnection, deleteStreams, NATS_URL, natsUrlThrough, QUICK_RECONNECT, requireNats, startNatsProxy, uniqueName } from './testing/nats-service.js'

const hasNats = await requireNats()

if (hasNats) {
  brokerConformance(
    'NatsStreamBroker',
    () => {
      const stream = uniqueName('stream_broker')
      const subject = uniqueName('stream_broker_subject')
      const history = new NatsHistory({ url: NATS_URL, stream, subjectPrefix: stream, storage: 'memory' })
      return {
        open: ({ onError }) => new NatsStreamBroker({ url: NATS_URL, stream, subjectPrefix: stream, subject, onError }),
        // The stream broker delivers what the history holds: append first, as the hub does.
        publish: publishAfterAppend(history),
        destroy: async () => {
          await history.close()
          await deleteStreams([stream])
        },
      }
    },
    { sharedAcrossInstances: true },
  )
}

const streams: string[] = []
const closing = closeAfterEach(() => deleteStreams(streams.splice(0)))

/** A stream name no other test uses, deleted after the test. */
function streamName(): string {
  const stream = uniqueName('stream_broker')
  streams.push(stream)
  return stream
}

/** Opens a history on `stream`, in memory, closed after the test. */
function history(stream: string, maxEntries?: number): NatsHistory {
  return closing(new NatsHistory({ url: NATS_URL, stream, subjectPrefix: stream, storage: 'memory', ...(maxEntries !== undefined && { maxEntries }) }))
}

/** Opens a broker on `stream`, without a copy subject unless `options` names one, closed after the test. */
function broker(stream: string, options: NatsStreamBrokerOptions = {}): NatsStreamBroker {
  return closing(new NatsStreamBroker({ url: NATS_URL, stream, subjectPrefix: stream, subject: null, ...options }))
}

/** Opens what the shared tests need on the NATS at `NATS_URL`. */
const natsStreams: StreamBrokerEngine = {
  proxy: async () => closing(await startNatsProxy()),
  storeName: streamName,
  busName: () => uniqueName('stream_broker_subject'),
  history,
  broker: (stream, { through, unreachable = false, copyTo, pollMs, onError } = {}) =>
    broker(stream, {
      ...(through !== undefined && { url: natsUrlThrough(through), connectionOptions: QUICK_RECONNECT }),
      ...(unreachable && { url: 'nats://127.0.0.1:1', requestTimeoutMs: 200, connectionOptions: { maxReconnectAttempts: 0 } }),
      ...(copyTo !== undefined && { subject: copyTo }),
      ...(pollMs !== undefined && { pollMs }),
      ...(onError !== undefined && { onError }),
    }),
  pubsubBroker: (subject) => closing(new NatsBroker({ url: NATS_URL, subject })),
  // The old NatsHistory knows the deleted stream: another node's history recreates it.
  async recreate(stream) {
    await deleteStreams([stream])
    return history(stream)
  },
  // A broker learns that its stream was created only from a round.
  pollMsBeforeStoreExists: 100,
}

if (hasNats) streamBrokerConformance('NatsStreamBroker', natsStreams)

describe.runIf(hasNats)('NatsStreamBroker', () => {
  it('documents its defaults and validates its options at construction with ERR_HUB_INVALID_OPTION', () => {
    expect(DEFAULT_NATS_STREAM_BROKER_POLL_MS).toBe(2_000)
    const invalid: unknown[] = [
      null,
      'x',
      { url: '' },
      { stream: 'a.b' },
      { subjectPrefix: 'a.*' },
      { subject: '' },
      // Inside the history's subjects: JetStream would store the forwarded messages.
      { subject: 'herald.history.broker' },
      { subjectPrefix: 'app', subject: 'app.broker' },
      { stream: 'A\u0001B' },
      { pollMs: 0 },
      { batchSize: 1.5 },
      { onError: 'log' },
      { connection: 'nc' },
    ]
    for (const options of invalid) {
      expect(() => new NatsStreamBroker(options as NatsStreamBrokerOptions), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }),
      )
    }
  })

  it("takes its replies and pushed messages on the connection's inbox prefix, as the history does", async () => {
    const stream = streamName()
    const inboxPrefix = uniqueName('inbox')
    const connectionOptions = { inboxPrefix }
    const store = closing(new NatsHistory({ url: NATS_URL, stream, subjectPrefix: stream, storage: 'memory', connectionOptions }))
    const tail = broker(stream, { connectionOptions })
    // Everything the server sends to either engine's inboxes, seen from another connection.
    const watcher = closing(await adminConnection())
    const seen: string[] = []
    watcher.subscribe(`${inboxPrefix}.>`, {
      callback: (_, message) => {
        seen.push(message.subject)
      },
    })
    await watcher.flush()
    const { received, listen } = deliveryRecorder()
    await listen(tail)
    const update = sampleUpdate(1)
    const message = { update, position: await store.append(update) }
    await tail.publish(message)
    await vi.waitFor(() => expect(received).toHaveLength(1))
    expect(received[0]?.position).toEqual(message.position)
    // The tail's consumer pushes to a subject under the prefix, and the append's acknowledgement came to one.
    const consumers = await (await manager()).consumers.list(stream).next()
    expect(consumers.map((info) => info.config.deliver_subject)).toEqual([expect.stringMatching(new RegExp(`^${inboxPrefix}\\.`))])
    await vi.waitFor(() => expect(seen).toContainEqual(expect.stringMatching(new RegExp(`^${inboxPrefix}\\.[^.]+\\.1$`))))
  })

  async function manager(): Promise<JetStreamManager> {
    return jetstreamManager(closing(await adminConnection()))
  }

  async function consumerNames(jsm: JetStreamManager, stream: string): Promise<string[]> {
    return (await jsm.consumers.list(stream).next()).map((info) => info.name)
  }

  it('reads new messages from one ephemeral push consumer, at once whatever pollMs, and deletes it on close', async () => {
    const stream = streamName()
    const store = history(stream)
    const jsm = await manager()
    await store.append(sampleUpdate(0))
    const { received, missed, listen } = deliveryRecorder()
    // A round that is not woken runs a minute later: only the consumer's messages can bring these in time.
    const tailing = broker(stream, { pollMs: 60_000 })
    await listen(tailing)
    await vi.waitFor(async () => expect(await consumerNames(jsm, stream)).toHaveLength(1))
    const [consumer] = await jsm.consumers.list(stream).next()
    expect(consumer?.config).toMatchObject({ ack_policy: 'none', mem_storage: true, flow_control: true })
    const positions: StreamPosition[] = []
    for (let n = 1; n <= 50; n++) positions.push(await store.append(sampleUpdate(n)))
    await vi.waitFor(() => expect(received.map((m) => m.position)).toEqual(positions))
    expect(missed).toEqual([])
    await tailing.close()
    await vi.waitFor(async () => expect(await consumerNames(jsm, stream)).toEqual([]))
  })

  it('delivers each message once, in order, while rounds run among the pushed messages', async () => {
    const stream = streamName()
    const store = history(stream)
    const { received, missed, listen } = deliveryRecorder()
    // A round every 100 ms: its stream state is often older than the pushed messages handled while it was on its way.
    await listen(broker(stream, { pollMs: 100 }))
    const positions: StreamPosition[] = []
    // 50 appends at a time, for about 15 rounds.
    const until = Date.now() + 1_500
    await Promise.all(
      Array.from({ length: 50 }, async (_, writer) => {
        for (let n = 0; Date.now() < until; n++) positions.push(await store.append(sampleUpdate(n * 50 + writer)))
      }),
    )
    positions.sort((a, b) => Number(a.offset) - Number(b.offset))
    await vi.waitFor(() => expect(received.length).toBeGreaterThanOrEqual(positions.length), { timeout: 10_000 })
    expect(received.length).toBe(positions.length)
    expect(received.map((m) => m.position)).toEqual(positions)
    expect(missed).toEqual([])
  })

  it('opens another consumer when its consumer is deleted under it, missing nothing meanwhile', async () => {
    const stream = streamName()
    const store = history(stream)
    const jsm = await manager()
    const { received, missed, listen } = deliveryRecorder()
    await listen(broker(stream, { pollMs: 100 }))
    const positions = [await store.append(sampleUpdate(1))]
    await vi.waitFor(() => expect(received).toHaveLength(1))
    const [first] = await consumerNames(jsm, stream)
    expect(first).toBeDefined()
    await jsm.consumers.delete(stream, first ?? '')
    for (let n = 2; n <= 10; n++) positions.push(await store.append(sampleUpdate(n)))
    await vi.waitFor(() => expect(received.map((m) => m.position)).toEqual(positions), { timeout: 5_000 })
    await vi.waitFor(async () => expect(await consumerNames(jsm, stream)).toEqual([expect.not.stringMatching(first ?? '')]), { timeout: 5_000 })
    positions.push(await store.append(sampleUpdate(11)))
    await vi.waitFor(() => expect(received.map((m) => m.position)).toEqual(positions))
    expect(missed).toEqual([])
  })

  it('reports a push consumer the server refuses, and delivers by rounds woken by the core signal meanwhile', async () => {
    const stream = streamName()
    const jsm = await manager()
    // A stream that allows one consumer, which another client holds.
    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], storage: StorageType.Memory, max_consumers: 1 })
    await jsm.consumers.add(stream, { durable_name: 'other', ack_policy: AckPolicy.Explicit })
    const store = history(stream)
    await store.append(sampleUpdate(0))
    const errors: HubError[] = []
    const { received, missed, listen } = deliveryRecorder()
    await listen(broker(stream, { pollMs: 60_000, onError: (error) => errors.push(error) }))
    await vi.waitFor(() => expect(errors).toHaveLength(1))
    expect(errors[0]).toMatchObject({ code: 'ERR_HUB_BROKER_UNAVAILABLE', message: expect.stringContaining('cannot create its push consumer') })
    const positions: StreamPosition[] = []
    for (let n = 1; n <= 5; n++) positions.push(await store.append(sampleUpdate(n)))
    await vi.waitFor(() => expect(received.map((m) => m.position)).toEqual(positions))
    expect(await consumerNames(jsm, stream)).toEqual(['other'])
    expect(errors).toHaveLength(1)
    expect(missed).toEqual([])
  })

  it('rejects subscribe and publish with ERR_HUB_BROKER_CLOSED after close, and closes again without effect', async () => {
    const tailing = broker(streamName())
    await tailing.subscribe(() => {})
    await tailing.close()
    await tailing.close()
    await expect(tailing.subscribe(() => {})).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_CLOSED' })
    await expect(tailing.publish(sampleMessage(1))).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_CLOSED' })
  })
})
