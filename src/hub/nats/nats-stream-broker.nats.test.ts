import { AckPolicy, jetstreamManager, StorageType, type JetStreamManager } from '@nats-io/jetstream'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { MissedMessages } from '../broker/broker.js'
import { brokerConformance, sampleMessage } from '../broker/testing/broker-suite.js'
import type { HubError } from '../errors.js'
import { sampleUpdate } from '../history/testing/history-suite.js'
import { startTcpProxy, type TcpProxy } from '../redis/testing/tcp-proxy.js'
import type { StreamPosition } from '../stream-position.js'
import type { HubMessage } from '../update.js'
import { NatsBroker } from './nats-broker.js'
import { NatsHistory } from './nats-history.js'
import { DEFAULT_NATS_STREAM_BROKER_POLL_MS, NatsStreamBroker, type NatsStreamBrokerOptions } from './nats-stream-broker.js'
import { adminConnection, deleteStreams, NATS_URL, requireNats, uniqueName } from './testing/nats-service.js'

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
        publish: async (broker, message) => {
          const position = await history.append(message.update)
          const published = { update: message.update, position }
          await broker.publish(published)
          return published
        },
        destroy: async () => {
          await history.close()
          await deleteStreams([stream])
        },
      }
    },
    { sharedAcrossInstances: true },
  )
}

