import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { brokerConformance, sampleMessage } from '../broker/testing/broker-suite.js'
import { pubsubBrokerConformance, type PubsubBrokerEngine } from '../broker/testing/pubsub-broker-suite.js'
import { closeAfterEach } from '../testing/close-after-each.js'
import type { HubMessage } from '../update.js'
import { DEFAULT_REDIS_BROKER_CHANNEL, RedisBroker, type RedisBrokerOptions } from './redis-broker.js'
import { RedisHistory } from './redis-history.js'
import { adminClient, deleteKeys, killConnections, REDIS_URL, redisUrlThrough, requireRedis, startRedisProxy, uniquePrefix } from './testing/redis-service.js'

const hasRedis = await requireRedis()
const prefixes: string[] = []
const closing = closeAfterEach(async () => {
  for (const prefix of prefixes.splice(0)) await deleteKeys(REDIS_URL, prefix)
})

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
  function open(options: RedisBrokerOptions = {}): RedisBroker {
    return broker({ url: REDIS_URL, channel: uniquePrefix('broker'), ...options })
  }

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

  it('rejects an onMissed that is not a function', async () => {
    const broker = open()
    await expect(broker.subscribe(() => {}, { onMissed: 'x' as unknown as () => void })).rejects.toMatchObject({
      code: 'ERR_HUB_INVALID_OPTION',
    })
  })
})

/** Opens a history on `keyPrefix`, closed after the test. */
function history(keyPrefix: string, options: { name?: string; maxEntries?: number } = {}): RedisHistory {
  return closing(
    new RedisHistory({
      url: REDIS_URL,
      keyPrefix,
      ...(options.maxEntries !== undefined && { maxEntries: options.maxEntries }),
      ...(options.name !== undefined && { clientOptions: { name: options.name } }),
    }),
  )
}

/** Opens a broker, closed after the test. */
function broker(options: RedisBrokerOptions): RedisBroker {
  return closing(new RedisBroker(options))
}

/** Opens what the tests need on the Redis at `REDIS_URL`, closing it and deleting its keys after each test. */
const redisPubsub: PubsubBrokerEngine = {
  proxy: async () => closing(await startRedisProxy()),
  busName: (kind) => uniquePrefix(`${kind}-channel`),
  storeName(kind) {
    const keyPrefix = uniquePrefix(kind)
    prefixes.push(keyPrefix)
    return keyPrefix
  },
  history: (keyPrefix, maxEntries) => history(keyPrefix, maxEntries === undefined ? {} : { maxEntries }),
  broker: (channel, { through, failFast = false, unreachable = false, onError } = {}) =>
    broker({
      url: through === undefined ? REDIS_URL : redisUrlThrough(through),
      channel,
      ...(failFast && { commandTimeoutMs: 200 }),
      // Nothing listens on port 1: every connection attempt is refused.
      ...(unreachable && { url: 'redis://127.0.0.1:1', commandTimeoutMs: 200 }),
      ...(onError !== undefined && { onError }),
    }),
  async sendForeign(channel, payloads) {
    const admin = await adminClient()
    try {
      for (const payload of payloads) await admin.publish(channel, payload)
    } finally {
      admin.destroy()
    }
  },
  publishingNode(keyPrefix, channel) {
    const publisherName = `herald-test-${randomUUID()}`
    const historyName = `herald-test-${randomUUID()}`
    return Promise.resolve({
      history: history(keyPrefix, { name: historyName }),
      broker: broker({ url: REDIS_URL, channel, clientOptions: { name: publisherName } }),
      // The node loses its broker and history connections, from the server side, while it publishes.
      async breakWhilePublishing({ publishMany, acknowledged }) {
        const kills = Promise.all([killConnections(`${publisherName}:publish`), killConnections(historyName)])
        await publishMany(201, 100)
        expect(await kills).toEqual([1, 1])
        await publishMany(301, 20)
        expect(acknowledged.length).toBeGreaterThan(300)
      },
    })
  },
  reportsConnectFailures: true,
  reconnectWithinMs: 10_000,
  buffersUnnoticedPublishes: false,
}

if (hasRedis) pubsubBrokerConformance('RedisBroker', redisPubsub)
