import { randomUUID } from 'node:crypto'
import { createClient } from 'redis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { MissedMessages } from '../broker/broker.js'
import { brokerConformance, sampleMessage } from '../broker/testing/broker-suite.js'
import type { HubError } from '../errors.js'
import { sampleUpdate } from '../history/testing/history-suite.js'
import type { HubMessage, HubUpdate } from '../update.js'
import { updateToFields } from './message-codec.js'
import { RedisBroker } from './redis-broker.js'
import { compareOffsets, type StreamPosition } from '../stream-position.js'
import { entryNoticeChannel } from './redis-connection.js'
import { RedisHistory } from './redis-history.js'
import { SCRIPTS } from './redis-history-scripts.js'
import { DEFAULT_REDIS_STREAM_BROKER_POLL_MS, RedisStreamBroker, type RedisStreamBrokerOptions } from './redis-stream-broker.js'
import { deleteKeys, REDIS_URL, requireRedis, uniquePrefix } from './testing/redis-service.js'
import { startTcpProxy, type TcpProxy } from './testing/tcp-proxy.js'

const hasRedis = await requireRedis()

if (hasRedis) {
  brokerConformance(
    'RedisStreamBroker',
    () => {
      const keyPrefix = uniquePrefix('stream-broker')
      const channel = uniquePrefix('stream-broker-channel')
      const history = new RedisHistory({ url: REDIS_URL, keyPrefix })
      return {
        open: ({ onError }) => new RedisStreamBroker({ url: REDIS_URL, keyPrefix, channel, onError }),
        // The stream broker delivers what the history holds: append first, as the hub does.
        publish: async (broker, message) => {
          const position = await history.append(message.update)
          const published = { update: message.update, position }
          await broker.publish(published)
          return published
        },
        destroy: async () => {
          await history.close()
          await deleteKeys(REDIS_URL, keyPrefix)
        },
      }
    },
    { sharedAcrossInstances: true },
  )
}

