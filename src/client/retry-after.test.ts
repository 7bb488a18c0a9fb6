import { describe, expect, it } from 'vitest'
import { parseRetryAfter } from './retry-after.js'

// RFC 9110 §10.2.3: "Retry-After = HTTP-date / delay-seconds", "delay-seconds = 1*DIGIT"
describe('parseRetryAfter', () => {
  const now = Date.parse('Sun, 06 Nov 1994 08:49:37 GMT')

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter('0', now)).toBe(0)
    expect(parseRetryAfter(' 3 ', now)).toBe(3000)
  })

  it('reads an HTTP-date in the three formats', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:47 GMT', now)).toBe(10_000)
    expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:47 GMT', now)).toBe(10_000)
    expect(parseRetryAfter('Sun Nov  6 08:49:47 1994', now - new Date(now).getTimezoneOffset() * 60_000)).toBeGreaterThanOrEqual(0)
  })

  it('gives 0 for a date in the past', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:00:00 GMT', now)).toBe(0)
  })

  it('ignores absent and malformed values', () => {
    for (const bad of [null, undefined, '', '-5', '1.5', 'soon', '1e3', '0x10']) expect(parseRetryAfter(bad, now)).toBeUndefined()
  })
})