describe.runIf(hasNats)('NatsStreamBroker', () => {
  const closing: { close(): Promise<void> }[] = []
  const streams: string[] = []
  const target = new URL(NATS_URL)
  // Reconnect at once rather than after nats.js's default 2 s, to keep the tests short.
  const quickReconnect = { reconnectTimeWait: 20, reconnectJitter: 0 }

  afterEach(async () => {
    for (const resource of closing.splice(0).reverse()) await resource.close()
    await deleteStreams(streams.splice(0))
  })

  function streamName(): string {
    const stream = uniqueName('stream_broker')
    streams.push(stream)
    return stream
  }

  function history(stream: string, maxEntries?: number): NatsHistory {
    const store = new NatsHistory({ url: NATS_URL, stream, subjectPrefix: stream, storage: 'memory', ...(maxEntries !== undefined && { maxEntries }) })
    closing.push(store)
    return store
  }

  function broker(stream: string, options: NatsStreamBrokerOptions = {}): NatsStreamBroker {
    const opened = new NatsStreamBroker({ url: NATS_URL, stream, subjectPrefix: stream, subject: null, ...options })
    closing.push(opened)
    return opened
  }

  async function proxy(): Promise<TcpProxy> {
    const started = await startTcpProxy({ host: target.hostname, port: Number(target.port || 4222) })
    closing.push(started)
    return started
  }

  function recorder(): { received: HubMessage[]; missed: MissedMessages[]; listen: (b: NatsStreamBroker) => Promise<unknown> } {
    const received: HubMessage[] = []
    const missed: MissedMessages[] = []
    return {
      received,
      missed,
      listen: (b) => b.subscribe((message) => received.push(message), { onMissed: (event) => missed.push(event) }),
    }
  }

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
    const store = new NatsHistory({ url: NATS_URL, stream, subjectPrefix: stream, storage: 'memory', connectionOptions })
    closing.push(store)
    const tail = broker(stream, { connectionOptions })
    // Everything the server sends to either engine's inboxes, seen from another connection.
    const watcher = await adminConnection()
    closing.push(watcher)
    const seen: string[] = []
    watcher.subscribe(`${inboxPrefix}.>`, {
      callback: (_, message) => {
        seen.push(message.subject)
      },
    })
    await watcher.flush()
    const { received, listen } = recorder()
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

  it('delivers in history order, whatever order the publishing nodes reach the broker in', async () => {
    const stream = streamName()
    const slowNode = history(stream)
    const fastNode = history(stream)
    const { received, listen } = recorder()
    await listen(broker(stream))
    // The slow node appends first and never publishes; the fast node appends and publishes after it.
    const slow = { update: sampleUpdate(1), position: await slowNode.append(sampleUpdate(1)) }
    const fastUpdate = sampleUpdate(2)
    const fast = { update: fastUpdate, position: await fastNode.append(fastUpdate) }
    await broker(stream).publish(fast)
    await vi.waitFor(() => expect(received).toHaveLength(2))
    expect(received.map((m) => m.position)).toEqual([slow.position, fast.position])
    expect(received.map((m) => m.update)).toStrictEqual([slow.update, fast.update])
    expect(Object.isFrozen(received[0])).toBe(true)
  })

  it('starts after the last message when subscribed, and before the stream exists takes its first messages', async () => {
    const stream = streamName()
    const store = history(stream)
    await store.append(sampleUpdate(1))
    const existing = recorder()
    await existing.listen(broker(stream))
    const later = streamName()
    const fresh = recorder()
    await fresh.listen(broker(later, { pollMs: 100 }))
    const second = await store.append(sampleUpdate(2))
    const first = await history(later).append(sampleUpdate(3))
    await vi.waitFor(() => expect(existing.received.map((m) => m.position)).toEqual([second]))
    await vi.waitFor(() => expect(fresh.received.map((m) => m.position)).toEqual([first]))
    expect([...existing.missed, ...fresh.missed]).toEqual([])
  })

  it('forwards published messages to its core subject in publish order, for nodes on NatsBroker', async () => {
    const subject = uniqueName('stream_broker_subject')
    const pubsub = new NatsBroker({ url: NATS_URL, subject })
    closing.push(pubsub)
    const received: HubMessage[] = []
    await pubsub.subscribe((message) => received.push(message))
    const messages = [1, 2, 3].map((n) => sampleMessage(n))
    const forwarding = broker(streamName(), { subject })
    await Promise.all(messages.map((message) => forwarding.publish(message)))
    await vi.waitFor(() => expect(received).toStrictEqual(messages))
  })

  it('resolves publish without waiting for the copy, reports a copy that never found a connection, and close() waits for it', async () => {
    const errors: HubError[] = []
    const unreachable = broker(streamName(), {
      url: 'nats://127.0.0.1:1',
      subject: uniqueName('stream_broker_subject'),
      requestTimeoutMs: 200,
      connectionOptions: { maxReconnectAttempts: 0 },
      onError: (error) => errors.push(error),
    })
    const message = sampleMessage(1)
    // Awaiting the copy, this would reject after requestTimeoutMs.
    await expect(unreachable.publish(message)).resolves.toBeUndefined()
    const copyErrors = (): HubError[] => errors.filter((error) => error.message.includes(`copy of update ${message.update.id}`))
    expect(copyErrors()).toEqual([])
    await unreachable.close()
    expect(copyErrors()).toMatchObject([{ code: 'ERR_HUB_BROKER_UNAVAILABLE' }])
  })

  it('resolves publish at once without a subject, and rejects a message that breaks the contract', async () => {
    const idle = broker(streamName(), { url: 'nats://127.0.0.1:1' })
    await expect(idle.publish(sampleMessage(1))).resolves.toBeUndefined()
    await expect(idle.publish({ ...sampleMessage(2), position: { epoch: 'e', offset: '01' } })).rejects.toMatchObject({
      code: 'ERR_HUB_BROKER_MESSAGE_INVALID',
    })
  })

  it('fails subscribe with ERR_HUB_BROKER_UNAVAILABLE when NATS does not answer in time', async () => {
    const unreachable = broker(streamName(), { url: 'nats://127.0.0.1:1', requestTimeoutMs: 200, connectionOptions: { maxReconnectAttempts: 0 } })
    await expect(unreachable.subscribe(() => {})).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_UNAVAILABLE' })
  })

  it('goes on from the last sequence it read after its connection broke, missing nothing and calling no onMissed', async () => {
    const stream = streamName()
    const store = history(stream)
    const cut = await proxy()
    const errors: HubError[] = []
    const { received, missed, listen } = recorder()
    const tailing = broker(stream, { url: `nats://127.0.0.1:${cut.port}`, connectionOptions: quickReconnect, pollMs: 200, onError: (e) => errors.push(e) })
    await listen(tailing)
    const positions = [await store.append(sampleUpdate(1))]
    await vi.waitFor(() => expect(received).toHaveLength(1))
    cut.down()
    for (let n = 2; n <= 20; n++) positions.push(await store.append(sampleUpdate(n)))
    await vi.waitFor(() => expect(errors.map((e) => e.code)).toContain('ERR_HUB_BROKER_UNAVAILABLE'), { timeout: 10_000 })
    cut.up()
    await vi.waitFor(() => expect(received.map((m) => m.position)).toEqual(positions), { timeout: 10_000 })
    expect(missed).toEqual([])
  })

  it('calls onMissed before the next message when messages after the last one read were discarded meanwhile', async () => {
    const stream = streamName()
    const store = history(stream, 5)
    const cut = await proxy()
    const { received, missed, listen } = recorder()
    const calls: string[] = []
    const tailing = broker(stream, { url: `nats://127.0.0.1:${cut.port}`, connectionOptions: quickReconnect, pollMs: 200 })
    await listen(tailing)
    await tailing.subscribe((message) => calls.push(`message ${message.position.offset}`), { onMissed: () => calls.push('missed') })
    await store.append(sampleUpdate(0))
    await vi.waitFor(() => expect(received).toHaveLength(1))
    cut.down()
    const positions = []
    for (let n = 1; n <= 20; n++) positions.push(await store.append(sampleUpdate(n)))
    cut.up()
    await vi.waitFor(() => expect(received).toHaveLength(6), { timeout: 10_000 })
    expect(missed).toHaveLength(1)
    expect(missed[0]).toMatchObject({ reason: 'reconnect' })
    expect(received.slice(1).map((m) => m.position)).toEqual(positions.slice(-5))
    expect(calls).toEqual(['message 1', 'missed', ...positions.slice(-5).map((p) => `message ${p.offset}`)])
  })

  it('calls onMissed when the stream was recreated (a new epoch), then delivers the new epoch', async () => {
    const stream = streamName()
    const store = history(stream)
    const { received, missed, listen } = recorder()
    await listen(broker(stream, { pollMs: 100 }))
    const old = await store.append(sampleUpdate(1))
    await vi.waitFor(() => expect(received).toHaveLength(1))
    await deleteStreams([stream])
    // Another node recreates the stream and stores an update in it.
    const renewed = await history(stream).append(sampleUpdate(2))
    expect(renewed.epoch).not.toBe(old.epoch)
    await vi.waitFor(() => expect(received.map((m) => m.position)).toEqual([old, renewed]), { timeout: 10_000 })
    expect(missed).toHaveLength(1)
  })

  async function manager(): Promise<JetStreamManager> {
    const nc = await adminConnection()
    closing.push(nc)
    return jetstreamManager(nc)
  }

  async function consumerNames(jsm: JetStreamManager, stream: string): Promise<string[]> {
    return (await jsm.consumers.list(stream).next()).map((info) => info.name)
  }

  it('reads new messages from one ephemeral push consumer, at once whatever pollMs, and deletes it on close', async () => {
    const stream = streamName()
    const store = history(stream)
    const jsm = await manager()
    await store.append(sampleUpdate(0))
    const { received, missed, listen } = recorder()
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
    const { received, missed, listen } = recorder()
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
    const { received, missed, listen } = recorder()
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
    const { received, missed, listen } = recorder()
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
