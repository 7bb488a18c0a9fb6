import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compareOffsets, isStreamOffset } from './stream-position.js'

const sign = (n: number): number => (n > 0 ? 1 : n < 0 ? -1 : 0)
const bigintSign = (a: bigint, b: bigint): number => (a > b ? 1 : a < b ? -1 : 0)

describe('isStreamOffset', () => {
  it('accepts canonical sequence numbers and dash-joined numbers', () => {
    for (const offset of ['0', '7', '42', '18446744073709551615', '1700000000000-0', '1700000000000-12', '1-2-3']) {
      expect(isStreamOffset(offset), offset).toBe(true)
    }
  })

  it('rejects leading zeros, empty parts, signs, spaces and non-strings', () => {
    for (const offset of ['', '00', '01', '-1', '1-', '-', '1--2', '1-01', '+1', ' 1', '1 ', '1.5', 'abc', '1e3', '٣']) {
      expect(isStreamOffset(offset), JSON.stringify(offset)).toBe(false)
    }
    for (const value of [1, null, undefined, {}, ['1']]) expect(isStreamOffset(value)).toBe(false)
  })
})

describe('compareOffsets', () => {
  it('orders sequence numbers numerically, not as text', () => {
    expect(compareOffsets('9', '10')).toBeLessThan(0)
    expect(compareOffsets('10', '9')).toBeGreaterThan(0)
    expect(compareOffsets('100', '100')).toBe(0)
    expect(compareOffsets('0', '1')).toBeLessThan(0)
  })

  it('orders Redis-style ids component by component, a missing component counting as 0', () => {
    expect(compareOffsets('1700000000000-3', '1700000000000-12')).toBeLessThan(0)
    expect(compareOffsets('1700000000001-0', '1700000000000-99')).toBeGreaterThan(0)
    expect(compareOffsets('5', '5-0')).toBe(0)
    expect(compareOffsets('5', '5-1')).toBeLessThan(0)
    expect(compareOffsets('5-1', '5')).toBeGreaterThan(0)
  })

  it('[property] agrees with integer order for numbers of any size', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 80n }), fc.bigInt({ min: 0n, max: 1n << 80n }), (a, b) => {
        expect(sign(compareOffsets(String(a), String(b)))).toBe(bigintSign(a, b))
      }),
    )
  })

  it('[property] agrees with lexicographic order of integer pairs', () => {
    const part = fc.bigInt({ min: 0n, max: 1n << 60n })
    fc.assert(
      fc.property(part, part, part, part, (a1, a2, b1, b2) => {
        const expected = a1 !== b1 ? bigintSign(a1, b1) : bigintSign(a2, b2)
        expect(sign(compareOffsets(`${a1}-${a2}`, `${b1}-${b2}`))).toBe(expected)
      }),
    )
  })
})
