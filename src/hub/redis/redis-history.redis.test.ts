import { randomUUID } from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import { HubError } from '../errors.js'
import { historyConformance, sampleUpdate } from '../history/testing/history-suite.js'
import { compareOffsets, type StreamPosition } from '../stream-position.js'
import { closeAfterEach } from '../testing/close-after-each.js'
import type { HubMessage } from '../update.js'
import { decodeEntryNotice } from './message-codec.js'
import { RedisBroker } from './redis-broker.js'
import { entryNoticeChannel } from './redis-connection.js'
import {
  DEFAULT_REDIS_HISTORY_KEY_PREFIX,
  DEFAULT_REDIS_HISTORY_MAX_AGE_MS,
  DEFAULT_REDIS_HISTORY_MAX_BYTES,
  DEFAULT_REDIS_HISTORY_MAX_ENTRIES,
  DEFAULT_REDIS_HISTORY_MAX_SCAN,
  RedisHistory,
  type RedisHistoryOptions,
} from './redis-history.js'
import {
  adminClient,
  deleteKeys,
  killConnections,
  REDIS_URL,
  redisUrlWithDatabase,
  requireRedis,
  uniquePrefix,
} from './testing/redis-service.js'
import { startTcpProxy } from './testing/tcp-proxy.js'

const hasRedis = await requireRedis()

if (hasRedis) {
  historyConformance(
    'RedisHistory',
    () => {
      const keyPrefix = uniquePrefix('history')
      return {
        open: ({ now, maxEntries, maxAgeMs }) => new RedisHistory({ url: REDIS_URL, keyPrefix, now, maxEntries, maxAgeMs }),
        destroy: () => deleteKeys(REDIS_URL, keyPrefix),
      }
    },
    { concurrentInstances: true },
  )
}

const everything = { match: () => true, limit: 100_000 }

const prefixes: string[] = []
const closing = closeAfterEach(async () => {
  for (const prefix of prefixes.splice(0)) await deleteKeys(REDIS_URL, prefix)
})

/** Opens a history on `options.keyPrefix`, or on a new prefix for `kind`; closed, and its keys deleted, after the test. */
function openHistory(kind: string, options: RedisHistoryOptions): RedisHistory {
  const keyPrefix = options.keyPrefix ?? uniquePrefix(kind)
  prefixes.push(keyPrefix)
  return closing(new RedisHistory({ url: REDIS_URL, keyPrefix, ...options }))
}

