import { randomUUID } from 'node:crypto'
import Database from 'better-sqlite3'
import { HubError, messageOf } from '../errors.js'
import type { StreamPosition } from '../stream-position.js'
import type { HubMessage, HubUpdate } from '../update.js'
import { checkLocateId, checkReadQuery, copyUpdate } from './check-arguments.js'
import type { HistoryCapabilities, HistoryStore, ReadQuery, ReadResult } from './history-store.js'
import { checkOptionsObject, functionOption, integerOption, nullableIntegerOption } from './option-checks.js'
import { planSequenceRead } from './sequence-read.js'
import { settle } from './settle.js'

/** How many updates a {@link SqliteHistory} keeps by default. */
export const DEFAULT_SQLITE_HISTORY_MAX_ENTRIES = 100_000
/** How long a {@link SqliteHistory} keeps an update by default: 24 hours. */
export const DEFAULT_SQLITE_HISTORY_MAX_AGE_MS = 24 * 60 * 60 * 1000
/** The most rows one {@link SqliteHistory.readAfter} call examines by default. */
export const DEFAULT_SQLITE_HISTORY_MAX_SCAN = 1_000
/** How long a {@link SqliteHistory} waits for another connection's write lock by default: 5 seconds. */
export const DEFAULT_SQLITE_HISTORY_BUSY_TIMEOUT_MS = 5_000
/**
 * The schema version this Herald writes and reads. A file with a higher version (written by a newer Herald) is
 * refused with `ERR_HUB_HISTORY_SCHEMA_UNSUPPORTED` rather than misread.
 */
export const SQLITE_HISTORY_SCHEMA_VERSION = 1

/** Options of {@link SqliteHistory}. Every field but `path` is optional. */
export interface SqliteHistoryOptions {
  /**
   * The database file, created if missing (its directory must exist). `':memory:'` gives a private in-memory
   * database, which is not durable (`capabilities.durable` is then false). Several processes may open the same
   * file.
   */
  readonly path: string
  /**
   * How hard each append is pushed to disk (SQLite `PRAGMA synchronous`, in WAL mode):
   * - `'normal'`: a resolved append survives a crash of the process (kill -9, out-of-memory kill); after a power loss
   *   or an OS crash the last appends before it may be lost. No fsync per append.
   * - `'full'`: a resolved append also survives a power loss or an OS crash, at the cost of one fsync per append.
   *
   * @defaultValue `'normal'`
   */
  readonly synchronous?: 'normal' | 'full'
  /**
   * The most updates kept; older ones are no longer read and are deleted in batches. `null` bounds by age only.
   *
   * @defaultValue {@link DEFAULT_SQLITE_HISTORY_MAX_ENTRIES} (100,000)
   */
  readonly maxEntries?: number | null
  /**
   * How long an update is kept, in milliseconds. `null` bounds by count only. `maxEntries` and `maxAgeMs` cannot
   * both be `null`: the file would grow without end.
   *
   * @defaultValue {@link DEFAULT_SQLITE_HISTORY_MAX_AGE_MS} (24 h)
   */
  readonly maxAgeMs?: number | null
  /**
   * The most rows one `readAfter` call examines; a query's `scanLimit` is capped at this. Rows are streamed one at a
   * time, so memory holds only the matched messages.
   *
   * @defaultValue {@link DEFAULT_SQLITE_HISTORY_MAX_SCAN} (1,000)
   */
  readonly maxScan?: number
  /**
   * How long to wait, in milliseconds, when another connection (another worker process) holds the write lock,
   * before failing with `ERR_HUB_HISTORY_UNAVAILABLE`.
   *
   * @defaultValue {@link DEFAULT_SQLITE_HISTORY_BUSY_TIMEOUT_MS} (5 s)
   */
  readonly busyTimeoutMs?: number
  /**
   * The clock, in milliseconds since the epoch, used to stamp and expire updates. Inject one in tests instead of
   * sleeping.
   *
   * @defaultValue `Date.now`
   */
  readonly now?: () => number
  /**
   * Receives errors that do not fail a call: a batch deletion of old rows that failed after an append succeeded
   * (it is retried later). Never throw from it.
   *
   * @defaultValue a function that ignores the error
   */
  readonly onError?: (error: HubError) => void
}

