import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HubError } from '../errors.js'
import type { JwsAlgorithm } from './key-algorithms.js'
import { signToken } from './sign-token.js'
import { createTokenVerifier, type TokenVerifierOptions } from './token-verifier.js'
import type { VerificationKeyOptions } from './verification-key.js'
import { rejectionCode } from '../testing/error-codes.js'

const SECRET = 'a-very-long-secret-for-hs512-tokens-that-is-at-least-64-bytes-long!'
const HUB = 'https://hub.example.com/.well-known/mercure'

interface Pair {
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  readonly publicPem: string
}
function pair(type: 'rsa' | 'rsa-pss' | 'ec' | 'ed25519', curve?: string): Pair {
  const { privateKey, publicKey } =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: curve ?? 'P-256' })
      : type === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : type === 'rsa'
          ? generateKeyPairSync('rsa', { modulusLength: 2048 })
          : generateKeyPairSync('rsa-pss', { modulusLength: 2048 })
  return { privateKey, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }
}

let rsa: Pair
let rsaPss: Pair
let p256: Pair
let p384: Pair
let p521: Pair
let ed25519: Pair
beforeAll(() => {
  rsa = pair('rsa')
  rsaPss = pair('rsa-pss')
  p256 = pair('ec', 'P-256')
  p384 = pair('ec', 'P-384')
  p521 = pair('ec', 'P-521')
  ed25519 = pair('ed25519')
})

