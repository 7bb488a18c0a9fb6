import type { TopicSelector, TopicSelectorSpec } from './topic-selector.js'
import type { HubMessage, HubUpdate } from './update.js'

/** One connected subscriber, as the registry sees it. */
export interface RegisteredSubscriber {
  /** The subscriber's IRI (`urn:uuid:…`), shared by all its subscriptions. */
  readonly id: string
  /** The topic selectors it asked for. */
  readonly selector: TopicSelector
  /**
   * What its token lets it read of private updates: an update marked private reaches it only when this matches at
   * least one of the update's topics. `null`: public updates only.
   */
  readonly privateAccess: TopicSelector | null
  /** The `mercure.payload` of its token, published with its subscriptions. */
  readonly payload: unknown
  /**
   * Receives a matching, authorised message with its encoded event bytes (the same bytes for every subscriber).
   * Returns whether the message went to the subscriber's stream now (not held during a replay, nor dropped).
   */
  deliver(message: HubMessage, bytes: Uint8Array): boolean
  /** Receives an out-of-band event, such as the gap event after a broker outage. */
  notify(bytes: Uint8Array): void
}

/** A subscription as the subscriptions API and subscription events show it: one selector of one subscriber. */
export interface SubscriptionView {
  readonly topic: string
  readonly subscriber: string
  readonly payload: unknown
}

interface Entry {
  readonly subscriber: RegisteredSubscriber
  /** The exact topics it is indexed under, or `undefined` when it must be tested against every update. */
  readonly exact: readonly string[] | undefined
  /** The dispatch stamp of the last message offered to it: a subscriber matching several topics gets it once. */
  stamp: number
}

/**
 * The connected subscribers, indexed for fan-out: subscribers whose selectors are all exact topics sit in a map from
 * topic to subscribers, so an update visits only those subscribed to one of its topics; subscribers with `*`, URI
 * templates or URL patterns are tested one by one.
 */
export class SubscriberRegistry {
  readonly #byTopic = new Map<string, Set<Entry>>()
  readonly #scanned = new Set<Entry>()
  readonly #entries = new Map<RegisteredSubscriber, Entry>()
  #stamp = 0
  #subscriptions = 0

  /** The number of connected subscribers. */
  get size(): number {
    return this.#entries.size
  }

  /** Adds a subscriber; from now on it is offered every dispatched message. */
  add(subscriber: RegisteredSubscriber): void {
    if (this.#entries.has(subscriber)) return
    const exact = exactTopics(subscriber.selector.specs)
    const entry: Entry = { subscriber, exact, stamp: this.#stamp }
    this.#entries.set(subscriber, entry)
    this.#subscriptions += subscriber.selector.specs.length
    if (exact === undefined) {
      this.#scanned.add(entry)
      return
    }
    for (const topic of exact) {
      let set = this.#byTopic.get(topic)
      if (set === undefined) {
        set = new Set()
        this.#byTopic.set(topic, set)
      }
      set.add(entry)
    }
  }

  /** Removes a subscriber; a subscriber not registered is ignored. */
  remove(subscriber: RegisteredSubscriber): void {
    const entry = this.#entries.get(subscriber)
    if (entry === undefined) return
    this.#entries.delete(subscriber)
    this.#subscriptions -= subscriber.selector.specs.length
    if (entry.exact === undefined) {
      this.#scanned.delete(entry)
      return
    }
    for (const topic of entry.exact) {
      const set = this.#byTopic.get(topic)
      set?.delete(entry)
      if (set?.size === 0) this.#byTopic.delete(topic)
    }
  }

  /**
   * Offers a message to every subscriber whose selectors match one of its topics and who may read it (private
   * updates need `privateAccess` matching one of the topics). `encode` runs at most once, only when someone
   * receives the message. Returns the number of subscribers whose stream it went to now (see
   * {@link RegisteredSubscriber.deliver}), so that a caller counts deliveries once per message, not once per subscriber.
   */
  dispatch(message: HubMessage, encode: (update: HubUpdate) => Uint8Array): number {
    const stamp = ++this.#stamp
    const { update } = message
    let bytes: Uint8Array | undefined
    let delivered = 0
    const offer = (entry: Entry, selectorChecked: boolean): void => {
      if (entry.stamp === stamp) return
      entry.stamp = stamp
      const { subscriber } = entry
      if (!selectorChecked && !subscriber.selector.matches(update.topics)) return
      if (update.private && (subscriber.privateAccess === null || !subscriber.privateAccess.matches(update.topics))) return
      bytes ??= encode(update)
      if (subscriber.deliver(message, bytes)) delivered++
    }
    for (const topic of update.topics) {
      const set = this.#byTopic.get(topic)
      if (set !== undefined) for (const entry of set) offer(entry, true)
    }
    for (const entry of this.#scanned) offer(entry, false)
    return delivered
  }

  /** Every registered subscriber. */
  subscribers(): IterableIterator<RegisteredSubscriber> {
    return this.#entries.keys()
  }

  /** Every subscription (one per selector of each subscriber), for the subscriptions API. */
  *subscriptions(): IterableIterator<SubscriptionView> {
    for (const { subscriber } of this.#entries.values()) {
      for (const spec of subscriber.selector.specs) yield { topic: spec.value, subscriber: subscriber.id, payload: subscriber.payload }
    }
  }

  /** The number of subscriptions: one per selector of each subscriber. */
  get subscriptionCount(): number {
    return this.#subscriptions
  }

  /** The number of distinct exact topics subscribers are indexed under (a metrics gauge). */
  get indexedTopics(): number {
    return this.#byTopic.size
  }
}

/** The exact topics of a selector list, or `undefined` when one selector is `*`, a template or a pattern. */
function exactTopics(specs: readonly TopicSelectorSpec[]): string[] | undefined {
  const topics: string[] = []
  for (const spec of specs) {
    if (spec.value === '*' || spec.kind === 'urlpattern') return undefined
    // A 'topic' selector is an RFC 6570 template: braces make it a pattern, and a non-ASCII literal also matches its
    // percent-encoded form, so only plain ASCII ones are exact.
    if (spec.kind === 'topic' && !/^[\x20-\x7a\x7c\x7e]*$/.test(spec.value)) return undefined
    topics.push(spec.value)
  }
  return topics
}
