import { describe, expect, it, vi } from 'vitest'
import { FLUSH_SLICE, MAX_FLUSH_SLICE, WriteFlusher } from './write-flusher.js'

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('WriteFlusher', () => {
  it(`flushes targets in the order added, ${String(FLUSH_SLICE)} per turn of the event loop`, async () => {
    const flushed: number[] = []
    // Every write merges: turns stay short.
    const flusher = new WriteFlusher<number>((n) => flushed.push(n) > 0)
    for (let n = 0; n < FLUSH_SLICE * 2 + 1; n++) flusher.add(n)
    expect(flushed).toEqual([])
    expect(flusher.size).toBe(FLUSH_SLICE * 2 + 1)
    await turn()
    expect(flushed).toHaveLength(FLUSH_SLICE)
    await turn()
    await turn()
    expect(flushed).toEqual(Array.from({ length: FLUSH_SLICE * 2 + 1 }, (_, n) => n))
    expect(flusher.size).toBe(0)
  })

  it('keeps the order, and flushes each target once, when targets are added while it runs', async () => {
    const flushed: number[] = []
    let next = 3000
    const flusher = new WriteFlusher<number>((n) => {
      flushed.push(n)
      // Every flush brings a new target, as a session does when an update arrives for it meanwhile.
      if (next < 9000) flusher.add(next++)
      return n % 2 === 0
    })
    for (let n = 0; n < 3000; n++) flusher.add(n)
    while (flusher.size > 0) await turn()
    expect(flushed).toEqual(Array.from({ length: 9000 }, (_, n) => n))
  })

  it(`doubles its turns up to ${String(MAX_FLUSH_SLICE)} while no write merges, and shortens them again when one does`, async () => {
    const turns: number[] = []
    let inTurn = 0
    let merging = false
    const flusher = new WriteFlusher<number>(() => {
      inTurn++
      return merging
    })
    const endTurn = async (): Promise<void> => {
      await turn()
      turns.push(inTurn)
      inTurn = 0
    }
    for (let n = 0; n < 20_000; n++) flusher.add(n)
    for (let i = 0; i < 9; i++) await endTurn()
    expect(turns).toEqual([16, 32, 64, 128, 256, 512, 1024, 1024, 1024])
    merging = true
    await endTurn()
    await endTurn()
    expect(turns.slice(-2)).toEqual([1024, FLUSH_SLICE])
    merging = false
    while (flusher.size > 0) await endTurn()
    // A new round starts short again.
    for (let n = 0; n < 100; n++) flusher.add(n)
    await endTurn()
    expect(turns.at(-1)).toBe(FLUSH_SLICE)
    while (flusher.size > 0) await endTurn()
  })

  it('with a delay, flushes each target no sooner than the delay after it was added, in order, from one timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
    try {
      const flushed: number[] = []
      const flusher = new WriteFlusher<number>((n) => flushed.push(n) < 0, 100)
      for (let n = 0; n < 40; n++) flusher.add(n)
      vi.advanceTimersByTime(60)
      for (let n = 40; n < 50; n++) flusher.add(n)
      expect(vi.getTimerCount()).toBe(1)
      await turn()
      expect(flushed).toEqual([])
      vi.advanceTimersByTime(40)
      // Due now: the first 40, in turns; the last 10 wait for their own delay.
      while (flushed.length < 40) await turn()
      await turn()
      expect(flushed).toEqual(Array.from({ length: 40 }, (_, n) => n))
      expect(flusher.size).toBe(10)
      vi.advanceTimersByTime(59)
      await turn()
      expect(flushed).toHaveLength(40)
      vi.advanceTimersByTime(1)
      await turn()
      expect(flushed).toEqual(Array.from({ length: 50 }, (_, n) => n))
      expect(vi.getTimerCount()).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })
})