function verify(key: VerificationKeyOptions, token: string, extra: Partial<TokenVerifierOptions> = {}) {
  return createTokenVerifier({ key, ...extra }).verify(token)
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
const now = (): number => Math.floor(Date.now() / 1000)

describe('algorithm families', () => {
  it.each<JwsAlgorithm>(['HS256', 'HS384', 'HS512'])('verifies %s tokens with the shared secret', async (alg) => {
    const token = await signToken({ key: SECRET, alg, subscribe: ['*'] })
    const grant = await verify({ secret: SECRET }, token)
    expect(grant.profile).toBe('mercure')
    expect(grant.subscribe?.matchesTopic('https://example.com/x')).toBe(true)
  })

  it.each<JwsAlgorithm>(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'])(
    'verifies %s tokens with an RSA public key (PEM)',
    async (alg) => {
      const token = await signToken({ key: rsa.privateKey, alg, publish: ['*'] })
      const grant = await verify({ publicKey: rsa.publicPem }, token)
      expect(grant.publish?.matchesAll).toBe(true)
    },
  )

  it('refuses RSA-PSS-typed keys (unsupported) and asks for a plain RSA key, which covers PS256–PS512', async () => {
    expect(() => createTokenVerifier({ key: { publicKey: rsaPss.publicPem } })).toThrow(/plain RSA key/)
    expect(await rejectionCode(signToken({ key: rsaPss.privateKey, publish: ['*'] }))).toBe('ERR_HUB_AUTH_KEY_INVALID')
  })

  it.each<[JwsAlgorithm, () => Pair]>([
    ['ES256', () => p256],
    ['ES384', () => p384],
    ['ES512', () => p521],
  ])('verifies %s tokens with the EC public key of its curve', async (alg, keys) => {
    const token = await signToken({ key: keys().privateKey, subscribe: ['urn:a'] })
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).alg).toBe(alg)
    expect((await verify({ publicKey: keys().publicPem }, token)).subscribe?.matchesTopic('urn:a')).toBe(true)
  })

  it('refuses an ES256 token on a P-384 key: the curve fixes the algorithm', async () => {
    const token = await signToken({ key: p256.privateKey, publish: ['*'] })
    expect(await rejectionCode(verify({ publicKey: p384.publicPem }, token))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
  })

  it('verifies EdDSA and Ed25519 tokens with an Ed25519 key', async () => {
    for (const alg of ['EdDSA', 'Ed25519'] as const) {
      const token = await signToken({ key: ed25519.privateKey, alg, publish: ['*'] })
      expect((await verify({ publicKey: ed25519.publicKey }, token)).publish).not.toBeNull()
    }
  })

  it('accepts a public JWK, and an oct JWK as a secret', async () => {
    const jwk = rsa.publicKey.export({ format: 'jwk' })
    const token = await signToken({ key: rsa.privateKey, publish: ['*'] })
    expect((await verify({ jwk }, token)).publish).not.toBeNull()
    // A JWK that names its algorithm is used with it only.
    expect(await rejectionCode(verify({ jwk: { ...jwk, alg: 'PS256' } }, token))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
    const oct = { kty: 'oct', k: Buffer.from(SECRET).toString('base64url') }
    expect((await verify({ jwk: oct }, await signToken({ key: SECRET, publish: ['*'] }))).publish).not.toBeNull()
  })

  it('restricts to the configured algorithms', async () => {
    const ps = await signToken({ key: rsa.privateKey, alg: 'PS256', publish: ['*'] })
    expect(await rejectionCode(verify({ publicKey: rsa.publicPem, algorithms: ['RS256'] }, ps))).toBe(
      'ERR_HUB_AUTH_TOKEN_INVALID',
    )
    const hs512 = await signToken({ key: SECRET, alg: 'HS512', publish: ['*'] })
    expect(await rejectionCode(verify({ secret: SECRET, algorithms: ['HS256'] }, hs512))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
  })
})

describe('key configuration', () => {
  const construct = (key: VerificationKeyOptions): string | undefined => {
    try {
      createTokenVerifier({ key })
    } catch (error) {
      return (error as HubError).code
    }
    return undefined
  }

  it('[spec] RFC 7518 §3.2: refuses HMAC secrets shorter than the hash', () => {
    expect(construct({ secret: 'short' })).toBe('ERR_HUB_AUTH_KEY_INVALID')
    expect(construct({ secret: 'x'.repeat(31) })).toBe('ERR_HUB_AUTH_KEY_INVALID')
    expect(construct({ secret: 'x'.repeat(32) })).toBeUndefined()
    expect(construct({ secret: 'x'.repeat(32), algorithms: ['HS512'] })).toBe('ERR_HUB_AUTH_KEY_INVALID')
    expect(construct({ secret: new Uint8Array(64), algorithms: ['HS512'] })).toBeUndefined()
  })

  it('refuses a PEM given as a secret (key confusion by configuration)', () => {
    expect(construct({ secret: rsa.publicPem })).toBe('ERR_HUB_AUTH_KEY_INVALID')
  })

  it('refuses algorithms the key type cannot verify, and never allows none', () => {
    expect(construct({ publicKey: rsa.publicPem, algorithms: ['HS256'] })).toBe('ERR_HUB_AUTH_KEY_INVALID')
    expect(construct({ publicKey: p256.publicPem, algorithms: ['ES384'] })).toBe('ERR_HUB_AUTH_KEY_INVALID')
    expect(construct({ secret: SECRET, algorithms: ['none' as JwsAlgorithm] })).toBe('ERR_HUB_AUTH_KEY_INVALID')
    expect(construct({ secret: SECRET, algorithms: [] })).toBe('ERR_HUB_AUTH_KEY_INVALID')
    expect(construct({ jwksUrl: 'https://auth.example.com/jwks.json', algorithms: ['HS256'] })).toBe(
      'ERR_HUB_AUTH_KEY_INVALID',
    )
  })

  it('refuses weak or unusable keys', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey
    expect(construct({ publicKey: small })).toBe('ERR_HUB_AUTH_KEY_INVALID')
    const k256 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey
    expect(construct({ publicKey: k256 })).toBe('ERR_HUB_AUTH_KEY_INVALID')
    expect(construct({ publicKey: 'not a pem' })).toBe('ERR_HUB_AUTH_KEY_INVALID')
    expect(construct({ jwksUrl: 'ftp://example.com/jwks' })).toBe('ERR_HUB_AUTH_KEY_INVALID')
    expect(construct({ jwksUrl: 'not a url' })).toBe('ERR_HUB_AUTH_KEY_INVALID')
    expect(construct({} as VerificationKeyOptions)).toBe('ERR_HUB_AUTH_KEY_INVALID')
    const both: VerificationKeyOptions = { secret: SECRET, publicKey: rsa.publicPem }
    expect(construct(both)).toBe('ERR_HUB_AUTH_KEY_INVALID')
  })

  it('verifies through the public half of a private key', async () => {
    const token = await signToken({ key: rsa.privateKey, publish: ['*'] })
    const privatePem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    expect((await verify({ publicKey: privatePem }, token)).publish).not.toBeNull()
  })
})

describe('rejections', () => {
  it('refuses expired tokens (exp), within the clock tolerance only', async () => {
    const token = await new SignJWT({ mercure: { subscribe: ['*'] } })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(now() - 30)
      .sign(new TextEncoder().encode(SECRET))
    expect(await rejectionCode(verify({ secret: SECRET }, token))).toBe('ERR_HUB_AUTH_TOKEN_EXPIRED')
    expect(await rejectionCode(verify({ secret: SECRET }, token, { clockToleranceMs: 60_000 }))).toBe('resolved')
  })

  it('refuses tokens that are not valid yet (nbf)', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setNotBefore(now() + 3600)
      .sign(new TextEncoder().encode(SECRET))
    expect(await rejectionCode(verify({ secret: SECRET }, token))).toBe('ERR_HUB_AUTH_TOKEN_NOT_YET_VALID')
    expect(await rejectionCode(verify({ secret: SECRET }, token, { now: () => Date.now() + 7_200_000 }))).toBe('resolved')
  })

  it('refuses a bad signature', async () => {
    const token = await signToken({ key: SECRET, publish: ['*'] })
    const other = await signToken({ key: 'another-secret-that-is-long-enough-for-hs256!', publish: ['*'] })
    const forged = `${token.split('.').slice(0, 2).join('.')}.${other.split('.')[2]!}`
    expect(await rejectionCode(verify({ secret: SECRET }, forged))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
    const tampered = `${token.split('.')[0]!}.${b64({ mercure: { publish: ['*'], subscribe: ['*'] } })}.${token.split('.')[2]!}`
    expect(await rejectionCode(verify({ secret: SECRET }, tampered))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
  })

  it('[spec] refuses alg: none ("Hubs MUST NOT accept alg=none")', async () => {
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ mercure: { publish: ['*'] } })}.`
    expect(await rejectionCode(verify({ secret: SECRET }, unsigned))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
    expect(await rejectionCode(verify({ publicKey: rsa.publicPem }, unsigned))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
  })

  it('[spec] refuses key confusion: an HS256 token whose secret is the RSA public key', async () => {
    const token = await new SignJWT({ mercure: { publish: ['*'] } })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(rsa.publicPem))
    expect(await rejectionCode(verify({ publicKey: rsa.publicPem }, token))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
  })

  it('refuses a token with the wrong algorithm for the key', async () => {
    const es = await signToken({ key: p256.privateKey, publish: ['*'] })
    expect(await rejectionCode(verify({ publicKey: rsa.publicPem }, es))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
    const hs = await signToken({ key: SECRET, publish: ['*'] })
    expect(await rejectionCode(verify({ publicKey: rsa.publicPem }, hs))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
  })

  it('refuses malformed tokens', async () => {
    const good = await signToken({ key: SECRET, publish: ['*'] })
    const [header, payload] = good.split('.')
    for (const token of [
      '',
      'garbage',
      'a.b',
      `${header!}.${payload!}`,
      `${good}.extra.parts`,
      `${header!}.${payload!}.sig=`,
      `${b64('not an object')}.${payload!}.x`,
      `${header!}.${Buffer.from('not json').toString('base64url')}.x`,
      'Bearer abc.def.ghi',
    ]) {
      expect(await rejectionCode(verify({ secret: SECRET }, token)), token).toBe('ERR_HUB_AUTH_TOKEN_MALFORMED')
    }
    // Well-formed JSON, but the claims set is an array: a valid signature over it is still not a JWT.
    const arrayClaims = `${header!}.${Buffer.from('[1]').toString('base64url')}`
    const { createHmac } = await import('node:crypto')
    const sig = createHmac('sha256', SECRET).update(arrayClaims).digest('base64url')
    expect(await rejectionCode(verify({ secret: SECRET }, `${arrayClaims}.${sig}`))).toBe('ERR_HUB_AUTH_TOKEN_MALFORMED')
  })

  it('refuses tokens longer than maxTokenLength', async () => {
    const token = await signToken({ key: SECRET, publish: Array.from({ length: 200 }, (_, i) => `https://example.com/${i}`) })
    expect(await rejectionCode(verify({ secret: SECRET }, token, { maxTokenLength: 1000 }))).toBe(
      'ERR_HUB_AUTH_TOKEN_MALFORMED',
    )
  })

  it('checks iss and aud of mercure tokens when configured and present', async () => {
    const token = await signToken({ key: SECRET, publish: ['*'], issuer: 'https://issuer.example', audience: HUB })
    expect(await rejectionCode(verify({ secret: SECRET }, token, { issuer: 'https://issuer.example', audience: HUB }))).toBe(
      'resolved',
    )
    expect(await rejectionCode(verify({ secret: SECRET }, token, { issuer: 'https://other.example' }))).toBe(
      'ERR_HUB_AUTH_TOKEN_INVALID',
    )
    expect(await rejectionCode(verify({ secret: SECRET }, token, { audience: ['https://other.example', HUB] }))).toBe(
      'resolved',
    )
    expect(await rejectionCode(verify({ secret: SECRET }, token, { audience: 'https://other.example' }))).toBe(
      'ERR_HUB_AUTH_TOKEN_INVALID',
    )
    // Tokens of that revision are usually self-issued, without iss or aud: still accepted.
    const bare = await signToken({ key: SECRET, publish: ['*'] })
    expect(await rejectionCode(verify({ secret: SECRET }, bare, { audience: HUB, issuer: 'https://issuer.example' }))).toBe(
      'resolved',
    )
  })

  it('refuses malformed mercure claims as a whole (no partial acceptance)', async () => {
    for (const mercure of [[], 'x', { publish: 'x' }, { subscribe: [1] }, { publish: ['*', 2] }]) {
      const token = await new SignJWT({ mercure }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
      expect(await rejectionCode(verify({ secret: SECRET }, token)), JSON.stringify(mercure)).toBe(
        'ERR_HUB_AUTH_CLAIMS_INVALID',
      )
    }
  })

  it('accepts a token without the mercure claim, which grants nothing (missing claim)', async () => {
    const token = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
    const grant = await verify({ secret: SECRET }, token)
    expect(grant.publish).toBeNull()
    expect(grant.subscribe).toBeNull()
    expect(grant.subject).toBe('alice')
    expect(grant.expiresAt).toBeUndefined()
  })

  it('exposes exp as expiresAt in milliseconds', async () => {
    const token = await signToken({ key: SECRET, subscribe: ['*'], expiresIn: 600 })
    const grant = await verify({ secret: SECRET }, token)
    expect(grant.expiresAt).toBeGreaterThan(Date.now() + 590_000)
    expect(grant.expiresAt).toBeLessThanOrEqual(Date.now() + 601_000)
    expect(grant.expiresAt! % 1000).toBe(0)
  })
})

