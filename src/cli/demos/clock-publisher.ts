import type { Hub } from '../../hub/index.js'
import { startTicker, type RunningPublisher } from './ticker.js'

/** The topic the clock publishes to. */
export const CLOCK_TOPIC = 'clock'
/** How often the clock publishes: every second. */
export const DEFAULT_CLOCK_INTERVAL_MS = 1000

/** Options of {@link startClockPublisher}. */
export interface ClockPublisherOptions {
  /** Milliseconds between two ticks. @defaultValue {@link DEFAULT_CLOCK_INTERVAL_MS} */
  readonly intervalMs?: number
  /** The topic. @defaultValue {@link CLOCK_TOPIC} */
  readonly topic?: string
  /** Receives a failed publish (the hub draining, history unavailable); the clock keeps ticking. */
  readonly onError?: (error: unknown) => void
}

/**
 * Publishes the time to the `clock` topic on every tick, aligned to the wall clock's interval boundaries, as JSON
 * `{"time":"2025-01-01T12:00:00.000Z","epochMs":1735732800000}` (the seed demo). A tick is skipped while the previous
 * publish is still under way, so a slow history cannot pile publishes up.
 *
 * @example
 * ```ts
 * const clock = startClockPublisher(hub)
 * await clock.stop()
 * ```
 */
export function startClockPublisher(hub: Pick<Hub, 'publish'>, options: ClockPublisherOptions = {}): RunningPublisher {
  const intervalMs = options.intervalMs ?? DEFAULT_CLOCK_INTERVAL_MS
  const topic = options.topic ?? CLOCK_TOPIC
  return startTicker(intervalMs, async () => {
    const now = Date.now()
    await hub.publish({ topics: topic, data: JSON.stringify({ time: new Date(now).toISOString(), epochMs: now }) })
  }, options.onError)
}
