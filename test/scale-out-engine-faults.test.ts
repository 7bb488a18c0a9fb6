import { randomUUID } from 'node:crypto'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt } from './cli-process.js'
import type { EventStreamClient } from './helpers/event-stream-client.js'
import {
  checkDelivery,
  holdEngine,
  EXACTLY_ONCE_IN_ORDER,
  gapEvents,
  HubCluster,
  publisherToken,
  publishUpdate,
  receivedIds,
  scaleOutEngines,
  StreamSet,
  type PublishResult,
} from './helpers/hub-cluster.js'
import { sleep, waitFor } from './helpers/wait-for.js'
import type { TcpProxy } from '../src/hub/redis/testing/tcp-proxy.js'

// The connection between a hub node and its engine is cut while updates are published. The shared servers cannot be
// restarted here, so a TCP proxy sits between one node and the engine: `cut()` drops its connections (the node
// reconnects at once), `down()` keeps the engine unreachable until `up()`.

const ENGINES = await scaleOutEngines()
let token: string

beforeAll(async () => {
  await ensureBuilt()
  token = await publisherToken()
}, 180_000)

/** What a node logs when it lost the connection it publishes broker messages on (Redis: one of two; NATS: its one). */
const BROKER_PUBLISHER_LOST = /Broker: lost the (publisher )?connection to (Redis|NATS)/

/**
 * Takes the broker behind `proxy` down and waits until `node` saw the connection it publishes on close. Publishing
 * earlier would write to a socket that breaks under it: that publish was not acknowledged, and is answered 503 (it may
 * or may not have reached the broker).
 */
async function takeBrokerDown(proxy: TcpProxy, node: { readonly stderr: string }): Promise<void> {
  proxy.down()
  await waitFor(() => BROKER_PUBLISHER_LOST.test(node.stderr), 'the node to see its broker connection closed')
}

/** Waits until `stream` received the update `id`. */
function waitForId(stream: EventStreamClient, id: string, timeoutMs = 20_000): Promise<void> {
  return stream.waitFor(() => receivedIds(stream).includes(id), `update ${id}`, timeoutMs)
}

/** An update id of this run. */
function newId(name: string): string {
  return `urn:herald-test:${randomUUID()}:${name}`
}

/**
 * Waits until the update `id` is in the shared history, by resuming on `hubUrl` after `afterId` until the replay
 * brings it (its broker message may still be on its way).
 */
async function waitUntilStored(streams: StreamSet, hubUrl: string, topic: string, afterId: string, id: string): Promise<void> {
  const deadline = Date.now() + 5_000
  for (;;) {
    const probe = await streams.open(hubUrl, [topic], afterId)
    try {
      await probe.waitFor(() => receivedIds(probe).includes(id), `update ${id} in history`, 250)
      return
    } catch (error) {
      if (Date.now() > deadline) throw error
    } finally {
      probe.close()
    }
  }
}

/**
 * After an outage of `stream`'s node: publishes markers on `hubUrl` until `stream` receives one (the node is back),
 * and returns their ids in publishing order.
 */
async function publishUntilReceived(hubUrl: string, topic: string, stream: EventStreamClient): Promise<string[]> {
  const markers: string[] = []
  const deadline = Date.now() + 15_000
  for (;;) {
    const result = await publishUpdate(hubUrl, { token, topic, data: `marker ${markers.length}` })
    expect(result.status).toBe(200)
    markers.push(result.body)
    try {
      await stream.waitFor(() => receivedIds(stream).includes(result.body), 'a marker', 250)
      return markers
    } catch (error) {
      if (Date.now() > deadline) throw error
    }
  }
}

function duplicates(ids: readonly string[]): string[] {
  const seen = new Set<string>()
  return ids.filter((id) => seen.has(id) || (seen.add(id), false))
}

