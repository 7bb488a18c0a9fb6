/** Renders run results as a markdown table and as one-line summaries. */
import { backgroundShare, groupMedian, QUIET_RUN_BACKGROUND_LIMIT, sortResults, type RunGroup } from './run-groups.js'
import type { RunResult } from './run-result.js'

const int = (n: number): string => Math.round(n).toLocaleString('en')

/** `123456` → `123.5k`, `1.2e6` → `1.20M`. */
export function formatRate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`
  return n.toFixed(0)
}

/** Milliseconds with a precision that suits their size; `-` for none. */
export function formatMs(ms: number | null): string {
  if (ms === null) return '-'
  if (ms < 10) return ms.toFixed(2)
  if (ms < 100) return ms.toFixed(1)
  return ms.toFixed(0)
}

const fixed = (n: number | null, digits: number): string => (n === null ? '-' : n.toFixed(digits))
const mb = (kb: number): string => (kb / 1024).toFixed(0)

/**
 * One line per run for the terminal.
 *
 * @example
 * formatSummaryLine(result)
 * // '1,000,000/1,000,000 delivered (0 lost, 0 dup, 0 out of order, 0 dropped), 100.0k/s, p50 9.30 ms, p99 85.1 ms, …'
 */
export function formatSummaryLine(r: RunResult): string {
  const d = r.delivery
  return (
    `${int(d.delivered)}/${int(d.expected)} delivered (${int(d.lost)} lost, ${int(d.duplicates)} dup, ` +
    `${int(d.outOfOrder)} out of order, ${int(r.connections.dropped)} dropped), ` +
    `${int(r.connections.established)}/${int(r.connections.requested)} connected, ${formatRate(d.deliveriesPerSecond)}/s, ` +
    `p50 ${formatMs(d.latency.p50Ms)} ms, p99 ${formatMs(d.latency.p99Ms)} ms, ` +
    `server ${fixed(r.server.cpuUsPerDelivery, 1)} µs/delivery, ${fixed(r.server.rssPerConnectionKB, 1)} KB/conn`
  )
}

/**
 * The results table: one row per run.
 *
 * @example
 * renderMarkdownTable(results, ['nchan', 'pushpin', 'naive', 'better-sse'])
 */
export function renderMarkdownTable(results: readonly RunResult[], systemOrder: readonly string[]): string {
  const header = [
    'scenario',
    'system',
    'connected',
    'delivered / expected (lost)',
    'dup / out of order / dropped',
    'deliveries/s',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'max ms',
    'server CPU µs / delivery',
    'server RSS MB before → connected → peak',
    'server KB / conn',
    'client CPU s',
    'other CPU s',
  ]
  const rows = sortResults(results, systemOrder).map((r) => {
    const d = r.delivery
    const s = r.server
    return [
      r.scenario.title,
      r.system.name,
      `${int(r.connections.established)}/${int(r.connections.requested)}`,
      `${int(d.delivered)} / ${int(d.expected)} (${int(d.lost)})`,
      `${int(d.duplicates)} / ${int(d.outOfOrder)} / ${int(r.connections.dropped)}`,
      formatRate(d.deliveriesPerSecond),
      formatMs(d.latency.p50Ms),
      formatMs(d.latency.p90Ms),
      formatMs(d.latency.p99Ms),
      formatMs(d.latency.maxMs),
      fixed(s.cpuUsPerDelivery, 1),
      `${mb(s.rssBeforeKB)} → ${mb(s.rssConnectedKB)} → ${mb(s.rssPeakKB)}`,
      fixed(s.rssPerConnectionKB, 1),
      r.client.cpuSeconds.toFixed(1),
      r.cpuPublishPhase.otherSeconds.toFixed(1),
    ]
  })
  return markdownTable(header, rows)
}

/**
 * One row per system and scenario: medians over the group's quiet runs, losses summed over all its runs.
 *
 * @example
 * renderSummaryTable(groupRuns(results, systemOrder))
 */
export function renderSummaryTable(groups: readonly RunGroup[]): string {
  const header = [
    'scenario',
    'system',
    'runs (quiet)',
    'lost (streams dropped / not connected)',
    'deliveries/s',
    'p50 ms',
    'p99 ms',
    'server CPU µs / delivery',
    'server KB / conn',
    'server RSS peak MB',
  ]
  const rows = groups.map((g) => {
    const expected = g.runs.reduce((acc, r) => acc + r.delivery.expected, 0)
    const lost = g.runs.reduce((acc, r) => acc + r.delivery.lost, 0)
    const dropped = g.runs.reduce((acc, r) => acc + r.connections.dropped, 0)
    const failed = g.runs.reduce((acc, r) => acc + r.connections.failed, 0)
    const share = expected > 0 ? (lost / expected) * 100 : 0
    const lostText =
      lost === 0 && dropped === 0 && failed === 0
        ? '0'
        : `${lost === 0 ? '0' : `${share < 0.01 ? '<0.01' : share.toPrecision(2)} %`} (${int(dropped)} / ${int(failed)})`
    const m = (pick: (r: RunResult) => number | null): number | null => groupMedian(g, pick)
    const rate = m((r) => r.delivery.deliveriesPerSecond)
    const peak = m((r) => r.server.rssPeakKB)
    return [
      g.scenarioTitle,
      g.system,
      `${g.runs.length} (${g.runs.filter((r) => backgroundShare(r) <= QUIET_RUN_BACKGROUND_LIMIT).length})`,
      lostText,
      rate === null ? '-' : formatRate(rate),
      formatMs(m((r) => r.delivery.latency.p50Ms)),
      formatMs(m((r) => r.delivery.latency.p99Ms)),
      fixed(m((r) => r.server.cpuUsPerDelivery), 1),
      fixed(m((r) => r.server.rssPerConnectionKB), 1),
      peak === null ? '-' : mb(peak),
    ]
  })
  return markdownTable(header, rows)
}

/**
 * A markdown table: the header, its separator and one line per row, with any `|` in a cell escaped.
 *
 * @example
 * markdownTable(['system', 'p50 ms'], [['nchan', '4.2']]) // '| system | p50 ms |\n| --- | --- |\n| nchan | 4.2 |'
 */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}
