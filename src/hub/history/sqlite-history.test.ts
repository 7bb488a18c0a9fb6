import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import Database from 'better-sqlite3'
import { build } from 'esbuild'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { HubError } from '../errors.js'
import { compareOffsets, type StreamPosition } from '../stream-position.js'
import type { HubMessage } from '../update.js'
import {
  DEFAULT_SQLITE_HISTORY_BUSY_TIMEOUT_MS,
  DEFAULT_SQLITE_HISTORY_MAX_AGE_MS,
  DEFAULT_SQLITE_HISTORY_MAX_ENTRIES,
  DEFAULT_SQLITE_HISTORY_MAX_SCAN,
  SQLITE_HISTORY_SCHEMA_VERSION,
  SqliteHistory,
  type SqliteHistoryOptions,
} from './sqlite-history.js'
import { historyConformance, sampleUpdate } from './testing/history-suite.js'

historyConformance(
  'SqliteHistory (file)',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-sqlite-'))
    return {
      open: ({ now, maxEntries, maxAgeMs }) => new SqliteHistory({ path: join(dir, 'history.db'), now, maxEntries, maxAgeMs }),
      destroy: () => rmSync(dir, { recursive: true, force: true }),
    }
  },
  { concurrentInstances: true },
)

historyConformance('SqliteHistory (:memory:)', () => ({
  open: ({ now, maxEntries, maxAgeMs }) => new SqliteHistory({ path: ':memory:', now, maxEntries, maxAgeMs }),
}))

const everything = { match: () => true, limit: 100_000 }

