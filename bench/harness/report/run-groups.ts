/**
 * Groups run results by scenario and system, and picks the runs a summary should rest on: on a shared
 * machine, the ones that other processes disturbed least.
 */
import { SCENARIO_IDS } from '../scenarios.js'
import type { RunResult } from './run-result.js'

/**
 * Runs in which other processes used more than this share of the machine's CPU while publishing are left
 * out of summaries and charts, unless no other run of that system and scenario exists. @defaultValue 0.25
 */
export const QUIET_RUN_BACKGROUND_LIMIT = 0.25

/** The runs of one system on one scenario. */
export interface RunGroup {
  readonly scenarioId: string
  /** The scenario's title without a per-system cap suffix. */
  readonly scenarioTitle: string
  readonly system: string
  /** Every run, in report order. */
  readonly runs: readonly RunResult[]
  /** The runs summaries use: those within {@link QUIET_RUN_BACKGROUND_LIMIT}, or all when none is. */
  readonly quietRuns: readonly RunResult[]
}

/** Share of the machine's CPU that other processes used during a run's publish phase (0…1). */
export function backgroundShare(r: RunResult): number {
  const { otherSeconds, wallSeconds } = r.cpuPublishPhase
  return wallSeconds > 0 ? otherSeconds / (wallSeconds * Math.max(1, r.machine.cpus)) : 0
}

/** The title of a run's scenario without the suffix a per-system cap adds (`A 1k × 1000 @100/s (capped 500)`). */
export function uncappedTitle(r: RunResult): string {
  return r.scenario.title.replace(/ \(capped \d+\)$/, '')
}

/** Median of `values`; `null` when empty. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[mid] ?? null) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

/** Median of `pick` over the group's quiet runs, ignoring `null`s. */
export function groupMedian(group: RunGroup, pick: (r: RunResult) => number | null): number | null {
  return median(group.quietRuns.map(pick).filter((v): v is number => v !== null))
}

/**
 * The groups, scenarios in S, A, B, C order and systems in `systemOrder`.
 *
 * @example
 * for (const g of groupRuns(results, ['nchan', 'naive'])) groupMedian(g, (r) => r.server.cpuUsPerDelivery)
 */
export function groupRuns(results: readonly RunResult[], systemOrder: readonly string[]): RunGroup[] {
  const groups = new Map<string, { scenarioId: string; scenarioTitle: string; system: string; runs: RunResult[] }>()
  for (const r of sortResults(results, systemOrder)) {
    const key = `${r.scenario.id}\u0000${r.system.name}`
    let group = groups.get(key)
    if (!group) {
      group = {
        scenarioId: r.scenario.id,
        scenarioTitle: uncappedTitle(r),
        system: r.system.name,
        runs: [],
      }
      groups.set(key, group)
    }
    group.runs.push(r)
  }
  return [...groups.values()].map((g) => {
    const quiet = g.runs.filter((r) => backgroundShare(r) <= QUIET_RUN_BACKGROUND_LIMIT)
    return { ...g, quietRuns: quiet.length > 0 ? quiet : g.runs }
  })
}

/** Stable report order: scenario S, A, B, C, then the order in which systems are listed. */
export function sortResults(results: readonly RunResult[], systemOrder: readonly string[]): RunResult[] {
  const scenarioRank = (id: string): number => {
    const i = (SCENARIO_IDS as readonly string[]).indexOf(id)
    return i < 0 ? SCENARIO_IDS.length : i
  }
  const systemRank = (name: string): number => {
    const i = systemOrder.indexOf(name)
    return i < 0 ? systemOrder.length : i
  }
  return [...results].sort(
    (a, b) =>
      scenarioRank(a.scenario.id) - scenarioRank(b.scenario.id) ||
      systemRank(a.system.name) - systemRank(b.system.name) ||
      a.startedAt.localeCompare(b.startedAt),
  )
}
