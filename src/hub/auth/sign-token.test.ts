import { generateKeyPairSync } from 'node:crypto'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { describe, expect, it } from 'vitest'
import { signToken } from './sign-token.js'
import { createTokenVerifier } from './token-verifier.js'
import { rejectionCode } from '../testing/error-codes.js'

const SECRET = 'a-secret-for-development-tokens-32b'
const HUB = 'https://hub.example.com/.well-known/mercure'

describe('signToken', () => {
  it('[spec] makes a mercure-claim token with publish, subscribe and payload', async () => {
    const token = await signToken({
      key: SECRET,
      publish: ['https://example.com/books/{id}'],
      subscribe: ['*'],
      payload: { user: 'alice' },
    })
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256' })
    const claims = decodeJwt(token)
    expect(claims.mercure).toEqual({ publish: ['https://example.com/books/{id}'], subscribe: ['*'], payload: { user: 'alice' } })
    expect(claims.exp).toBeUndefined()
    expect(typeof claims.iat).toBe('number')
  })

  it('sets exp from seconds or a time span, and iss, aud, sub and kid when asked', async () => {
    const fromSeconds = decodeJwt(await signToken({ key: SECRET, expiresIn: 120 }))
    expect(fromSeconds.exp! - fromSeconds.iat!).toBe(120)
    const fromSpan = decodeJwt(await signToken({ key: SECRET, expiresIn: '2h' }))
    expect(fromSpan.exp! - fromSpan.iat!).toBe(7200)
    const token = await signToken({ key: SECRET, issuer: 'https://app.example', audience: HUB, subject: 'bob', keyId: 'k1' })
    expect(decodeJwt(token)).toMatchObject({ iss: 'https://app.example', aud: HUB, sub: 'bob' })
    expect(decodeProtectedHeader(token).kid).toBe('k1')
  })

  it('[spec] makes at+jwt access tokens with authorization_details, aud, exp, client_id, sub and jti', async () => {
    const token = await signToken({
      key: SECRET,
      profile: 'at+jwt',
      audience: HUB,
      publish: ['https://example.com/foo'],
      subscribe: [{ match: 'https://example.com/bar/:id', matchType: 'URLPattern' }],
      payload: { tenant: 't1' },
    })
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'at+jwt' })
    const claims = decodeJwt(token)
    expect(claims.authorization_details).toEqual([
      { type: 'mercure', actions: ['publish'], topics: [{ match: 'https://example.com/foo' }] },
      {
        type: 'mercure',
        actions: ['subscribe'],
        topics: [{ match: 'https://example.com/bar/:id', matchType: 'URLPattern' }],
        payload: { tenant: 't1' },
      },
    ])
    expect(claims).toMatchObject({ aud: HUB, client_id: 'herald', sub: 'herald' })
    expect(claims.exp! - claims.iat!).toBe(3600)
    expect(typeof claims.jti).toBe('string')
    const grant = await createTokenVerifier({ key: { secret: SECRET }, audience: HUB }).verify(token)
    expect(grant.payloadFor('https://example.com/bar/:id')).toEqual({ tenant: 't1' })
  })

  it('derives the algorithm from the private key', async () => {
    const cases = [
      [generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'RS256'],
      [generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, 'ES384'],
      [generateKeyPairSync('ed25519').privateKey, 'EdDSA'],
    ] as const
    for (const [key, alg] of cases) {
      expect(decodeProtectedHeader(await signToken({ key })).alg).toBe(alg)
      const pem = key.export({ type: 'pkcs8', format: 'pem' }).toString()
      expect(decodeProtectedHeader(await signToken({ key: pem })).alg).toBe(alg)
      const jwk = key.export({ format: 'jwk' })
      expect(decodeProtectedHeader(await signToken({ key: jwk })).alg).toBe(alg)
    }
  })

  it('refuses keys that cannot sign with the algorithm', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
    expect(await rejectionCode(signToken({ key: 'short' }))).toBe('ERR_HUB_AUTH_KEY_INVALID')
    expect(await rejectionCode(signToken({ key: SECRET, alg: 'HS512' }))).toBe('ERR_HUB_AUTH_KEY_INVALID')
    expect(await rejectionCode(signToken({ key: SECRET, alg: 'RS256' }))).toBe('ERR_HUB_AUTH_KEY_INVALID')
    expect(await rejectionCode(signToken({ key: rsa.privateKey, alg: 'ES256' }))).toBe('ERR_HUB_AUTH_KEY_INVALID')
    expect(await rejectionCode(signToken({ key: rsa.publicKey }))).toBe('ERR_HUB_AUTH_KEY_INVALID')
    const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString()
    expect(await rejectionCode(signToken({ key: publicPem }))).toBe('ERR_HUB_AUTH_KEY_INVALID')
  })

  it('refuses inconsistent options', async () => {
    expect(await rejectionCode(signToken({ key: SECRET, profile: 'at+jwt', publish: ['*'] }))).toBe('ERR_HUB_INVALID_OPTION')
    expect(await rejectionCode(signToken({ key: SECRET, profile: 'at+jwt', audience: HUB, expiresIn: null }))).toBe(
      'ERR_HUB_INVALID_OPTION',
    )
    expect(await rejectionCode(signToken({ key: SECRET, profile: 'at+jwt', audience: HUB, payload: [1] }))).toBe(
      'ERR_HUB_INVALID_OPTION',
    )
    expect(await rejectionCode(signToken({ key: SECRET, publish: [{ match: 'x', matchType: 'URLPattern' }] }))).toBe(
      'ERR_HUB_INVALID_OPTION',
    )
    expect(await rejectionCode(signToken({ key: SECRET, expiresIn: 'soon' }))).toBe('ERR_HUB_INVALID_OPTION')
    expect(await rejectionCode(signToken({ key: SECRET, profile: 'jwt' as 'mercure' }))).toBe('ERR_HUB_INVALID_OPTION')
  })
})
