/**
 * The benchmark scenarios. Each one is a number of subscribers, a number of messages and a publish rate;
 * `--quick` swaps in scaled-down versions that finish in seconds (a smoke run, not a measurement).
 */

/** Scenario ids, in the order they run. */
export const SCENARIO_IDS = ['S', 'A', 'B', 'C'] as const
/** One of {@link SCENARIO_IDS}. */
export type ScenarioId = (typeof SCENARIO_IDS)[number]

/** A load shape. */
export interface Scenario {
  readonly id: ScenarioId
  /** Short title for tables, e.g. `A 1k × 1000 @100/s`. */
  readonly title: string
  readonly description: string
  readonly subscribers: number
  readonly messages: number
  /** Messages per second over all topics; 0 = each publish waits for the previous acknowledgement. */
  readonly ratePerSecond: number
  /** Topics; subscriber `i` listens on topic `i % topics`, message `seq` goes to topic `(seq − 1) % topics`. */
  readonly topics: number
  readonly payloadBytes: number
  /** Idle time with every subscriber connected before publishing (memory and keep-alive cost). */
  readonly holdMs: number
}

const FULL: Readonly<Record<ScenarioId, Scenario>> = {
  S: {
    id: 'S',
    title: 'S 1k × 2000 ack-paced',
    description: '1,000 subscribers, 2,000 messages, each published when the previous one was acknowledged',
    subscribers: 1_000,
    messages: 2_000,
    ratePerSecond: 0,
    topics: 1,
    payloadBytes: 64,
    holdMs: 0,
  },
  A: {
    id: 'A',
    title: 'A 1k × 1000 @100/s',
    description: '1,000 subscribers, 1,000 messages at 100 per second (100k deliveries/s offered)',
    subscribers: 1_000,
    messages: 1_000,
    ratePerSecond: 100,
    topics: 1,
    payloadBytes: 64,
    holdMs: 0,
  },
  B: {
    id: 'B',
    title: 'B 10k × 60 @2/s',
    description: '10,000 subscribers, 60 messages at 2 per second (20k deliveries/s offered)',
    subscribers: 10_000,
    messages: 60,
    ratePerSecond: 2,
    topics: 1,
    payloadBytes: 64,
    holdMs: 0,
  },
  C: {
    id: 'C',
    title: 'C 19k idle + 5',
    description: '19,000 idle subscribers held for 10 s, then 5 messages to all at 1 per second',
    subscribers: 19_000,
    messages: 5,
    ratePerSecond: 1,
    topics: 1,
    payloadBytes: 64,
    holdMs: 10_000,
  },
}

const QUICK: Readonly<Record<ScenarioId, Scenario>> = {
  S: { ...FULL.S, title: 'S quick 100 × 200 ack-paced', subscribers: 100, messages: 200 },
  A: { ...FULL.A, title: 'A quick 100 × 100 @100/s', subscribers: 100, messages: 100 },
  B: { ...FULL.B, title: 'B quick 1k × 6 @2/s', subscribers: 1_000, messages: 6 },
  C: { ...FULL.C, title: 'C quick 2k idle + 5', subscribers: 2_000, ratePerSecond: 5, holdMs: 1_000 },
}

/** Values from the command line that replace a scenario's own. */
export interface ScenarioOverrides {
  readonly subscribers?: number
  readonly messages?: number
  readonly ratePerSecond?: number
  readonly topics?: number
  readonly payloadBytes?: number
  readonly holdMs?: number
}

/** Type guard for scenario ids typed on the command line. */
export function isScenarioId(value: string): value is ScenarioId {
  return (SCENARIO_IDS as readonly string[]).includes(value)
}

/**
 * The scenario to run: the full or quick version, with overrides applied. A scenario changed in any way
 * gets a title that says so, so its numbers are never mistaken for the standard ones.
 *
 * @example
 * resolveScenario('A', { quick: false, overrides: { subscribers: 20, messages: 5 } }).title
 * // 'A custom 20 × 5 @100/s'
 */
export function resolveScenario(
  id: ScenarioId,
  options: { readonly quick: boolean; readonly overrides: ScenarioOverrides },
): Scenario & { readonly standard: boolean } {
  const base = options.quick ? QUICK[id] : FULL[id]
  const merged: Scenario = { ...base, ...options.overrides }
  const changed = (Object.keys(options.overrides) as (keyof ScenarioOverrides)[]).some(
    (key) => options.overrides[key] !== undefined && options.overrides[key] !== base[key],
  )
  if (!changed) return { ...merged, standard: !options.quick }
  const rate = merged.ratePerSecond > 0 ? `@${merged.ratePerSecond}/s` : 'ack-paced'
  const hold = merged.holdMs > 0 ? ` hold ${merged.holdMs / 1000}s` : ''
  return { ...merged, title: `${id} custom ${merged.subscribers} × ${merged.messages} ${rate}${hold}`, standard: false }
}
