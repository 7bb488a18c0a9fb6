import { describe, expect, it } from 'vitest'
import { DEFAULT_NATS_BROKER_SUBJECT, DEFAULT_NATS_HISTORY_STREAM, DEFAULT_NATS_HISTORY_SUBJECT_PREFIX } from './nats/index.js'
import { DEFAULT_REDIS_BROKER_CHANNEL, DEFAULT_REDIS_HISTORY_KEY_PREFIX } from './redis/index.js'
import {
  brokerOptions,
  brokerTailsHistory,
  checkEngineNames,
  ENGINE_DEFAULT_NAMES,
  historyOptions,
  isNatsStreamName,
  parseEngineUrl,
  redactEngineUrl,
  type EngineUrl,
} from './engines-url.js'

const parse = (setting: 'history' | 'broker', spec: string): EngineUrl => {
  const parsed = parseEngineUrl(setting, spec)
  if (parsed === undefined) throw new Error(`${spec} is not an engine URL`)
  return parsed
}
const tails = (broker: string, history: string): boolean => brokerTailsHistory(parse('broker', broker), parse('history', history))
const invalid = (spec: string, setting: 'history' | 'broker' = 'history') => {
  try {
    parseEngineUrl(setting, spec)
  } catch (error) {
    return error as { code: string; message: string }
  }
  throw new Error(`${spec} was accepted`)
}

describe('parseEngineUrl', () => {
  it('leaves settings that are not Redis or NATS URLs alone', () => {
    for (const spec of ['memory', 'sqlite:./herald.db', 'sqlite:./odd?name.db']) expect(parseEngineUrl('history', spec)).toBeUndefined()
  })

  it('strips the query and maps its parameters to the engines\' option names', () => {
    const redis = parse('history', 'redis://:secret@cache.internal:6379/2?keyPrefix=myapp:&channel=myapp:broker')
    expect(redis).toMatchObject({ engine: 'redis', url: 'redis://:secret@cache.internal:6379/2', names: { keyPrefix: 'myapp:', channel: 'myapp:broker' } })
    expect(historyOptions(redis)).toEqual({ keyPrefix: 'myapp:' })
    expect(brokerOptions(redis, undefined, false)).toEqual({ channel: 'myapp:broker' })

    const nats = parse('broker', 'nats://a:4222,nats://b:4222?stream=MYAPP&subjectPrefix=myapp.history&subject=myapp.broker')
    expect(nats).toMatchObject({ engine: 'nats', url: 'nats://a:4222,nats://b:4222', names: { stream: 'MYAPP', subjectPrefix: 'myapp.history', subject: 'myapp.broker' } })
    expect(historyOptions(nats)).toEqual({ stream: 'MYAPP', subjectPrefix: 'myapp.history' })
    // A stream broker takes the history's names from the history URL, its subject from its own.
    const history = parse('history', 'nats://a:4222?stream=OTHER&subjectPrefix=other')
    expect(brokerOptions(nats, history, true)).toEqual({ stream: 'OTHER', subjectPrefix: 'other', subject: 'myapp.broker' })
    expect(brokerOptions(nats, history, false)).toEqual({ subject: 'myapp.broker' })
  })

  it('percent-decodes values and keeps + as is; an empty query is no query', () => {
    expect(parse('history', 'redis://h?keyPrefix=a%26b%23c+d:').names).toEqual({ keyPrefix: 'a&b#c+d:' })
    expect(parse('history', 'redis://h/0?')).toMatchObject({ url: 'redis://h/0', names: {} })
    expect(parse('history', 'rediss://h?keyPrefix=x&&channel=y').names).toEqual({ keyPrefix: 'x', channel: 'y' })
  })

  it('refuses an unknown parameter with ERR_HUB_INVALID_OPTION, naming it and the accepted ones', () => {
    const redis = invalid('redis://127.0.0.1:6379/0?keyprefix=myapp:')
    expect(redis.code).toBe('ERR_HUB_INVALID_OPTION')
    expect(redis.message).toContain('history "redis://127.0.0.1:6379/0?keyprefix=myapp:": unknown query parameter "keyprefix"')
    expect(redis.message).toContain('accepts keyPrefix (the prefix of the history keys), channel (the broker\'s pub/sub channel)')
    const nats = invalid('nats://127.0.0.1:4222?stream=A&db=1', 'broker')
    expect(nats.message).toContain('broker "nats://127.0.0.1:4222?stream=A&db=1": unknown query parameter "db"')
    expect(nats.message).toContain('accepts stream (the history\'s JetStream stream), subjectPrefix (the history\'s subjects, <subjectPrefix>.>), subject (the broker\'s subject)')
    // Redis parameters are not NATS parameters, and the other way round.
    expect(invalid('nats://h?keyPrefix=a').message).toContain('unknown query parameter "keyPrefix"')
    expect(invalid('redis://h?stream=A').message).toContain('unknown query parameter "stream"')
  })

  it('refuses invalid values, repeated parameters and malformed queries', () => {
    const cases: [string, string][] = [
      ['nats://h?stream=MY.APP', 'query parameter stream: must be a name without spaces'],
      ['nats://h?stream=MY%20APP', 'query parameter stream'],
      ['nats://h?stream=a%2Fb', 'query parameter stream'],
      ['nats://h?subjectPrefix=myapp.', 'query parameter subjectPrefix'],
      ['nats://h?subjectPrefix=myapp.>', 'query parameter subjectPrefix'],
      ['nats://h?subject=a.*.b', 'query parameter subject'],
      ['redis://h?keyPrefix=', 'query parameter keyPrefix: must not be empty'],
      ['redis://h?channel', 'query parameter "channel" has no value'],
      ['redis://h?keyPrefix=a&keyPrefix=b', 'query parameter keyPrefix is given twice'],
      ['redis://h?keyPrefix=%E0%A4%A', 'is not percent-encoded correctly'],
      ['redis://h?keyPrefix=a#b', 'a URL fragment (#) is not accepted'],
      ['nats://a:4222?stream=A,nats://b:4222', 'after the last server'],
      ['redis://[nope?keyPrefix=a', 'is not a valid URL'],
      ['redis://h/zero', 'the database "zero" is not a number'],
    ]
    for (const [spec, message] of cases) {
      const error = invalid(spec)
      expect(error.code, spec).toBe('ERR_HUB_INVALID_OPTION')
      expect(error.message, spec).toContain(message)
    }
    expect(isNatsStreamName('A\u0001B')).toBe(false)
  })

  it('hides passwords and tokens in messages', () => {
    expect(redactEngineUrl('redis://:secret@cache:6379/0?keyPrefix=a')).toBe('redis://:***@cache:6379/0?keyPrefix=a')
    expect(redactEngineUrl('rediss://user:secret@cache')).toBe('rediss://user:***@cache')
    expect(redactEngineUrl('nats://token@a:4222,nats://u:p@b:4222')).toBe('nats://***@a:4222,nats://u:***@b:4222')
    expect(redactEngineUrl('nats://a:4222')).toBe('nats://a:4222')
    expect(invalid('redis://:secret@h?nope=1').message).not.toContain('secret')
  })
})

