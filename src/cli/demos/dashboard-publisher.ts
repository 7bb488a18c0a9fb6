import type { Hub } from '../../hub/index.js'
import { startTicker, type RunningPublisher } from './ticker.js'

/** The topic the dashboard figures are published to. */
export const DASHBOARD_TOPIC = 'dashboard'
/** How often the dashboard figures are published: every second. */
export const DEFAULT_DASHBOARD_INTERVAL_MS = 1000

/** One dashboard update: what one hub process sees, as the JSON `data` of an update on the `dashboard` topic. */
export interface DashboardSnapshot {
  /** When the figures were read (ISO 8601). */
  readonly time: string
  /** The worker's number (1 for a single process). */
  readonly worker: number
  readonly pid: number
  readonly uptimeSeconds: number
  /** Open subscriber connections. */
  readonly connections: number
  /** Active subscriptions (one per topic selector per subscriber). */
  readonly subscriptions: number
  /** Distinct exact topics subscribers listen to. */
  readonly topics: number
  /** Updates retained in history. */
  readonly historySize: number
  readonly publishesTotal: number
  readonly deliveriesTotal: number
  /** Updates published per second since the previous snapshot. */
  readonly publishesPerSecond: number
  /** Deliveries to subscribers per second since the previous snapshot. */
  readonly deliveriesPerSecond: number
  /** Subscribers the hub disconnected (slow, token expired, drain). */
  readonly evictionsTotal: number
  /** Requests answered with an error. */
  readonly rejectedTotal: number
  /** Resident memory of the process, in bytes. */
  readonly rssBytes: number
}

/** Options of {@link startDashboardPublisher}. */
export interface DashboardPublisherOptions {
  /** Milliseconds between two snapshots. @defaultValue {@link DEFAULT_DASHBOARD_INTERVAL_MS} */
  readonly intervalMs?: number
  /** The topic. @defaultValue {@link DASHBOARD_TOPIC} */
  readonly topic?: string
  /** This process's worker number. @defaultValue 1 */
  readonly worker?: number
  /** Receives a failed read or publish; publishing goes on. */
  readonly onError?: (error: unknown) => void
}

const METRIC_NAMES = {
  connections: 'herald_connections',
  subscriptions: 'herald_subscriptions',
  topics: 'herald_topics',
  historySize: 'herald_history_size',
  publishes: 'herald_publishes_total',
  deliveries: 'herald_deliveries_total',
  evictions: 'herald_evictions_total',
  rejected: 'herald_rejected_requests_total',
} as const

/**
 * Reads the hub's own metrics every second and publishes them as a {@link DashboardSnapshot} to the `dashboard`
 * topic, so the live dashboard page is fed by SSE from the hub itself. Rates are differences between two snapshots
 * divided by the time between them. With several workers each publishes its own snapshot, told apart by `worker`.
 *
 * @example
 * ```ts
 * const dashboard = startDashboardPublisher(hub, { worker: 1 })
 * await dashboard.stop()
 * ```
 */
export function startDashboardPublisher(hub: Pick<Hub, 'publish' | 'metrics' | 'connections'>, options: DashboardPublisherOptions = {}): RunningPublisher {
  const intervalMs = options.intervalMs ?? DEFAULT_DASHBOARD_INTERVAL_MS
  const topic = options.topic ?? DASHBOARD_TOPIC
  const worker = options.worker ?? 1
  const started = Date.now()
  let previous: { at: number; publishes: number; deliveries: number } | undefined
  return startTicker(intervalMs, async () => {
    const totals = await readTotals(hub)
    const at = Date.now()
    const seconds = previous === undefined ? 0 : (at - previous.at) / 1000
    const rate = (now: number, before: number | undefined): number =>
      seconds <= 0 || before === undefined ? 0 : Math.round(((now - before) / seconds) * 10) / 10
    const snapshot: DashboardSnapshot = {
      time: new Date(at).toISOString(),
      worker,
      pid: process.pid,
      uptimeSeconds: Math.round((at - started) / 1000),
      connections: hub.connections,
      subscriptions: totals.subscriptions,
      topics: totals.topics,
      historySize: totals.historySize,
      publishesTotal: totals.publishes,
      deliveriesTotal: totals.deliveries,
      publishesPerSecond: rate(totals.publishes, previous?.publishes),
      deliveriesPerSecond: rate(totals.deliveries, previous?.deliveries),
      evictionsTotal: totals.evictions,
      rejectedTotal: totals.rejected,
      rssBytes: process.memoryUsage.rss(),
    }
    previous = { at, publishes: totals.publishes, deliveries: totals.deliveries }
    await hub.publish({ topics: topic, data: JSON.stringify(snapshot) })
  }, options.onError)
}

async function readTotals(hub: Pick<Hub, 'metrics'>): Promise<Record<keyof typeof METRIC_NAMES, number>> {
  const metrics = await hub.metrics.registry.getMetricsAsJSON()
  const sum = (name: string): number => {
    const metric = metrics.find((m) => m.name === name)
    return metric === undefined ? 0 : metric.values.reduce((total, v) => total + v.value, 0)
  }
  const totals = {} as Record<keyof typeof METRIC_NAMES, number>
  for (const [key, name] of Object.entries(METRIC_NAMES) as [keyof typeof METRIC_NAMES, string][]) totals[key] = sum(name)
  return totals
}
