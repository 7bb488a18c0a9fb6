/**
 * Waits, within a bound, for the machine to be quiet before a run: on a shared machine, numbers taken
 * while other processes use the CPU measure them as much as the system under test.
 */
import { availableParallelism } from 'node:os'
import { machineBusyUs } from './machine-cpu.js'

/** Window over which the machine's load is measured. @defaultValue 2,000 ms */
const WINDOW_MS = 2_000
/** Busy share of all cores under which the machine counts as quiet. @defaultValue 0.2 */
export const QUIET_BUSY_SHARE = 0.2

/**
 * Measures the busy share of all cores over 2 s windows until it is below `busyShare` or `maxWaitMs` has
 * passed. Resolves to the last share measured (0…1), so the caller can note a run that started busy.
 *
 * @example
 * const share = await waitForQuietMachine({ maxWaitMs: 60_000, signal, onWait: (s) => progress.update(…) })
 */
export async function waitForQuietMachine(options: {
  readonly maxWaitMs: number
  readonly busyShare?: number
  readonly signal: AbortSignal
  readonly onWait?: (busyShare: number) => void
}): Promise<number> {
  const threshold = options.busyShare ?? QUIET_BUSY_SHARE
  const deadline = Date.now() + options.maxWaitMs
  const cores = availableParallelism()
  let share = 0
  do {
    const before = machineBusyUs()
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS))
    share = (machineBusyUs() - before) / (WINDOW_MS * 1000 * cores)
    if (share < threshold) return share
    options.onWait?.(share)
  } while (Date.now() < deadline && !options.signal.aborted)
  return share
}
