import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { HubError } from '../errors.js'
import type { MissedMessages } from './broker.js'
import { SubscriptionSet } from './subscription-set.js'
import { TAIL_RETRY_DELAY_MS, TailLoop, type TailLoopOptions } from './tail-loop.js'

const POLL_MS = 1_000
const RETRY_MS = TAIL_RETRY_DELAY_MS
const BATCH = 4

/** What a scripted read does: return a count, or throw. */
type Step = number | Error

interface Harness {
  readonly loop: TailLoop
  readonly errors: HubError[]
  readonly missed: MissedMessages[]
  /** How many reads ran. */
  reads: () => number
  /** Calls of `start`. */
  starts: () => number
}

/**
 * A loop whose reads follow `steps` (then read nothing), with a listener that records onMissed events. The reads are
 * counted; `start` resolves unless `startFails` says how many of its first calls reject.
 */
function harness(steps: Step[], extra: Partial<TailLoopOptions> & { startFails?: number } = {}): Harness {
  const errors: HubError[] = []
  const missed: MissedMessages[] = []
  let reads = 0
  let starts = 0
  const subscriptions = new SubscriptionSet('TestBroker', (error) => errors.push(error))
  const loop = new TailLoop({
    subscriptions,
    pollMs: POLL_MS,
    batchSize: BATCH,
    start: () => {
      starts++
      return starts <= (extra.startFails ?? 0) ? Promise.reject(new Error(`start ${starts} failed`)) : Promise.resolve()
    },
    read: () => {
      const step = steps[reads++] ?? 0
      return step instanceof Error ? Promise.reject(step) : Promise.resolve(step)
    },
    onFailure: (error) => new HubError('ERR_HUB_BROKER_UNAVAILABLE', `TestBroker: ${(error as Error).message}`, { cause: error }),
    ...extra,
  })
  return { loop, errors, missed, reads: () => reads, starts: () => starts }
}

async function subscribe(h: Harness): Promise<void> {
  await h.loop.subscribe(() => undefined, { onMissed: (event) => h.missed.push(event) })
}