describe.runIf(hasRedis)('RedisHistory', () => {
  const open = (options: RedisHistoryOptions = {}): RedisHistory => openHistory('history', options)

  it('documents its defaults: 100,000 entries, 24 h, 64 MiB, 1,000 entries scanned per read', () => {
    expect(DEFAULT_REDIS_HISTORY_MAX_ENTRIES).toBe(100_000)
    expect(DEFAULT_REDIS_HISTORY_MAX_AGE_MS).toBe(86_400_000)
    expect(DEFAULT_REDIS_HISTORY_MAX_BYTES).toBe(64 * 1024 * 1024)
    expect(DEFAULT_REDIS_HISTORY_MAX_SCAN).toBe(1_000)
    expect(DEFAULT_REDIS_HISTORY_KEY_PREFIX).toBe('herald:history:')
  })

  it('validates its options at construction with ERR_HUB_INVALID_OPTION, without connecting', () => {
    const invalid: unknown[] = [
      null,
      'options',
      { url: '' },
      { url: 42 },
      { keyPrefix: '' },
      { maxEntries: 0 },
      { maxEntries: null },
      { maxAgeMs: 0 },
      { maxBytes: -1 },
      { maxScan: 1.5 },
      { commandTimeoutMs: 0 },
      { durable: 'yes' },
      { now: 'later' },
      { onError: 1 },
      { clientOptions: 'x' },
      { copyChannel: '' },
      { copyChannel: 7 },
    ]
    for (const options of invalid) {
      expect(() => new RedisHistory(options as RedisHistoryOptions), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }),
      )
    }
    expect(() => new RedisHistory({ maxAgeMs: null, maxBytes: null })).not.toThrow()
  })

  it('declares durable only when told that Redis persists, and is always shared across nodes', () => {
    expect(open().capabilities).toEqual({ durable: false, sharedAcrossNodes: true })
    expect(open({ durable: true }).capabilities).toEqual({ durable: true, sharedAcrossNodes: true })
  })

  it('uses the Redis server clock by default: offsets carry the append time in milliseconds', async () => {
    const history = open()
    const before = Date.now()
    const { offset } = await history.append(sampleUpdate(1))
    const ms = Number(offset.split('-')[0])
    // The server runs on this machine; allow for clock granularity only.
    expect(ms).toBeGreaterThanOrEqual(before - 1_000)
    expect(ms).toBeLessThanOrEqual(Date.now() + 1_000)
  })

  it('keeps its four keys under the prefix and writes the epoch once', async () => {
    const keyPrefix = uniquePrefix('layout')
    const history = open({ keyPrefix })
    const position = await history.append(sampleUpdate(1))
    const admin = await adminClient()
    try {
      const keys = (await admin.keys(`${keyPrefix}*`)).sort()
      expect(keys).toEqual([`${keyPrefix}epoch`, `${keyPrefix}ids`, `${keyPrefix}meta`, `${keyPrefix}stream`])
      expect(await admin.get(`${keyPrefix}epoch`)).toBe(position.epoch)
      expect(await admin.hGet(`${keyPrefix}ids`, sampleUpdate(1).id)).toBe(position.offset)
      expect(await admin.xLen(`${keyPrefix}stream`)).toBe(1)
    } finally {
      admin.destroy()
    }
    expect((await history.append(sampleUpdate(2))).epoch).toBe(position.epoch)
  })

  it('evicts by size, counting the bytes of the stored fields, and deletes an update larger than the bound at once', async () => {
    const big = (n: number) => sampleUpdate(n, { data: 'x'.repeat(10_000) })
    const history = open({ maxBytes: 35_000, maxAgeMs: null })
    const positions = []
    for (let n = 0; n < 5; n++) positions.push(await history.append(big(n)))
    expect(await history.size()).toBe(3)
    const page = await history.readAfter(positions[0]!, everything)
    expect(page.gap).toBe(true)
    expect(page.messages.map((m) => m.position)).toEqual(positions.slice(2))
    expect((await history.readAfter(positions[1]!, everything)).gap).toBe(false)

    const huge = await history.append(sampleUpdate(9, { data: 'y'.repeat(40_000) }))
    expect(await history.size()).toBe(0)
    expect(await history.locate(sampleUpdate(9).id)).toBeUndefined()
    const after = await history.readAfter(positions[4]!, everything)
    expect(after.gap).toBe(true)
    expect(after.next).toEqual(huge)
  })

  it('announces each update it keeps on its notice channel, in stream order, with the entry before it', async () => {
    const keyPrefix = uniquePrefix('history')
    const history = open({ keyPrefix, maxBytes: 30_000, maxAgeMs: null })
    const listener = await adminClient()
    const notices: string[] = []
    await listener.subscribe(entryNoticeChannel(keyPrefix, REDIS_URL, undefined), (payload) => notices.push(payload))
    try {
      // Types, retries, private updates, and data JSON must escape: quotes, backslashes, slashes, control and non-ASCII
      // characters, a line separator.
      const updates = [1, 2, 4, 6].map((n) => sampleUpdate(n, { data: `"${n}" \\ / \n\t é 😀 \u2028 end` }))
      const positions: StreamPosition[] = []
      for (const update of updates) positions.push(await history.append(update))
      // Larger than the byte bound on its own: deleted at once, so not announced; the next one names it as before it.
      const huge = await history.append(sampleUpdate(7, { data: 'z'.repeat(40_000) }))
      const after = await history.append(sampleUpdate(8))
      await vi.waitFor(() => expect(notices).toHaveLength(5))
      const decoded = notices.map((payload) => decodeEntryNotice(payload))
      expect(decoded.map((notice) => notice.message.update)).toStrictEqual([...updates, sampleUpdate(8)])
      expect(decoded.map((notice) => notice.message.position)).toEqual([...positions, after])
      expect(decoded.map((notice) => notice.prev)).toEqual(['0-0', ...positions.map((p) => p.offset).slice(0, 3), huge.offset])
    } finally {
      listener.destroy()
    }
  })

  it('copies each update to copyChannel as a RedisBroker message, in stream order', async () => {
    const copyChannel = uniquePrefix('history-copies')
    const history = open({ copyChannel })
    const pubsub = new RedisBroker({ url: REDIS_URL, channel: copyChannel })
    const received: HubMessage[] = []
    await pubsub.subscribe((message) => received.push(message))
    try {
      const updates = [1, 2, 3, 4, 5].map((n) => sampleUpdate(n))
      // Appends started together, as a busy node makes them: numbered, and copied, in call order.
      const positions = await Promise.all(updates.map((update) => history.append(update)))
      await vi.waitFor(() => expect(received).toHaveLength(5))
      expect(received).toStrictEqual(updates.map((update, i) => ({ update, position: positions[i] })))
    } finally {
      await pubsub.close()
    }
  })

  it('clears an expiry backlog larger than one script deletes, in several bounded steps', async () => {
    let time = 1_700_000_000_000
    const history = open({ now: () => time, maxAgeMs: 1_000 })
    const positions = []
    for (let n = 0; n < 1_200; n++) positions.push(await history.append(sampleUpdate(n)))
    time += 5_000
    const fresh = await history.append(sampleUpdate(2_000))
    // The append deleted one batch; the read finishes the job before it answers.
    const page = await history.readAfter(positions[0]!, everything)
    expect(page.gap).toBe(true)
    expect(page.messages.map((m) => m.position)).toEqual([fresh])
    expect(await history.size()).toBe(1)
    expect((await history.readAfter(positions[1_199]!, everything)).gap).toBe(false)
  })

  it('orders its offsets as stream ids, across milliseconds and within one', async () => {
    let time = 1_700_000_000_000
    const history = open({ now: () => time })
    const a = await history.append(sampleUpdate(1))
    const b = await history.append(sampleUpdate(2))
    time += 1
    const c = await history.append(sampleUpdate(3))
    time -= 10 // a clock that goes back does not break the order
    const d = await history.append(sampleUpdate(4))
    expect([a, b, c, d].map((p) => p.offset)).toEqual([
      '1700000000000-0',
      '1700000000000-1',
      '1700000000001-0',
      '1700000000001-1',
    ])
    expect(compareOffsets(c.offset, d.offset)).toBeLessThan(0)
  })

  it('treats a single-number offset as that millisecond (compareOffsets semantics) and rejects three parts', async () => {
    let time = 1_700_000_000_000
    const history = open({ now: () => time })
    const first = await history.append(sampleUpdate(1))
    time += 5
    const second = await history.append(sampleUpdate(2))
    // '1700000000000' is '1700000000000-0', the first update itself.
    const page = await history.readAfter({ epoch: first.epoch, offset: '1700000000000' }, everything)
    expect(page.gap).toBe(false)
    expect(page.messages.map((m) => m.position)).toEqual([second])
    const before = await history.readAfter({ epoch: first.epoch, offset: '1699999999999' }, everything)
    expect(before.messages.map((m) => m.position)).toEqual([first, second])
    await expect(history.readAfter({ epoch: first.epoch, offset: '1-2-3' }, everything)).rejects.toMatchObject({
      code: 'ERR_HUB_HISTORY_INVALID_QUERY',
    })
    // Another epoch's offsets are not checked against this engine's form: they read as a gap.
    expect((await history.readAfter({ epoch: 'elsewhere', offset: '1-2-3' }, everything)).gap).toBe(true)
  })

  it('skips an entry another program wrote into its stream, reporting it to onError', async () => {
    const errors: HubError[] = []
    const keyPrefix = uniquePrefix('foreign')
    const history = open({ keyPrefix, onError: (error) => errors.push(error) })
    const a = await history.append(sampleUpdate(1))
    const admin = await adminClient()
    try {
      await admin.xAdd(`${keyPrefix}stream`, '*', { id: 'urn:x', something: 'else' })
    } finally {
      admin.destroy()
    }
    const b = await history.append(sampleUpdate(2))
    const page = await history.readAfter('earliest', everything)
    expect(page.messages.map((m) => m.position)).toEqual([a, b])
    expect(errors.map((e) => e.code)).toEqual(['ERR_HUB_HISTORY_ENTRY_INVALID'])
  })

  it('shares one epoch and one order between nodes that start together on an empty store', async () => {
    const keyPrefix = uniquePrefix('race')
    const nodes = [open({ keyPrefix }), open({ keyPrefix }), open({ keyPrefix })]
    const positions = await Promise.all(nodes.flatMap((node, i) => [node.append(sampleUpdate(i)), node.append(sampleUpdate(i + 10))]))
    expect(new Set(positions.map((p) => p.epoch)).size).toBe(1)
    expect(new Set(positions.map((p) => p.offset)).size).toBe(positions.length)
    const { messages } = await nodes[0]!.readAfter('earliest', everything)
    expect(messages).toHaveLength(6)
  })
})

