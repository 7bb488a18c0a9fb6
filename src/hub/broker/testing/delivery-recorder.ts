import type { HubMessage } from '../../update.js'
import type { Broker, MissedMessages } from '../broker.js'

/** What {@link deliveryRecorder} returns: the records, and how to subscribe a broker to them. */
export interface DeliveryRecorder {
  /** The messages delivered, in delivery order. */
  readonly received: HubMessage[]
  /** The `onMissed` events, in call order. */
  readonly missed: MissedMessages[]
  /** Subscribes to `broker`, recording its messages and `onMissed` events. */
  readonly listen: (broker: Broker) => Promise<unknown>
}

/**
 * Records what one subscription receives: its messages and its `onMissed` events.
 *
 * @example
 * ```ts
 * const { received, missed, listen } = deliveryRecorder()
 * await listen(broker)
 * ```
 */
export function deliveryRecorder(): DeliveryRecorder {
  const received: HubMessage[] = []
  const missed: MissedMessages[] = []
  return {
    received,
    missed,
    listen: (broker) => broker.subscribe((message) => received.push(message), { onMissed: (event) => missed.push(event) }),
  }
}
