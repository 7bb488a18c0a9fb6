import { describe, expect, it } from 'vitest'
import { checkPublishOrigin } from './check-publish-origin.js'
import type { AuthRequest } from './extract-token.js'
import { thrownCode } from '../testing/error-codes.js'

const request = (headers: Record<string, string>, url = 'https://hub.example.com/.well-known/mercure'): AuthRequest => ({
  url: new URL(url),
  headers: new Headers(headers),
})

describe('checkPublishOrigin', () => {
  it('[spec] "verify that the source origin matches the target origin" (Origin header)', () => {
    expect(thrownCode(() => checkPublishOrigin(request({ origin: 'https://hub.example.com' })))).toBeUndefined()
    expect(thrownCode(() => checkPublishOrigin(request({ origin: 'https://hub.example.com:443' })))).toBeUndefined()
    expect(thrownCode(() => checkPublishOrigin(request({ origin: 'https://evil.example' })))).toBe('ERR_HUB_AUTH_ORIGIN_REJECTED')
    expect(thrownCode(() => checkPublishOrigin(request({ origin: 'https://hub.example.com:8443' })))).toBe(
      'ERR_HUB_AUTH_ORIGIN_REJECTED',
    )
  })

  it('[spec] falls back to the Referer header, and the Origin header wins when both are present', () => {
    expect(thrownCode(() => checkPublishOrigin(request({ referer: 'https://hub.example.com/admin?x=1' })))).toBeUndefined()
    expect(thrownCode(() => checkPublishOrigin(request({ referer: 'https://evil.example/' })))).toBe('ERR_HUB_AUTH_ORIGIN_REJECTED')
    expect(thrownCode(() => checkPublishOrigin(request({ referer: 'not a url' })))).toBe('ERR_HUB_AUTH_ORIGIN_REJECTED')
    const both = request({ origin: 'https://evil.example', referer: 'https://hub.example.com/' })
    expect(thrownCode(() => checkPublishOrigin(both))).toBe('ERR_HUB_AUTH_ORIGIN_REJECTED')
  })

  it('[spec] "If none of these headers are available, the hub SHOULD discard the request"', () => {
    expect(thrownCode(() => checkPublishOrigin(request({})))).toBe('ERR_HUB_AUTH_ORIGIN_REJECTED')
  })

  it('refuses the opaque origin "null", even with "*"', () => {
    expect(thrownCode(() => checkPublishOrigin(request({ origin: 'null' }), ['*']))).toBe('ERR_HUB_AUTH_ORIGIN_REJECTED')
  })

  it('accepts the configured origins instead of the request\'s own', () => {
    const allowed = ['https://app.example.com', 'https://admin.example.com/']
    expect(thrownCode(() => checkPublishOrigin(request({ origin: 'https://admin.example.com' }), allowed))).toBeUndefined()
    expect(thrownCode(() => checkPublishOrigin(request({ origin: 'https://hub.example.com' }), allowed))).toBe(
      'ERR_HUB_AUTH_ORIGIN_REJECTED',
    )
    expect(thrownCode(() => checkPublishOrigin(request({ origin: 'https://any.example' }), ['*']))).toBeUndefined()
  })
})
