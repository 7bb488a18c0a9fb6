import { afterEach, describe, expect, it, vi } from 'vitest'
import { HubError } from '../errors.js'
import type { HubMessage } from '../update.js'
import type { MissedMessages } from './broker.js'
import { SubscriptionSet } from './subscription-set.js'
import { sampleMessage } from './testing/broker-suite.js'

function collect(): { set: SubscriptionSet; errors: HubError[] } {
  const errors: HubError[] = []
  return { set: new SubscriptionSet('TestBroker', (error) => errors.push(error)), errors }
}

describe('SubscriptionSet', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('rejects an onError that is not a function with ERR_HUB_INVALID_OPTION, naming the owner', () => {
    expect(() => new SubscriptionSet('TestBroker', 'log' as unknown as () => void)).toThrow(
      expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION', message: 'TestBroker: onError must be a function, not string' }),
    )
    expect(() => new SubscriptionSet('TestBroker', undefined)).not.toThrow()
  })

  it('checks the listener and onMissed of subscribe, and returns onMissed', () => {
    const { set } = collect()
    expect(() => set.check('listener', {})).toThrow(
      expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION', message: 'TestBroker: a listener must be a function, not string' }),
    )
    expect(() => set.check(() => undefined, { onMissed: 42 as unknown as () => void })).toThrow(
      expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION', message: 'TestBroker: onMissed must be a function, not number' }),
    )
    const onMissed = (): void => undefined
    expect(set.check(() => undefined, { onMissed })).toBe(onMissed)
    expect(set.check(() => undefined, {})).toBeUndefined()
  })

  it('delivers one message object to every subscription, in subscription order, once per subscription', () => {
    const { set } = collect()
    const calls: string[] = []
    const seen: HubMessage[] = []
    const listener = (message: HubMessage): void => {
      calls.push('a')
      seen.push(message)
    }
    set.add(listener, undefined)
    set.add((message) => (calls.push('b'), seen.push(message)), undefined)
    set.add(listener, undefined)
    expect(set.size).toBe(3)
    const message = sampleMessage(1)
    set.deliver(message)
    expect(calls).toEqual(['a', 'b', 'a'])
    for (const each of seen) expect(each).toBe(message)
  })

  it('reports a listener that throws or rejects as ERR_HUB_BROKER_LISTENER_FAILED and goes on delivering', async () => {
    const { set, errors } = collect()
    const thrown = new Error('boom')
    const received: string[] = []
    set.add(() => {
      throw thrown
    }, undefined)
    // An async listener where a void one is expected: the very mistake that must be reported.
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    set.add(() => Promise.reject(new Error('later')), undefined)
    set.add((message) => void received.push(message.position.offset), undefined)
    set.deliver(sampleMessage(1))
    set.deliver(sampleMessage(2))
    expect(received).toEqual(['1', '2'])
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(errors).toHaveLength(4)
    for (const error of errors) {
      expect(error).toBeInstanceOf(HubError)
      expect(error.code).toBe('ERR_HUB_BROKER_LISTENER_FAILED')
    }
    expect(errors[0]?.cause).toBe(thrown)
    expect(errors[0]?.message).toBe('a broker listener failed: boom')
    expect(errors.map((error) => error.message)).toContain('a broker listener failed: later')
  })

  it('stops delivering to a subscription once unsubscribed; unsubscribing again does nothing', async () => {
    const { set } = collect()
    const received: string[] = []
    const unsubscribe = set.add((message) => void received.push(message.position.offset), undefined)
    set.deliver(sampleMessage(1))
    await unsubscribe()
    await unsubscribe()
    set.deliver(sampleMessage(2))
    expect(received).toEqual(['1'])
    expect(set.size).toBe(0)
  })

  it('skips a subscription that an earlier listener ended during the same delivery', () => {
    const { set } = collect()
    const received: string[] = []
    let unsubscribeSecond: () => Promise<void> = () => Promise.resolve()
    set.add(() => void unsubscribeSecond(), undefined)
    unsubscribeSecond = set.add(() => void received.push('second'), undefined)
    set.add(() => void received.push('third'), undefined)
    set.deliver(sampleMessage(1))
    expect(received).toEqual(['third'])
  })

  it('does not deliver a message to a subscription added during its delivery', () => {
    const { set } = collect()
    const received: string[] = []
    set.add(() => {
      set.add(() => void received.push('late'), undefined)
    }, undefined)
    set.deliver(sampleMessage(1))
    expect(received).toEqual([])
  })

  it('calls onMissed once per mark, dated by the first mark, with a frozen event', () => {
    const { set } = collect()
    const events: MissedMessages[] = []
    set.add(() => undefined, (event) => events.push(event))
    set.add(() => undefined, undefined)
    set.notifyMissed()
    expect(events).toEqual([])
    expect(set.missedPending).toBe(false)
    set.markMissed(1_000)
    set.markMissed(2_000)
    expect(set.missedPending).toBe(true)
    set.notifyMissed()
    set.notifyMissed()
    expect(events).toEqual([{ reason: 'reconnect', disconnectedAt: 1_000 }])
    expect(Object.isFrozen(events[0])).toBe(true)
    expect(set.missedPending).toBe(false)
    set.markMissed(3_000)
    set.notifyMissed()
    expect(events.map((event) => event.disconnectedAt)).toEqual([1_000, 3_000])
  })

  it('reports an onMissed that throws as ERR_HUB_BROKER_LISTENER_FAILED and still calls the others', () => {
    const { set, errors } = collect()
    const called: string[] = []
    set.add(
      () => undefined,
      () => {
        throw new Error('no resync')
      },
    )
    set.add(
      () => undefined,
      () => void called.push('second'),
    )
    set.markMissed(1)
    set.notifyMissed()
    expect(called).toEqual(['second'])
    expect(errors.map((error) => [error.code, error.message])).toEqual([['ERR_HUB_BROKER_LISTENER_FAILED', 'a broker listener failed: no resync']])
  })

  it('ends every subscription on close: nothing more is delivered or notified', async () => {
    const { set } = collect()
    const received: string[] = []
    const unsubscribe = set.add(
      (message) => void received.push(message.position.offset),
      () => void received.push('missed'),
    )
    set.markMissed(1)
    set.close()
    expect(set.size).toBe(0)
    set.deliver(sampleMessage(1))
    set.notifyMissed()
    await unsubscribe()
    expect(received).toEqual([])
  })

  it('passes reported errors to onError, and rethrows an error of onError itself from a microtask', () => {
    const reporterError = new Error('reporter broke')
    const set = new SubscriptionSet('TestBroker', () => {
      throw reporterError
    })
    const queued: (() => void)[] = []
    vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) => void queued.push(task))
    expect(() => set.report(new HubError('ERR_HUB_BROKER_UNAVAILABLE', 'down'))).not.toThrow()
    expect(queued).toHaveLength(1)
    expect(() => queued[0]?.()).toThrow(reporterError)
  })
})
