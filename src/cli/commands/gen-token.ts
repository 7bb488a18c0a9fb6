import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { signToken, type JwsAlgorithm, type SignTokenOptions } from '../../hub/auth/index.js'
import { EXIT_OK } from '../cli-io.js'
import { CliError } from '../errors.js'
import { listFlag, optionalString, parseFlags } from '../parse-flags.js'
import { defineCommand } from '../define-command.js'

/** One line for `herald --help`. */
export const summary = 'sign a JWT for publishers or subscribers'

/** `herald gen-token --help`. */
export const help = `Usage: herald gen-token (--key <secret> | --key-file <private.pem>) [--publish <selector> …]
                        [--subscribe <selector> …] [--expires-in <span>] [--alg <alg>] [--profile mercure|at+jwt]
                        [--audience <aud>] [--issuer <iss>] [--subject <sub>] [--payload <json>]

Signs a token the hub accepts and prints it.

  --key <secret>         an HMAC secret (at least 32 bytes for HS256) or a PEM private key
  --key-file <file>      read the key from a file (a PEM private key, or a secret)
  --publish <selector>   a topic selector the holder may publish to ('*' for all); repeat for several
  --subscribe <selector> a topic selector whose private updates the holder may receive; repeat for several
  --expires-in <span>    lifetime: seconds, or 30m, 1h, 7d; 'never' for no expiry (default: never for mercure
                         tokens, 1h for at+jwt)
  --alg <alg>            HS256 (default for a secret), HS384, HS512, RS256, ES256, EdDSA, …
  --profile <profile>    mercure (claims in "mercure", default) or at+jwt (RFC 9068 access token)
  --audience <aud>       the aud claim (required for at+jwt: the hub's URL)
  --issuer <iss>         the iss claim
  --subject <sub>        the sub claim
  --payload <json>       data attached to the holder's subscriptions (mercure.payload)

Example:
  herald gen-token --key "$HERALD_PUBLISHER_JWT_KEY" --publish '*' --expires-in 1h
`

const FLAGS = {
  key: { type: 'string' },
  'key-file': { type: 'string' },
  publish: { type: 'string', multiple: true },
  subscribe: { type: 'string', multiple: true },
  'expires-in': { type: 'string' },
  alg: { type: 'string' },
  profile: { type: 'string' },
  audience: { type: 'string' },
  issuer: { type: 'string' },
  subject: { type: 'string' },
  payload: { type: 'string' },
} as const

/**
 * `herald gen-token`: signs a token with `signToken` and prints it. Exit 2 for bad arguments or an unusable key.
 *
 * @example
 * ```ts
 * await run(['--key', secret, '--publish', '*'], io)
 * ```
 */
export const run = defineCommand('gen-token', help, async (args, io) => {
  const flags = parseFlags(args, FLAGS)
  const keyText = optionalString(flags, 'key')
  const keyFile = optionalString(flags, 'key-file')
  if ((keyText === undefined) === (keyFile === undefined)) throw new CliError('ERR_CLI_USAGE', 'give the signing key with --key or --key-file (one of them)')
  let key = keyText
  if (keyFile !== undefined) {
    try {
      key = readFileSync(resolve(io.cwd, keyFile), 'utf8')
    } catch (error) {
      throw new CliError('ERR_CLI_USAGE', `cannot read --key-file ${keyFile}`, { cause: error })
    }
    // A secret in a file usually ends with a newline that is not part of it; a PEM key keeps its own.
    if (!key.includes('-----BEGIN')) key = key.replace(/\r?\n$/, '')
  }
  const profile = optionalString(flags, 'profile')
  if (profile !== undefined && profile !== 'mercure' && profile !== 'at+jwt') throw new CliError('ERR_CLI_USAGE', `--profile must be mercure or at+jwt, not ${profile}`)
  const payloadText = optionalString(flags, 'payload')
  let payload: unknown
  if (payloadText !== undefined) {
    try {
      payload = JSON.parse(payloadText)
    } catch (error) {
      throw new CliError('ERR_CLI_USAGE', '--payload must be JSON', { cause: error })
    }
  }
  const publish = listFlag(flags, 'publish')
  const subscribe = listFlag(flags, 'subscribe')
  const options: SignTokenOptions = {
    key: key as string,
    alg: optionalString(flags, 'alg') as JwsAlgorithm | undefined,
    profile,
    publish: publish.length > 0 ? publish : undefined,
    subscribe: subscribe.length > 0 ? subscribe : undefined,
    payload,
    expiresIn: expiresIn(optionalString(flags, 'expires-in')),
    audience: optionalString(flags, 'audience'),
    issuer: optionalString(flags, 'issuer'),
    subject: optionalString(flags, 'subject'),
  }
  io.stdout.write(`${await signToken(options)}\n`)
  return EXIT_OK
})

/** `--expires-in`: seconds, a span (`1h`), or `never`. */
function expiresIn(value: string | undefined): number | string | null | undefined {
  if (value === undefined) return undefined
  if (value === 'never') return null
  if (/^\d+$/.test(value)) return Number(value)
  return value
}
