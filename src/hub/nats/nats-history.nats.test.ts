import { jetstreamManager } from '@nats-io/jetstream'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { HubError } from '../errors.js'
import type { TcpProxy } from '../redis/testing/tcp-proxy.js'
import { compareOffsets, type StreamPosition } from '../stream-position.js'
import { historyConformance, sampleUpdate } from '../history/testing/history-suite.js'
import {
  DEFAULT_NATS_HISTORY_MAX_AGE_MS,
  DEFAULT_NATS_HISTORY_MAX_BYTES,
  DEFAULT_NATS_HISTORY_MAX_ENTRIES,
  DEFAULT_NATS_HISTORY_MAX_SCAN,
  DEFAULT_NATS_HISTORY_STREAM,
  DEFAULT_NATS_HISTORY_SUBJECT_PREFIX,
  NatsHistory,
  type NatsHistoryOptions,
} from './nats-history.js'
import { adminConnection, deleteStreams, NATS_URL, natsUrlThrough, QUICK_RECONNECT, requireNats, startNatsProxy, uniqueName } from './testing/nats-service.js'

const hasNats = await requireNats()

if (hasNats) {
  historyConformance(
    'NatsHistory',
    () => {
      const name = uniqueName('history')
      return {
        // The servers expire updates on their own clock: the suite's age tests are skipped (injectableClock: false).
        open: ({ maxEntries, maxAgeMs }) => new NatsHistory({ url: NATS_URL, stream: name, subjectPrefix: name, maxEntries, maxAgeMs }),
        destroy: () => deleteStreams([name]),
      }
    },
    { concurrentInstances: true, injectableClock: false },
  )
}

const everything = { match: () => true, limit: 100_000 }

