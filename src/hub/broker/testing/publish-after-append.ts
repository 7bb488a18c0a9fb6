import type { HistoryStore } from '../../history/history-store.js'
import type { HubMessage } from '../../update.js'
import type { Broker } from '../broker.js'

/**
 * The `publish` of a `brokerConformance` fixture for a broker that delivers what a history holds: appends the update
 * to `history` first, as the hub does, then publishes it with the position the history returned, and resolves with
 * that message.
 *
 * @example
 * ```ts
 * return { open: ({ onError }) => new RedisStreamBroker({ keyPrefix, onError }), publish: publishAfterAppend(history) }
 * ```
 */
export function publishAfterAppend(history: HistoryStore): (broker: Broker, message: HubMessage) => Promise<HubMessage> {
  return async (broker, message) => {
    const position = await history.append(message.update)
    const published = { update: message.update, position }
    await broker.publish(published)
    return published
  }
}
