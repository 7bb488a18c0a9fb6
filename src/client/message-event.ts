/** What the client passes to a `MessageEvent` constructor. */
export interface SourceMessageEventInit<T> {
  data: T
  lastEventId: string
  origin: string
}

/**
 * A minimal `MessageEvent` for runtimes without one: an `Event` with `data`, `lastEventId`, `origin`, an empty
 * `ports` list and a `null` `source`, which is all an event source ever sets.
 */
export class MinimalMessageEvent<T> extends Event {
  readonly data: T
  readonly lastEventId: string
  readonly origin: string
  readonly ports: readonly never[] = []
  readonly source: null = null

  constructor(type: string, init: SourceMessageEventInit<T>) {
    super(type)
    this.data = init.data
    this.lastEventId = init.lastEventId
    this.origin = init.origin
  }
}

/**
 * The `MessageEvent` constructor the client dispatches with: the runtime's own (every browser; Node 15 and later),
 * else {@link MinimalMessageEvent}.
 */
export const SourceMessageEvent: new <T>(type: string, init: SourceMessageEventInit<T>) => MessageEvent<T> =
  typeof globalThis.MessageEvent === 'function'
    ? globalThis.MessageEvent
    : (MinimalMessageEvent as unknown as new <T>(type: string, init: SourceMessageEventInit<T>) => MessageEvent<T>)