describe('at+jwt access tokens (current Mercure draft)', () => {
  const options = { audience: HUB, baseURL: HUB }

  it('[spec] maps authorization_details to the same grant', async () => {
    const token = await signToken({
      key: ed25519.privateKey,
      profile: 'at+jwt',
      audience: HUB,
      issuer: 'https://auth.example.com',
      subject: 'urn:uuid:bb3de268-05b0-4c65-b44e-8f9acefc29d6',
      publish: [{ match: 'https://example.com/books/:id', matchType: 'URLPattern' }],
      subscribe: ['https://example.com/books/1', { match: '/.well-known/mercure/subscriptions/*', matchType: 'URLPattern' }],
    })
    const grant = await verify({ publicKey: ed25519.publicPem }, token, { ...options, issuer: 'https://auth.example.com' })
    expect(
      await rejectionCode(verify({ publicKey: ed25519.publicPem }, token, { ...options, issuer: 'https://other-auth.example' })),
    ).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
    expect(grant.profile).toBe('at+jwt')
    expect(grant.subject).toBe('urn:uuid:bb3de268-05b0-4c65-b44e-8f9acefc29d6')
    expect(grant.publish?.matchesTopic('https://example.com/books/7')).toBe(true)
    expect(grant.publish?.matchesTopic('https://example.com/authors/7')).toBe(false)
    expect(grant.subscribe?.matchesTopic('https://example.com/books/1')).toBe(true)
    expect(grant.subscribe?.matchesTopic('https://example.com/books/2')).toBe(false)
    expect(grant.subscribe?.matchesTopic('/.well-known/mercure/subscriptions/Exact/a/b')).toBe(true)
    expect(grant.expiresAt).toBeGreaterThan(Date.now())
  })

  it('[spec] "Hubs MUST verify that the token header typ is at+jwt": other types take the mercure-claim path', async () => {
    const idToken = await new SignJWT({
      aud: HUB,
      authorization_details: [{ type: 'mercure', actions: ['publish'], topics: [{ match: '*' }] }],
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET))
    const grant = await verify({ secret: SECRET }, idToken, options)
    expect(grant.profile).toBe('mercure')
    expect(grant.publish).toBeNull()
    expect(await rejectionCode(verify({ secret: SECRET }, idToken, { ...options, profiles: ['at+jwt'] }))).toBe(
      'ERR_HUB_AUTH_TOKEN_INVALID',
    )
  })

  it('accepts typ "application/at+jwt" (RFC 9068 §4)', async () => {
    const token = await new SignJWT({ aud: HUB, authorization_details: [] })
      .setProtectedHeader({ alg: 'HS256', typ: 'application/at+jwt' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET))
    expect((await verify({ secret: SECRET }, token, options)).profile).toBe('at+jwt')
  })

  it('[spec] requires aud to contain the resource identifier, and the identifier to be configured', async () => {
    const token = await signToken({ key: SECRET, profile: 'at+jwt', audience: 'https://other-hub.example', publish: ['*'] })
    expect(await rejectionCode(verify({ secret: SECRET }, token, options))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
    const ours = await signToken({ key: SECRET, profile: 'at+jwt', audience: [HUB, 'https://api.example'], publish: ['*'] })
    expect(await rejectionCode(verify({ secret: SECRET }, ours, options))).toBe('resolved')
    const unnamed = await new SignJWT({ authorization_details: [] })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET))
    expect(await rejectionCode(verify({ secret: SECRET }, unnamed, options))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
    expect(await rejectionCode(verify({ secret: SECRET }, ours))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
    expect(await rejectionCode(verify({ secret: SECRET }, ours, { ...options, profiles: ['mercure'] }))).toBe(
      'ERR_HUB_AUTH_TOKEN_INVALID',
    )
  })

  it('[spec] requires exp ("since exp is required")', async () => {
    const token = await new SignJWT({ aud: HUB, authorization_details: [] })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .sign(new TextEncoder().encode(SECRET))
    expect(await rejectionCode(verify({ secret: SECRET }, token, options))).toBe('ERR_HUB_AUTH_CLAIMS_INVALID')
  })

  it('[spec] refuses the whole token when one mercure detail is malformed', async () => {
    const good = { type: 'mercure', actions: ['subscribe'], topics: [{ match: 'https://example.com/a' }] }
    for (const bad of [
      { type: 'mercure', actions: [], topics: [{ match: 'x' }] },
      { type: 'mercure', actions: ['read'], topics: [{ match: 'x' }] },
      { type: 'mercure', actions: 'publish', topics: [{ match: 'x' }] },
      { type: 'mercure', actions: ['publish'], topics: [] },
      { type: 'mercure', actions: ['publish'], topics: ['https://example.com/a'] },
      { type: 'mercure', actions: ['publish'], topics: [{ match: 'x', matchType: 'Regexp' }] },
      { type: 'mercure', actions: ['publish'], topics: [{ match: 'x', matchType: 'exact' }] },
      { type: 'mercure', actions: ['publish'], topics: [{ match: 'https://example.com/:id(' , matchType: 'URLPattern' }] },
      { type: 'mercure', actions: ['subscribe'], topics: [{ match: 'x' }], payload: ['not', 'an', 'object'] },
      'mercure',
      { actions: ['publish'] },
    ]) {
      const token = await new SignJWT({ aud: HUB, authorization_details: [good, bad] })
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(SECRET))
      expect(await rejectionCode(verify({ secret: SECRET }, token, options)), JSON.stringify(bad)).toBe(
        'ERR_HUB_AUTH_CLAIMS_INVALID',
      )
    }
  })

  it('ignores authorization details of other types (RFC 9396)', async () => {
    const token = await new SignJWT({
      aud: HUB,
      authorization_details: [
        { type: 'payment_initiation', actions: ['initiate'] },
        { type: 'mercure', actions: ['publish', 'subscribe'], topics: [{ match: '*' }] },
      ],
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET))
    const grant = await verify({ secret: SECRET }, token, options)
    expect(grant.publish?.matchesAll).toBe(true)
    expect(grant.subscribe?.matchesAll).toBe(true)
  })

  it('[spec] refuses tokens over the implementation limits', async () => {
    const many = Array.from({ length: 5 }, () => ({ type: 'mercure', actions: ['subscribe'], topics: [{ match: '*' }] }))
    const token = await new SignJWT({ aud: HUB, authorization_details: many })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET))
    expect(await rejectionCode(verify({ secret: SECRET }, token, { ...options, maxAuthorizationDetails: 4 }))).toBe(
      'ERR_HUB_AUTH_CLAIMS_INVALID',
    )
    expect(await rejectionCode(verify({ secret: SECRET }, token, { ...options, maxAuthorizationDetails: 5 }))).toBe('resolved')
    const wide = await signToken({ key: SECRET, profile: 'at+jwt', audience: HUB, subscribe: ['a', 'b', 'c'] })
    expect(await rejectionCode(verify({ secret: SECRET }, wide, { ...options, maxClaimSelectors: 2 }))).toBe(
      'ERR_HUB_AUTH_CLAIMS_INVALID',
    )
  })
})

