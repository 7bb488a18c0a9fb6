import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { HubError } from '../../errors.js'
import { compareOffsets, isStreamOffset, type StreamPosition } from '../../stream-position.js'
import type { HubMessage, HubUpdate } from '../../update.js'
import type { HistoryStore, ReadQuery, ReadResult } from '../history-store.js'

/** What the suite asks of a store it opens. Engines map these onto their own options. */
export interface HistorySuiteOpenOptions {
  /** The clock the store must use to stamp and expire updates (milliseconds). The suite moves it forward. */
  readonly now: () => number
  /** The count bound. */
  readonly maxEntries: number
  /** The age bound, in milliseconds. */
  readonly maxAgeMs: number
}

/** One test's backing data (a temp file, a key prefix, a stream name…), created by the factory. */
export interface HistorySuiteFixture {
  /**
   * Opens a store on this fixture's backing data. The suite calls it again, after closing the first store, to test
   * what survives a reopen, and may hold two stores open at once when `concurrentInstances` is set.
   */
  open(options: HistorySuiteOpenOptions): HistoryStore | Promise<HistoryStore>
  /** Removes the backing data. Called after each test, once every store the suite opened is closed. */
  destroy?(): void | Promise<void>
}

/** Creates a fresh fixture; called before each test. */
export type HistorySuiteFactory = () => HistorySuiteFixture | Promise<HistorySuiteFixture>

/** What the engine under test supports beyond the common contract. */
export interface HistoryConformanceOptions {
  /**
   * The engine honours `now` for expiry. Engines whose server decides expiry on its own clock set false; the age
   * tests are then skipped.
   *
   * @defaultValue `true`
   */
  readonly injectableClock?: boolean
  /**
   * Two stores opened on the same fixture at the same time share their data (several processes on one SQLite file,
   * several nodes on one Redis). Runs the shared-store tests.
   *
   * @defaultValue `false`
   */
  readonly concurrentInstances?: boolean
}

const START_TIME = 1_700_000_000_000
const DEFAULT_MAX_ENTRIES = 1_000
const DEFAULT_MAX_AGE_MS = 60 * 60 * 1000
/** Far more pages than any test needs: a read loop that never finishes fails instead of hanging. */
const MAX_PAGES = 10_000

const all: ReadQuery = { match: () => true, limit: 1_000 }

/** Builds the n-th test update: varied topics, privacy and optional fields. */
export function sampleUpdate(n: number, overrides: Partial<HubUpdate> = {}): HubUpdate {
  const update: { -readonly [K in keyof HubUpdate]: HubUpdate[K] } = {
    id: `urn:uuid:00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    topics: [`https://example.com/items/${n % 3}`],
    data: JSON.stringify({ n }),
    private: n % 4 === 0,
  }
  if (n % 5 === 1) update.type = 'item-changed'
  if (n % 7 === 2) update.retry = 2_500
  return { ...update, ...overrides }
}

/** Reads every page after `from`, checking page invariants on the way. */
async function readAll(
  store: HistoryStore,
  from: StreamPosition | 'earliest',
  query: ReadQuery = all,
): Promise<{ messages: HubMessage[]; pages: ReadResult[] }> {
  const pages: ReadResult[] = []
  const messages: HubMessage[] = []
  let position = from
  for (let i = 0; i < MAX_PAGES; i++) {
    const page = await store.readAfter(position, query)
    expect(page.messages.length).toBeLessThanOrEqual(query.limit)
    if (i > 0) expect(page.gap, 'only the first page can report a gap').toBe(false)
    pages.push(page)
    messages.push(...page.messages)
    if (page.done) return { messages, pages }
    expect(page.next, 'next is defined while done is false').toBeDefined()
    position = page.next as StreamPosition
  }
  throw new Error(`readAfter did not finish within ${MAX_PAGES} pages`)
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error, `expected a rejection with ${code}`).toBeInstanceOf(HubError)
  expect((error as HubError).code).toBe(code)
}

/**
 * Registers the `HistoryStore` conformance tests for one engine. Every engine runs the same suite, so the
 * contract in `history-store.ts` means the same thing everywhere.
 *
 * @example
 * ```ts
 * historyConformance('MemoryHistory', () => ({
 *   open: ({ now, maxEntries, maxAgeMs }) => new MemoryHistory({ now, maxEntries, maxAgeMs }),
 * }))
 * ```
 */
