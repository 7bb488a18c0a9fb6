import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { requireService } from '../../test/helpers/require-service.js'
import { MemoryBroker } from './broker/memory-broker.js'
import { createBroker, createEngines, createHistory } from './engines.js'
import { MemoryHistory } from './history/memory-history.js'
import { SqliteHistory } from './history/sqlite-history.js'

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
      const other = await createBroker(NATS_URL, { history: `${NATS_URL},${NATS_URL}` })
      expect(other.constructor.name).toBe('NatsBroker')
      await other.close()
      const tailing = await createBroker(NATS_URL, { history: NATS_URL })
      expect(tailing.constructor.name).toBe('NatsStreamBroker')
      await tailing.close()
    })

    it.runIf(!natsEngineBuilt)('reports ERR_HUB_ENGINE_UNAVAILABLE while this build has no NATS engine', async () => {
      await expect(createBroker(NATS_URL)).rejects.toMatchObject({ code: 'ERR_HUB_ENGINE_UNAVAILABLE', message: expect.stringContaining('@nats-io/transport-node') })
    })
  })
})
