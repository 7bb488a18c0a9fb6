import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createStallTimer } from './stall-timer.js'

describe('createStallTimer', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('fires once nothing touched it for the timeout', () => {
    const onStall = vi.fn()
    const timer = createStallTimer(100, onStall)
    timer.start()
    vi.advanceTimersByTime(99)
    expect(onStall).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(onStall).toHaveBeenCalledTimes(1)
  })

  it('measures the quiet period from the last touch, re-arming one timer', () => {
    const onStall = vi.fn()
    const timer = createStallTimer(100, onStall)
    timer.start()
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(60)
      timer.touch()
    }
    expect(onStall).not.toHaveBeenCalled()
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(100)
    expect(onStall).toHaveBeenCalledTimes(1)
  })

  it('touch() costs no timer call', () => {
    const timer = createStallTimer(100, () => undefined)
    timer.start()
    const set = vi.spyOn(globalThis, 'setTimeout')
    const clear = vi.spyOn(globalThis, 'clearTimeout')
    for (let i = 0; i < 1000; i++) timer.touch()
    expect(set).not.toHaveBeenCalled()
    expect(clear).not.toHaveBeenCalled()
    timer.stop()
  })

  it('stop() cancels it', () => {
    const onStall = vi.fn()
    const timer = createStallTimer(100, onStall)
    timer.start()
    timer.stop()
    vi.advanceTimersByTime(1000)
    expect(onStall).not.toHaveBeenCalled()
    expect(vi.getTimerCount()).toBe(0)
  })
})
