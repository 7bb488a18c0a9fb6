import { describe, expect, it, vi } from 'vitest'
import { createRedisClient, destroyRedisClient, sendRedisCommand, untagReply } from './redis-connection.js'
import { REDIS_URL, requireRedis } from './testing/redis-service.js'

const hasRedis = await requireRedis()

describe.runIf(hasRedis)('untagReply', () => {
  it('gives the reply carrying the call’s tag, and refuses any other reply, opening the connection again', async () => {
    const downs: unknown[] = []
    let readies = 0
    const client = createRedisClient({
      url: REDIS_URL,
      clientOptions: undefined,
      commandTimeoutMs: 1_000,
      name: 'herald-test-untag',
      onDown: (cause) => downs.push(cause),
      onReady: () => readies++,
    })
    try {
      await vi.waitFor(() => expect(readies).toBe(1))
      const first = await sendRedisCommand<number>(client, ['CLIENT', 'ID'])
      expect(untagReply(client, 'tag-1', ['tag-1', ['ok', 'result']])).toEqual(['ok', 'result'])
      expect(readies).toBe(1)
      // A reply to another command: another tag, or no tag at all (an XREAD's, a handshake's 'OK').
      expect(() => untagReply(client, 'tag-1', ['tag-2', ['ok', 'result']])).toThrow(/reply to another command/)
      expect(downs).toHaveLength(1)
      await vi.waitFor(() => expect(readies).toBe(2))
      expect(await sendRedisCommand<number>(client, ['CLIENT', 'ID'])).not.toBe(first)
      expect(() => untagReply(client, 'tag-3', 'OK')).toThrow(/reply to another command/)
      await vi.waitFor(() => expect(readies).toBe(3))
    } finally {
      destroyRedisClient(client)
    }
  })
})