describe('SqliteHistory', () => {
  let dir: string
  let path: string
  const open: SqliteHistory[] = []
  const raw: Database.Database[] = []

  function history(options: Partial<SqliteHistoryOptions> = {}): SqliteHistory {
    const store = new SqliteHistory({ path, ...options })
    open.push(store)
    return store
  }

  function rawConnection(): Database.Database {
    const db = new Database(path)
    raw.push(db)
    return db
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-sqlite-'))
    path = join(dir, 'herald.db')
  })

  afterEach(async () => {
    for (const store of open.splice(0)) await store.close()
    for (const db of raw.splice(0)) db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('documents its defaults: 100,000 entries, 24 h, 1,000 rows scanned per read, 5 s busy timeout', () => {
    expect(DEFAULT_SQLITE_HISTORY_MAX_ENTRIES).toBe(100_000)
    expect(DEFAULT_SQLITE_HISTORY_MAX_AGE_MS).toBe(86_400_000)
    expect(DEFAULT_SQLITE_HISTORY_MAX_SCAN).toBe(1_000)
    expect(DEFAULT_SQLITE_HISTORY_BUSY_TIMEOUT_MS).toBe(5_000)
  })

  it('declares itself durable on a file, not in memory, and never shared across nodes', () => {
    expect(history().capabilities).toEqual({ durable: true, sharedAcrossNodes: false })
    expect(history({ path: ':memory:' }).capabilities).toEqual({ durable: false, sharedAcrossNodes: false })
  })

  it('validates its options at construction with ERR_HUB_INVALID_OPTION', () => {
    const invalid: unknown[] = [
      undefined,
      null,
      {},
      { path: 42 },
      { path, synchronous: 'off' },
      { path, maxEntries: 0 },
      { path, maxAgeMs: -5 },
      { path, maxEntries: null, maxAgeMs: null },
      { path, maxScan: 0 },
      { path, busyTimeoutMs: -1 },
      { path, now: 1 },
      { path, onError: 'log' },
    ]
    for (const options of invalid) {
      expect(() => new SqliteHistory(options as SqliteHistoryOptions), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }),
      )
    }
  })

  it('creates the file in WAL mode with its schema version and epoch', async () => {
    const store = history({ synchronous: 'full' })
    const position = await store.append(sampleUpdate(1))
    const db = rawConnection()
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    const meta = Object.fromEntries((db.prepare('SELECT key, value FROM herald_meta').all() as { key: string; value: unknown }[]).map((r) => [r.key, r.value]))
    expect(meta.schema_version).toBe(SQLITE_HISTORY_SCHEMA_VERSION)
    expect(meta.epoch).toBe(position.epoch)
  })

  it('lets two instances on one file (as two processes would) see each other\'s appends at once', async () => {
    const a = history()
    const b = history()
    const fromA = await a.append(sampleUpdate(1))
    expect((await b.readAfter('earliest', everything)).messages.map((m) => m.position)).toEqual([fromA])
    const fromB = await b.append(sampleUpdate(2))
    expect(fromB.epoch).toBe(fromA.epoch)
    expect(Number(fromB.offset)).toBeGreaterThan(Number(fromA.offset))
    expect((await a.readAfter(fromA, everything)).messages.map((m) => m.position)).toEqual([fromB])
    expect(await a.locate(sampleUpdate(2).id)).toEqual(fromB)
  })

  it('never reuses an offset, even after every row was deleted and the file reopened', async () => {
    let time = 0
    const first = history({ maxAgeMs: 1_000, now: () => time })
    const positions: StreamPosition[] = []
    for (let n = 0; n < 5; n++) positions.push(await first.append(sampleUpdate(n)))
    time += 5_000
    expect(await first.size()).toBe(0)
    expect(rawConnection().prepare('SELECT count(*) AS n FROM herald_updates').get()).toEqual({ n: 0 })
    await first.close()
    const second = history({ maxAgeMs: 1_000, now: () => time })
    const next = await second.append(sampleUpdate(9))
    expect(next.epoch).toBe(positions[0]!.epoch)
    expect(Number(next.offset)).toBeGreaterThan(Number(positions[4]!.offset))
    expect((await second.readAfter(positions[4]!, everything)).gap).toBe(false)
    expect((await second.readAfter(positions[0]!, everything)).gap).toBe(true)
  })

  it('deletes rows beyond maxEntries in batches, not on every append', async () => {
    const store = history({ maxEntries: 50, maxAgeMs: null })
    const db = rawConnection()
    const count = db.prepare('SELECT count(*) AS n FROM herald_updates').pluck()
    const counts: number[] = []
    for (let n = 0; n < 300; n++) {
      await store.append(sampleUpdate(n))
      counts.push(count.get() as number)
    }
    // A batch every 5 appends (a tenth of maxEntries): the file never holds more than 50 + 5 rows.
    expect(Math.max(...counts)).toBeLessThanOrEqual(55)
    expect(counts.filter((n, i) => i > 0 && n === counts[i - 1]! + 1).length).toBeGreaterThan(200)
    expect(await store.size()).toBe(50)
    const page = await store.readAfter('earliest', everything)
    expect(page.messages[0]!.update.id).toBe(sampleUpdate(250).id)
  })

  it('refuses a file written by a newer schema with ERR_HUB_HISTORY_SCHEMA_UNSUPPORTED, leaving it untouched', async () => {
    const store = history()
    await store.append(sampleUpdate(1))
    await store.close()
    const db = rawConnection()
    db.prepare(`UPDATE herald_meta SET value = ? WHERE key = 'schema_version'`).run(SQLITE_HISTORY_SCHEMA_VERSION + 1)
    db.pragma('journal_mode = DELETE')
    expect(() => new SqliteHistory({ path })).toThrow(expect.objectContaining({ code: 'ERR_HUB_HISTORY_SCHEMA_UNSUPPORTED' }))
    expect(db.pragma('journal_mode', { simple: true })).toBe('delete')
    expect(db.prepare(`SELECT value FROM herald_meta WHERE key = 'schema_version'`).pluck().get()).toBe(SQLITE_HISTORY_SCHEMA_VERSION + 1)
    expect(db.prepare('SELECT count(*) FROM herald_updates').pluck().get()).toBe(1)
  })

  it('refuses a file with damaged metadata with ERR_HUB_HISTORY_SCHEMA_INVALID', async () => {
    await history().close()
    const db = rawConnection()
    db.prepare(`DELETE FROM herald_meta WHERE key = 'epoch'`).run()
    expect(() => new SqliteHistory({ path })).toThrow(expect.objectContaining({ code: 'ERR_HUB_HISTORY_SCHEMA_INVALID' }))
    db.prepare(`DELETE FROM herald_meta`).run()
    expect(() => new SqliteHistory({ path })).toThrow(expect.objectContaining({ code: 'ERR_HUB_HISTORY_SCHEMA_INVALID' }))
  })

  it('shares a file with other tables, and refuses with ERR_HUB_HISTORY_OPEN_FAILED a file that is not a database', async () => {
    const db = rawConnection()
    db.exec('CREATE TABLE other (x INTEGER)')
    await history().append(sampleUpdate(1))
    expect(db.prepare('SELECT count(*) FROM other').pluck().get()).toBe(0)

    const text = join(dir, 'notes.txt')
    writeFileSync(text, 'this is not a database, but it is long enough to have a header\n'.repeat(20))
    expect(() => new SqliteHistory({ path: text })).toThrow(expect.objectContaining({ code: 'ERR_HUB_HISTORY_OPEN_FAILED' }))
    expect(() => new SqliteHistory({ path: join(dir, 'missing', 'herald.db') })).toThrow(
      expect.objectContaining({ code: 'ERR_HUB_HISTORY_OPEN_FAILED' }),
    )
  })

  it('rejects with ERR_HUB_HISTORY_UNAVAILABLE when another connection holds the write lock past busyTimeoutMs, and reads on', async () => {
    const store = history({ busyTimeoutMs: 50 })
    const before = await store.append(sampleUpdate(1))
    const db = rawConnection()
    db.exec('BEGIN IMMEDIATE')
    const error: unknown = await store.append(sampleUpdate(2)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(HubError)
    expect((error as HubError).code).toBe('ERR_HUB_HISTORY_UNAVAILABLE')
    expect((error as HubError).cause).toBeInstanceOf(Database.SqliteError)
    // WAL: readers are not blocked by a writer.
    expect((await store.readAfter('earliest', everything)).messages.map((m) => m.position)).toEqual([before])
    db.exec('COMMIT')
    const after = await store.append(sampleUpdate(3))
    expect(Number(after.offset)).toBeGreaterThan(Number(before.offset))
  })
})

