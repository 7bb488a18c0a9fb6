import { SourceMessageEvent } from './message-event.js'

/** One `addEventListener` call that is still in force. */
export interface Entry {
  readonly listener: EventListenerOrEventListenerObject
  readonly capture: boolean
  readonly once: boolean
  /** What is registered with the `EventTarget` itself, so that `dispatchEvent` reaches the listener too. */
  readonly native: (event: Event) => void
  readonly signal: AbortSignal | undefined
  readonly onAbort: (() => void) | undefined
  removed: boolean
}

/** The `EventTarget` methods the registry mirrors listeners into. */
export interface NativeListeners {
  add(type: string, listener: (event: Event) => void, options: AddEventListenerOptions): void
  remove(type: string, listener: (event: Event) => void, options: EventListenerOptions): void
}

/**
 * The listeners of an `EventSource`, kept in order so that the source can hand each event of its stream to them
 * directly, as a browser's native `EventSource` does, without the cost of `dispatchEvent` per event.
 *
 * Every listener is also registered with the `EventTarget` (through a wrapper), so `dispatchEvent` still reaches it,
 * `open` and `error` events go the usual way, and both paths agree on the DOM's rules: listeners run in the order
 * they were added; the same listener with the same `capture` is added once; a listener removed during a dispatch is
 * not called, one added during a dispatch waits for the next event; `once` removes before the call; an aborted
 * `signal` removes; `stopImmediatePropagation()` skips the rest; a listener that throws does not stop the others, and
 * its error is reported as uncaught, as `dispatchEvent` reports it.
 */
export class ListenerRegistry {
  readonly #target: EventTarget
  readonly #native: NativeListeners
  /** The entries of each type. Each array is replaced, never changed, so a dispatch iterates a stable snapshot. */
  readonly #byType = new Map<string, readonly Entry[]>()

  constructor(target: EventTarget, native: NativeListeners) {
    this.#target = target
    this.#native = native
  }

  /** `addEventListener`, with the DOM's options. */
  add(type: string, listener: EventListenerOrEventListenerObject | null, options: boolean | AddEventListenerOptions | undefined): void {
    if (listener === null) return
    // Plain JavaScript callers can pass anything.
    const given: unknown = listener
    if (typeof given !== 'function' && typeof given !== 'object') {
      throw new TypeError('The "listener" argument must be a function or an object with a handleEvent method')
    }
    const capture = typeof options === 'boolean' ? options : options?.capture === true
    const once = typeof options === 'object' && options.once === true
    const passive = typeof options === 'object' && options.passive === true
    const signal = typeof options === 'object' ? options.signal : undefined
    if (signal?.aborted === true) return
    const entries = this.#byType.get(type) ?? []
    if (entries.some((e) => e.listener === listener && e.capture === capture)) return
    const entry: Entry = {
      listener,
      capture,
      once,
      signal,
      removed: false,
      native: (event) => {
        if (entry.removed) return
        if (entry.once) this.#removeEntry(type, entry)
        invoke(entry.listener, this.#target, event)
      },
      onAbort: signal === undefined ? undefined : () => this.#removeEntry(type, entry),
    }
    this.#byType.set(type, [...entries, entry])
    this.#native.add(type, entry.native, { capture, passive })
    if (signal !== undefined && entry.onAbort !== undefined) signal.addEventListener('abort', entry.onAbort, { once: true })
  }

  /** `removeEventListener`. */
  remove(type: string, listener: EventListenerOrEventListenerObject | null, options: boolean | EventListenerOptions | undefined): void {
    if (listener === null) return
    const capture = typeof options === 'boolean' ? options : options?.capture === true
    const entry = this.#byType.get(type)?.find((e) => e.listener === listener && e.capture === capture)
    if (entry !== undefined) this.#removeEntry(type, entry)
  }

  /** The listeners of `type`, a snapshot for {@link ListenerRegistry.dispatch}; `undefined` when there is none. */
  of(type: string): readonly Entry[] | undefined {
    return this.#byType.get(type)
  }

  /** Hands `event` to `entries`, the listeners of its type taken with {@link ListenerRegistry.of}, in order. */
  dispatch(event: SourceMessageEvent, entries: readonly Entry[]): void {
    SourceMessageEvent.beginDispatch(event, this.#target)
    try {
      for (const entry of entries) {
        if (entry.removed) continue
        if (entry.once) this.#removeEntry(event.type, entry)
        try {
          invoke(entry.listener, this.#target, event)
        } catch (error) {
          reportUncaught(error)
        }
        if (SourceMessageEvent.stopped(event)) break
      }
    } finally {
      SourceMessageEvent.endDispatch(event)
    }
  }

  #removeEntry(type: string, entry: Entry): void {
    if (entry.removed) return
    entry.removed = true
    const rest = (this.#byType.get(type) ?? []).filter((e) => e !== entry)
    if (rest.length === 0) this.#byType.delete(type)
    else this.#byType.set(type, rest)
    this.#native.remove(type, entry.native, { capture: entry.capture })
    if (entry.signal !== undefined && entry.onAbort !== undefined) entry.signal.removeEventListener('abort', entry.onAbort)
  }
}

function invoke(listener: EventListenerOrEventListenerObject, target: EventTarget, event: Event): void {
  if (typeof listener === 'function') listener.call(target, event)
  else listener.handleEvent(event)
}

/**
 * Reports a listener's error the way `dispatchEvent` does: as an uncaught exception, after the dispatch (in Node,
 * `process` emits `uncaughtException`; in a browser, `window` gets an `error` event).
 */
function reportUncaught(error: unknown): void {
  queueMicrotask(() => {
    throw error
  })
}
