import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { HubError } from '../../errors.js'
import type { HubMessage, HubUpdate } from '../../update.js'
import type { Broker } from '../broker.js'

/** What the suite passes when it opens a broker. */
export interface BrokerSuiteOpenOptions {
  /** Must receive the engine's listener errors (map it onto the engine's `onError` option). */
  readonly onError: (error: HubError) => void
}

/** One test's backing bus (nothing for memory; a channel prefix or subject for Redis and NATS), made by the factory. */
export interface BrokerSuiteFixture {
  /**
   * Opens a broker instance. When `sharedAcrossInstances` is set, every instance opened on one fixture is on the
   * same bus (as hub nodes would be).
   */
  open(options: BrokerSuiteOpenOptions): Broker | Promise<Broker>
  /**
   * Publishes `message` on `broker` as a hub node would, and returns the message as listeners are to receive it. For
   * engines that deliver from the history rather than from `publish` (`RedisStreamBroker`, `NatsStreamBroker`): append
   * the update to the history the broker reads, then publish it with the position the history returned. It must
   * start the append before its first `await`, so that messages published without awaiting keep their call order.
   *
   * @defaultValue `broker.publish(message)`, resolving with `message`
   */
  publish?(broker: Broker, message: HubMessage): Promise<HubMessage>
  /** Removes the backing bus. Called after each test, once every broker the suite opened is closed. */
  destroy?(): void | Promise<void>
}

/** Creates a fresh fixture; called before each test. */
export type BrokerSuiteFactory = () => BrokerSuiteFixture | Promise<BrokerSuiteFixture>

/** What the engine under test supports beyond the common contract. */
export interface BrokerConformanceOptions {
  /**
   * Instances opened on one fixture share a bus: a message published on one reaches the listeners of all. Runs the
   * cross-instance tests (Redis, NATS).
   *
   * @defaultValue `false`
   */
  readonly sharedAcrossInstances?: boolean
  /**
   * How long to wait for an expected delivery before failing (a correctness bound, not a speed assertion).
   *
   * @defaultValue 5,000
   */
  readonly deliveryTimeoutMs?: number
}

let sequence = 0

/** Builds a message with a fresh id, on `topic`, positioned at `offset`. */
export function sampleMessage(offset: number, overrides: Partial<HubUpdate> = {}): HubMessage {
  sequence++
  return {
    update: { id: `urn:uuid:broker-${sequence}`, topics: ['https://example.com/t/0'], data: `#${offset}`, private: false, ...overrides },
    position: { epoch: 'broker-suite-epoch', offset: String(offset) },
  }
}

/** A listener that records what it receives. */
function recorder(): { received: HubMessage[]; listener: (message: HubMessage) => void } {
  const received: HubMessage[] = []
  return { received, listener: (message) => received.push(message) }
}

/**
 * Registers the `Broker` conformance tests for one engine. Every engine runs the same suite, so the contract in
 * `broker.ts` means the same thing everywhere.
 *
 * @example
 * ```ts
 * brokerConformance('MemoryBroker', () => ({ open: ({ onError }) => new MemoryBroker({ onError }) }))
 * ```
 */
