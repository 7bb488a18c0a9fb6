import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decodeJwt, jwtVerify } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONFIG_FIELDS, DEFAULT_CONFIG, DEVELOPMENT_JWT_KEY } from '../src/hub/index.js'
import { cleanEnv, ensureBuilt, runHerald, tempDir } from './cli-process.js'

const SECRET = 'a-test-secret-of-at-least-32-bytes!!'
const dir = tempDir()

beforeAll(ensureBuilt, 180_000)
afterAll(() => dir.cleanup())

describe('herald: verbs, help and version', () => {
  it('lists the commands on --help and exits 0; exits 2 with the list when no command is given', async () => {
    const help = await runHerald(['--help'])
    expect(help.status).toBe(0)
    for (const verb of ['serve', 'publish', 'subscribe', 'gen-token', 'check-config', 'default-config', 'version']) expect(help.stdout).toContain(`  ${verb}`)
    const none = await runHerald([])
    expect(none.status).toBe(2)
    expect(none.stderr).toContain('Usage: herald <command>')
  })

  it('prints each command\'s own help with --help', async () => {
    for (const verb of ['serve', 'publish', 'subscribe', 'gen-token', 'check-config', 'default-config', 'version']) {
      const result = await runHerald([verb, '--help'])
      expect(result.status, verb).toBe(0)
      expect(result.stdout, verb).toContain(`Usage: herald ${verb}`)
    }
    const serve = await runHerald(['serve', '--help'])
    // Every setting is documented with its flag and environment variable.
    for (const field of CONFIG_FIELDS) {
      expect(serve.stdout).toContain(field.flag)
      expect(serve.stdout).toContain(field.env)
    }
  })

  it('refuses an unknown command or flag with ERR_CLI_USAGE and exit status 2', async () => {
    const verb = await runHerald(['launch'])
    expect(verb.status).toBe(2)
    expect(verb.stderr).toContain('ERR_CLI_USAGE')
    const flag = await runHerald(['publish', '--colour', 'red'])
    expect(flag.status).toBe(2)
    expect(flag.stderr).toMatch(/ERR_CLI_USAGE.*--colour/)
  })

  it('prints the package version', async () => {
    const { version } = (await import('../package.json', { with: { type: 'json' } })).default as { version: string }
    const result = await runHerald(['version'])
    expect(result).toMatchObject({ status: 0, stdout: `herald-sse ${version}\n` })
    expect((await runHerald(['--version'])).stdout).toBe(`herald-sse ${version}\n`)
  })
})

describe('herald default-config and check-config', () => {
  it('prints DEFAULT_CONFIG as JSON', async () => {
    const result = await runHerald(['default-config'])
    expect(result.status).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual(DEFAULT_CONFIG)
  })

  it('prints every setting with its source: default, mode, file, env, flag', async () => {
    const file = join(dir.path, 'herald.json')
    writeFileSync(file, JSON.stringify({ historySize: 500, corsOrigins: ['https://app.example.com'] }))
    const result = await runHerald(['check-config', '--json', '--mode', 'development', '--config', file, '--port', '8080'], {
      env: cleanEnv({ HERALD_HEARTBEAT_MS: '30s' }),
    })
    expect(result.status).toBe(0)
    const { config, sources, file: read } = JSON.parse(result.stdout) as { config: Record<string, unknown>; sources: Record<string, string>; file: string }
    expect(read).toBe(file)
    expect(Object.keys(config).sort()).toEqual(CONFIG_FIELDS.map((f) => f.key).sort())
    expect(config).toMatchObject({ port: 8080, heartbeatMs: 30_000, historySize: 500, corsOrigins: ['https://app.example.com'], anonymous: true, publisherJwtKey: DEVELOPMENT_JWT_KEY })
    expect(sources).toMatchObject({ port: 'flag', heartbeatMs: 'env', historySize: 'file', anonymous: 'mode', host: 'default', publisherJwtKey: 'mode' })

    const table = await runHerald(['check-config', '--mode', 'development', '--port', '8080'])
    expect(table.status).toBe(0)
    expect(table.stdout).toContain('configuration is valid')
    expect(table.stdout).toMatch(/port\s+8080\s+flag/)
    expect(table.stdout).toMatch(/demos\s+true\s+mode/)
  })

  it('masks secret keys', async () => {
    const result = await runHerald(['check-config', '--publisher-jwt-key', SECRET, '--subscriber-jwt-key', SECRET])
    expect(result.status).toBe(0)
    expect(result.stdout).not.toContain(SECRET)
    expect(result.stdout).toContain(`(secret, ${SECRET.length} characters)`)
  })

  it('exits 2 and lists every problem of an invalid configuration', async () => {
    const result = await runHerald(['check-config', '--port', 'eighty', '--history', 'postgres://db'])
    expect(result.status).toBe(2)
    expect(result.stderr).toContain('ERR_HUB_CONFIG_INVALID')
    for (const problem of ['--port', 'history', 'publisherJwtKey: required in production mode', 'subscriberJwtKey']) expect(result.stderr).toContain(problem)
  })
})

