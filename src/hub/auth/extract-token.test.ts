import { describe, expect, it } from 'vitest'
import { DEFAULT_TOKEN_COOKIE_NAMES, extractToken, type AuthRequest, type TokenExtractionOptions } from './extract-token.js'
import { thrownCode } from '../testing/error-codes.js'

const HUB = 'https://hub.example.com/.well-known/mercure'
const request = (query: string, headers: Record<string, string> = {}): AuthRequest => ({
  url: new URL(`${HUB}${query}`),
  headers: new Headers(headers),
})
const extract = (req: AuthRequest, options?: TokenExtractionOptions) => extractToken(req, options)

describe('extractToken', () => {
  it('returns null when the request presents no token', () => {
    expect(extract(request('?topic=x'))).toBeNull()
    expect(extract(request('', { cookie: 'other=1' }))).toBeNull()
  })

  it('[spec] reads "Authorization: Bearer <token>"', () => {
    expect(extract(request('', { authorization: 'Bearer abc.def.ghi' }))).toEqual({
      token: 'abc.def.ghi',
      source: 'header',
      name: 'authorization',
    })
    // RFC 7235: the scheme is case-insensitive.
    expect(extract(request('', { authorization: 'bearer abc.def.ghi' }))?.token).toBe('abc.def.ghi')
  })

  it('[spec] reads the mercureAuthorization cookie and the mercureAccessToken cookie', () => {
    expect(extract(request('', { cookie: 'a=1; mercureAuthorization=tok.en.one; b=2' }))).toEqual({
      token: 'tok.en.one',
      source: 'cookie',
      name: 'mercureAuthorization',
    })
    expect(extract(request('', { cookie: 'mercureAccessToken=tok.en.two' }))?.name).toBe('mercureAccessToken')
    expect(extract(request('', { cookie: 'mercureAuthorization="quoted.tok.en"' }))?.token).toBe('quoted.tok.en')
    expect(DEFAULT_TOKEN_COOKIE_NAMES).toEqual(['mercureAuthorization', 'mercureAccessToken'])
  })

  it('[spec] reads the authorization and access_token query parameters', () => {
    expect(extract(request('?topic=x&authorization=q.u.ery'))).toEqual({
      token: 'q.u.ery',
      source: 'query',
      name: 'authorization',
    })
    expect(extract(request('?access_token=q.u.ery'))?.name).toBe('access_token')
  })

  it('[spec] "If both an Authorization HTTP header and a cookie … the cookie MUST be ignored"', () => {
    const found = extract(request('', { authorization: 'Bearer from.the.header', cookie: 'mercureAuthorization=from.the.cookie' }))
    expect(found?.token).toBe('from.the.header')
    expect(found?.source).toBe('header')
  })

  it('[spec] header first, then the query parameter, then the cookie; the others are ignored', () => {
    const all = request('?authorization=from.the.query', {
      authorization: 'Bearer from.the.header',
      cookie: 'mercureAuthorization=from.the.cookie',
    })
    expect(extract(all)?.source).toBe('header')
    const queryAndCookie = request('?access_token=from.the.query', { cookie: 'mercureAccessToken=from.the.cookie' })
    expect(extract(queryAndCookie)).toMatchObject({ token: 'from.the.query', source: 'query' })
  })

  it('passes over an Authorization header of another scheme (a proxy\'s Basic credentials)', () => {
    const found = extract(request('', { authorization: 'Basic dXNlcjpwYXNz', cookie: 'mercureAuthorization=tok.en.c' }))
    expect(found).toMatchObject({ token: 'tok.en.c', source: 'cookie' })
  })

  it('[spec] RFC 6750 invalid_request: a Bearer header without exactly one token', () => {
    for (const header of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer a,b', 'Bearer a.b.c, Bearer d.e.f']) {
      expect(thrownCode(() => extract(request('', { authorization: header }))), header).toBe('ERR_HUB_AUTH_INVALID_REQUEST')
    }
  })

  it('[spec] RFC 6750 invalid_request: a repeated token query parameter', () => {
    expect(thrownCode(() => extract(request('?authorization=a&authorization=b')))).toBe('ERR_HUB_AUTH_INVALID_REQUEST')
  })

  it('treats empty query parameters and cookies as absent', () => {
    expect(extract(request('?authorization=', { cookie: 'mercureAuthorization=' }))).toBeNull()
    expect(extract(request('?authorization=', { cookie: 'mercureAuthorization=c.o.k' }))?.source).toBe('cookie')
  })

  it('reads cookies from joined Cookie headers and keeps the first of a repeated name', () => {
    const headers = new Headers()
    headers.append('cookie', 'a=1')
    headers.append('cookie', 'mercureAuthorization=first.t.k; mercureAuthorization=second.t.k')
    expect(extract({ url: new URL(HUB), headers })?.token).toBe('first.t.k')
  })

  it('honours custom cookie names and query parameters, and null to switch a mechanism off', () => {
    const req = request('?authorization=q.q.q', { cookie: 'hub1=c.c.c' })
    expect(extract(req, { cookieNames: ['hub1'], queryParameters: null })).toMatchObject({ source: 'cookie', name: 'hub1' })
    expect(extract(req, { cookieNames: null, queryParameters: null })).toBeNull()
    expect(extract(request('?token=t.t.t'), { queryParameters: ['token'] })?.token).toBe('t.t.t')
  })
})
