// Counting helpers shared by the machine benchmarks (wakeup.bench.mjs, split.bench.mjs).
import { readdirSync, readFileSync } from 'node:fs'

/** Voluntary + involuntary context switches of every thread of `pid`, or `null` where /proc does not tell. */
export function contextSwitches(pid) {
  try {
    let total = 0
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'latin1')
      for (const match of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s*(\d+)$/gm)) total += Number(match[1])
    }
    return total
  } catch {
    return null
  }
}

/** `after - before`, or `null` when either count is unknown. */
export function difference(after, before) {
  return after === null || before === null ? null : after - before
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
