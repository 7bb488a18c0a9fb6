import { describe, expect, it } from 'vitest'
import { createAuthorizer, type AuthorizerOptions } from './authorizer.js'
import type { AuthRequest } from './extract-token.js'
import type { Grant } from './grant.js'
import { signToken } from './sign-token.js'
import { rejectionCode } from '../testing/error-codes.js'

const PUBLISHER_SECRET = 'publisher-secret-that-is-at-least-32-bytes'
const SUBSCRIBER_SECRET = 'subscriber-secret-that-is-at-least-32-bytes'
const HUB = 'https://hub.example.com/.well-known/mercure'

function request(init: { query?: string; headers?: Record<string, string>; method?: string } = {}): AuthRequest {
  const req = new Request(`${HUB}${init.query ?? ''}`, { method: init.method ?? 'GET', headers: init.headers ?? {} })
  return { headers: req.headers, url: new URL(req.url) }
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

function authorizer(extra: AuthorizerOptions = {}) {
  return createAuthorizer({
    publisherKey: { secret: PUBLISHER_SECRET },
    subscriberKey: { secret: SUBSCRIBER_SECRET },
    baseURL: HUB,
    ...extra,
  })
}

describe('authorizePublish', () => {
  it('[spec] accepts a publisher whose mercure.publish selectors match every topic of the update', async () => {
    const token = await signToken({ key: PUBLISHER_SECRET, publish: ['https://example.com/books/{id}', 'urn:extra'] })
    const grant = await authorizer().authorizePublish(request({ method: 'POST', headers: bearer(token) }), [
      'https://example.com/books/1',
      'urn:extra',
    ])
    expect(grant.publish).not.toBeNull()
  })

  it('[spec] "If the publisher is not authorized for all the topics of an update, the hub MUST NOT dispatch the update (even if some topics in the list are allowed) and MUST return a 403"', async () => {
    const token = await signToken({ key: PUBLISHER_SECRET, publish: ['https://example.com/books/{id}'] })
    const req = request({ method: 'POST', headers: bearer(token) })
    expect(await rejectionCode(authorizer().authorizePublish(req, ['https://example.com/books/1', 'https://example.com/authors/1']))).toBe(
      'ERR_HUB_AUTH_INSUFFICIENT_SCOPE',
    )
  })

  it('[spec] "If mercure.publish is not defined, or contains an empty array, then the publisher MUST NOT be authorized"', async () => {
    for (const token of [
      await signToken({ key: PUBLISHER_SECRET, subscribe: ['*'] }),
      await signToken({ key: PUBLISHER_SECRET, publish: [] }),
    ]) {
      expect(await rejectionCode(authorizer().authorizePublish(request({ headers: bearer(token) }), ['urn:a']))).toBe(
        'ERR_HUB_AUTH_INSUFFICIENT_SCOPE',
      )
    }
  })

  it('[spec] publishes with at+jwt tokens granting publish on the topic', async () => {
    const token = await signToken({
      key: PUBLISHER_SECRET,
      profile: 'at+jwt',
      audience: HUB,
      publish: [{ match: 'https://example.com/books/:id', matchType: 'URLPattern' }],
    })
    const auth = authorizer({ audience: HUB })
    expect((await auth.authorizePublish(request({ headers: bearer(token) }), ['https://example.com/books/9'])).profile).toBe('at+jwt')
    expect(await rejectionCode(auth.authorizePublish(request({ headers: bearer(token) }), ['https://example.com/authors/9']))).toBe(
      'ERR_HUB_AUTH_INSUFFICIENT_SCOPE',
    )
  })

  it('[spec] refuses a publisher without a token (401) and tokens signed with another key', async () => {
    expect(await rejectionCode(authorizer().authorizePublish(request(), ['urn:a']))).toBe('ERR_HUB_AUTH_TOKEN_MISSING')
    const subscriberToken = await signToken({ key: SUBSCRIBER_SECRET, publish: ['*'] })
    expect(await rejectionCode(authorizer().authorizePublish(request({ headers: bearer(subscriberToken) }), ['urn:a']))).toBe(
      'ERR_HUB_AUTH_TOKEN_INVALID',
    )
    const token = await signToken({ key: PUBLISHER_SECRET, publish: ['*'] })
    const noKey = createAuthorizer({ subscriberKey: { secret: SUBSCRIBER_SECRET } })
    expect(await rejectionCode(noKey.authorizePublish(request({ headers: bearer(token) }), ['urn:a']))).toBe(
      'ERR_HUB_AUTH_TOKEN_INVALID',
    )
  })

  describe('cookie authorization and CSRF', () => {
    const cookie = async () => `mercureAuthorization=${await signToken({ key: PUBLISHER_SECRET, publish: ['*'] })}`

    it('[spec] accepts a cookie-borne token from the hub\'s own origin (Origin, else Referer)', async () => {
      const auth = authorizer()
      const sameOrigin = request({ method: 'POST', headers: { cookie: await cookie(), origin: 'https://hub.example.com' } })
      expect(await rejectionCode(auth.authorizePublish(sameOrigin, ['urn:a']))).toBe('resolved')
      const referer = request({ method: 'POST', headers: { cookie: await cookie(), referer: 'https://hub.example.com/app/page' } })
      expect(await rejectionCode(auth.authorizePublish(referer, ['urn:a']))).toBe('resolved')
    })

    it('[spec] "hub implementations SHOULD use the Origin and Referer HTTP headers … to verify that the source origin matches the target origin"', async () => {
      const auth = authorizer()
      for (const headers of [
        { origin: 'https://evil.example' },
        { referer: 'https://evil.example/form' },
        { origin: 'null' },
        { origin: 'http://hub.example.com' },
      ]) {
        const req = request({ method: 'POST', headers: { cookie: await cookie(), ...headers } })
        expect(await rejectionCode(auth.authorizePublish(req, ['urn:a'])), JSON.stringify(headers)).toBe(
          'ERR_HUB_AUTH_ORIGIN_REJECTED',
        )
      }
    })

    it('[spec] "If none of these headers are available, the hub SHOULD discard the request"', async () => {
      const req = request({ method: 'POST', headers: { cookie: await cookie() } })
      expect(await rejectionCode(authorizer().authorizePublish(req, ['urn:a']))).toBe('ERR_HUB_AUTH_ORIGIN_REJECTED')
    })

    it('allows the configured publish origins, or any with "*"', async () => {
      const req = request({ method: 'POST', headers: { cookie: await cookie(), origin: 'https://app.example.com' } })
      expect(await rejectionCode(authorizer({ publishOrigins: ['https://app.example.com'] }).authorizePublish(req, ['urn:a']))).toBe(
        'resolved',
      )
      expect(await rejectionCode(authorizer({ publishOrigins: ['*'] }).authorizePublish(req, ['urn:a']))).toBe('resolved')
      expect(await rejectionCode(authorizer({ publishOrigins: ['https://other.example.com'] }).authorizePublish(req, ['urn:a']))).toBe(
        'ERR_HUB_AUTH_ORIGIN_REJECTED',
      )
    })

    it('does not check origins for tokens in the Authorization header', async () => {
      const token = await signToken({ key: PUBLISHER_SECRET, publish: ['*'] })
      const req = request({ method: 'POST', headers: { ...bearer(token), origin: 'https://elsewhere.example' } })
      expect(await rejectionCode(authorizer().authorizePublish(req, ['urn:a']))).toBe('resolved')
    })
  })
})

describe('authorizeSubscribe', () => {
  it('[spec] requires a token unless anonymous subscribers are allowed', async () => {
    expect(await rejectionCode(authorizer().authorizeSubscribe(request({ query: '?topic=*' })))).toBe('ERR_HUB_AUTH_TOKEN_MISSING')
    expect(await authorizer({ anonymous: true }).authorizeSubscribe(request({ query: '?topic=*' }))).toBeNull()
  })

  it('verifies a presented token even when anonymous subscribers are allowed', async () => {
    const req = request({ query: '?topic=*', headers: { cookie: 'mercureAuthorization=not.a.token' } })
    expect(await rejectionCode(authorizer({ anonymous: true }).authorizeSubscribe(req))).toBe('ERR_HUB_AUTH_TOKEN_MALFORMED')
    const publisherToken = await signToken({ key: PUBLISHER_SECRET, subscribe: ['*'] })
    expect(await rejectionCode(authorizer({ anonymous: true }).authorizeSubscribe(request({ headers: bearer(publisherToken) })))).toBe(
      'ERR_HUB_AUTH_TOKEN_INVALID',
    )
  })

  it('[spec] reads the token from the cookie or the authorization query parameter; no CSRF check for reading', async () => {
    const token = await signToken({ key: SUBSCRIBER_SECRET, subscribe: ['*'] })
    const byCookie = await authorizer().authorizeSubscribe(request({ headers: { cookie: `mercureAuthorization=${token}` } }))
    expect(byCookie?.subscribe?.matchesAll).toBe(true)
    const byQuery = await authorizer().authorizeSubscribe(request({ query: `?topic=*&authorization=${token}` }))
    expect(byQuery?.subscribe?.matchesAll).toBe(true)
  })

  it('[spec] exposes exp so the hub can close the connection "at that time"', async () => {
    const token = await signToken({ key: SUBSCRIBER_SECRET, subscribe: ['*'], expiresIn: '5m' })
    const grant = await authorizer().authorizeSubscribe(request({ headers: bearer(token) }))
    expect(grant?.expiresAt).toBeGreaterThan(Date.now() + 290_000)
  })

  it('refuses tokens when no subscriber key is configured', async () => {
    const token = await signToken({ key: SUBSCRIBER_SECRET, subscribe: ['*'] })
    const auth = createAuthorizer({ anonymous: true })
    expect(await rejectionCode(auth.authorizeSubscribe(request({ headers: bearer(token) })))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
    expect(await auth.authorizeSubscribe(request())).toBeNull()
  })
})

describe('canReceive', () => {
  const auth = authorizer({ audience: HUB })
  const grantFor = async (token: string): Promise<Grant> => (await auth.authorizeSubscribe(request({ headers: bearer(token) })))!

  it('delivers public updates to everyone, anonymous subscribers included', () => {
    expect(auth.canReceive(null, { topics: ['https://example.com/books/1'], private: false })).toBe(true)
    expect(auth.canReceive(null, { topics: ['https://example.com/books/1'] })).toBe(true)
  })

  it('[spec] "If the subscriber is not authorized to receive an update marked as private, it MUST NOT receive it"', async () => {
    expect(auth.canReceive(null, { topics: ['urn:a'], private: true })).toBe(false)
    const noSubscribe = await grantFor(await signToken({ key: SUBSCRIBER_SECRET, payload: { a: 1 } }))
    expect(auth.canReceive(noSubscribe, { topics: ['urn:a'], private: true })).toBe(false)
  })

  it('[spec] private alternate topic: subscribe claim https://example.com/users/foo/{?topic}', async () => {
    const grant = await grantFor(await signToken({ key: SUBSCRIBER_SECRET, subscribe: ['https://example.com/users/foo/{?topic}'] }))
    const forFoo = {
      topics: ['https://example.com/books/1', 'https://example.com/users/foo/?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1'],
      private: true,
    }
    expect(auth.canReceive(grant, forFoo)).toBe(true)
    expect(auth.canReceive(grant, { topics: ['https://example.com/books/1'], private: true })).toBe(false)
    expect(auth.canReceive(grant, { topics: ['https://example.com/books/1', 'https://example.com/users/bar/?topic=x'], private: true })).toBe(false)
  })

  it('[spec] at+jwt: "A private update for https://example.com/books/1 is delivered; … books/2 is not"', async () => {
    const grant = await grantFor(
      await signToken({
        key: SUBSCRIBER_SECRET,
        profile: 'at+jwt',
        audience: HUB,
        subscribe: [
          { match: 'https://example.com/books/1', matchType: 'Exact' },
          { match: 'https://example.com/books/7', matchType: 'Exact' },
        ],
      }),
    )
    expect(auth.canReceive(grant, { topics: ['https://example.com/books/1'], private: true })).toBe(true)
    expect(auth.canReceive(grant, { topics: ['https://example.com/books/2'], private: true })).toBe(false)
  })

  it('stops delivering private updates once the grant has expired', async () => {
    let clock = Date.now()
    const timed = authorizer({ now: () => clock })
    const token = await signToken({ key: SUBSCRIBER_SECRET, subscribe: ['*'], expiresIn: 60 })
    const grant = (await timed.authorizeSubscribe(request({ headers: bearer(token) })))!
    expect(timed.canReceive(grant, { topics: ['urn:a'], private: true })).toBe(true)
    clock += 61_000
    expect(timed.canReceive(grant, { topics: ['urn:a'], private: true })).toBe(false)
    expect(timed.canReceive(grant, { topics: ['urn:a'], private: false })).toBe(true)
  })
})

describe('authorizeSubscriptionsApi', () => {
  const path = '/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2Fa/urn%3Auuid%3A1'

  it('[spec] "The requested URL MUST match at least one of the topic selectors provided in the mercure.subscribe key"', async () => {
    const token = await signToken({ key: SUBSCRIBER_SECRET, subscribe: ['/.well-known/mercure/subscriptions{/topic}{/subscriber}'] })
    const auth = authorizer()
    expect(await rejectionCode(auth.authorizeSubscriptionsApi(request({ headers: bearer(token) }), path))).toBe('resolved')
    expect(await rejectionCode(auth.authorizeSubscriptionsApi(request({ headers: bearer(token) }), '/.well-known/mercure/subscriptions'))).toBe(
      'resolved',
    )
    const narrow = await signToken({ key: SUBSCRIBER_SECRET, subscribe: ['https://example.com/a'] })
    expect(await rejectionCode(auth.authorizeSubscriptionsApi(request({ headers: bearer(narrow) }), path))).toBe(
      'ERR_HUB_AUTH_INSUFFICIENT_SCOPE',
    )
  })

  it('requires a token even with anonymous subscribers', async () => {
    expect(await rejectionCode(authorizer({ anonymous: true }).authorizeSubscriptionsApi(request(), path))).toBe(
      'ERR_HUB_AUTH_TOKEN_MISSING',
    )
  })

  it('[spec] at+jwt: relative URL patterns are resolved against the hub URL', async () => {
    const token = await signToken({
      key: SUBSCRIBER_SECRET,
      profile: 'at+jwt',
      audience: HUB,
      subscribe: [{ match: '/.well-known/mercure/subscriptions/*', matchType: 'URLPattern' }],
    })
    const auth = authorizer({ audience: HUB })
    expect(await rejectionCode(auth.authorizeSubscriptionsApi(request({ headers: bearer(token) }), '/.well-known/mercure/subscriptions/Exact/a/b'))).toBe(
      'resolved',
    )
  })
})
