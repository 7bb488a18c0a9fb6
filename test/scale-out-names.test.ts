import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { deleteStreams, uniqueName } from '../src/hub/nats/testing/nats-service.js'
import { uniquePrefix } from '../src/hub/redis/testing/redis-service.js'
import { ensureBuilt, type HeraldServer } from './cli-process.js'
import { sleep } from './helpers/wait-for.js'
import {
  checkDelivery,
  holdEngine,
  EXACTLY_ONCE_IN_ORDER,
  HubCluster,
  publisherToken,
  publishUpdate,
  receivedIds,
  scaleOutEngines,
  StreamSet,
  uniqueTopic,
  type ScaleOutEngine,
} from './helpers/hub-cluster.js'

// Three hub clusters share one Redis (database 10) or one NATS, told apart by the names in their engine URLs only:
// A gives one URL with its names as history and broker (its broker tails its history), B gives its history names to
// --history and its channel or subject to a --broker URL through a TCP proxy (another server as far as the URLs tell,
// so a pub/sub broker), C uses the default names. All publish on one topic: each cluster's subscribers get their own
// cluster's updates only, and each history holds only its own cluster's.

const ENGINES = await scaleOutEngines()
let token: string

beforeAll(async () => {
  await ensureBuilt()
  token = await publisherToken()
}, 180_000)

/** The query naming a cluster's history and broker on `engine`, and the NATS stream to delete afterwards. */
function clusterNames(engine: ScaleOutEngine, name: string): { history: string; broker: string; stream: string | undefined } {
  if (engine.name === 'Redis') {
    const keyPrefix = uniquePrefix(name)
    return { history: new URLSearchParams({ keyPrefix }).toString(), broker: new URLSearchParams({ channel: `${keyPrefix}broker` }).toString(), stream: undefined }
  }
  const stream = uniqueName(name)
  return {
    history: new URLSearchParams({ stream, subjectPrefix: `${stream}.history` }).toString(),
    broker: new URLSearchParams({ subject: `${stream}.broker` }).toString(),
    stream,
  }
}

