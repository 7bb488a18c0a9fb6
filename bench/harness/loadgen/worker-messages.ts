/**
 * Messages between the load coordinator (parent) and its subscriber worker processes, over the Node IPC
 * channel (JSON serialisation).
 */
import type { HistogramSnapshot } from '../histogram.js'

/** One topic as a worker sees it. */
export interface WorkerTopic {
  /** Absolute `http://127.x.y.z:port/…` subscribe URL. */
  readonly url: string
  /** Several subscribe URLs of one system (cluster nodes): subscriber `i` uses `urls[⌊i / topics⌋ % length]`. */
  readonly urls?: readonly string[]
  /** Messages that will be published to this topic (a subscriber's expected count). */
  readonly expected: number
}

/** Sent once, right after the fork: which subscribers this worker opens and how. */
export interface WorkerStart {
  readonly type: 'start'
  readonly workerIndex: number
  readonly workerCount: number
  /** Subscribers over all workers; this worker opens indices `workerIndex, workerIndex + workerCount, …`. */
  readonly subscribers: number
  /** Subscriber `i` listens on `topics[i % topics.length]`. */
  readonly topics: readonly WorkerTopic[]
  /** Extra request headers for every subscribe request. */
  readonly headers: Readonly<Record<string, string>>
  /** Subscriber `i` binds `addresses[i % addresses.length]`, port `portBase + floor(i / addresses.length)`. */
  readonly addresses: readonly string[]
  /** `null`: the kernel picks source ports. */
  readonly portBase: number | null
  /** Connection attempts in flight at once in this worker. */
  readonly connectConcurrency: number
  readonly connectTimeoutMs: number
  readonly progressIntervalMs: number
}

/** Parent → worker. `collect` freezes the counters and asks for a report; `close` ends the worker. */
export type ParentMessage = WorkerStart | { readonly type: 'collect' } | { readonly type: 'close' }

/** Running counters, sent every `progressIntervalMs` while something changes. */
export interface WorkerProgress {
  readonly type: 'progress'
  /** Every connection attempt of this worker has ended (open or failed). */
  readonly connectDone: boolean
  readonly attempted: number
  readonly established: number
  readonly failed: number
  /** Open streams that have received a warm-up message. */
  readonly ready: number
  /** Distinct expected messages received, over all streams. */
  readonly delivered: number
  /** Messages still expected by streams that are open. */
  readonly outstanding: number
  /** Streams that ended while the run was going on. */
  readonly dropped: number
}

/** Final numbers of one worker, answering `collect`. */
export interface WorkerReport {
  readonly type: 'report'
  readonly established: number
  readonly failed: number
  readonly failuresByReason: Readonly<Record<string, number>>
  readonly ready: number
  readonly dropped: number
  readonly dropsByReason: Readonly<Record<string, number>>
  /** Sum of expected messages over established streams. */
  readonly expected: number
  readonly delivered: number
  readonly duplicates: number
  readonly outOfOrder: number
  readonly unexpected: number
  /** Subscribers whose explicit source port was taken and that fell back to a kernel-chosen port. */
  readonly portFallbacks: number
  /** Publish-to-receive latency of every distinct delivery, µs. */
  readonly latency: HistogramSnapshot
  /** connect() to response head, µs. */
  readonly connectLatency: HistogramSnapshot
  /** CLOCK_MONOTONIC µs of the first and last measured delivery (`null` when none). */
  readonly firstDeliveryUs: number | null
  readonly lastDeliveryUs: number | null
  /** This worker's own CPU time (user + system), µs, and peak RSS, KB. */
  readonly cpuUs: number
  readonly maxRssKB: number
}

/** Worker → parent. */
export type WorkerMessage = WorkerProgress | WorkerReport | { readonly type: 'fatal'; readonly message: string }
