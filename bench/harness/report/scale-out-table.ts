/**
 * The scale-out summary: two hub nodes on a shared engine against one node, from the medians of the runs of each
 * set-up on one scenario. It checks the targets of docs/scale-out.md (summed CPU per delivery at most
 * {@link SCALE_OUT_CPU_TARGET} times one node's, median latency at most {@link SCALE_OUT_P50_TARGET_MS} above it)
 * against one node on memory and against one node on the same engine.
 */
import { formatMs, markdownTable } from './markdown-table.js'
import { groupMedian, groupRuns, uncappedTitle, type RunGroup } from './run-groups.js'
import type { RunResult } from './run-result.js'

/** Two nodes may spend at most this many times one node's CPU per delivery. @defaultValue 1.3 */
export const SCALE_OUT_CPU_TARGET = 1.3
/** Two nodes' median latency may be at most this many milliseconds above one node's. @defaultValue 2 */
export const SCALE_OUT_P50_TARGET_MS = 2

/** The one-node baseline (memory), then each engine's one-node and two-node systems. */
const MEMORY_NODE = 'herald-hub'
const ENGINES = ['redis', 'nats'] as const
const SYSTEM_ORDER = [MEMORY_NODE, ...ENGINES.flatMap((engine) => [`herald-hub-${engine}-1`, `herald-hub-${engine}-2`])]

/**
 * The scale-out table of `results`, one block of rows per scenario (runs of another shape, such as `--subscribers
 * 500`, count as another scenario) that has a two-node run and a one-node memory run; `null` when none has.
 *
 * @example
 * renderScaleOutTable(results)
 * // | scenario | set-up | runs | CPU µs / delivery | ÷ 1 node, memory | ÷ 1 node, same engine | p50 ms | …
 */
export function renderScaleOutTable(results: readonly RunResult[]): string | null {
  const byScenario = new Map<string, RunResult[]>()
  for (const r of results) {
    if (!SYSTEM_ORDER.includes(r.system.name)) continue
    const title = uncappedTitle(r)
    const runs = byScenario.get(title) ?? []
    runs.push(r)
    byScenario.set(title, runs)
  }
  const rows: string[][] = []
  for (const runs of byScenario.values()) rows.push(...scenarioRows(groupRuns(runs, SYSTEM_ORDER)))
  if (rows.length === 0) return null
  const header = [
    'scenario',
    'set-up',
    'runs',
    'CPU µs / delivery',
    '÷ 1 node, memory',
    '÷ 1 node, same engine',
    'run by run: ÷ memory; ÷ same engine',
    'p50 ms',
    'p50 − 1 node, memory',
    'context switches / delivery',
  ]
  const targets =
    `Targets: two nodes at most ${SCALE_OUT_CPU_TARGET}× one node's CPU per delivery (✓ or ✗ after each ratio), ` +
    `and a p50 at most ${SCALE_OUT_P50_TARGET_MS} ms above one memory node's, judged as printed. Medians of each ` +
    "set-up's quiet runs; CPU summed over every hub process and the engine. Run by run: the range of each two-node " +
    "run's ratios to the one-node run of its own round (the k-th runs of both set-ups, in start order, quiet or not); " +
    '- where the two set-ups have different numbers of runs.'
  return `${markdownTable(header, rows)}\n\n${targets}`
}

/** The rows of one scenario's groups; none without a memory node and a two-node set-up. */
function scenarioRows(groups: readonly RunGroup[]): string[][] {
  const find = (system: string): RunGroup | undefined => groups.find((g) => g.system === system)
  const memory = find(MEMORY_NODE)
  if (memory === undefined || !ENGINES.some((engine) => find(`herald-hub-${engine}-2`) !== undefined)) return []
  const cpu = (g: RunGroup | undefined): number | null =>
    g === undefined ? null : groupMedian(g, (r) => r.server.cpuUsPerDelivery)
  const p50 = (g: RunGroup): number | null => groupMedian(g, (r) => r.delivery.latency.p50Ms)
  const memoryCpu = cpu(memory)
  const memoryP50 = p50(memory)
  return groups.map((g) => {
    const twoNodes = g.system.endsWith('-2')
    const oneNode = twoNodes ? find(g.system.replace(/-2$/, '-1')) : undefined
    const own = cpu(g)
    const ownP50 = p50(g)
    const latencyDelta = ownP50 === null || memoryP50 === null || g === memory ? null : ownP50 - memoryP50
    return [
      g.scenarioTitle,
      g.system,
      String(g.quietRuns.length),
      own === null ? '-' : own.toFixed(2),
      g === memory ? '1' : ratio(own, memoryCpu, twoNodes),
      twoNodes ? ratio(own, cpu(oneNode), true) : '',
      twoNodes ? `${pairedRange(g, memory)}; ${pairedRange(g, oneNode)}` : '',
      formatMs(ownP50),
      latencyDelta === null ? '' : signedMs(latencyDelta, twoNodes),
      perDelivery(groupMedian(g, contextSwitchesPerDelivery)),
    ]
  })
}

function ratio(value: number | null, base: number | null, judged: boolean): string {
  if (value === null || base === null || base <= 0) return '-'
  // Judged as printed, to two decimals: finer than that, the runs of one set-up differ more than the digits say.
  const times = value / base
  const text = `${times.toFixed(2)}×`
  return judged ? `${text} ${Number(times.toFixed(2)) <= SCALE_OUT_CPU_TARGET ? '✓' : '✗'}` : text
}

/**
 * The range of the ratios of `twoNodes`'s runs to `base`'s, the k-th run to the k-th (both groups in start order, so
 * each pair ran in the same round and shared the machine's state). Every run counts, quiet or not: leaving one out
 * would pair the runs of different rounds. `-` unless both have the same number of runs.
 */
function pairedRange(twoNodes: RunGroup, base: RunGroup | undefined): string {
  if (base === undefined || base.runs.length !== twoNodes.runs.length) return '-'
  const ratios: number[] = []
  twoNodes.runs.forEach((run, k) => {
    const own = run.server.cpuUsPerDelivery
    const baseCpu = base.runs[k]?.server.cpuUsPerDelivery ?? null
    if (own !== null && baseCpu !== null && baseCpu > 0) ratios.push(own / baseCpu)
  })
  if (ratios.length === 0) return '-'
  const low = Math.min(...ratios).toFixed(2)
  const high = Math.max(...ratios).toFixed(2)
  return low === high ? `${low}×` : `${low}–${high}×`
}

function signedMs(delta: number, judged: boolean): string {
  const text = `${delta >= 0 ? '+' : '−'}${Math.abs(delta).toFixed(1)} ms`
  return judged ? `${text} ${Number(delta.toFixed(1)) <= SCALE_OUT_P50_TARGET_MS ? '✓' : '✗'}` : text
}

function perDelivery(value: number | null): string {
  return value === null ? '-' : value.toFixed(4)
}

/** Context switches of every root process in the publish phase per delivery; `null` for results without them. */
function contextSwitchesPerDelivery(r: RunResult): number | null {
  const counts = r.server.contextSwitchesPublishByRoot
  if (counts === undefined || counts.length === 0 || r.delivery.delivered === 0) return null
  const total = counts.reduce((sum, entry) => sum + entry.voluntary + entry.involuntary, 0)
  return total / r.delivery.delivered
}