interface StateRow {
  readonly pruned: number | null
  readonly last: number | null
}

interface AgeRow {
  readonly seq: number
  readonly created_ms: number
}

interface UpdateRow {
  readonly seq: number
  readonly id: string
  readonly private: number
  readonly type: string | null
  readonly retry: number | null
  readonly topics: string
  readonly data: string
}

interface MetaRow {
  readonly key: string
  readonly value: unknown
}

const OWNER = 'SqliteHistory'
/** The largest number of appends between two batch deletions; smaller stores prune after a tenth of their size. */
const MAX_PRUNE_INTERVAL = 1_000
/** WAL file size kept after a checkpoint, so a burst does not leave a large file behind. */
const JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024

// `created_ms` sits before the payload columns so that the age scan reads it without following `data` into
// overflow pages; `data` is last for the same reason.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS herald_meta (
  key TEXT PRIMARY KEY NOT NULL,
  value
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS herald_updates (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  created_ms INTEGER NOT NULL,
  id TEXT NOT NULL,
  private INTEGER NOT NULL,
  type TEXT,
  retry INTEGER,
  topics TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS herald_updates_by_id ON herald_updates (id);
`

/**
 * History in a SQLite file (better-sqlite3): the hub's default, durable across restarts, shared by the worker
 * processes of one machine.
 *
 * - **Storage**: WAL mode; `synchronous` NORMAL by default (a resolved append survives kill -9) or FULL (it also
 *   survives a power loss). Offsets are an `AUTOINCREMENT` row id, never reused even after deletions. An index on
 *   `id` serves {@link SqliteHistory.locate}. Statements are prepared once.
 * - **Epoch**: a random UUID written to the `herald_meta` table when the file is created, so a deleted or replaced
 *   file is detected as a new epoch (readers resuming from the old one get a gap).
 * - **Bounds**: by count and age (100,000 entries and 24 h by default). Reads never return an entry beyond the
 *   bounds; the rows themselves are deleted in batches, every `min(1,000, maxEntries / 10)` appends or when a read
 *   finds the oldest row expired, never by scanning the table on each append.
 * - **Several processes**: each opens its own connection on the same file; a busy timeout makes writers wait for
 *   each other, and every read queries the file, so rows appended by another process are seen at once.
 *   `capabilities.sharedAcrossNodes` is false all the same: SQLite must not be shared over a network file system.
 * - **Schema**: version {@link SQLITE_HISTORY_SCHEMA_VERSION}; a newer file is refused with
 *   `ERR_HUB_HISTORY_SCHEMA_UNSUPPORTED`, a damaged one with `ERR_HUB_HISTORY_SCHEMA_INVALID`, before anything is
 *   written to it.
 *
 * The constructor opens the file synchronously and throws a coded {@link HubError} when it cannot
 * (`ERR_HUB_INVALID_OPTION`, `ERR_HUB_HISTORY_OPEN_FAILED`, the schema codes). Later storage failures reject with
 * `ERR_HUB_HISTORY_UNAVAILABLE`. A query's `match` runs while rows are streamed and must not call back into the
 * store.
 *
 * @example
 * ```ts
 * const history = new SqliteHistory({ path: './herald.db', maxEntries: 50_000 })
 * const position = await history.append({ id: 'urn:uuid:…', topics: ['/books/1'], data: '{}', private: false })
 * await history.close()
 * ```
 * @see https://www.sqlite.org/wal.html
 * @see https://www.sqlite.org/pragma.html#pragma_synchronous
 */
export class SqliteHistory implements HistoryStore {
  readonly capabilities: HistoryCapabilities

  readonly #db: Database.Database
  readonly #epoch: string
  readonly #maxEntries: number | null
  readonly #maxAgeMs: number | null
  readonly #maxScan: number
  readonly #now: () => number
  readonly #onError: (error: HubError) => void
  readonly #pruneInterval: number
  #appendsSincePrune = 0
  #closed = false

  readonly #insert: Database.Statement<[number, string, number, string | null, number | null, string, string]>
  readonly #state: Database.Statement<[], StateRow>
  readonly #firstAfter: Database.Statement<[number], AgeRow>
  readonly #agesAfter: Database.Statement<[number], AgeRow>
  readonly #rowsAfter: Database.Statement<[number, number], UpdateRow>
  readonly #locate: Database.Statement<[string], { readonly seq: number }>
  readonly #count: Database.Statement<[number], { readonly n: number }>
  readonly #deleteThrough: Database.Statement<[number]>
  readonly #raisePruned: Database.Statement<[number, number]>
  readonly #prune: () => void

  constructor(options: SqliteHistoryOptions) {
    checkOptionsObject(OWNER, options)
    if ((options as unknown) === undefined) throw new HubError('ERR_HUB_INVALID_OPTION', `${OWNER}: options.path is required`)
    const { path } = options
    const synchronous: unknown = options.synchronous ?? 'normal'
    if (typeof path !== 'string') throw new HubError('ERR_HUB_INVALID_OPTION', `${OWNER}: path must be a string, not ${typeof path}`)
    if (synchronous !== 'normal' && synchronous !== 'full') {
      throw new HubError('ERR_HUB_INVALID_OPTION', `${OWNER}: synchronous must be 'normal' or 'full', not ${String(synchronous)}`)
    }
    const max = DEFAULT_SQLITE_HISTORY_MAX_ENTRIES
    this.#maxEntries = nullableIntegerOption(OWNER, 'maxEntries', options.maxEntries, max, 1)
    this.#maxAgeMs = nullableIntegerOption(OWNER, 'maxAgeMs', options.maxAgeMs, DEFAULT_SQLITE_HISTORY_MAX_AGE_MS, 1)
    if (this.#maxEntries === null && this.#maxAgeMs === null) {
      throw new HubError('ERR_HUB_INVALID_OPTION', `${OWNER}: maxEntries and maxAgeMs cannot both be null`)
    }
    this.#maxScan = integerOption(OWNER, 'maxScan', options.maxScan, DEFAULT_SQLITE_HISTORY_MAX_SCAN, 1)
    const busyTimeoutMs = integerOption(OWNER, 'busyTimeoutMs', options.busyTimeoutMs, DEFAULT_SQLITE_HISTORY_BUSY_TIMEOUT_MS, 0)
    this.#now = functionOption(OWNER, 'now', options.now, Date.now)
    this.#onError = functionOption(OWNER, 'onError', options.onError, ignoreError)
    this.#pruneInterval =
      this.#maxEntries === null ? MAX_PRUNE_INTERVAL : Math.max(1, Math.min(MAX_PRUNE_INTERVAL, Math.floor(this.#maxEntries / 10)))

    let db: Database.Database
    try {
      db = new Database(path, { timeout: busyTimeoutMs })
    } catch (error) {
      throw new HubError('ERR_HUB_HISTORY_OPEN_FAILED', `${OWNER}: cannot open ${JSON.stringify(path)}: ${messageOf(error)}`, {
        cause: error,
      })
    }
    try {
      // Opening a file another process is writing, or recovering the WAL of one that was killed, can meet
      // SQLITE_BUSY where SQLite does not call the busy handler (journal mode change, WAL recovery): retry until
      // the busy timeout.
      this.#epoch = retryWhileBusy(busyTimeoutMs, () => {
        // Check the schema before changing anything (the journal mode is stored in the file).
        readSchema(db)
        if (String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') db.pragma('journal_mode = WAL')
        db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
        db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`)
        // IMMEDIATE: take the write lock before reading, so two processes creating the file at once agree on one epoch.
        return db.transaction(() => createSchema(db)).immediate()
      })
    } catch (error) {
      db.close()
      if (error instanceof HubError) throw error
      throw new HubError('ERR_HUB_HISTORY_OPEN_FAILED', `${OWNER}: cannot open ${JSON.stringify(path)}: ${messageOf(error)}`, {
        cause: error,
      })
    }
    this.#db = db
    this.capabilities = Object.freeze({ durable: !db.memory, sharedAcrossNodes: false })

    this.#insert = db.prepare<[number, string, number, string | null, number | null, string, string]>(
      'INSERT INTO herald_updates (created_ms, id, private, type, retry, topics, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
    )
    this.#state = db.prepare<[], StateRow>(
      `SELECT (SELECT value FROM herald_meta WHERE key = 'pruned_through') AS pruned,
              (SELECT seq FROM sqlite_sequence WHERE name = 'herald_updates') AS last`,
    )
    this.#firstAfter = db.prepare<[number], AgeRow>('SELECT seq, created_ms FROM herald_updates WHERE seq > ? ORDER BY seq LIMIT 1')
    this.#agesAfter = db.prepare<[number], AgeRow>('SELECT seq, created_ms FROM herald_updates WHERE seq > ? ORDER BY seq')
    this.#rowsAfter = db.prepare<[number, number], UpdateRow>(
      'SELECT seq, id, private, type, retry, topics, data FROM herald_updates WHERE seq > ? ORDER BY seq LIMIT ?',
    )
    this.#locate = db.prepare<[string], { readonly seq: number }>(
      'SELECT seq FROM herald_updates WHERE id = ? ORDER BY seq DESC LIMIT 1',
    )
    this.#count = db.prepare<[number], { readonly n: number }>('SELECT count(*) AS n FROM herald_updates WHERE seq > ?')
    this.#deleteThrough = db.prepare<[number]>('DELETE FROM herald_updates WHERE seq <= ?')
    this.#raisePruned = db.prepare<[number, number]>(`UPDATE herald_meta SET value = ? WHERE key = 'pruned_through' AND value < ?`)
    const prune = db.transaction(() => this.#pruneNow())
    this.#prune = () => prune.immediate()
  }

  append(update: HubUpdate): Promise<StreamPosition> {
    return settle(() => {
      // Synchronous from here to the insert: appends started together get positions in call order.
      this.#checkOpen()
      const stored = copyUpdate(update)
      let sequence: number
      try {
        const result = this.#insert.run(
          this.#now(),
          stored.id,
          stored.private ? 1 : 0,
          stored.type ?? null,
          stored.retry ?? null,
          JSON.stringify(stored.topics),
          stored.data,
        )
        sequence = Number(result.lastInsertRowid)
      } catch (error) {
        throw storageFailure(error, 'append')
      }
      if (++this.#appendsSincePrune >= this.#pruneInterval) {
        try {
          this.#prune()
        } catch (error) {
          // The append is stored; old rows stay until the next attempt. Reads apply the bounds regardless.
          this.#onError(unavailable(error, 'delete old rows'))
        }
      }
      return { epoch: this.#epoch, offset: String(sequence) }
    })
  }

  locate(id: string): Promise<StreamPosition | undefined> {
    return settle(() => {
      this.#checkOpen()
      checkLocateId(id)
      try {
        const { floor } = this.#bounds()
        const row = this.#locate.get(id)
        return row === undefined || row.seq <= floor ? undefined : { epoch: this.#epoch, offset: String(row.seq) }
      } catch (error) {
        throw storageFailure(error, 'locate an update')
      }
    })
  }

  readAfter(from: StreamPosition | 'earliest', query: ReadQuery): Promise<ReadResult> {
    return settle(() => {
      this.#checkOpen()
      const scanLimit = checkReadQuery(query, this.#maxScan)
      let bounds: { floor: number; last: number }
      try {
        bounds = this.#bounds()
      } catch (error) {
        throw storageFailure(error, 'read')
      }
      const plan = planSequenceRead(from, this.#epoch, bounds.floor, bounds.last)
      const messages: HubMessage[] = []
      let sequence = plan.after
      let examined = 0
      let more = false
      try {
        // One row more than may be examined tells whether the history goes on (`done`). Rows another process appended
        // since `#bounds()` are read too: they are newer, so nothing is skipped.
        for (const row of this.#rowsAfter.iterate(plan.after, scanLimit + 1)) {
          if (examined === scanLimit || messages.length === query.limit) {
            more = true
            break
          }
          examined++
          sequence = row.seq
          const update = toUpdate(row)
          if (query.match(update)) messages.push({ update, position: { epoch: this.#epoch, offset: String(row.seq) } })
        }
      } catch (error) {
        throw storageFailure(error, 'read')
      }
      return { messages, next: { epoch: this.#epoch, offset: String(sequence) }, done: !more, gap: plan.gap }
    })
  }

  size(): Promise<number> {
    return settle(() => {
      this.#checkOpen()
      try {
        const row = this.#count.get(this.#bounds().floor)
        return row?.n ?? 0
      } catch (error) {
        throw storageFailure(error, 'count updates')
      }
    })
  }

  newest(): Promise<StreamPosition | undefined> {
    return settle(() => {
      this.#checkOpen()
      try {
        const { floor, last } = this.#bounds()
        return last > floor ? { epoch: this.#epoch, offset: String(last) } : undefined
      } catch (error) {
        throw storageFailure(error, 'find the newest update')
      }
    })
  }

  close(): Promise<void> {
    return settle(() => {
      if (this.#closed) return
      this.#closed = true
      try {
        this.#db.close()
      } catch (error) {
        throw storageFailure(error, 'close')
      }
    })
  }

  #checkOpen(): void {
    if (this.#closed) throw new HubError('ERR_HUB_HISTORY_CLOSED', 'this SqliteHistory is closed')
  }

  /**
   * The live range: rows `floor + 1 … last`. `floor` combines what was deleted, the count bound and, by deleting
   * expired rows first when the oldest live row is expired, the age bound. Cheap: two lookups by primary key.
   */
  #bounds(): { floor: number; last: number } {
    let bounds = this.#liveRange()
    if (this.#maxAgeMs !== null) {
      const oldest = this.#firstAfter.get(bounds.floor)
      if (oldest !== undefined && oldest.created_ms < this.#now() - this.#maxAgeMs) {
        this.#prune()
        bounds = this.#liveRange()
      }
    }
    return bounds
  }

  #liveRange(): { floor: number; last: number } {
    const state = this.#state.get()
    const last = state?.last ?? 0
    const pruned = state?.pruned ?? 0
    return { floor: this.#maxEntries === null ? pruned : Math.max(pruned, last - this.#maxEntries), last }
  }

  /** Deletes the rows beyond the bounds and records how far. Runs inside an IMMEDIATE transaction. */
  #pruneNow(): void {
    const { floor } = this.#liveRange()
    let through = floor
    if (this.#maxAgeMs !== null) {
      const oldestAllowed = this.#now() - this.#maxAgeMs
      // Rows are in append order, so expired rows form a prefix: stop at the first live one.
      for (const row of this.#agesAfter.iterate(floor)) {
        if (row.created_ms >= oldestAllowed) break
        through = row.seq
      }
    }
    this.#deleteThrough.run(through)
    this.#raisePruned.run(through, through)
    this.#appendsSincePrune = 0
  }
}

/**
 * Reads the metadata of an existing Herald history, checking its version. Returns the epoch, or `undefined` for a
 * file without Herald's tables. Throws the schema error codes.
 */
function readSchema(db: Database.Database): string | undefined {
  const tables = db
    .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('herald_meta', 'herald_updates')`)
    .pluck()
    .all() as string[]
  if (!tables.includes('herald_meta')) {
    if (tables.includes('herald_updates')) invalidSchema('the herald_updates table exists without herald_meta')
    return undefined
  }
  const meta = new Map((db.prepare('SELECT key, value FROM herald_meta').all() as MetaRow[]).map((row) => [row.key, row.value]))
  const version = meta.get('schema_version')
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    invalidSchema(`schema_version is ${version === undefined ? 'missing' : JSON.stringify(version)}`)
  }
  if (version > SQLITE_HISTORY_SCHEMA_VERSION) {
    throw new HubError(
      'ERR_HUB_HISTORY_SCHEMA_UNSUPPORTED',
      `${OWNER}: the file has schema version ${version}, newer than the ${SQLITE_HISTORY_SCHEMA_VERSION} this Herald ` +
        'supports; upgrade Herald or use another file',
    )
  }
  const epoch = meta.get('epoch')
  if (typeof epoch !== 'string' || epoch.length === 0) invalidSchema('the epoch is missing')
  const pruned = meta.get('pruned_through')
  if (typeof pruned !== 'number' || !Number.isSafeInteger(pruned) || pruned < 0) invalidSchema('pruned_through is missing')
  if (!tables.includes('herald_updates')) invalidSchema('the herald_updates table is missing')
  return epoch
}

/** Runs `fn` again while it fails with SQLITE_BUSY, for up to `timeoutMs`, waiting a little longer each time. */
function retryWhileBusy<T>(timeoutMs: number, fn: () => T): T {
  const deadline = Date.now() + timeoutMs
  const sleeper = new Int32Array(new SharedArrayBuffer(4))
  for (let delayMs = 5; ; delayMs = Math.min(delayMs * 2, 100)) {
    try {
      return fn()
    } catch (error) {
      const code = (error as { code?: unknown }).code
      if (typeof code !== 'string' || !code.startsWith('SQLITE_BUSY') || Date.now() >= deadline) throw error
      // The constructor is synchronous: block this thread briefly rather than spin.
      Atomics.wait(sleeper, 0, 0, delayMs)
    }
  }
}

/** Creates the tables and metadata of a new file, or checks an existing one. Returns the epoch. */
function createSchema(db: Database.Database): string {
  const existing = readSchema(db)
  if (existing !== undefined) return existing
  db.exec(SCHEMA)
  const epoch = randomUUID()
  const insert = db.prepare('INSERT INTO herald_meta (key, value) VALUES (?, ?)')
  insert.run('schema_version', SQLITE_HISTORY_SCHEMA_VERSION)
  insert.run('epoch', epoch)
  insert.run('pruned_through', 0)
  return epoch
}

function invalidSchema(detail: string): never {
  throw new HubError('ERR_HUB_HISTORY_SCHEMA_INVALID', `${OWNER}: the file's Herald metadata is damaged: ${detail}`)
}

function toUpdate(row: UpdateRow): HubUpdate {
  const update: { -readonly [K in keyof HubUpdate]: HubUpdate[K] } = {
    id: row.id,
    topics: JSON.parse(row.topics) as string[],
    data: row.data,
    private: row.private === 1,
  }
  if (row.type !== null) update.type = row.type
  if (row.retry !== null) update.retry = row.retry
  return update
}

/** Wraps a SQLite failure as `ERR_HUB_HISTORY_UNAVAILABLE`; other errors (ours, or from `match`) pass through. */
function storageFailure(error: unknown, action: string): unknown {
  return error instanceof Database.SqliteError ? unavailable(error, action) : error
}

function unavailable(error: unknown, action: string): HubError {
  const code = error instanceof Database.SqliteError ? ` (${error.code})` : ''
  return new HubError('ERR_HUB_HISTORY_UNAVAILABLE', `${OWNER}: could not ${action}: ${messageOf(error)}${code}`, { cause: error })
}

function ignoreError(): void {}
