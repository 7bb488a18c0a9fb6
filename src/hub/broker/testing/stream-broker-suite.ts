import { describe, expect, it, vi } from 'vitest'
import type { HubError } from '../../errors.js'
import type { HistoryStore } from '../../history/history-store.js'
import { sampleUpdate } from '../../history/testing/history-suite.js'
import type { TcpProxy } from '../../redis/testing/tcp-proxy.js'
import type { StreamPosition } from '../../stream-position.js'
import type { HubMessage } from '../../update.js'
import type { Broker } from '../broker.js'
import { sampleMessage } from './broker-suite.js'
import { deliveryRecorder } from './delivery-recorder.js'

/** How the suite asks for a stream broker. */
export interface StreamBrokerOpenOptions {
  /** Connect through this proxy, and reconnect at once after it breaks the connection; without it, connect directly. */
  readonly through?: TcpProxy
  /**
   * Connect to a port where nothing listens, and give up on a request after a short timeout (a few hundred
   * milliseconds), without retrying the connection.
   */
  readonly unreachable?: boolean
  /** Forward published messages to this bus (channel, subject), for nodes on the pub/sub broker; without it, none. */
  readonly copyTo?: string
  /** How often to read the store, in milliseconds; without it, the engine's default. */
  readonly pollMs?: number
  /** Must receive the engine's errors (map it onto the engine's `onError` option). */
  readonly onError?: (error: HubError) => void
}

/**
 * How the suite reaches one engine. Every resource it opens must be closed, and every store it names deleted, by the
 * engine's test file after each test.
 */
export interface StreamBrokerEngine {
  /** Starts a TCP proxy in front of the engine's server. */
  proxy(): Promise<TcpProxy>
  /** A history store (key prefix, stream) no other test uses. */
  storeName(): string
  /** A bus (channel, subject) no other test uses. */
  busName(): string
  /** Opens a history on `store`, bounded to `maxEntries` when given. */
  history(store: string, maxEntries?: number): HistoryStore
  /** Opens a stream broker that delivers what `store` holds. */
  broker(store: string, options?: StreamBrokerOpenOptions): Broker
  /** Opens the engine's pub/sub broker on `bus`, as a node that does not read the store would. */
  pubsubBroker(bus: string): Broker
  /**
   * Deletes `store`, as an operator would, and resolves with a history on which the next append recreates it, as
   * another node would.
   */
  recreate(store: string, history: HistoryStore): Promise<HistoryStore>
  /**
   * How often a broker started before its store exists reads it, when the engine learns of a new store only by
   * reading; without it, the engine's default, as it learns of a new store without reading.
   */
  readonly pollMsBeforeStoreExists?: number
}

/**
 * Registers the tests every broker that delivers from a history store (`RedisStreamBroker`, `NatsStreamBroker`) must
 * pass beyond `brokerConformance`: history order, where a subscription starts, the copies for pub/sub nodes, and what
 * it reports after its connection broke or its store was discarded.
 *
 * @example
 * ```ts
 * if (hasRedis) streamBrokerConformance('RedisStreamBroker', redisStreams)
 * ```
 */
