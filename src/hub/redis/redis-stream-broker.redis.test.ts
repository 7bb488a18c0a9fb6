import { randomUUID } from 'node:crypto'
import { createClient } from 'redis'
import { describe, expect, it, vi } from 'vitest'
import { brokerConformance } from '../broker/testing/broker-suite.js'
import { deliveryRecorder } from '../broker/testing/delivery-recorder.js'
import { publishAfterAppend } from '../broker/testing/publish-after-append.js'
import { streamBrokerConformance, type StreamBrokerEngine } from '../broker/testing/stream-broker-suite.js'
import { sampleUpdate } from '../history/testing/history-suite.js'
import type { HubUpdate } from '../update.js'
import { updateToFields } from './message-codec.js'
import { RedisBroker } from './redis-broker.js'
import { compareOffsets, type StreamPosition } from '../stream-position.js'
import { closeAfterEach } from '../testing/close-after-each.js'
import { entryNoticeChannel } from './redis-connection.js'
import { RedisHistory } from './redis-history.js'
import { SCRIPTS } from './redis-history-scripts.js'
import { DEFAULT_REDIS_STREAM_BROKER_POLL_MS, RedisStreamBroker, type RedisStreamBrokerOptions } from './redis-stream-broker.js'
import { deleteKeys, REDIS_URL, redisUrlThrough, requireRedis, startRedisProxy, uniquePrefix } from './testing/redis-service.js'

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
        publish: publishAfterAppend(history),
        destroy: async () => {
          await history.close()
          await deleteKeys(REDIS_URL, keyPrefix)
        },
      }
    },
    { sharedAcrossInstances: true },
  )
}

const prefixes: string[] = []
const closing = closeAfterEach(async () => {
  for (const prefix of prefixes.splice(0)) await deleteKeys(REDIS_URL, prefix)
})

/** A key prefix no other test uses, whose keys are deleted after the test. */
function keyPrefix(): string {
  const prefix = uniquePrefix('stream-broker')
  prefixes.push(prefix)
  return prefix
}

/** Opens a history on `prefix`, closed after the test. */
function history(prefix: string, maxEntries?: number): RedisHistory {
  return closing(new RedisHistory({ url: REDIS_URL, keyPrefix: prefix, ...(maxEntries !== undefined && { maxEntries }) }))
}

/** Opens a broker, without a copy channel unless `options` names one, closed after the test. */
function broker(options: RedisStreamBrokerOptions): RedisStreamBroker {
  return closing(new RedisStreamBroker({ url: REDIS_URL, channel: null, ...options }))
}

/** Opens what the shared tests need on the Redis at `REDIS_URL`. */
const redisStreams: StreamBrokerEngine = {
  proxy: async () => closing(await startRedisProxy()),
  storeName: keyPrefix,
  busName: () => uniquePrefix('stream-broker-channel'),
  history,
  broker: (prefix, { through, unreachable = false, copyTo, pollMs, onError } = {}) =>
    broker({
      keyPrefix: prefix,
      ...(through !== undefined && { url: redisUrlThrough(through) }),
      ...(unreachable && { url: 'redis://127.0.0.1:1', commandTimeoutMs: 200 }),
      ...(copyTo !== undefined && { channel: copyTo }),
      ...(pollMs !== undefined && { pollMs }),
      ...(onError !== undefined && { onError }),
    }),
  pubsubBroker: (channel) => closing(new RedisBroker({ url: REDIS_URL, channel })),
  // The history's next append creates the keys again, with a new epoch.
  async recreate(prefix, store) {
    await deleteKeys(REDIS_URL, prefix)
    return store
  },
}

if (hasRedis) streamBrokerConformance('RedisStreamBroker', redisStreams)

describe.runIf(hasRedis)('RedisStreamBroker', () => {
  it('documents its defaults and validates its options at construction with ERR_HUB_INVALID_OPTION', () => {
    expect(DEFAULT_REDIS_STREAM_BROKER_POLL_MS).toBe(2_000)
    const invalid: unknown[] = [null, 'x', { url: '' }, { keyPrefix: '' }, { channel: '' }, { pollMs: 0 }, { batchSize: 1.5 }, { onError: 'log' }]
    for (const options of invalid) {
      expect(() => new RedisStreamBroker(options as RedisStreamBrokerOptions), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }),
      )
    }
  })

  it('delivers each update from the append script\'s notice, without reading the stream for it', async () => {
    const prefix = keyPrefix()
    const store = history(prefix)
    // The store exists before the broker starts: a broker that started before it adopts its epoch with a read.
    await store.append(sampleUpdate(0))
    const { received, listen } = deliveryRecorder()
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
    const { received, missed, listen } = deliveryRecorder()
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
    const { received, missed, listen } = deliveryRecorder()
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
    const { received, listen } = deliveryRecorder()
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
