import type { Sink } from '../sink.js'

/** A {@link Sink} that records what the session does with it, with a switch to simulate a full socket. */
export interface RecordingSink extends Sink {
  /** Every chunk written, in order. */
  readonly writes: Uint8Array[]
  /** Everything written, decoded. */
  text(): string
  /** While `true`, `write` reports "not drained": `false` (boolean mode) or a pending promise (promise mode). */
  full: boolean
  /** Makes room: clears `full` and fires the drain listener (boolean mode) or resolves the pending write. */
  drain(): void
  /** Simulates the client going away: aborts the signal. */
  goAway(): void
  /** How many times `close` was called. */
  readonly closeCalls: number
  /** Whether a drain listener is registered. */
  readonly hasDrainListener: boolean
  /** How many times `signal` was read. */
  readonly signalReads: number
}

/** Options of {@link createRecordingSink}. */
export interface RecordingSinkOptions {
  /** Offer `onAbort` (told of the client going away without `signal`). @defaultValue false */
  readonly onAbort?: boolean
}

/**
 * Creates a {@link RecordingSink}. `'boolean'` mode behaves like `res.write()` + `'drain'`; `'promise'` mode like a
 * stream writer whose `write` resolves when there is room.
 */
export function createRecordingSink(mode: 'boolean' | 'promise' = 'boolean', options: RecordingSinkOptions = {}): RecordingSink {
  const controller = new AbortController()
  let abortListener: (() => void) | undefined
  let signalReads = 0
  const writes: Uint8Array[] = []
  let drainListener: (() => void) | undefined
  let pending: (() => void) | undefined
  let closeCalls = 0
  const decoder = new TextDecoder()
  const sink: RecordingSink = {
    get signal() {
      signalReads++
      return controller.signal
    },
    writes,
    full: false,
    text: () => writes.map((chunk) => decoder.decode(chunk)).join(''),
    write(chunk) {
      if (closeCalls > 0) throw new Error('write after close')
      if (controller.signal.aborted) throw new Error('write after the client went away')
      writes.push(chunk)
      if (!sink.full) return true
      if (mode === 'boolean') return false
      return new Promise<void>((resolve) => (pending = resolve))
    },
    close() {
      closeCalls++
    },
    drain() {
      sink.full = false
      if (mode === 'boolean') drainListener?.()
      const resolve = pending
      pending = undefined
      resolve?.()
    },
    goAway() {
      controller.abort()
      abortListener?.()
    },
    get closeCalls() {
      return closeCalls
    },
    get hasDrainListener() {
      return drainListener !== undefined
    },
    get signalReads() {
      return signalReads
    },
  }
  if (options.onAbort === true) {
    sink.onAbort = (listener) => {
      abortListener = listener
      if (controller.signal.aborted) listener()
    }
  }
  if (mode === 'boolean') {
    sink.onDrain = (listener) => {
      drainListener = listener
    }
  }
  return sink
}

/** A request for sessions made in unit tests. */
export function testRequest(lastEventId: string | null = null): { url: URL; headers: Headers; lastEventId: string | null } {
  return { url: new URL('http://localhost/sse'), headers: new Headers(), lastEventId }
}
