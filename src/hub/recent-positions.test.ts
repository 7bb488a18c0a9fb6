import { describe, expect, it } from 'vitest'
import { RecentPositions } from './recent-positions.js'

const at = (offset: string, epoch = 'e1') => ({ epoch, offset })

describe('RecentPositions', () => {
  it('forgets the oldest delivery, not the lowest position, past its capacity', () => {
    const recent = new RecentPositions(3)
    for (const offset of ['5', '2', '7', '9']) recent.add(at(offset))
    expect(recent.size).toBe(3)
    expect(recent.full).toBe(true)
    expect(recent.has(at('5'))).toBe(false)
    expect([recent.has(at('2')), recent.has(at('7')), recent.has(at('9'))]).toEqual([true, true, true])
  })

  it('gives the earliest and furthest positions in history order, not delivery order', () => {
    const recent = new RecentPositions(10)
    for (const offset of ['1700000000000-3', '1700000000000-12', '1699999999999-40']) recent.add(at(offset))
    expect(recent.earliest()).toEqual(at('1699999999999-40'))
    expect(recent.furthest()).toEqual(at('1700000000000-12'))
  })

  it('reads only the epoch of the latest delivery: an older life of the history cannot be read from', () => {
    const recent = new RecentPositions(10)
    recent.add(at('1', 'old'))
    recent.add(at('50', 'new'))
    recent.add(at('60', 'new'))
    expect([recent.earliest(), recent.furthest()]).toEqual([at('50', 'new'), at('60', 'new')])
    expect(recent.has(at('1', 'new'))).toBe(false)
    expect(recent.has(at('1', 'old'))).toBe(true)
  })

  it('holds nothing when empty or with no capacity', () => {
    const none = new RecentPositions(0)
    none.add(at('1'))
    expect([none.size, none.earliest(), new RecentPositions(5).furthest()]).toEqual([0, undefined, undefined])
  })
})
