import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { afterAll, describe, expect, it } from 'vitest'
import { requireService } from '../../test/helpers/require-service.js'
import { waitFor } from '../../test/helpers/wait-for.js'
import { MemoryBroker } from './broker/memory-broker.js'
import { adminConnection, deleteStreams, uniqueName } from './nats/testing/nats-service.js'
import { adminClient, deleteKeys, uniquePrefix } from './redis/testing/redis-service.js'
import { createBroker, createEngines, createHistory } from './engines.js'
import { MemoryHistory } from './history/memory-history.js'
import { SqliteHistory } from './history/sqlite-history.js'
import type { HubMessage } from './update.js'

const dir = mkdtempSync(join(tmpdir(), 'herald-engines-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const update = (id: string) => ({ id, topics: ['https://example.com/t'], data: id, private: false })

/** Whether this process holds `path` open (Linux: /proc/self/fd). */
function isOpen(path: string): boolean {
  return readdirSync('/proc/self/fd').some((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path
    } catch {
      return false
    }
  })
}

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port) })
    socket.setTimeout(1000)
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => (socket.destroy(), resolve(false)))
  })
}

/** A Redis connection subscribed to `channel`, collecting what arrives on it. */
async function channelListener(channel: string): Promise<{ client: Awaited<ReturnType<typeof adminClient>>; messages: string[]; close(): Promise<void> }> {
  const client = await adminClient(REDIS_URL)
  const subscriber = client.duplicate()
  subscriber.on('error', () => undefined)
  await subscriber.connect()
  const messages: string[] = []
  await subscriber.subscribe(channel, (message) => messages.push(message))
  return {
    client,
    messages,
    close: async () => {
      subscriber.destroy()
      client.destroy()
      await Promise.resolve()
    },
  }
}

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'
const hasRedis = requireService('Redis', await reachable(REDIS_URL), `nothing listens at ${REDIS_URL}`)
const hasNats = requireService('NATS', await reachable(NATS_URL), `nothing listens at ${NATS_URL}`)
const natsEngineBuilt = existsSync(join(import.meta.dirname, 'nats/index.ts'))

