import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { HubError } from '../errors.js'
import { CONFIG_FIELDS, DEFAULT_CONFIG } from './config-schema.js'
import { DEVELOPMENT_JWT_KEY, loadConfig } from './load-config.js'

const KEYS = { HERALD_PUBLISHER_JWT_KEY: 'p'.repeat(32), HERALD_SUBSCRIBER_JWT_KEY: 's'.repeat(32) }
const emptyDir = () => mkdtempSync(join(tmpdir(), 'herald-config-'))

function problems(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(HubError)
    expect((error as HubError).code).toBe('ERR_HUB_CONFIG_INVALID')
    return (error as HubError).message
  }
  throw new Error('expected loadConfig to throw')
}

describe('loadConfig', () => {
  it('reads the names documented for the environment', () => {
    const { config, sources } = loadConfig({
      cwd: emptyDir(),
      env: { ...KEYS, HERALD_PORT: '8080', HERALD_JWT_ALG: 'HS512', HERALD_HISTORY: 'memory', HERALD_BROKER: 'redis://127.0.0.1:6379', HERALD_CORS_ORIGINS: 'https://a.example, https://b.example', HERALD_ANONYMOUS: 'true' },
    })
    expect(config).toMatchObject({ port: 8080, jwtAlg: 'HS512', history: 'memory', broker: 'redis://127.0.0.1:6379', corsOrigins: ['https://a.example', 'https://b.example'], anonymous: true })
    expect(sources.port).toBe('env')
    expect(sources.host).toBe('default')
  })

  it('lets flags win over env, and env over the config file', () => {
    const dir = emptyDir()
    writeFileSync(join(dir, 'herald.json'), JSON.stringify({ port: 1111, host: '127.0.0.1', heartbeatMs: '30s', anonymous: true }))
    const { config, sources, file } = loadConfig({ cwd: dir, env: { ...KEYS, HERALD_PORT: '2222' }, argv: ['--port=3333', '--no-anonymous'] })
    expect(file).toBe(join(dir, 'herald.json'))
    expect(config).toMatchObject({ port: 3333, host: '127.0.0.1', heartbeatMs: 30_000, anonymous: false })
    expect(sources).toMatchObject({ port: 'flag', host: 'file', heartbeatMs: 'file', anonymous: 'flag' })
  })

  it('coalesces subscriber writes unless told not to', () => {
    expect(loadConfig({ cwd: emptyDir(), env: KEYS }).config.coalesceWrites).toBe(true)
    expect(loadConfig({ cwd: emptyDir(), env: KEYS, argv: ['--no-coalesce-writes'] }).config.coalesceWrites).toBe(false)
    expect(loadConfig({ cwd: emptyDir(), env: { ...KEYS, HERALD_COALESCE_WRITES: 'false' } }).config.coalesceWrites).toBe(false)
  })

  it('reads writeDelayMs as a duration from 0 to 60 s, 0 by default', () => {
    expect(loadConfig({ cwd: emptyDir(), env: KEYS }).config.writeDelayMs).toBe(0)
    expect(loadConfig({ cwd: emptyDir(), env: { ...KEYS, HERALD_WRITE_DELAY_MS: '20ms' } }).config.writeDelayMs).toBe(20)
    expect(loadConfig({ cwd: emptyDir(), env: KEYS, argv: ['--write-delay-ms', '1s'] }).config.writeDelayMs).toBe(1000)
    expect(problems(() => loadConfig({ cwd: emptyDir(), env: KEYS, argv: ['--write-delay-ms', '2m'] }))).toContain('--write-delay-ms: expected at most 60000 ms')
  })

  it('reads writeIntervalMs as a duration from 0 to 60 s, 40 by default', () => {
    expect(loadConfig({ cwd: emptyDir(), env: KEYS }).config.writeIntervalMs).toBe(40)
    expect(loadConfig({ cwd: emptyDir(), env: { ...KEYS, HERALD_WRITE_INTERVAL_MS: '0' } }).config.writeIntervalMs).toBe(0)
    expect(loadConfig({ cwd: emptyDir(), env: KEYS, argv: ['--write-interval-ms', '20ms'] }).config.writeIntervalMs).toBe(20)
    expect(problems(() => loadConfig({ cwd: emptyDir(), env: KEYS, argv: ['--write-interval-ms', '2m'] }))).toContain('--write-interval-ms: expected at most 60000 ms')
  })

  it('reads a config file named by --config or HERALD_CONFIG', () => {
    const dir = emptyDir()
    writeFileSync(join(dir, 'custom.json'), JSON.stringify({ historySize: 5 }))
    expect(loadConfig({ cwd: dir, env: KEYS, argv: ['--config', 'custom.json'] }).config.historySize).toBe(5)
    expect(loadConfig({ cwd: dir, env: { ...KEYS, HERALD_CONFIG: 'custom.json' } }).config.historySize).toBe(5)
  })

  it('fills development mode with the development key, anonymous subscribers and demos', () => {
    const loaded = loadConfig({ cwd: emptyDir(), argv: ['--mode', 'development'] })
    expect(loaded.developmentKeys).toBe(true)
    expect(loaded.config).toMatchObject({ publisherJwtKey: DEVELOPMENT_JWT_KEY, subscriberJwtKey: DEVELOPMENT_JWT_KEY, anonymous: true, demos: true })
    expect(loaded.sources.anonymous).toBe('mode')
    // An explicit setting still wins in development mode.
    expect(loadConfig({ cwd: emptyDir(), argv: ['--mode', 'development', '--anonymous=false'] }).config.anonymous).toBe(false)
  })

  it('refuses to start production without keys or with the development key', () => {
    expect(problems(() => loadConfig({ cwd: emptyDir() }))).toMatch(/publisherJwtKey: required in production mode[\s\S]*subscriberJwtKey: required/)
    expect(problems(() => loadConfig({ cwd: emptyDir(), env: { ...KEYS, HERALD_PUBLISHER_JWT_KEY: DEVELOPMENT_JWT_KEY } }))).toMatch(/refuses the development key/)
  })

  it('reports every problem at once, naming its source', () => {
    const dir = emptyDir()
    writeFileSync(join(dir, 'herald.json'), JSON.stringify({ prot: 1, workers: 0 }))
    const message = problems(() =>
      loadConfig({ cwd: dir, env: { ...KEYS, HERALD_PORT: 'eighty', HERALD_HISTORY: 'mysql://x' }, argv: ['--anonymous=maybe', '--bogus', '1', '--cors-origins', 'not-an-origin'] }),
    )
    expect(message).toContain('unknown setting "prot"')
    expect(message).toContain('workers: expected at least 1')
    expect(message).toContain('HERALD_PORT: expected a whole number')
    expect(message).toContain('history: "mysql://x" is not one of')
    expect(message).toContain('--anonymous: expected true or false')
    expect(message).toContain('unknown flag --bogus')
    expect(message).toContain('"not-an-origin" is not an origin')
  })

  it('takes engine names as query parameters of the engine URLs, from every source, and checks them', () => {
    const dir = emptyDir()
    writeFileSync(join(dir, 'herald.json'), JSON.stringify({ history: 'redis://cache:6379/0?keyPrefix=myapp:&channel=myapp:broker' }))
    const { config } = loadConfig({ cwd: dir, env: { ...KEYS, HERALD_BROKER: 'redis://cache:6379/0?keyPrefix=myapp:&channel=myapp:broker' } })
    expect(config).toMatchObject({ history: 'redis://cache:6379/0?keyPrefix=myapp:&channel=myapp:broker', broker: 'redis://cache:6379/0?keyPrefix=myapp:&channel=myapp:broker' })
    expect(loadConfig({ cwd: dir, env: KEYS, argv: ['--history', 'nats://n:4222?stream=MYAPP&subjectPrefix=myapp.history', '--broker', 'nats://n:4222?subject=myapp.broker'] }).config.broker).toBe(
      'nats://n:4222?subject=myapp.broker',
    )

    const message = problems(() =>
      loadConfig({ cwd: emptyDir(), env: KEYS, argv: ['--history', 'redis://:secret@cache:6379?keyprefix=myapp:', '--broker', 'nats://n:4222?subject=a.*'] }),
    )
    expect(message).toContain('history "redis://:***@cache:6379?keyprefix=myapp:": unknown query parameter "keyprefix"; a redis:// URL accepts keyPrefix (the prefix of the history keys), channel (the broker\'s pub/sub channel)')
    expect(message).toContain('broker "nats://n:4222?subject=a.*": query parameter subject')
    expect(message).not.toContain('secret')
    expect(problems(() => loadConfig({ cwd: emptyDir(), env: KEYS, argv: ['--history', 'postgres://user:hunter2@db'] }))).toContain('history: "postgres://user:***@db" is not one of')
    expect(problems(() => loadConfig({ cwd: emptyDir(), env: KEYS, argv: ['--history', 'nats://n?subjectPrefix=app', '--broker', 'nats://n?subject=app.broker'] }))).toContain(
      "the broker subject app.broker is one of the history's subjects (app.>)",
    )
  })

  it('rejects a config file that is not a JSON object', () => {
    const dir = emptyDir()
    writeFileSync(join(dir, 'herald.json'), '[1, 2]')
    expect(problems(() => loadConfig({ cwd: dir, env: KEYS }))).toContain('must hold a JSON object')
    writeFileSync(join(dir, 'herald.json'), '{ nope')
    expect(problems(() => loadConfig({ cwd: dir, env: KEYS }))).toContain('not valid JSON')
  })

  it('parses durations with units', () => {
    const cfg = (v: string) => loadConfig({ cwd: emptyDir(), env: { ...KEYS, HERALD_HISTORY_MAX_AGE_MS: v } }).config.historyMaxAgeMs
    expect(cfg('1500')).toBe(1500)
    expect(cfg('30s')).toBe(30_000)
    expect(cfg('5m')).toBe(300_000)
    expect(cfg('24h')).toBe(86_400_000)
    expect(problems(() => cfg('soon'))).toContain('expected milliseconds or a duration')
  })

  it('has one env name and one flag per setting, and a default for each', () => {
    expect(new Set(CONFIG_FIELDS.map((f) => f.env)).size).toBe(CONFIG_FIELDS.length)
    expect(new Set(CONFIG_FIELDS.map((f) => f.flag)).size).toBe(CONFIG_FIELDS.length)
    for (const f of CONFIG_FIELDS) expect(f.key in DEFAULT_CONFIG).toBe(true)
    expect(Object.keys(DEFAULT_CONFIG).length).toBe(CONFIG_FIELDS.length)
  })
})
