import { ServerError } from './errors.js'

/** How long a session may stay silent before it writes a keep-alive comment: 15 seconds. */
export const DEFAULT_KEEP_ALIVE_MS = 15_000

/** The coarsest rounding of due times into buckets: timers fire at most this much late. */
const MAX_GRANULARITY_MS = 1000

/** Something the scheduler keeps alive: a session, as far as the scheduler is concerned. */
export interface KeepAliveTarget {
  /** When the target last wrote to its client, on the scheduler's clock ({@link KeepAliveScheduler.now}). */
  readonly lastWriteAt: number
  /** Writes a keep-alive (a comment) now. Called only after `intervalMs` without a write. */
  keepAlive(): void
}

/**
 * One timer for the keep-alives of every session.
 *
 * Targets are kept in buckets by due time (rounded up to an eighth of their interval, at most one second), and a
 * single timer is armed for the earliest bucket. When a bucket falls due, a target that wrote since it was
 * scheduled is moved to its new due time without writing; the others get {@link KeepAliveTarget.keepAlive}. The
 * timer is unref'd where the runtime allows it, so it never keeps a process alive on its own, and it is cleared when
 * the last target leaves.
 */
export interface KeepAliveScheduler {
  /**
   * Schedules `target` to be kept alive every `intervalMs` of silence. Returns the function that removes it (safe
   * to call twice).
   */
  add(target: KeepAliveTarget, intervalMs: number): () => void
  /** The scheduler's clock, in milliseconds: what {@link KeepAliveTarget.lastWriteAt} is measured with. */
  now(): number
  /** How many targets are scheduled. */
  readonly size: number
  /** Whether the shared timer is armed (it is whenever {@link KeepAliveScheduler.size} is above zero). */
  readonly timerArmed: boolean
}

/** Options of {@link createKeepAliveScheduler}. */
export interface KeepAliveSchedulerOptions {
  /**
   * The clock, in milliseconds; must not go backwards.
   * @defaultValue `() => performance.now()`
   */
  now?: () => number
}

interface Entry {
  readonly target: KeepAliveTarget
  readonly intervalMs: number
  readonly granularityMs: number
  /** The bucket holding the entry, or `null` while it is being processed or once removed. */
  bucket: number | null
  removed: boolean
}

type Timer = ReturnType<typeof setTimeout>

/**
 * Creates a keep-alive scheduler. Sessions use {@link defaultKeepAliveScheduler} unless given another one; a
 * separate scheduler is useful for tests or to isolate groups of sessions.
 *
 * @example
 * ```ts
 * const scheduler = createKeepAliveScheduler()
 * const session = createSession(sink, request, { keepAliveMs: 10_000, keepAliveScheduler: scheduler })
 * scheduler.size // 1
 * ```
 */
export function createKeepAliveScheduler(options: KeepAliveSchedulerOptions = {}): KeepAliveScheduler {
  const now = options.now ?? (() => performance.now())
  if (typeof now !== 'function') throw new ServerError('ERR_SERVER_INVALID_OPTION', 'keep-alive `now` must be a function')
  const buckets = new Map<number, Set<Entry>>()
  let size = 0
  let timer: Timer | undefined
  let armedFor = Infinity

  function place(entry: Entry, dueAt: number): void {
    const key = Math.ceil(dueAt / entry.granularityMs) * entry.granularityMs
    let bucket = buckets.get(key)
    if (bucket === undefined) buckets.set(key, (bucket = new Set()))
    bucket.add(entry)
    entry.bucket = key
    if (key < armedFor) arm(key)
  }

  function arm(key: number): void {
    if (timer !== undefined) clearTimeout(timer)
    armedFor = key
    timer = setTimeout(tick, Math.max(0, key - now()))
    // Node returns a Timeout object; browsers and workers a number, which needs no unref.
    if (typeof timer === 'object' && typeof timer.unref === 'function') timer.unref()
  }

  function disarm(): void {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    armedFor = Infinity
  }

  function tick(): void {
    timer = undefined
    armedFor = Infinity
    const at = now()
    const due: Entry[] = []
    for (const [key, bucket] of buckets) {
      if (key > at + 1) continue
      buckets.delete(key)
      for (const entry of bucket) {
        entry.bucket = null
        due.push(entry)
      }
    }
    for (const entry of due) {
      // An earlier target's keep-alive may have closed and removed this one.
      if (entry.removed) continue
      const dueAt = entry.target.lastWriteAt + entry.intervalMs
      // Timers may fire a millisecond early; a target within that of its due time is due.
      if (dueAt <= at + 1) {
        place(entry, at + entry.intervalMs)
        entry.target.keepAlive()
      } else {
        place(entry, dueAt)
      }
    }
    let earliest = Infinity
    for (const key of buckets.keys()) if (key < earliest) earliest = key
    if (earliest !== Infinity && earliest < armedFor) arm(earliest)
  }

  return {
    add(target, intervalMs) {
      if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
        throw new ServerError('ERR_SERVER_INVALID_OPTION', `a keep-alive interval must be a positive number of milliseconds, not ${String(intervalMs)}`)
      }
      const granularityMs = Math.min(MAX_GRANULARITY_MS, Math.max(1, Math.floor(intervalMs / 8)))
      const entry: Entry = { target, intervalMs, granularityMs, bucket: null, removed: false }
      size++
      place(entry, target.lastWriteAt + intervalMs)
      return () => {
        if (entry.removed) return
        entry.removed = true
        size--
        if (entry.bucket !== null) {
          const bucket = buckets.get(entry.bucket)
          bucket?.delete(entry)
          if (bucket?.size === 0) buckets.delete(entry.bucket)
          entry.bucket = null
        }
        if (size === 0) disarm()
      }
    },
    now,
    get size() {
      return size
    },
    get timerArmed() {
      return timer !== undefined
    },
  }
}

/** The scheduler every session shares unless given another: one timer for the whole process. */
export const defaultKeepAliveScheduler: KeepAliveScheduler = createKeepAliveScheduler()
