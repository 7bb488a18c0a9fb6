import { randomUUID } from 'node:crypto'
import type { Agent } from 'node:http'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt } from './cli-process.js'
import type { EventStreamClient } from './helpers/event-stream-client.js'
import {
  holdEngine,
  HubCluster,
  publishAgent,
  publisherToken,
  publishUpdate,
  receivedIds,
  scaleOutEngines,
  StreamSet,
} from './helpers/hub-cluster.js'

// Three `herald serve` processes share one engine: subscribers on the first, the publisher on the second, a
// subscriber resuming from the middle of the run on the third.

const ENGINES = await scaleOutEngines()
let token: string

beforeAll(async () => {
  await ensureBuilt()
  token = await publisherToken()
}, 180_000)

/** Waits until `stream` received the update `id` (the run's last one), so everything before it has arrived too. */
function waitForId(stream: EventStreamClient, id: string, timeoutMs = 20_000): Promise<void> {
  return stream.waitFor(() => receivedIds(stream).includes(id), `update ${id}`, timeoutMs)
}

describe.each(ENGINES)('three hub nodes on $name', (engine) => {
  describe.skipIf(!engine.available)('with the engine', () => {
    const cluster = new HubCluster(engine)
    const streams = new StreamSet()
    const agents: Agent[] = []

    holdEngine(engine)
    afterEach(async () => {
      streams.closeAll()
      for (const agent of agents.splice(0)) agent.destroy()
      await cluster.stopAll()
    })

    it('delivers every update once and in order to subscribers on one node, published on another, and resumes on a third', async () => {
      const [first, second, third] = await Promise.all([cluster.start(), cluster.start(), cluster.start()])
      const base = `https://herald.test/scale-out/${randomUUID()}`
      const topicA = `${base}/a`
      const topicB = `${base}/b`
      const template = `${base}/{name}`
      const onlyA = await streams.open(first.hubUrl, [topicA])
      const onlyB = await streams.open(first.hubUrl, [topicB])
      const byTemplate = await streams.open(first.hubUrl, [template])
      const both = await streams.open(first.hubUrl, [topicA, topicB])

      // Update i goes to a, b, or both, in turn; the last one (300), the marker, to both.
      const topicsOf = (i: number): string[] => (i === 300 ? [topicA, topicB] : [[topicA], [topicB], [topicA, topicB]][i % 3]!)
      const indexOf = new Map<string, number>()
      const agent = publishAgent(10)
      agents.push(agent)
      const publish = async (i: number): Promise<string> => {
        const result = await publishUpdate(second.hubUrl, { token, topic: topicsOf(i), data: `update ${i}`, agent })
        expect(result.status, result.body).toBe(200)
        indexOf.set(result.body, i)
        return result.body
      }

      // 150 one after the other, then 15 waves of 10 at once; a subscriber joins the third node in the middle.
      const sequential: string[] = []
      for (let i = 0; i < 150; i++) sequential.push(await publish(i))
      const waves: string[][] = []
      let resumer: Promise<EventStreamClient> | undefined
      for (let wave = 0; wave < 15; wave++) {
        if (wave === 3) resumer = streams.open(third.hubUrl, [template], sequential[75])
        waves.push(await Promise.all(Array.from({ length: 10 }, (_, k) => publish(150 + wave * 10 + k))))
      }
      const last = await publish(300) // the marker every subscriber waits for
      const resuming = await resumer!

      // The history's own order, read back from the start on the third node.
      const everything = await streams.open(third.hubUrl, [template], 'earliest')
      await Promise.all([onlyA, onlyB, byTemplate, both, resuming, everything].map((stream) => waitForId(stream, last)))
      const order = receivedIds(everything)
      const acknowledged = [...sequential, ...waves.flat(), last]
      expect(order).toHaveLength(acknowledged.length)
      expect(new Set(order)).toEqual(new Set(acknowledged))
      // The history order agrees with the publisher's: sequential updates in turn, each wave after the one before.
      expect(order.slice(0, 150)).toEqual(sequential)
      for (let wave = 0; wave < 15; wave++) expect(new Set(order.slice(150 + wave * 10, 160 + wave * 10))).toEqual(new Set(waves[wave]))
      expect(order.at(-1)).toBe(last)

      const matching = (topic: string): string[] => order.filter((id) => topicsOf(indexOf.get(id)!).includes(topic))
      expect(receivedIds(onlyA)).toEqual(matching(topicA))
      expect(receivedIds(onlyB)).toEqual(matching(topicB))
      expect(receivedIds(byTemplate)).toEqual(order)
      expect(receivedIds(both)).toEqual(order)
      // The resumed subscriber gets what followed its id, replayed then live, once each.
      expect(resuming.headers['last-event-id']).toBe(sequential[75])
      expect(receivedIds(resuming)).toEqual(order.slice(76))
    }, 60_000)

    it('resumes a subscriber on any node after it left another, with Last-Event-ID header or lastEventID query', async () => {
      const nodes = await Promise.all([cluster.start(), cluster.start(), cluster.start()])
      const topic = `https://herald.test/scale-out/${randomUUID()}/log`
      const agent = publishAgent(4)
      agents.push(agent)
      const ids: string[] = []
      const publishOn = async (n: number, i: number): Promise<void> => {
        const result = await publishUpdate(nodes[n % 3]!.hubUrl, { token, topic, data: `line ${i}`, agent })
        expect(result.status, result.body).toBe(200)
        ids.push(result.body)
      }
      // A subscriber hops from node to node; each time it resumes from the last id it received.
      let stream = await streams.open(nodes[0].hubUrl, [topic])
      const seen: string[] = []
      for (let hop = 0; hop < 6; hop++) {
        for (let i = 0; i < 10; i++) await publishOn(hop + i, hop * 10 + i)
        await waitForId(stream, ids.at(-1)!)
        seen.push(...receivedIds(stream))
        stream.close()
        const next = nodes[(hop + 1) % 3]!
        stream = await streams.open(next.hubUrl, [topic], seen.at(-1), hop % 2 === 0 ? 'header' : 'query')
      }
      expect(seen).toEqual(ids)
    }, 60_000)
  })
})