describe('TailLoop', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 })
  })

  afterEach(() => {
    vi.useRealTimers()
  })

  it('finds the start once, and tries again at the next subscribe when finding it failed', async () => {
    const h = harness([], { startFails: 1 })
    await expect(h.loop.subscribe(() => undefined, {})).rejects.toThrow('start 1 failed')
    expect(h.reads()).toBe(0)
    await subscribe(h)
    await subscribe(h)
    expect(h.starts()).toBe(2)
    await vi.advanceTimersByTimeAsync(0)
    expect(h.reads()).toBe(1)
    h.loop.close()
  })

  it('reads again at once after a full batch, and otherwise waits for a signal or pollMs', async () => {
    const h = harness([BATCH, BATCH, 1])
    await subscribe(h)
    await vi.advanceTimersByTimeAsync(0)
    // Two full batches, then one short read: three reads without any time passing.
    expect(h.reads()).toBe(3)
    await vi.advanceTimersByTimeAsync(POLL_MS - 1)
    expect(h.reads()).toBe(3)
    h.loop.signal()
    await vi.advanceTimersByTimeAsync(0)
    expect(h.reads()).toBe(4)
    await vi.advanceTimersByTimeAsync(POLL_MS)
    expect(h.reads()).toBe(5)
    h.loop.close()
    h.loop.signal()
    await vi.advanceTimersByTimeAsync(POLL_MS * 3)
    expect(h.reads()).toBe(5)
  })

  it('keeps a signal given while a read is under way, so the next read starts at once', async () => {
    let finishRead: ((count: number) => void) | undefined
    let reads = 0
    const h = harness([], {
      read: () => {
        reads++
        return reads === 1 ? new Promise<number>((resolve) => (finishRead = resolve)) : Promise.resolve(0)
      },
    })
    await subscribe(h)
    await vi.advanceTimersByTimeAsync(0)
    expect(reads).toBe(1)
    h.loop.signal()
    finishRead?.(0)
    await vi.advanceTimersByTimeAsync(0)
    expect(reads).toBe(2)
    h.loop.close()
  })

  it('reports an outage once however many rounds fail, retries after the retry delay, and reports the next outage again', async () => {
    const down = new Error('connection refused')
    const h = harness([down, down, down, 0, down])
    await subscribe(h)
    await vi.advanceTimersByTimeAsync(0)
    expect(h.reads()).toBe(1)
    await vi.advanceTimersByTimeAsync(RETRY_MS)
    expect(h.reads()).toBe(2)
    await vi.advanceTimersByTimeAsync(RETRY_MS * 2)
    // The fourth read succeeded and ended the outage.
    expect(h.reads()).toBe(4)
    expect(h.errors.map((error) => error.message)).toEqual(['TestBroker: connection refused'])
    await vi.advanceTimersByTimeAsync(POLL_MS)
    expect(h.reads()).toBe(5)
    expect(h.errors).toHaveLength(2)
    expect(h.errors[1]).toMatchObject({ code: 'ERR_HUB_BROKER_UNAVAILABLE' })
    h.loop.close()
  })

  it('dates onMissed from the start of the outage under way, and from now once a read succeeded', async () => {
    const h = harness([new Error('down'), 0])
    await subscribe(h)
    // The first read fails at t0.
    const t0 = Date.now()
    await vi.advanceTimersByTimeAsync(0)
    await vi.advanceTimersByTimeAsync(RETRY_MS - 1)
    h.loop.notifyMissed()
    expect(h.missed).toEqual([{ reason: 'reconnect', disconnectedAt: t0 }])
    // The second read, at t0 + RETRY_MS, succeeds: the outage is over.
    await vi.advanceTimersByTimeAsync(1)
    await vi.advanceTimersByTimeAsync(500)
    h.loop.notifyMissed()
    expect(h.missed[1]).toEqual({ reason: 'reconnect', disconnectedAt: Date.now() })
    expect(Date.now()).toBe(t0 + RETRY_MS + 500)
    h.loop.close()
  })

  it('keeps the outage date past good reads while outageUnderWay says one is under way', async () => {
    let underWay = true
    const h = harness([], { outageUnderWay: () => underWay })
    await subscribe(h)
    const t0 = Date.now()
    h.loop.markOutage()
    await vi.advanceTimersByTimeAsync(POLL_MS * 3)
    expect(h.reads()).toBe(4)
    h.loop.notifyMissed()
    expect(h.missed[0]?.disconnectedAt).toBe(t0)
    underWay = false
    await vi.advanceTimersByTimeAsync(POLL_MS)
    h.loop.notifyMissed()
    expect(h.missed[1]?.disconnectedAt).toBe(t0 + POLL_MS * 4)
    h.loop.close()
  })

  it('does not report a failed round again when the connection already reported the outage', async () => {
    const h = harness([0, new Error('socket closed')])
    await subscribe(h)
    await vi.advanceTimersByTimeAsync(0)
    h.loop.reportDown(new HubError('ERR_HUB_BROKER_UNAVAILABLE', 'TestBroker: lost the connection'))
    h.loop.reportDown(new HubError('ERR_HUB_BROKER_UNAVAILABLE', 'TestBroker: lost the connection, again'))
    await vi.advanceTimersByTimeAsync(POLL_MS)
    expect(h.reads()).toBe(2)
    expect(h.errors.map((error) => error.message)).toEqual(['TestBroker: lost the connection'])
    h.loop.close()
  })

  it('stops reading once closed, and refuses subscribe with ERR_HUB_BROKER_CLOSED, also one waiting for the start', async () => {
    let finishStart: (() => void) | undefined
    const h = harness([], { start: () => new Promise<void>((resolve) => (finishStart = resolve)) })
    const waiting = h.loop.subscribe(() => undefined, {})
    await vi.advanceTimersByTimeAsync(0)
    expect(h.loop.close()).toBe(true)
    expect(h.loop.close()).toBe(false)
    finishStart?.()
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_CLOSED' })
    await expect(h.loop.subscribe(() => undefined, {})).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_CLOSED' })
    await vi.advanceTimersByTimeAsync(POLL_MS * 2)
    // The start resolved after close(): the loop never ran.
    expect(h.reads()).toBe(0)
    expect(h.loop.isClosed()).toBe(true)
  })
})
