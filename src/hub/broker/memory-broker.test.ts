import { describe, expect, it } from 'vitest'
import { HubError } from '../errors.js'
import type { HubMessage } from '../update.js'
import { MemoryBroker } from './memory-broker.js'
import { brokerConformance, sampleMessage } from './testing/broker-suite.js'

brokerConformance('MemoryBroker', () => ({ open: ({ onError }) => new MemoryBroker({ onError }) }))

describe('MemoryBroker', () => {
  it('validates its options at construction with ERR_HUB_INVALID_OPTION', () => {
    for (const options of [null, 'x', { onError: 'log' }] as unknown[]) {
      expect(() => new MemoryBroker(options as object)).toThrow(expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }))
    }
    expect(() => new MemoryBroker()).not.toThrow()
  })

  it('rejects a listener or an onMissed that is not a function', async () => {
    const broker = new MemoryBroker()
    await expect(broker.subscribe('listener' as unknown as () => void)).rejects.toMatchObject({ code: 'ERR_HUB_INVALID_OPTION' })
    await expect(broker.subscribe(() => undefined, { onMissed: 1 as unknown as () => void })).rejects.toMatchObject({ code: 'ERR_HUB_INVALID_OPTION' })
  })

  it('calls every listener before publish returns, in subscription order, with the same message object', async () => {
    const broker = new MemoryBroker()
    const calls: string[] = []
    const seen: HubMessage[] = []
    await broker.subscribe((m) => (calls.push('a'), seen.push(m)))
    await broker.subscribe((m) => (calls.push('b'), seen.push(m)))
    const message = sampleMessage(1)
    const published = broker.publish(message)
    expect(calls).toEqual(['a', 'b'])
    expect(seen[0]).toBe(message)
    expect(seen[1]).toBe(message)
    await published
  })

  it('queues a message published from a listener until the current one has reached every listener', async () => {
    const broker = new MemoryBroker()
    const log: string[] = []
    await broker.subscribe((m) => {
      log.push(`a${m.position.offset}`)
      if (m.position.offset === '1') void broker.publish(sampleMessage(2))
    })
    await broker.subscribe((m) => log.push(`b${m.position.offset}`))
    await broker.publish(sampleMessage(1))
    expect(log).toEqual(['a1', 'b1', 'a2', 'b2'])
  })

  it('does not deliver a message to a listener subscribed after it was published', async () => {
    const broker = new MemoryBroker()
    const late: string[] = []
    await broker.subscribe((m) => {
      if (m.position.offset === '1') {
        void broker.publish(sampleMessage(2))
        void broker.subscribe((n) => late.push(n.position.offset))
      }
    })
    await broker.publish(sampleMessage(1))
    await broker.publish(sampleMessage(3))
    expect(late).toEqual(['3'])
  })

  it('does not deliver to a listener unsubscribed by an earlier listener of the same message', async () => {
    const broker = new MemoryBroker()
    const received: string[] = []
    const second: { unsubscribe?: () => Promise<void> } = {}
    await broker.subscribe(() => void second.unsubscribe?.())
    second.unsubscribe = await broker.subscribe((m) => received.push(m.position.offset))
    await broker.publish(sampleMessage(1))
    expect(received).toEqual([])
  })

  it('drops queued messages when a listener closes the broker', async () => {
    const broker = new MemoryBroker()
    const received: string[] = []
    await broker.subscribe((m) => {
      received.push(m.position.offset)
      if (m.position.offset === '1') {
        void broker.publish(sampleMessage(2))
        void broker.close()
      }
    })
    await broker.publish(sampleMessage(1))
    expect(received).toEqual(['1'])
    await expect(broker.publish(sampleMessage(3))).rejects.toBeInstanceOf(HubError)
  })

  it('reports a listener error through onError without throwing from publish', async () => {
    const errors: HubError[] = []
    const broker = new MemoryBroker({ onError: (error) => errors.push(error) })
    await broker.subscribe(() => {
      throw new TypeError('boom')
    })
    await expect(broker.publish(sampleMessage(1))).resolves.toBeUndefined()
    expect(errors.map((e) => e.code)).toEqual(['ERR_HUB_BROKER_LISTENER_FAILED'])
    expect(errors[0]!.cause).toBeInstanceOf(TypeError)
  })

  it('ignores listener errors when no onError is given', async () => {
    const broker = new MemoryBroker()
    const received: string[] = []
    await broker.subscribe(() => {
      throw new Error('ignored')
    })
    await broker.subscribe((m) => received.push(m.position.offset))
    await broker.publish(sampleMessage(1))
    expect(received).toEqual(['1'])
  })
})
