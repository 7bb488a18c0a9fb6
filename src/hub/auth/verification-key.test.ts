import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { verificationKeyFromString } from './verification-key.js'

describe('verificationKeyFromString', () => {
  it('reads a PEM as a public key, an http(s) URL as a JWKS URL, anything else as a secret', () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString()
    expect(verificationKeyFromString(pem)).toEqual({ publicKey: pem })
    expect(verificationKeyFromString('https://auth.example.com/.well-known/jwks.json', ['RS256'])).toEqual({
      jwksUrl: 'https://auth.example.com/.well-known/jwks.json',
      algorithms: ['RS256'],
    })
    expect(verificationKeyFromString('HTTP://127.0.0.1:8080/jwks')).toEqual({ jwksUrl: 'HTTP://127.0.0.1:8080/jwks' })
    expect(verificationKeyFromString('!ChangeThisMercureHubJWTSecretKey!', ['HS256'])).toEqual({
      secret: '!ChangeThisMercureHubJWTSecretKey!',
      algorithms: ['HS256'],
    })
  })
})
