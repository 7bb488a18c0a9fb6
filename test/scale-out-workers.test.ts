import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt, type HeraldServer } from './cli-process.js'
import type { EventStreamClient } from './helpers/event-stream-client.js'
import {
  checkDelivery,
  childPids,
  holdEngine,
  EXACTLY_ONCE_IN_ORDER,
  HubCluster,
  publisherToken,
  publishUpdate,
  receivedIds,
  scaleOutEngines,
  StreamSet,
  uniqueTopic,
} from './helpers/hub-cluster.js'

// Two `herald serve --workers 2` servers on one engine: four hub processes. Every request opens a new connection,
// so each server's primary hands them to its two workers in turn.

const ENGINES = await scaleOutEngines()
let token: string

beforeAll(async () => {
  await ensureBuilt()
  token = await publisherToken()
}, 180_000)

interface Snapshot {
  readonly pid: number
  readonly connections: number
}

describe.each(ENGINES)('herald serve --workers 2 on $name', (engine) => {
  describe.skipIf(!engine.available)('with the engine', () => {
    const cluster = new HubCluster(engine)
    const streams = new StreamSet()

    holdEngine(engine)
    afterEach(async () => {
      streams.closeAll()
      await cluster.stopAll()
      await engine.reset()
    })

    async function startServers(demos = false): Promise<[HeraldServer, HeraldServer]> {
      const [a, b] = await Promise.all([cluster.start({ args: ['--workers', '2'], demos }), cluster.start({ args: ['--workers', '2'], demos })])
      expect(a.stdout).toContain('2 workers')
      return [a, b]
    }

    async function publish(server: HeraldServer, topic: string, data: string): Promise<string> {
      const result = await publishUpdate(server.hubUrl, { token, topic, data, agent: false })
      expect(result.status, result.body).toBe(200)
      return result.body
    }

    it('fans every update out once, in order, to subscribers on the four workers of two servers, whichever worker published it', async () => {
      const servers = await startServers(true)
      const topic = uniqueTopic('fan-out')
      const subscribers: EventStreamClient[] = []
      for (let i = 0; i < 12; i++) subscribers.push(await streams.open(servers[i % 2]!.hubUrl, [topic]))

      // Each worker's dashboard figures (published through the shared engine) show it holds subscribers.
      const dashboard = await streams.open(servers[0].hubUrl, ['dashboard'])
      const workers = new Set([...(await childPids(servers[0].child.pid!)), ...(await childPids(servers[1].child.pid!))])
      expect(workers.size).toBe(4)
      await dashboard.waitFor(
        () => {
          const latest = new Map<number, number>()
          for (const event of dashboard.events) {
            const snapshot = JSON.parse(event.data) as Snapshot
            if (workers.has(snapshot.pid)) latest.set(snapshot.pid, snapshot.connections)
          }
          return latest.size === 4 && [...latest.values()].every((connections) => connections >= 3)
        },
        'every worker of both servers to report its subscribers',
        15_000,
      )

      // One at a time, through the four workers in turn; then waves of four at once.
      const acknowledged: string[] = []
      for (let i = 0; i < 80; i++) acknowledged.push(await publish(servers[i % 2]!, topic, `update ${i}`))
      const waves: string[][] = []
      for (let wave = 0; wave < 5; wave++) waves.push(await Promise.all([0, 1, 2, 3].map((k) => publish(servers[k % 2]!, topic, `wave ${wave}.${k}`))))
      const last = await publish(servers[1], topic, 'last')

      await Promise.all(subscribers.map((stream) => stream.waitFor(() => receivedIds(stream).includes(last), 'the last update', 20_000)))
      const everyone = subscribers.map((stream) => receivedIds(stream))
      // The broker gives every node the same order: each subscriber got every update once, in one common order, which
      // follows the publisher's wherever it waited for an answer.
      const order = everyone[0]!
      expect(checkDelivery(order, [...acknowledged, ...waves.flat(), last]).duplicates).toEqual([])
      expect(everyone.map((ids) => checkDelivery(ids, order))).toEqual(everyone.map(() => EXACTLY_ONCE_IN_ORDER))
      expect(order.slice(0, 80)).toEqual(acknowledged)
      for (let wave = 0; wave < 5; wave++) expect(new Set(order.slice(80 + wave * 4, 84 + wave * 4))).toEqual(new Set(waves[wave]))
      expect(order.at(-1)).toBe(last)
    }, 60_000)

    it('resumes subscribers on any worker of either server from a Last-Event-ID issued through another', async () => {
      const servers = await startServers()
      const topic = uniqueTopic('resume')
      const ids: string[] = []
      for (let i = 0; i < 40; i++) ids.push(await publish(servers[i % 2]!, topic, `line ${i}`))

      // Eight resumes, from eight points, alternating servers; each server alternates workers.
      const resumed: { stream: EventStreamClient; from: number }[] = []
      for (let i = 0; i < 8; i++) {
        const from = i * 5 + 2
        resumed.push({ stream: await streams.open(servers[i % 2]!.hubUrl, [topic], ids[from], i % 4 === 3 ? 'query' : 'header'), from })
      }
      // Live updates follow the replay without a gap or a repeat.
      for (let i = 40; i < 50; i++) ids.push(await publish(servers[(i + 1) % 2]!, topic, `line ${i}`))
      await Promise.all(resumed.map(({ stream }) => stream.waitFor(() => receivedIds(stream).includes(ids.at(-1)!), 'the last update', 20_000)))
      expect(resumed.map(({ stream, from }) => checkDelivery(receivedIds(stream), ids.slice(from + 1)))).toEqual(resumed.map(() => EXACTLY_ONCE_IN_ORDER))

      // A subscriber that leaves and comes back on the other server, four times, misses nothing.
      const seen: string[] = []
      let stream = await streams.open(servers[0].hubUrl, [topic], ids.at(-1))
      for (let hop = 1; hop <= 4; hop++) {
        for (let i = 0; i < 5; i++) ids.push(await publish(servers[i % 2]!, topic, `hop ${hop}.${i}`))
        await stream.waitFor(() => receivedIds(stream).includes(ids.at(-1)!), `hop ${hop}`, 20_000)
        seen.push(...receivedIds(stream))
        stream.close()
        stream = await streams.open(servers[hop % 2]!.hubUrl, [topic], seen.at(-1))
      }
      expect(checkDelivery(seen, ids.slice(50))).toEqual(EXACTLY_ONCE_IN_ORDER)
    }, 60_000)
  })
})