export function historyConformance(name: string, factory: HistorySuiteFactory, options: HistoryConformanceOptions = {}): void {
  const { injectableClock = true, concurrentInstances = false } = options

  describe(`HistoryStore conformance: ${name}`, () => {
    let fixture: HistorySuiteFixture
    let opened: HistoryStore[] = []
    let time = START_TIME
    const now = (): number => time

    async function open(overrides: Partial<Omit<HistorySuiteOpenOptions, 'now'>> = {}): Promise<HistoryStore> {
      const store = await fixture.open({ now, maxEntries: DEFAULT_MAX_ENTRIES, maxAgeMs: DEFAULT_MAX_AGE_MS, ...overrides })
      opened.push(store)
      return store
    }

    async function appendMany(store: HistoryStore, count: number, first = 0): Promise<StreamPosition[]> {
      const positions: StreamPosition[] = []
      for (let n = first; n < first + count; n++) positions.push(await store.append(sampleUpdate(n)))
      return positions
    }

    beforeEach(async () => {
      time = START_TIME
      opened = []
      fixture = await factory()
    })

    afterEach(async () => {
      for (const store of opened) await store.close()
      await fixture.destroy?.()
    })

    describe('append and readAfter', () => {
      it('declares its capabilities as booleans', async () => {
        const store = await open()
        expect(typeof store.capabilities.durable).toBe('boolean')
        expect(typeof store.capabilities.sharedAcrossNodes).toBe('boolean')
      })

      it('issues positions of one epoch with canonical, strictly increasing offsets', async () => {
        const store = await open()
        const positions = await appendMany(store, 25)
        for (const position of positions) {
          expect(typeof position.epoch).toBe('string')
          expect(position.epoch.length).toBeGreaterThan(0)
          expect(position.epoch).toBe(positions[0]!.epoch)
          expect(isStreamOffset(position.offset), `canonical offset: ${position.offset}`).toBe(true)
        }
        for (let i = 1; i < positions.length; i++) {
          expect(compareOffsets(positions[i - 1]!.offset, positions[i]!.offset)).toBeLessThan(0)
        }
      })

      it('reads every update back from earliest, in append order, with the positions append returned', async () => {
        const store = await open()
        const positions = await appendMany(store, 12)
        const page = await store.readAfter('earliest', all)
        expect(page.gap).toBe(false)
        expect(page.done).toBe(true)
        expect(page.messages.map((m) => m.update)).toEqual(Array.from({ length: 12 }, (_, n) => sampleUpdate(n)))
        expect(page.messages.map((m) => m.position)).toEqual(positions)
        expect(page.next).toEqual(positions[11])
      })

      it('keeps updates exactly: absent optional fields stay absent, text keeps every character', async () => {
        const store = await open()
        const updates: HubUpdate[] = [
          { id: 'urn:uuid:a', topics: ['https://example.com/a'], data: '', private: false },
          { id: 'https://example.com/own-id#1', topics: ['/x', '/y', 'urn:z'], data: 'line 1\nline 2\r\nline 3\r', private: true },
          { id: 'urn:uuid:c', topics: ['https://example.com/ünï/😀'], data: '{"emoji":"😀","nul":"\\u0000"}', private: false, type: 'update' },
          { id: 'urn:uuid:d', topics: ['/d'], data: ' leading and trailing spaces, a NUL: \u0000 ', private: false, retry: 0 },
          { id: 'urn:uuid:e', topics: ['/e'], data: 'x'.repeat(64 * 1024), private: true, type: 'big', retry: 15_000 },
        ]
        for (const update of updates) await store.append(update)
        const { messages } = await readAll(store, 'earliest')
        expect(messages).toHaveLength(updates.length)
        for (const [i, message] of messages.entries()) {
          expect(message.update).toStrictEqual(updates[i])
          expect(Object.keys(message.update).sort()).toEqual(Object.keys(updates[i]!).sort())
        }
      })

      it('stores a copy: changing the appended object afterwards changes nothing', async () => {
        const store = await open()
        const topics = ['/original']
        const update = { id: 'urn:uuid:copy', topics, data: 'before', private: false }
        await store.append(update)
        topics.push('/added')
        update.data = 'after'
        const { messages } = await readAll(store, 'earliest')
        expect(messages[0]!.update).toStrictEqual({ id: 'urn:uuid:copy', topics: ['/original'], data: 'before', private: false })
      })

      it('reads strictly after a position', async () => {
        const store = await open()
        const positions = await appendMany(store, 10)
        const { messages } = await readAll(store, positions[3]!)
        expect(messages.map((m) => m.update.id)).toEqual(Array.from({ length: 6 }, (_, i) => sampleUpdate(i + 4).id))
        expect(messages[0]!.position).toEqual(positions[4])
      })

      it('reads nothing after the newest position, and its next position picks up later appends', async () => {
        const store = await open()
        const positions = await appendMany(store, 3)
        const caughtUp = await store.readAfter(positions[2]!, all)
        expect(caughtUp).toMatchObject({ messages: [], done: true, gap: false })
        expect(caughtUp.next).toEqual(positions[2])
        const later = await appendMany(store, 2, 3)
        const page = await store.readAfter(caughtUp.next!, all)
        expect(page.messages.map((m) => m.position)).toEqual(later)
        expect(page.gap).toBe(false)
      })

      it('reads an empty store as done, without messages or gap', async () => {
        const store = await open()
        const page = await store.readAfter('earliest', all)
        expect(page).toMatchObject({ messages: [], done: true, gap: false })
        expect(await store.size()).toBe(0)
        if (page.next !== undefined) {
          const [position] = await appendMany(store, 1)
          const after = await store.readAfter(page.next, all)
          expect(after.gap).toBe(false)
          expect(after.messages.map((m) => m.position)).toEqual([position])
        }
      })

      it('keeps call order for appends started together without awaiting', async () => {
        const store = await open()
        const updates = Array.from({ length: 50 }, (_, n) => sampleUpdate(n))
        const positions = await Promise.all(updates.map((update) => store.append(update)))
        for (let i = 1; i < positions.length; i++) {
          expect(compareOffsets(positions[i - 1]!.offset, positions[i]!.offset)).toBeLessThan(0)
        }
        const { messages } = await readAll(store, 'earliest')
        expect(messages.map((m) => m.update.id)).toEqual(updates.map((u) => u.id))
        expect(messages.map((m) => m.position)).toEqual(positions)
      })

      it('rejects an invalid update with ERR_HUB_HISTORY_INVALID_UPDATE and stores nothing', async () => {
        const store = await open()
        const valid = sampleUpdate(1)
        const invalid: unknown[] = [
          { ...valid, topics: [] },
          { ...valid, topics: [''] },
          { ...valid, id: '' },
          { ...valid, id: 'a\nb' },
          { ...valid, data: 42 },
          { ...valid, private: 'yes' },
          { ...valid, type: 'a\rb' },
          { ...valid, retry: -1 },
          { ...valid, retry: 1.5 },
          null,
        ]
        for (const update of invalid) await expectCode(store.append(update as HubUpdate), 'ERR_HUB_HISTORY_INVALID_UPDATE')
        expect(await store.size()).toBe(0)
        expect((await store.readAfter('earliest', all)).messages).toEqual([])
      })

      it('rejects a malformed query with ERR_HUB_HISTORY_INVALID_QUERY', async () => {
        const store = await open()
        const [position] = await appendMany(store, 1)
        const bad: unknown[] = [
          { match: () => true, limit: 0 },
          { match: () => true, limit: 2.5 },
          { match: () => true, limit: 10, scanLimit: 0 },
          { limit: 10 },
        ]
        for (const query of bad) await expectCode(store.readAfter('earliest', query as ReadQuery), 'ERR_HUB_HISTORY_INVALID_QUERY')
        const foreignOffset = { epoch: position!.epoch, offset: 'not-an-offset' }
        await expectCode(store.readAfter(foreignOffset, all), 'ERR_HUB_HISTORY_INVALID_QUERY')
        await expectCode(store.locate(42 as unknown as string), 'ERR_HUB_HISTORY_INVALID_QUERY')
      })
    })

    describe('paging', () => {
      it('pages by limit without skipping or repeating', async () => {
        const store = await open()
        const positions = await appendMany(store, 10)
        const { messages, pages } = await readAll(store, 'earliest', { match: () => true, limit: 3 })
        expect(messages.map((m) => m.position)).toEqual(positions)
        expect(pages.slice(0, 3).map((p) => p.messages.length)).toEqual([3, 3, 3])
        expect(pages.slice(0, 3).every((p) => !p.done)).toBe(true)
        expect(pages.at(-1)!.done).toBe(true)
      })

      it('returns only the updates match accepts, and passes match the stored update', async () => {
        const store = await open()
        await appendMany(store, 30)
        const seen: HubUpdate[] = []
        const query: ReadQuery = {
          match: (update) => {
            seen.push(update)
            return update.topics[0] === 'https://example.com/items/1' && !update.private
          },
          limit: 4,
        }
        const { messages } = await readAll(store, 'earliest', query)
        const expected = Array.from({ length: 30 }, (_, n) => sampleUpdate(n)).filter(
          (u) => u.topics[0] === 'https://example.com/items/1' && !u.private,
        )
        expect(messages.map((m) => m.update)).toEqual(expected)
        expect(seen.map((u) => u.id)).toEqual(Array.from({ length: 30 }, (_, n) => sampleUpdate(n).id))
        expect(seen[0]).toEqual(sampleUpdate(0))
      })

      it('examines at most scanLimit entries per read, even when nothing matches', async () => {
        const store = await open()
        const positions = await appendMany(store, 20)
        let calls = 0
        const query: ReadQuery = {
          match: () => {
            calls++
            return false
          },
          limit: 5,
          scanLimit: 6,
        }
        const first = await store.readAfter('earliest', query)
        expect(calls).toBeLessThanOrEqual(6)
        expect(first.messages).toEqual([])
        expect(first.done).toBe(false)
        expect(first.next).toEqual(positions[calls - 1])
        calls = 0
        let page = first
        let pageCount = 1
        while (!page.done) {
          page = await store.readAfter(page.next!, query)
          expect(calls).toBeLessThanOrEqual(6)
          expect(page.messages).toEqual([])
          calls = 0
          pageCount++
          expect(pageCount).toBeLessThan(MAX_PAGES)
        }
        expect(pageCount).toBeGreaterThanOrEqual(4)
        expect(page.next).toEqual(positions[19])
      })

      it('finds sparse matches across pages bounded by scanLimit', async () => {
        const store = await open()
        await appendMany(store, 50)
        const wanted = (update: HubUpdate): boolean => Number(JSON.parse(update.data).n) % 7 === 3
        const { messages } = await readAll(store, 'earliest', { match: wanted, limit: 2, scanLimit: 5 })
        expect(messages.map((m) => m.update.id)).toEqual(
          Array.from({ length: 50 }, (_, n) => sampleUpdate(n))
            .filter(wanted)
            .map((u) => u.id),
        )
      })

      it('rejects the read when match throws, and keeps working afterwards', async () => {
        const store = await open()
        const positions = await appendMany(store, 5)
        const failure = new Error('match failed')
        const throwing: ReadQuery = {
          match: (update) => {
            if (update.id === sampleUpdate(2).id) throw failure
            return true
          },
          limit: 10,
        }
        await expect(store.readAfter('earliest', throwing)).rejects.toBe(failure)
        expect((await readAll(store, 'earliest')).messages.map((m) => m.position)).toEqual(positions)
        const [next] = await appendMany(store, 1, 5)
        expect(await store.locate(sampleUpdate(5).id)).toEqual(next)
      })
    })

    describe('locate', () => {
      it('finds the position of an update by its id', async () => {
        const store = await open()
        const positions = await appendMany(store, 5)
        for (let n = 0; n < 5; n++) expect(await store.locate(sampleUpdate(n).id)).toEqual(positions[n])
      })

      it('returns undefined for an id it never stored', async () => {
        const store = await open()
        await appendMany(store, 3)
        expect(await store.locate('urn:uuid:never-published')).toBeUndefined()
        expect(await store.locate('')).toBeUndefined()
      })

      it('returns the most recent update when an id repeats', async () => {
        const store = await open()
        await store.append(sampleUpdate(1, { id: 'urn:uuid:same' }))
        await store.append(sampleUpdate(2))
        const latest = await store.append(sampleUpdate(3, { id: 'urn:uuid:same' }))
        expect(await store.locate('urn:uuid:same')).toEqual(latest)
      })
    })

    describe('newest', () => {
      it('gives the position of the newest retained update, undefined when none is retained', async ({ skip }) => {
        const store = await open({ maxEntries: 3 })
        if (store.newest === undefined) return skip('this store has no newest()')
        expect(await store.newest()).toBeUndefined()
        const positions = await appendMany(store, 5)
        expect(await store.newest()).toEqual(positions[4])
        const more = await store.append(sampleUpdate(9))
        expect(await store.newest()).toEqual(more)
        // Reading after it finds nothing; an update appended next is read after it.
        expect((await store.readAfter(more, { match: () => true, limit: 10 })).messages).toEqual([])
        const next = await store.append(sampleUpdate(10))
        expect((await store.readAfter(more, { match: () => true, limit: 10 })).messages.map((m) => m.position)).toEqual([next])
      })

      it.runIf(injectableClock)('gives undefined once every update expired', async ({ skip }) => {
        const store = await open({ maxAgeMs: 1_000 })
        if (store.newest === undefined) return skip('this store has no newest()')
        await appendMany(store, 2)
        time += 1_001
        expect(await store.newest()).toBeUndefined()
      })
    })

    describe('retention and gaps', () => {
      it('evicts the oldest updates beyond maxEntries and reports a gap to a reader behind them', async () => {
        const store = await open({ maxEntries: 5 })
        const positions = await appendMany(store, 12)
        const retained = positions.slice(7)

        const fromEarliest = await readAll(store, 'earliest')
        expect(fromEarliest.messages.map((m) => m.position)).toEqual(retained)
        expect(fromEarliest.pages[0]!.gap).toBe(false)

        const behind = await readAll(store, positions[0]!)
        expect(behind.pages[0]!.gap).toBe(true)
        expect(behind.messages.map((m) => m.position)).toEqual(retained)

        // The reader saw everything up to the newest evicted update: nothing is missing.
        const justBehind = await readAll(store, positions[6]!)
        expect(justBehind.pages[0]!.gap).toBe(false)
        expect(justBehind.messages.map((m) => m.position)).toEqual(retained)

        expect(await store.size()).toBe(5)
        expect(await store.locate(sampleUpdate(0).id)).toBeUndefined()
        expect(await store.locate(sampleUpdate(6).id)).toBeUndefined()
        expect(await store.locate(sampleUpdate(7).id)).toEqual(positions[7])
      })

      it.runIf(injectableClock)('evicts updates older than maxAgeMs and reports a gap to a reader behind them', async () => {
        const store = await open({ maxAgeMs: 10_000 })
        const [a, b] = await appendMany(store, 2)
        time += 6_000
        const [c] = await appendMany(store, 1, 2)
        time += 6_000 // a and b are 12 s old, c is 6 s old

        const fromEarliest = await readAll(store, 'earliest')
        expect(fromEarliest.messages.map((m) => m.position)).toEqual([c])
        expect((await readAll(store, a!)).pages[0]!.gap).toBe(true)
        const fromB = await readAll(store, b!)
        expect(fromB.pages[0]!.gap).toBe(false)
        expect(fromB.messages.map((m) => m.position)).toEqual([c])
        expect(await store.locate(sampleUpdate(0).id)).toBeUndefined()
        expect(await store.locate(sampleUpdate(2).id)).toEqual(c)
        expect(await store.size()).toBe(1)

        time += 5_000 // c is 11 s old; no append needed for it to expire
        expect((await store.readAfter('earliest', all)).messages).toEqual([])
        expect(await store.locate(sampleUpdate(2).id)).toBeUndefined()
        expect(await store.size()).toBe(0)
        const afterC = await store.readAfter(b!, all)
        expect(afterC.gap).toBe(true)
      })

      it('reports a gap for a position of another epoch and reads the current epoch from its start', async () => {
        const store = await open()
        const positions = await appendMany(store, 4)
        const foreign: StreamPosition = { epoch: `${positions[0]!.epoch}-other`, offset: positions[1]!.offset }
        const page = await store.readAfter(foreign, all)
        expect(page.gap).toBe(true)
        expect(page.done).toBe(true)
        expect(page.messages.map((m) => m.position)).toEqual(positions)
      })

      it('reports a gap for a position beyond the newest entry of its epoch', async () => {
        const store = await open()
        const positions = await appendMany(store, 3)
        // Larger than any sequence number or millisecond timestamp an engine could have issued.
        const ahead: StreamPosition = { epoch: positions[0]!.epoch, offset: '99999999999999999999' }
        const page = await store.readAfter(ahead, all)
        expect(page.gap).toBe(true)
        expect(page.messages).toEqual([])
        expect(page.done).toBe(true)
        if (page.next !== undefined) {
          const [later] = await appendMany(store, 1, 3)
          const after = await store.readAfter(page.next, all)
          expect(after.messages.map((m) => m.position)).toEqual([later])
        }
      })
    })

    describe('lifecycle', () => {
      it('counts retained updates with size()', async () => {
        const store = await open()
        expect(await store.size()).toBe(0)
        await appendMany(store, 7)
        expect(await store.size()).toBe(7)
      })

      it('rejects every call after close with ERR_HUB_HISTORY_CLOSED, and close can be repeated', async () => {
        const store = await open()
        const [position] = await appendMany(store, 1)
        await store.close()
        await store.close()
        await expectCode(store.append(sampleUpdate(9)), 'ERR_HUB_HISTORY_CLOSED')
        await expectCode(store.readAfter('earliest', all), 'ERR_HUB_HISTORY_CLOSED')
        await expectCode(store.readAfter(position!, all), 'ERR_HUB_HISTORY_CLOSED')
        await expectCode(store.locate(sampleUpdate(0).id), 'ERR_HUB_HISTORY_CLOSED')
        await expectCode(store.size(), 'ERR_HUB_HISTORY_CLOSED')
      })

      it('keeps updates, positions and epoch across close and reopen when durable, and never replays a lost history', async () => {
        const first = await open()
        const positions = await appendMany(first, 6)
        await first.close()
        const reopened = await open()
        const { messages, pages } = await readAll(reopened, positions[2]!)
        if (first.capabilities.durable) {
          expect(pages[0]!.gap).toBe(false)
          expect(messages.map((m) => m.position)).toEqual(positions.slice(3))
          expect(messages.map((m) => m.update)).toEqual(Array.from({ length: 3 }, (_, i) => sampleUpdate(i + 3)))
          expect(await reopened.locate(sampleUpdate(1).id)).toEqual(positions[1])
          const [next] = await appendMany(reopened, 1, 6)
          expect(next!.epoch).toBe(positions[0]!.epoch)
          expect(compareOffsets(positions[5]!.offset, next!.offset)).toBeLessThan(0)
        } else if (messages.length === 0 || messages[0]!.position.epoch !== positions[0]!.epoch) {
          // The data is gone: the reopened store must be a new epoch, so the old position reads as a gap.
          expect(pages[0]!.gap).toBe(true)
        } else {
          expect(messages.map((m) => m.position)).toEqual(positions.slice(3))
        }
      })

      it.runIf(concurrentInstances)('shares appends between two stores open on the same data, without reusing offsets', async () => {
        const a = await open()
        const b = await open()
        const issued: StreamPosition[] = []
        for (let n = 0; n < 10; n++) issued.push(await (n % 2 === 0 ? a : b).append(sampleUpdate(n)))
        for (let i = 1; i < issued.length; i++) {
          expect(issued[i]!.epoch).toBe(issued[0]!.epoch)
          expect(compareOffsets(issued[i - 1]!.offset, issued[i]!.offset)).toBeLessThan(0)
        }
        for (const reader of [a, b]) {
          const { messages } = await readAll(reader, 'earliest')
          expect(messages.map((m) => m.position)).toEqual(issued)
          expect(await reader.locate(sampleUpdate(3).id)).toEqual(issued[3])
          expect(await reader.size()).toBe(10)
        }
        const tail = await a.readAfter(issued[9]!, all)
        const [later] = await appendMany(b, 1, 10)
        expect((await a.readAfter(tail.next!, all)).messages.map((m) => m.position)).toEqual([later])
      })
    })
  })
}
