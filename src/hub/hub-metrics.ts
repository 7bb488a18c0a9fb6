import { Counter, Gauge, Registry } from 'prom-client'

/** The hub's Prometheus metrics, in a registry of its own (so several hubs in one process do not collide). */
export interface HubMetrics {
  /** The registry to expose at `/metrics`. */
  readonly registry: Registry
  readonly publishes: Counter
  readonly deliveries: Counter
  readonly evictions: Counter<'reason'>
  readonly rejected: Counter<'code'>
}

/** What the gauges read when scraped. */
export interface HubGaugeSources {
  connections(): number
  subscriptions(): number
  topics(): number
  historySize(): Promise<number>
}

/**
 * Creates the hub's metrics: `herald_connections`, `herald_subscriptions`, `herald_topics` and `herald_history_size`
 * gauges read at scrape time; `herald_publishes_total`, `herald_deliveries_total`, `herald_evictions_total{reason}`
 * (subscribers disconnected by the hub: slow consumer, token expiry, drain) and `herald_rejected_requests_total{code}`
 * counters.
 */
export function createHubMetrics(sources: HubGaugeSources): HubMetrics {
  const registry = new Registry()
  new Gauge({ name: 'herald_connections', help: 'Open subscriber connections.', registers: [registry], collect() { this.set(sources.connections()) } })
  new Gauge({ name: 'herald_subscriptions', help: 'Active subscriptions (one per topic selector per subscriber).', registers: [registry], collect() { this.set(sources.subscriptions()) } })
  new Gauge({ name: 'herald_topics', help: 'Distinct exact topics subscribers are indexed under.', registers: [registry], collect() { this.set(sources.topics()) } })
  new Gauge({
    name: 'herald_history_size',
    help: 'Updates retained in history.',
    registers: [registry],
    async collect() {
      this.set(await sources.historySize())
    },
  })
  return {
    registry,
    publishes: new Counter({ name: 'herald_publishes_total', help: 'Updates published.', registers: [registry] }),
    deliveries: new Counter({ name: 'herald_deliveries_total', help: 'Updates delivered to subscribers (one per subscriber).', registers: [registry] }),
    evictions: new Counter({ name: 'herald_evictions_total', help: 'Subscribers disconnected by the hub.', labelNames: ['reason'] as const, registers: [registry] }),
    rejected: new Counter({ name: 'herald_rejected_requests_total', help: 'Requests answered with an error.', labelNames: ['code'] as const, registers: [registry] }),
  }
}
