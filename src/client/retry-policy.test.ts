import { describe, expect, it } from 'vitest'
import { DEFAULT_MAX_RETRY_AFTER_MS, resolveRetryOn } from './retry-policy.js'

describe('resolveRetryOn', () => {
  it('[spec] retries no status by default; network errors as the caller says', () => {
    const policy = resolveRetryOn(undefined, true)
    for (const status of [204, 301, 400, 404, 429, 500, 503]) expect(policy.retriesStatus(status)).toBe(false)
    expect(policy.anyStatus).toBe(false)
    expect(policy.network).toBe(true)
    expect(resolveRetryOn(undefined, false).network).toBe(false)
    expect(policy.maxRetryAfterMs).toBe(DEFAULT_MAX_RETRY_AFTER_MS)
  })

  it('[non-spec] status: true retries 429 and every 5xx, and no other status', () => {
    const policy = resolveRetryOn({ status: true }, true)
    expect([429, 500, 502, 503, 504, 599].every((s) => policy.retriesStatus(s))).toBe(true)
    expect([200, 204, 301, 400, 401, 403, 404, 408, 428, 600].some((s) => policy.retriesStatus(s))).toBe(false)
    expect(policy.anyStatus).toBe(true)
  })

  it('[non-spec] a list retries only the statuses listed', () => {
    const policy = resolveRetryOn({ status: [503] }, false)
    expect(policy.retriesStatus(503)).toBe(true)
    expect(policy.retriesStatus(500)).toBe(false)
    expect(resolveRetryOn({ status: [] }, false).anyStatus).toBe(false)
  })

  it('[non-spec] refuses to list a 4xx other than 429, or any non-error status', () => {
    for (const status of [[404], [401], [204], [301], [200], [600], ['503'], 'all']) {
      expect(() => resolveRetryOn({ status } as never, true)).toThrow(expect.objectContaining({ code: 'ERR_CLIENT_INVALID_OPTION' }))
    }
    for (const bad of [{ network: 'yes' }, { maxRetryAfterMs: -1 }, 'never']) {
      expect(() => resolveRetryOn(bad as never, true)).toThrow(expect.objectContaining({ code: 'ERR_CLIENT_INVALID_OPTION' }))
    }
  })
})
