import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { HubError } from '../errors.js'
import type { StreamPosition } from '../stream-position.js'
import type { HubUpdate } from '../update.js'
import type { ReadResult } from './history-store.js'
import {
  DEFAULT_MEMORY_HISTORY_MAX_AGE_MS,
  DEFAULT_MEMORY_HISTORY_MAX_BYTES,
  DEFAULT_MEMORY_HISTORY_MAX_ENTRIES,
  DEFAULT_MEMORY_HISTORY_MAX_SCAN,
  MemoryHistory,
} from './memory-history.js'
import { historyConformance, sampleUpdate } from './testing/history-suite.js'

historyConformance('MemoryHistory', () => ({
  open: ({ now, maxEntries, maxAgeMs }) => new MemoryHistory({ now, maxEntries, maxAgeMs }),
}))

const everything = { match: () => true, limit: 100_000 }

describe('MemoryHistory', () => {
  it('documents its defaults: 10,000 entries, 24 h, 64 MiB, 10,000 entries scanned per read', async () => {
    expect(DEFAULT_MEMORY_HISTORY_MAX_ENTRIES).toBe(10_000)
    expect(DEFAULT_MEMORY_HISTORY_MAX_AGE_MS).toBe(86_400_000)
    expect(DEFAULT_MEMORY_HISTORY_MAX_BYTES).toBe(64 * 1024 * 1024)
    expect(DEFAULT_MEMORY_HISTORY_MAX_SCAN).toBe(10_000)
    const history = new MemoryHistory()
    for (let n = 0; n < DEFAULT_MEMORY_HISTORY_MAX_ENTRIES + 5; n++) await history.append(sampleUpdate(n))
    expect(await history.size()).toBe(DEFAULT_MEMORY_HISTORY_MAX_ENTRIES)
    const page = await history.readAfter('earliest', everything)
    expect(page.messages).toHaveLength(DEFAULT_MEMORY_HISTORY_MAX_SCAN)
    expect(page.messages[0]!.update.id).toBe(sampleUpdate(5).id)
    await history.close()
  })

  it('validates its options at construction with ERR_HUB_INVALID_OPTION', () => {
    const invalid: unknown[] = [
      null,
      'options',
      { maxEntries: 0 },
      { maxEntries: 1.5 },
      { maxEntries: null },
      { maxEntries: '10' },
      { maxAgeMs: 0 },
      { maxAgeMs: -1 },
      { maxBytes: 0 },
      { maxScan: 0 },
      { now: 'later' },
    ]
    for (const options of invalid) {
      expect(() => new MemoryHistory(options as object), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }),
      )
    }
    expect(() => new MemoryHistory({ maxAgeMs: null, maxBytes: null })).not.toThrow()
  })

  it('starts a new random epoch in every instance', async () => {
    const a = await new MemoryHistory().append(sampleUpdate(1))
    const b = await new MemoryHistory().append(sampleUpdate(1))
    expect(a.offset).toBe(b.offset)
    expect(a.epoch).not.toBe(b.epoch)
  })

  it('hands out frozen messages, updates and positions', async () => {
    const history = new MemoryHistory()
    const position = await history.append(sampleUpdate(3, { type: 't', retry: 5 }))
    const [message] = (await history.readAfter('earliest', everything)).messages
    expect(Object.isFrozen(position)).toBe(true)
    expect(Object.isFrozen(message)).toBe(true)
    expect(Object.isFrozen(message!.update)).toBe(true)
    expect(Object.isFrozen(message!.update.topics)).toBe(true)
  })

  it('evicts the oldest updates beyond maxBytes, estimating two bytes per character', async () => {
    const big = (n: number): HubUpdate => sampleUpdate(n, { data: 'x'.repeat(10_000) })
    // Each entry is about 20 kB; 70 kB holds three.
    const history = new MemoryHistory({ maxBytes: 70_000, maxAgeMs: null })
    const positions: StreamPosition[] = []
    for (let n = 0; n < 6; n++) positions.push(await history.append(big(n)))
    expect(await history.size()).toBe(3)
    const behind = await history.readAfter(positions[0]!, everything)
    expect(behind.gap).toBe(true)
    expect(behind.messages.map((m) => m.position)).toEqual(positions.slice(3))
  })

  it('evicts at once an update larger than maxBytes, and readers see a gap', async () => {
    const history = new MemoryHistory({ maxBytes: 1_000 })
    const first = await history.append(sampleUpdate(1))
    await history.append(sampleUpdate(2, { data: 'y'.repeat(1_000) }))
    expect(await history.size()).toBe(0)
    const page = await history.readAfter(first, everything)
    expect(page).toMatchObject({ messages: [], gap: true, done: true })
  })

  it('caps a query scanLimit at maxScan', async () => {
    const history = new MemoryHistory({ maxScan: 4 })
    for (let n = 0; n < 10; n++) await history.append(sampleUpdate(n))
    let calls = 0
    const page = await history.readAfter('earliest', { match: () => (calls++, false), limit: 10, scanLimit: 1_000 })
    expect(calls).toBe(4)
    expect(page.done).toBe(false)
  })

  it('releases its entries on close', async () => {
    const history = new MemoryHistory()
    await history.append(sampleUpdate(1))
    await history.close()
    await expect(history.size()).rejects.toBeInstanceOf(HubError)
  })

  describe('[model] behaves like an unbounded list trimmed by count and age', () => {
    type Op =
      | { kind: 'append'; topic: number }
      | { kind: 'advance'; ms: number }
      | { kind: 'read'; from: number | 'earliest'; topic: number | null; limit: number; scanLimit: number }
      | { kind: 'locate'; pick: number }

    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), topic: fc.integer({ min: 0, max: 2 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 400 }) }) },
      {
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant('read' as const),
          from: fc.oneof(fc.constant('earliest' as const), fc.integer({ min: 0, max: 400 })),
          topic: fc.option(fc.integer({ min: 0, max: 2 })),
          limit: fc.integer({ min: 1, max: 9 }),
          scanLimit: fc.integer({ min: 1, max: 12 }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('locate' as const), pick: fc.integer({ min: 0, max: 400 }) }) },
    )

    it('agrees with the model on every read, locate and size', async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(1, 3, 7, 70, 200), fc.array(op, { minLength: 1, maxLength: 300 }), async (maxEntries, ops) => {
          let time = 0
          const maxAgeMs = 1_000
          const history = new MemoryHistory({ maxEntries, maxAgeMs, maxBytes: null, now: () => time })
          // The model: every update ever appended, with its sequence number and time; eviction is a floor.
          const log: { seq: number; id: string; topic: number; at: number }[] = []
          let epoch = ''
          const floor = (): number => {
            let gone = Math.max(0, log.length - maxEntries)
            while (gone < log.length && log[gone]!.at < time - maxAgeMs) gone++
            return gone
          }
          for (const step of ops) {
            if (step.kind === 'append') {
              const seq = log.length + 1
              const id = `id-${seq % 50}`
              const position = await history.append({ id, topics: [`/t/${step.topic}`], data: String(seq), private: false })
              epoch = position.epoch
              expect(position.offset).toBe(String(seq))
              log.push({ seq, id, topic: step.topic, at: time })
            } else if (step.kind === 'advance') {
              time += step.ms
            } else if (step.kind === 'locate') {
              const id = `id-${step.pick % 50}`
              const low = floor()
              const hit = log.filter((e) => e.id === id && e.seq > low).at(-1)
              const found = await history.locate(id)
              expect(found?.offset).toBe(hit === undefined ? undefined : String(hit.seq))
            } else if (log.length > 0) {
              const low = floor()
              const last = log.length
              const from = step.from === 'earliest' ? 'earliest' : Math.min(step.from, last + 3)
              const page: ReadResult = await history.readAfter(from === 'earliest' ? 'earliest' : { epoch, offset: String(from) }, {
                match: (u) => step.topic === null || u.topics[0] === `/t/${step.topic}`,
                limit: step.limit,
                scanLimit: step.scanLimit,
              })
              const start = from === 'earliest' ? low : from > last ? last : Math.max(from, low)
              const gap = from !== 'earliest' && (from < low || from > last)
              const expected: number[] = []
              let seq = start
              let examined = 0
              while (seq < last && examined < step.scanLimit && expected.length < step.limit) {
                seq++
                examined++
                if (step.topic === null || log[seq - 1]!.topic === step.topic) expected.push(seq)
              }
              expect(page.messages.map((m) => Number(m.position.offset))).toEqual(expected)
              expect(page.gap).toBe(gap)
              expect(page.next?.offset).toBe(String(seq))
              expect(page.done).toBe(seq >= last)
            }
          }
          expect(await history.size()).toBe(log.length - floor())
        }),
        { numRuns: 150 },
      )
    })
  })
})
