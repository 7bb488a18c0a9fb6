import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createKeepAliveScheduler, DEFAULT_KEEP_ALIVE_MS, defaultKeepAliveScheduler, type KeepAliveScheduler } from './keep-alive.js'

interface FakeTarget {
  lastWriteAt: number
  keepAlive: () => void
  count: number
}

describe('createKeepAliveScheduler', () => {
  let scheduler: KeepAliveScheduler

  beforeEach(() => {
    vi.useFakeTimers()
    scheduler = createKeepAliveScheduler({ now: () => Date.now() })
  })

  afterEach(() => {
    vi.useRealTimers()
  })

  function target(): FakeTarget {
    const t: FakeTarget = {
      lastWriteAt: Date.now(),
      count: 0,
      keepAlive() {
        t.count++
        t.lastWriteAt = Date.now()
      },
    }
    return t
  }

  it('defaults to 15 s and shares one process-wide scheduler', () => {
    expect(DEFAULT_KEEP_ALIVE_MS).toBe(15_000)
    expect(defaultKeepAliveScheduler.size).toBe(0)
  })

  it('drives any number of targets with a single timer', () => {
    const targets = Array.from({ length: 1000 }, () => target())
    const removers = targets.map((t, i) => scheduler.add(t, 1000 + (i % 7) * 100))
    expect(scheduler.size).toBe(1000)
    expect(vi.getTimerCount()).toBe(1)
    // Intervals up to 1600 ms, each at most an eighth late: three keep-alives each within 6 s.
    vi.advanceTimersByTime(6000)
    expect(vi.getTimerCount()).toBe(1)
    for (const t of targets) expect(t.count).toBeGreaterThanOrEqual(3)
    for (const remove of removers) remove()
    expect(scheduler.size).toBe(0)
    expect(scheduler.timerArmed).toBe(false)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('keeps alive once per interval of silence, never early', () => {
    const t = target()
    const remove = scheduler.add(t, 1000)
    vi.advanceTimersByTime(999)
    expect(t.count).toBe(0)
    vi.advanceTimersByTime(126)
    expect(t.count).toBe(1)
    vi.advanceTimersByTime(10_000)
    expect(t.count).toBeGreaterThanOrEqual(9)
    expect(t.count).toBeLessThanOrEqual(11)
    remove()
  })

  it('skips a target that wrote recently, moving it to its new due time', () => {
    const t = target()
    const remove = scheduler.add(t, 1000)
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(600)
      t.lastWriteAt = Date.now()
    }
    expect(t.count).toBe(0)
    vi.advanceTimersByTime(1125)
    expect(t.count).toBe(1)
    remove()
  })

  it('handles a target removed by another target’s keep-alive in the same bucket', () => {
    const second = target()
    let removeSecond: () => void = () => undefined
    const first: FakeTarget = {
      lastWriteAt: Date.now(),
      count: 0,
      keepAlive() {
        first.count++
        removeSecond()
      },
    }
    const removeFirst = scheduler.add(first, 1000)
    removeSecond = scheduler.add(second, 1000)
    vi.advanceTimersByTime(1200)
    expect(first.count).toBe(1)
    expect(second.count).toBe(0)
    expect(scheduler.size).toBe(1)
    removeSecond()
    expect(scheduler.size).toBe(1)
    removeFirst()
    removeFirst()
    expect(scheduler.size).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('re-arms for an earlier target added later', () => {
    const slow = target()
    const fast = target()
    const removeSlow = scheduler.add(slow, 60_000)
    const removeFast = scheduler.add(fast, 100)
    vi.advanceTimersByTime(250)
    expect(fast.count).toBeGreaterThanOrEqual(2)
    expect(slow.count).toBe(0)
    removeFast()
    removeSlow()
  })

  it('rejects intervals that are not positive numbers, and a clock that is not a function', () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => scheduler.add(target(), bad)).toThrow(expect.objectContaining({ code: 'ERR_SERVER_INVALID_OPTION' }))
    }
    expect(scheduler.size).toBe(0)
    expect(() => createKeepAliveScheduler({ now: 5 as never })).toThrow(expect.objectContaining({ code: 'ERR_SERVER_INVALID_OPTION' }))
  })
})
