export type { HistoryCapabilities, HistoryStore, ReadQuery, ReadResult } from './history-store.js'
export {
  DEFAULT_MEMORY_HISTORY_MAX_AGE_MS,
  DEFAULT_MEMORY_HISTORY_MAX_BYTES,
  DEFAULT_MEMORY_HISTORY_MAX_ENTRIES,
  DEFAULT_MEMORY_HISTORY_MAX_SCAN,
  MemoryHistory,
} from './memory-history.js'
export type { MemoryHistoryOptions } from './memory-history.js'
export {
  DEFAULT_SQLITE_HISTORY_BUSY_TIMEOUT_MS,
  DEFAULT_SQLITE_HISTORY_MAX_AGE_MS,
  DEFAULT_SQLITE_HISTORY_MAX_ENTRIES,
  DEFAULT_SQLITE_HISTORY_MAX_SCAN,
  SQLITE_HISTORY_SCHEMA_VERSION,
  SqliteHistory,
} from './sqlite-history.js'
export type { SqliteHistoryOptions } from './sqlite-history.js'
