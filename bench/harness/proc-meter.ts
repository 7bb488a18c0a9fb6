/**
 * Measures a server's cost from /proc: CPU time and resident memory of its processes and all their
 * descendants, as point samples and as a peak tracked in the background.
 */
import {
  CLOCK_TICKS_PER_SECOND,
  PAGE_BYTES,
  processTree,
  readContextSwitches,
  readProcStat,
  readWriteCalls,
  type ContextSwitches,
  type ProcStat,
} from './process-tree.js'

/** Interval of the background peak-RSS sampling. @defaultValue 250 ms */
export const DEFAULT_PEAK_SAMPLE_MS = 250

/** One measurement of a process tree. */
export interface ProcSample {
  /** CPU time (user + system) in µs; resolution one clock tick (10 ms). */
  readonly cpuUs: number
  /** Resident memory, KB. */
  readonly rssKB: number
  /** Processes in the tree. */
  readonly processes: number
}

/** One root's tree, as {@link ProcMeter.usageByRoot} reads it. */
export interface RootUsage {
  /** CPU time (user + system, reaped children included with descendants), µs. */
  readonly cpuUs: number
  /** Write system calls of its live processes so far (`syscw` of /proc/<pid>/io); `null` when none was readable. */
  readonly writeCalls: number | null
  /** Context switches of its live processes' threads so far; `null` when none was readable. */
  readonly contextSwitches: ContextSwitches | null
}

/**
 * A meter over the process trees rooted at `roots()`; roots are re-read at each sample, so a system may
 * restart a process.
 *
 * @example
 * const meter = new ProcMeter(() => system.pids())
 * meter.startPeakTracking()
 * const before = meter.sample()
 * // … load …
 * const cpuUs = meter.sample().cpuUs - before.cpuUs
 * meter.stop()
 */
export class ProcMeter {
  private peak = 0
  private timer: NodeJS.Timeout | null = null

  /**
   * @param roots - The PIDs to measure, re-read at each sample.
   * @param options.descendants - Also measure every descendant of the roots. @defaultValue true
   */
  constructor(
    private readonly roots: () => readonly number[],
    private readonly options: { readonly descendants?: boolean } = {},
  ) {}

  /** Reads the tree now (and updates the peak RSS). */
  sample(): ProcSample {
    let ticks = 0
    let pages = 0
    const descendants = this.options.descendants !== false
    const tree = descendants
      ? processTree(this.roots())
      : this.roots()
          .map(readProcStat)
          .filter((stat): stat is ProcStat => stat !== null)
    for (const stat of tree) {
      // Over a whole tree, reaped children's time is work done by short-lived helpers of the tree (live
      // children are counted on their own). For single processes it would be unrelated earlier children.
      ticks += stat.cpuTicks + (descendants ? stat.reapedChildTicks : 0)
      pages += stat.rssPages
    }
    const rssKB = (pages * PAGE_BYTES) / 1024
    if (rssKB > this.peak) this.peak = rssKB
    return { cpuUs: (ticks / CLOCK_TICKS_PER_SECOND) * 1e6, rssKB, processes: tree.length }
  }

  /**
   * CPU time (µs), write system calls and context switches of each root's tree now, by root PID, from one reading of
   * each tree: where a system of several processes (two hub nodes and an engine, say) spends its time, how often it
   * hands data to the kernel (the main cost of a server whose sockets are on the same machine), and how often it
   * sleeps, wakes and is preempted. `writeCalls` and `contextSwitches` count live processes only, and are `null` when
   * no process of the tree could be read (another user's, without root). Does not touch the peak RSS.
   */
  usageByRoot(): Map<number, RootUsage> {
    const descendants = this.options.descendants !== false
    const byRoot = new Map<number, RootUsage>()
    for (const root of this.roots()) {
      let ticks = 0
      let writeCalls: number | null = null
      let contextSwitches: ContextSwitches | null = null
      for (const stat of this.treeOf(root)) {
        ticks += stat.cpuTicks + (descendants ? stat.reapedChildTicks : 0)
        const calls = readWriteCalls(stat.pid)
        if (calls !== null) writeCalls = (writeCalls ?? 0) + calls
        contextSwitches = addSwitches(contextSwitches, readContextSwitches(stat.pid))
      }
      byRoot.set(root, { cpuUs: (ticks / CLOCK_TICKS_PER_SECOND) * 1e6, writeCalls, contextSwitches })
    }
    return byRoot
  }

  private treeOf(root: number): ProcStat[] {
    if (this.options.descendants !== false) return processTree([root])
    return [readProcStat(root)].filter((stat): stat is ProcStat => stat !== null)
  }

  /** Samples every `intervalMs` in the background until {@link ProcMeter.stop}. */
  startPeakTracking(intervalMs = DEFAULT_PEAK_SAMPLE_MS): void {
    if (this.timer) return
    this.timer = setInterval(() => this.sample(), intervalMs)
    this.timer.unref()
  }

  /** Highest RSS seen by any sample so far, KB. */
  get peakRssKB(): number {
    return this.peak
  }

  /** Stops background sampling. */
  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }
}

/** The sum of two readings of context switches, either of which may be missing (`null`). */
function addSwitches(a: ContextSwitches | null, b: ContextSwitches | null): ContextSwitches | null {
  if (a === null || b === null) return a ?? b
  return { voluntary: a.voluntary + b.voluntary, involuntary: a.involuntary + b.involuntary }
}