describe.each(ENGINES)('engine connection faults on $name', (engine) => {
  describe.skipIf(!engine.available)('with the engine', () => {
    const cluster = new HubCluster(engine)
    const streams = new StreamSet()

    holdEngine(engine)
    afterEach(async () => {
      streams.closeAll()
      await cluster.stopAll()
      await engine.reset()
    })

    it('never acknowledges an update it then loses when the connection of a publishing node is cut, and subscribers on both nodes get every acknowledged update', async () => {
      const proxy = await cluster.proxy()
      const [direct, proxied] = await Promise.all([cluster.start(), cluster.start({ history: engine.urlThrough(proxy.port), broker: engine.urlThrough(proxy.port) })])
      const topic = `https://herald.test/scale-out/${randomUUID()}/orders`
      const onDirect = await streams.open(direct.hubUrl, [topic])
      const onProxied = await streams.open(proxied.hubUrl, [topic])

      const results = new Map<string, PublishResult>()
      const acknowledged = { direct: [] as string[], proxied: [] as string[] }
      // Each publisher goes on until 60 of its updates were acknowledged; after a failure it waits a little and
      // publishes the next update (a retry would reuse the id, and a rejected update may have been stored).
      const publishLoop = async (name: 'direct' | 'proxied', hubUrl: string, onAcknowledged: (count: number) => void): Promise<void> => {
        for (let i = 0; acknowledged[name].length < 60 && i < 200; i++) {
          const id = newId(`${name}-${i}`)
          const result = await publishUpdate(hubUrl, { token, topic, data: `${name} ${i}`, id })
          results.set(id, result)
          if (result.status === 200) {
            acknowledged[name].push(id)
            onAcknowledged(acknowledged[name].length)
          } else {
            await sleep(100)
          }
        }
      }
      // The proxied node's connections are cut twice, then the engine stays unreachable for 1.5 s: the first cut right
      // after one of its publishes was answered, the others when the other publisher gets that far, which lands
      // anywhere in the proxied node's publishes, in flight or not.
      const cutBetween = (count: number): void => {
        if (count === 15) proxy.cut()
      }
      let outageOver: Promise<void> = Promise.resolve()
      const cutAnywhere = (count: number): void => {
        if (count === 30) proxy.cut()
        if (count === 45) {
          proxy.down()
          outageOver = sleep(1_500).then(() => proxy.up())
        }
      }
      await Promise.all([publishLoop('direct', direct.hubUrl, cutAnywhere), publishLoop('proxied', proxied.hubUrl, cutBetween)])
      // The proxied node may have finished its share before the outage: the checks below start once it is over.
      await outageOver
      const last = newId('last')
      expect((await publishUpdate(direct.hubUrl, { token, topic, data: 'last', id: last })).status).toBe(200)

      // Each publish either succeeded with its id, or failed with an error status and a code.
      for (const [id, result] of results) {
        if (result.status === 200) expect(result.body).toBe(id)
        else {
          expect(result.status, `${id}: ${result.error?.message ?? result.body}`).toBeGreaterThanOrEqual(400)
          expect(result.contentType).toBe('application/problem+json')
          expect(result.code).toMatch(/^ERR_HUB_/)
        }
      }
      expect(acknowledged.direct).toHaveLength(60)
      expect(acknowledged.proxied).toHaveLength(60)
      // The proxied node did lose its engine connections (it logs each outage once).
      expect(proxied.stderr).toMatch(/ERR_HUB_(BROKER|HISTORY)_UNAVAILABLE/)

      // Subscribers on both nodes get every acknowledged update once, each publisher's in order. A rejected update
      // may have been stored (the answer was lost with the connection): it may arrive too, once.
      const onEither = await streams.open(proxied.hubUrl, [topic], 'earliest')
      const subscribers = { 'on the direct node': onDirect, 'on the proxied node': onProxied, 'replaying history': onEither }
      await Promise.all(Object.values(subscribers).map((stream) => waitForId(stream, last)))
      const outcome = Object.entries(subscribers).map(([where, stream]) => {
        const ids = receivedIds(stream)
        const inOrder = (own: string[]): boolean => [...new Set(ids.filter((id) => own.includes(id)))].join() === own.join()
        return {
          where,
          duplicates: duplicates(ids),
          missing: [...acknowledged.direct, ...acknowledged.proxied].filter((id) => !ids.includes(id)),
          neverPublished: ids.filter((id) => !results.has(id) && id !== last),
          directInOrder: inOrder(acknowledged.direct),
          proxiedInOrder: inOrder(acknowledged.proxied),
          gaps: gapEvents(stream),
        }
      })
      const clean = { duplicates: [], missing: [], neverPublished: [], directInOrder: true, proxiedInOrder: true, gaps: [] }
      expect(outcome, `proxied node's log:\n${proxied.stderr}`).toEqual(Object.keys(subscribers).map((where) => ({ where, ...clean })))
    }, 60_000)

    it('delivers the updates its broker missed even when history was unreachable as the broker came back', async () => {
      const [historyProxy, brokerProxy] = await Promise.all([cluster.proxy(), cluster.proxy()])
      const [publisher, subscriberNode] = await Promise.all([
        cluster.start(),
        cluster.start({ history: engine.urlThrough(historyProxy.port), broker: engine.urlThrough(brokerProxy.port) }),
      ])
      const topic = `https://herald.test/scale-out/${randomUUID()}/history-down`
      const stream = await streams.open(subscriberNode.hubUrl, [topic])
      const before = await publishUpdate(publisher.hubUrl, { token, topic, data: 'before' })
      await waitForId(stream, before.body)
      historyProxy.down()
      brokerProxy.down()
      const during = await publishUpdate(publisher.hubUrl, { token, topic, data: 'during' })
      expect(during.status).toBe(200)
      // The broker comes back first: its re-read of history fails (at once on Redis, after the 5 s request timeout on
      // NATS, which waits for its connection), and only then does history come back. Today's hub logs that failure;
      // one that retries instead is given 9 s before history comes back.
      brokerProxy.up()
      await waitFor(() => subscriberNode.stderr.includes('could not read history after a broker reconnect'), 'the failed re-read', 9_000).catch(() => undefined)
      historyProxy.up()
      const markers = await publishUntilReceived(publisher.hubUrl, topic, stream)
      // Every acknowledged update once, in order; or a herald-gap event that says some are missing, and no repeats.
      const delivery = checkDelivery(receivedIds(stream), [before.body, during.body, ...markers])
      if (gapEvents(stream).length === 0) expect(delivery).toEqual(EXACTLY_ONCE_IN_ORDER)
      else expect(delivery.duplicates).toEqual([])
    }, 30_000)

    // After a broker reconnect, recovery reads history from the earliest of the node's last deliveries (not after the
    // last one), so it finds an older update still on its way from a slow node to a pub/sub broker.
    it('delivers an update of a node slow to reach the broker to a node whose broker connection dropped meanwhile', async () => {
      const [slowBroker, subscriberBroker] = await Promise.all([cluster.proxy(), cluster.proxy()])
      const [slowNode, fastNode, subscriberNode] = await Promise.all([
        cluster.start({ broker: engine.urlThrough(slowBroker.port) }),
        cluster.start(),
        cluster.start({ broker: engine.urlThrough(subscriberBroker.port) }),
      ])
      const topic = `https://herald.test/scale-out/${randomUUID()}/slow-and-down`
      const stream = await streams.open(subscriberNode.hubUrl, [topic])
      expect((await publishUpdate(slowNode.hubUrl, { token, topic, data: 'warm-up' })).status).toBe(200)
      const first = await publishUpdate(fastNode.hubUrl, { token, topic, data: 'first' })
      await waitForId(stream, first.body)
      // The slow node stores `slow`; its broker publish waits. The fast node stores and delivers `fast` after it.
      await takeBrokerDown(slowBroker, slowNode)
      const slowId = newId('slow')
      const slow = publishUpdate(slowNode.hubUrl, { token, topic, data: 'slow', id: slowId })
      await waitUntilStored(streams, fastNode.hubUrl, topic, first.body, slowId)
      const fast = await publishUpdate(fastNode.hubUrl, { token, topic, data: 'fast' })
      await waitForId(stream, fast.body)
      // The subscriber node's broker connection drops just as `slow` reaches the broker.
      subscriberBroker.down()
      slowBroker.up()
      const slowResult = await slow
      expect(slowResult.status, slowResult.body).toBe(200)
      subscriberBroker.up()
      await publishUntilReceived(fastNode.hubUrl, topic, stream)
      expect(receivedIds(stream).filter((id) => id === slowId)).toEqual([slowId])
    }, 30_000)

    it('answers 503 with ERR_HUB_BROKER_UNAVAILABLE when the update is stored but the broker stays unreachable', async () => {
      const proxy = await cluster.proxy()
      const node = await cluster.start({ broker: engine.urlThrough(proxy.port) })
      const topic = `https://herald.test/scale-out/${randomUUID()}/status`
      expect((await publishUpdate(node.hubUrl, { token, topic, data: 'before' })).status).toBe(200)
      proxy.down()
      const failed = await publishUpdate(node.hubUrl, { token, topic, data: 'during' })
      proxy.up()
      // docs/errors.md: ERR_HUB_BROKER_UNAVAILABLE maps to 503 ("Retry later").
      expect({ status: failed.status, code: failed.code }).toEqual({ status: 503, code: 'ERR_HUB_BROKER_UNAVAILABLE' })
    }, 30_000)

    it('recovers the updates published while its broker connection was down, on a node that had delivered none yet', async () => {
      const proxy = await cluster.proxy()
      const [publisher, subscriberNode] = await Promise.all([cluster.start(), cluster.start({ broker: engine.urlThrough(proxy.port) })])
      const topic = `https://herald.test/scale-out/${randomUUID()}/fresh`
      const stream = await streams.open(subscriberNode.hubUrl, [topic])
      proxy.down()
      const ids: string[] = []
      for (let i = 0; i < 5; i++) {
        const result = await publishUpdate(publisher.hubUrl, { token, topic, data: `during ${i}` })
        expect(result.status).toBe(200)
        ids.push(result.body)
      }
      proxy.up()
      const markers = await publishUntilReceived(publisher.hubUrl, topic, stream)
      expect(receivedIds(stream)).toEqual([...ids, ...markers])
    }, 30_000)

    it('sends herald-gap to its subscribers when its broker outage outlasted the history', async () => {
      const proxy = await cluster.proxy()
      const history = ['--history-size', '5']
      const [publisher, subscriberNode] = await Promise.all([cluster.start({ args: history }), cluster.start({ broker: engine.urlThrough(proxy.port), args: history })])
      const topic = `https://herald.test/scale-out/${randomUUID()}/long-outage`
      const stream = await streams.open(subscriberNode.hubUrl, [topic])
      const first = await publishUpdate(publisher.hubUrl, { token, topic, data: 'before' })
      await waitForId(stream, first.body)
      proxy.down()
      const during: string[] = []
      for (let i = 0; i < 20; i++) during.push((await publishUpdate(publisher.hubUrl, { token, topic, data: `during ${i}` })).body)
      proxy.up()
      await publishUntilReceived(publisher.hubUrl, topic, stream)
      const ids = receivedIds(stream)
      expect(duplicates(ids)).toEqual([])
      const missed = during.filter((id) => !ids.includes(id))
      // Updates evicted before the node read them back cannot be delivered; the subscriber must be told.
      expect(missed.length).toBeGreaterThan(0)
      expect(gapEvents(stream)).toHaveLength(1)
    }, 30_000)

    it('does not deliver twice an update a resuming subscriber read from history while the publishing node was still sending it to the broker', async () => {
      const proxy = await cluster.proxy()
      const [publisher, other] = await Promise.all([cluster.start({ broker: engine.urlThrough(proxy.port) }), cluster.start()])
      const topic = `https://herald.test/scale-out/${randomUUID()}/slow-broker`
      const before = await publishUpdate(publisher.hubUrl, { token, topic, data: 'before' })
      expect(before.status).toBe(200)
      // The update is appended to history at once; its broker publish waits for the connection.
      await takeBrokerDown(proxy, publisher)
      const slowId = newId('slow')
      const slow = publishUpdate(publisher.hubUrl, { token, topic, data: 'slow', id: slowId })
      await waitUntilStored(streams, other.hubUrl, topic, before.body, slowId)
      const resumed = await streams.open(other.hubUrl, [topic], before.body)
      await waitForId(resumed, slowId, 5_000)
      proxy.up()
      const slowResult = await slow
      expect(slowResult.status, slowResult.body).toBe(200)
      const last = await publishUpdate(other.hubUrl, { token, topic, data: 'after' })
      await waitForId(resumed, last.body)
      expect(receivedIds(resumed)).toEqual([slowId, last.body])
    }, 30_000)

    // A node whose broker and history are the same server tails the history stream (RedisStreamBroker,
    // NatsStreamBroker), so live order is history order and this passes.
    it('gives a subscriber that resumes after the newest update it saw every acknowledged update, when two nodes publish and one is slow to reach the broker', async () => {
      const proxy = await cluster.proxy()
      const [slowNode, fastNode, subscriberNode] = await Promise.all([cluster.start({ broker: engine.urlThrough(proxy.port) }), cluster.start(), cluster.start()])
      const topic = `https://herald.test/scale-out/${randomUUID()}/two-publishers`
      // Both nodes have published before (their broker connections are established).
      expect((await publishUpdate(slowNode.hubUrl, { token, topic, data: 'warm-up' })).status).toBe(200)
      const first = await publishUpdate(fastNode.hubUrl, { token, topic, data: 'first' })
      const subscriber = await streams.open(subscriberNode.hubUrl, [topic], first.body)
      await takeBrokerDown(proxy, slowNode)
      // The slow node stores its update first (history order: slow, fast) but reaches the broker after the fast one.
      const slowId = newId('slow')
      const slow = publishUpdate(slowNode.hubUrl, { token, topic, data: 'slow', id: slowId })
      await waitUntilStored(streams, fastNode.hubUrl, topic, first.body, slowId)
      const fast = await publishUpdate(fastNode.hubUrl, { token, topic, data: 'fast' })
      await waitForId(subscriber, fast.body)
      // The subscriber leaves now and comes back with the id of the newest update it received.
      subscriber.close()
      proxy.up()
      const slowResult = await slow
      expect(slowResult.status, slowResult.body).toBe(200)
      const resumed = await streams.open(subscriberNode.hubUrl, [topic], receivedIds(subscriber).at(-1))
      const last = await publishUpdate(fastNode.hubUrl, { token, topic, data: 'last' })
      await waitForId(resumed, last.body)
      const received = [...receivedIds(subscriber), ...receivedIds(resumed)]
      expect(received.filter((id) => id === slowId)).toEqual([slowId])
    }, 30_000)
  })
})