describe('brokerTailsHistory: the broker tails the history when it reaches the same server and names the same history', () => {
  it('holds for the same URL, and for spellings of the same server', () => {
    expect(tails('redis://127.0.0.1:6379', 'redis://127.0.0.1:6379')).toBe(true)
    expect(tails('redis://127.0.0.1:6379/0?keyPrefix=a:&channel=c', 'redis://127.0.0.1:6379/0?keyPrefix=a:&channel=c')).toBe(true)
    // Default port and database, host case, parameter order, default names written out.
    expect(tails('redis://LOCALHOST', 'redis://localhost:6379/0')).toBe(true)
    expect(tails('redis://h?channel=c&keyPrefix=a:', 'redis://h?keyPrefix=a:&channel=c')).toBe(true)
    expect(tails(`redis://h?keyPrefix=${DEFAULT_REDIS_HISTORY_KEY_PREFIX}`, 'redis://h')).toBe(true)
    // History names left out of the broker URL are the history's; broker names do not matter.
    expect(tails('redis://h?channel=a:broker', 'redis://h?keyPrefix=a:')).toBe(true)
    expect(tails('redis://h?channel=x', 'redis://h?channel=y')).toBe(true)
    expect(tails('nats://a:4222,nats://b:4222?subject=s', 'nats://b:4222, a:4222?stream=S&subjectPrefix=p')).toBe(true)
    expect(tails('nats://a', 'nats://a:4222,nats://a:4222')).toBe(true)
  })

  it('does not hold for another server, database, scheme, user, or another history', () => {
    expect(tails('redis://h/1', 'redis://h/0')).toBe(false)
    expect(tails('redis://h:6380', 'redis://h')).toBe(false)
    expect(tails('rediss://h', 'redis://h')).toBe(false)
    expect(tails('redis://:pw@h', 'redis://h')).toBe(false)
    expect(tails('redis://127.0.0.1', 'redis://localhost')).toBe(false)
    expect(tails('redis://h?keyPrefix=b:', 'redis://h?keyPrefix=a:')).toBe(false)
    expect(tails('redis://h?keyPrefix=b:', 'redis://h')).toBe(false)
    expect(tails('nats://a:4222?stream=OTHER', 'nats://a:4222')).toBe(false)
    expect(tails('nats://a:4222?subjectPrefix=x', 'nats://a:4222?subjectPrefix=y')).toBe(false)
    expect(tails('nats://a:4222', 'nats://a:4222,nats://b:4222')).toBe(false)
    expect(tails('nats://a:4222', 'redis://a:4222')).toBe(false)
    expect(brokerTailsHistory(parse('broker', 'redis://h'), undefined)).toBe(false)
  })
})

describe('checkEngineNames', () => {
  it('refuses a NATS broker subject inside the history\'s subjects', () => {
    const check = (history: string, broker: string) => () => checkEngineNames(parse('history', history), parse('broker', broker))
    expect(check('nats://h?subjectPrefix=myapp', 'nats://h?subject=myapp.broker')).toThrow(/the broker subject myapp\.broker is one of the history's subjects \(myapp\.>\)/)
    expect(check('nats://h?subjectPrefix=herald', 'nats://other')).toThrow(expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }))
    expect(check('nats://h?subjectPrefix=myapp.history', 'nats://h?subject=myapp.broker')).not.toThrow()
    expect(check('nats://h?subjectPrefix=myapp', 'nats://h?subject=myapp')).not.toThrow()
    expect(check('redis://h?keyPrefix=a', 'redis://h?channel=a')).not.toThrow()
  })
})

describe('ENGINE_DEFAULT_NAMES', () => {
  it('are the engines\' own defaults', () => {
    expect(ENGINE_DEFAULT_NAMES).toEqual({
      redis: { keyPrefix: DEFAULT_REDIS_HISTORY_KEY_PREFIX, channel: DEFAULT_REDIS_BROKER_CHANNEL },
      nats: { stream: DEFAULT_NATS_HISTORY_STREAM, subjectPrefix: DEFAULT_NATS_HISTORY_SUBJECT_PREFIX, subject: DEFAULT_NATS_BROKER_SUBJECT },
    })
  })
})