describe('JWKS URL (remote key set)', () => {
  let server: Server
  let url: string
  let mode: 'ok' | 'error' | 'hang' | 'garbage' = 'ok'
  let keys: unknown[] = []
  let requests = 0

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests++
      if (mode === 'hang') return
      if (mode === 'error') {
        res.writeHead(500).end('boom')
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(mode === 'garbage' ? '{"not":"a key set"}' : JSON.stringify({ keys }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  const jwk = (p: Pair, kid: string, alg?: string) => ({ ...p.publicKey.export({ format: 'jwk' }), kid, ...(alg ? { alg } : {}) })

  it('verifies tokens with the key named by kid, across key types', async () => {
    mode = 'ok'
    keys = [jwk(rsa, 'rsa-1', 'RS256'), jwk(p256, 'ec-1'), jwk(ed25519, 'ed-1')]
    const verifier = createTokenVerifier({ key: { jwksUrl: url } })
    for (const [key, kid] of [
      [rsa.privateKey, 'rsa-1'],
      [p256.privateKey, 'ec-1'],
      [ed25519.privateKey, 'ed-1'],
    ] as const) {
      const token = await signToken({ key, keyId: kid, subscribe: ['*'] })
      expect((await verifier.verify(token)).subscribe?.matchesAll).toBe(true)
    }
  })

  it('refuses a token whose kid is not in the set, or signed by another key', async () => {
    mode = 'ok'
    keys = [jwk(rsa, 'rsa-1')]
    const verifier = createTokenVerifier({ key: { jwksUrl: url } })
    const unknown = await signToken({ key: p256.privateKey, keyId: 'nope', publish: ['*'] })
    expect(await rejectionCode(verifier.verify(unknown))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
    const impostor = await signToken({ key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, keyId: 'rsa-1', publish: ['*'] })
    expect(await rejectionCode(verifier.verify(impostor))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
    const hs = await signToken({ key: SECRET, keyId: 'rsa-1', publish: ['*'] })
    expect(await rejectionCode(verifier.verify(hs))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
  })

  it('picks up a rotated key by fetching the set again', async () => {
    mode = 'ok'
    keys = [jwk(rsa, 'old')]
    const verifier = createTokenVerifier({ key: { jwksUrl: url, cooldownMs: 0 } })
    expect((await verifier.verify(await signToken({ key: rsa.privateKey, keyId: 'old', publish: ['*'] }))).publish).not.toBeNull()
    keys = [jwk(rsa, 'old'), jwk(p384, 'new')]
    const before = requests
    expect((await verifier.verify(await signToken({ key: p384.privateKey, keyId: 'new', publish: ['*'] }))).publish).not.toBeNull()
    expect(requests).toBe(before + 1)
  })

  it('verifies every token against the key set again, so that a key removed from the set stops being accepted', async () => {
    mode = 'ok'
    keys = [jwk(rsa, 'rsa-1')]
    const verifier = createTokenVerifier({ key: { jwksUrl: url, cacheMaxAgeMs: 1, cooldownMs: 0 } })
    const token = await signToken({ key: rsa.privateKey, keyId: 'rsa-1', publish: ['*'] })
    expect((await verifier.verify(token)).publish).not.toBeNull()
    keys = []
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(await rejectionCode(verifier.verify(token))).toBe('ERR_HUB_AUTH_TOKEN_INVALID')
  })

  it('reports an unreachable, failing or invalid key set as ERR_HUB_AUTH_KEYS_UNAVAILABLE', async () => {
    const token = await signToken({ key: rsa.privateKey, keyId: 'rsa-1', publish: ['*'] })
    for (const m of ['error', 'garbage', 'hang'] as const) {
      mode = m
      const verifier = createTokenVerifier({ key: { jwksUrl: url, timeoutMs: 200 } })
      expect(await rejectionCode(verifier.verify(token)), m).toBe('ERR_HUB_AUTH_KEYS_UNAVAILABLE')
    }
    mode = 'ok'
    const closed = createTokenVerifier({ key: { jwksUrl: 'http://127.0.0.1:9/jwks.json', timeoutMs: 500 } })
    expect(await rejectionCode(closed.verify(token))).toBe('ERR_HUB_AUTH_KEYS_UNAVAILABLE')
  })
})

describe('verified-token cache', () => {
  const T = Date.UTC(2030, 0, 1) // whole second
  const hs256 = (claims: Record<string, unknown>) =>
    new SignJWT({ mercure: { publish: ['*'] }, ...claims })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(SECRET))

  it('answers a token sent again with the grant it gave, without verifying it again', async () => {
    const verifier = createTokenVerifier({ key: { secret: SECRET } })
    const token = await hs256({})
    const first = await verifier.verify(token)
    expect(await verifier.verify(token)).toBe(first)
    // With the cache off, every call builds a new grant from a new verification.
    const uncached = createTokenVerifier({ key: { secret: SECRET }, cacheSize: 0 })
    expect(await uncached.verify(token)).not.toBe(await uncached.verify(token))
  })

  it('still refuses a remembered token once exp has passed, with the clock tolerance applied as on a first check', async () => {
    let clock = T
    const token = await hs256({ exp: T / 1000 + 10 })
    const verifier = createTokenVerifier({ key: { secret: SECRET }, now: () => clock })
    await verifier.verify(token)
    clock = T + 9_999
    expect(await rejectionCode(verifier.verify(token))).toBe('resolved')
    // RFC 7519 §4.1.4: "the current date/time MUST be before the expiration date/time listed in the exp claim".
    clock = T + 10_000
    expect(await rejectionCode(verifier.verify(token))).toBe('ERR_HUB_AUTH_TOKEN_EXPIRED')

    clock = T
    const tolerant = createTokenVerifier({ key: { secret: SECRET }, now: () => clock, clockToleranceMs: 5_000 })
    await tolerant.verify(token)
    clock = T + 14_999
    expect(await rejectionCode(tolerant.verify(token))).toBe('resolved')
    clock = T + 15_000
    expect(await rejectionCode(tolerant.verify(token))).toBe('ERR_HUB_AUTH_TOKEN_EXPIRED')
  })

  it('checks nbf again on a hit when the clock goes back', async () => {
    let clock = T + 60_000
    const token = await hs256({ nbf: T / 1000 + 30 })
    const verifier = createTokenVerifier({ key: { secret: SECRET }, now: () => clock })
    await verifier.verify(token)
    clock = T
    expect(await rejectionCode(verifier.verify(token))).toBe('ERR_HUB_AUTH_TOKEN_NOT_YET_VALID')
  })

  it('keeps at most cacheSize tokens, dropping the least recently used', async () => {
    const verifier = createTokenVerifier({ key: { secret: SECRET }, cacheSize: 2 })
    const [a, b, c] = await Promise.all([hs256({ n: 'a' }), hs256({ n: 'b' }), hs256({ n: 'c' })])
    const grantA = await verifier.verify(a)
    const grantB = await verifier.verify(b)
    expect(await verifier.verify(a)).toBe(grantA) // a is now the most recently used
    await verifier.verify(c) // evicts b
    expect(await verifier.verify(a)).toBe(grantA)
    expect(await verifier.verify(b)).not.toBe(grantB)
  })

  it('does not remember tokens longer than 4,096 characters', async () => {
    const verifier = createTokenVerifier({ key: { secret: SECRET } })
    const long = await hs256({ padding: 'x'.repeat(4_000) })
    expect(long.length).toBeGreaterThan(4_096)
    expect(await verifier.verify(long)).not.toBe(await verifier.verify(long))
  })

  it('refuses an invalid cacheSize', () => {
    for (const cacheSize of [-1, 1.5, Number.NaN]) {
      expect(() => createTokenVerifier({ key: { secret: SECRET }, cacheSize })).toThrow(
        expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }),
      )
    }
  })
})