describe.runIf(hasNats)('NatsHistory', () => {
  const opened: NatsHistory[] = []
  const streams: string[] = []

  function open(options: NatsHistoryOptions = {}): NatsHistory {
    const name = options.stream ?? uniqueName('history')
    streams.push(name)
    const history = new NatsHistory({ url: NATS_URL, stream: name, subjectPrefix: options.subjectPrefix ?? name, ...options })
    opened.push(history)
    return history
  }

  afterEach(async () => {
    for (const history of opened.splice(0)) await history.close()
    await deleteStreams(streams.splice(0))
  })

  it('documents its defaults: 100,000 entries, 24 h, 256 MiB, 1,000 entries scanned per read', () => {
    expect(DEFAULT_NATS_HISTORY_MAX_ENTRIES).toBe(100_000)
    expect(DEFAULT_NATS_HISTORY_MAX_AGE_MS).toBe(86_400_000)
    expect(DEFAULT_NATS_HISTORY_MAX_BYTES).toBe(256 * 1024 * 1024)
    expect(DEFAULT_NATS_HISTORY_MAX_SCAN).toBe(1_000)
    expect(DEFAULT_NATS_HISTORY_STREAM).toBe('HERALD_HISTORY')
    expect(DEFAULT_NATS_HISTORY_SUBJECT_PREFIX).toBe('herald.history')
  })

  it('validates its options at construction with ERR_HUB_INVALID_OPTION, without connecting', () => {
    const invalid: unknown[] = [
      null,
      'x',
      { url: '' },
      { stream: 'a.b' },
      { stream: 'a b' },
      { subjectPrefix: 'a.*' },
      { subjectPrefix: 'a..b' },
      { subjectPrefix: '' },
      { maxEntries: 0 },
      { maxAgeMs: 0 },
      { maxBytes: 0 },
      { maxScan: 0 },
      { storage: 'disk' },
      { replicas: 0 },
      { requestTimeoutMs: 0 },
      { onError: 1 },
      { connection: 'nc' },
    ]
    for (const options of invalid) {
      expect(() => new NatsHistory(options as NatsHistoryOptions), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }),
      )
    }
  })

  it('declares durable for file storage only, and is shared across nodes', () => {
    expect(new NatsHistory().capabilities).toEqual({ durable: true, sharedAcrossNodes: true })
    expect(new NatsHistory({ storage: 'memory' }).capabilities).toEqual({ durable: false, sharedAcrossNodes: true })
  })

  it('creates its stream with the limits, subjects mapped from ids and topics, and the update as JSON payload', async () => {
    const name = uniqueName('layout')
    const history = open({ stream: name, maxEntries: 500, maxAgeMs: 60_000, maxBytes: 1_000_000, storage: 'memory' })
    const position = await history.append(sampleUpdate(4, { topics: ['https://example.com/a b/ü', '/other'] }))
    expect(position.offset).toBe('1')
    const nc = await adminConnection()
    try {
      const jsm = await jetstreamManager(nc)
      const info = await jsm.streams.info(name)
      expect(info.config).toMatchObject({ subjects: [`${name}.>`], max_msgs: 500, max_age: 60_000_000_000, max_bytes: 1_000_000, storage: 'memory' })
      expect(position.epoch).toBe(info.created)
      const stored = await jsm.streams.getMessage(name, { seq: 1 })
      expect(stored!.subject).toMatch(new RegExp(`^${name}\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{22}$`))
      expect(stored!.json()).toMatchObject({ v: 1, id: sampleUpdate(4).id, topics: ['https://example.com/a b/ü', '/other'] })
    } finally {
      await nc.close()
    }
  })

  it('applies its limits to a stream that exists with others', async () => {
    const name = uniqueName('limits')
    await open({ stream: name, maxEntries: 10 }).append(sampleUpdate(1))
    const second = open({ stream: name, maxEntries: 3 })
    for (let n = 2; n <= 6; n++) await second.append(sampleUpdate(n))
    expect(await second.size()).toBe(3)
  })

  it('refuses a stream whose subjects are not its own with ERR_HUB_HISTORY_STREAM_CONFLICT', async () => {
    const name = uniqueName('conflict')
    streams.push(name)
    const nc = await adminConnection()
    try {
      const jsm = await jetstreamManager(nc)
      await jsm.streams.add({ name, subjects: [`${name}.elsewhere.>`] })
    } finally {
      await nc.close()
    }
    const history = open({ stream: name, subjectPrefix: `${name}.mine` })
    await expect(history.append(sampleUpdate(1))).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_STREAM_CONFLICT' })
    // Another stream already owns the subjects: also a conflict, and nothing is created.
    const thief = open({ stream: uniqueName('thief'), subjectPrefix: `${name}.elsewhere` })
    await expect(thief.size()).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_STREAM_CONFLICT' })
  })

  it('rejects an update larger than the server max_payload with ERR_HUB_HISTORY_UPDATE_TOO_LARGE and stores nothing', async () => {
    const history = open()
    await expect(history.append(sampleUpdate(1, { data: 'x'.repeat(2 * 1024 * 1024) }))).rejects.toMatchObject({
      code: 'ERR_HUB_HISTORY_UPDATE_TOO_LARGE',
    })
    expect(await history.size()).toBe(0)
  })

  it('reports a gap after the stream was purged, keeping its numbering and epoch', async () => {
    const name = uniqueName('purge')
    const history = open({ stream: name })
    const before = await history.append(sampleUpdate(1))
    const nc = await adminConnection()
    try {
      await (await jetstreamManager(nc)).streams.purge(name)
    } finally {
      await nc.close()
    }
    expect(await history.locate(sampleUpdate(1).id)).toBeUndefined()
    const after = await history.append(sampleUpdate(2))
    expect(after.epoch).toBe(before.epoch)
    expect(after.offset).toBe('2')
    expect((await history.readAfter({ epoch: before.epoch, offset: '0' }, everything)).gap).toBe(true)
    expect((await history.readAfter(before, everything)).gap).toBe(false)
  })

  it('starts a new epoch when the stream was deleted and created again, even by another node', async () => {
    const name = uniqueName('recreate')
    const history = open({ stream: name })
    const old = await history.append(sampleUpdate(1))
    await history.append(sampleUpdate(2))
    await deleteStreams([name])
    // Another node recreates the stream and appends first.
    const other = open({ stream: name })
    const theirs = await other.append(sampleUpdate(3))
    expect(theirs.epoch).not.toBe(old.epoch)
    const mine = await history.append(sampleUpdate(4))
    expect(mine.epoch).toBe(theirs.epoch)
    const page = await history.readAfter(old, everything)
    expect(page.gap).toBe(true)
    expect(page.messages.map((m) => m.position)).toEqual([theirs, mine])
    expect(await history.locate(sampleUpdate(1).id)).toBeUndefined()
  })

  it('skips a message another program published on its subjects, reporting it to onError', async () => {
    const name = uniqueName('foreign')
    const errors: HubError[] = []
    const history = open({ stream: name, onError: (error) => errors.push(error) })
    const a = await history.append(sampleUpdate(1))
    const nc = await adminConnection()
    try {
      const { jetstream } = await import('@nats-io/jetstream')
      await jetstream(nc).publish(`${name}.x.y`, 'not json')
    } finally {
      await nc.close()
    }
    const b = await history.append(sampleUpdate(2))
    const page = await history.readAfter('earliest', everything)
    expect(page.messages.map((m) => m.position)).toEqual([a, b])
    expect(errors.map((e) => e.code)).toEqual(['ERR_HUB_HISTORY_ENTRY_INVALID'])
  })

  it('works on a connection the application lends it, and leaves it open', async () => {
    const nc = await adminConnection()
    try {
      const history = open({ connection: nc })
      await history.append(sampleUpdate(1))
      await history.close()
      expect(nc.isClosed()).toBe(false)
    } finally {
      await nc.close()
    }
  })
})

