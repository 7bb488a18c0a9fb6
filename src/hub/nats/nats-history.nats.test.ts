import { jetstreamManager } from '@nats-io/jetstream'
import { afterEach, describe, expect, it } from 'vitest'
import type { HubError } from '../errors.js'
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
import { adminConnection, deleteStreams, NATS_URL, requireNats, uniqueName } from './testing/nats-service.js'

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