describe.runIf(hasRedis)('RedisStreamBroker', () => {
  const closing: { close(): Promise<void> }[] = []
  const prefixes: string[] = []
  const target = new URL(REDIS_URL)

  afterEach(async () => {
    for (const resource of closing.splice(0).reverse()) await resource.close()
    for (const prefix of prefixes.splice(0)) await deleteKeys(REDIS_URL, prefix)
  })

  function keyPrefix(): string {
    const prefix = uniquePrefix('stream-broker')
    prefixes.push(prefix)
    return prefix
  }

  function history(prefix: string, maxEntries?: number): RedisHistory {
    const store = new RedisHistory({ url: REDIS_URL, keyPrefix: prefix, ...(maxEntries !== undefined && { maxEntries }) })
    closing.push(store)
    return store
  }

  function broker(options: RedisStreamBrokerOptions): RedisStreamBroker {
    const opened = new RedisStreamBroker({ url: REDIS_URL, channel: null, ...options })
    closing.push(opened)
    return opened
  }

  async function proxy(): Promise<TcpProxy> {
    const started = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) })
    closing.push(started)
    return started
  }

  function recorder(): { received: HubMessage[]; missed: MissedMessages[]; listen: (b: RedisStreamBroker) => Promise<unknown> } {
    const received: HubMessage[] = []
    const missed: MissedMessages[] = []
    return {
      received,
      missed,
      listen: (b) => b.subscribe((message) => received.push(message), { onMissed: (event) => missed.push(event) }),
    }
  }

  it('documents its defaults and validates its options at construction with ERR_HUB_INVALID_OPTION', () => {
    expect(DEFAULT_REDIS_STREAM_BROKER_POLL_MS).toBe(2_000)
    const invalid: unknown[] = [null, 'x', { url: '' }, { keyPrefix: '' }, { channel: '' }, { pollMs: 0 }, { batchSize: 1.5 }, { onError: 'log' }]
    for (const options of invalid) {
      expect(() => new RedisStreamBroker(options as RedisStreamBrokerOptions), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }),
      )
    }
  })

  it('delivers in history order, whatever order the publishing nodes reach the broker in', async () => {
    const prefix = keyPrefix()
    const slowNode = history(prefix)
    const fastNode = history(prefix)
    const { received, listen } = recorder()
    await listen(broker({ keyPrefix: prefix }))
    // The slow node appends first and never publishes; the fast node appends and publishes after it.
    const slow = { update: sampleUpdate(1), position: await slowNode.append(sampleUpdate(1)) }
    const fastUpdate = sampleUpdate(2)
    const fast = { update: fastUpdate, position: await fastNode.append(fastUpdate) }
    await broker({ keyPrefix: prefix }).publish(fast)
    await vi.waitFor(() => expect(received).toHaveLength(2))
    expect(received.map((m) => m.position)).toEqual([slow.position, fast.position])
    expect(received.map((m) => m.update)).toStrictEqual([slow.update, fast.update])
    expect(Object.isFrozen(received[0])).toBe(true)
  })

  it('delivers each update from the append script\'s notice, without reading the stream for it', async () => {
    const prefix = keyPrefix()
    const store = history(prefix)
    // The store exists before the broker starts: a broker that started before it adopts its epoch with a read.
    await store.append(sampleUpdate(0))
    const { received, listen } = recorder()
    await listen(broker({ keyPrefix: prefix, pollMs: 60_000 }))
    // Every command Redis runs on this history's keys, from now on.
    const reads: string[] = []
    const monitor = createClient({ url: REDIS_URL })
    await monitor.connect()
    try {
      await monitor.monitor((line) => {
        if (line.includes(SCRIPTS.tail.sha) && line.includes(`${prefix}stream`)) reads.push(line)
      })
      const positions: StreamPosition[] = []
      for (let n = 1; n <= 20; n++) positions.push(await store.append(sampleUpdate(n)))
      await vi.waitFor(() => expect(received.map((m) => m.position)).toEqual(positions))
      expect(received.map((m) => m.update)).toStrictEqual(positions.map((_, i) => sampleUpdate(i + 1)))
      // At most the read that follows the start; none for the twenty updates.
      expect(reads.length).toBeLessThanOrEqual(1)
    } finally {
      monitor.destroy()
    }
  })

  it('reads the stream when a notice does not follow the last entry delivered, and delivers no notice twice', async () => {
    const prefix = keyPrefix()
    const store = history(prefix)
    const { received, missed, listen } = recorder()
    await listen(broker({ keyPrefix: prefix, pollMs: 60_000 }))
    const first = await store.append(sampleUpdate(1))
    await vi.waitFor(() => expect(received).toHaveLength(1))
    const admin = createClient({ url: REDIS_URL })
    await admin.connect()
    try {
      const channel = entryNoticeChannel(prefix, REDIS_URL, undefined)
      // A notice whose previous entry this broker never saw is not delivered: the stream, holding nothing new, is read.
      await admin.publish(channel, JSON.stringify({ v: 1, ...sampleUpdate(9), epoch: first.epoch, offset: '99999999999999-0', prev: '99999999999998-0' }))
      // A repeat of the notice already delivered is ignored.
      await admin.publish(channel, JSON.stringify({ v: 1, ...sampleUpdate(1), epoch: first.epoch, offset: first.offset, prev: '0-0' }))
      // An entry appended without a notice (as a node of an older Herald does), then one with a notice whose previous
      // entry is that one: the broker reads the first from the stream, then delivers both in order.
      const silentId = await appendWithoutNotice(admin, prefix, sampleUpdate(2))
      const third = await store.append(sampleUpdate(3))
      await vi.waitFor(() => expect(received.map((m) => m.position)).toEqual([first, { epoch: first.epoch, offset: silentId }, third]))
      expect(received.map((m) => m.update)).toStrictEqual([1, 2, 3].map((n) => sampleUpdate(n)))
    } finally {
      admin.destroy()
    }
    expect(missed).toEqual([])
  })

  it('delivers every entry once, in stream order, while nodes append concurrently and reads cross notices', async () => {
    const prefix = keyPrefix()
    const stores = [history(prefix), history(prefix), history(prefix)]
    const { received, missed, listen } = recorder()
    // Small batches and frequent reads, so that reads and notices overlap all the time.
    await listen(broker({ keyPrefix: prefix, batchSize: 3, pollMs: 5 }))
    const appended = await Promise.all(
      stores.map(async (store, node) => {
        const positions = []
        for (let n = 0; n < 150; n++) positions.push(await store.append(sampleUpdate(node * 1000 + n)))
        return positions
      }),
    )
    const total = appended.flat().length
    await vi.waitFor(() => expect(received).toHaveLength(total), { timeout: 10_000 })
    const offsets = received.map((m) => m.position.offset)
    expect(new Set(offsets).size).toBe(total)
    expect([...offsets].sort(compareOffsets)).toEqual(offsets)
    expect(new Set(offsets)).toEqual(new Set(appended.flat().map((p) => p.offset)))
    expect(missed).toEqual([])
  })

  it('sends its read script again when Redis lost it (SCRIPT FLUSH), missing nothing', async () => {
    const prefix = keyPrefix()
    const store = history(prefix)
    const { received, listen } = recorder()
    await listen(broker({ keyPrefix: prefix }))
    const first = await store.append(sampleUpdate(1))
    await vi.waitFor(() => expect(received).toHaveLength(1))
    const admin = createClient({ url: REDIS_URL })
    await admin.connect()
    try {
      await admin.sendCommand(['SCRIPT', 'FLUSH'])
    } finally {
      admin.destroy()
    }
    const second = await store.append(sampleUpdate(2))
    await vi.waitFor(() => expect(received.map((m) => m.position)).toEqual([first, second]))
  })

  it('starts after the newest entry when subscribed, and before the store exists takes its first entries', async () => {
    const prefix = keyPrefix()
    const store = history(prefix)
    await store.append(sampleUpdate(1))
    const existing = recorder()
    await existing.listen(broker({ keyPrefix: prefix }))
    const later = keyPrefix()
    const fresh = recorder()
    await fresh.listen(broker({ keyPrefix: later }))
    const second = await store.append(sampleUpdate(2))
    const first = await history(later).append(sampleUpdate(3))
    await vi.waitFor(() => expect(existing.received.map((m) => m.position)).toEqual([second]))
    await vi.waitFor(() => expect(fresh.received.map((m) => m.position)).toEqual([first]))
    expect([...existing.missed, ...fresh.missed]).toEqual([])
  })

  it('forwards published messages to its pub/sub channel in publish order, for nodes on RedisBroker', async () => {
    const channel = uniquePrefix('stream-broker-channel')
    const pubsub = new RedisBroker({ url: REDIS_URL, channel })
    closing.push(pubsub)
    const received: HubMessage[] = []
    await pubsub.subscribe((message) => received.push(message))
    const messages = [1, 2, 3].map((n) => sampleMessage(n))
    const forwarding = broker({ keyPrefix: keyPrefix(), channel })
    await Promise.all(messages.map((message) => forwarding.publish(message)))
    await vi.waitFor(() => expect(received).toStrictEqual(messages))
  })

  it('resolves publish without waiting for the copy, reports a copy Redis never acknowledged, and close() waits for it', async () => {
    const errors: HubError[] = []
    const unreachable = broker({
      url: 'redis://127.0.0.1:1',
      keyPrefix: keyPrefix(),
      channel: uniquePrefix('stream-broker-channel'),
      commandTimeoutMs: 200,
      onError: (error) => errors.push(error),
    })
    const message = sampleMessage(1)
    // Awaiting the PUBLISH, this would reject after commandTimeoutMs.
    await expect(unreachable.publish(message)).resolves.toBeUndefined()
    const copyErrors = (): HubError[] => errors.filter((error) => error.message.includes(`copy of update ${message.update.id}`))
    expect(copyErrors()).toEqual([])
    await unreachable.close()
    expect(copyErrors()).toMatchObject([{ code: 'ERR_HUB_BROKER_UNAVAILABLE' }])
  })

  it('resolves publish at once without a channel, and rejects a message that breaks the contract', async () => {
    const idle = broker({ url: 'redis://127.0.0.1:1', keyPrefix: keyPrefix() })
    await expect(idle.publish(sampleMessage(1))).resolves.toBeUndefined()
    await expect(idle.publish({ ...sampleMessage(2), position: { epoch: 'e', offset: '01' } })).rejects.toMatchObject({
      code: 'ERR_HUB_BROKER_MESSAGE_INVALID',
    })
  })

  it('fails subscribe with ERR_HUB_BROKER_UNAVAILABLE when Redis does not answer in time', async () => {
    const unreachable = broker({ url: 'redis://127.0.0.1:1', keyPrefix: keyPrefix(), commandTimeoutMs: 200 })
    await expect(unreachable.subscribe(() => {})).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_UNAVAILABLE' })
  })

  it('goes on from the last entry it read after its connection broke, missing nothing and calling no onMissed', async () => {
    const prefix = keyPrefix()
    const store = history(prefix)
    const cut = await proxy()
    const errors: HubError[] = []
    const { received, missed, listen } = recorder()
    await listen(broker({ url: `redis://127.0.0.1:${cut.port}`, keyPrefix: prefix, pollMs: 200, onError: (e) => errors.push(e) }))
    const positions = [await store.append(sampleUpdate(1))]
    await vi.waitFor(() => expect(received).toHaveLength(1))
    cut.down()
    for (let n = 2; n <= 20; n++) positions.push(await store.append(sampleUpdate(n)))
    await vi.waitFor(() => expect(errors.map((e) => e.code)).toContain('ERR_HUB_BROKER_UNAVAILABLE'), { timeout: 10_000 })
    cut.up()
    await vi.waitFor(() => expect(received.map((m) => m.position)).toEqual(positions), { timeout: 10_000 })
    expect(missed).toEqual([])
  })

  it('calls onMissed before the next message when entries after the last one read were evicted meanwhile', async () => {
    const prefix = keyPrefix()
    const store = history(prefix, 5)
    const cut = await proxy()
    const { received, missed, listen } = recorder()
    await listen(broker({ url: `redis://127.0.0.1:${cut.port}`, keyPrefix: prefix, pollMs: 200 }))
    await store.append(sampleUpdate(0))
    await vi.waitFor(() => expect(received).toHaveLength(1))
    cut.down()
    const positions: StreamPosition[] = []
    for (let n = 1; n <= 20; n++) positions.push(await store.append(sampleUpdate(n)))
    cut.up()
    await vi.waitFor(() => expect(received).toHaveLength(6), { timeout: 10_000 })
    expect(missed).toHaveLength(1)
    expect(received.slice(1).map((m) => m.position)).toEqual(positions.slice(-5))
  })

  it('calls onMissed when the store was recreated (a new epoch), then delivers the new epoch', async () => {
    const prefix = keyPrefix()
    const store = history(prefix)
    const { received, missed, listen } = recorder()
    await listen(broker({ keyPrefix: prefix, pollMs: 200 }))
    const old = await store.append(sampleUpdate(1))
    await vi.waitFor(() => expect(received).toHaveLength(1))
    await deleteKeys(REDIS_URL, prefix)
    const renewed = await store.append(sampleUpdate(2))
    expect(renewed.epoch).not.toBe(old.epoch)
    await vi.waitFor(() => expect(received.map((m) => m.position)).toEqual([old, renewed]), { timeout: 10_000 })
    expect(missed).toHaveLength(1)
  })
})

/** Appends `update` with the history's own script, as `RedisHistory` does, but announces it where no broker listens. */
async function appendWithoutNotice(client: ReturnType<typeof createClient>, prefix: string, update: HubUpdate): Promise<string> {
  const keys = [`${prefix}epoch`, `${prefix}meta`, `${prefix}stream`, `${prefix}ids`]
  const tag = randomUUID()
  const common = [tag, '', '100000', '', '', '500']
  // The notice goes to a channel nobody listens to; no copy.
  const reply = await client.sendCommand<[string, [string, string]]>(['EVAL', SCRIPTS.append.source, String(keys.length), ...keys, ...common, `${prefix}nobody`, '', ...updateToFields(update)])
  expect(reply[0]).toBe(tag)
  return reply[1][1]
}