describe.runIf(hasNats)('NatsHistory under faults', () => {
  const opened: NatsHistory[] = []
  const streams: string[] = []
  const proxies: TcpProxy[] = []

  function open(options: NatsHistoryOptions = {}): NatsHistory {
    const name = options.stream ?? uniqueName('faults')
    streams.push(name)
    const history = new NatsHistory({ url: NATS_URL, stream: name, subjectPrefix: name, ...options })
    opened.push(history)
    return history
  }

  async function proxy(): Promise<TcpProxy> {
    const started = await startNatsProxy()
    proxies.push(started)
    return started
  }

  afterEach(async () => {
    for (const history of opened.splice(0)) await history.close()
    for (const started of proxies.splice(0)) await started.close()
    await deleteStreams(streams.splice(0))
  })

  /**
   * Starts 100 appends without awaiting them and runs `fault` once the first half is acknowledged, while the rest are
   * on the wire or queued; then, once appends work again, 100 more. Returns the acknowledged ones, in call order.
   */
  async function appendThrough(history: NatsHistory, fault: () => void | Promise<void>) {
    const start = (n: number) =>
      history.append(sampleUpdate(n)).then(
        (position) => ({ n, position }),
        (error: unknown) => ({ n, error: error as HubError }),
      )
    const outcomes = Array.from({ length: 100 }, (_, i) => start(i + 1))
    await outcomes[49]
    await fault()
    await Promise.all(outcomes)
    await vi.waitFor(() => history.append(sampleUpdate(500)), { timeout: 5_000, interval: 20 })
    outcomes.push(...Array.from({ length: 100 }, (_, i) => start(i + 101)))
    const settled = await Promise.all(outcomes)
    for (const outcome of settled) if ('error' in outcome) expect(outcome.error.code).toBe('ERR_HUB_HISTORY_UNAVAILABLE')
    const acknowledged = settled.flatMap((outcome) => ('position' in outcome ? [outcome] : []))
    expect(acknowledged.length).toBeGreaterThanOrEqual(150)
    return acknowledged
  }

  /** Checks that every acknowledged append is stored where it was acknowledged, in order. */
  async function expectStored(name: string, acknowledged: { n: number; position: StreamPosition }[]): Promise<void> {
    const reader = open({ stream: name })
    const { messages } = await reader.readAfter('earliest', everything)
    const stored = new Map(messages.map((m) => [m.position.offset, m.update.id]))
    for (const { n, position } of acknowledged) expect(stored.get(position.offset)).toBe(sampleUpdate(n).id)
    for (let i = 1; i < acknowledged.length; i++) {
      expect(compareOffsets(acknowledged[i - 1]!.position.offset, acknowledged[i]!.position.offset)).toBeLessThan(0)
    }
  }

  it('never acknowledges an append it then loses when the client drops its connection mid-stream', async () => {
    const name = uniqueName('drop')
    const nc = await adminConnection(QUICK_RECONNECT)
    try {
      const history = open({ stream: name, connection: nc, requestTimeoutMs: 1_000 })
      await history.append(sampleUpdate(0))
      // nats.js closes the socket and dials again; requests in flight lose their replies.
      await expectStored(name, await appendThrough(history, () => nc.reconnect()))
    } finally {
      await nc.close()
    }
  })

  it('never acknowledges an append it then loses when the network cuts the connection mid-stream', async () => {
    const name = uniqueName('cut')
    const network = await proxy()
    const history = open({ stream: name, url: natsUrlThrough(network), requestTimeoutMs: 1_000, connectionOptions: QUICK_RECONNECT })
    await history.append(sampleUpdate(0))
    await expectStored(name, await appendThrough(history, () => network.cut()))
  })

  it('holds appends made during a short outage until the connection is back, in call order', async () => {
    const network = await proxy()
    const errors: HubError[] = []
    const history = open({ url: natsUrlThrough(network), connectionOptions: QUICK_RECONNECT, onError: (error) => errors.push(error) })
    const first = await history.append(sampleUpdate(1))
    network.down()
    await vi.waitFor(() => expect(errors.map((e) => e.code)).toEqual(['ERR_HUB_HISTORY_UNAVAILABLE']))
    const held = [history.append(sampleUpdate(2)), history.append(sampleUpdate(3))]
    network.up()
    const [second, third] = await Promise.all(held)
    expect([first, second, third].map((p) => p!.offset)).toEqual(['1', '2', '3'])
  })

  it('fails at once a read whose connection is lost before the answer', async () => {
    const network = await proxy()
    const history = open({ url: natsUrlThrough(network), connectionOptions: QUICK_RECONNECT, requestTimeoutMs: 30_000 })
    await history.append(sampleUpdate(1))
    const reading = history.size()
    network.cut()
    // Well before the 30 s request timeout.
    await expect(reading).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_UNAVAILABLE' })
  })

  it('fails an append with ERR_HUB_HISTORY_UNAVAILABLE while NATS is unreachable, and never stores it later', async () => {
    const name = uniqueName('down')
    const network = await proxy()
    const history = open({ stream: name, url: natsUrlThrough(network), requestTimeoutMs: 300, connectionOptions: QUICK_RECONNECT })
    const before = await history.append(sampleUpdate(1))
    network.down()
    await expect(history.append(sampleUpdate(2))).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_UNAVAILABLE' })
    await expect(history.readAfter(before, everything)).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_UNAVAILABLE' })
    network.up()
    // Back: nats.js discarded what it had buffered, so only the acknowledged append is there.
    const page = await vi.waitFor(() => history.readAfter('earliest', everything), { timeout: 5_000, interval: 50 })
    expect(page.messages.map((m) => m.position)).toEqual([before])
    expect((await history.append(sampleUpdate(3))).epoch).toBe(before.epoch)
  })

  it('rejects with ERR_HUB_HISTORY_UNAVAILABLE when NATS cannot be reached at all, and connects once it can', async () => {
    const history = open({ url: 'nats://127.0.0.1:1', requestTimeoutMs: 200, connectionOptions: { maxReconnectAttempts: 0 } })
    await expect(history.append(sampleUpdate(1))).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_UNAVAILABLE' })
    await expect(history.locate('urn:x')).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_UNAVAILABLE' })
  })

  it('expires updates after maxAgeMs on the servers clock and reports a gap to a reader behind them', async () => {
    const history = open({ maxAgeMs: 1_000 })
    const old = await history.append(sampleUpdate(1))
    await vi.waitFor(async () => expect(await history.size()).toBe(0), { timeout: 10_000, interval: 100 })
    const fresh = await history.append(sampleUpdate(2))
    const page = await history.readAfter({ epoch: old.epoch, offset: '0' }, everything)
    expect(page.gap).toBe(true)
    expect(page.messages.map((m) => m.position)).toEqual([fresh])
    expect((await history.readAfter(old, everything)).gap).toBe(false)
    expect(await history.locate(sampleUpdate(1).id)).toBeUndefined()
  })
})
