/** What the client passes to a message event's constructor. */
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

const DISPATCHING = 1
const STOPPED = 2

/** The runtime's own `MessageEvent` (every browser; Node 15 and later), else {@link MinimalMessageEvent}. */
const BaseMessageEvent = (typeof globalThis.MessageEvent === 'function' ? globalThis.MessageEvent : MinimalMessageEvent) as typeof MessageEvent

/**
 * The `MessageEvent` an `EventSource` dispatches for each event of its stream: an instance of the runtime's
 * `MessageEvent`, which the source hands to its listeners itself, as a browser's native `EventSource` does, rather
 * than through `dispatchEvent` (bench/client.bench.mjs: Node's `dispatchEvent` costs more per event than parsing).
 * While the source dispatches it, `target` and `currentTarget` are the source and `eventPhase` is `AT_TARGET`, as
 * with `dispatchEvent`; dispatched again elsewhere, it reports that dispatch's values.
 */
export class SourceMessageEvent<T = unknown> extends BaseMessageEvent<T> {
  // Two fields, not three: each private field costs a store per event (bench/client.bench.mjs).
  #source: EventTarget | null = null
  /** {@link DISPATCHING} and {@link STOPPED} bits. */
  #state = 0

  /** Marks the start of the source's dispatch of `event` to its listeners. */
  static beginDispatch(event: SourceMessageEvent, source: EventTarget): void {
    event.#source = source
    event.#state |= DISPATCHING
  }

  /** Marks the end of the source's dispatch. */
  static endDispatch(event: SourceMessageEvent): void {
    event.#state &= ~DISPATCHING
  }

  /** Whether a listener called `stopImmediatePropagation()`. */
  static stopped(event: SourceMessageEvent): boolean {
    return (event.#state & STOPPED) !== 0
  }

  override stopImmediatePropagation(): void {
    this.#state |= STOPPED
    super.stopImmediatePropagation()
  }

  static {
    // Accessors, defined on the prototype: the DOM typings declare these as plain properties, which a class may not
    // override with accessors. A native dispatch sets the base class's values, which then win.
    const base = BaseMessageEvent.prototype
    const read = (name: 'target' | 'currentTarget' | 'eventPhase', self: Event): unknown => Reflect.get(base, name, self)
    Object.defineProperties(SourceMessageEvent.prototype, {
      target: {
        configurable: true,
        get(this: SourceMessageEvent) {
          return (read('target', this) as EventTarget | null) ?? this.#source
        },
      },
      currentTarget: {
        configurable: true,
        get(this: SourceMessageEvent) {
          return (this.#state & DISPATCHING) !== 0 ? this.#source : read('currentTarget', this)
        },
      },
      eventPhase: {
        configurable: true,
        get(this: SourceMessageEvent) {
          return (this.#state & DISPATCHING) !== 0 ? Event.AT_TARGET : read('eventPhase', this)
        },
      },
    })
  }
}
