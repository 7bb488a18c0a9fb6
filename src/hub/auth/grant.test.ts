import { describe, expect, it } from 'vitest'
import { grantFromClaims } from './grant.js'
import { thrownCode } from '../testing/error-codes.js'

const HUB = 'https://hub.example.com/.well-known/mercure'

describe('grantFromClaims: the mercure claim', () => {
  it('[spec] maps mercure.publish and mercure.subscribe to topic selectors (URI templates included)', () => {
    const grant = grantFromClaims(
      { mercure: { publish: ['https://example.com/books/{id}'], subscribe: ['*'] }, exp: 1_900_000_000, sub: 'alice' },
      'mercure',
    )
    expect(grant.profile).toBe('mercure')
    expect(grant.publish?.matchesTopic('https://example.com/books/42')).toBe(true)
    expect(grant.publish?.matchesTopic('https://example.com/books/{id}')).toBe(true) // a selector matches itself
    expect(grant.subscribe?.matchesAll).toBe(true)
    expect(grant.expiresAt).toBe(1_900_000_000_000)
    expect(grant.subject).toBe('alice')
    expect(Object.isFrozen(grant.claims)).toBe(true)
  })

  it('[spec] "The mercure claim of the JWS CAN also contain user-defined values under the payload key"', () => {
    const payload = { user: 'https://example.com/users/alice', groups: ['admins'] }
    const grant = grantFromClaims({ mercure: { subscribe: ['*'], payload } }, 'mercure')
    expect(grant.payload).toEqual(payload)
    expect(grant.payloadFor('https://example.com/anything')).toEqual(payload)
  })

  it('grants nothing without the claim or with empty lists', () => {
    for (const claims of [{}, { mercure: {} }, { mercure: { publish: [], subscribe: [] } }]) {
      const grant = grantFromClaims(claims, 'mercure')
      expect(grant.publish).toBeNull()
      expect(grant.subscribe).toBeNull()
    }
  })

  it('refuses malformed claims and oversized lists with ERR_HUB_AUTH_CLAIMS_INVALID', () => {
    expect(thrownCode(() => grantFromClaims({ mercure: null }, 'mercure'))).toBe('ERR_HUB_AUTH_CLAIMS_INVALID')
    expect(thrownCode(() => grantFromClaims({ mercure: { subscribe: {} } }, 'mercure'))).toBe('ERR_HUB_AUTH_CLAIMS_INVALID')
    expect(thrownCode(() => grantFromClaims({ mercure: { publish: ['a', 'b', 'c'] } }, 'mercure', { maxClaimSelectors: 2 }))).toBe(
      'ERR_HUB_AUTH_CLAIMS_INVALID',
    )
    expect(thrownCode(() => grantFromClaims({ mercure: { publish: ['x'.repeat(50)] } }, 'mercure', { maxSelectorLength: 10 }))).toBe(
      'ERR_HUB_AUTH_CLAIMS_INVALID',
    )
  })
})

describe('grantFromClaims: authorization_details (at+jwt)', () => {
  it('[spec] "If no matchType key is present, the hub MUST assume the Exact matcher type"', () => {
    const grant = grantFromClaims(
      { authorization_details: [{ type: 'mercure', actions: ['subscribe'], topics: [{ match: 'https://example.com/books/{id}' }] }] },
      'at+jwt',
    )
    expect(grant.subscribe?.matchesTopic('https://example.com/books/{id}')).toBe(true)
    expect(grant.subscribe?.matchesTopic('https://example.com/books/1')).toBe(false)
    expect(grant.publish).toBeNull()
  })

  it('[spec] "A match value of * is the reserved wildcard and matches every topic regardless of matchType"', () => {
    for (const topic of [{ match: '*' }, { match: '*', matchType: 'Exact' }, { match: '*', matchType: 'URLPattern' }]) {
      const grant = grantFromClaims({ authorization_details: [{ type: 'mercure', actions: ['publish'], topics: [topic] }] }, 'at+jwt')
      expect(grant.publish?.matchesTopic('urn:anything')).toBe(true)
    }
  })

  it('[spec] a detail with both actions grants both; "Tokens with no mercure authorization detail grant no publish or subscribe rights"', () => {
    const both = grantFromClaims(
      { authorization_details: [{ type: 'mercure', actions: ['publish', 'subscribe'], topics: [{ match: 'urn:a' }] }] },
      'at+jwt',
    )
    expect(both.publish?.matchesTopic('urn:a')).toBe(true)
    expect(both.subscribe?.matchesTopic('urn:a')).toBe(true)
    const none = grantFromClaims({ authorization_details: [{ type: 'openid_credential' }] }, 'at+jwt')
    expect(none.publish).toBeNull()
    expect(none.subscribe).toBeNull()
    expect(grantFromClaims({}, 'at+jwt').subscribe).toBeNull()
  })

  it('[spec] payload example: the first subscribe detail whose topics match the subscription\'s own matcher wins', () => {
    const grant = grantFromClaims(
      {
        authorization_details: [
          {
            type: 'mercure',
            actions: ['subscribe'],
            topics: [{ match: 'https://example.com/foo' }],
            payload: { custom1: 'data only available for this topic' },
          },
          {
            type: 'mercure',
            actions: ['subscribe'],
            topics: [{ match: 'https://example.com/bar/:id', matchType: 'URLPattern' }],
            payload: { custom2: 'data available for matching subscriptions' },
          },
          {
            type: 'mercure',
            actions: ['subscribe'],
            topics: [{ match: '*' }],
            payload: { custom3: 'default data for all other subscriptions' },
          },
        ],
      },
      'at+jwt',
      { baseURL: HUB },
    )
    expect(grant.payload).toBeUndefined()
    expect(grant.payloadFor('https://example.com/foo')).toEqual({ custom1: 'data only available for this topic' })
    // "the URLPattern matcher https://example.com/bar/:id … matches the subscription created by
    // matchURLPattern=https://example.com/bar/:id"
    expect(grant.payloadFor('https://example.com/bar/:id')).toEqual({ custom2: 'data available for matching subscriptions' })
    expect(grant.payloadFor('https://example.com/bar/1')).toEqual({ custom2: 'data available for matching subscriptions' })
    expect(grant.payloadFor('https://example.com/other')).toEqual({ custom3: 'default data for all other subscriptions' })
  })

  it('[spec] relative URL patterns need the hub URL; without it the token is invalid', () => {
    const claims = {
      authorization_details: [
        { type: 'mercure', actions: ['subscribe'], topics: [{ match: '/.well-known/mercure/subscriptions/*', matchType: 'URLPattern' }] },
      ],
    }
    expect(thrownCode(() => grantFromClaims(claims, 'at+jwt'))).toBe('ERR_HUB_AUTH_CLAIMS_INVALID')
    const grant = grantFromClaims(claims, 'at+jwt', { baseURL: HUB })
    expect(grant.subscribe?.matchesTopic('/.well-known/mercure/subscriptions/Exact/a/b')).toBe(true)
  })

  it('refuses a non-array authorization_details', () => {
    expect(thrownCode(() => grantFromClaims({ authorization_details: { type: 'mercure' } }, 'at+jwt'))).toBe(
      'ERR_HUB_AUTH_CLAIMS_INVALID',
    )
  })
})
