import type { Broker, MissedMessages } from '../../broker/broker.js'
import type { HistoryStore } from '../../history/history-store.js'
import { compareOffsets, type StreamPosition } from '../../stream-position.js'
import type { HubMessage } from '../../update.js'

/**
 * What a hub node does with one subscription: it takes live messages from the broker and, when the broker reports
 * that messages may have been missed, re-reads history after the last position it saw, holding live messages back
 * meanwhile and dropping those it already has.
 */
export class ResumingSubscriber {
  readonly seen: HubMessage[] = []
  readonly missedEvents: MissedMessages[] = []
  recovered = 0
  gaps = 0
  #last: StreamPosition
  /** Live messages held back while history is re-read. */
  #held: HubMessage[] = []
  #reads = 0
  #resync: Promise<void> = Promise.resolve()

  constructor(
    readonly history: HistoryStore,
    start: StreamPosition,
  ) {
    this.#last = start
  }

  async attach(broker: Broker): Promise<void> {
    await broker.subscribe((message) => this.#live(message), {
      onMissed: (event) => {
        // Hold live messages from now on: the broker calls this before any message of the new connection.
        this.missedEvents.push(event)
        this.#reads++
        this.#resync = this.#resync.then(() => this.#readHistory())
      },
    })
  }

  #live(message: HubMessage): void {
    if (this.#reads > 0) this.#held.push(message)
    else this.#accept(message, false)
  }

  #accept(message: HubMessage, fromHistory: boolean): void {
    const sameEpoch = message.position.epoch === this.#last.epoch
    if (sameEpoch && compareOffsets(message.position.offset, this.#last.offset) <= 0) return
    this.seen.push(message)
    this.#last = message.position
    if (fromHistory) this.recovered++
  }

  async #readHistory(): Promise<void> {
    try {
      let from = this.#last
      for (;;) {
        const page = await this.history.readAfter(from, { match: () => true, limit: 100 })
        if (page.gap) this.gaps++
        for (const message of page.messages) this.#accept(message, true)
        if (page.done || page.next === undefined) break
        from = page.next
      }
    } finally {
      // Release the held messages once no re-read is queued behind this one.
      if (--this.#reads === 0) for (const message of this.#held.splice(0)) this.#accept(message, false)
    }
  }
}