describe.each(ENGINES)('hub clusters told apart by engine names on $name', (engine) => {
  describe.skipIf(!engine.available)('with the engine', () => {
    const cluster = new HubCluster(engine)
    const streams = new StreamSet()
    const natsStreams: string[] = []

    holdEngine(engine)
    afterEach(async () => {
      streams.closeAll()
      await cluster.stopAll()
      await deleteStreams(natsStreams.splice(0))
    })

    it('delivers and keeps each cluster\'s updates apart, with a broker that tails the history and with pub/sub', async () => {
      const a = clusterNames(engine, 'names_a')
      const b = clusterNames(engine, 'names_b')
      for (const names of [a, b]) if (names.stream !== undefined) natsStreams.push(names.stream)

      // A: one URL with every name, as history and as broker.
      const aUrl = `${engine.url}?${a.history}&${a.broker}`
      // B: the broker reaches the engine through a proxy, so its URL names another server: pub/sub.
      const proxy = await cluster.proxy()
      const bHistory = `${engine.url}?${b.history}`
      const bBroker = `${engine.urlThrough(proxy.port)}?${b.broker}`
      const [a1, a2, b1, b2, c1] = await Promise.all([
        cluster.start({ history: aUrl, broker: aUrl }),
        cluster.start({ history: aUrl, broker: aUrl }),
        cluster.start({ history: bHistory, broker: bBroker }),
        cluster.start({ history: bHistory, broker: bBroker }),
        cluster.start(),
      ])
      for (const node of [a1, a2, c1]) expect(node.stdout).toMatch(/broker: {3}\S+ \(tails the history\)/)
      for (const node of [b1, b2]) expect(node.stdout).not.toContain('(tails the history)')

      const topic = uniqueTopic('names')
      const subscribers = { a: [a1, a2], b: [b1, b2], c: [c1] }
      const live = {
        a: await Promise.all(subscribers.a.map((node) => streams.open(node.hubUrl, [topic]))),
        b: await Promise.all(subscribers.b.map((node) => streams.open(node.hubUrl, [topic]))),
        c: await Promise.all(subscribers.c.map((node) => streams.open(node.hubUrl, [topic]))),
      }

      // Round robin: one update through A's first node, B's second, C, ten times, on the same topic.
      const publishers: Record<'a' | 'b' | 'c', HeraldServer> = { a: a1, b: b2, c: c1 }
      const published: Record<'a' | 'b' | 'c', string[]> = { a: [], b: [], c: [] }
      for (let i = 0; i < 10; i++) {
        for (const key of ['a', 'b', 'c'] as const) {
          const result = await publishUpdate(publishers[key].hubUrl, { token, topic, data: `${key} ${i}` })
          expect(result.status, result.body).toBe(200)
          published[key].push(result.body)
        }
      }

      for (const key of ['a', 'b', 'c'] as const) {
        const last = published[key].at(-1)!
        for (const stream of live[key]) await stream.waitFor(() => receivedIds(stream).includes(last), `${key}'s last update`, 20_000)
      }
      // Time for another cluster's update to arrive, were it to.
      await sleep(500)
      for (const key of ['a', 'b', 'c'] as const) {
        for (const stream of live[key]) expect(checkDelivery(receivedIds(stream), published[key]), key).toEqual(EXACTLY_ONCE_IN_ORDER)
      }

      // Each history holds its own cluster's updates, in the order published.
      for (const [key, node] of [['a', a2], ['b', b1], ['c', c1]] as const) {
        const replay = await streams.open(node.hubUrl, [topic], 'earliest')
        const last = published[key].at(-1)!
        await replay.waitFor(() => receivedIds(replay).includes(last), `${key}'s history`, 20_000)
        expect(receivedIds(replay), key).toEqual(published[key])
      }
    })

    it("delivers every update once and in order in a cluster that mixes nodes tailing the history with pub/sub nodes (each publisher's order on NATS's pub/sub nodes)", async () => {
      const names = clusterNames(engine, 'names_mixed')
      if (names.stream !== undefined) natsStreams.push(names.stream)
      // T: history and broker on one URL, so the broker tails the history. P: the same history and channel (or
      // subject), the broker through a proxy, so pub/sub; what T's nodes publish reaches P only through the copies
      // for pub/sub nodes (sent by the history's append script on Redis, by the broker on NATS).
      const tUrl = `${engine.url}?${names.history}&${names.broker}`
      const proxy = await cluster.proxy()
      const [t1, t2, p1] = await Promise.all([
        cluster.start({ history: tUrl, broker: tUrl }),
        cluster.start({ history: tUrl, broker: tUrl }),
        cluster.start({ history: `${engine.url}?${names.history}`, broker: `${engine.urlThrough(proxy.port)}?${names.broker}` }),
      ])
      expect(p1.stdout).not.toContain('(tails the history)')
      const topic = uniqueTopic('mixed')
      const live = await Promise.all([t1, t2, p1].map((node) => streams.open(node.hubUrl, [topic])))
      const published: string[] = []
      const byPublisher = new Map<HeraldServer, string[]>([
        [t1, []],
        [p1, []],
      ])
      for (let i = 0; i < 10; i++) {
        for (const node of [t1, p1]) {
          const result = await publishUpdate(node.hubUrl, { token, topic, data: `mixed ${i}` })
          expect(result.status, result.body).toBe(200)
          published.push(result.body)
          byPublisher.get(node)!.push(result.body)
        }
      }
      const last = published.at(-1)!
      for (const stream of live) await stream.waitFor(() => receivedIds(stream).includes(last), 'the last update', 20_000)
      // Time for a second copy of an update to arrive, were one sent.
      await sleep(500)
      const [tStream1, tStream2, pStream] = live
      // The tailing nodes deliver in history order.
      for (const stream of [tStream1!, tStream2!]) expect(checkDelivery(receivedIds(stream), published)).toEqual(EXACTLY_ONCE_IN_ORDER)
      const pReceived = receivedIds(pStream!)
      if (engine.name === 'Redis') {
        // The history's append script publishes the copy for pub/sub nodes before it answers: history order too.
        expect(checkDelivery(pReceived, published)).toEqual(EXACTLY_ONCE_IN_ORDER)
      } else {
        // A tailing NATS node sends its copies without waiting for the server, and NATS orders per connection only
        // (docs/scale-out.md, "Live order across nodes with a pub/sub broker"): once each, in each publisher's order.
        expect(checkDelivery(pReceived, published)).toMatchObject({ duplicates: [], missing: [], unexpected: [] })
        for (const ids of byPublisher.values()) {
          expect(checkDelivery(pReceived.filter((id) => ids.includes(id)), ids)).toEqual(EXACTLY_ONCE_IN_ORDER)
        }
      }
    })
  })
})