describe('engine names in engine URLs', () => {
  it('check-config accepts them, and exits 2 naming an unknown or invalid parameter and the accepted ones', async () => {
    const named = await runHerald([
      'check-config',
      '--mode',
      'development',
      '--history',
      'redis://:secret@127.0.0.1:6379/0?keyPrefix=myapp:',
      '--broker',
      'redis://:secret@127.0.0.1:6379/0?channel=myapp:broker',
    ])
    expect(named.status, named.stderr).toBe(0)
    expect(named.stdout).toContain('configuration is valid')

    const unknown = await runHerald(['check-config', '--mode', 'development', '--history', 'redis://:secret@127.0.0.1:6379/0?keyprefix=myapp:'])
    expect(unknown.status).toBe(2)
    expect(unknown.stderr).toContain('ERR_HUB_CONFIG_INVALID')
    expect(unknown.stderr).toContain('history "redis://:***@127.0.0.1:6379/0?keyprefix=myapp:": unknown query parameter "keyprefix"; a redis:// URL accepts keyPrefix')
    expect(unknown.stderr).not.toContain('secret')

    const invalid = await runHerald(['check-config', '--mode', 'development', '--history', 'nats://127.0.0.1:4222?stream=MY.APP'])
    expect(invalid.status).toBe(2)
    expect(invalid.stderr).toContain('history "nats://127.0.0.1:4222?stream=MY.APP": query parameter stream')

    // A broker subject the history's stream would capture, with the broker from the environment.
    const overlap = await runHerald(['check-config', '--mode', 'development', '--history', 'nats://127.0.0.1:4222'], {
      env: cleanEnv({ HERALD_BROKER: 'nats://127.0.0.1:4222?subject=herald.history.broker' }),
    })
    expect(overlap.status).toBe(2)
    expect(overlap.stderr).toContain("the broker subject herald.history.broker is one of the history's subjects (herald.history.>)")
  })

  it('serve exits 2 on an unknown parameter before it connects to anything', async () => {
    const result = await runHerald(['serve', '--mode', 'development', '--port', '0', '--no-demos', '--history', 'memory', '--broker', 'nats://127.0.0.1:1?subjects=x'], { cwd: dir.path })
    expect(result.status).toBe(2)
    expect(result.stderr).toContain('broker "nats://127.0.0.1:1?subjects=x": unknown query parameter "subjects"; a nats:// URL accepts stream')
  })
})

describe('herald gen-token', () => {
  it('signs a token with the requested claims and lifetime', async () => {
    const result = await runHerald(['gen-token', '--key', SECRET, '--publish', '*', '--subscribe', 'https://example.com/books/{id}', '--subscribe', 'chat', '--expires-in', '1h'])
    expect(result.status).toBe(0)
    const { payload, protectedHeader } = await jwtVerify(result.stdout.trim(), new TextEncoder().encode(SECRET))
    expect(protectedHeader.alg).toBe('HS256')
    expect(payload.mercure).toEqual({ publish: ['*'], subscribe: ['https://example.com/books/{id}', 'chat'] })
    expect(payload.exp! - payload.iat!).toBe(3600)
  })

  it('reads the key from a file, takes a payload, and signs HS512 when asked', async () => {
    const file = join(dir.path, 'secret.txt')
    const long = 'x'.repeat(64)
    writeFileSync(file, `${long}\n`)
    const result = await runHerald(['gen-token', '--key-file', file, '--alg', 'HS512', '--subscribe', '*', '--payload', '{"user":"ada"}'], { cwd: dir.path })
    expect(result.status).toBe(0)
    const { payload, protectedHeader } = await jwtVerify(result.stdout.trim(), new TextEncoder().encode(long))
    expect(protectedHeader.alg).toBe('HS512')
    expect(payload.mercure).toEqual({ subscribe: ['*'], payload: { user: 'ada' } })
    expect(decodeJwt(result.stdout.trim()).exp).toBeUndefined()
  })

  it('exits 2 without a key, and with a key too short for its algorithm', async () => {
    const none = await runHerald(['gen-token', '--publish', '*'])
    expect(none.status).toBe(2)
    expect(none.stderr).toContain('ERR_CLI_USAGE')
    const short = await runHerald(['gen-token', '--key', 'short', '--publish', '*'])
    expect(short.status).toBe(2)
    expect(short.stderr).toContain('ERR_HUB_AUTH_KEY_INVALID')
  })
})

describe('herald serve refuses to start on a bad configuration', () => {
  it('exits 2 in production mode without keys, and with the development key', async () => {
    const missing = await runHerald(['serve', '--port', '0'], { cwd: dir.path })
    expect(missing.status).toBe(2)
    expect(missing.stderr).toContain('required in production mode')
    const development = await runHerald(['serve', '--port', '0', '--publisher-jwt-key', DEVELOPMENT_JWT_KEY, '--subscriber-jwt-key', DEVELOPMENT_JWT_KEY], { cwd: dir.path })
    expect(development.status).toBe(2)
    expect(development.stderr).toContain('production mode refuses the development key')
  })

  it('exits 2 with ERR_HUB_ENGINE_UNAVAILABLE when the optional package of an engine is missing', async () => {
    // A module resolution hook that makes the `redis` package unresolvable, as when it is not installed.
    const hook = join(dir.path, 'no-redis-hooks.mjs')
    writeFileSync(
      hook,
      `export async function resolve(specifier, context, next) {
  if (specifier === 'redis' || specifier.startsWith('@redis/')) {
    const error = new Error("Cannot find package '" + specifier + "' imported from " + context.parentURL)
    error.code = 'ERR_MODULE_NOT_FOUND'
    throw error
  }
  return next(specifier, context)
}\n`,
    )
    const register = join(dir.path, 'register.mjs')
    writeFileSync(register, `import { register } from 'node:module'\nregister(${JSON.stringify(`file://${hook}`)})\n`)
    const result = await runHerald(['serve', '--mode', 'development', '--port', '0', '--history', 'redis://127.0.0.1:6379', '--no-demos'], {
      cwd: dir.path,
      nodeArgs: ['--import', register],
    })
    expect(result.status).toBe(2)
    expect(result.stderr).toContain('ERR_HUB_ENGINE_UNAVAILABLE')
    expect(result.stderr).toContain('redis')
  })
})