/** The logical database the flush test empties; nothing else may use it. */
const FLUSHED_DATABASE = 9

describe.runIf(hasRedis)('RedisHistory under faults', () => {
  const open = (options: RedisHistoryOptions = {}): RedisHistory => openHistory('faults', options)

  it('never acknowledges an append it then loses when its connection is killed mid-stream', async () => {
    const name = `herald-test-${randomUUID()}`
    const errors: HubError[] = []
    const history = open({ clientOptions: { name }, onError: (error) => errors.push(error) })
    await history.append(sampleUpdate(0)) // connected
    const outcomes = Array.from({ length: 300 }, (_, n) =>
      history.append(sampleUpdate(n + 1)).then(
        (position) => ({ n: n + 1, position }),
        (error: unknown) => ({ n: n + 1, error: error as HubError }),
      ),
    )
    // Killed while the appends are on the wire: the ones in flight fail, the queued ones follow the reconnect.
    expect(await killConnections(name)).toBe(1)
    const settled = await Promise.all(outcomes)
    const acknowledged = settled.flatMap((o) => ('position' in o ? [o] : []))
    for (const outcome of settled) {
      if ('error' in outcome) expect(outcome.error.code).toBe('ERR_HUB_HISTORY_UNAVAILABLE')
    }
    expect(acknowledged.length).toBeGreaterThan(0)
    // A read sent on the dying connection fails like the appends did; the next one goes over the new connection.
    const { messages } = await vi.waitFor(() => history.readAfter('earliest', everything), { timeout: 5_000, interval: 50 })
    const stored = new Map(messages.map((m) => [m.position.offset, m.update.id]))
    for (const { n, position } of acknowledged) expect(stored.get(position.offset)).toBe(sampleUpdate(n).id)
    for (let i = 1; i < acknowledged.length; i++) {
      expect(compareOffsets(acknowledged[i - 1]!.position.offset, acknowledged[i]!.position.offset)).toBeLessThan(0)
    }
    expect(errors.some((e) => e.code === 'ERR_HUB_HISTORY_UNAVAILABLE')).toBe(true)
    // And it works again.
    const later = await history.append(sampleUpdate(1_000))
    expect(await history.locate(sampleUpdate(1_000).id)).toEqual(later)
  })

  it('fails an append with ERR_HUB_HISTORY_UNAVAILABLE while Redis stays unreachable past commandTimeoutMs, and never applies it later', async () => {
    const target = new URL(REDIS_URL)
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) })
    try {
      const keyPrefix = uniquePrefix('timeout')
      const history = open({ url: `redis://127.0.0.1:${proxy.port}`, keyPrefix, commandTimeoutMs: 200 })
      const before = await history.append(sampleUpdate(1))
      proxy.down()
      await expect(history.append(sampleUpdate(2))).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_UNAVAILABLE' })
      await expect(history.readAfter(before, everything)).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_UNAVAILABLE' })
      proxy.up()
      // Once reconnected, only what was acknowledged is there: the timed-out append left the queue unsent.
      const page = await vi.waitFor(() => history.readAfter('earliest', everything), { timeout: 10_000, interval: 100 })
      expect(page.messages.map((m) => m.position)).toEqual([before])
      expect((await history.append(sampleUpdate(3))).epoch).toBe(before.epoch)
    } finally {
      await proxy.close()
    }
  })

  it('fails a command whose reply never comes after commandTimeoutMs and a second, then works over a new connection', async () => {
    const target = new URL(REDIS_URL)
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) })
    try {
      const errors: HubError[] = []
      const history = open({ url: `redis://127.0.0.1:${proxy.port}`, commandTimeoutMs: 200, onError: (error) => errors.push(error) })
      const before = await history.append(sampleUpdate(1))
      proxy.stall()
      const startedAt = Date.now()
      await expect(history.append(sampleUpdate(2))).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_UNAVAILABLE' })
      const waited = Date.now() - startedAt
      expect(waited).toBeGreaterThanOrEqual(1_150)
      expect(errors.map((e) => e.code)).toContain('ERR_HUB_HISTORY_UNAVAILABLE')
      // The connection was replaced: the next commands are answered.
      const after = await vi.waitFor(() => history.append(sampleUpdate(3)), { timeout: 5_000, interval: 100 })
      expect(compareOffsets(before.offset, after.offset)).toBeLessThan(0)
      expect(await history.locate(sampleUpdate(3).id)).toEqual(after)
    } finally {
      await proxy.close()
    }
  })

  it('rejects with ERR_HUB_HISTORY_UNAVAILABLE when Redis cannot be reached at all', async () => {
    const errors: HubError[] = []
    const history = open({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 200, onError: (error) => errors.push(error) })
    await expect(history.append(sampleUpdate(1))).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_UNAVAILABLE' })
    await expect(history.readAfter('earliest', everything)).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_UNAVAILABLE' })
    await expect(history.locate('urn:x')).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_UNAVAILABLE' })
    expect(errors[0]?.code).toBe('ERR_HUB_HISTORY_UNAVAILABLE')
    await history.close()
    await expect(history.size()).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_CLOSED' })
  })

  it('starts a new epoch after FLUSHDB, so an old position reads as a gap and an old id is unknown', async () => {
    const url = redisUrlWithDatabase(FLUSHED_DATABASE)
    const keyPrefix = uniquePrefix('flush')
    const history = open({ url, keyPrefix })
    const positions: StreamPosition[] = []
    for (let n = 0; n < 5; n++) positions.push(await history.append(sampleUpdate(n)))
    const admin = await adminClient(url)
    try {
      await admin.flushDb()
    } finally {
      admin.destroy()
    }
    const page = await history.readAfter(positions[2]!, everything)
    expect(page).toMatchObject({ messages: [], done: true, gap: true })
    expect(page.next!.epoch).not.toBe(positions[0]!.epoch)
    expect(await history.locate(sampleUpdate(1).id)).toBeUndefined()
    const fresh = await history.append(sampleUpdate(10))
    expect(fresh.epoch).toBe(page.next!.epoch)
    // A position of the lost epoch is a gap even when its offset is below the new entries.
    const resumed = await history.readAfter(positions[4]!, everything)
    expect(resumed.gap).toBe(true)
    expect(resumed.messages.map((m) => m.position)).toEqual([fresh])
    // And another node, started after the flush, agrees on the new epoch.
    const other = open({ url, keyPrefix })
    expect((await other.readAfter('earliest', everything)).messages.map((m) => m.position)).toEqual([fresh])
  })

  it('loads its scripts again after SCRIPT FLUSH, keeping appends in call order', async () => {
    const history = open()
    const first = await history.append(sampleUpdate(1))
    const admin = await adminClient()
    try {
      await admin.scriptFlush()
    } finally {
      admin.destroy()
    }
    const positions = await Promise.all(Array.from({ length: 20 }, (_, n) => history.append(sampleUpdate(n + 2))))
    for (let i = 1; i < positions.length; i++) {
      expect(compareOffsets(positions[i - 1]!.offset, positions[i]!.offset)).toBeLessThan(0)
    }
    const { messages } = await history.readAfter(first, everything)
    expect(messages.map((m) => m.update.id)).toEqual(Array.from({ length: 20 }, (_, n) => sampleUpdate(n + 2).id))
  })

  it('starts a new epoch when one of its keys vanished on its own (eviction under maxmemory, a manual DEL)', async () => {
    const keyPrefix = uniquePrefix('partial')
    const history = open({ keyPrefix })
    const old = await history.append(sampleUpdate(1))
    const admin = await adminClient()
    try {
      await admin.del(`${keyPrefix}stream`)
    } finally {
      admin.destroy()
    }
    const page = await history.readAfter(old, everything)
    expect(page.gap).toBe(true)
    expect(page.next!.epoch).not.toBe(old.epoch)
  })
})