export function brokerConformance(name: string, factory: BrokerSuiteFactory, options: BrokerConformanceOptions = {}): void {
  const { sharedAcrossInstances = false, deliveryTimeoutMs = 5_000 } = options

  describe(`Broker conformance: ${name}`, () => {
    let fixture: BrokerSuiteFixture
    let opened: Broker[] = []
    let errors: HubError[] = []

    async function open(): Promise<Broker> {
      const broker = await fixture.open({ onError: (error) => errors.push(error) })
      opened.push(broker)
      return broker
    }

    /** Publishes through the fixture; resolves with the message as listeners receive it. */
    async function publish(broker: Broker, message: HubMessage): Promise<HubMessage> {
      if (fixture.publish === undefined) {
        await broker.publish(message)
        return message
      }
      return fixture.publish(broker, message)
    }

    async function until(check: () => void): Promise<void> {
      await vi.waitFor(check, { timeout: deliveryTimeoutMs, interval: 5 })
    }

    beforeEach(async () => {
      opened = []
      errors = []
      fixture = await factory()
    })

    afterEach(async () => {
      for (const broker of opened) await broker.close()
      await fixture.destroy?.()
    })

    it('delivers a published message to a subscriber, equal to what was published', async () => {
      const broker = await open()
      const { received, listener } = recorder()
      await broker.subscribe(listener)
      const messages = [
        sampleMessage(1),
        sampleMessage(2, { topics: ['/a', '/b', 'urn:c'], private: true, type: 'changed', retry: 0 }),
        sampleMessage(3, { data: 'line 1\nline 2\r\n😀 ünï \u0000 end' }),
        sampleMessage(4, { data: '' }),
      ]
      const expected: HubMessage[] = []
      for (const message of messages) expected.push(await publish(broker, message))
      await until(() => expect(received).toHaveLength(messages.length))
      for (const [i, message] of received.entries()) {
        expect(message).toStrictEqual(expected[i])
        expect(message.update).toStrictEqual(messages[i]!.update)
        expect(Object.keys(message.update).sort()).toEqual(Object.keys(messages[i]!.update).sort())
      }
    })

    it('delivers a large payload intact', async () => {
      const broker = await open()
      const { received, listener } = recorder()
      await broker.subscribe(listener)
      const data = Array.from({ length: 256 * 1024 }, (_, i) => String.fromCharCode(32 + (i % 95))).join('')
      await publish(broker, sampleMessage(1, { data }))
      await until(() => expect(received).toHaveLength(1))
      expect(received[0]!.update.data).toBe(data)
    })

    it('keeps publish order, for messages published without awaiting, over several topics', async () => {
      const broker = await open()
      const { received, listener } = recorder()
      await broker.subscribe(listener)
      const messages = Array.from({ length: 200 }, (_, i) => sampleMessage(i + 1, { topics: [`https://example.com/t/${i % 4}`] }))
      const expected = await Promise.all(messages.map((message) => publish(broker, message)))
      await until(() => expect(received).toHaveLength(200))
      expect(received.map((m) => m.update.id)).toEqual(messages.map((m) => m.update.id))
      expect(received.map((m) => m.position)).toStrictEqual(expected.map((m) => m.position))
    })

    it('delivers every message to every subscriber', async () => {
      const broker = await open()
      const recorders = [recorder(), recorder(), recorder()]
      for (const { listener } of recorders) await broker.subscribe(listener)
      const messages = Array.from({ length: 20 }, (_, i) => sampleMessage(i + 1))
      for (const message of messages) await publish(broker, message)
      for (const { received } of recorders) {
        await until(() => expect(received).toHaveLength(20))
        expect(received.map((m) => m.update.id)).toEqual(messages.map((m) => m.update.id))
      }
    })

    it('delivers the same listener twice when it is subscribed twice, and each subscription stops on its own', async () => {
      const broker = await open()
      const { received, listener } = recorder()
      const first = await broker.subscribe(listener)
      await broker.subscribe(listener)
      const one = await publish(broker, sampleMessage(1))
      await until(() => expect(received).toHaveLength(2))
      await first()
      const two = await publish(broker, sampleMessage(2))
      await until(() => expect(received).toHaveLength(3))
      expect(received).toStrictEqual([one, one, two])
    })

    it('stops delivering to a listener once its unsubscribe resolves, and keeps delivering to the others', async () => {
      const broker = await open()
      const leaving = recorder()
      const staying = recorder()
      const unsubscribe = await broker.subscribe(leaving.listener)
      await broker.subscribe(staying.listener)
      const one = await publish(broker, sampleMessage(1))
      await until(() => expect(leaving.received).toHaveLength(1))
      await unsubscribe()
      await unsubscribe()
      await publish(broker, sampleMessage(2))
      await publish(broker, sampleMessage(3))
      // Per-publisher order: once the staying listener has message 3, message 2 has been delivered everywhere.
      await until(() => expect(staying.received).toHaveLength(3))
      expect(leaving.received).toStrictEqual([one])
    })

    it('isolates listeners: one that throws stops neither the others nor its own later deliveries', async () => {
      const broker = await open()
      const first = sampleMessage(1)
      const failing = vi.fn((message: HubMessage) => {
        if (message.update.id === first.update.id) throw new Error('listener bug')
      })
      const healthy = recorder()
      await broker.subscribe(failing)
      await broker.subscribe(healthy.listener)
      await publish(broker, first)
      await publish(broker, sampleMessage(2))
      await until(() => expect(healthy.received).toHaveLength(2))
      await until(() => expect(failing).toHaveBeenCalledTimes(2))
      await until(() => expect(errors).toHaveLength(1))
      expect(errors[0]).toBeInstanceOf(HubError)
      expect(errors[0]!.code).toBe('ERR_HUB_BROKER_LISTENER_FAILED')
      expect((errors[0]!.cause as Error).message).toBe('listener bug')
    })

    it('reports a rejected promise returned by a listener as ERR_HUB_BROKER_LISTENER_FAILED', async () => {
      const broker = await open()
      // An async listener where a void one is expected: the very mistake this test makes sure is reported.
      // eslint-disable-next-line @typescript-eslint/no-misused-promises
      await broker.subscribe(() => Promise.reject(new Error('async listener bug')))
      await publish(broker, sampleMessage(1))
      await until(() => expect(errors).toHaveLength(1))
      expect(errors[0]!.code).toBe('ERR_HUB_BROKER_LISTENER_FAILED')
      expect((errors[0]!.cause as Error).message).toBe('async listener bug')
    })

    it('keeps order for every listener when a listener publishes in response to a message', async () => {
      const broker = await open()
      const observer = recorder()
      const first = sampleMessage(1)
      const second = sampleMessage(2)
      let republished: Promise<unknown> | undefined
      await broker.subscribe((message) => {
        if (message.update.id === first.update.id) republished = publish(broker, second)
      })
      await broker.subscribe(observer.listener)
      await publish(broker, first)
      await until(() => expect(observer.received).toHaveLength(2))
      expect(observer.received.map((m) => m.update.id)).toEqual([first.update.id, second.update.id])
      // A broker may deliver a message before its publish resolved (one that reads the history): the publish must
      // still succeed, and settle before the broker closes.
      await republished
    })

    it('stops every delivery on close, rejects publish and subscribe with ERR_HUB_BROKER_CLOSED, and can close again', async () => {
      const broker = await open()
      const { received, listener } = recorder()
      await broker.subscribe(listener)
      await publish(broker, sampleMessage(1))
      await until(() => expect(received).toHaveLength(1))
      await broker.close()
      await broker.close()
      const publishError: unknown = await broker.publish(sampleMessage(2)).catch((e: unknown) => e)
      const subscribeError: unknown = await broker.subscribe(() => {}).catch((e: unknown) => e)
      expect(publishError).toBeInstanceOf(HubError)
      expect((publishError as HubError).code).toBe('ERR_HUB_BROKER_CLOSED')
      expect(subscribeError).toBeInstanceOf(HubError)
      expect((subscribeError as HubError).code).toBe('ERR_HUB_BROKER_CLOSED')
      expect(received).toHaveLength(1)
    })

    it('lets a subscription be cancelled after the broker closed', async () => {
      const broker = await open()
      const unsubscribe = await broker.subscribe(() => {})
      await broker.close()
      await expect(unsubscribe()).resolves.toBeUndefined()
    })

    describe.runIf(sharedAcrossInstances)('across instances', () => {
      it('delivers a message published on one instance to the listeners of every instance', async () => {
        const a = await open()
        const b = await open()
        const onA = recorder()
        const onB = recorder()
        await a.subscribe(onA.listener)
        await b.subscribe(onB.listener)
        const message = await publish(a, sampleMessage(1, { type: 'cross', retry: 10 }))
        await until(() => expect(onB.received).toHaveLength(1))
        await until(() => expect(onA.received).toHaveLength(1))
        expect(onB.received[0]).toStrictEqual(message)
      })

      it('keeps each publisher\'s order at the listeners of another instance', async () => {
        const a = await open()
        const b = await open()
        const onB = recorder()
        await b.subscribe(onB.listener)
        const fromA = Array.from({ length: 100 }, (_, i) => sampleMessage(i + 1, { topics: [`/a/${i % 3}`] }))
        const fromB = Array.from({ length: 100 }, (_, i) => sampleMessage(i + 1, { topics: [`/b/${i % 3}`] }))
        await Promise.all([...fromA.map((m) => publish(a, m)), ...fromB.map((m) => publish(b, m))])
        await until(() => expect(onB.received).toHaveLength(200))
        const ids = onB.received.map((m) => m.update.id)
        expect(ids.filter((id) => fromA.some((m) => m.update.id === id))).toEqual(fromA.map((m) => m.update.id))
        expect(ids.filter((id) => fromB.some((m) => m.update.id === id))).toEqual(fromB.map((m) => m.update.id))
      })
    })
  })
}