describe('SqliteHistory across processes', () => {
  type Line = { type: 'appended'; id: string; position: StreamPosition } | { type: 'chunk' } | { type: 'done' }
  type Child = ChildProcessByStdio<Writable, Readable, Readable>

  let writerCode: string
  let dir: string
  let path: string
  const stores: SqliteHistory[] = []
  const children: Child[] = []

  beforeAll(async () => {
    // Node 20 cannot run TypeScript: bundle the writer, leaving packages (better-sqlite3) to be resolved from the
    // project root, which is the child's working directory.
    const result = await build({
      entryPoints: [join(import.meta.dirname, 'testing', 'sqlite-writer-process.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      write: false,
    })
    writerCode = result.outputFiles[0]!.text
  })

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-sqlite-'))
    path = join(dir, 'herald.db')
  })

  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    for (const store of stores.splice(0)) await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  function startWriter(env: Record<string, string>): { child: Child; lines: AsyncIterator<Line>; exited: Promise<unknown>; stderr: () => string } {
    const child = spawn(process.execPath, ['--input-type=module', '-e', writerCode], {
      cwd: join(import.meta.dirname, '..', '..', '..'),
      env: { ...process.env, HERALD_TEST_DB: path, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    children.push(child)
    let errors = ''
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()))
    const exited = new Promise((resolve) => child.once('exit', resolve))
    const reader = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
    const lines: AsyncIterator<Line> = {
      next: async () => {
        const next = await reader.next()
        return next.done === true ? next : { done: false, value: JSON.parse(next.value) as Line }
      },
    }
    return { child, lines, exited, stderr: () => errors }
  }

  async function readEverything(store: SqliteHistory, from: StreamPosition | 'earliest'): Promise<HubMessage[]> {
    const messages: HubMessage[] = []
    let position = from
    for (;;) {
      const page = await store.readAfter(position, { match: () => true, limit: 100 })
      messages.push(...page.messages)
      position = page.next ?? position
      if (page.done) return messages
    }
  }

  it('sees at once what a child process appends, while both append to the same file', async () => {
    const parent = new SqliteHistory({ path })
    stores.push(parent)
    const first = await parent.append(sampleUpdate(0, { id: 'parent-0' }))
    const writer = startWriter({ HERALD_TEST_CHUNKS: '4', HERALD_TEST_CHUNK: '15', HERALD_TEST_BURST: '300' })
    const acknowledged = new Map<string, StreamPosition>()
    let parentCount = 1
    let cursor: StreamPosition = first

    // Lockstep: after each chunk the child waits, alive, while this process reads what it wrote.
    for (let chunk = 0; chunk < 4; chunk++) {
      for (;;) {
        const line = await writer.lines.next()
        if (line.done === true) throw new Error(`the writer stopped early: ${writer.stderr()}`)
        if (line.value.type === 'chunk') break
        if (line.value.type === 'appended') acknowledged.set(line.value.id, line.value.position)
      }
      const fresh = await readEverything(parent, cursor)
      expect(fresh.map((m) => m.update.id)).toEqual(Array.from({ length: 15 }, (_, i) => `child-${chunk * 15 + i}`))
      // The child is paused: this append is the newest, and the next chunk follows it.
      cursor = await parent.append(sampleUpdate(parentCount, { id: `parent-${parentCount++}` }))
      writer.child.stdin.write('next\n')
    }

    // Burst: both processes append at once; SQLite serialises the writers through the busy timeout.
    const child = { done: false }
    const drain = (async () => {
      for (;;) {
        const line = await writer.lines.next()
        if (line.done === true || line.value.type === 'done') return
        if (line.value.type === 'appended') acknowledged.set(line.value.id, line.value.position)
      }
    })().then(() => (child.done = true))
    // The parent keeps appending for as long as the child does (at least 100 times), so the two overlap however the
    // machine schedules them.
    while (!child.done || parentCount < 100) {
      await parent.append(sampleUpdate(parentCount, { id: `parent-${parentCount++}` }))
      await new Promise((resolve) => setImmediate(resolve))
    }
    await drain
    await writer.exited
    expect(writer.child.exitCode, writer.stderr()).toBe(0)

    const all = await readEverything(parent, 'earliest')
    expect(all[0]!.position).toEqual(first)
    const offsets = all.map((m) => m.position.offset)
    for (let i = 1; i < offsets.length; i++) expect(compareOffsets(offsets[i - 1]!, offsets[i]!)).toBeLessThan(0)
    const ids = all.map((m) => m.update.id)
    expect(ids.filter((id) => id.startsWith('child-'))).toEqual(Array.from({ length: 360 }, (_, i) => `child-${i}`))
    expect(ids.filter((id) => id.startsWith('parent-'))).toEqual(Array.from({ length: parentCount }, (_, i) => `parent-${i}`))
    for (const message of all) {
      if (message.update.id.startsWith('child-')) expect(message.position).toEqual(acknowledged.get(message.update.id))
    }
    // Both processes wrote during the burst: their updates interleave.
    const burst = ids.slice(ids.indexOf('child-60'))
    expect(new Set(burst.map((id) => id.split('-')[0])).size).toBe(2)
  })

  it('keeps every append acknowledged before a kill -9 (synchronous NORMAL)', async () => {
    const writer = startWriter({ HERALD_TEST_CHUNKS: '0', HERALD_TEST_BURST: '1000000' })
    const acknowledged: { id: string; position: StreamPosition }[] = []
    while (acknowledged.length < 200) {
      const line = await writer.lines.next()
      if (line.done === true) throw new Error(`the writer stopped early: ${writer.stderr()}`)
      if (line.value.type === 'appended') acknowledged.push({ id: line.value.id, position: line.value.position })
    }
    writer.child.kill('SIGKILL')
    await writer.exited
    expect(writer.child.signalCode).toBe('SIGKILL')

    const reopened = new SqliteHistory({ path })
    stores.push(reopened)
    const all = await readEverything(reopened, 'earliest')
    expect(all.length).toBeGreaterThanOrEqual(acknowledged.length)
    expect(all.slice(0, acknowledged.length).map((m) => ({ id: m.update.id, position: m.position }))).toEqual(acknowledged)
  })
})
