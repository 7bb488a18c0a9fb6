import { describe, expect, it } from 'vitest'
import { mercureCookie, mercureLink } from './discovery.js'

describe('discovery', () => {
  it('advertises the hub with rel="mercure" and the optional target attributes', () => {
    expect(mercureLink('https://hub.example/.well-known/mercure')).toBe('<https://hub.example/.well-known/mercure>; rel="mercure"')
    expect(mercureLink(new URL('https://hub.example/.well-known/mercure'), { lastEventId: 'urn:uuid:1', contentType: 'application/merge-patch+json' })).toBe(
      '<https://hub.example/.well-known/mercure>; rel="mercure"; last-event-id="urn:uuid:1"; content-type="application/merge-patch+json"',
    )
    expect(mercureLink('https://h/', { lastEventId: 'a"b' })).toContain('last-event-id="a\\"b"')
  })

  it('builds an HttpOnly, Secure, SameSite cookie scoped to the hub path', () => {
    expect(mercureCookie('t.o.k')).toBe('mercureAuthorization=t.o.k; Path=/.well-known/mercure; HttpOnly; SameSite=Strict; Secure')
    expect(mercureCookie('t', { secure: false, sameSite: 'Lax', domain: 'example.com', maxAgeSeconds: 60.5 })).toBe(
      'mercureAuthorization=t; Path=/.well-known/mercure; HttpOnly; SameSite=Lax; Domain=example.com; Max-Age=60',
    )
  })
})
