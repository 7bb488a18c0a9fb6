import { describe, expect, it } from 'vitest'
import { FLUSH_SLICE, WriteFlusher } from './write-flusher.js'

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('WriteFlusher', () => {
  it(`flushes targets in the order added, ${String(FLUSH_SLICE)} per turn of the event loop`, async () => {
    const flushed: number[] = []
    const flusher = new WriteFlusher<number>((n) => flushed.push(n))
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
    })
    for (let n = 0; n < 3000; n++) flusher.add(n)
    while (flusher.size > 0) await turn()
    expect(flushed).toEqual(Array.from({ length: 9000 }, (_, n) => n))
  })
})