export function streamBrokerConformance(name: string, engine: StreamBrokerEngine): void {
  describe(`Stream broker conformance: ${name}`, () => {
    it('delivers in history order, whatever order the publishing nodes reach the broker in', async () => {
      const store = engine.storeName()
      const slowNode = engine.history(store)
      const fastNode = engine.history(store)
      const { received, listen } = deliveryRecorder()
      await listen(engine.broker(store))
      // The slow node appends first and never publishes; the fast node appends and publishes after it.
      const slow = { update: sampleUpdate(1), position: await slowNode.append(sampleUpdate(1)) }
      const fastUpdate = sampleUpdate(2)
      const fast = { update: fastUpdate, position: await fastNode.append(fastUpdate) }
      await engine.broker(store).publish(fast)
      await vi.waitFor(() => expect(received).toHaveLength(2))
      expect(received.map((m) => m.position)).toEqual([slow.position, fast.position])
      expect(received.map((m) => m.update)).toStrictEqual([slow.update, fast.update])
      expect(Object.isFrozen(received[0])).toBe(true)
    })

    it('starts after the newest entry when subscribed, and before the store exists takes its first entries', async () => {
      const store = engine.storeName()
      const history = engine.history(store)
      await history.append(sampleUpdate(1))
      const existing = deliveryRecorder()
      await existing.listen(engine.broker(store))
      const later = engine.storeName()
      const fresh = deliveryRecorder()
      const pollMs = engine.pollMsBeforeStoreExists
      await fresh.listen(engine.broker(later, pollMs === undefined ? {} : { pollMs }))
      const second = await history.append(sampleUpdate(2))
      const first = await engine.history(later).append(sampleUpdate(3))
      await vi.waitFor(() => expect(existing.received.map((m) => m.position)).toEqual([second]))
      await vi.waitFor(() => expect(fresh.received.map((m) => m.position)).toEqual([first]))
      expect([...existing.missed, ...fresh.missed]).toEqual([])
    })

    it('forwards published messages to its copy bus in publish order, for nodes on the pub/sub broker', async () => {
      const bus = engine.busName()
      const pubsub = engine.pubsubBroker(bus)
      const received: HubMessage[] = []
      await pubsub.subscribe((message) => received.push(message))
      const messages = [1, 2, 3].map((n) => sampleMessage(n))
      const forwarding = engine.broker(engine.storeName(), { copyTo: bus })
      await Promise.all(messages.map((message) => forwarding.publish(message)))
      await vi.waitFor(() => expect(received).toStrictEqual(messages))
    })

    it('resolves publish without waiting for the copy, reports a copy the server never acknowledged, and close() waits for it', async () => {
      const errors: HubError[] = []
      const unreachable = engine.broker(engine.storeName(), {
        unreachable: true,
        copyTo: engine.busName(),
        onError: (error) => errors.push(error),
      })
      const message = sampleMessage(1)
      // Awaiting the copy, this would reject after the request timeout.
      await expect(unreachable.publish(message)).resolves.toBeUndefined()
      const copyErrors = (): HubError[] => errors.filter((error) => error.message.includes(`copy of update ${message.update.id}`))
      expect(copyErrors()).toEqual([])
      await unreachable.close()
      expect(copyErrors()).toMatchObject([{ code: 'ERR_HUB_BROKER_UNAVAILABLE' }])
    })

    it('resolves publish at once without a copy bus, and rejects a message that breaks the contract', async () => {
      const idle = engine.broker(engine.storeName(), { unreachable: true })
      await expect(idle.publish(sampleMessage(1))).resolves.toBeUndefined()
      await expect(idle.publish({ ...sampleMessage(2), position: { epoch: 'e', offset: '01' } })).rejects.toMatchObject({
        code: 'ERR_HUB_BROKER_MESSAGE_INVALID',
      })
    })

    it('fails subscribe with ERR_HUB_BROKER_UNAVAILABLE when the engine does not answer in time', async () => {
      const unreachable = engine.broker(engine.storeName(), { unreachable: true })
      await expect(unreachable.subscribe(() => {})).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_UNAVAILABLE' })
    })

    it('goes on from the last entry it read after its connection broke, missing nothing and calling no onMissed', async () => {
      const store = engine.storeName()
      const history = engine.history(store)
      const cut = await engine.proxy()
      const errors: HubError[] = []
      const { received, missed, listen } = deliveryRecorder()
      await listen(engine.broker(store, { through: cut, pollMs: 200, onError: (e) => errors.push(e) }))
      const positions = [await history.append(sampleUpdate(1))]
      await vi.waitFor(() => expect(received).toHaveLength(1))
      cut.down()
      for (let n = 2; n <= 20; n++) positions.push(await history.append(sampleUpdate(n)))
      await vi.waitFor(() => expect(errors.map((e) => e.code)).toContain('ERR_HUB_BROKER_UNAVAILABLE'), { timeout: 10_000 })
      cut.up()
      await vi.waitFor(() => expect(received.map((m) => m.position)).toEqual(positions), { timeout: 10_000 })
      expect(missed).toEqual([])
    })

    it('calls onMissed before the next message when entries after the last one read were discarded meanwhile', async () => {
      const store = engine.storeName()
      const history = engine.history(store, 5)
      const cut = await engine.proxy()
      const { received, missed, listen } = deliveryRecorder()
      const calls: string[] = []
      const tailing = engine.broker(store, { through: cut, pollMs: 200 })
      await listen(tailing)
      await tailing.subscribe((message) => calls.push(`message ${message.position.offset}`), { onMissed: () => calls.push('missed') })
      const first = await history.append(sampleUpdate(0))
      await vi.waitFor(() => expect(received).toHaveLength(1))
      cut.down()
      const positions: StreamPosition[] = []
      for (let n = 1; n <= 20; n++) positions.push(await history.append(sampleUpdate(n)))
      cut.up()
      await vi.waitFor(() => expect(received).toHaveLength(6), { timeout: 10_000 })
      expect(missed).toHaveLength(1)
      expect(missed[0]).toMatchObject({ reason: 'reconnect' })
      expect(received.slice(1).map((m) => m.position)).toEqual(positions.slice(-5))
      expect(calls).toEqual([`message ${first.offset}`, 'missed', ...positions.slice(-5).map((p) => `message ${p.offset}`)])
    })

    it('calls onMissed when the store was recreated (a new epoch), then delivers the new epoch', async () => {
      const store = engine.storeName()
      const history = engine.history(store)
      const { received, missed, listen } = deliveryRecorder()
      await listen(engine.broker(store, { pollMs: 100 }))
      const old = await history.append(sampleUpdate(1))
      await vi.waitFor(() => expect(received).toHaveLength(1))
      const renewed = await (await engine.recreate(store, history)).append(sampleUpdate(2))
      expect(renewed.epoch).not.toBe(old.epoch)
      await vi.waitFor(() => expect(received.map((m) => m.position)).toEqual([old, renewed]), { timeout: 10_000 })
      expect(missed).toHaveLength(1)
    })
  })
}
