/** Whole-machine CPU time from /proc/stat, to see how much of a phase went to processes outside the run. */
import { readFileSync } from 'node:fs'
import { CLOCK_TICKS_PER_SECOND } from './process-tree.js'

/**
 * CPU time all cores spent busy (user, nice, system, irq, softirq, steal) since boot, in µs.
 * Idle and iowait are not busy.
 *
 * @example
 * const before = machineBusyUs()
 * // … phase …
 * const busySeconds = (machineBusyUs() - before) / 1e6
 */
export function machineBusyUs(): number {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0] ?? ''
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  return ((user + nice + system + irq + softirq + steal) / CLOCK_TICKS_PER_SECOND) * 1e6
}