describe('createEngines', () => {
  it('builds SQLite history from sqlite:PATH, relative to cwd, bounded by the history settings, and a memory broker', async () => {
    const { history, broker } = await createEngines({ history: 'sqlite:./relative.db', broker: 'memory', historySize: 2, historyMaxAgeMs: 60_000 }, { cwd: dir })
    try {
      expect(history).toBeInstanceOf(SqliteHistory)
      expect(broker).toBeInstanceOf(MemoryBroker)
      expect(existsSync(join(dir, 'relative.db'))).toBe(true)
      expect(history.capabilities.durable).toBe(true)
      for (const id of ['a', 'b', 'c']) await history.append(update(id))
      // historySize bounds what is kept: the oldest is gone.
      const page = await history.readAfter('earliest', { match: () => true, limit: 10 })
      expect(page.messages.map((m) => m.update.id)).toEqual(['b', 'c'])
    } finally {
      await Promise.all([history.close(), broker.close()])
    }
  })

  it('accepts an absolute path and sqlite::memory:', async () => {
    const absolute = await createHistory({ history: `sqlite:${join(dir, 'absolute.db')}`, broker: 'memory' }, { cwd: '/nonexistent' })
    const inMemory = await createHistory({ history: 'sqlite::memory:', broker: 'memory' })
    try {
      expect(existsSync(join(dir, 'absolute.db'))).toBe(true)
      expect(inMemory.capabilities.durable).toBe(false)
    } finally {
      await Promise.all([absolute.close(), inMemory.close()])
    }
  })

  it('builds memory history and broker from "memory"', async () => {
    const { history, broker } = await createEngines({ history: 'memory', broker: 'memory', historySize: 5 })
    expect(history).toBeInstanceOf(MemoryHistory)
    expect(broker).toBeInstanceOf(MemoryBroker)
    await Promise.all([history.close(), broker.close()])
  })

  it('refuses strings that name no engine with ERR_HUB_INVALID_OPTION', async () => {
    await expect(createHistory({ history: 'postgres://db', broker: 'memory' })).rejects.toMatchObject({ code: 'ERR_HUB_INVALID_OPTION' })
    await expect(createHistory({ history: 'sqlite:', broker: 'memory' })).rejects.toMatchObject({ code: 'ERR_HUB_INVALID_OPTION' })
    await expect(createBroker('kafka://broker')).rejects.toMatchObject({ code: 'ERR_HUB_INVALID_OPTION' })
  })

  it('refuses an unknown or invalid query parameter with ERR_HUB_INVALID_OPTION before it opens anything', async () => {
    const path = join(dir, 'never-opened.db')
    await expect(createEngines({ history: `sqlite:${path}`, broker: 'redis://127.0.0.1:6379?chanel=x' })).rejects.toMatchObject({
      code: 'ERR_HUB_INVALID_OPTION',
      message: expect.stringContaining('unknown query parameter "chanel"; a redis:// URL accepts keyPrefix (the prefix of the history keys), channel (the broker\'s pub/sub channel)'),
    })
    expect(existsSync(path)).toBe(false)
    await expect(createHistory({ history: 'nats://127.0.0.1:4222?stream=MY.APP', broker: 'memory' })).rejects.toMatchObject({
      code: 'ERR_HUB_INVALID_OPTION',
      message: expect.stringContaining('query parameter stream'),
    })
    await expect(createBroker('nats://127.0.0.1:4222?subject=a.>')).rejects.toMatchObject({ code: 'ERR_HUB_INVALID_OPTION' })
    // The history setting a broker goes with is checked too.
    await expect(createBroker('redis://127.0.0.1:6379', { history: 'redis://127.0.0.1:6379?keyPrefix=' })).rejects.toMatchObject({ code: 'ERR_HUB_INVALID_OPTION' })
  })

  it('refuses a NATS broker subject inside the history\'s subjects', async () => {
    const settings = { history: 'nats://127.0.0.1:4222?subjectPrefix=myapp', broker: 'nats://127.0.0.1:4222?subject=myapp.broker' }
    await expect(createEngines(settings)).rejects.toMatchObject({ code: 'ERR_HUB_INVALID_OPTION', message: expect.stringContaining("one of the history's subjects (myapp.>)") })
    await expect(createBroker(settings.broker, { history: settings.history })).rejects.toMatchObject({ code: 'ERR_HUB_INVALID_OPTION' })
  })

  it('closes the history it opened when the broker cannot be built', async () => {
    const path = join(dir, 'closed-on-failure.db')
    await expect(createEngines({ history: `sqlite:${path}`, broker: 'amqp://nope' })).rejects.toMatchObject({ code: 'ERR_HUB_INVALID_OPTION' })
    expect(existsSync(path)).toBe(true)
    expect(isOpen(path)).toBe(false)
  })

  it('reports a SQLite file that cannot be opened with the history engine\'s own code', async () => {
    await expect(createHistory({ history: `sqlite:${join(dir, 'missing-dir', 'h.db')}`, broker: 'memory' })).rejects.toMatchObject({ code: 'ERR_HUB_HISTORY_OPEN_FAILED' })
  })

  describe.runIf(hasRedis)('Redis (optional package redis)', () => {
    it('loads RedisHistory and RedisStreamBroker on demand when history and broker are the same redis:// URL', async () => {
      const { history, broker } = await createEngines({ history: REDIS_URL, broker: REDIS_URL, historySize: 1000 })
      try {
        expect(history.constructor.name).toBe('RedisHistory')
        expect(broker.constructor.name).toBe('RedisStreamBroker')
        expect(history.capabilities.sharedAcrossNodes).toBe(true)
        expect(typeof (await history.size())).toBe('number')
      } finally {
        await Promise.all([history.close(), broker.close()])
      }
    })

    it('keeps the pub/sub RedisBroker when the broker URL is not the history URL', async () => {
      const other = new URL(REDIS_URL)
      other.pathname = '/3'
      const { history, broker } = await createEngines({ history: other.toString(), broker: REDIS_URL })
      try {
        expect(history.constructor.name).toBe('RedisHistory')
        expect(broker.constructor.name).toBe('RedisBroker')
      } finally {
        await Promise.all([history.close(), broker.close()])
      }
      const alone = await createBroker(REDIS_URL)
      expect(alone.constructor.name).toBe('RedisBroker')
      await alone.close()
      const tailing = await createBroker(REDIS_URL, { history: REDIS_URL })
      expect(tailing.constructor.name).toBe('RedisStreamBroker')
      await tailing.close()
    })

    describe('names from the URL query', () => {
      const prefixes: string[] = []
      afterAll(async () => {
        for (const prefix of prefixes.splice(0)) await deleteKeys(REDIS_URL, prefix)
      })
      const names = () => {
        const keyPrefix = uniquePrefix('engines')
        prefixes.push(keyPrefix)
        return { keyPrefix, channel: uniquePrefix('engines-channel') }
      }
      const withQuery = (query: Record<string, string>) => `${REDIS_URL}?${new URLSearchParams(query).toString()}`

      it('keeps history under keyPrefix and tails it, the history copying to channel, when both settings are one URL', async () => {
        const { keyPrefix, channel } = names()
        const url = withQuery({ keyPrefix, channel })
        const { history, broker } = await createEngines({ history: url, broker: url })
        const forwarded = await channelListener(channel)
        try {
          expect(broker.constructor.name).toBe('RedisStreamBroker')
          const delivered: HubMessage[] = []
          await broker.subscribe((message) => delivered.push(message))
          const position = await history.append(update('named-1'))
          // The history's append script sent the copy; the broker, built from the same settings, sends none.
          await waitFor(() => delivered.length === 1 && forwarded.messages.length === 1, 'the update, tailed and copied')
          await broker.publish({ update: update('named-1'), position })
          await new Promise((resolve) => setTimeout(resolve, 200))
          expect(forwarded.messages).toHaveLength(1)
          expect(delivered[0]!.position).toEqual(position)
          expect(JSON.parse(forwarded.messages[0]!)).toMatchObject({ id: 'named-1', ...position })
          expect(await forwarded.client.exists(`${keyPrefix}stream`)).toBe(1)
        } finally {
          await Promise.all([history.close(), broker.close(), forwarded.close()])
        }
      })

      it('tails the history named on the history URL when the broker URL, on the same server, sets only its channel', async () => {
        const { keyPrefix, channel } = names()
        const { history, broker } = await createEngines({ history: withQuery({ keyPrefix }), broker: withQuery({ channel }) })
        try {
          expect(broker.constructor.name).toBe('RedisStreamBroker')
          const delivered: string[] = []
          await broker.subscribe((message) => delivered.push(message.update.id))
          await history.append(update('named-2'))
          await waitFor(() => delivered.includes('named-2'), 'the update, tailed from the named history')
        } finally {
          await Promise.all([history.close(), broker.close()])
        }
      })

      it('uses pub/sub on channel when the broker URL names another history', async () => {
        const { keyPrefix, channel } = names()
        const { history, broker } = await createEngines({ history: withQuery({ keyPrefix }), broker: withQuery({ keyPrefix: `${keyPrefix}other:`, channel }) })
        const forwarded = await channelListener(channel)
        try {
          expect(broker.constructor.name).toBe('RedisBroker')
          const delivered: string[] = []
          await broker.subscribe((message) => delivered.push(message.update.id))
          const position = await history.append(update('named-3'))
          await broker.publish({ update: update('named-3'), position })
          await waitFor(() => delivered.includes('named-3') && forwarded.messages.length === 1, 'the update, through the channel')
        } finally {
          await Promise.all([history.close(), broker.close(), forwarded.close()])
        }
      })
    })
  })

  describe('NATS (optional packages @nats-io/*)', () => {
    it.runIf(hasNats && natsEngineBuilt)('loads NatsHistory and NatsStreamBroker on demand when history and broker are the same nats:// URL', async () => {
      const { history, broker } = await createEngines({ history: NATS_URL, broker: NATS_URL })
      try {
        expect(history.constructor.name).toBe('NatsHistory')
        expect(broker.constructor.name).toBe('NatsStreamBroker')
      } finally {
        await Promise.all([history.close(), broker.close()])
      }
    })

    it.runIf(hasNats && natsEngineBuilt)('keeps the pub/sub NatsBroker when the broker URL is not the history URL', async () => {
      const alone = await createBroker(NATS_URL)
      expect(alone.constructor.name).toBe('NatsBroker')
      await alone.close()
      const other = await createBroker(`${NATS_URL}?stream=OTHER_HISTORY`, { history: NATS_URL })
      expect(other.constructor.name).toBe('NatsBroker')
      await other.close()
      const tailing = await createBroker(NATS_URL, { history: NATS_URL })
      expect(tailing.constructor.name).toBe('NatsStreamBroker')
      await tailing.close()
    })

    describe.runIf(hasNats && natsEngineBuilt)('names from the URL query', () => {
      const streams: string[] = []
      afterAll(() => deleteStreams(streams.splice(0)))
      const names = () => {
        const stream = uniqueName('engines')
        streams.push(stream)
        return { stream, subjectPrefix: uniqueName('engines_history'), subject: uniqueName('engines_broker') }
      }
      const withQuery = (query: Record<string, string>) => `${NATS_URL}?${new URLSearchParams(query).toString()}`

      it('keeps history in stream on subjectPrefix and tails it, forwarding to subject, when both settings are one URL', async () => {
        const { stream, subjectPrefix, subject } = names()
        const url = withQuery({ stream, subjectPrefix, subject })
        const { history, broker } = await createEngines({ history: url, broker: url })
        const nc = await adminConnection()
        const forwarded: string[] = []
        const subscription = nc.subscribe(subject, {
          callback: (_, message) => {
            forwarded.push(message.string())
          },
        })
        await nc.flush()
        try {
          expect(broker.constructor.name).toBe('NatsStreamBroker')
          const delivered: HubMessage[] = []
          await broker.subscribe((message) => delivered.push(message))
          const position = await history.append(update('named-1'))
          await broker.publish({ update: update('named-1'), position })
          await waitFor(() => delivered.length === 1 && forwarded.length === 1, 'the update, tailed and forwarded')
          expect(delivered[0]!.position).toEqual(position)
          const info = await (await jetstreamManager(nc)).streams.info(stream)
          expect(info.config.subjects).toEqual([`${subjectPrefix}.>`])
          expect(info.state.messages).toBe(1)
        } finally {
          subscription.unsubscribe()
          await Promise.all([history.close(), broker.close()])
          await nc.close()
        }
      })

      it('uses pub/sub on subject when the broker URL names another stream', async () => {
        const { stream, subjectPrefix, subject } = names()
        const { history, broker } = await createEngines({ history: withQuery({ stream, subjectPrefix }), broker: withQuery({ stream: `${stream}_other`, subject }) })
        try {
          expect(broker.constructor.name).toBe('NatsBroker')
          const delivered: string[] = []
          await broker.subscribe((message) => delivered.push(message.update.id))
          const position = await history.append(update('named-2'))
          await broker.publish({ update: update('named-2'), position })
          await waitFor(() => delivered.includes('named-2'), 'the update, through the subject')
        } finally {
          await Promise.all([history.close(), broker.close()])
        }
      })
    })

    it.runIf(!natsEngineBuilt)('reports ERR_HUB_ENGINE_UNAVAILABLE while this build has no NATS engine', async () => {
      await expect(createBroker(NATS_URL)).rejects.toMatchObject({ code: 'ERR_HUB_ENGINE_UNAVAILABLE', message: expect.stringContaining('@nats-io/transport-node') })
    })
  })
})
