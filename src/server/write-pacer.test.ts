import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { WritePacer } from './write-pacer.js'

describe('WritePacer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
  })

  afterEach(() => {
    vi.useRealTimers()
  })

  it('releases each target once its own wait is over, whatever the order they were added in', () => {
    const released: string[] = []
    const pacer = new WritePacer<string>((target) => released.push(target))
    pacer.add('late', 30)
    pacer.add('early', 10)
    pacer.add('middle', 20)
    pacer.add('early too', 10)
    expect(pacer.size).toBe(4)
    vi.advanceTimersByTime(9)
    expect(released).toEqual([])
    vi.advanceTimersByTime(1)
    expect(released).toEqual(['early', 'early too'])
    vi.advanceTimersByTime(10)
    expect(released).toEqual(['early', 'early too', 'middle'])
    vi.advanceTimersByTime(10)
    expect(released).toEqual(['early', 'early too', 'middle', 'late'])
    expect(pacer.size).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('keeps one timer, for the earliest target, however many wait', () => {
    const released: number[] = []
    const pacer = new WritePacer<number>((target) => released.push(target))
    for (let n = 0; n < 1000; n++) pacer.add(n, 40 - (n % 40))
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(1)
    expect(released).toHaveLength(25)
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(39)
    expect([...released].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, n) => n))
    expect(vi.getTimerCount()).toBe(0)
  })

  it('rounds a fractional wait up to the next millisecond, and may release a target added again after its release', () => {
    const released: string[] = []
    const pacer = new WritePacer<string>((target) => {
      released.push(target)
      if (released.length === 1) pacer.add(target, 5)
    })
    pacer.add('a', 0.2)
    vi.advanceTimersByTime(1)
    expect(released).toEqual(['a'])
    vi.advanceTimersByTime(5)
    expect(released).toEqual(['a', 'a'])
  })
})
