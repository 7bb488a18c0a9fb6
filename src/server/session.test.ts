import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { HeraldError } from '../protocol/index.js'
import { createKeepAliveScheduler, type KeepAliveScheduler } from './keep-alive.js'
import { COALESCE_MAX_BYTES, createSession, MAX_WRITE_DELAY_MS, DEFAULT_MAX_QUEUE_BYTES, DEFAULT_MAX_QUEUE_EVENTS, type Session, type SessionOptions } from './session.js'
import { createRecordingSink, testRequest, type RecordingSink } from './testing/recording-sink.js'
import { FLUSH_SLICE } from './write-flusher.js'

const decode = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes)

/** The bytes of one event whose data is `n`. */
const event = (n: number): string => `data: ${n}\n\n`

/** Advances the fake clock, running the delay's or interval's timer, then the flusher's turns it leads to. */
async function advance(ms: number): Promise<void> {
  vi.advanceTimersByTime(ms)
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** Fakes the timers and clock of the flusher and the pacer in each test of the block; setImmediate (the turns) stays real. */
function useFakeWriteTimers(): void {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })
}

describe('createSession', () => {
  let scheduler: KeepAliveScheduler

  beforeEach(() => {
    scheduler = createKeepAliveScheduler()
  })

  afterEach(() => {
    expect(scheduler.size).toBe(0)
  })

  function open(sink: RecordingSink, options: SessionOptions = {}, lastEventId: string | null = null): Session {
    return createSession(sink, testRequest(lastEventId), { keepAliveScheduler: scheduler, ...options })
  }

  describe('opening', () => {
    it('writes one opening comment at once, with the retry field when set', () => {
      const plain = createRecordingSink()
      open(plain).close()
      expect(decode(plain.writes[0])).toBe(':\n\n')
      const withRetry = createRecordingSink()
      open(withRetry, { retry: 2500 }).close()
      expect(decode(withRetry.writes[0])).toBe(':\nretry: 2500\n\n')
    })

    it('exposes the request and its resume point', () => {
      const session = open(createRecordingSink(), {}, '41')
      expect(session.lastEventId).toBe('41')
      expect(session.request.url.pathname).toBe('/sse')
      expect(session.maxQueueBytes).toBe(DEFAULT_MAX_QUEUE_BYTES)
      expect(session.maxQueueEvents).toBe(DEFAULT_MAX_QUEUE_EVENTS)
      session.close()
    })

    it('starts closed, writing nothing, when the client already went away', () => {
      const sink = createRecordingSink()
      sink.goAway()
      const session = open(sink)
      expect(session.closed).toBe(true)
      expect(session.closeReason?.code).toBe('ERR_SERVER_CLIENT_GONE')
      expect(sink.writes).toEqual([])
      expect(session.send({ data: 'x' })).toBe(false)
    })

    it.each<[string, SessionOptions]>([
      ['keepAliveMs 0', { keepAliveMs: 0 }],
      ['keepAliveMs NaN', { keepAliveMs: Number.NaN }],
      ['retry -1', { retry: -1 }],
      ['retry 1.5', { retry: 1.5 }],
      ['maxQueueBytes 0', { maxQueueBytes: 0 }],
      ['maxQueueEvents 2.5', { maxQueueEvents: 2.5 }],
      ['serialize not a function', { serialize: 'json' as never }],
      ['onClose not a function', { onClose: true as never }],
      ['coalesceWrites not a boolean', { coalesceWrites: 'yes' as never }],
      ['writeDelayMs -1', { writeDelayMs: -1 }],
      ['writeDelayMs NaN', { writeDelayMs: Number.NaN }],
      [`writeDelayMs ${String(MAX_WRITE_DELAY_MS + 1)}`, { writeDelayMs: MAX_WRITE_DELAY_MS + 1 }],
      ['writeDelayMs not a number', { writeDelayMs: '20' as never }],
      ['writeIntervalMs -1', { writeIntervalMs: -1 }],
      ['writeIntervalMs Infinity', { writeIntervalMs: Number.POSITIVE_INFINITY }],
      [`writeIntervalMs ${String(MAX_WRITE_DELAY_MS + 1)}`, { writeIntervalMs: MAX_WRITE_DELAY_MS + 1 }],
    ])('rejects %s with ERR_SERVER_INVALID_OPTION', (_name, options) => {
      expect(() => open(createRecordingSink(), options)).toThrow(expect.objectContaining({ code: 'ERR_SERVER_INVALID_OPTION' }))
    })
  })

  describe('sending', () => {
    it('encodes events: strings as they are, other data as JSON, message without an event field', () => {
      const sink = createRecordingSink()
      const session = open(sink)
      expect(session.send({ data: 'hello' })).toBe(true)
      session.send({ event: 'update', id: '3', data: { a: [1, 2] } })
      session.send({ event: 'message', data: 'a\nb', retry: 10, comment: 'note' })
      session.comment('two\nlines')
      expect(sink.writes.slice(1).map(decode)).toEqual([
        'data: hello\n\n',
        'id: 3\nevent: update\ndata: {"a":[1,2]}\n\n',
        ': note\ndata: a\ndata: b\nretry: 10\n\n',
        ': two\n: lines\n\n',
      ])
      session.close()
    })

    it('uses a custom serialiser once per event', () => {
      const sink = createRecordingSink()
      const serialize = vi.fn((data: unknown, event: string) => `${event}:${String(data)}`)
      const session = open(sink, { serialize })
      session.send({ event: 'n', data: 5 })
      expect(serialize).toHaveBeenCalledWith(5, 'n')
      expect(decode(sink.writes[1])).toBe('event: n\ndata: n:5\n\n')
      session.close()
    })

    it('throws at once for an event the stream cannot carry, and stays open', () => {
      const session = open(createRecordingSink())
      expect(() => session.send({ data: undefined })).toThrow(expect.objectContaining({ code: 'ERR_SERVER_INVALID_EVENT' }))
      expect(() => session.send({ data: 1n })).toThrow(expect.objectContaining({ code: 'ERR_SERVER_INVALID_EVENT' }))
      expect(() => session.send({ id: 'a\nb', data: '' })).toThrow(expect.objectContaining({ code: 'ERR_PROTOCOL_INVALID_ID' }))
      expect(() => session.send({ event: 'a\rb', data: '' })).toThrow(expect.objectContaining({ code: 'ERR_PROTOCOL_INVALID_EVENT' }))
      expect(() => session.sendBytes('text' as never)).toThrow(expect.objectContaining({ code: 'ERR_SERVER_INVALID_EVENT' }))
      expect(session.closed).toBe(false)
      session.close()
    })

    it('writes bytes given to sendBytes as they are, without copying', () => {
      const sink = createRecordingSink()
      const session = open(sink)
      const bytes = new TextEncoder().encode('data: shared\n\n')
      session.sendBytes(bytes)
      expect(sink.writes[1]).toBe(bytes)
      session.close()
    })
  })

  describe.each(['boolean', 'promise'] as const)('backpressure (%s sink)', (mode) => {
    it('queues while the sink is not drained, then writes the backlog as one chunk', async () => {
      const sink = createRecordingSink(mode)
      const session = open(sink)
      sink.full = true
      session.send({ data: 'first' })
      expect(sink.writes).toHaveLength(2)
      session.send({ data: 'second' })
      session.send({ data: 'third' })
      expect(session.queuedEvents).toBe(2)
      expect(session.queuedBytes).toBe('data: second\n\ndata: third\n\n'.length)
      expect(sink.writes).toHaveLength(2)
      const drained = session.whenDrained()
      sink.drain()
      await drained
      expect(sink.writes.map(decode)).toEqual([':\n\n', 'data: first\n\n', 'data: second\n\ndata: third\n\n'])
      expect(session.queuedEvents).toBe(0)
      expect(session.queuedBytes).toBe(0)
      session.send({ data: 'fourth' })
      expect(decode(sink.writes[3])).toBe('data: fourth\n\n')
      session.close()
    })

    it('closes with ERR_SERVER_SLOW_CONSUMER past maxQueueEvents, dropping the queue', () => {
      const sink = createRecordingSink(mode)
      const session = open(sink, { maxQueueEvents: 3 })
      sink.full = true
      session.send({ data: '0' })
      expect([1, 2, 3].map((n) => session.send({ data: String(n) }))).toEqual([true, true, true])
      expect(session.send({ data: '4' })).toBe(false)
      expect(session.closeReason?.code).toBe('ERR_SERVER_SLOW_CONSUMER')
      expect(session.signal.reason).toBe(session.closeReason)
      expect(session.queuedEvents).toBe(0)
      expect(sink.closeCalls).toBe(1)
      expect(sink.writes).toHaveLength(2)
    })

    it('closes with ERR_SERVER_SLOW_CONSUMER past maxQueueBytes', () => {
      const sink = createRecordingSink(mode)
      const session = open(sink, { maxQueueBytes: 100 })
      sink.full = true
      session.send({ data: 'x' })
      session.send({ data: 'y'.repeat(80) })
      expect(session.closed).toBe(false)
      session.send({ data: 'z'.repeat(20) })
      expect(session.closeReason?.code).toBe('ERR_SERVER_SLOW_CONSUMER')
    })

    it('keeps unbounded bytes out of the bounds', async () => {
      const sink = createRecordingSink(mode)
      const session = open(sink, { maxQueueEvents: 2 })
      sink.full = true
      session.send({ data: 'x' })
      session.sendBytes(new TextEncoder().encode('data: replay\n\n'.repeat(10)), { events: 10, bounded: false })
      session.send({ data: 'a' })
      session.send({ data: 'b' })
      expect(session.closed).toBe(false)
      expect(session.queuedEvents).toBe(12)
      sink.drain()
      await session.whenDrained()
      expect(sink.text()).toBe(':\n\ndata: x\n\n' + 'data: replay\n\n'.repeat(10) + 'data: a\n\ndata: b\n\n')
      session.close()
    })
  })

  it('treats a sink without onDrain whose write returns false as drained', () => {
    const writes: string[] = []
    const controller = new AbortController()
    const session = createSession(
      { signal: controller.signal, write: (chunk) => (writes.push(decode(chunk)), false), close: () => undefined },
      testRequest(),
      { keepAliveScheduler: scheduler },
    )
    session.send({ data: 'a' })
    session.send({ data: 'b' })
    expect(writes).toEqual([':\n\n', 'data: a\n\n', 'data: b\n\n'])
    expect(session.queuedEvents).toBe(0)
    session.close()
  })

  describe('closing', () => {
    it('close() hands the queue to the sink, ends it, aborts the signal, and is idempotent', async () => {
      const sink = createRecordingSink()
      const session = open(sink)
      const aborted = vi.fn()
      session.signal.addEventListener('abort', aborted)
      sink.full = true
      session.send({ data: 'a' })
      session.send({ data: 'b' })
      session.send({ data: 'c' })
      const drained = session.whenDrained()
      session.close()
      session.close()
      await drained
      expect(sink.text()).toBe(':\n\ndata: a\n\ndata: b\n\ndata: c\n\n')
      expect(sink.closeCalls).toBe(1)
      expect(aborted).toHaveBeenCalledTimes(1)
      expect(session.closeReason).toBeInstanceOf(HeraldError)
      expect(session.closeReason?.code).toBe('ERR_SERVER_SESSION_CLOSED')
      expect(session.send({ data: 'd' })).toBe(false)
      expect(session.comment('d')).toBe(false)
      expect(session.sendBytes(new Uint8Array(1))).toBe(false)
      await session.whenDrained()
    })

    it('close(reason) keeps the given reason', () => {
      const session = open(createRecordingSink())
      const reason = new HeraldError('ERR_HUB_EXAMPLE', 'token expired')
      session.close(reason)
      expect(session.closeReason).toBe(reason)
      expect(session.signal.reason).toBe(reason)
    })

    it('closes with ERR_SERVER_CLIENT_GONE when the client goes, writing nothing more', () => {
      const sink = createRecordingSink()
      const session = open(sink)
      sink.full = true
      session.send({ data: 'a' })
      session.send({ data: 'queued' })
      sink.goAway()
      expect(session.closeReason?.code).toBe('ERR_SERVER_CLIENT_GONE')
      expect(sink.writes).toHaveLength(2)
      expect(sink.closeCalls).toBe(1)
      expect(session.queuedEvents).toBe(0)
    })

    it('closes with ERR_SERVER_WRITE_FAILED when the sink throws or rejects, and logs it', async () => {
      const warn = vi.fn()
      const controller = new AbortController()
      let calls = 0
      const throwing = createSession(
        {
          signal: controller.signal,
          write: () => {
            if (calls++ > 0) throw new Error('EPIPE')
            return true
          },
          close: () => undefined,
        },
        testRequest(),
        { keepAliveScheduler: scheduler, logger: { warn } },
      )
      expect(throwing.send({ data: 'x' })).toBe(false)
      expect(throwing.closeReason?.code).toBe('ERR_SERVER_WRITE_FAILED')
      expect((throwing.closeReason?.cause as Error).message).toBe('EPIPE')
      expect(warn).toHaveBeenCalledTimes(1)

      const rejecting = createSession(
        { signal: new AbortController().signal, write: () => Promise.reject(new Error('reset')), close: () => undefined },
        testRequest(),
        { keepAliveScheduler: scheduler },
      )
      await rejecting.whenDrained()
      expect(rejecting.closeReason?.code).toBe('ERR_SERVER_WRITE_FAILED')
    })

    it('survives a sink whose close throws, logging it', () => {
      const warn = vi.fn()
      const session = createSession(
        {
          signal: new AbortController().signal,
          write: () => true,
          close: () => {
            throw new Error('boom')
          },
        },
        testRequest(),
        { keepAliveScheduler: scheduler, logger: { warn } },
      )
      session.close()
      expect(session.closed).toBe(true)
      expect(warn).toHaveBeenCalledWith('an SSE sink threw on close', expect.anything())
    })
  })

  describe('stream()', () => {
    it('pulls the next event only once the sink drained', async () => {
      const sink = createRecordingSink('promise')
      const session = open(sink, { maxQueueEvents: 1 })
      let pulled = 0
      const streamed = session.stream(
        (function* () {
          for (let i = 0; i < 5; i++) {
            pulled++
            yield { id: String(i), data: String(i) }
          }
        })(),
      )
      sink.full = true
      await new Promise((resolve) => setTimeout(resolve, 0))
      // One event went to the full sink; nothing more is pulled until it drains.
      expect(pulled).toBe(1)
      expect(session.queuedEvents).toBe(0)
      for (let i = 0; i < 4; i++) {
        sink.drain()
        sink.full = true
        await new Promise((resolve) => setTimeout(resolve, 0))
        expect(pulled).toBe(i + 2)
      }
      sink.drain()
      await streamed
      expect(session.closed).toBe(false)
      expect(sink.writes.slice(1).map(decode)).toEqual([0, 1, 2, 3, 4].map((i) => `id: ${i}\ndata: ${i}\n\n`))
      session.close()
    })

    it("calls the iterator's return() when the session closes, even while it waits for the source", async () => {
      const session = open(createRecordingSink())
      let finalized = false
      let release: () => void = () => undefined
      const streamed = session.stream(
        (async function* () {
          try {
            yield { data: 'one' }
            await new Promise<void>((resolve) => (release = resolve))
            yield { data: 'two' }
          } finally {
            finalized = true
          }
        })(),
      )
      await new Promise((resolve) => setTimeout(resolve, 0))
      session.close()
      release()
      await streamed
      expect(finalized).toBe(true)
    })

    it('closes with ERR_SERVER_SOURCE_FAILED when the source throws', async () => {
      const session = open(createRecordingSink())
      await session.stream(
        (async function* () {
          yield { data: 'one' }
          await Promise.resolve()
          throw new Error('model overloaded')
        })(),
      )
      expect(session.closeReason?.code).toBe('ERR_SERVER_SOURCE_FAILED')
      expect((session.closeReason?.cause as Error).message).toBe('model overloaded')
    })

    it('closes with ERR_SERVER_SOURCE_FAILED for an event it cannot send, and returns the iterator', async () => {
      const session = open(createRecordingSink())
      let finalized = false
      await session.stream(
        (function* () {
          try {
            yield { data: 'fine' }
            yield { data: undefined }
            yield { data: 'never' }
          } finally {
            finalized = true
          }
        })(),
      )
      expect(session.closeReason?.code).toBe('ERR_SERVER_SOURCE_FAILED')
      expect(finalized).toBe(true)
    })

    it('leaves the session open when the source ends, and logs a return() that throws', async () => {
      const warn = vi.fn()
      const session = open(createRecordingSink(), { logger: { warn } })
      await session.stream([{ data: 'a' }, { data: 'b' }])
      expect(session.closed).toBe(false)
      const iterable: AsyncIterable<{ data: string }> = {
        [Symbol.asyncIterator]: () => ({
          next: () => new Promise(() => undefined),
          return: () => Promise.reject(new Error('cannot stop')),
        }),
      }
      const streamed = session.stream(iterable)
      await new Promise((resolve) => setTimeout(resolve, 0))
      session.close()
      await new Promise((resolve) => setTimeout(resolve, 0))
      expect(warn).toHaveBeenCalledWith('an event source threw from return()', expect.anything())
      void streamed
    })
  })

  describe('keep-alive', () => {
    beforeEach(() => {
      vi.useFakeTimers()
      scheduler = createKeepAliveScheduler({ now: () => Date.now() })
    })
    afterEach(() => {
      vi.useRealTimers()
    })

    it('writes a comment after keepAliveMs of silence, and none while the session keeps writing', () => {
      const sink = createRecordingSink()
      const session = open(sink, { keepAliveMs: 1000 })
      // Due times are rounded up to an eighth of the interval: the keep-alive comes within 1000–1125 ms.
      vi.advanceTimersByTime(1125)
      expect(sink.writes.map(decode)).toEqual([':\n\n', ':\n\n'])
      for (let i = 0; i < 10; i++) {
        vi.advanceTimersByTime(500)
        session.send({ data: String(i) })
      }
      expect(sink.writes.slice(2).map(decode).every((text) => text.startsWith('data:'))).toBe(true)
      vi.advanceTimersByTime(1125)
      expect(decode(sink.writes.at(-1))).toBe(':\n\n')
      session.close()
      expect(scheduler.size).toBe(0)
      expect(vi.getTimerCount()).toBe(0)
    })

    it('writes no keep-alive while bytes wait for the client', () => {
      const sink = createRecordingSink()
      const session = open(sink, { keepAliveMs: 1000 })
      sink.full = true
      session.send({ data: 'stuck' })
      vi.advanceTimersByTime(5000)
      expect(sink.writes).toHaveLength(2)
      session.close()
    })

    it('does not schedule anything with keepAliveMs: null', () => {
      const session = open(createRecordingSink(), { keepAliveMs: null })
      expect(scheduler.size).toBe(0)
      session.close()
    })
  })
  describe('close notifications', () => {
    it('calls onClose once with the reason, and a signal first read after the close is aborted with it', () => {
      const closes: string[] = []
      const session = open(createRecordingSink(), { onClose: (reason) => closes.push(reason.code) })
      session.close()
      session.close()
      expect(closes).toEqual(['ERR_SERVER_SESSION_CLOSED'])
      expect(session.signal.aborted).toBe(true)
      expect(session.signal.reason).toBe(session.closeReason)
    })

    it('aborts a signal read while open when the session closes, just before onClose runs', () => {
      const seen: boolean[] = []
      const holder: { session?: Session } = {}
      const session = open(createRecordingSink(), { onClose: () => seen.push(holder.session?.signal.aborted ?? false) })
      holder.session = session
      const signal = session.signal
      expect(signal.aborted).toBe(false)
      session.close()
      expect(signal.aborted).toBe(true)
      expect(seen).toEqual([true])
    })

    it.each([false, true])('calls onClose with ERR_SERVER_CLIENT_GONE when the client goes away (sink with onAbort: %s)', (onAbort) => {
      const sink = createRecordingSink('boolean', { onAbort })
      const closes: string[] = []
      const session = open(sink, { onClose: (reason) => closes.push(reason.code) })
      sink.goAway()
      expect(session.closed).toBe(true)
      expect(closes).toEqual(['ERR_SERVER_CLIENT_GONE'])
      expect(sink.closeCalls).toBe(1)
    })

    it('never reads the signal of a sink that offers onAbort, even when the client left before the session started', () => {
      const live = createRecordingSink('boolean', { onAbort: true })
      open(live).close()
      expect(live.signalReads).toBe(0)

      const gone = createRecordingSink('boolean', { onAbort: true })
      gone.goAway()
      const closes: string[] = []
      const session = open(gone, { onClose: (reason) => closes.push(reason.code) })
      expect(session.closeReason?.code).toBe('ERR_SERVER_CLIENT_GONE')
      expect(closes).toEqual(['ERR_SERVER_CLIENT_GONE'])
      expect(gone.writes).toEqual([])
      expect(gone.signalReads).toBe(0)
    })

    it('reports an onClose that throws to the logger and still closes', () => {
      const warn = vi.fn()
      const sink = createRecordingSink()
      const session = open(sink, {
        logger: { warn },
        onClose: () => {
          throw new Error('listener bug')
        },
      })
      session.close()
      expect(session.closed).toBe(true)
      expect(sink.closeCalls).toBe(1)
      expect(warn).toHaveBeenCalledWith('an SSE session onClose listener threw', expect.objectContaining({ cause: expect.any(Error) }))
    })

    it('calls onClose() listeners once, in order, after the option; one removed is not called, one that throws is logged', () => {
      const warn = vi.fn()
      const calls: string[] = []
      const session = open(createRecordingSink(), { logger: { warn }, onClose: () => calls.push('option') })
      session.onClose((reason) => calls.push(`first ${reason.code}`))
      const stop = session.onClose(() => calls.push('removed'))
      session.onClose(() => {
        throw new Error('listener bug')
      })
      session.onClose(() => calls.push('last'))
      stop()
      stop()
      session.close()
      session.close()
      expect(calls).toEqual(['option', 'first ERR_SERVER_SESSION_CLOSED', 'last'])
      expect(warn).toHaveBeenCalledTimes(1)
    })

    it('calls an onClose() listener at once on a closed session, and never makes the session its AbortSignal', () => {
      const sink = createRecordingSink('boolean', { onAbort: true })
      const session = open(sink)
      const reasons: string[] = []
      session.onClose((reason) => reasons.push(reason.code))
      sink.goAway()
      const stop = session.onClose((reason) => reasons.push(`late ${reason.code}`))
      stop()
      expect(reasons).toEqual(['ERR_SERVER_CLIENT_GONE', 'late ERR_SERVER_CLIENT_GONE'])
      expect(sink.signalReads).toBe(0)
    })

    it('refuses an onClose() listener that is not a function with ERR_SERVER_INVALID_OPTION', () => {
      const session = open(createRecordingSink())
      expect(() => session.onClose('log' as never)).toThrow(expect.objectContaining({ code: 'ERR_SERVER_INVALID_OPTION' }))
      session.close()
    })
  })

  describe('coalesceWrites', () => {
    /** Resolves after the I/O callbacks that are ready, and one turn of the shared flusher. */
    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

    it('holds events until the ready callbacks ran, then writes them in one chunk', async () => {
      const sink = createRecordingSink()
      const session = open(sink, { coalesceWrites: true })
      expect(session.send({ data: '1' })).toBe(true)
      expect(session.send({ data: '2' })).toBe(true)
      expect(sink.writes).toHaveLength(1)
      expect(session.queuedEvents).toBe(2)
      await turn()
      expect(sink.writes.slice(1).map(decode)).toEqual([event(1) + event(2)])
      expect(session.queuedEvents).toBe(0)
      // The next event is held again: every write goes through the queue.
      session.send({ data: '3' })
      expect(sink.writes).toHaveLength(2)
      await turn()
      expect(sink.writes.slice(1).map(decode)).toEqual([event(1) + event(2), event(3)])
      session.close()
    })

    it(`writes ${String(FLUSH_SLICE)} sessions per turn; those not written yet take what arrives meanwhile in the same write`, async () => {
      const sinks = Array.from({ length: FLUSH_SLICE * 3 }, () => createRecordingSink())
      const sessions = sinks.map((sink) => open(sink, { coalesceWrites: true }))
      for (const session of sessions) session.send({ data: '1' })
      await turn()
      expect(sinks.map((sink) => sink.writes.length - 1)).toEqual(sinks.map((_, i) => (i < FLUSH_SLICE ? 1 : 0)))
      // A second update while the round is under way.
      for (const session of sessions) session.send({ data: '2' })
      while (sessions.some((session) => session.queuedEvents > 0)) await turn()
      sinks.forEach((sink, i) => {
        expect(sink.writes.slice(1).map(decode)).toEqual(i < FLUSH_SLICE ? [event(1), event(2)] : [event(1) + event(2)])
      })
      for (const session of sessions) session.close()
    })

    it('writes at once, in order, when the held part reaches half of maxQueueEvents or COALESCE_MAX_BYTES', async () => {
      const sink = createRecordingSink()
      const session = open(sink, { coalesceWrites: true, maxQueueEvents: 4 })
      for (let i = 0; i < 10; i++) expect(session.send({ data: String(i) })).toBe(true)
      expect(sink.writes.slice(1).map(decode)).toEqual([0, 2, 4, 6, 8].map((i) => event(i) + event(i + 1)))
      expect(session.closed).toBe(false)

      const big = new TextEncoder().encode(`data: ${'x'.repeat(COALESCE_MAX_BYTES)}\n\n`)
      session.sendBytes(big)
      // Large enough for a write of its own: written as it is, without a copy.
      expect(sink.writes.at(-1)).toBe(big)
      session.send({ data: 'a' })
      session.sendBytes(big)
      expect(decode(sink.writes.at(-1))).toBe('data: a\n\n' + decode(big))
      await turn()
      expect(sink.writes).toHaveLength(8)
      session.close()
    })

    it('closes as a slow consumer only when the sink is behind, not for what it holds', async () => {
      const sink = createRecordingSink()
      const session = open(sink, { coalesceWrites: true, maxQueueEvents: 3 })
      session.send({ data: '0' })
      sink.full = true
      await turn()
      expect(sink.writes).toHaveLength(2)
      expect([1, 2, 3].map((n) => session.send({ data: String(n) }))).toEqual([true, true, true])
      expect(session.send({ data: '4' })).toBe(false)
      expect(session.closeReason?.code).toBe('ERR_SERVER_SLOW_CONSUMER')
    })

    it('after a full sink drains, writes what queued meanwhile at once', async () => {
      const sink = createRecordingSink('promise')
      const session = open(sink, { coalesceWrites: true })
      session.send({ data: '0' })
      sink.full = true
      await turn()
      session.send({ data: '1' })
      session.send({ data: '2' })
      await turn()
      expect(sink.writes).toHaveLength(2)
      const drained = session.whenDrained()
      sink.drain()
      await drained
      expect(sink.writes.slice(1).map(decode)).toEqual([event(0), event(1) + event(2)])
      session.close()
    })

    it('whenDrained() waits for the held write; stream() does not wait for it between events', async () => {
      const sink = createRecordingSink()
      const session = open(sink, { coalesceWrites: true })
      session.send({ data: 'held' })
      let drained = false
      void session.whenDrained().then(() => (drained = true))
      await Promise.resolve()
      expect(drained).toBe(false)
      await turn()
      expect(drained).toBe(true)

      let streamed = false
      void session
        .stream(
          (function* () {
            for (let i = 0; i < 2000; i++) yield { data: String(i) }
          })(),
        )
        .then(() => (streamed = true))
      // The whole source is pulled before the flusher's next turn, in writes of half of maxQueueEvents.
      await turn()
      expect(streamed).toBe(true)
      expect(sink.text()).toBe(':\n\n' + 'data: held\n\n' + Array.from({ length: 2000 }, (_, i) => event(i)).join(''))
      expect(sink.writes.length).toBeLessThan(10)
      session.close()
    })

    it('close() writes what is held, and the flusher writes nothing after it', async () => {
      const sink = createRecordingSink()
      const session = open(sink, { coalesceWrites: true })
      session.send({ data: 'last' })
      session.close()
      expect(sink.writes.slice(1).map(decode)).toEqual(['data: last\n\n'])
      expect(sink.closeCalls).toBe(1)
      await turn()
      expect(sink.writes).toHaveLength(2)
    })

    it('a client gone while events are held drops them without a write', async () => {
      const sink = createRecordingSink()
      const session = open(sink, { coalesceWrites: true })
      session.send({ data: 'lost' })
      sink.goAway()
      expect(session.closeReason?.code).toBe('ERR_SERVER_CLIENT_GONE')
      await turn()
      expect(sink.writes).toHaveLength(1)
    })

    it('writes no keep-alive while events are held', async () => {
      // Fake timers for the keep-alive only: the flusher's setImmediate stays real.
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
      let now = 0
      const clock = createKeepAliveScheduler({ now: () => now })
      const sink = createRecordingSink()
      const session = createSession(sink, testRequest(), { keepAliveScheduler: clock, keepAliveMs: 1000, coalesceWrites: true })
      try {
        session.send({ data: 'held' })
        now = 2000
        vi.advanceTimersByTime(2000)
        expect(sink.text()).toBe(':\n\n')
        await turn()
        expect(sink.text()).toBe(':\n\ndata: held\n\n')
        now = 3500
        vi.advanceTimersByTime(1500)
        expect(sink.text()).toBe(':\n\ndata: held\n\n:\n\n')
      } finally {
        session.close()
        vi.useRealTimers()
      }
    })
  })

  describe('writeDelayMs', () => {
    useFakeWriteTimers()

    it('holds events the delay after the first one, and writes everything received meanwhile in one write', async () => {
      const sink = createRecordingSink()
      const session = open(sink, { writeDelayMs: 50, keepAliveMs: null })
      session.send({ data: '1' })
      await advance(30)
      session.send({ data: '2' })
      await advance(19)
      expect(sink.writes).toHaveLength(1)
      expect(session.queuedEvents).toBe(2)
      await advance(1)
      expect(sink.writes.slice(1).map(decode)).toEqual([event(1) + event(2)])
      // The delay starts again with the next event held.
      session.send({ data: '3' })
      await advance(49)
      expect(sink.writes).toHaveLength(2)
      await advance(1)
      expect(sink.writes.slice(1).map(decode)).toEqual([event(1) + event(2), event(3)])
      session.close()
    })

    it('implies coalesceWrites, and whenDrained() waits for the delayed write', async () => {
      const sink = createRecordingSink()
      const session = open(sink, { writeDelayMs: 20, coalesceWrites: false, keepAliveMs: null })
      session.send({ data: 'held' })
      let drained = false
      void session.whenDrained().then(() => (drained = true))
      await advance(10)
      expect(sink.writes).toHaveLength(1)
      expect(drained).toBe(false)
      await advance(10)
      expect(drained).toBe(true)
      expect(sink.text()).toBe(':\n\ndata: held\n\n')
      session.close()
    })

    it('serves every session of a delay with one timer, writing each when its own delay is over', async () => {
      const early = Array.from({ length: 500 }, () => createRecordingSink())
      const late = Array.from({ length: 500 }, () => createRecordingSink())
      const timersBefore = vi.getTimerCount()
      const sessions = [...early, ...late].map((sink) => open(sink, { writeDelayMs: 40, keepAliveMs: null }))
      for (const session of sessions.slice(0, 500)) session.send({ data: 'a' })
      await advance(20)
      for (const session of sessions.slice(500)) session.send({ data: 'b' })
      expect(vi.getTimerCount() - timersBefore).toBe(1)
      await advance(20)
      expect(early.every((sink) => sink.text() === ':\n\ndata: a\n\n')).toBe(true)
      expect(late.every((sink) => sink.writes.length === 1)).toBe(true)
      await advance(20)
      expect(late.every((sink) => sink.text() === ':\n\ndata: b\n\n')).toBe(true)
      expect(vi.getTimerCount() - timersBefore).toBe(0)
      for (const session of sessions) session.close()
    })

    it('writes at once past half of maxQueueEvents, and close() writes what is held', async () => {
      const sink = createRecordingSink()
      const session = open(sink, { writeDelayMs: 1000, maxQueueEvents: 4, keepAliveMs: null })
      for (let i = 0; i < 3; i++) session.send({ data: String(i) })
      expect(sink.writes.slice(1).map(decode)).toEqual([event(0) + event(1)])
      session.close()
      expect(sink.writes.slice(1).map(decode)).toEqual([event(0) + event(1), event(2)])
      await advance(1000)
      expect(sink.writes).toHaveLength(3)
    })
  })

  describe('writeIntervalMs', () => {
    useFakeWriteTimers()

    it('writes an event at once when nothing was written for the interval, even right after opening', async () => {
      const sink = createRecordingSink()
      const session = open(sink, { writeIntervalMs: 40, keepAliveMs: null })
      // The opening comment is not an event write: the first event does not wait for it.
      session.send({ data: '1' })
      await advance(0)
      expect(sink.writes.slice(1).map(decode)).toEqual([event(1)])
      await advance(40)
      session.send({ data: '2' })
      await advance(0)
      expect(sink.writes.slice(1).map(decode)).toEqual([event(1), event(2)])
      session.close()
    })

    it('holds events that come sooner until the interval since the last write is over, then writes them together', async () => {
      const sink = createRecordingSink()
      const session = open(sink, { writeIntervalMs: 40, keepAliveMs: null })
      session.send({ data: '1' })
      await advance(0)
      await advance(10)
      session.send({ data: '2' })
      await advance(20)
      session.send({ data: '3' })
      // The wait counts from the write of event 1 (at 0), not from event 2.
      await advance(8)
      expect(sink.writes).toHaveLength(2)
      expect(session.queuedEvents).toBe(2)
      await advance(2)
      expect(sink.writes.slice(1).map(decode)).toEqual([event(1), event(2) + event(3)])
      session.close()
    })

    it('at a steady rate, writes once per interval and keeps every wait within the interval', async () => {
      const sink = createRecordingSink()
      const session = open(sink, { writeIntervalMs: 40, keepAliveMs: null })
      const sentAt: number[] = []
      const waits: number[] = []
      const writeCount = (): number => sink.writes.length - 1
      let seen = 0
      // The writes made since the last look: how long each of their events waited (turns run at the clock's time).
      const look = (): void => {
        for (const chunk of sink.writes.slice(1 + seen)) {
          for (const [, n] of decode(chunk).matchAll(/data: (\d+)/g)) waits.push(performance.now() - (sentAt[Number(n)] ?? 0))
        }
        seen = writeCount()
      }
      for (let n = 0; n < 40; n++) {
        sentAt[n] = performance.now()
        session.send({ data: String(n) })
        await advance(0)
        look()
        await advance(10)
        look()
      }
      await advance(40)
      expect(sink.text().match(/data: /g)).toHaveLength(40)
      // 400 ms at one event per 10 ms: about ten writes, not forty.
      expect(writeCount()).toBeGreaterThanOrEqual(9)
      expect(writeCount()).toBeLessThanOrEqual(12)
      expect(Math.max(...waits)).toBeLessThanOrEqual(41)
      session.close()
    })

    it('serves every session of an interval with one timer, each released at its own time', async () => {
      const timersBefore = vi.getTimerCount()
      const early = Array.from({ length: 300 }, () => createRecordingSink())
      const late = Array.from({ length: 300 }, () => createRecordingSink())
      const earlySessions = early.map((sink) => open(sink, { writeIntervalMs: 40, keepAliveMs: null }))
      const lateSessions = late.map((sink) => open(sink, { writeIntervalMs: 40, keepAliveMs: null }))
      for (const session of earlySessions) session.send({ data: 'a' })
      await advance(0)
      await advance(20)
      for (const session of lateSessions) session.send({ data: 'a' })
      await advance(0)
      // The late sessions wrote 20 ms after the early ones; the early ones start waiting after them.
      for (const session of lateSessions) session.send({ data: 'b' })
      for (const session of earlySessions) session.send({ data: 'b' })
      expect(vi.getTimerCount() - timersBefore).toBe(1)
      await advance(20)
      expect(early.every((sink) => sink.text() === ':\n\ndata: a\n\ndata: b\n\n')).toBe(true)
      expect(late.every((sink) => sink.text() === ':\n\ndata: a\n\n')).toBe(true)
      await advance(20)
      expect(late.every((sink) => sink.text() === ':\n\ndata: a\n\ndata: b\n\n')).toBe(true)
      expect(vi.getTimerCount() - timersBefore).toBe(0)
      for (const session of [...earlySessions, ...lateSessions]) session.close()
    })

    it('implies coalesceWrites; whenDrained() waits for the held write; close() writes what is held', async () => {
      const sink = createRecordingSink()
      const session = open(sink, { writeIntervalMs: 1000, coalesceWrites: false, keepAliveMs: null })
      session.send({ data: '1' })
      session.send({ data: '2' })
      await advance(0)
      expect(sink.writes.slice(1).map(decode)).toEqual([event(1) + event(2)])
      session.send({ data: '3' })
      let drained = false
      void session.whenDrained().then(() => (drained = true))
      await advance(500)
      expect(drained).toBe(false)
      session.send({ data: '4' })
      session.close()
      expect(sink.writes.slice(1).map(decode)).toEqual([event(1) + event(2), event(3) + event(4)])
      await advance(1000)
      expect(drained).toBe(true)
      expect(sink.writes).toHaveLength(3)
    })

    it('writes at once past half of maxQueueEvents, interval or not', async () => {
      const sink = createRecordingSink()
      const session = open(sink, { writeIntervalMs: 1000, maxQueueEvents: 4, keepAliveMs: null })
      session.send({ data: '0' })
      await advance(0)
      for (let i = 1; i <= 2; i++) session.send({ data: String(i) })
      expect(sink.writes.slice(1).map(decode)).toEqual([event(0), event(1) + event(2)])
      session.close()
    })
  })
})
