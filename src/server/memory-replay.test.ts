import { describe, expect, it } from 'vitest'
import { encodeSseEvent } from './sse-event.js'
import { createMemoryReplay, DEFAULT_REPLAY_MAX_BYTES, DEFAULT_REPLAY_MAX_EVENTS, MemoryReplay } from './memory-replay.js'
import type { ReplayEntry } from './replay.js'

function entry(id: string, data = id): ReplayEntry {
  const { message, bytes } = encodeSseEvent({ id, data })
  return { id, message, bytes }
}

const ids = (entries: readonly ReplayEntry[]): string[] => entries.map((e) => e.id)

describe('MemoryReplay', () => {
  it('has documented defaults', () => {
    const replay = createMemoryReplay()
    expect(replay).toBeInstanceOf(MemoryReplay)
    expect(replay.maxEvents).toBe(DEFAULT_REPLAY_MAX_EVENTS)
    expect(replay.maxBytes).toBe(DEFAULT_REPLAY_MAX_BYTES)
    expect(DEFAULT_REPLAY_MAX_EVENTS).toBe(1000)
    expect(DEFAULT_REPLAY_MAX_BYTES).toBe(4 * 1024 * 1024)
    expect(replay.size).toBe(0)
    expect(replay.oldestId).toBeNull()
    expect(replay.newestId).toBeNull()
  })

  it('reads the events after a known id, oldest first', () => {
    const replay = createMemoryReplay()
    for (const id of ['a', 'b', 'c', 'd']) replay.append(entry(id))
    expect(replay.readAfter('b')).toEqual({ status: 'found', entries: [entry('c'), entry('d')] })
    expect(replay.readAfter('d')).toEqual({ status: 'found', entries: [] })
  })

  it('evicts the oldest past maxEvents, wrapping around its ring', () => {
    const replay = createMemoryReplay({ maxEvents: 3 })
    for (let i = 0; i < 10; i++) replay.append(entry(String(i)))
    expect(replay.size).toBe(3)
    expect(replay.oldestId).toBe('7')
    expect(replay.newestId).toBe('9')
    expect(ids(replay.readAfter('7').entries)).toEqual(['8', '9'])
    expect(replay.readAfter('6')).toMatchObject({ status: 'gap', reason: 'unknown', oldestId: '7', newestId: '9' })
  })

  it('evicts the oldest past maxBytes, and keeps the byte count', () => {
    const size = entry('0', 'x'.repeat(100)).bytes.byteLength
    const replay = createMemoryReplay({ maxBytes: size * 2 + 1 })
    for (let i = 0; i < 5; i++) replay.append(entry(String(i), 'x'.repeat(100 - String(i).length + 1)))
    expect(replay.size).toBe(2)
    expect(replay.bytes).toBeLessThanOrEqual(size * 2 + 1)
    expect(replay.oldestId).toBe('3')
  })

  it('forgets everything before an event too large to keep', () => {
    const replay = createMemoryReplay({ maxBytes: 100 })
    replay.append(entry('small'))
    replay.append(entry('huge', 'x'.repeat(200)))
    expect(replay.size).toBe(0)
    expect(replay.bytes).toBe(0)
    expect(replay.readAfter('small')).toMatchObject({ status: 'gap', entries: [] })
    replay.append(entry('after'))
    expect(replay.readAfter('small')).toMatchObject({ status: 'gap', entries: [entry('after')] })
  })

  it('makes ids with a random epoch, and tells expired ids of its own from unknown ones', () => {
    const replay = createMemoryReplay({ maxEvents: 2 })
    const made = [0, 1, 2, 3].map(() => replay.createId())
    expect(made[0]).toBe(`${replay.epoch}-0`)
    expect(made[3]).toBe(`${replay.epoch}-3`)
    expect(createMemoryReplay().epoch).not.toBe(replay.epoch)
    for (const id of made) replay.append(entry(id))
    expect(replay.readAfter(made[0]!)).toMatchObject({ status: 'gap', reason: 'expired' })
    expect(replay.readAfter(`${replay.epoch}-99`)).toMatchObject({ status: 'gap', reason: 'unknown' })
    expect(replay.readAfter(`${replay.epoch}-01`)).toMatchObject({ status: 'gap', reason: 'unknown' })
    expect(replay.readAfter('other-1')).toMatchObject({ status: 'gap', reason: 'unknown', entries: [entry(made[2]!), entry(made[3]!)] })
  })

  it('resumes after the latest event of a reused id', () => {
    const replay = createMemoryReplay({ maxEvents: 3 })
    for (const id of ['x', 'y', 'x']) replay.append(entry(id))
    expect(ids(replay.readAfter('x').entries)).toEqual([])
    replay.append(entry('z'))
    // Evicting the first "x" must not forget the second.
    expect(ids(replay.readAfter('x').entries)).toEqual(['z'])
  })

  it('clears', () => {
    const replay = createMemoryReplay()
    replay.append(entry('a'))
    replay.clear()
    expect(replay.size).toBe(0)
    expect(replay.readAfter('a').status).toBe('gap')
  })

  it.each([{ maxEvents: 0 }, { maxEvents: 1.5 }, { maxBytes: -1 }, { maxBytes: '1' as never }])('rejects %o', (options) => {
    expect(() => createMemoryReplay(options)).toThrow(expect.objectContaining({ code: 'ERR_SERVER_INVALID_OPTION' }))
  })
})
