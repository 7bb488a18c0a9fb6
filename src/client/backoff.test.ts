import { describe, expect, it } from 'vitest'
import { backoffDelay, DEFAULT_INITIAL_RECONNECT_MS, DEFAULT_MAX_BACKOFF_MS, resolveBackoff } from './backoff.js'

describe('backoffDelay', () => {
  // 9.2.3: "Wait a delay equal to the reconnection time of the event source."
  it('[spec] waits exactly the reconnection time on the first attempt, whatever the jitter', () => {
    for (const random of [0, 0.5, 0.999]) expect(backoffDelay(1, 1000, 30_000, random)).toBe(1000)
  })

  // 9.2.3: "Optionally, wait some more. In particular, if the previous attempt failed, then user agents might
  // introduce an exponential backoff delay to avoid overloading a potentially already overloaded server."
  it('[spec] adds full jitter over an exponential span after failures', () => {
    expect(backoffDelay(2, 1000, 30_000, 0)).toBe(1000)
    expect(backoffDelay(2, 1000, 30_000, 0.999999)).toBe(2000)
    expect(backoffDelay(3, 1000, 30_000, 0.5)).toBe(2500)
    expect(backoffDelay(5, 1000, 30_000, 0.5)).toBe(8500)
  })

  it('[non-spec] caps the span at maxMs', () => {
    expect(backoffDelay(10, 1000, 30_000, 0.999999)).toBe(30_000)
    expect(backoffDelay(10_000, 1000, 30_000, 0.5)).toBe(15_500)
  })

  it('[non-spec] never cuts a reconnection time above maxMs short', () => {
    expect(backoffDelay(1, 60_000, 30_000, 0.5)).toBe(60_000)
    expect(backoffDelay(6, 60_000, 30_000, 0.5)).toBe(60_000)
  })

  it('[non-spec] grows from a small floor when the server asked for retry: 0', () => {
    expect(backoffDelay(1, 0, 30_000, 0.5)).toBe(0)
    expect(backoffDelay(2, 0, 30_000, 0.999999)).toBe(20)
    expect(backoffDelay(12, 0, 30_000, 0.999999)).toBe(20_480)
  })

  it('[non-spec] stays within what a timer can wait', () => {
    expect(backoffDelay(1, Number.MAX_SAFE_INTEGER, 30_000, 0)).toBe(2_147_483_647)
  })

  it('[non-spec] spreads delays uniformly over the span', () => {
    const delays = Array.from({ length: 1000 }, (_, i) => backoffDelay(4, 100, 30_000, i / 1000))
    expect(Math.min(...delays)).toBe(100)
    expect(Math.max(...delays)).toBe(799)
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length
    expect(mean).toBeCloseTo(450, -1)
  })
})

describe('resolveBackoff', () => {
  it('applies the documented defaults and freezes the result', () => {
    const resolved = resolveBackoff(undefined, null)
    expect(resolved).toEqual({ initialMs: DEFAULT_INITIAL_RECONNECT_MS, maxMs: DEFAULT_MAX_BACKOFF_MS, maxAttempts: null })
    expect(Object.isFrozen(resolved)).toBe(true)
    expect(resolveBackoff({}, 3).maxAttempts).toBe(3)
    expect(resolveBackoff({ maxAttempts: null }, 3).maxAttempts).toBeNull()
    expect(resolveBackoff({ initialMs: 0, maxMs: 0, maxAttempts: 0 }, 3)).toEqual({ initialMs: 0, maxMs: 0, maxAttempts: 0 })
  })

  it('throws ERR_CLIENT_INVALID_OPTION for bad values', () => {
    for (const bad of [{ initialMs: -1 }, { initialMs: Number.NaN }, { maxMs: Infinity }, { maxAttempts: -1 }, { maxAttempts: 2.5 }, { initialMs: '5' }, 7]) {
      expect(() => resolveBackoff(bad as never, null)).toThrow(expect.objectContaining({ code: 'ERR_CLIENT_INVALID_OPTION' }))
    }
  })
})
