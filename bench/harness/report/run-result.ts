/**
 * The JSON written for every run (`bench/out/<time>-<system>-<scenario>.json`) and read back by the
 * report writer. Field names carry their units.
 */
import type { HistogramSnapshot, LatencySummary } from '../histogram.js'

/** Identifies the format; bumped when a field changes meaning. */
export const RUN_RESULT_SCHEMA = 'herald-bench-hub/1'

/** Subscriber connections. */
export interface ConnectionResult {
  readonly requested: number
  readonly established: number
  readonly failed: number
  readonly failuresByReason: Readonly<Record<string, number>>
  /** Wall time from the first connect() to the last attempt ending. */
  readonly connectSeconds: number
  /** connect() to response head. */
  readonly connectLatency: LatencySummary
  /** Established streams that never received a warm-up message before publishing started. */
  readonly notReady: number
  /** Streams the server ended during the run. */
  readonly dropped: number
  readonly dropsByReason: Readonly<Record<string, number>>
}

/** The publisher. */
export interface PublishResult {
  readonly sent: number
  readonly acked: number
  readonly errors: number
  readonly errorsByOutcome: Readonly<Record<string, number>>
  /** First send to last acknowledgement. */
  readonly seconds: number
  readonly achievedRatePerSecond: number
  readonly ackLatency: LatencySummary
  /** Rate mode: how far behind schedule sends started (a backlog in the publisher or the server). */
  readonly sendLag: LatencySummary
}

/** What the subscribers received. */
export interface DeliveryResult {
  /** Σ over established streams of the messages published to their topic. */
  readonly expected: number
  /** Distinct expected messages received. */
  readonly delivered: number
  /** expected − delivered. */
  readonly lost: number
  readonly duplicates: number
  /** Received after a message that was published only once this one had been acknowledged. */
  readonly outOfOrder: number
  /** Messages of another topic, or unknown numbers (a routing bug in the system). */
  readonly unexpected: number
  /** delivered / (last delivery − first publish). */
  readonly deliveriesPerSecond: number
  /** Publish (send) to receive. */
  readonly latency: LatencySummary
  /** The full latency histogram, µs, for later analysis. */
  readonly latencyHistogram: HistogramSnapshot
}

/** The server's cost, from /proc, over its processes and their descendants. */
export interface ServerResult {
  readonly rootPids: readonly number[]
  readonly processes: number
  readonly cpuConnectSeconds: number
  /** CPU while idle with every subscriber connected (scenarios with a hold time). */
  readonly cpuHoldSeconds: number
  readonly cpuPublishSeconds: number
  /**
   * The publish phase's CPU of each root process's tree, in the order of `rootPids` (a hub node, the engine's server):
   * where a system of several processes spends it. Absent in results written before it was measured.
   */
  readonly cpuPublishSecondsByRoot?: readonly { readonly pid: number; readonly seconds: number }[]
  /**
   * The publish phase's write system calls (`syscw` of /proc/<pid>/io) of each root process's tree whose counts were
   * readable, in the order of `rootPids`: how many times the server handed data to the kernel. Absent in results
   * written before it was measured.
   */
  readonly writeCallsPublishByRoot?: readonly { readonly pid: number; readonly calls: number }[]
  /**
   * The publish phase's context switches (voluntary: a thread slept and was woken; involuntary: it was preempted) of
   * each root process's tree whose counts were readable, summed over the threads alive at its end, in the order of
   * `rootPids`. Absent in results written before it was measured.
   */
  readonly contextSwitchesPublishByRoot?: readonly {
    readonly pid: number
    readonly voluntary: number
    readonly involuntary: number
  }[]
  /** cpuPublishSeconds / delivered, µs (`null` without deliveries). */
  readonly cpuUsPerDelivery: number | null
  readonly rssBeforeKB: number
  readonly rssConnectedKB: number
  readonly rssPeakKB: number
  readonly rssAfterKB: number
  /** (rssConnectedKB − rssBeforeKB) / established (`null` without connections). */
  readonly rssPerConnectionKB: number | null
}

/** The load generator's own cost (to see when the client, not the server, was the limit). */
export interface ClientResult {
  readonly workers: number
  readonly sourceAddresses: readonly string[]
  readonly explicitSourcePorts: boolean
  readonly portFallbacks: number
  readonly cpuSeconds: number
  readonly rssPeakKB: number
}

/**
 * Where the machine's CPU went while publishing. The harness shares the machine with anything else
 * running on it; a large `otherSeconds` marks a run disturbed by background load.
 */
export interface PublishPhaseCpu {
  /** Wall time of the publish phase (first publish to end of drain). */
  readonly wallSeconds: number
  /** Busy CPU time of all cores together, from /proc/stat. */
  readonly machineBusySeconds: number
  readonly serverSeconds: number
  /** The load workers and the publishing harness process. */
  readonly clientSeconds: number
  /** machine − server − client (not below 0): everything else on the machine. */
  readonly otherSeconds: number
}

/** One run of one system on one scenario. */
export interface RunResult {
  readonly schema: typeof RUN_RESULT_SCHEMA
  readonly startedAt: string
  readonly system: { readonly name: string; readonly version: string }
  readonly scenario: {
    readonly id: string
    readonly title: string
    /** `false` for `--quick` or overridden scenarios: not comparable with the published figures. */
    readonly standard: boolean
    readonly subscribers: number
    readonly messages: number
    readonly ratePerSecond: number
    readonly topics: number
    readonly payloadBytes: number
    readonly holdMs: number
  }
  readonly machine: {
    readonly cpus: number
    readonly cpuModel: string
    readonly memoryMB: number
    readonly kernel: string
    readonly node: string
    readonly fdLimit: number
    /** 1-minute load average when the run started. */
    readonly loadAverage1m: number
  }
  readonly connections: ConnectionResult
  readonly publish: PublishResult
  readonly delivery: DeliveryResult
  readonly server: ServerResult
  readonly client: ClientResult
  readonly cpuPublishPhase: PublishPhaseCpu
  /** Anything a reader of the numbers must know (capped scenario, warm-up timeout, …). */
  readonly notes: readonly string[]
}

/** Parses and checks a result file's content. */
export function parseRunResult(text: string, source: string): RunResult {
  const value = JSON.parse(text) as Partial<RunResult> | null
  if (value?.schema !== RUN_RESULT_SCHEMA) throw new Error(`${source}: not a ${RUN_RESULT_SCHEMA} result`)
  return value as RunResult
}
